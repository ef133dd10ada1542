// Package telemetry is the daemon's read-only HTTP listener for
// monitoring: /metrics (the Prometheus exposition), /healthz (liveness)
// and /ready (readiness). It needs no credentials, so that a Prometheus
// server or a load balancer's health check can use it without the
// control channel's admin credentials; it answers nothing that changes
// state.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"xdhcp/internal/stats"
)

// Options configure a telemetry listener.
type Options struct {
	// Addr is the host:port to listen on.
	Addr string
	// Metrics writes the /metrics families.
	Metrics func(*stats.Exposition)
	// Ready returns why the daemon is not ready to serve (nothing when it
	// is): /ready answers 200 or 503 with these reasons, one per line.
	Ready func() []string
	Log   *slog.Logger
}

// Limits of one listener: a scrape or a probe is one small GET.
const (
	maxConns       = 64
	maxHeaderBytes = 8 << 10
	readTimeout    = 5 * time.Second
	writeTimeout   = 30 * time.Second
	idleTimeout    = 60 * time.Second
)

// Server is a running telemetry listener.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	done chan struct{}
}

// Handler returns the telemetry routes.
func Handler(o Options) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		if !readOnly(w, r) {
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		e := stats.NewExposition(w)
		o.Metrics(e)
		if err := e.Flush(); err != nil && o.Log != nil {
			o.Log.Warn("metrics scrape", "err", err)
		}
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if readOnly(w, r) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			fmt.Fprintln(w, "ok")
		}
	})
	mux.HandleFunc("/ready", func(w http.ResponseWriter, r *http.Request) {
		if !readOnly(w, r) {
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		reasons := o.Ready()
		if len(reasons) > 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "not ready:")
			for _, r := range reasons {
				fmt.Fprintln(w, "- "+r)
			}
			return
		}
		fmt.Fprintln(w, "ready")
	})
	return mux
}

// readOnly answers anything but GET and HEAD with 405.
func readOnly(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}

// Listen starts serving o.Addr. A wildcard address is allowed (a central
// Prometheus scrapes over the network) with a warning: the statistics it
// exposes (pool use, rates) are then readable from every interface,
// subscriber links included, unless a firewall says otherwise.
func Listen(o Options) (*Server, error) {
	if o.Metrics == nil || o.Ready == nil {
		return nil, errors.New("telemetry: Metrics and Ready are required")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	host, _, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return nil, fmt.Errorf("telemetry listener %q: %w", o.Addr, err)
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("telemetry listener: %w", err)
	}
	if ip := net.ParseIP(strings.Trim(host, "[]")); host == "" || (ip != nil && ip.IsUnspecified()) {
		o.Log.Warn("telemetry listener on every address: /metrics is readable from every interface, subscriber links included; bind it to a management address or filter it", "addr", ln.Addr().String())
	}
	s := &Server{
		srv: &http.Server{Handler: Handler(o), ReadTimeout: readTimeout, ReadHeaderTimeout: readTimeout,
			WriteTimeout: writeTimeout, IdleTimeout: idleTimeout, MaxHeaderBytes: maxHeaderBytes,
			ErrorLog: slog.NewLogLogger(o.Log.Handler(), slog.LevelDebug)},
		ln:   &capListener{Listener: ln, slots: make(chan struct{}, maxConns)},
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			o.Log.Error("telemetry listener failed", "err", err)
		}
	}()
	o.Log.Info("telemetry listening", "addr", ln.Addr().String(), "paths", "/metrics /healthz /ready")
	return s, nil
}

// Addr is the address the listener is bound to.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops the listener, letting requests in flight finish for a
// moment.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	<-s.done
	if err != nil {
		return fmt.Errorf("telemetry listener: %w", err)
	}
	return nil
}

// capListener holds at most cap(slots) connections open: a flood of idle
// connections costs the daemon a bounded number of descriptors.
type capListener struct {
	net.Listener
	slots chan struct{}
}

func (l *capListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
			return &slotConn{Conn: c, release: func() { <-l.slots }}, nil
		default:
			c.Close() // over the cap: refuse at once
		}
	}
}

type slotConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *slotConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}
