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
	"sync"
	"time"

	"xdhcp/config"
	"xdhcp/control"
	ctlclient "xdhcp/control/client"
)

// restrictedCommands are the only commands Kea's HA+MT dedicated listener
// accepts with restrict-commands (others get HTTP 403).
var restrictedCommands = map[string]bool{
	"list-commands": true, "status-get": true, "dhcp-disable": true, "dhcp-enable": true,
	"ha-reset": true, "ha-heartbeat": true, "lease4-update": true, "lease4-del": true,
	"lease4-get-all": true, "lease4-get-page": true, "ha-maintenance-notify": true,
	"ha-sync-complete-notify": true,
}

// maxRequestSize bounds a command body on the dedicated listener.
const maxRequestSize = 1 << 20

// Handler serves Kea's command protocol for the HA dedicated listener:
// POST / with Content-Type application/json, answered as a one-element
// list with Content-Length (never chunked), commands run by c. With
// restrict, commands outside Kea's dedicated-listener list get HTTP 403
// {"result": 403, "text": "Forbidden"}; a non-POST or non-JSON request gets
// 400 {"result": 400, "text": "Bad Request"}, as Kea answers.
func Handler(c *control.Server, restrict bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			control.WriteStatus(w, http.StatusBadRequest)
			return
		}
		body, code := control.ReadCommand(w, r, maxRequestSize)
		if code != 0 {
			control.WriteStatus(w, http.StatusBadRequest)
			return
		}
		if restrict {
			var peek struct {
				Command string `json:"command"`
			}
			_ = json.Unmarshal(body, &peek)
			if !restrictedCommands[peek.Command] {
				control.WriteStatus(w, http.StatusForbidden)
				return
			}
		}
		control.WriteAnswer(w, http.StatusOK, c.Dispatch(r.Context(), body, r.RemoteAddr, ""), true)
	})
}

// Listener is the HA+MT dedicated listener: this server's own peer URL
// served directly by the daemon, as kea-dhcp4 does with
// multi-threading.http-dedicated-listener.
type Listener struct {
	srvs []*http.Server
	lns  []net.Listener
	wg   sync.WaitGroup
}

// ListenDedicated starts a listener on this server's URL for every
// relationship that enables multi-threading with a dedicated listener
// (one per distinct address), running commands through c (which must have
// the slow path's lease and dhcp-disable/enable commands and RegisterCommands'
// HA commands). It returns nil and no error when none is configured.
func (s *Service) ListenDedicated(c *control.Server) (*Listener, error) {
	l := &Listener{}
	seen := map[string]bool{}
	for _, r := range s.rels {
		mt := r.cfg.MultiThreading
		if !mt.Enable || !mt.HTTPDedicatedListener {
			continue
		}
		addr := r.me.Addr()
		if seen[addr] {
			continue
		}
		seen[addr] = true
		srv := &http.Server{
			Handler:           Handler(c, r.cfg.RestrictCommands),
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      time.Duration(r.cfg.SyncTimeout) + 10*time.Second,
			IdleTimeout:       30 * time.Second,
			// Kea speaks HTTP/1.1 only.
			TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
			ErrorLog:     slog.NewLogLogger(s.log.With("listener", addr).Handler(), slog.LevelWarn),
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			_ = l.Close()
			return nil, fmt.Errorf("ha dedicated listener %s: %w", addr, err)
		}
		if r.me.URL.Scheme == "https" {
			cfg, err := serverTLS(r.me, r.cfg.RequireClientCerts)
			if err != nil {
				_ = ln.Close()
				_ = l.Close()
				return nil, fmt.Errorf("ha dedicated listener %s: %w", addr, err)
			}
			ln = tls.NewListener(ln, cfg)
		}
		l.srvs = append(l.srvs, srv)
		l.lns = append(l.lns, ln)
		control.Serve(srv, ln, &l.wg, s.log.With("listener", addr), "ha dedicated listener failed")
		s.log.Info("ha dedicated listener", "listener", addr, "tls", r.me.URL.Scheme == "https",
			"restrict_commands", r.cfg.RestrictCommands)
	}
	if len(l.srvs) == 0 {
		return nil, nil
	}
	return l, nil
}

// Addrs lists the bound addresses.
func (l *Listener) Addrs() []net.Addr {
	out := make([]net.Addr, len(l.lns))
	for i, ln := range l.lns {
		out[i] = ln.Addr()
	}
	return out
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

// serverTLS is the dedicated listener's TLS: our certificate, and client
// certificates verified against the trust anchor when required.
func serverTLS(me *config.HAPeer, requireClient bool) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(me.CertFile, me.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("load cert-file %s / key-file %s: %w", me.CertFile, me.KeyFile, err)
	}
	pool, err := ctlclient.LoadTrustAnchor(me.TrustAnchor)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if requireClient {
		cfg.ClientAuth = tls.RequireAnyClientCert
		cfg.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			return verifyChain(raw, pool, x509.ExtKeyUsageClientAuth)
		}
	}
	return cfg, nil
}
