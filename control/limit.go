package control

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// limitListener closes, as soon as they are accepted, the connections
// beyond maxTotal open at once or beyond maxPerSource from one source
// address (0: no per-source limit). Closing at accept keeps the kernel's
// backlog draining, so a flood of idle connections costs the daemon a
// bounded number of file descriptors instead of one each.
type limitListener struct {
	net.Listener
	maxTotal, maxPerSource int
	// refused counts the connections closed at accept.
	refused atomic.Uint64
	// onRefuse, when set, is called (outside the lock) for each refused
	// connection with its source, for the log.
	onRefuse func(src string, perSource bool)

	mu       sync.Mutex
	total    int
	bySource map[netip.Addr]int
}

func newLimitListener(ln net.Listener, maxTotal, maxPerSource int) *limitListener {
	return &limitListener{Listener: ln, maxTotal: maxTotal, maxPerSource: maxPerSource,
		bySource: make(map[netip.Addr]int)}
}

// sourceOf is the connection's remote IP; unix sockets have none (the
// zero Addr), so only the total limit applies to them.
func sourceOf(c net.Conn) netip.Addr {
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// Accept returns the next connection within the limits.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		src := sourceOf(c)
		l.mu.Lock()
		overTotal := l.maxTotal > 0 && l.total >= l.maxTotal
		overSource := src.IsValid() && l.maxPerSource > 0 && l.bySource[src] >= l.maxPerSource
		if !overTotal && !overSource {
			l.total++
			if src.IsValid() {
				l.bySource[src]++
			}
			l.mu.Unlock()
			return &limitedConn{Conn: c, l: l, src: src}, nil
		}
		l.mu.Unlock()
		_ = c.Close()
		if l.refused.Add(1); l.onRefuse != nil {
			l.onRefuse(src.String(), overSource && !overTotal)
		}
	}
}

func (l *limitListener) release(src netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if src.IsValid() {
		if n := l.bySource[src] - 1; n > 0 {
			l.bySource[src] = n
		} else {
			delete(l.bySource, src)
		}
	}
}

// open is the number of connections accepted and not yet closed.
func (l *limitListener) open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

// limitedConn gives its place back once, on the first Close.
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
