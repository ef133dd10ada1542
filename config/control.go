package config

import (
	"bytes"
	"encoding/json"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
)

// controlSockets merges Kea 2.x "control-socket" (one UNIX socket) and Kea
// 3 "control-sockets" (a list of unix, http and https listeners).
func (p *parser) controlSockets(o *jobj, c *Config) {
	if cs := p.sub(o, "control-socket"); cs != nil {
		if s, ok := p.controlSocket(cs, false); ok {
			c.ControlSockets = append(c.ControlSockets, s)
			p.ctlPaths = append(p.ctlPaths, cs.path)
		}
	}
	p.list(o, "control-sockets", func(path string, it *jobj) {
		if s, ok := p.controlSocket(it, true); ok {
			c.ControlSockets = append(c.ControlSockets, s)
			p.ctlPaths = append(p.ctlPaths, path)
		}
	})
}

func (p *parser) controlSocket(o *jobj, kea3 bool) (ControlSocket, bool) {
	defer p.finish(o)
	o.ignore("comment", "user-context")
	var s ControlSocket
	t := p.str(o, "socket-type")
	if t == nil {
		if _, ok := o.vals["socket-type"]; !ok {
			p.errorf(o.child("socket-type"), "missing")
		}
		return s, false
	}
	allowed := []string{"unix"}
	if kea3 {
		allowed = []string{"unix", "http", "https"}
	}
	if !p.oneOf(o.child("socket-type"), *t, allowed...) {
		return s, false
	}
	s.Type = *t
	ok := true
	if s.Type == "unix" {
		if n := p.str(o, "socket-name"); n == nil || *n == "" {
			p.errorf(o.child("socket-name"), "a unix control socket needs a socket-name")
			ok = false
		} else {
			s.SocketName = *n
		}
		return s, ok
	}
	s.Address, s.Port = defaultControlAddress, defaultControlPort
	if a := p.str(o, "socket-address"); a != nil {
		if _, err := netip.ParseAddr(*a); err != nil {
			p.errorf(o.child("socket-address"), "%q is not an IP address", *a)
			ok = false
		} else {
			s.Address = *a
		}
	}
	s.Port = intOr(p.integer(o, "socket-port", 1, 65535), defaultControlPort)
	strOr := func(key string) string {
		if v := p.str(o, key); v != nil {
			return *v
		}
		return ""
	}
	s.TrustAnchor, s.CertFile, s.KeyFile = strOr("trust-anchor"), strOr("cert-file"), strOr("key-file")
	certReq := p.boolean(o, "cert-required")
	tls := s.TrustAnchor != "" || s.CertFile != "" || s.KeyFile != ""
	switch {
	case s.Type == "http" && tls:
		p.errorf(o.path, "TLS files are set but socket-type is http; use https")
		ok = false
	case s.Type == "https" && (s.CertFile == "" || s.KeyFile == ""):
		p.errorf(o.path, "socket-type https needs cert-file and key-file")
		ok = false
	}
	if s.Type == "https" {
		s.CertRequired = boolOr(certReq, true)
		if s.CertRequired && s.TrustAnchor == "" {
			p.errorf(o.child("trust-anchor"), "needed to verify client certificates (or set cert-required false)")
			ok = false
		}
	}
	if a := p.sub(o, "authentication"); a != nil {
		s.Auth = p.authentication(a)
		if s.Auth == nil {
			ok = false
		}
	}
	return s, ok
}

// authentication parses a basic-auth block.
func (p *parser) authentication(o *jobj) *Authentication {
	defer p.finish(o)
	o.ignore("comment", "user-context")
	a := &Authentication{Type: "basic", Realm: defaultAuthRealm}
	ok := true
	if t := p.str(o, "type"); t == nil {
		p.errorf(o.child("type"), "missing (only \"basic\" is supported)")
		ok = false
	} else if !p.oneOf(o.child("type"), *t, "basic") {
		ok = false
	}
	if r := p.str(o, "realm"); r != nil {
		a.Realm = *r
	}
	if d := p.str(o, "directory"); d != nil {
		a.Directory = *d
	}
	p.list(o, "clients", func(path string, it *jobj) {
		defer p.finish(it)
		it.ignore("comment", "user-context")
		var cl AuthClient
		get := func(key string) string {
			if v := p.str(it, key); v != nil {
				return *v
			}
			return ""
		}
		cl.User, cl.Password = get("user"), get("password")
		cl.UserFile, cl.PasswordFile = get("user-file"), get("password-file")
		if cl.User == "" && cl.UserFile == "" && cl.PasswordFile == "" {
			p.errorf(path, "a client needs user or user-file")
			ok = false
		}
		if strings.Contains(cl.User, ":") {
			p.errorf(path+".user", "must not contain ':'")
			ok = false
		}
		a.Clients = append(a.Clients, cl)
	})
	if len(a.Clients) == 0 {
		p.warnf(o.child("clients"), "no clients: every request will be refused")
	}
	if !ok {
		return nil
	}
	return a
}

// xdhcpDefaults sets the defaults of the xdhcp section.
func (p *parser) xdhcpDefaults(x *XDHCP) {
	*x = XDHCP{
		XDP:          XDPConfig{Mode: "auto", BPFFS: defaultBPFFS},
		OverloadHigh: defaultOverloadHigh,
		OverloadLow:  defaultOverloadLow,
		Durability:   "fsync",
		CommitBatch:  defaultCommitBatch,
	}
}

// xdhcp parses the xdhcp section (Dhcp4.xdhcp or top-level xdhcp).
func (p *parser) xdhcp(o *jobj, x *XDHCP) {
	defer p.finish(o)
	p.xdhcpSeen = true
	p.xdhcpDefaults(x)
	o.ignore("comment", "user-context")
	if xo := p.sub(o, "xdp"); xo != nil {
		if m := p.str(xo, "mode"); m != nil && p.oneOf(xo.child("mode"), *m, "native", "generic", "auto", "off") {
			x.XDP.Mode = *m
		}
		x.XDP.Queues = intOr(p.integer(xo, "queues", 0, 1024), 0)
		if x.XDP.Queues != 0 {
			p.warnf(xo.child("queues"), "ignored: every receive queue of a served interface gets a socket and a worker (set the NIC's queue count with ethtool -L)")
		}
		if b := p.str(xo, "bpffs"); b != nil {
			if !filepath.IsAbs(*b) {
				p.errorf(xo.child("bpffs"), "%q must be an absolute path", *b)
			} else {
				x.XDP.BPFFS = *b
			}
		}
		x.XDP.ZeroCopy = boolOr(p.boolean(xo, "zero-copy"), false)
		p.finish(xo)
	}
	if rl := p.sub(o, "rate-limit"); rl != nil {
		if v := p.u32(rl, "rate"); v != nil {
			x.RateLimit.Rate = *v
		}
		if v := p.u32(rl, "burst"); v != nil {
			x.RateLimit.Burst = *v
		}
		// A bucket smaller than one second of the rate would throttle below it.
		if x.RateLimit.Burst < x.RateLimit.Rate {
			if x.RateLimit.Burst != 0 {
				p.warnf(rl.child("burst"), "%d is below rate %d, using %d", x.RateLimit.Burst, x.RateLimit.Rate, x.RateLimit.Rate)
			}
			x.RateLimit.Burst = x.RateLimit.Rate
		}
		p.finish(rl)
	}
	frac := func(key string, dst *float64) {
		if v := p.number(o, key); v != nil {
			if *v <= 0 || *v > 1 {
				p.errorf(o.child(key), "%v must be in (0, 1]", *v)
				return
			}
			*dst = *v
		}
	}
	frac("overload-high", &x.OverloadHigh)
	frac("overload-low", &x.OverloadLow)
	if x.OverloadLow >= x.OverloadHigh {
		p.errorf(o.child("overload-low"), "%v must be below overload-high %v", x.OverloadLow, x.OverloadHigh)
	}
	if d := p.str(o, "durability"); d != nil && p.oneOf(o.child("durability"), *d, "fsync", "none") {
		x.Durability = *d
	}
	x.CommitBatch = intOr(p.integer(o, "commit-batch", 1, 1<<20), defaultCommitBatch)
	if to := p.sub(o, "telemetry"); to != nil {
		x.Telemetry.Address = "127.0.0.1"
		if a := p.str(to, "address"); a != nil {
			if _, err := netip.ParseAddr(*a); err != nil {
				p.errorf(to.child("address"), "%q is not an IP address", *a)
			} else {
				x.Telemetry.Address = *a
			}
		}
		x.Telemetry.Port = intOr(p.integer(to, "port", 1, 65535), 0)
		if x.Telemetry.Port == 0 {
			p.errorf(to.path, "port is required")
		}
		p.finish(to)
	}
	x.InsecureLoopbackControl = boolOr(p.boolean(o, insecureControlKey), false)
	p.trust(o, x)
}

// insecureControlKey is the xdhcp-section key that lets an http(s)
// control socket on a loopback address run without authentication.
const insecureControlKey = "insecure-unauthenticated-loopback-control"

// controlSocketSecurity refuses an http(s) control socket that
// authenticates nobody (no basic authentication, no required client
// certificate): anyone who can connect could reconfigure the server or
// shut it down. One case is allowed, and marked AllowUnauthenticated: a
// loopback address with the xdhcp section's insecure key set (warned
// about). On this server's own HA peer URL the error says that xdhcpd
// serves that URL itself, for the partners only. It runs once the whole
// document is read, since the key and the HA hook may come after the
// sockets.
func (p *parser) controlSocketSecurity(c *Config) {
	for i := range c.ControlSockets {
		s := &c.ControlSockets[i]
		path := "control-sockets"
		if i < len(p.ctlPaths) {
			path = p.ctlPaths[i]
		}
		if s.Type == "unix" || s.Auth != nil || (s.Type == "https" && s.CertRequired) {
			continue
		}
		ip, err := netip.ParseAddr(s.Address)
		loopback := err == nil && ip.IsLoopback()
		switch {
		case servesHAPeerURL(c.HA, *s):
			// Such a socket would take the partners' commands with no
			// partner check at all.
			p.errorf(path, "%s control socket on this server's HA peer URL without authentication: anyone who reaches it could run every command; "+
				"remove it (xdhcpd then serves the peer URL itself and answers only its partners' commands) or add authentication "+
				"(the partners then send those credentials: basic-auth-user/-password in their peers entry)", s.Type)
		case loopback && c.XDHCP.InsecureLoopbackControl:
			s.AllowUnauthenticated = true
			what := "http without authentication"
			if s.Type == "https" {
				what = "https with cert-required false and no authentication"
			}
			p.warnf(path, "%s: any local user can run every command (allowed by xdhcp.%s)", what, insecureControlKey)
		case loopback:
			p.errorf(path, "%s control socket without authentication: any local user could run every command; "+
				"add an authentication block, use https with cert-required, use a unix socket, or set xdhcp.%s to true",
				s.Type, insecureControlKey)
		default:
			p.errorf(path, "%s control socket on %s without authentication: anyone who reaches it could run every command; "+
				"add an authentication block or use https with cert-required", s.Type, s.Address)
		}
	}
}

// servesHAPeerURL reports whether s listens on the host and port of this
// server's own peer URL in an HA relationship that has no dedicated
// listener: the partners send their commands there.
func servesHAPeerURL(ha *HA, s ControlSocket) bool {
	if ha == nil {
		return false
	}
	for _, r := range ha.Relationships {
		me := r.This()
		if me == nil || me.URL == nil || (r.MultiThreading.Enable && r.MultiThreading.HTTPDedicatedListener) {
			continue
		}
		if me.URL.Scheme != s.Type {
			continue
		}
		host, err := netip.ParseAddr(me.URL.Hostname())
		addr, err2 := netip.ParseAddr(s.Address)
		if err != nil || err2 != nil || host.Unmap() != addr.Unmap() {
			continue
		}
		if me.Addr() == net.JoinHostPort(me.URL.Hostname(), strconv.Itoa(s.Port)) {
			return true
		}
	}
	return false
}

// Redacted returns Raw with the value of every key that holds a password or
// secret replaced by "*****", for config-get and logs. Paths of files that
// hold secrets (password-file) are kept. Keys come out sorted, as Kea
// prints them.
func (c *Config) Redacted() json.RawMessage {
	dec := json.NewDecoder(bytes.NewReader(c.Raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(redact(v)); err != nil {
		return nil
	}
	return json.RawMessage(bytes.TrimRight(buf.Bytes(), "\n"))
}

func redact(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			if secretKey(k) {
				t[k] = "*****"
			} else {
				t[k] = redact(val)
			}
		}
	case []any:
		for i := range t {
			t[i] = redact(t[i])
		}
	}
	return v
}

// secretKey reports whether a key holds a secret: password, secret,
// basic-auth-password and the like, but not *-file paths.
func secretKey(k string) bool {
	k = strings.ToLower(k)
	if strings.HasSuffix(k, "-file") {
		return false
	}
	return strings.Contains(k, "password") || strings.Contains(k, "secret")
}
