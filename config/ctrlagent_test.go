package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestControlAgentExamples: Kea 2.2's own Control-agent examples load,
// with the values kea-ctrl-agent would use.
func TestControlAgentExamples(t *testing.T) {
	dir := "/usr/share/doc/kea/examples/agent"
	if _, err := os.Stat(dir); err != nil {
		t.Skip("kea-doc examples not installed")
	}
	for _, name := range []string{"simple.json", "comments.json", "https.json"} {
		a, warns, err := LoadControlAgent(filepath.Join(dir, name))
		if err != nil || a == nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if a.Addr() != "127.0.0.1:8000" {
			t.Errorf("%s: listens on %s", name, a.Addr())
		}
		t.Logf("%s: %+v warnings %q", name, a, warns)
	}
	a, _, _ := LoadControlAgent(filepath.Join(dir, "https.json"))
	if a == nil || !a.TLS() || !a.CertRequired || a.TrustAnchor != "my-ca" {
		t.Errorf("https.json: %+v", a)
	}
}

func TestControlAgentErrors(t *testing.T) {
	for _, c := range []struct{ doc, want string }{
		{`{"Control-agent": {"http-host": "localhost"}}`, "not an IP address"},
		{`{"Control-agent": {"http-port": 70000}}`, "http-port"},
		{`{"Control-agent": {"cert-file": "c"}}`, "together"},
		{`{"Control-agent": {"cert-file": "c", "key-file": "k"}}`, "trust-anchor"},
		{`{"Control-agent": {"authentication": {"type": "digest"}}}`, "type"},
		{`{"Dhcp4": {}}`, "missing"},
	} {
		_, _, err := ParseControlAgent([]byte(c.doc))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error about %q", c.doc, err, c.want)
		}
	}
	a, _, err := ParseControlAgent([]byte(`{"Control-agent": {"http-host": "10.0.0.1", "http-port": 8001,
	  "cert-file": "c", "key-file": "k", "cert-required": false}}`))
	if err != nil || a.Addr() != "10.0.0.1:8001" || a.CertRequired || !a.TLS() {
		t.Errorf("%+v %v", a, err)
	}
}

// TestControlAgentSection: the section in the Dhcp4 file is parsed
// (not ignored as another component's).
func TestControlAgentSection(t *testing.T) {
	c, err := Parse([]byte(`{"Dhcp4": {}, "Control-agent": {"http-host": "192.0.2.1",
	  "authentication": {"type": "basic", "clients": [{"user": "u", "password": "p"}]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.ControlAgent == nil || c.ControlAgent.Addr() != "192.0.2.1:8000" || len(c.ControlAgent.Auth.Clients) != 1 {
		t.Errorf("%+v", c.ControlAgent)
	}
	for _, w := range c.Warnings {
		if strings.Contains(w, "Control-agent") {
			t.Errorf("warning %q", w)
		}
	}
}

// FuzzParseControlAgent checks that no input makes ParseControlAgent
// panic, and that a success is a usable listener address.
func FuzzParseControlAgent(f *testing.F) {
	for _, s := range []string{
		``, `{`, `{"Control-agent": {}}`, `{"Control-agent": {"http-host": "::1", "http-port": 1}}`,
		`{"Control-agent": {"authentication": {"type": "basic", "clients": [{"password-file": "x"}]}}}`,
		`{"Control-agent": {"cert-file": "c", "key-file": "k", "trust-anchor": "a"}} // c`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, _, err := ParseControlAgent(data)
		if err == nil && (a == nil || a.Port < 1 || a.Port > 65535 || a.Host == "") {
			t.Fatalf("accepted %q as %+v", data, a)
		}
	})
}
