package fastpath

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"xdhcp/fastpath/frame"
	"xdhcp/handoff"
)

// NextHop addresses the replies the engine addresses by IP alone (a zero
// DstMAC): the replies to relayed requests, which go to giaddr by the
// routing table, never to the Ethernet source of the request (which anyone
// on the link can be). Router implements it.
type NextHop interface {
	// Lookup returns the cached Ethernet next hop of dst out of the
	// interface; it makes no system call and allocates nothing.
	Lookup(dst [4]byte) ([6]byte, bool)
	// Resolve is Lookup that asks the kernel's route and neighbour tables
	// on a miss. false: the kernel must send the datagram (SendIP), as
	// the route leaves by another interface or the neighbour is not
	// resolved yet.
	Resolve(dst [4]byte) ([6]byte, bool)
	// SendIP sends the IPv4/UDP datagram m describes through the kernel,
	// which routes it and resolves the neighbour itself.
	SendIP(m *handoff.Meta, payload []byte) error
}

// Router is the NextHop of one interface. It reads the kernel's tables
// through a netlink socket and sends through a raw IPv4 socket, both opened
// by NewRouter in the network namespace of the calling thread. Answers are
// cached for hopTTL.
type Router struct {
	ifindex int
	nl      *netlink.Handle
	raw     int
	now     func() time.Time

	mu    sync.RWMutex
	cache map[[4]byte]hop
	bufs  sync.Pool

	// life guards the sockets against Close: a reply sent by the engine
	// while the transport stops must not write to a descriptor number
	// that has been reused.
	life   sync.RWMutex
	closed bool
}

// errRouterClosed is returned by a Router after Close.
var errRouterClosed = errors.New("fastpath: router closed")

type hop struct {
	mac     [6]byte
	kernel  bool // the route leaves by another interface: SendIP
	expires int64
}

const (
	// hopTTL bounds how long a next hop is used without asking the kernel
	// again (a relay replaced by another machine on the same address).
	hopTTL = 30 * time.Second
	// maxCachedHops bounds the cache; relays are few, so a full cache is
	// simply emptied.
	maxCachedHops = 4096
)

// NewRouter opens the netlink and raw sockets for the interface ifindex in
// the current thread's network namespace.
func NewRouter(ifindex int) (*Router, error) {
	nl, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	raw, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
	if err != nil {
		nl.Close()
		return nil, fmt.Errorf("raw ipv4 socket for replies to relays: %w", err)
	}
	r := &Router{ifindex: ifindex, nl: nl, raw: raw, now: time.Now, cache: map[[4]byte]hop{}}
	r.bufs.New = func() any { b := make([]byte, 2048); return &b }
	return r, nil
}

// Close releases the sockets; later calls fail or miss.
func (r *Router) Close() error {
	r.life.Lock()
	defer r.life.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	r.nl.Close()
	return unix.Close(r.raw)
}

// Lookup implements NextHop.
func (r *Router) Lookup(dst [4]byte) ([6]byte, bool) {
	r.mu.RLock()
	h, ok := r.cache[dst]
	r.mu.RUnlock()
	if !ok || h.kernel || h.expires < r.now().UnixNano() {
		return [6]byte{}, false
	}
	return h.mac, true
}

// Resolve implements NextHop.
func (r *Router) Resolve(dst [4]byte) ([6]byte, bool) {
	now := r.now().UnixNano()
	r.mu.RLock()
	h, ok := r.cache[dst]
	r.mu.RUnlock()
	if ok && h.expires >= now {
		return h.mac, !h.kernel
	}
	h, ok = r.ask(dst)
	if !ok {
		return [6]byte{}, false // not resolved yet: ask again next time
	}
	h.expires = now + int64(hopTTL)
	r.mu.Lock()
	if len(r.cache) >= maxCachedHops {
		clear(r.cache)
	}
	r.cache[dst] = h
	r.mu.Unlock()
	return h.mac, !h.kernel
}

// ask reads the route to dst and the neighbour entry of its next hop. ok
// is false when there is no answer worth caching.
func (r *Router) ask(dst [4]byte) (hop, bool) {
	r.life.RLock()
	defer r.life.RUnlock()
	if r.closed {
		return hop{}, false
	}
	routes, err := r.nl.RouteGet(net.IP(dst[:]))
	if err != nil || len(routes) == 0 {
		return hop{}, false
	}
	rt := routes[0]
	if rt.LinkIndex != r.ifindex {
		return hop{kernel: true}, true
	}
	next := net.IP(dst[:])
	if gw := rt.Gw.To4(); gw != nil {
		next = gw
	}
	neighs, err := r.nl.NeighList(r.ifindex, netlink.FAMILY_V4)
	if err != nil {
		return hop{}, false
	}
	const usable = netlink.NUD_REACHABLE | netlink.NUD_STALE | netlink.NUD_DELAY | netlink.NUD_PROBE | netlink.NUD_PERMANENT
	for _, n := range neighs {
		if n.IP.Equal(next) && len(n.HardwareAddr) == 6 && n.State&usable != 0 {
			return hop{mac: [6]byte(n.HardwareAddr)}, true
		}
	}
	return hop{}, false
}

// SendIP implements NextHop: the IPv4 and UDP headers are built here and
// the kernel routes the datagram (and resolves its next hop, sending ARP
// requests as needed). VLAN tags of m are not used: the kernel's route
// picks the interface.
func (r *Router) SendIP(m *handoff.Meta, payload []byte) error {
	r.life.RLock()
	defer r.life.RUnlock()
	if r.closed {
		return errRouterClosed
	}
	bp := r.bufs.Get().(*[]byte)
	defer r.bufs.Put(bp)
	ip := *m
	ip.NVLAN = 0
	n, err := frame.Build(*bp, &ip, payload)
	if err != nil {
		return fmt.Errorf("build datagram: %w", err)
	}
	// The datagram is the frame without its Ethernet header and padding.
	const ethLen = 14
	end := min(frame.HeaderLen(&ip)+len(payload), n)
	err = unix.Sendto(r.raw, (*bp)[ethLen:end], 0, &unix.SockaddrInet4{Addr: m.DstIP})
	if err != nil {
		return fmt.Errorf("send to %v through the kernel: %w", net.IP(m.DstIP[:]), err)
	}
	return nil
}

// ErrNoNextHop is returned for a reply addressed by IP alone on a
// transport without a NextHop.
var ErrNoNextHop = errors.New("fastpath: reply addressed by IP alone and no router to resolve it")

// route fills in the Ethernet next hop of a reply the engine addressed by
// IP alone. kernel true: nh sent it through the kernel instead (or failed
// to: err).
func route(nh NextHop, m *handoff.Meta, payload []byte) (kernel bool, err error) {
	if m.DstMAC != ([6]byte{}) {
		return false, nil
	}
	if nh == nil {
		return true, ErrNoNextHop
	}
	if mac, ok := nh.Resolve(m.DstIP); ok {
		m.DstMAC = mac
		return false, nil
	}
	return true, nh.SendIP(m, payload)
}
