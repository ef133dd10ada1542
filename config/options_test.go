package config

import (
	"bytes"
	"encoding/hex"
	"testing"
)

func TestOptionEncoding(t *testing.T) {
	tests := []struct {
		name, entry string
		code        uint8
		want        string // hex
	}{
		{"ipv4-address", `"name": "subnet-mask", "data": "255.255.255.0"`, 1, "ffffff00"},
		{"ipv4-address list", `"name": "domain-name-servers", "data": "10.0.0.1,10.0.0.2 , 10.0.0.3"`, 6, "0a0000010a0000020a000003"},
		{"int32 negative", `"name": "time-offset", "data": "-3600"`, 2, "fffff1f0"},
		{"uint8", `"name": "default-ip-ttl", "data": "64"`, 23, "40"},
		{"uint16", `"name": "interface-mtu", "data": "1500"`, 26, "05dc"},
		{"uint16 hex literal", `"name": "interface-mtu", "data": "0x05dc"`, 26, "05dc"},
		{"uint16 array", `"name": "path-mtu-plateau-table", "data": "1500, 576"`, 25, "05dc0240"},
		{"uint32", `"name": "arp-cache-timeout", "data": "4294967295"`, 35, "ffffffff"},
		{"boolean true", `"name": "ip-forwarding", "data": "true"`, 19, "01"},
		{"boolean 0", `"name": "router-discovery", "data": "0"`, 31, "00"},
		{"string", `"name": "domain-name", "data": "lab.example"`, 15, hex.EncodeToString([]byte("lab.example"))},
		{"string with escaped comma", `"name": "dhcp-message", "data": "a\\,b, c"`, 56, hex.EncodeToString([]byte("a,b, c"))},
		{"fqdn", `"name": "v4-lost", "data": "lost.example.com."`, 137, "046c6f7374076578616d706c6503636f6d00"},
		{"fqdn list", `"name": "domain-search", "data": "a.example, b.example"`, 119, "0161076578616d706c65000162076578616d706c6500"},
		{"binary csv", `"name": "user-class", "data": "0x01ff"`, 77, "01ff"},
		{"hex with csv-format false", `"name": "routers", "csv-format": false, "data": "0a:00:00:01"`, 3, "0a000001"},
		{"hex with spaces", `"code": 43, "csv-format": false, "data": "01 04 c0 00 02 01"`, 43, "0104c0000201"},
		{"unknown code defaults to hex", `"code": 224, "data": "deadbeef"`, 224, "deadbeef"},
		{"odd hex gets a leading zero", `"code": 224, "data": "abc"`, 224, "0abc"},
		{"classless static routes", `"name": "classless-static-route", "data": "10.0.0.0/8 - 10.0.0.1, 0.0.0.0/0 - 10.1.0.1, 192.168.1.0/25 - 10.0.0.2"`, 121,
			"080a0a000001" + "000a010001" + "19c0a801000a000002"},
		{"vivso enterprise", `"name": "vivso-suboptions", "data": "4491"`, 125, "0000118b"},
		{"vivco record by alias", `"name": "v-i-vendor-class", "data": "4491, 0a0b"`, 124, "0000118b0a0b"},
		{"v4-portparams", `"name": "v4-portparams", "data": "2, 6/0x3f"`, 159, "0206fc00"},
		{"record array", `"name": "slp-directory-agent", "data": "true, 10.0.0.1, false, 10.0.0.2"`, 78, "010a000001000a000002"},
		{"netbios node type", `"name": "netbios-node-type", "data": "8"`, 46, "08"},
		{"captive portal", `"name": "v4-captive-portal", "data": "https://portal.example/"`, 160, hex.EncodeToString([]byte("https://portal.example/"))},
		{"by code uses definition", `"code": 3, "data": "10.0.0.1"`, 3, "0a000001"},
		{"space dhcp4 accepted", `"name": "routers", "space": "dhcp4", "data": "10.0.0.1"`, 3, "0a000001"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, dhcp4(`"option-data": [{`+tt.entry+`}]`))
			if len(c.Options) != 1 {
				t.Fatalf("options %+v warnings %q", c.Options, c.Warnings)
			}
			o := c.Options[0]
			want, _ := hex.DecodeString(tt.want)
			if o.Code != tt.code || !bytes.Equal(o.Data, want) {
				t.Errorf("option %d %x, want %d %x", o.Code, o.Data, tt.code, want)
			}
			if o.Name != OptionName(tt.code) {
				t.Errorf("name %q, want %q", o.Name, OptionName(tt.code))
			}
		})
	}
}

func TestOptionFlagsAndSkips(t *testing.T) {
	c := mustParse(t, dhcp4(`"option-data": [
		{"name": "routers", "data": "10.0.0.1", "always-send": true},
		{"name": "domain-name", "data": "x", "never-send": true},
		{"name": "dhcp-lease-time", "data": "3600"},
		{"code": 82, "csv-format": false, "data": "0102"},
		{"name": "tftp-servers", "space": "vendor-4491", "data": "10.0.0.1"}]`))
	if len(c.Options) != 2 || !c.Options[0].AlwaysSend || c.Options[0].NeverSend || !c.Options[1].NeverSend {
		t.Fatalf("options %+v", c.Options)
	}
	for _, w := range []string{
		"Dhcp4.option-data[2]: option 51 (dhcp-lease-time) is set by the server itself, ignored",
		"Dhcp4.option-data[3]: option 82 (dhcp-agent-options) is set by the server itself, ignored",
		`Dhcp4.option-data[4].space: option space "vendor-4491" not supported`,
	} {
		if !hasWarning(c, w) {
			t.Errorf("missing %q in %q", w, c.Warnings)
		}
	}
}

func TestOptionDef(t *testing.T) {
	c := mustParse(t, dhcp4(`
		"option-def": [
			{"name": "my-addr", "code": 224, "type": "ipv4-address", "array": true},
			{"name": "my-rec", "code": 225, "type": "record", "record-types": "uint8, string"},
			{"name": "my-flag", "code": 226, "type": "boolean"},
			{"name": "my-v6", "code": 227, "type": "ipv6-address"}],
		"option-data": [
			{"name": "my-addr", "data": "10.0.0.1, 10.0.0.2"},
			{"name": "my-rec", "data": "7, hello"},
			{"code": 226, "data": "true"}]`))
	want := []string{"0a0000010a000002", "0768656c6c6f", "01"}
	for i, w := range want {
		if got := hex.EncodeToString(c.Options[i].Data); got != w {
			t.Errorf("option %d = %s, want %s", i, got, w)
		}
	}
	if c.Options[0].Name != "my-addr" {
		t.Errorf("name %q", c.Options[0].Name)
	}
	if !hasWarning(c, `Dhcp4.option-def[3].type: option type "ipv6-address" not supported by xdhcp, definition ignored`) {
		t.Errorf("warnings %q", c.Warnings)
	}
	// Custom names do not leak into the standard lookup.
	if _, ok := OptionCode("my-addr"); ok {
		t.Error("OptionCode knows a config-local name")
	}
}

func TestOptionLookup(t *testing.T) {
	names := map[uint8]string{
		1: "subnet-mask", 3: "routers", 6: "domain-name-servers", 15: "domain-name", 43: "vendor-encapsulated-options",
		66: "tftp-server-name", 67: "boot-file-name", 119: "domain-search", 121: "classless-static-route",
		124: "vivco-suboptions", 125: "vivso-suboptions", 160: "v4-captive-portal",
	}
	for code, name := range names {
		if got := OptionName(code); got != name {
			t.Errorf("OptionName(%d) = %q, want %q", code, got, name)
		}
		if got, ok := OptionCode(name); !ok || got != code {
			t.Errorf("OptionCode(%q) = %d %v", name, got, ok)
		}
	}
	if c, ok := OptionCode("v-i-vendor-opts"); !ok || c != 125 {
		t.Errorf("alias v-i-vendor-opts = %d %v", c, ok)
	}
	if OptionName(250) != "" {
		t.Error("name for undefined code")
	}
	if _, ok := OptionCode("no-such-option"); ok {
		t.Error("code for unknown name")
	}
}
