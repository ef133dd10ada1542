package config

import (
	"bytes"
	"encoding/hex"
	"strings"
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
		{"string with escaped comma", `"name": "dhcp-message", "data": "a\\,b, c"`, 56, hex.EncodeToString([]byte("a,b"))},
		{"fqdn", `"name": "v4-lost", "data": "lost.example.com."`, 137, "046c6f7374076578616d706c6503636f6d00"},
		{"fqdn list", `"name": "domain-search", "data": "a.example, b.example"`, 119, "0161076578616d706c65000162076578616d706c6500"},
		{"binary csv", `"name": "user-class", "data": "0x01ff"`, 77, "01ff"},
		{"hex with csv-format false", `"name": "routers", "csv-format": false, "data": "0a:00:00:01"`, 3, "0a000001"},
		{"hex with spaces", `"code": 43, "csv-format": false, "data": "01 04 c0 00 02 01"`, 43, "0104c0000201"},
		{"unknown code in hex", `"code": 224, "csv-format": false, "data": "deadbeef"`, 224, "deadbeef"},
		{"odd hex gets a leading zero", `"code": 224, "csv-format": false, "data": "abc"`, 224, "0abc"},
		{"option 121 has no definition in Kea 2.2", `"code": 121, "csv-format": false, "data": "080a0a000001"`, 121, "080a0a000001"},
		{"scalar takes the first value", `"name": "subnet-mask", "data": "255.0.0.0, 1.2.3.4"`, 1, "ff000000"},
		{"empty values are dropped", `"name": "routers", "data": "10.0.0.1,,10.0.0.2"`, 3, "0a0000010a000002"},
		{"array without data", `"name": "domain-name-servers"`, 6, ""},
		{"v6-only-preferred", `"name": "v6-only-preferred", "data": "1800"`, 108, "00000708"},
		{"option-6rd", `"name": "option-6rd", "data": "16, 48, 2001:db8::, 10.0.0.1, 10.0.0.2"`, 212,
			"1030" + "20010db8000000000000000000000000" + "0a0000010a000002"},
		{"vivso enterprise", `"name": "vivso-suboptions", "data": "4491"`, 125, "0000118b"},
		{"vivco", `"name": "vivco-suboptions", "data": "4491, 020a0b"`, 124, "0000118b020a0b"},
		{"v4-portparams", `"name": "v4-portparams", "data": "2, 0x3f/6"`, 159, "0206fc00"},
		{"record array", `"name": "slp-directory-agent", "data": "true, 10.0.0.1, 10.0.0.2"`, 78, "010a0000010a000002"},
		{"netbios node type", `"name": "netbios-node-type", "data": "8"`, 46, "08"},
		{"captive portal", `"name": "v4-captive-portal", "data": "https://portal.example/"`, 114, hex.EncodeToString([]byte("https://portal.example/"))},
		{"long option, sent split", `"name": "domain-name", "data": "` + strings.Repeat("a", 300) + `"`, 15, strings.Repeat("61", 300)},
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
	if len(c.Options) != 3 || !c.Options[0].AlwaysSend || c.Options[0].NeverSend || !c.Options[1].NeverSend ||
		!c.Options[2].VendorSpace || c.Options[2].Vendor != 4491 {
		t.Fatalf("options %+v", c.Options)
	}
	for _, w := range []string{
		"Dhcp4.option-data[2]: option 51 (dhcp-lease-time) is set by the server itself, ignored",
		"Dhcp4.option-data[3]: option 82 (dhcp-agent-options) is set by the server itself, ignored",
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
			{"name": "my-v6", "code": 227, "type": "ipv6-address"},
			{"name": "my-pfx", "code": 228, "type": "ipv6-prefix"},
			{"name": "my-tuples", "code": 229, "type": "tuple", "array": true},
			{"name": "my-6rd", "code": 230, "type": "record", "record-types": "uint8, ipv6-prefix, psid, int16, fqdn"}],
		"option-data": [
			{"name": "my-addr", "data": "10.0.0.1, 10.0.0.2"},
			{"name": "my-rec", "data": "7, hello"},
			{"code": 226, "data": "true"},
			{"name": "my-v6", "data": "2001:db8::1"},
			{"name": "my-pfx", "data": "2001:db8:ff00::/40"},
			{"name": "my-tuples", "data": "ab, c"},
			{"name": "my-6rd", "data": "1, 2001:db8::/33, 4/3, -2, a.b"}]`))
	want := []string{"0a0000010a000002", "0768656c6c6f", "01", "20010db8000000000000000000000001",
		"2820010db8ff", "0261620163", "01" + "2120010db800" + "038000" + "fffe" + "0161016200"}
	for i, w := range want {
		if got := hex.EncodeToString(c.Options[i].Data); got != w {
			t.Errorf("option %d = %s, want %s", i, got, w)
		}
	}
	if c.Options[0].Name != "my-addr" {
		t.Errorf("name %q", c.Options[0].Name)
	}
	// Custom names do not leak into the standard lookup.
	if _, ok := OptionCode("my-addr"); ok {
		t.Error("OptionCode knows a config-local name")
	}
}

func TestOptionLookup(t *testing.T) {
	names := map[uint8]string{
		1: "subnet-mask", 3: "routers", 6: "domain-name-servers", 15: "domain-name", 43: "vendor-encapsulated-options",
		66: "tftp-server-name", 67: "boot-file-name", 119: "domain-search",
		124: "vivco-suboptions", 125: "vivso-suboptions", 114: "v4-captive-portal", 108: "v6-only-preferred",
	}
	for code, name := range names {
		if got := OptionName(code); got != name {
			t.Errorf("OptionName(%d) = %q, want %q", code, got, name)
		}
		if got, ok := OptionCode(name); !ok || got != code {
			t.Errorf("OptionCode(%q) = %d %v", name, got, ok)
		}
	}
	if OptionName(250) != "" || OptionName(121) != "" {
		t.Error("name for undefined code")
	}
	if _, ok := OptionCode("no-such-option"); ok {
		t.Error("code for unknown name")
	}
}

func TestOptionEncapsulation(t *testing.T) {
	c := mustParse(t, dhcp4(`
		"option-def": [
			{"name": "acs-url", "code": 1, "space": "vendor-encapsulated-options-space", "type": "string"},
			{"name": "vlan", "code": 2, "space": "vendor-encapsulated-options-space", "type": "uint16"},
			{"name": "box", "code": 222, "type": "uint8", "encapsulate": "box-space"},
			{"name": "inner", "code": 3, "space": "box-space", "type": "empty", "encapsulate": "deep"},
			{"name": "leaf", "code": 9, "space": "deep", "type": "ipv4-address"},
			{"name": "first", "code": 1, "space": "box-space", "type": "boolean"},
			{"name": "cfg-file", "code": 5, "space": "vendor-4491", "type": "string"}],
		"option-data": [
			{"name": "vlan", "space": "vendor-encapsulated-options-space", "data": "100"},
			{"name": "vendor-encapsulated-options"},
			{"name": "acs-url", "space": "vendor-encapsulated-options-space", "data": "http://acs"},
			{"name": "box", "data": "7", "always-send": true},
			{"name": "inner", "space": "box-space"},
			{"name": "leaf", "space": "deep", "data": "10.0.0.9"},
			{"name": "first", "space": "box-space", "data": "true"},
			{"name": "cfg-file", "space": "vendor-4491", "data": "modem.cfg"}],
		"subnet4": [{"id": 1, "subnet": "10.0.0.0/24", "option-data": [
			{"name": "vendor-encapsulated-options", "csv-format": false, "data": "02 02 00 05"},
			{"name": "acs-url", "space": "vendor-encapsulated-options-space", "data": "http://s"}]}]`))
	want := []struct {
		code   uint8
		hex    string
		vendor bool
	}{
		// Sub-options in code order, whatever the order of option-data.
		{43, "010a687474703a2f2f616373" + "02020064", false},
		{222, "07" + "010101" + "0306" + "09040a000009", false},
		{5, hex.EncodeToString([]byte("modem.cfg")), true},
	}
	if len(c.Options) != len(want) {
		t.Fatalf("options %+v", c.Options)
	}
	for i, w := range want {
		o := c.Options[i]
		if o.Code != w.code || hex.EncodeToString(o.Data) != w.hex || o.VendorSpace != w.vendor {
			t.Errorf("option %d: %d %x vendor %v, want %d %s %v", i, o.Code, o.Data, o.VendorSpace, w.code, w.hex, w.vendor)
		}
	}
	// A level encapsulates its own sub-options: the subnet's 43 keeps the
	// vlan given in hex and takes the subnet's acs-url, not the global one.
	so := c.Subnets[0].Options
	if len(so) != 1 || hex.EncodeToString(so[0].Data) != "0108687474703a2f2f73"+"02020005" {
		t.Errorf("subnet options %+v", so)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("warnings %q", c.Warnings)
	}
	c = mustParse(t, dhcp4(`"option-def": [{"name": "acs-url", "code": 1, "space": "vendor-encapsulated-options-space", "type": "string"}],
		"subnet4": [{"id": 1, "subnet": "10.0.0.0/24", "option-data": [
			{"name": "acs-url", "space": "vendor-encapsulated-options-space", "data": "http://s"}]}]`))
	if w := "Dhcp4.subnet4[0].option-data[0]: option 1 of space vendor-encapsulated-options-space is never sent"; !hasWarning(c, w) {
		t.Errorf("missing %q in %q", w, c.Warnings)
	}
}

func TestClassOption43Definition(t *testing.T) {
	c := mustParse(t, dhcp4(`"client-classes": [
		{"name": "cpe", "test": "option[vendor-class-identifier].text == 'cpe'",
		 "option-def": [{"name": "vendor-encapsulated-options", "code": 43, "type": "record", "record-types": "uint8, string"}],
		 "option-data": [{"name": "vendor-encapsulated-options", "data": "4, acs"}]},
		{"name": "phone", "test": "option[vendor-class-identifier].text == 'phone'",
		 "option-def": [{"name": "vendor-encapsulated-options", "code": 43, "type": "ipv4-address"}],
		 "option-data": [{"name": "vendor-encapsulated-options", "data": "10.0.0.7"}]}]`))
	for i, w := range []string{"04616373", "0a000007"} {
		o := c.Classes[i].Options
		if len(o) != 1 || o[0].Code != 43 || hex.EncodeToString(o[0].Data) != w {
			t.Errorf("class %d options %+v, want 43 %s", i, o, w)
		}
	}
}

func TestOptionDefErrors(t *testing.T) {
	for _, tt := range []struct{ name, doc, want string }{
		{"string before other fields", `"option-def": [{"name": "b", "code": 225, "type": "record", "record-types": "string, uint8"}]`,
			`Dhcp4.option-def[0].record-types: a string field must be the record's last`},
		{"bad space", `"option-def": [{"name": "b", "code": 1, "space": "-x", "type": "uint8"}]`,
			`Dhcp4.option-def[0].space: "-x" is not a valid option space name`},
		{"redefine docsis", `"option-def": [{"name": "t", "code": 2, "space": "vendor-4491", "type": "uint8"}]`,
			`Dhcp4.option-def[0].code: 2: cannot redefine standard option "tftp-servers" of space vendor-4491`},
		{"class defines other than 43", `"client-classes": [{"name": "a", "option-def": [{"name": "x", "code": 224, "type": "uint8"}]}]`,
			`Dhcp4.client-classes[0].option-def[0].code: 224: a client class may only define option 43`},
		{"empty with csv data", `"option-data": [{"name": "vendor-encapsulated-options", "data": "0102"}]`,
			`Dhcp4.option-data[0].data: "0102": option "vendor-encapsulated-options" carries no data of its own`},
		{"hex not matching definition", `"option-data": [{"name": "routers", "csv-format": false, "data": "010203"}]`,
			`Dhcp4.option-data[0].data: "010203": 3 bytes are too short for a ipv4-address`},
		{"truncated sub-options", `"option-data": [{"name": "vendor-encapsulated-options", "csv-format": false, "data": "0105ab"}]`,
			`Dhcp4.option-data[0]: option 43: sub-option data truncated`},
		{"bad vivco", `"option-data": [{"name": "vivco-suboptions", "data": "4491, 05"}]`,
			`Dhcp4.option-data[0].data: "4491, 05": vendor class data 05 is not a sequence of length-prefixed items`},
		{"self encapsulation", `"option-def": [{"name": "a", "code": 1, "space": "s", "type": "empty", "encapsulate": "s"},
			{"name": "b", "code": 224, "type": "empty", "encapsulate": "s"}],
			"option-data": [{"name": "b"}, {"name": "a", "space": "s"}]`,
			`Dhcp4.option-data[0]: option space s encapsulates itself`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(dhcp4(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}
