package ha

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"xdhcp/config"
	"xdhcp/control"
	ctlclient "xdhcp/control/client"
)

// maxRequestSize bounds a command body on a peer listener; a partner's
// largest request is one lease update.
const maxRequestSize = 1 << 20

// AuthLoggerName is the logger name of authentication and authorization
// failures, Kea's "kea-dhcp4.auth".
const AuthLoggerName = "kea-dhcp4.auth"

// Access is what a peer listener accepts besides partner commands: basic
// credentials (nil or empty: none asked). Refusals are logged on Log.
type Access struct {
	Creds *control.Credentials
	Log   *slog.Logger
	// What names the listener in logs.
	What string
	// Families are the protocols of the relationships served (none:
	// DHCPv4): a command runs for the family its "service" names (the
	// first when it names none) if that family is served and the
	// command is one of its partner commands; otherwise it is refused,
	// so that a partner of one family gets no say in the other's.
	Families []Family
}

// Handler serves Kea's command protocol to HA partners: POST / with
// Content-Type application/json, answered as a one-element list with
// Content-Length (never chunked), commands run by c. Basic credentials
// are checked first when a has any (401 with WWW-Authenticate when missing
// or wrong); then only the family's PartnerCommands for its service run
// (one without "service" is given the family's), anything else is 403
// {"result": 403, "text": "Forbidden"}. Other methods or content types get
// 400 and bodies over the size bound 413, as Kea answers. Refusals are
// logged on a.Log.
func Handler(c *control.Server, a Access) http.Handler {
	if a.Log == nil {
		a.Log = slog.New(slog.DiscardHandler)
	}
	if len(a.Families) == 0 {
		a.Families = []Family{FamilyV4}
	}
	allowed := map[Family]map[string]bool{}
	for _, f := range a.Families {
		allowed[f] = map[string]bool{}
		for _, n := range f.PartnerCommands() {
			allowed[f][n] = true
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user := ""
		if a.Creds != nil && a.Creds.Len() > 0 {
			u, p, ok := r.BasicAuth()
			if !ok || !a.Creds.Check(u, p) {
				reason := "no basic credentials"
				if ok {
					reason = "unknown user or wrong password"
				}
				a.Log.Warn("HA listener request rejected: "+reason, "listener", a.What, "remote", r.RemoteAddr, "user", u)
				w.Header().Set("WWW-Authenticate", fmt.Sprintf("Basic realm=%q", a.Creds.Realm()))
				control.WriteStatus(w, http.StatusUnauthorized)
				return
			}
			user = u
		}
		if r.Method != http.MethodPost {
			control.WriteStatus(w, http.StatusBadRequest)
			return
		}
		body, code := control.ReadCommand(w, r, maxRequestSize)
		if code != 0 {
			control.WriteStatus(w, code)
			return
		}
		var peek struct {
			Command string   `json:"command"`
			Service []string `json:"service"`
		}
		_ = json.Unmarshal(body, &peek)
		f, ok := familyOf(peek.Service, a.Families)
		if !ok || !allowed[f][peek.Command] {
			a.Log.Warn("HA listener request rejected: not a partner command", "listener", a.What,
				"remote", r.RemoteAddr, "user", user, "command", truncate(peek.Command, 64),
				"service", truncate(strings.Join(peek.Service, ","), 64))
			control.WriteStatus(w, http.StatusForbidden)
			return
		}
		if peek.Service == nil && f != FamilyV4 {
			body = withService(body, f)
		}
		control.WriteAnswer(w, http.StatusOK, c.Dispatch(r.Context(), body, r.RemoteAddr, user), true)
	})
}

// familyOf is the family a command's "service" names, among those
// served: the first served without one; not ok when it names a family not
// served, or more than one.
func familyOf(svc []string, served []Family) (Family, bool) {
	if len(svc) == 0 {
		return served[0], true
	}
	for _, f := range served {
		if len(svc) == 1 && svc[0] == f.Service() {
			return f, true
		}
	}
	return 0, false
}

// withService adds "service": [f's] to a command without one, so that
// the control server runs it for f's family. A body that does not decode
// is returned as it is (the dispatcher answers it).
func withService(body []byte, f Family) []byte {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil || m == nil {
		return body
	}
	m["service"], _ = json.Marshal([]string{f.Service()})
	out, err := json.Marshal(m)
	if err != nil {
		return body
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// ListenOptions say where this server's peer URL is already served and
// how kea-ctrl-agent would have served it.
type ListenOptions struct {
	// Agent is the Control-agent configuration: it sets the address,
	// credentials and TLS of the listener on this server's own peer URL
	// (not of HA+MT dedicated listeners, which Kea configures in the HA
	// section). Nil: the peer URL with the HA section's TLS.
	Agent *config.ControlAgent
	// Covered reports whether an HTTP(S) control socket already listens
	// on host:port; the peer URL is then left to it. Nil: none does.
	Covered func(addr string) bool
	// AuthLog receives refusals (default: the service's logger named
	// AuthLoggerName).
	AuthLog *slog.Logger
	// MaxConns and MaxConnsPerSource bound the open connections (0: the
	// defaults; per source, at least the partners' http-client-threads
	// plus a few).
	MaxConns, MaxConnsPerSource int
}

// Listener is this server's peer listeners: HA+MT dedicated listeners and
// the listener on its own peer URL, through which partners reach it (Kea
// serves the latter with kea-ctrl-agent).
type Listener struct {
	srvs []*http.Server
	lns  []*limitListener
	wg   sync.WaitGroup
}

// endpoint is one address to listen on, with what it accepts, merged over
// the relationships that name it.
type endpoint struct {
	addr      string
	dedicated bool
	tls       *tls.Config // nil: http
	mutual    bool        // client certificates required and verified
	creds     *control.Credentials
	partners  map[netip.Addr]bool
	names     []string // partners' names, for the log
	writeTime time.Duration
	// partnerConns is the most connections a partner sends updates over.
	partnerConns int
	// families are the protocols of the relationships served here, in
	// the order the services were given.
	families []Family
}

// rels are the relationships of svcs, DHCPv4 ones first.
func rels(svcs []*Service) []*Relationship {
	var out []*Relationship
	for _, f := range []Family{FamilyV4, FamilyV6} {
		for _, s := range svcs {
			if s.family == f {
				out = append(out, s.rels...)
			}
		}
	}
	return out
}

// Listen serves this server's peer URL of every relationship (one
// listener per distinct address): its HA+MT dedicated listener when the
// relationship enables one, else this server's own peer URL — where Kea
// would run kea-ctrl-agent — unless an HTTP control socket already serves
// that address. Commands run through c, which must have the lease,
// dhcp-disable/enable and RegisterCommands' HA commands.
//
// Only partners get in: over https with client certificates required, the
// certificate proves it; with basic credentials in this server's own
// peers entry (what its partners send, when every server has the same HA
// section) or in the agent's authentication, the credentials do; with
// neither, only connections from the partners' addresses, as their URLs
// name them, are accepted, and a warning says how to add credentials. It
// returns nil and no error when there is nothing to serve.
func (s *Service) Listen(c *control.Server, o ListenOptions) (*Listener, error) {
	return Listen(c, o, s)
}

// Listen is Service.Listen for the services of both families of one
// daemon: a peer URL that relationships of both name (one control agent
// port forwarding to kea-dhcp4 and kea-dhcp6, in Kea's layout) is one
// listener, which runs each command for the family its "service" names
// (DHCPv4 when it names none) and admits the partners of both. A
// Control-agent applies to the DHCPv4 relationships, and to the DHCPv6
// ones whose peer URL is its address.
func Listen(c *control.Server, o ListenOptions, svcs ...*Service) (*Listener, error) {
	if len(svcs) == 0 {
		return nil, nil
	}
	s := svcs[0]
	if o.AuthLog == nil {
		o.AuthLog = s.log.With("logger", s.family.authLogger())
	}
	o.MaxConns = cmpOr(o.MaxConns, DefaultMaxConns)
	eps, err := endpoints(o, svcs)
	if err != nil {
		return nil, err
	}
	l := &Listener{}
	for _, ep := range eps {
		eo := o
		// By default a partner may open as many connections as it sends
		// updates over in parallel (http-client-threads, same on both
		// sides), with room for a synchronization.
		eo.MaxConnsPerSource = cmpOr(o.MaxConnsPerSource, max(DefaultMaxConnsPerSource, ep.partnerConns+8))
		if err := l.serve(c, ep, eo, s.log); err != nil {
			_ = l.Close()
			return nil, err
		}
	}
	if len(l.srvs) == 0 {
		return nil, nil
	}
	return l, nil
}

func cmpOr(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// endpoints works out the addresses to serve and what each accepts.
func endpoints(o ListenOptions, svcs []*Service) ([]*endpoint, error) {
	byAddr := map[string]*endpoint{}
	var order []string
	var agentCreds *control.Credentials
	if o.Agent != nil && o.Agent.Auth != nil {
		var err error
		if agentCreds, err = control.LoadCredentials(o.Agent.Auth); err != nil {
			return nil, fmt.Errorf("Control-agent authentication: %w", err)
		}
	}
	for _, r := range rels(svcs) {
		s := r.s
		mt := r.cfg.MultiThreading
		dedicated := mt.Enable && mt.HTTPDedicatedListener
		addr := r.me.Addr()
		useAgent := !dedicated && o.Agent != nil && (s.family == FamilyV4 || o.Agent.Addr() == addr)
		if useAgent {
			if a := o.Agent.Addr(); a != addr {
				s.log.Warn("the Control-agent listens elsewhere than this server's peer URL: partners will not reach it",
					"control_agent", a, "peer_url", r.me.URL.String())
				addr = a
			}
		}
		if !dedicated && o.Covered != nil && o.Covered(addr) {
			s.log.Info("this server's peer URL is served by an HTTP control socket", "listener", addr)
			continue
		}
		ep := byAddr[addr]
		if ep == nil {
			ep = &endpoint{addr: addr, dedicated: dedicated, partners: map[netip.Addr]bool{},
				creds: control.NewCredentials("")}
			var err error
			switch {
			case useAgent && o.Agent.TLS():
				ep.tls, ep.mutual, err = agentTLS(o.Agent)
			case useAgent:
			case r.me.URL.Scheme == "https":
				ep.tls, err = serverTLS(r.me, r.cfg.RequireClientCerts)
				ep.mutual = r.cfg.RequireClientCerts
			}
			if err != nil {
				return nil, fmt.Errorf("ha listener %s: %w", addr, err)
			}
			if useAgent {
				ep.creds.Merge(agentCreds)
			}
			byAddr[addr] = ep
			order = append(order, addr)
		} else if ep.dedicated != dedicated {
			return nil, fmt.Errorf("ha listener %s: one relationship has a dedicated listener there, another not", addr)
		}
		if !slices.Contains(ep.families, s.family) {
			ep.families = append(ep.families, s.family)
		}
		if r.me.BasicAuthUser != "" {
			ep.creds.Add(r.me.BasicAuthUser, r.me.BasicAuthPassword)
		}
		ep.writeTime = max(ep.writeTime, r.cfg.SyncTimeout+10*time.Second)
		ep.partnerConns = max(ep.partnerConns, r.cfg.MultiThreading.HTTPClientThreads, minUpdateConns)
		for i := range r.cfg.Peers {
			p := &r.cfg.Peers[i]
			if p.Name == r.me.Name || p.URL == nil {
				continue
			}
			if a, err := netip.ParseAddr(p.URL.Hostname()); err == nil {
				ep.partners[a.Unmap()] = true
				ep.names = append(ep.names, p.Name)
			}
		}
	}
	out := make([]*endpoint, 0, len(order))
	for _, a := range order {
		out = append(out, byAddr[a])
	}
	return out, nil
}

// serve binds and runs one endpoint.
func (l *Listener) serve(c *control.Server, ep *endpoint, o ListenOptions, log *slog.Logger) error {
	kind := "peer URL"
	if ep.dedicated {
		kind = "dedicated listener"
	}
	what := ep.addr
	var allow func(netip.Addr) bool
	if !ep.mutual && ep.creds.Len() == 0 {
		partners := ep.partners
		allow = func(a netip.Addr) bool { return partners[a] }
		addrs := make([]string, 0, len(partners))
		for a := range partners {
			addrs = append(addrs, a.String())
		}
		sort.Strings(addrs)
		log.Warn("HA "+kind+" "+ep.addr+" authenticates partners by source address only ("+strings.Join(addrs, ", ")+
			"): to make them prove who they are, give this server's peers entry basic-auth-user and basic-auth-password "+
			"(the credentials its partners send), or a Control-agent section with authentication, "+
			"or use https peer URLs with trust-anchor, cert-file and key-file",
			"listener", ep.addr)
	}
	tcp, err := net.Listen("tcp", ep.addr)
	if err != nil {
		return fmt.Errorf("ha %s %s: %w", kind, ep.addr, err)
	}
	lim := newLimitListener(tcp, o.MaxConns, o.MaxConnsPerSource, allow, o.AuthLog, what)
	var ln net.Listener = lim
	if ep.tls != nil {
		ln = tls.NewListener(lim, ep.tls)
	}
	srv := &http.Server{
		Handler:           Handler(c, Access{Creds: ep.creds, Log: o.AuthLog, What: what, Families: ep.families}),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      ep.writeTime,
		IdleTimeout:       30 * time.Second,
		MaxHeaderBytes:    16 << 10,
		// Kea speaks HTTP/1.1 only.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
		// TLS handshake failures (a partner without a certificate) land here.
		ErrorLog: slog.NewLogLogger(o.AuthLog.With("listener", what).Handler(), slog.LevelWarn),
	}
	l.srvs = append(l.srvs, srv)
	l.lns = append(l.lns, lim)
	control.Serve(srv, ln, &l.wg, log.With("listener", what), "ha "+kind+" failed")
	names := slices.Clone(ep.names)
	slices.Sort(names)
	log.Info("HA "+kind+" listening", "listener", what, "tls", ep.tls != nil, "client_certs", ep.mutual,
		"basic_auth", ep.creds.Len() > 0, "partners", strings.Join(slices.Compact(names), ","))
	return nil
}

// Addrs lists the bound addresses.
func (l *Listener) Addrs() []net.Addr {
	out := make([]net.Addr, len(l.lns))
	for i, ln := range l.lns {
		out[i] = ln.Addr()
	}
	return out
}

// Refused counts the connections refused for their source address and
// those over a connection bound, over every listener.
func (l *Listener) Refused() (notPartner, overLimit uint64) {
	for _, ln := range l.lns {
		notPartner += ln.refused.Load()
		overLimit += ln.capped.Load()
	}
	return notPartner, overLimit
}

// Close stops the listeners, letting in-flight requests finish for a few
// seconds.
func (l *Listener) Close() error {
	if l == nil {
		return nil
	}
	var errs []error
	for _, srv := range l.srvs {
		errs = append(errs, control.Drain(srv))
	}
	l.wg.Wait()
	return errors.Join(errs...)
}

// aeadSuites are the TLS 1.2 suites a peer listener offers: ECDHE with an
// AEAD cipher only (TLS 1.3 suites are all AEAD).
var aeadSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// listenerTLS is a peer listener's TLS with cert/key: client
// certificates verified against the trust anchor when requireClient.
func listenerTLS(certFile, keyFile, trustAnchor string, requireClient bool) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load cert-file %s / key-file %s: %w", certFile, keyFile, err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, CipherSuites: aeadSuites, Certificates: []tls.Certificate{cert}}
	if requireClient {
		pool, err := ctlclient.LoadTrustAnchor(trustAnchor)
		if err != nil {
			return nil, err
		}
		// Like Kea, the chain is checked, not the name: peers are
		// addressed by IP literal.
		cfg.ClientAuth = tls.RequireAnyClientCert
		cfg.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			return verifyChain(raw, pool, x509.ExtKeyUsageClientAuth)
		}
	}
	return cfg, nil
}

// serverTLS is the TLS of a listener configured by the HA section: this
// server's certificate, and client certificates when required.
func serverTLS(me *config.HAPeer, requireClient bool) (*tls.Config, error) {
	return listenerTLS(me.CertFile, me.KeyFile, me.TrustAnchor, requireClient)
}

// agentTLS is the TLS of the listener the Control-agent section
// configures; mutual reports whether client certificates are required.
func agentTLS(a *config.ControlAgent) (cfg *tls.Config, mutual bool, err error) {
	cfg, err = listenerTLS(a.CertFile, a.KeyFile, a.TrustAnchor, a.CertRequired)
	return cfg, a.CertRequired, err
}
