package ha

import (
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Connection bounds of a peer listener. A partner opens at most
// max(http-client-threads, minUpdateConns) connections for lease updates
// plus one for a synchronization and one for a backlog flush; a Kea
// partner opens http-client-threads. The per-source bound leaves room for
// that (Listen raises it for larger http-client-threads), the listener
// bound for a hub with a few partners.
const (
	DefaultMaxConnsPerSource = 2*minUpdateConns + 8
	DefaultMaxConns          = 256
)

// limitListener accepts connections for an HTTP server within bounds: at
// most max open connections in all and perSource from one address, and
// only from addresses allow accepts (nil: any). A connection over a bound
// or from a refused address is closed as soon as it is accepted, so it
// holds no goroutine or buffer; the refusals are counted and logged at
// most once a second.
type limitListener struct {
	net.Listener
	max, perSource int
	allow          func(netip.Addr) bool
	log            *slog.Logger // the auth logger: refused sources
	what           string       // the listener, in logs

	mu     sync.Mutex
	open   int
	bySrc  map[netip.Addr]int
	logged time.Time

	refused, capped atomic.Uint64
}

func newLimitListener(ln net.Listener, max, perSource int, allow func(netip.Addr) bool, log *slog.Logger, what string) *limitListener {
	return &limitListener{Listener: ln, max: max, perSource: perSource, allow: allow, log: log, what: what,
		bySrc: map[netip.Addr]int{}}
}

// Accept returns the next connection within bounds.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		src := remoteAddr(c)
		if l.allow != nil && !l.allow(src) {
			l.refused.Add(1)
			l.note("HA listener refused a connection: not from a partner's address", src)
			_ = c.Close()
			continue
		}
		l.mu.Lock()
		if l.open >= l.max || l.bySrc[src] >= l.perSource {
			l.mu.Unlock()
			l.capped.Add(1)
			l.note("HA listener refused a connection: connection limit reached", src)
			_ = c.Close()
			continue
		}
		l.open++
		l.bySrc[src]++
		l.mu.Unlock()
		return &limitedConn{Conn: c, l: l, src: src}, nil
	}
}

// note logs a refusal, at most once a second.
func (l *limitListener) note(msg string, src netip.Addr) {
	now := time.Now()
	l.mu.Lock()
	quiet := now.Sub(l.logged) < time.Second
	if !quiet {
		l.logged = now
	}
	l.mu.Unlock()
	if !quiet {
		l.log.Warn(msg, "listener", l.what, "remote", src.String(),
			"refused_total", l.refused.Load(), "over_limit_total", l.capped.Load())
	}
}

func (l *limitListener) release(src netip.Addr) {
	l.mu.Lock()
	l.open--
	if l.bySrc[src]--; l.bySrc[src] <= 0 {
		delete(l.bySrc, src)
	}
	l.mu.Unlock()
}

// limitedConn gives its slot back when closed (once).
type limitedConn struct {
	net.Conn
	l    *limitListener
	src  netip.Addr
	once sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.src) })
	return err
}

// remoteAddr is the connection's source address, unmapped (an IPv4
// partner on a dual-stack socket compares equal to its URL's address).
func remoteAddr(c net.Conn) netip.Addr {
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}
