package loadgen

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"xdhcp/fastpath/dhcpview"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Transport moves whole Ethernet frames for the generator. Socket is the
// AF_PACKET implementation; an AF_XDP one can take its place later without
// changes to the engine.
type Transport interface {
	// ReadBatch reads up to len(bufs) frames, waiting at most a short
	// while (Socket: 100 ms) and returning 0 frames and no error on
	// timeout, so that the reader can notice Close.
	ReadBatch(bufs [][]byte, lens []int) (int, error)
	// WriteBatch sends the frames and returns how many the kernel took.
	WriteBatch(frames [][]byte) (int, error)
	// Stats returns the frames received and dropped by the kernel for lack
	// of buffer space since the transport was opened.
	Stats() (received, dropped uint64, err error)
	// MAC is the interface's hardware address (the relay's MAC).
	MAC() [6]byte
	// Close releases the transport; a blocked ReadBatch returns soon after.
	Close() error
}

// Socket is a raw AF_PACKET socket on the client side of the lab: it sends
// the emulated clients' frames and receives the server's replies, which a
// socket filter narrows to UDP from port 67 to ListenPort. Frames addressed
// to other MACs are accepted: replies go to the emulated clients' MACs,
// which a veth delivers as PACKET_OTHERHOST.
type Socket struct {
	fd    int
	iface string
	mac   [6]byte

	closed atomic.Bool
	rmu    sync.Mutex
	rhdrs  []unix.Mmsghdr
	riovs  []unix.Iovec
	wmu    sync.Mutex
	whdrs  []unix.Mmsghdr
	wiovs  []unix.Iovec

	smu            sync.Mutex
	statRx, statDr uint64
}

var _ Transport = (*Socket)(nil)

// SocketOptions tune OpenSocket; the zero value is usable.
type SocketOptions struct {
	// ListenPort is the UDP destination port of the replies to receive:
	// 68 (default) for clients, 67 for relay mode.
	ListenPort uint16
	// RcvBuf and SndBuf are the socket buffer sizes (default 8 MiB each).
	RcvBuf, SndBuf int
}

// readTimeout bounds a blocking read so the receive goroutine sees Close.
const readTimeout = 100 * time.Millisecond

// OpenSocket opens the client-side socket on ifname. It must run on an OS
// thread inside the interface's network namespace (lab.NS.Do); the socket
// keeps the namespace and works from any goroutine afterwards.
func OpenSocket(ifname string, opts SocketOptions) (_ *Socket, err error) {
	port := opts.ListenPort
	if port == 0 {
		port = dhcpview.ClientPort
	}
	rcv, snd := opts.RcvBuf, opts.SndBuf
	if rcv <= 0 {
		rcv = 8 << 20
	}
	if snd <= 0 {
		snd = 8 << 20
	}
	attrs, err := ethernetAttrs(ifname)
	if err != nil {
		return nil, fmt.Errorf("loadgen socket: %w", err)
	}
	s := &Socket{fd: -1, iface: ifname, mac: [6]byte(attrs.HardwareAddr)}
	defer func() {
		if err != nil && s.fd >= 0 {
			unix.Close(s.fd)
		}
	}()
	// Protocol 0 until bind, so no frame is queued before the filter.
	s.fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("loadgen socket %s: %w", ifname, err)
	}
	prog := replyFilter(port)
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if err := unix.SetsockoptSockFprog(s.fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog); err != nil {
		return nil, fmt.Errorf("loadgen socket %s: attach filter: %w", ifname, err)
	}
	if err := unix.SetsockoptInt(s.fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); err != nil {
		return nil, fmt.Errorf("loadgen socket %s: PACKET_IGNORE_OUTGOING: %w", ifname, err)
	}
	if err := unix.SetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcv); err != nil {
		if err := unix.SetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcv); err != nil {
			return nil, fmt.Errorf("loadgen socket %s: SO_RCVBUF: %w", ifname, err)
		}
	}
	if err := unix.SetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, snd); err != nil {
		if err := unix.SetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_SNDBUF, snd); err != nil {
			return nil, fmt.Errorf("loadgen socket %s: SO_SNDBUF: %w", ifname, err)
		}
	}
	tv := unix.NsecToTimeval(readTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(s.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return nil, fmt.Errorf("loadgen socket %s: SO_RCVTIMEO: %w", ifname, err)
	}
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: attrs.Index}
	if err := unix.Bind(s.fd, sa); err != nil {
		return nil, fmt.Errorf("loadgen socket %s: bind: %w", ifname, err)
	}
	return s, nil
}

// ethernetAttrs returns the attributes of the Ethernet interface ifname.
func ethernetAttrs(ifname string) (*netlink.LinkAttrs, error) {
	link, err := netlink.LinkByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("find %s: %w", ifname, err)
	}
	attrs := link.Attrs()
	if len(attrs.HardwareAddr) != 6 {
		return nil, fmt.Errorf("%s is not an Ethernet interface", ifname)
	}
	return attrs, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// replyFilter accepts unfragmented IPv4/UDP frames from port 67 to port.
func replyFilter(port uint16) []unix.SockFilter {
	return []unix.SockFilter{
		/* 0 */ {Code: unix.BPF_LD | unix.BPF_H | unix.BPF_ABS, K: 12}, // EtherType
		/* 1 */ {Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: unix.ETH_P_IP, Jt: 0, Jf: 10},
		/* 2 */ {Code: unix.BPF_LD | unix.BPF_B | unix.BPF_ABS, K: 14 + 9}, // protocol
		/* 3 */ {Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: unix.IPPROTO_UDP, Jt: 0, Jf: 8},
		/* 4 */ {Code: unix.BPF_LD | unix.BPF_H | unix.BPF_ABS, K: 14 + 6}, // fragment bits
		/* 5 */ {Code: unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K, K: 0x3fff, Jt: 6, Jf: 0},
		/* 6 */ {Code: unix.BPF_LDX | unix.BPF_B | unix.BPF_MSH, K: 14}, // X = IP header length
		/* 7 */ {Code: unix.BPF_LD | unix.BPF_H | unix.BPF_IND, K: 14}, // UDP source port
		/* 8 */ {Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: 67, Jt: 0, Jf: 3},
		/* 9 */ {Code: unix.BPF_LD | unix.BPF_H | unix.BPF_IND, K: 14 + 2}, // UDP destination port
		/* 10 */ {Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: uint32(port), Jt: 0, Jf: 1},
		/* 11 */ {Code: unix.BPF_RET | unix.BPF_K, K: 0x40000},
		/* 12 */ {Code: unix.BPF_RET | unix.BPF_K, K: 0},
	}
}

// MAC returns the interface's hardware address.
func (s *Socket) MAC() [6]byte { return s.mac }

// ReadBatch implements Transport with one recvmmsg.
func (s *Socket) ReadBatch(bufs [][]byte, lens []int) (int, error) {
	n := min(len(bufs), len(lens))
	if n == 0 {
		return 0, nil
	}
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if s.closed.Load() {
		return 0, net.ErrClosed
	}
	if len(s.rhdrs) < n {
		s.rhdrs = make([]unix.Mmsghdr, n)
		s.riovs = make([]unix.Iovec, n)
	}
	for i := range n {
		s.riovs[i] = unix.Iovec{Base: &bufs[i][0], Len: uint64(len(bufs[i]))}
		s.rhdrs[i] = unix.Mmsghdr{Hdr: unix.Msghdr{Iov: &s.riovs[i], Iovlen: 1}}
	}
	for {
		// MSG_WAITFORONE: block for the first frame only.
		r, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&s.rhdrs[0])), uintptr(n), unix.MSG_WAITFORONE, 0, 0)
		switch errno {
		case 0:
			for i := range int(r) {
				lens[i] = int(s.rhdrs[i].Len)
			}
			return int(r), nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return 0, nil
		default:
			if s.closed.Load() {
				return 0, net.ErrClosed
			}
			return 0, fmt.Errorf("loadgen socket %s: recvmmsg: %w", s.iface, errno)
		}
	}
}

// WriteBatch implements Transport with sendmmsg. ENOBUFS (the device queue
// is full) stops the batch and is returned, so that the engine counts the
// frames not sent.
func (s *Socket) WriteBatch(frames [][]byte) (int, error) {
	if len(frames) == 0 {
		return 0, nil
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed.Load() {
		return 0, net.ErrClosed
	}
	if len(s.whdrs) < len(frames) {
		s.whdrs = make([]unix.Mmsghdr, len(frames))
		s.wiovs = make([]unix.Iovec, len(frames))
	}
	sent := 0
	for sent < len(frames) {
		n := len(frames) - sent
		for i := range n {
			f := frames[sent+i]
			s.wiovs[i] = unix.Iovec{Base: &f[0], Len: uint64(len(f))}
			s.whdrs[i] = unix.Mmsghdr{Hdr: unix.Msghdr{Iov: &s.wiovs[i], Iovlen: 1}}
		}
		r, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&s.whdrs[0])), uintptr(n), 0, 0, 0)
		switch errno {
		case 0:
			sent += int(r)
		case unix.EINTR, unix.EAGAIN:
		default:
			return sent, fmt.Errorf("loadgen socket %s: sendmmsg: %w", s.iface, errno)
		}
	}
	return sent, nil
}

// Stats implements Transport from PACKET_STATISTICS.
func (s *Socket) Stats() (received, dropped uint64, err error) {
	s.smu.Lock()
	defer s.smu.Unlock()
	if s.closed.Load() {
		return s.statRx, s.statDr, nil
	}
	st, err := unix.GetsockoptTpacketStats(s.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err != nil {
		return s.statRx, s.statDr, fmt.Errorf("loadgen socket %s: PACKET_STATISTICS: %w", s.iface, err)
	}
	// The kernel resets its counters on every read.
	s.statRx += uint64(st.Packets)
	s.statDr += uint64(st.Drops)
	return s.statRx, s.statDr, nil
}

// Close closes the socket after any read in progress has timed out.
func (s *Socket) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	_, _, _ = s.Stats()
	s.rmu.Lock()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	defer s.rmu.Unlock()
	if err := unix.Close(s.fd); err != nil {
		return fmt.Errorf("loadgen socket %s: close: %w", s.iface, err)
	}
	s.fd = -1
	return nil
}

// ResolveMAC finds the hardware address of ip as seen from ifname: it sends
// one UDP datagram to ip's discard port so the kernel resolves it by ARP,
// then reads the neighbour table. It must run inside the interface's
// namespace (lab.NS.Do).
func ResolveMAC(ifname string, ip netip.Addr, timeout time.Duration) ([6]byte, error) {
	link, err := netlink.LinkByName(ifname)
	if err != nil {
		return [6]byte{}, fmt.Errorf("resolve %s: find %s: %w", ip, ifname, err)
	}
	conn, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 9)))
	if err != nil {
		return [6]byte{}, fmt.Errorf("resolve %s: %w", ip, err)
	}
	defer conn.Close()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		_, _ = conn.Write([]byte{0})
		neighs, err := netlink.NeighList(link.Attrs().Index, netlink.FAMILY_V4)
		if err != nil {
			return [6]byte{}, fmt.Errorf("resolve %s: list neighbours: %w", ip, err)
		}
		for _, n := range neighs {
			a, ok := netip.AddrFromSlice(n.IP)
			if ok && a.Unmap() == ip && len(n.HardwareAddr) == 6 && n.State&(netlink.NUD_REACHABLE|netlink.NUD_STALE|netlink.NUD_DELAY|netlink.NUD_PROBE|netlink.NUD_PERMANENT) != 0 {
				return [6]byte(n.HardwareAddr), nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return [6]byte{}, errors.New("resolve " + ip.String() + ": no ARP answer")
}

// InterfaceLinkLocal returns the IPv6 link-local address of ifname, the
// DHCPv6 clients' source address: the server's replies go there, and the
// kernel answers the server's neighbour solicitations for it. It must run
// inside the interface's namespace.
func InterfaceLinkLocal(ifname string) (netip.Addr, error) {
	link, err := netlink.LinkByName(ifname)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("link-local address: find %s: %w", ifname, err)
	}
	addrs, err := netlink.AddrList(link, netlink.FAMILY_V6)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("link-local address of %s: %w", ifname, err)
	}
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if ok && ip.IsLinkLocalUnicast() && a.Flags&unix.IFA_F_TENTATIVE == 0 {
			return ip, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("%s has no usable IPv6 link-local address", ifname)
}
