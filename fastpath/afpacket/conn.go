// Package afpacket is the socket-mode transport: a raw AF_PACKET socket bound
// to one interface, used where XDP cannot attach and as the fallback of the
// AF_XDP fast path. It moves whole Ethernet frames; fastpath/frame parses and
// builds them.
//
// # VLANs
//
// Socket mode serves untagged frames on the interface it is bound to. To
// serve a VLAN, open the VLAN device (eth0.100): the kernel delivers its
// frames untagged. A tagged frame reaching an interface that has no VLAN
// device for its VID has its tag stripped by the kernel before protocol
// delivery and is marked PACKET_OTHERHOST; the socket filter drops it rather
// than answer it untagged (see filterProgram). Stacked (QinQ) tags are not
// delivered to an ETH_P_IP socket at all. PACKET_AUXDATA is enabled anyway,
// and should a kernel path report a stripped tag (TP_STATUS_VLAN_VALID),
// ReadBatchAux returns it in Aux.
//
// # Concurrency
//
// One goroutine reads at a time (concurrent readers are serialised) and one
// writes at a time; reads and writes run in parallel. Close is safe from any
// goroutine and wakes a blocked reader or writer, which then return an error
// wrapping net.ErrClosed.
package afpacket

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"xdhcp/fastpath/frame"
	"xdhcp/handoff"
)

// DefaultRcvBuf is the receive buffer asked for when Options.RcvBuf is 0:
// bursts overflow the kernel's 208 KiB default long before the CPU is full.
const DefaultRcvBuf = 4 << 20

// Iface describes the interface a Conn is bound to.
type Iface struct {
	Index int
	Name  string
	MAC   [6]byte
	// Addrs are the interface's IPv4 addresses, primary addresses first in
	// kernel order, then secondary ones. Treat the slice as read-only.
	Addrs []netip.Addr
}

// Options tune Open. The zero value is usable.
type Options struct {
	// RcvBuf is the socket receive buffer in bytes (default DefaultRcvBuf).
	// SO_RCVBUFFORCE is tried first, so that net.core.rmem_max does not cap
	// it; without CAP_NET_ADMIN it falls back to SO_RCVBUF.
	RcvBuf int
	// Logger receives setup messages, never per-packet ones (default:
	// discard).
	Logger *slog.Logger
}

// Aux is per-frame information that is not in the frame bytes.
type Aux struct {
	// VLAN is a tag the kernel removed from the frame, valid if HasVLAN.
	VLAN    handoff.VLANTag
	HasVLAN bool
	// Truncated reports that the frame was longer than its buffer; OrigLen
	// is its length on the wire.
	Truncated bool
	OrigLen   int
}

// Conn is a raw AF_PACKET socket bound to one interface.
type Conn struct {
	fd   int
	efd  int    // eventfd, written by Close to wake poll
	name string // the name given to Open, for messages
	ns   netns.NsHandle
	log  *slog.Logger

	closed    atomic.Bool
	errClosed error // built once at Open: no formatting on the read path

	imu   sync.Mutex // guards iface; held across Refresh so Close waits for it
	iface Iface

	rmu   sync.Mutex // serialises readers; owns the r* fields
	rhdrs []mmsghdr
	riovs []unix.Iovec
	rctl  []byte
	rpfd  [2]unix.PollFd

	wmu   sync.Mutex // serialises writers; owns the w* fields
	whdrs []mmsghdr
	wiovs []unix.Iovec
	wpfd  [2]unix.PollFd

	smu              sync.Mutex // Stats: the kernel resets its counters on read
	statRx, statDrop uint64
}

// mmsghdr is struct mmsghdr; x/sys/unix has the type but no recvmmsg or
// sendmmsg wrapper.
type mmsghdr = unix.Mmsghdr

// ctlSpace is the control buffer for one message: a PACKET_AUXDATA cmsg.
var ctlSpace = unix.CmsgSpace(int(unsafe.Sizeof(unix.TpacketAuxdata{})))

// initialBatch is the batch size prepared at Open; larger batches grow the
// message arrays once.
const initialBatch = 64

// Open opens a raw socket on ifname, bound to ETH_P_IP with a filter that
// passes only unfragmented IPv4/UDP to port 67 (ServerPort), ignoring the
// frames this host sends.
//
// Open must run on an OS thread that is in the interface's network namespace
// (runtime.LockOSThread, as lab.NS.Do does). The socket keeps that namespace:
// afterwards the Conn works from any goroutine.
func Open(ifname string, opts Options) (_ *Conn, err error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rcvbuf := opts.RcvBuf
	if rcvbuf == 0 {
		rcvbuf = DefaultRcvBuf
	}
	if rcvbuf < 0 {
		return nil, fmt.Errorf("afpacket %s: negative receive buffer %d", ifname, rcvbuf)
	}

	c := &Conn{fd: -1, efd: -1, name: ifname, ns: netns.None(), log: log}
	defer func() {
		if err != nil {
			c.release()
		}
	}()
	if c.ns, err = netns.Get(); err != nil {
		return nil, fmt.Errorf("afpacket %s: get network namespace: %w", ifname, err)
	}
	if c.iface, err = c.lookup(ifname, 0); err != nil {
		return nil, err
	}
	c.errClosed = fmt.Errorf("afpacket %s: %w", ifname, net.ErrClosed)

	// Protocol 0: the socket receives nothing until bind, so no frame gets
	// in before the filter is attached.
	c.fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("afpacket %s: socket: %w", ifname, err)
	}
	c.efd, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("afpacket %s: eventfd: %w", ifname, err)
	}
	prog := filterProgram
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if err := unix.SetsockoptSockFprog(c.fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog); err != nil {
		return nil, fmt.Errorf("afpacket %s: attach filter: %w", ifname, err)
	}
	if err := unix.SetsockoptInt(c.fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); err != nil {
		return nil, fmt.Errorf("afpacket %s: PACKET_IGNORE_OUTGOING: %w", ifname, err)
	}
	if err := unix.SetsockoptInt(c.fd, unix.SOL_PACKET, unix.PACKET_AUXDATA, 1); err != nil {
		return nil, fmt.Errorf("afpacket %s: PACKET_AUXDATA: %w", ifname, err)
	}
	if err := unix.SetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvbuf); err != nil {
		log.Debug("SO_RCVBUFFORCE refused, falling back to SO_RCVBUF", "iface", ifname, "err", err)
		if err := unix.SetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvbuf); err != nil {
			return nil, fmt.Errorf("afpacket %s: SO_RCVBUF %d: %w", ifname, rcvbuf, err)
		}
	}
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: c.iface.Index}
	if err := unix.Bind(c.fd, sa); err != nil {
		return nil, fmt.Errorf("afpacket %s: bind: %w", ifname, err)
	}

	c.rpfd = [2]unix.PollFd{{Fd: int32(c.fd), Events: unix.POLLIN}, {Fd: int32(c.efd), Events: unix.POLLIN}}
	c.wpfd = [2]unix.PollFd{{Fd: int32(c.fd), Events: unix.POLLOUT}, {Fd: int32(c.efd), Events: unix.POLLIN}}
	c.growRead(initialBatch)
	c.growWrite(initialBatch)

	got, _ := unix.GetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_RCVBUF)
	log.Info("afpacket socket open", "iface", ifname, "ifindex", c.iface.Index, "rcvbuf", got)
	return c, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// Iface returns the interface as last read by Open or Refresh.
func (c *Conn) Iface() Iface {
	c.imu.Lock()
	defer c.imu.Unlock()
	return c.iface
}

// Refresh re-reads the interface's name, MAC and IPv4 addresses in the
// socket's namespace; call it when addresses change. It works from any
// goroutine.
func (c *Conn) Refresh() error {
	c.imu.Lock()
	defer c.imu.Unlock()
	if c.closed.Load() {
		return c.errClosed
	}
	ifc, err := c.lookup(c.iface.Name, c.iface.Index)
	if err != nil {
		return err
	}
	c.iface = ifc // a new slice: holders of the old one are unaffected
	return nil
}

// lookup reads the interface by index, or by name when index is 0.
func (c *Conn) lookup(name string, index int) (Iface, error) {
	h, err := c.netlinkHandle()
	if err != nil {
		return Iface{}, fmt.Errorf("afpacket %s: netlink: %w", name, err)
	}
	defer h.Delete()
	var link netlink.Link
	if index != 0 {
		link, err = h.LinkByIndex(index)
	} else {
		link, err = h.LinkByName(name)
	}
	if err != nil {
		return Iface{}, fmt.Errorf("afpacket %s: find interface: %w", name, err)
	}
	attrs := link.Attrs()
	if len(attrs.HardwareAddr) != 6 {
		return Iface{}, fmt.Errorf("afpacket %s: not an Ethernet interface (hardware address %q)", name, attrs.HardwareAddr)
	}
	var addrs []netlink.Addr
	for range 3 {
		// A dump that raced with a change is retried; it is rare.
		addrs, err = h.AddrList(link, netlink.FAMILY_V4)
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return Iface{}, fmt.Errorf("afpacket %s: list addresses: %w", name, err)
	}
	var primary, secondary []netip.Addr
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		if a.Flags&unix.IFA_F_SECONDARY != 0 {
			secondary = append(secondary, ip.Unmap())
		} else {
			primary = append(primary, ip.Unmap())
		}
	}
	return Iface{Index: attrs.Index, Name: attrs.Name, MAC: [6]byte(attrs.HardwareAddr), Addrs: slices.Concat(primary, secondary)}, nil
}

// netlinkHandle opens netlink in the socket's namespace. From a thread
// already in it, a plain handle does: entering a namespace (setns) needs
// CAP_SYS_ADMIN, which a daemon running with only CAP_NET_RAW and
// CAP_NET_ADMIN does not have.
func (c *Conn) netlinkHandle() (*netlink.Handle, error) {
	if cur, err := netns.Get(); err == nil {
		same := cur.Equal(c.ns)
		cur.Close()
		if same {
			return netlink.NewHandle()
		}
	}
	return netlink.NewHandleAt(c.ns)
}

func (c *Conn) growRead(n int) {
	c.rhdrs = make([]mmsghdr, n)
	c.riovs = make([]unix.Iovec, n)
	c.rctl = make([]byte, n*ctlSpace)
}

func (c *Conn) growWrite(n int) {
	c.whdrs = make([]mmsghdr, n)
	c.wiovs = make([]unix.Iovec, n)
}

// ReadBatch reads up to min(len(bufs), len(lens)) frames with one recvmmsg,
// blocking until at least one is there, and stores each frame's length in
// lens. A frame longer than its buffer is cut to the buffer (and then fails
// frame.Parse). After Close it returns an error wrapping net.ErrClosed.
func (c *Conn) ReadBatch(bufs [][]byte, lens []int) (int, error) {
	return c.ReadBatchAux(bufs, lens, nil)
}

// ReadBatchAux is ReadBatch that also fills aux (if not nil) for each frame
// read; the batch is then also limited to len(aux).
func (c *Conn) ReadBatchAux(bufs [][]byte, lens []int, aux []Aux) (int, error) {
	n := min(len(bufs), len(lens))
	if aux != nil {
		n = min(n, len(aux))
	}
	if n == 0 {
		return 0, nil
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.closed.Load() {
		return 0, c.errClosed
	}
	if n > len(c.rhdrs) {
		c.growRead(n)
	}
	for i := range n {
		if len(bufs[i]) == 0 {
			return 0, fmt.Errorf("afpacket read: buffer %d is empty", i)
		}
		c.riovs[i] = unix.Iovec{Base: &bufs[i][0], Len: uint64(len(bufs[i]))}
		h := &c.rhdrs[i]
		h.Hdr = unix.Msghdr{Iov: &c.riovs[i], Iovlen: 1, Control: &c.rctl[i*ctlSpace], Controllen: uint64(ctlSpace)}
		h.Len = 0
	}
	for {
		r, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(c.fd), uintptr(unsafe.Pointer(&c.rhdrs[0])), uintptr(n), 0, 0, 0)
		switch errno {
		case 0:
			got := int(r)
			for i := range got {
				h := &c.rhdrs[i]
				lens[i] = int(h.Len)
				if aux != nil {
					aux[i] = parseAux(c.rctl[i*ctlSpace:i*ctlSpace+int(h.Hdr.Controllen)], int(h.Len))
					aux[i].Truncated = h.Hdr.Flags&unix.MSG_TRUNC != 0
				}
			}
			return got, nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			if err := c.wait(c.rpfd[:]); err != nil {
				return 0, err
			}
		default:
			if c.closed.Load() {
				return 0, c.errClosed
			}
			return 0, fmt.Errorf("afpacket %s: recvmmsg: %w", c.name, errno)
		}
	}
}

// parseAux reads the PACKET_AUXDATA control message, if any.
func parseAux(ctl []byte, n int) Aux {
	a := Aux{OrigLen: n}
	const hdrLen = int(unsafe.Sizeof(unix.Cmsghdr{}))
	for len(ctl) >= hdrLen {
		clen := int(binary.NativeEndian.Uint64(ctl[0:8]))
		level := int32(binary.NativeEndian.Uint32(ctl[8:12]))
		typ := int32(binary.NativeEndian.Uint32(ctl[12:16]))
		if clen < hdrLen || clen > len(ctl) {
			break
		}
		data := ctl[hdrLen:clen]
		if level == unix.SOL_PACKET && typ == unix.PACKET_AUXDATA && len(data) >= int(unsafe.Sizeof(unix.TpacketAuxdata{})) {
			status := binary.NativeEndian.Uint32(data[0:4])
			a.OrigLen = int(binary.NativeEndian.Uint32(data[4:8]))
			if status&unix.TP_STATUS_VLAN_VALID != 0 {
				a.HasVLAN = true
				a.VLAN.TCI = binary.NativeEndian.Uint16(data[16:18])
				a.VLAN.TPID = frame.TPID8021Q
				if status&unix.TP_STATUS_VLAN_TPID_VALID != 0 {
					a.VLAN.TPID = binary.NativeEndian.Uint16(data[18:20])
				}
			}
		}
		next := unix.CmsgSpace(clen - hdrLen)
		if next > len(ctl) {
			break
		}
		ctl = ctl[next:]
	}
	return a
}

// wait polls the socket and the close eventfd; it returns errClosed once
// Close has been called.
func (c *Conn) wait(pfd []unix.PollFd) error {
	for {
		if c.closed.Load() {
			return c.errClosed
		}
		pfd[0].Revents, pfd[1].Revents = 0, 0
		_, err := unix.Poll(pfd, -1)
		if err != nil && err != unix.EINTR {
			return fmt.Errorf("afpacket %s: poll: %w", c.name, err)
		}
		if pfd[1].Revents != 0 || c.closed.Load() {
			return c.errClosed
		}
		if pfd[0].Revents != 0 {
			// Readable/writable, or an error that the next syscall
			// reports.
			return nil
		}
	}
}

// WriteFrame sends one complete Ethernet frame on the interface, waiting for
// buffer space if the socket's send buffer is full.
func (c *Conn) WriteFrame(f []byte) error {
	if len(f) == 0 {
		return errors.New("afpacket write: empty frame")
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	for {
		if c.closed.Load() {
			return c.errClosed
		}
		// A socket bound to an interface needs no destination address.
		_, _, errno := unix.Syscall6(unix.SYS_SENDTO, uintptr(c.fd), uintptr(unsafe.Pointer(&f[0])), uintptr(len(f)), 0, 0, 0)
		switch errno {
		case 0:
			return nil
		case unix.EINTR:
		case unix.EAGAIN:
			if err := c.wait(c.wpfd[:]); err != nil {
				return err
			}
		default:
			return fmt.Errorf("afpacket %s: send: %w", c.name, errno)
		}
	}
}

// WriteBatch sends frames with sendmmsg, as many per system call as the
// kernel takes, and returns how many were sent. It stops at the first frame
// the kernel refuses (for example ENOBUFS when the device queue is full)
// and returns the count before it with the error.
func (c *Conn) WriteBatch(frames [][]byte) (int, error) {
	if len(frames) == 0 {
		return 0, nil
	}
	for i, f := range frames {
		if len(f) == 0 {
			return 0, fmt.Errorf("afpacket write: frame %d is empty", i)
		}
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	sent := 0
	for sent < len(frames) {
		if c.closed.Load() {
			return sent, c.errClosed
		}
		n := min(len(frames)-sent, len(c.whdrs))
		for i := range n {
			f := frames[sent+i]
			c.wiovs[i] = unix.Iovec{Base: &f[0], Len: uint64(len(f))}
			c.whdrs[i] = mmsghdr{Hdr: unix.Msghdr{Iov: &c.wiovs[i], Iovlen: 1}}
		}
		r, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(c.fd), uintptr(unsafe.Pointer(&c.whdrs[0])), uintptr(n), 0, 0, 0)
		switch errno {
		case 0:
			sent += int(r)
		case unix.EINTR:
		case unix.EAGAIN:
			if err := c.wait(c.wpfd[:]); err != nil {
				return sent, err
			}
		default:
			return sent, fmt.Errorf("afpacket %s: sendmmsg: %w", c.name, errno)
		}
	}
	return sent, nil
}

// Stats returns counters since Open, from PACKET_STATISTICS: received counts
// the frames that passed the filter, dropped those of them that found the
// receive buffer full (they are included in received, as in libpcap).
func (c *Conn) Stats() (received, dropped uint64, err error) {
	c.smu.Lock()
	defer c.smu.Unlock()
	if c.closed.Load() {
		return c.statRx, c.statDrop, c.errClosed
	}
	// The kernel zeroes its counters on every read: accumulate them.
	st, err := unix.GetsockoptTpacketStats(c.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err != nil {
		return c.statRx, c.statDrop, fmt.Errorf("afpacket %s: PACKET_STATISTICS: %w", c.name, err)
	}
	c.statRx += uint64(st.Packets)
	c.statDrop += uint64(st.Drops)
	return c.statRx, c.statDrop, nil
}

// Close wakes blocked readers and writers, waits for them to return, and
// closes the socket. Calling it again returns nil.
func (c *Conn) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return nil
	}
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	// The eventfd stays readable: every later poll wakes at once.
	_, werr := unix.Write(c.efd, one[:])
	c.rmu.Lock()
	c.wmu.Lock()
	c.smu.Lock()
	c.imu.Lock()
	defer c.imu.Unlock()
	defer c.smu.Unlock()
	defer c.wmu.Unlock()
	defer c.rmu.Unlock()
	var errs []error
	if werr != nil {
		errs = append(errs, fmt.Errorf("afpacket %s: wake: %w", c.name, werr))
	}
	if err := c.release(); err != nil {
		errs = append(errs, err)
	}
	c.log.Info("afpacket socket closed", "iface", c.name)
	return errors.Join(errs...)
}

// release closes the file descriptors that are open.
func (c *Conn) release() error {
	var errs []error
	if c.fd >= 0 {
		if err := unix.Close(c.fd); err != nil {
			errs = append(errs, fmt.Errorf("afpacket %s: close socket: %w", c.name, err))
		}
		c.fd = -1
	}
	if c.efd >= 0 {
		if err := unix.Close(c.efd); err != nil {
			errs = append(errs, fmt.Errorf("afpacket %s: close eventfd: %w", c.name, err))
		}
		c.efd = -1
	}
	if c.ns.IsOpen() {
		if err := c.ns.Close(); err != nil {
			errs = append(errs, fmt.Errorf("afpacket %s: close namespace handle: %w", c.name, err))
		}
	}
	return errors.Join(errs...)
}
