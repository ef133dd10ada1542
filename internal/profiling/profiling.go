// Package profiling serves the Go runtime profiles (net/http/pprof) on an
// opt-in listener whose lifetime its owner controls. It has no
// authentication: bind it to a loopback address.
package profiling

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"
)

// Server is a running profile listener.
type Server struct {
	srv  *http.Server
	addr net.Addr
	done chan struct{}
	stop func() bool
	once sync.Once
	err  error
}

// Serve listens on addr and serves the runtime profiles under
// /debug/pprof/ until ctx ends or Close is called.
func Serve(ctx context.Context, addr string, log *slog.Logger) (*Server, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("pprof listener %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	s := &Server{
		srv:  &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second},
		addr: ln.Addr(),
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("pprof listener stopped", "err", err)
		}
	}()
	s.stop = context.AfterFunc(ctx, s.shutdown)
	log.Info("pprof listening", "addr", s.addr.String())
	return s, nil
}

// Addr is the address listened on.
func (s *Server) Addr() net.Addr { return s.addr }

// Close stops the listener and the profiles being served, and waits for
// the server to return.
func (s *Server) Close() error {
	s.stop()
	s.shutdown()
	return s.err
}

func (s *Server) shutdown() {
	s.once.Do(func() {
		if err := s.srv.Close(); err != nil {
			s.err = fmt.Errorf("close pprof listener: %w", err)
		}
		<-s.done
	})
}
