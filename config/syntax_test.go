package config

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestComments(t *testing.T) {
	doc := `# hash comment with "quote
// slash comment { not json
/* block
   comment */ {
  "Dhcp4": { /* inline */
    "server-tag": "a // not a comment # nor this /* nor this */", // trailing
    "option-data": [ { "name": "domain-name", "data": "x#y//z" } ], # trailing hash
    "client-classes": [ { "name": "c", "test": "option[60].text == '/*x*/'" } ],
    "boot-file-name": "esc\"aped // still string"
  }
}
// final comment without newline`
	c := mustParse(t, []byte(doc))
	if c.ServerTag != "a // not a comment # nor this /* nor this */" {
		t.Errorf("server-tag %q", c.ServerTag)
	}
	if string(c.Options[0].Data) != "x#y//z" {
		t.Errorf("option %q", c.Options[0].Data)
	}
	if c.Class("c").Test.String() != "option[60].text == '/*x*/'" {
		t.Errorf("test %q", c.Class("c").Test.String())
	}
	// Raw keeps the document without comments, compacted.
	var v map[string]map[string]any
	if err := json.Unmarshal(c.Raw, &v); err != nil {
		t.Fatalf("Raw is not JSON: %v\n%s", err, c.Raw)
	}
	if v["Dhcp4"]["boot-file-name"] != `esc"aped // still string` || bytes.Contains(c.Raw, []byte("inline")) || bytes.Contains(c.Raw, []byte("\n")) {
		t.Errorf("Raw = %s", c.Raw)
	}
}

func TestWarnings(t *testing.T) {
	c := mustParse(t, []byte(`{
		"Dhcp4": {
			"ddns-send-updates": true,
			"hostname-char-set": "[^A-Z]",
			"dhcp-ddns": {"enable-updates": true, "server-ip": "127.0.0.1"},
			"sanity-checks": {"lease-checks": "fix-del"},
			"subnet4": [{"id": 1, "subnet": "10.0.0.0/24", "4o6-interface": "eth9",
				"pools": [{"pool": "10.0.0.5-10.0.0.9", "comment": "ok", "user-context": {"a": 1}}]}],
			"lease-database": {"type": "memfile", "host": "db.example"},
			"hosts-databases": [{"type": "mysql", "name": "kea", "readonly": true}],
			"comment": "fine",
			"valid-lifetime": 2,
		},
	}`))
	want := []string{
		"Dhcp4.ddns-send-updates: Kea 2.2 key not implemented by xdhcp yet, ignored (" + ddnsNote + ")",
		"Dhcp4.dhcp-ddns: Kea 2.2 key not implemented by xdhcp yet, ignored (" + ddnsNote + ")",
		"Dhcp4.sanity-checks: Kea 2.2 key not implemented by xdhcp yet, ignored (leases are checked when the lease file is loaded, always)",
		"Dhcp4.subnet4[0].4o6-interface: Kea 2.2 key not implemented by xdhcp yet, ignored (DHCPv4-over-DHCPv6 is not served)",
		"Dhcp4.lease-database.host: Kea 2.2 key not implemented by xdhcp yet, ignored (" + databaseNote + ")",
		"Dhcp4: line 12 col 23: Extraneous comma. A piece of configuration may have been omitted.",
		"(top level): line 13 col 4: Extraneous comma. A piece of configuration may have been omitted.",
	}
	for _, w := range want {
		if !slices.Contains(c.Warnings, w) {
			t.Errorf("missing warning %q", w)
		}
	}
	if t.Failed() || len(c.Warnings) != len(want) {
		t.Errorf("warnings:\n%s", strings.Join(c.Warnings, "\n"))
	}
	if c.Subnets[0].Lifetimes.Valid != 2 {
		t.Errorf("valid %d", c.Subnets[0].Lifetimes.Valid)
	}
}

func TestRedacted(t *testing.T) {
	c := mustParse(t, dhcp4(`
		"control-sockets": [{"socket-type": "http", "authentication": {"type": "basic", "realm": "r",
			"clients": [{"user": "admin", "password": "hunter2"}, {"user-file": "/etc/u", "password-file": "/etc/p"}]}}],
		"hooks-libraries": [{"library": "/usr/lib/kea/hooks/libdhcp_ha.so", "parameters": {"high-availability": [{
			"this-server-name": "me", "mode": "hot-standby", "peers": [
			{"name": "me", "url": "http://127.0.0.1:8001/", "role": "primary"},
			{"name": "p", "url": "http://127.0.0.2:8001/", "role": "standby", "basic-auth-user": "u", "basic-auth-password": "s3cret"}]}]}}],
		"option-data": [{"name": "host-name", "data": "<&>"}],
		"server-tag": "secret-free"`))
	red := string(c.Redacted())
	for _, leak := range []string{"hunter2", "s3cret"} {
		if strings.Contains(red, leak) || !strings.Contains(string(c.Raw), leak) {
			t.Errorf("%q: redacted %s", leak, red)
		}
	}
	for _, keep := range []string{`"password-file":"/etc/p"`, `"user":"admin"`, `"password":"*****"`, `"basic-auth-password":"*****"`, `"data":"<&>"`, `"server-tag":"secret-free"`} {
		if !strings.Contains(red, keep) {
			t.Errorf("redacted output lacks %s: %s", keep, red)
		}
	}
	a := c.ControlSockets[0].Auth
	if a == nil || a.Realm != "r" || len(a.Clients) != 2 || a.Clients[0].Password != "hunter2" || a.Clients[1].PasswordFile != "/etc/p" {
		t.Errorf("auth %+v", a)
	}
}

func TestControlSockets(t *testing.T) {
	c := mustParse(t, dhcp4(`
		"control-socket": {"socket-type": "unix", "socket-name": "/run/kea/kea4-ctrl-socket"},
		"control-sockets": [
			{"socket-type": "http"},
			{"socket-type": "https", "socket-address": "::1", "socket-port": 8443,
			 "trust-anchor": "/ca.pem", "cert-file": "/c.pem", "key-file": "/k.pem"},
			{"socket-type": "https", "cert-file": "/c.pem", "key-file": "/k.pem", "cert-required": false}],
		"xdhcp": {"insecure-unauthenticated-loopback-control": true}`))
	want := []ControlSocket{
		{Type: "unix", SocketName: "/run/kea/kea4-ctrl-socket"},
		{Type: "http", Address: "127.0.0.1", Port: 8000, AllowUnauthenticated: true},
		{Type: "https", Address: "::1", Port: 8443, TrustAnchor: "/ca.pem", CertFile: "/c.pem", KeyFile: "/k.pem", CertRequired: true},
		{Type: "https", Address: "127.0.0.1", Port: 8000, CertFile: "/c.pem", KeyFile: "/k.pem", AllowUnauthenticated: true},
	}
	// Both unauthenticated sockets are warned about; the one with client
	// certificates is not.
	if !hasWarning(c, "control-sockets[0]: http without authentication") ||
		!hasWarning(c, "control-sockets[2]: https with cert-required false and no authentication") ||
		hasWarning(c, "control-sockets[1]") {
		t.Errorf("warnings %q", c.Warnings)
	}
	if len(c.ControlSockets) != len(want) {
		t.Fatalf("sockets %+v", c.ControlSockets)
	}
	for i := range want {
		if c.ControlSockets[i] != want[i] {
			t.Errorf("socket %d = %+v, want %+v", i, c.ControlSockets[i], want[i])
		}
	}
}

func TestInterfacesAndXDHCP(t *testing.T) {
	c := mustParse(t, []byte(`{"Dhcp4": {"interfaces-config": {"interfaces": ["eth0", "eth1/192.0.2.1", "*"], "re-detect": false}},
		"xdhcp": {"xdp": {"mode": "native", "queues": 4, "bpffs": "/sys/fs/bpf/x", "zero-copy": true},
			"rate-limit": {"rate": 10}, "overload-high": 0.9, "overload-low": 0.5, "durability": "none", "commit-batch": 64,
			"telemetry": {"port": 9547}}}`))
	want := []InterfaceSpec{{Name: "eth0"}, {Name: "eth1", Addr: netipMust("192.0.2.1")}, {Name: "*"}}
	if !slices.ContainsFunc(c.Warnings, func(w string) bool { return strings.Contains(w, "xdhcp.xdp.queues: ignored") }) {
		t.Errorf("no warning that xdp.queues is ignored: %q", c.Warnings)
	}
	if !slices.Equal(c.Interfaces, want) {
		t.Errorf("interfaces %+v", c.Interfaces)
	}
	x := c.XDHCP
	if x.XDP != (XDPConfig{Mode: "native", Queues: 4, BPFFS: "/sys/fs/bpf/x", ZeroCopy: true}) || x.RateLimit != (RateLimit{Rate: 10, Burst: 10}) ||
		x.OverloadHigh != 0.9 || x.OverloadLow != 0.5 || x.Durability != "none" || x.CommitBatch != 64 ||
		x.Telemetry != (Telemetry{Address: "127.0.0.1", Port: 9547}) {
		t.Errorf("xdhcp %+v", x)
	}
}

// As in Kea, an included file is named relative to the working directory
// (not to the including file), and its tokens take the directive's place.
func TestLoadInclude(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.Mkdir("conf.d", 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, body string) {
		if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("conf.d/subnets.json", `// included
		[{"id": 1, "subnet": "10.0.0.0/24", "option-data": [<?include "opt.json"?>]}]`)
	write("conf.d/opt.json", `{"name": "routers", "data": "10.0.0.1"} # nested`)
	main := filepath.Join("conf.d", "kea-dhcp4.conf")
	write(main, `{"Dhcp4": {"subnet4": <?include "conf.d/subnets.json"?>}}`)
	_, err := Load(main)
	if err == nil || !strings.Contains(err.Error(), "conf.d/subnets.json:2.55: Can't open include file opt.json") {
		t.Fatalf("include named relative to the including file must not resolve: %v", err)
	}
	write("conf.d/subnets.json", `[{"id": 1, "subnet": "10.0.0.0/24", "option-data": [<?include "conf.d/opt.json"?>]}]`)
	c, err := Load(main)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Subnets) != 1 || len(c.Subnets[0].Options) != 1 || c.Subnets[0].Options[0].Code != 3 {
		t.Errorf("subnets %+v", c.Subnets)
	}
	// Blanks and newlines may surround the name; an absolute name works
	// from anywhere.
	write(main, "{\"Dhcp4\": {\"subnet4\": <?  include\n \""+filepath.Join(dir, "conf.d/subnets.json")+"\"  ?> }}")
	if _, err := Load(main); err != nil {
		t.Fatal(err)
	}
	// A string cannot run across the end of an included file.
	write("conf.d/open.json", `"abc`)
	write(main, `{"Dhcp4": {"server-tag": <?include "conf.d/open.json"?>"}}`)
	if _, err := Load(main); err == nil || !strings.Contains(err.Error(), "conf.d/open.json:1.1: Invalid character") {
		t.Errorf("string across files: %v", err)
	}
	// An include cycle stops at the depth limit, as in Kea.
	write("loop.json", `<?include "loop.json"?>`)
	write(main, `{"Dhcp4": <?include "loop.json"?>}`)
	if _, err := Load(main); err == nil || !strings.Contains(err.Error(), "Too many nested include") {
		t.Errorf("cycle: %v", err)
	}
	write(main, `{"Dhcp4": <?include "conf.d/opt.json"`)
	if _, err := Load(main); err == nil || !strings.Contains(err.Error(), "Directive not closed.") {
		t.Errorf("open directive: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.conf")); err == nil || !strings.Contains(err.Error(), "read config") {
		t.Errorf("missing file: %v", err)
	}
}

func netipMust(s string) netip.Addr { return netip.MustParseAddr(s) }

// Each case was settled by running kea-dhcp4 2.2.0 -t on the same text:
// accepted documents must parse here to the same values, refused ones must
// fail with the position of the token Kea stops at.
func TestKeaSyntax(t *testing.T) {
	accepted := []struct{ name, doc, want string }{
		{"trailing comma in map", `{"Dhcp4": {"server-tag": "a",}}`, `{"Dhcp4":{"server-tag":"a"}}`},
		{"trailing comma at top", `{"Dhcp4": {"server-tag": "a"},}`, `{"Dhcp4":{"server-tag":"a"}}`},
		{"double comma between members", `{"Dhcp4": {"server-tag": "a",, "valid-lifetime": 5}}`, `{"Dhcp4":{"server-tag":"a","valid-lifetime":5}}`},
		{"trailing commas in list", `{"Dhcp4": {"user-context": {"a": [1, 2,,]}}}`, `{"Dhcp4":{"user-context":{"a":[1,2]}}}`},
		{"float forms", `{"Dhcp4": {"user-context": {"a": [.5, 5., +.5, -.5, 00.5, 5E-1, 1e5]}}}`, `{"Dhcp4":{"user-context":{"a":[0.5,5.0,0.5,-0.5,0.5,0.5,100000.0]}}}`},
		{"integer forms", `{"Dhcp4": {"user-context": {"a": [010, -0, 9223372036854775807, -9223372036854775808]}}}`, `{"Dhcp4":{"user-context":{"a":[10,0,9223372036854775807,-9223372036854775808]}}}`},
		{"plus sign makes a float", `{"Dhcp4": {"user-context": {"a": +10}}}`, `{"Dhcp4":{"user-context":{"a":10.0}}}`},
		{"escapes", `{"Dhcp4": {"server-tag": "a\/b\u0041\"\\\t"}}`, `{"Dhcp4":{"server-tag":"a/bA\"\\\t"}}`},
		{"latin-1 escape", `{"Dhcp4": {"server-tag": "\u00e9"}}`, `{"Dhcp4":{"server-tag":"é"}}`},
		{"raw UTF-8", `{"Dhcp4": {"server-tag": "é"}}`, `{"Dhcp4":{"server-tag":"é"}}`},
		{"comments everywhere", "# a\n{ // b\n\"Dhcp4\" /* c\n d */ : {\"server-tag\": \"#//\"} # e\n}", `{"Dhcp4":{"server-tag":"#//"}}`},
		{"empty generic map and list", `{"Dhcp4": {"user-context": {"a": {}, "b": []}}}`, `{"Dhcp4":{"user-context":{"a":{},"b":[]}}}`},
	}
	for _, tt := range accepted {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := keaJSON([]byte(tt.doc), "", nil)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got %s\nwant %s", got, tt.want)
			}
		})
	}
	refused := []struct{ name, doc, want string }{
		{"leading comma in map", `{"Dhcp4": {, "server-tag": "a"}}`, `Dhcp4: line 1 col 12: syntax error, unexpected ",", expecting constant string`},
		{"leading comma in list", `{"Dhcp4": {"user-context": {"a": [, 1]}}}`, `Dhcp4.user-context.a[0]: line 1 col 35: syntax error, unexpected ","`},
		{"missing comma", `{"Dhcp4": {"server-tag": "a" "valid-lifetime": 1}}`, `Dhcp4: line 1 col 30: syntax error, unexpected constant string, expecting "," or }`},
		{"duplicate key", `{"Dhcp4": {"valid-lifetime": 10, "valid-lifetime": 20}}`, `Dhcp4.valid-lifetime: line 1 col 34: duplicate valid-lifetime entries (previous at line 1 col 12)`},
		{"duplicate in user-context", `{"Dhcp4": {"user-context": {"a": 1, "a": 2}}}`, `Dhcp4.user-context.a: line 1 col 37: duplicate a entries`},
		{"bad escape", `{"Dhcp4": {"server-tag": "\x41"}}`, `line 1 col 26: Bad escape in "\x41"`},
		{"unicode beyond latin-1", `{"Dhcp4": {"server-tag": "\u0100"}}`, `line 1 col 26: Unsupported unicode escape in "\u0100"`},
		{"short unicode escape", `{"Dhcp4": {"server-tag": "\u00"}}`, `line 1 col 26: Bad escape in "\u00"`},
		{"control character", "{\"Dhcp4\": {\"server-tag\": \"a\tb\"}}", `line 1 col 26: Invalid control in "a` + "\t" + `b"`},
		{"unclosed string", `{"Dhcp4": {"server-tag": "a}}`, `line 1 col 26: Invalid character: " (string not closed)`},
		{"single quotes", `{"Dhcp4": {"server-tag": 'a'}}`, `line 1 col 26: Invalid character: '`},
		{"capital True", `{"Dhcp4": {"authoritative": True}}`, `line 1 col 29: JSON true reserved keyword is lower case only`},
		{"integer overflow", `{"Dhcp4": {"valid-lifetime": 9223372036854775808}}`, `line 1 col 30: Failed to convert 9223372036854775808 to an integer.`},
		{"float overflow", `{"Dhcp4": {"cache-threshold": 1e400}}`, `line 1 col 31: Failed to convert 1e400 to a floating point.`},
		{"lone minus", `{"Dhcp4": {"valid-lifetime": --1}}`, `line 1 col 30: Failed to convert - to a floating point.`},
		{"lone dot", `{"Dhcp4": {"valid-lifetime": .}}`, `line 1 col 30: Failed to convert . to a floating point.`},
		{"exponent alone", `{"Dhcp4": {"valid-lifetime": e5}}`, `line 1 col 30: Failed to convert e5 to a floating point.`},
		{"open exponent", `{"Dhcp4": {"cache-threshold": 1.5e}}`, `line 1 col 34: Invalid character: e`},
		{"two floats", `{"Dhcp4": {"cache-threshold": 1.2.3}}`, `Dhcp4: line 1 col 34: syntax error, unexpected floating point, expecting "," or }`},
		{"hex", `{"Dhcp4": {"valid-lifetime": 0x10}}`, `line 1 col 31: Invalid character: x`},
		{"text after the document", `{"Dhcp4": {"server-tag": "a"}} x`, `line 1 col 32: Invalid character: x`},
		{"brace after the document", `{"Dhcp4": {"server-tag": "a"}}}`, `line 1 col 31: syntax error, unexpected }, expecting end of file`},
		{"form feed is no blank", "{\"Dhcp4\": {\"server-tag\": \"a\"}}\f", `line 1 col 31: Invalid character: 0x0c`},
		{"unclosed comment", "{\"Dhcp4\": {\"server-tag\": \"a\"}}\n/* x\n", `line 2 col 1: Comment not closed. (/* in line 2)`},
		{"directive other than include", `{"Dhcp4": <?incl "x"?>}`, `line 1 col 13: Invalid character: i`},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := keaJSON([]byte(tt.doc), "", nil)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error %v\nwant   %s", err, tt.want)
			}
		})
	}
}

// Kea's warning for an extraneous comma names where it is; xdhcp adds the
// JSON path of the map or list that holds it.
func TestExtraneousCommaWarnings(t *testing.T) {
	_, warns, err := keaJSON([]byte("{\"Dhcp4\": {\n \"user-context\": {\"a\": [1,,2,],},\n}}"), "kea.conf", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"Dhcp4.user-context.a: kea.conf:2.26: Extraneous comma. A piece of configuration may have been omitted.",
		"Dhcp4.user-context.a: kea.conf:2.29: Extraneous comma. A piece of configuration may have been omitted.",
		"Dhcp4.user-context: kea.conf:2.31: Extraneous comma. A piece of configuration may have been omitted.",
		"Dhcp4: kea.conf:2.33: Extraneous comma. A piece of configuration may have been omitted.",
	}
	if !slices.Equal(warns, want) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(warns, "\n"), strings.Join(want, "\n"))
	}
}

// Check keeps the warnings of a file that has errors, for -t to show both.
func TestCheckKeepsWarnings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kea.conf")
	if err := os.WriteFile(path, []byte(`{"Dhcp4": {"valid-lifetme": 1, "ddns-send-updates": true,}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Check(path)
	if err == nil || !strings.Contains(err.Error(), "Dhcp4.valid-lifetme: unknown key") {
		t.Errorf("error %v", err)
	}
	if c == nil || len(c.Warnings) != 2 || !hasWarning(c, "Extraneous comma") || !hasWarning(c, "Dhcp4.ddns-send-updates") {
		t.Errorf("config %v", c)
	}
	if c, err := Load(path); c != nil || err == nil {
		t.Errorf("Load = %v, %v", c, err)
	}
}
