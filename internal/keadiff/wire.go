package keadiff

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"golang.org/x/sys/unix"
)

// Reply is one server answer as the client side saw it on the wire.
type Reply struct {
	Msg     *dhcpv4.DHCPv4
	DstIP   netip.Addr
	DstPort uint16
	DstMAC  net.HardwareAddr
	Link    int // index of the client-side link it arrived on
}

// Frame describes how a request is put on a link: direct from a client
// (broadcast, from 0.0.0.0:68) or from a relay (unicast from giaddr:67 to
// the server's address:67).
type Frame struct {
	SrcMAC, DstMAC net.HardwareAddr
	SrcIP, DstIP   netip.Addr
	SrcPort        uint16
}

// linkConn is a packet socket on one client-side link: it sends whole
// Ethernet frames and sees every frame the link receives.
type linkConn struct {
	fd    int
	index int
}

func openLink(ifindex int) (*linkConn, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
	if err != nil {
		return nil, fmt.Errorf("packet socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind packet socket to ifindex %d: %w", ifindex, err)
	}
	// Replies unicast to a client's chaddr are for another host as far as
	// the link's own address goes: see them all.
	mreq := unix.PacketMreq{Ifindex: int32(ifindex), Type: unix.PACKET_MR_PROMISC}
	if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("promiscuous mode on ifindex %d: %w", ifindex, err)
	}
	tv := unix.Timeval{Usec: 200000}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("receive timeout: %w", err)
	}
	return &linkConn{fd: fd, index: ifindex}, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (c *linkConn) send(frame []byte) error {
	return unix.Sendto(c.fd, frame, 0, &unix.SockaddrLinklayer{Ifindex: c.index, Halen: 6})
}

// Close releases the socket.
func (c *linkConn) Close() error { return unix.Close(c.fd) }

// Encode builds the Ethernet/IPv4/UDP frame carrying payload to port 67.
func (f Frame) Encode(payload []byte) []byte {
	b := make([]byte, 14+20+8+len(payload))
	copy(b[0:6], f.DstMAC)
	copy(b[6:12], f.SrcMAC)
	binary.BigEndian.PutUint16(b[12:], unix.ETH_P_IP)
	ip := b[14:34]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+8+len(payload)))
	ip[8], ip[9] = 64, unix.IPPROTO_UDP
	src, dst := f.SrcIP.As4(), f.DstIP.As4()
	copy(ip[12:16], src[:])
	copy(ip[16:20], dst[:])
	binary.BigEndian.PutUint16(ip[10:], checksum(ip))
	udp := b[34:42]
	binary.BigEndian.PutUint16(udp[0:], f.SrcPort)
	binary.BigEndian.PutUint16(udp[2:], 67)
	binary.BigEndian.PutUint16(udp[4:], uint16(8+len(payload)))
	copy(b[42:], payload)
	return b
}

func checksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(h); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// decodeReply returns the DHCP answer a frame carries (UDP from port 67
// to port 67 or 68), or nil for any other frame.
func decodeReply(b []byte) *Reply {
	if len(b) < 42 || binary.BigEndian.Uint16(b[12:]) != unix.ETH_P_IP {
		return nil
	}
	ip := b[14:]
	ihl := int(ip[0]&0x0f) * 4
	if ip[0]>>4 != 4 || ihl < 20 || len(ip) < ihl+8 || ip[9] != unix.IPPROTO_UDP {
		return nil
	}
	udp := ip[ihl:]
	src, dst := binary.BigEndian.Uint16(udp[0:]), binary.BigEndian.Uint16(udp[2:])
	if src != 67 || (dst != 67 && dst != 68) {
		return nil
	}
	end := min(len(udp), int(binary.BigEndian.Uint16(udp[4:])))
	if end < 8 {
		return nil
	}
	m, err := dhcpv4.FromBytes(udp[8:end])
	if err != nil || m.OpCode != dhcpv4.OpcodeBootReply {
		return nil
	}
	return &Reply{Msg: m, DstIP: netip.AddrFrom4([4]byte(ip[16:20])), DstPort: dst,
		DstMAC: net.HardwareAddr(append([]byte(nil), b[0:6]...))}
}

// listener reads every link of one side and hands answers to whoever waits
// for their transaction ID.
type listener struct {
	links []*linkConn
	mu    sync.Mutex
	wait  map[dhcpv4.TransactionID]chan *Reply
	done  chan struct{}
	wg    sync.WaitGroup
}

func newListener(links []*linkConn) *listener {
	l := &listener{links: links, wait: map[dhcpv4.TransactionID]chan *Reply{}, done: make(chan struct{})}
	for i, c := range links {
		l.wg.Add(1)
		go l.read(i, c)
	}
	return l
}

func (l *listener) read(i int, c *linkConn) {
	defer l.wg.Done()
	buf := make([]byte, 65536)
	for {
		select {
		case <-l.done:
			return
		default:
		}
		n, _, err := unix.Recvfrom(c.fd, buf, 0)
		if err != nil {
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				continue
			}
			return
		}
		r := decodeReply(buf[:n])
		if r == nil {
			continue
		}
		r.Link = i
		l.mu.Lock()
		ch := l.wait[r.Msg.TransactionID]
		l.mu.Unlock()
		if ch != nil {
			select {
			case ch <- r:
			default: // a second answer to one request: the first counts
			}
		}
	}
}

// expect registers interest in the answer to xid before the request goes
// out.
func (l *listener) expect(xid dhcpv4.TransactionID) chan *Reply {
	ch := make(chan *Reply, 1)
	l.mu.Lock()
	l.wait[xid] = ch
	l.mu.Unlock()
	return ch
}

// await returns the answer to xid, or nil after timeout.
func (l *listener) await(xid dhcpv4.TransactionID, ch chan *Reply, timeout time.Duration) *Reply {
	defer func() {
		l.mu.Lock()
		delete(l.wait, xid)
		l.mu.Unlock()
	}()
	select {
	case r := <-ch:
		return r
	case <-time.After(timeout):
		return nil
	}
}

func (l *listener) close() error {
	close(l.done)
	l.wg.Wait()
	var errs []error
	for _, c := range l.links {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}
