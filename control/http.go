package control

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
)

// httpListener is one HTTP or HTTPS control socket.
type httpListener struct {
	s     *Server
	key   string
	ln    net.Listener // raw TCP listener, closed by stop
	limit *limitListener
	srv   *http.Server
	auth  atomic.Pointer[authState] // nil: no authentication
	tls   atomic.Pointer[tlsState]  // https only
	// private: the socket is on a loopback address and authenticates its
	// clients, so it may serve the private routes.
	private atomic.Bool
	once    sync.Once
}

// startHTTP binds p's address and serves it.
func (s *Server) startHTTP(p *prepared) (listener, error) {
	tcp, err := net.Listen("tcp", p.addr)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	l := &httpListener{s: s, key: p.key, ln: tcp}
	l.update(p)
	l.limit = newLimitListener(tcp, s.MaxConns, s.MaxConnsPerSource)
	l.limit.onRefuse = func(src string, perSource bool) {
		// The first refusal and then every power of two: a flood is
		// visible without flooding the log.
		if n := l.limit.refused.Load(); n&(n-1) == 0 {
			l.s.log.Warn("control connection refused: too many open connections",
				"socket", l.key, "remote", src, "per_source", perSource, "refused", n)
		}
	}
	var ln net.Listener = l.limit
	if p.tls != nil {
		// The outer config only picks the current inner one, so a reload
		// swaps certificates without rebinding.
		ln = tls.NewListener(l.limit, &tls.Config{
			MinVersion:   tls.VersionTLS12,
			CipherSuites: aeadCipherSuites,
			GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
				return l.tls.Load().cfg, nil
			},
		})
	}
	l.srv = &http.Server{
		Handler:           http.HandlerFunc(l.serveHTTP),
		ReadHeaderTimeout: s.ReadTimeout,
		ReadTimeout:       s.ReadTimeout,
		WriteTimeout:      s.WriteTimeout,
		IdleTimeout:       s.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		// TLS handshake failures (e.g. a client without a certificate on a
		// mutual-TLS socket) end up here.
		ErrorLog:    slog.NewLogLogger(s.log.With("component", "http", "socket", p.key).Handler(), slog.LevelInfo),
		BaseContext: func(net.Listener) context.Context { return s.ctx },
	}
	Serve(l.srv, ln, &s.bg, s.log.With("socket", p.key), "control socket failed")
	return l, nil
}

// Serve runs srv on ln in a goroutine counted in wg. An error other than
// the listener closing is logged as failed.
func Serve(srv *http.Server, ln net.Listener, wg *sync.WaitGroup, log *slog.Logger, failed string) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			log.Error(failed, "err", err)
		}
	}()
}

// Drain shuts srv down, letting in-flight requests finish for at most a
// few seconds before their connections are cut.
func Drain(srv *http.Server) error {
	ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		return srv.Close()
	}
	return nil
}

func (l *httpListener) update(p *prepared) {
	l.auth.Store(p.auth)
	if p.tls != nil {
		l.tls.Store(p.tls)
	}
	l.private.Store(p.authenticates() && isLoopback(p.sock.Address))
}

// isLoopback reports whether addr is a loopback IP (an empty address is
// the default, 127.0.0.1).
func isLoopback(addr string) bool {
	if addr == "" {
		return true
	}
	ip, err := netip.ParseAddr(addr)
	return err == nil && ip.IsLoopback()
}

// stop closes the socket now and lets in-flight requests finish in the
// background; the request that asked for the reconfiguration is usually one
// of them.
func (l *httpListener) stop() {
	l.once.Do(func() {
		_ = l.ln.Close()
		l.s.bg.Add(1)
		go func() {
			defer l.s.bg.Done()
			_ = Drain(l.srv)
		}()
	})
}

// serveHTTP authenticates, then routes: POST / runs a command, other paths
// go to the HandleHTTP routes.
func (l *httpListener) serveHTTP(w http.ResponseWriter, r *http.Request) {
	user, ok := l.authenticate(w, r)
	if !ok {
		return
	}
	if r.URL.Path == "/" {
		l.serveCommand(w, r, user)
		return
	}
	l.s.mu.RLock()
	byMethod := l.s.routes[r.URL.Path]
	rt, ok := byMethod[r.Method]
	if !ok {
		rt, ok = byMethod[""]
	}
	l.s.mu.RUnlock()
	if len(byMethod) > 0 && !l.private.Load() {
		// Private routes exist only where they may be served.
		for _, x := range byMethod {
			if x.private {
				WriteStatus(w, http.StatusNotFound)
				return
			}
		}
	}
	switch {
	case ok:
		rt.h.ServeHTTP(w, r)
	case len(byMethod) > 0:
		WriteStatus(w, http.StatusMethodNotAllowed)
	default:
		WriteStatus(w, http.StatusNotFound)
	}
}

// serveCommand handles POST /: the answer goes back as a one-element list,
// as Kea's Control Agent sends it.
func (l *httpListener) serveCommand(w http.ResponseWriter, r *http.Request, user string) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		WriteStatus(w, http.StatusMethodNotAllowed)
		return
	}
	body, code := ReadCommand(w, r, l.s.MaxBodySize)
	if code != 0 {
		WriteStatus(w, code)
		return
	}
	a := l.s.Dispatch(r.Context(), body, r.RemoteAddr, user)
	WriteAnswer(w, http.StatusOK, a, true)
}

// ReadCommand reads the body of an HTTP command request, which must be
// application/json (Kea rejects anything else with 400 Bad Request) and at
// most maxBody bytes. On failure it returns the status to answer with
// WriteStatus: 400, or 413 for a body over maxBody.
func ReadCommand(w http.ResponseWriter, r *http.Request, maxBody int64) (body []byte, status int) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return nil, http.StatusBadRequest
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, http.StatusRequestEntityTooLarge
		}
		return nil, http.StatusBadRequest
	}
	return body, 0
}

// WriteStatus sends a transport-level error as Kea does: a bare map whose
// result is the HTTP status, e.g. {"result": 400, "text": "Bad Request"}.
func WriteStatus(w http.ResponseWriter, code int) {
	WriteAnswer(w, code, Answer{Result: code, Text: http.StatusText(code)}, false)
}

// WriteAnswer sends an answer (wrapped in a one-element list when list is
// set) with an explicit Content-Length: Kea's HTTP client cannot parse
// chunked responses, which Go would use for large bodies.
func WriteAnswer(w http.ResponseWriter, code int, a Answer, list bool) {
	body := encodeAnswer(a, list)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// authenticate checks basic auth when configured. On failure it answers 401
// and logs the reason (never the password) with component=auth.
func (l *httpListener) authenticate(w http.ResponseWriter, r *http.Request) (string, bool) {
	a := l.auth.Load()
	if a == nil {
		return "", true
	}
	user, pass, ok := r.BasicAuth()
	if ok && a.check(user, pass) {
		return user, true
	}
	if ok {
		l.s.authLog.Warn("control request rejected: unknown user or wrong password",
			"socket", l.key, "remote", r.RemoteAddr, "user", user)
	} else {
		l.s.authLog.Warn("control request rejected: no basic credentials",
			"socket", l.key, "remote", r.RemoteAddr)
	}
	w.Header().Set("WWW-Authenticate", fmt.Sprintf("Basic realm=%q", a.realm))
	WriteStatus(w, http.StatusUnauthorized)
	return "", false
}

// compile-time check that the listener type fits the interface.
var _ listener = (*httpListener)(nil)
