package dbtest

import (
	"io"
	"net"
	"strconv"
	"sync"
)

// Forwarder carries TCP connections from a listener elsewhere (inside a
// test's network namespace, where the server's loopback port cannot be
// reached) to the server's port. Cut drops every connection and refuses
// new ones until Mend, as a broken network path would.
type Forwarder struct {
	Port int // the listener's port
	l    net.Listener
	dst  string

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	cut   bool
	done  chan struct{}
}

// Forward forwards the connections accepted on l to the server; Close
// (or the caller closing l) stops it.
func (s *Server) Forward(l net.Listener) *Forwarder {
	f := &Forwarder{Port: l.Addr().(*net.TCPAddr).Port, l: l, dst: net.JoinHostPort(s.Host, strconv.Itoa(s.Port)),
		conns: make(map[net.Conn]struct{}), done: make(chan struct{})}
	go f.serve()
	return f
}

func (f *Forwarder) serve() {
	defer close(f.done)
	for {
		c, err := f.l.Accept()
		if err != nil {
			return
		}
		go f.pipe(c)
	}
}

func (f *Forwarder) track(c net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cut {
		return false
	}
	f.conns[c] = struct{}{}
	return true
}

func (f *Forwarder) untrack(c net.Conn) {
	f.mu.Lock()
	delete(f.conns, c)
	f.mu.Unlock()
	c.Close()
}

func (f *Forwarder) pipe(c net.Conn) {
	if !f.track(c) {
		c.Close()
		return
	}
	defer f.untrack(c)
	d, err := net.Dial("tcp", f.dst)
	if err != nil {
		return
	}
	if !f.track(d) {
		d.Close()
		return
	}
	defer f.untrack(d)
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(d, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, d); done <- struct{}{} }()
	<-done
}

// Cut closes every forwarded connection and refuses new ones.
func (f *Forwarder) Cut() {
	f.mu.Lock()
	f.cut = true
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
}

// Mend accepts connections again.
func (f *Forwarder) Mend() {
	f.mu.Lock()
	f.cut = false
	f.mu.Unlock()
}

// Close stops forwarding.
func (f *Forwarder) Close() {
	f.l.Close()
	f.Cut()
	<-f.done
}
