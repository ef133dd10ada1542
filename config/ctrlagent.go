package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
)

// ControlAgent is Kea's "Control-agent" section, as kea-ctrl-agent reads
// it. xdhcpd is its own control agent: when HA is configured, it serves
// its peer URL itself, and this section sets that listener's address,
// authentication and TLS the way it sets kea-ctrl-agent's. The agent's
// control-sockets (where kea-ctrl-agent would forward commands) name the
// DHCP server, which is xdhcpd itself, and are not used.
type ControlAgent struct {
	Host string // http-host (default 127.0.0.1)
	Port int    // http-port (default 8000)
	// TLS: https when CertFile is set. CertRequired (default true, as in
	// Kea) asks for a client certificate verified against TrustAnchor.
	TrustAnchor, CertFile, KeyFile string
	CertRequired                   bool
	// Auth is the basic authentication block, nil when none.
	Auth *Authentication
}

// Addr is the agent's listening host:port.
func (a *ControlAgent) Addr() string {
	return net.JoinHostPort(a.Host, strconv.Itoa(a.Port))
}

// TLS reports whether the agent serves https.
func (a *ControlAgent) TLS() bool { return a.CertFile != "" }

// controlAgent parses the top-level Control-agent section into c, when
// the document has one.
func (p *parser) controlAgent(root *jobj, c *Config) {
	if o := p.sub(root, "Control-agent"); o != nil {
		c.ControlAgent = p.controlAgentSection(o)
	}
}

func (p *parser) controlAgentSection(o *jobj) *ControlAgent {
	defer p.finish(o)
	o.ignore("comment", "user-context", "control-sockets", "loggers")
	a := &ControlAgent{Host: defaultControlAddress, Port: defaultControlPort, CertRequired: true}
	ok := true
	if h := p.str(o, "http-host"); h != nil {
		if _, err := netip.ParseAddr(*h); err != nil {
			p.errorf(o.child("http-host"), "%q is not an IP address", *h)
			ok = false
		} else {
			a.Host = *h
		}
	}
	a.Port = intOr(p.integer(o, "http-port", 1, 65535), defaultControlPort)
	get := func(key string) string {
		if v := p.str(o, key); v != nil {
			return *v
		}
		return ""
	}
	a.TrustAnchor, a.CertFile, a.KeyFile = get("trust-anchor"), get("cert-file"), get("key-file")
	a.CertRequired = boolOr(p.boolean(o, "cert-required"), true)
	switch {
	case (a.CertFile == "") != (a.KeyFile == ""):
		p.errorf(o.path, "cert-file and key-file must be configured together")
		ok = false
	case a.TrustAnchor != "" && a.CertFile == "":
		p.errorf(o.path, "trust-anchor without cert-file and key-file")
		ok = false
	case a.CertFile != "" && a.CertRequired && a.TrustAnchor == "":
		p.errorf(o.child("trust-anchor"), "needed to verify client certificates (or set cert-required false)")
		ok = false
	}
	if au := p.sub(o, "authentication"); au != nil {
		a.Auth = p.authentication(au)
		if a.Auth == nil {
			ok = false
		}
	}
	if _, has := o.vals["hooks-libraries"]; has {
		o.ignore("hooks-libraries")
		p.warnf(o.child("hooks-libraries"), "control agent hook libraries are not supported by xdhcp, ignored")
	}
	if !ok {
		return nil
	}
	return a
}

// LoadControlAgent reads the Control-agent section of the Kea
// configuration file at path (a kea-ctrl-agent configuration; other
// sections are ignored, as kea-ctrl-agent ignores them). The warnings
// name keys that were ignored.
func LoadControlAgent(path string) (*ControlAgent, []string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read control agent config %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	include := func(name string) ([]byte, error) {
		if !filepath.IsAbs(name) {
			name = filepath.Join(dir, name)
		}
		return os.ReadFile(name)
	}
	a, warns, err := parseControlAgent(data, include)
	if err != nil {
		return nil, warns, fmt.Errorf("control agent config %s: %w", path, err)
	}
	return a, warns, nil
}

// ParseControlAgent is LoadControlAgent on a document in memory (no
// include directives).
func ParseControlAgent(data []byte) (*ControlAgent, []string, error) {
	return parseControlAgent(data, nil)
}

func parseControlAgent(data []byte, include includeFunc) (*ControlAgent, []string, error) {
	pre, err := preprocess(data, include, 0)
	if err != nil {
		return nil, nil, err
	}
	var top json.RawMessage
	if err := json.Unmarshal(pre, &top); err != nil {
		return nil, nil, fmt.Errorf("invalid JSON: %w", err)
	}
	p := &parser{diag: &diag{}, defs: newDefTable(nil)}
	root := p.object("", top)
	if root == nil {
		return nil, nil, errors.Join(p.errs...)
	}
	o := p.sub(root, "Control-agent")
	if o == nil && len(p.errs) == 0 {
		p.errorf("Control-agent", "missing: the document must have a Control-agent section")
	}
	var a *ControlAgent
	if o != nil {
		a = p.controlAgentSection(o)
	}
	if len(p.errs) > 0 {
		return nil, p.warns, errors.Join(p.errs...)
	}
	return a, p.warns, nil
}
