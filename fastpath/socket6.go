package fastpath

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"xdhcp/handoff"
)

// DHCPv6 ports and the multicast group servers and relays listen on.
const (
	ClientPort6 = 546
	ServerPort6 = 547
)

// AllServersAndRelays is ff02::1:2, where clients send on their link.
var AllServersAndRelays = netip.MustParseAddr("ff02::1:2")

// UDP6Listener is DHCPv6 without XDP: a UDP socket on port 547 bound to one
// interface, in the All_DHCP_Relay_Agents_and_Servers group, handing every
// datagram to the v6 engine. Unlike DHCPv4 there is no need for raw frames:
// a DHCPv6 client has a link-local address before it asks, so replies are
// ordinary datagrams to that address (or to the relay that forwarded the
// request).
type UDP6Listener struct {
	conn    *net.UDPConn
	raw     syscall.RawConn
	ifc     net.Interface
	h       handoff.Handler6
	log     *slog.Logger
	packets handoff.PacketPool6
	unicast []netip.Addr

	// RxNotListening counts datagrams to a unicast address the
	// configuration does not listen on (Kea's sockets never see them).
	RxPackets, RxMalformed, RxNotListening, TxPackets, TxErrors atomic.Uint64
}

// ListenUDP6 opens the DHCPv6 server socket on the interface ifname.
// Sockets of several interfaces share port 547: each is bound to its
// device. As kea-dhcp6 does, it takes what is sent to the multicast group
// and to the interface's link-local addresses, and to a global unicast
// address only when that address is one of unicast (interfaces-config's
// "eth0/2001:db8::1").
func ListenUDP6(ifname string, unicast []netip.Addr, h handoff.Handler6, log *slog.Logger) (*UDP6Listener, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ifc, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("dhcpv6 socket: %w", err)
	}
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			s := int(fd)
			serr = errors.Join(
				unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1),
				unix.BindToDevice(s, ifname),
				unix.SetsockoptInt(s, unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1),
				unix.SetsockoptInt(s, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1),
				unix.SetsockoptInt(s, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_LOOP, 0),
			)
		})
		return errors.Join(err, serr)
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp6", fmt.Sprintf("[::]:%d", ServerPort6))
	if err != nil {
		return nil, fmt.Errorf("dhcpv6 socket on %s: %w", ifname, err)
	}
	conn := pc.(*net.UDPConn)
	raw, err := conn.SyscallConn()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("dhcpv6 socket on %s: %w", ifname, err)
	}
	l := &UDP6Listener{conn: conn, raw: raw, ifc: *ifc, h: h, log: log, unicast: unicast}
	if err := l.join(AllServersAndRelays); err != nil {
		conn.Close()
		return nil, err
	}
	return l, nil
}

func (l *UDP6Listener) join(group netip.Addr) error {
	mreq := &unix.IPv6Mreq{Multiaddr: group.As16(), Interface: uint32(l.ifc.Index)}
	var serr error
	err := l.raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptIPv6Mreq(int(fd), unix.IPPROTO_IPV6, unix.IPV6_JOIN_GROUP, mreq)
	})
	if err = errors.Join(err, serr); err != nil {
		return fmt.Errorf("join %s on %s: %w", group, l.ifc.Name, err)
	}
	return nil
}

// Iface is the interface served.
func (l *UDP6Listener) Iface() net.Interface { return l.ifc }

// Close closes the socket; Run returns.
func (l *UDP6Listener) Close() error { return l.conn.Close() }

// Run reads until the socket is closed or ctx ends.
func (l *UDP6Listener) Run(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { l.conn.Close() })
	defer stop()
	buf := make([]byte, 65536)
	oob := make([]byte, 128)
	for {
		n, oobn, _, from, err := l.conn.ReadMsgUDPAddrPort(buf, oob)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("dhcpv6 read on %s: %w", l.ifc.Name, err)
		}
		dst, ok := pktinfoDst(oob[:oobn])
		if !ok || n < 4 || n > 2048 {
			// A datagram larger than a handoff buffer is no DHCPv6 a
			// client or relay sends (RFC 8415 keeps to the minimum MTU
			// in practice); without its destination the unicast rule
			// cannot be applied.
			l.RxMalformed.Add(1)
			continue
		}
		if !l.listening(dst) {
			l.RxNotListening.Add(1)
			continue
		}
		l.RxPackets.Add(1)
		p := l.packets.Get()
		p.IfIndex, p.IfName, p.Out, p.Received = l.ifc.Index, l.ifc.Name, l, time.Now()
		copy(p.IfMAC[:], l.ifc.HardwareAddr)
		p.Meta.SrcIP = from.Addr().As16()
		p.Meta.DstIP = dst
		p.Meta.SrcPort, p.Meta.DstPort = from.Port(), ServerPort6
		p.SetData(buf[:n])
		l.h.Enqueue6(p)
	}
}

// listening reports whether a datagram to dst is one the server takes.
func (l *UDP6Listener) listening(dst [16]byte) bool {
	a := netip.AddrFrom16(dst)
	if a.IsMulticast() || a.IsLinkLocalUnicast() {
		return true
	}
	for _, u := range l.unicast {
		if u == a {
			return true
		}
	}
	return false
}

// pktinfoDst finds the IPV6_PKTINFO control message in oob and returns the
// datagram's destination address.
func pktinfoDst(oob []byte) ([16]byte, bool) {
	const hdr = unix.SizeofCmsghdr
	for len(oob) >= hdr {
		clen := int(binary.NativeEndian.Uint64(oob[0:8]))
		level := int32(binary.NativeEndian.Uint32(oob[8:12]))
		typ := int32(binary.NativeEndian.Uint32(oob[12:16]))
		if clen < hdr || clen > len(oob) {
			return [16]byte{}, false
		}
		if level == unix.IPPROTO_IPV6 && typ == unix.IPV6_PKTINFO && clen >= hdr+unix.SizeofInet6Pktinfo {
			return [16]byte(oob[hdr : hdr+16]), true
		}
		next := (clen + 7) &^ 7
		if next >= len(oob) {
			break
		}
		oob = oob[next:]
	}
	return [16]byte{}, false
}

// Send6 sends payload to dst.DstIP, port dst.DstPort, out of this
// interface (a link-local destination is scoped to it).
func (l *UDP6Listener) Send6(dst *handoff.Meta6, payload []byte) error {
	to := netip.AddrFrom16(dst.DstIP)
	if to.IsLinkLocalUnicast() || to.IsLinkLocalMulticast() {
		to = to.WithZone(l.ifc.Name)
	}
	if _, err := l.conn.WriteToUDPAddrPort(payload, netip.AddrPortFrom(to, dst.DstPort)); err != nil {
		l.TxErrors.Add(1)
		return fmt.Errorf("dhcpv6 send to %s on %s: %w", to, l.ifc.Name, err)
	}
	l.TxPackets.Add(1)
	return nil
}
