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

func TestPreprocessKeepsPositions(t *testing.T) {
	in := "a // x\n/* y\nz */b # w\n\"#//\""
	out, err := preprocess([]byte(in), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) || strings.Count(string(out), "\n") != strings.Count(in, "\n") {
		t.Errorf("length or lines changed: %q", out)
	}
	if strings.Fields(string(out))[0] != "a" || strings.Fields(string(out))[1] != "b" || !strings.HasSuffix(string(out), `"#//"`) {
		t.Errorf("out = %q", out)
	}
}

func TestWarnings(t *testing.T) {
	c := mustParse(t, []byte(`{
		"Dhcp4": {
			"valid-lifetme": 10,
			"ddns-send-updates": true,
			"hostname-char-set": "[^A-Z]",
			"dhcp-ddns": {"enable-updates": true, "server-ip": "127.0.0.1"},
			"sanity-checks": {"lease-checks": "fix-del"},
			"subnet4": [{"id": 1, "subnet": "10.0.0.0/24", "4o6-interface": "eth9", "poolz": [],
				"pools": [{"pool": "10.0.0.5-10.0.0.9", "comment": "ok", "user-context": {"a": 1}}]}],
			"lease-database": {"type": "memfile", "readonly": true},
			"comment": "fine",
			"valid-lifetime": 1, "valid-lifetime": 2
		},
		"Netconf": {},
		"Dhcp4x": {}
	}`))
	want := []string{
		"Dhcp4.valid-lifetme: unknown key, ignored",
		"Dhcp4.ddns-send-updates: not supported by xdhcp, ignored",
		"Dhcp4.hostname-char-set: not supported by xdhcp, ignored",
		"Dhcp4.dhcp-ddns.enable-updates: DNS updates are not supported by xdhcp, ignored",
		"Dhcp4.sanity-checks: not supported by xdhcp, ignored (leases are checked on load)",
		"Dhcp4.subnet4[0].4o6-interface: not supported by xdhcp, ignored",
		"Dhcp4.subnet4[0].poolz: unknown key, ignored",
		"Dhcp4.lease-database.readonly: not supported by xdhcp, ignored",
		"Dhcp4.valid-lifetime: duplicate key, the last value is used",
		"Netconf: section for another Kea component, ignored by xdhcp",
		"Dhcp4x: unknown section, ignored",
	}
	for _, w := range want {
		if !slices.Contains(c.Warnings, w) {
			t.Errorf("missing warning %q", w)
		}
	}
	if len(c.Warnings) != len(want) {
		t.Errorf("warnings:\n%s", strings.Join(c.Warnings, "\n"))
	}
	if c.Subnets[0].Lifetimes.Valid != 2 {
		t.Errorf("duplicate key: valid %d", c.Subnets[0].Lifetimes.Valid)
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

func TestLoadInclude(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "conf.d")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, body string) {
		if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(sub, "subnets.json"), `// included
		[{"id": 1, "subnet": "10.0.0.0/24", "option-data": [<?include "opt.json"?>]}]`)
	write(filepath.Join(sub, "opt.json"), `{"name": "routers", "data": "10.0.0.1"} # nested`)
	main := filepath.Join(dir, "kea-dhcp4.conf")
	// Relative names resolve against the directory of the file given to
	// Load, also inside included files.
	write(main, `{"Dhcp4": {"subnet4": <?include "conf.d/subnets.json"?>}}`)
	_, err := Load(main)
	if err == nil || !strings.Contains(err.Error(), "opt.json") {
		t.Fatalf("include named relative to conf.d must not resolve: %v", err)
	}
	write(filepath.Join(sub, "subnets.json"), `[{"id": 1, "subnet": "10.0.0.0/24", "option-data": [<?include "conf.d/opt.json"?>]}]`)
	c, err := Load(main)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Subnets) != 1 || len(c.Subnets[0].Options) != 1 || c.Subnets[0].Options[0].Code != 3 {
		t.Errorf("subnets %+v", c.Subnets)
	}
	// An include cycle stops at the depth limit.
	write(filepath.Join(dir, "loop.json"), `<?include "loop.json"?>`)
	write(main, `{"Dhcp4": <?include "loop.json"?>}`)
	if _, err := Load(main); err == nil || !strings.Contains(err.Error(), "nested more than") {
		t.Errorf("cycle: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.conf")); err == nil || !strings.Contains(err.Error(), "read config") {
		t.Errorf("missing file: %v", err)
	}
}

func netipMust(s string) netip.Addr { return netip.MustParseAddr(s) }
