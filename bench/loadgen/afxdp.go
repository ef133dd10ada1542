package loadgen

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"xdhcp/fastpath/dhcpview"
	"xdhcp/fastpath/xsk"
)

// XDPSocket is the AF_XDP transport: one AF_XDP socket per receive queue
// of the client-side interface (copy mode on veth, zero copy where the
// driver has it), fed by a small XDP program (xdp_rx.go) that redirects
// the replies, UDP to ListenPort, to the socket of their queue. Requests
// leave through the socket of queue 0. The generator's engine reads replies
// in place in the UMEM and builds requests straight into TX frames; the
// Transport methods (copying) serve Flood and other callers.
//
// Every method takes one mutex, per batch, so that the engine and a Flood
// may share the socket (a queue takes one AF_XDP socket at a time). Close
// detaches the program.
type XDPSocket struct {
	iface string
	mac   [6]byte
	mode  string // XDP attach mode: native or generic
	rx    *rxProgram
	lnk   link.Link

	mu sync.Mutex
	// xs transmits and receives on queue 0; socks has one socket per
	// receive queue, xs first.
	xs    *xsk.Socket
	socks []*xsk.Socket
	pfds  []unix.PollFd
	descs []xsk.Desc
	addrs []uint64
	// rxDescs and rxAddrs belong to recv (the engine goroutine).
	rxDescs []xsk.Desc
	rxAddrs []uint64
	txd     []xsk.Desc
	ctr     xdpCounters
}

// xdpCounters are the transport's own TX and RX counts (under mu).
type xdpCounters struct {
	txAttempted, txSent, txDropped uint64
}

var _ Transport = (*XDPSocket)(nil)

// XDPOptions tune OpenXDP; the zero value is usable.
type XDPOptions struct {
	// ListenPort is the UDP destination port of the replies: 68
	// (default) for clients, 67 for relay mode.
	ListenPort uint16
	// Frames is the UMEM size in frames (default 8192: 16 MiB, half for
	// RX and half for TX).
	Frames int
	// ZeroCopy asks for zero copy (falls back to copy mode).
	ZeroCopy bool
	// Logger receives open and close events (nil discards them).
	Logger *slog.Logger
}

// xdpBatch is the most frames the engine moves per ring operation.
const xdpBatch = 256

// maxXDPQueues bounds the sockets OpenXDP opens, one per receive queue.
const maxXDPQueues = 64

// OpenXDP opens the AF_XDP transport on ifname. Like OpenSocket it must run
// on an OS thread inside the interface's namespace; afterwards it works
// from any goroutine. A veth has as many receive queues as it was created
// with and delivers a frame on the queue of the CPU that sent it, so there
// is a socket on every queue (at most maxXDPQueues).
func OpenXDP(ifname string, opts XDPOptions) (_ *XDPSocket, err error) {
	port := opts.ListenPort
	if port == 0 {
		port = dhcpview.ClientPort
	}
	frames := opts.Frames
	if frames == 0 {
		frames = 8192
	}
	attrs, err := ethernetAttrs(ifname)
	if err != nil {
		return nil, fmt.Errorf("loadgen af_xdp: %w", err)
	}
	queues := max(attrs.NumRxQueues, 1)
	if queues > maxXDPQueues {
		return nil, fmt.Errorf("loadgen af_xdp: %s has %d receive queues, more than the %d the generator binds", ifname, queues, maxXDPQueues)
	}
	s := &XDPSocket{iface: ifname, mac: [6]byte(attrs.HardwareAddr),
		descs: make([]xsk.Desc, xdpBatch), rxDescs: make([]xsk.Desc, xdpBatch), rxAddrs: make([]uint64, 0, xdpBatch), addrs: make([]uint64, 0, xdpBatch), txd: make([]xsk.Desc, 0, xdpBatch)}
	defer func() {
		if err != nil {
			err = errors.Join(err, s.Close())
		}
	}()
	if s.rx, err = newRxProgram(queues, port, xdpPass); err != nil {
		return nil, fmt.Errorf("loadgen af_xdp %s: %w", ifname, err)
	}
	if s.lnk, s.mode, err = s.rx.attach(attrs.Index); err != nil {
		return nil, fmt.Errorf("loadgen af_xdp %s: %w", ifname, err)
	}
	for q := range queues {
		n := frames
		if q > 0 {
			n = 4096 // receive only
		}
		xs, err := xsk.Open(xsk.Options{Ifindex: attrs.Index, Queue: q, NumFrames: n, FillSize: max(n/2, xsk.DefaultRingSize),
			RxSize: 4096, TxSize: 4096, CompSize: 4096, ZeroCopy: opts.ZeroCopy, Logger: opts.Logger})
		if err != nil && q > 0 && errors.Is(err, unix.EINVAL) {
			// Netlink reports the queues the device was allocated
			// with; bind refuses those past the ones in use (a veth
			// uses one unless created or set with more).
			break
		}
		if err != nil {
			return nil, fmt.Errorf("loadgen af_xdp %s: %w", ifname, err)
		}
		s.socks = append(s.socks, xs)
		s.pfds = append(s.pfds, unix.PollFd{Fd: int32(xs.FD()), Events: unix.POLLIN})
		if err := s.rx.xsks.Put(uint32(q), uint32(xs.FD())); err != nil {
			return nil, fmt.Errorf("loadgen af_xdp %s: register socket of queue %d: %w", ifname, q, err)
		}
	}
	s.xs = s.socks[0]
	return s, nil
}

// Mode is the XDP attach mode ("native" or "generic") and the socket's
// mode ("copy" or "zerocopy"), e.g. "native/copy".
func (s *XDPSocket) Mode() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.xs == nil {
		return s.mode
	}
	return s.mode + "/" + s.xs.Mode()
}

// MAC returns the interface's hardware address.
func (s *XDPSocket) MAC() [6]byte { return s.mac }

// recv hands each received frame to fn in place (valid only during the
// call) and releases the frames; it never blocks. It returns the count.
// The lock is not held while fn runs: fn may transmit (txFrames), and the
// frames it reads belong to the caller until released.
func (s *XDPSocket) recv(fn func(b []byte)) (int, error) {
	s.mu.Lock()
	socks := s.socks
	s.mu.Unlock()
	if socks == nil {
		return 0, xsk.ErrClosed
	}
	total := 0
	for _, xs := range socks {
		s.mu.Lock()
		n := xs.Receive(s.rxDescs)
		s.mu.Unlock()
		if n == 0 {
			continue
		}
		s.rxAddrs = s.rxAddrs[:0]
		for _, d := range s.rxDescs[:n] {
			if b := xs.Frame(d); b != nil {
				fn(b)
			}
			s.rxAddrs = append(s.rxAddrs, d.Addr)
		}
		// The frames came from Receive, so Release cannot refuse them.
		s.mu.Lock()
		_ = xs.Release(s.rxAddrs...)
		s.mu.Unlock()
		total += n
	}
	return total, nil
}

// wait blocks until replies are waiting or d has passed.
func (s *XDPSocket) wait(d time.Duration) error {
	// Poll(0) tops up the fill ring, which only the lock holder may
	// touch; the sleep itself is a plain poll(2) on the fd, without the
	// lock, so a Flood sharing the socket is not held up.
	s.mu.Lock()
	if s.xs == nil {
		s.mu.Unlock()
		return xsk.ErrClosed
	}
	ready := false
	for _, xs := range s.socks {
		r, err := xs.Poll(0)
		if err != nil {
			s.mu.Unlock()
			return err
		}
		ready = ready || r
	}
	pfds := s.pfds
	s.mu.Unlock()
	if ready || d <= 0 {
		return nil
	}
	// pfds is only written here, by the engine goroutine.
	for i := range pfds {
		pfds[i].Revents = 0
	}
	ms := int((d + time.Millisecond - 1) / time.Millisecond)
	if _, err := unix.Poll(pfds, ms); err != nil && err != unix.EINTR {
		return fmt.Errorf("loadgen af_xdp %s: poll: %w", s.iface, err)
	}
	return nil
}

// txFrames fills bufs with up to len(bufs) free TX frames (whole frames)
// and returns how many; the caller builds into them and passes their
// lengths to sendFrames in the same order.
func (s *XDPSocket) txFrames(bufs [][]byte) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.xs == nil {
		return 0
	}
	n := 0
	s.txd = s.txd[:0]
	for n < len(bufs) {
		a, b, ok := s.xs.GetTxFrame()
		if !ok {
			break
		}
		bufs[n] = b
		s.txd = append(s.txd, xsk.Desc{Addr: a})
		n++
	}
	return n
}

// sendFrames transmits the first len(lens) frames of the last txFrames
// with those lengths (a zero length returns the frame unsent), and gives
// back the rest. It returns the frames the TX ring took; frames it could
// not take are counted dropped.
func (s *XDPSocket) sendFrames(lens []int) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.xs == nil {
		return 0, xsk.ErrClosed
	}
	descs := s.txd[:0]
	s.addrs = s.addrs[:0]
	for i, d := range s.txd {
		if i < len(lens) && lens[i] > 0 {
			descs = append(descs, xsk.Desc{Addr: d.Addr, Len: uint32(lens[i])})
		} else {
			s.addrs = append(s.addrs, d.Addr)
		}
	}
	s.txd = s.txd[:0]
	if len(s.addrs) > 0 {
		_ = s.xs.Release(s.addrs...)
	}
	return s.transmitLocked(descs)
}

// transmitLocked queues descs and counts; a full ring gives the rest back.
func (s *XDPSocket) transmitLocked(descs []xsk.Desc) (int, error) {
	s.ctr.txAttempted += uint64(len(descs))
	n, err := s.xs.Transmit(descs)
	s.ctr.txSent += uint64(n)
	if n < len(descs) {
		s.ctr.txDropped += uint64(len(descs) - n)
		s.addrs = s.addrs[:0]
		for _, d := range descs[n:] {
			s.addrs = append(s.addrs, d.Addr)
		}
		_ = s.xs.Release(s.addrs...)
	}
	if errors.Is(err, xsk.ErrTxFull) {
		// A full ring is the sender's limit, counted, not a failure.
		err = nil
	}
	return n, err
}

// ReadBatch implements Transport: it copies up to len(bufs) frames, waiting
// at most 100 ms for the first.
func (s *XDPSocket) ReadBatch(bufs [][]byte, lens []int) (int, error) {
	max := min(len(bufs), len(lens), xdpBatch)
	if max == 0 {
		return 0, nil
	}
	if err := s.wait(readTimeout); err != nil {
		return 0, err
	}
	got := 0
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.xs == nil {
		return 0, xsk.ErrClosed
	}
	for _, xs := range s.socks {
		n := xs.Receive(s.descs[:max-got])
		s.addrs = s.addrs[:0]
		for _, d := range s.descs[:n] {
			if b := xs.Frame(d); b != nil {
				lens[got] = copy(bufs[got], b)
				got++
			}
			s.addrs = append(s.addrs, d.Addr)
		}
		_ = xs.Release(s.addrs...)
		if got == max {
			break
		}
	}
	return got, nil
}

// WriteBatch implements Transport: it copies the frames into TX frames and
// transmits them. Frames for which no TX frame is free, or that the ring
// does not take, are not sent and counted dropped.
func (s *XDPSocket) WriteBatch(frames [][]byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.xs == nil {
		return 0, xsk.ErrClosed
	}
	sent := 0
	for len(frames) > 0 {
		descs := s.descs[:0]
		for _, f := range frames[:min(len(frames), xdpBatch)] {
			a, b, ok := s.xs.GetTxFrame()
			if !ok {
				break
			}
			descs = append(descs, xsk.Desc{Addr: a, Len: uint32(copy(b, f))})
		}
		if len(descs) == 0 {
			s.ctr.txAttempted += uint64(len(frames))
			s.ctr.txDropped += uint64(len(frames))
			return sent, nil
		}
		n, err := s.transmitLocked(descs)
		sent += n
		frames = frames[len(descs):]
		if err != nil || n < len(descs) {
			s.ctr.txAttempted += uint64(len(frames))
			s.ctr.txDropped += uint64(len(frames))
			return sent, err
		}
	}
	return sent, nil
}

// xdpStats is a snapshot of the transport's counters.
type xdpStats struct {
	txAttempted, txSent, txDropped uint64
	sock                           xsk.Statistics
}

func (s *XDPSocket) stats() (xdpStats, error) {
	s.mu.Lock()
	st := xdpStats{txAttempted: s.ctr.txAttempted, txSent: s.ctr.txSent, txDropped: s.ctr.txDropped}
	socks := s.socks
	s.mu.Unlock()
	var errs []error
	for _, xs := range socks {
		k, err := xs.Stats()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		a := &st.sock
		a.RxDropped += k.RxDropped
		a.RxInvalidDescs += k.RxInvalidDescs
		a.TxInvalidDescs += k.TxInvalidDescs
		a.RxRingFull += k.RxRingFull
		a.RxFillRingEmptyDescs += k.RxFillRingEmptyDescs
		a.TxRingEmptyDescs += k.TxRingEmptyDescs
		a.Rx += k.Rx
		a.Tx += k.Tx
		a.TxCompleted += k.TxCompleted
		a.TxKicks += k.TxKicks
		a.TxRetries += k.TxRetries
		a.TxStalls += k.TxStalls
		a.RxWakeups += k.RxWakeups
		a.OwnershipErrors += k.OwnershipErrors
	}
	return st, errors.Join(errs...)
}

// Stats implements Transport: frames received, and frames the kernel
// dropped (RX ring full, or otherwise dropped per XDP_STATISTICS).
func (s *XDPSocket) Stats() (received, dropped uint64, err error) {
	st, err := s.stats()
	if err != nil {
		return 0, 0, fmt.Errorf("loadgen af_xdp %s: %w", s.iface, err)
	}
	return st.sock.Rx, st.sock.RxRingFull + st.sock.RxDropped, nil
}

// Close detaches the program and closes the socket; it is idempotent.
func (s *XDPSocket) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	if s.lnk != nil {
		errs = append(errs, s.lnk.Close())
		s.lnk = nil
	}
	for _, xs := range s.socks {
		errs = append(errs, xs.Close())
	}
	s.xs, s.socks = nil, nil
	if s.rx != nil {
		errs = append(errs, s.rx.close())
		s.rx = nil
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("loadgen af_xdp %s: close: %w", s.iface, err)
	}
	return nil
}

// Transport kinds for OpenTransport (the -transport flag).
const (
	// TransportAuto tries AF_XDP and falls back to AF_PACKET, logging why.
	TransportAuto = "auto"
	// TransportAFXDP is AF_XDP only (OpenXDP).
	TransportAFXDP = "afxdp"
	// TransportAFPacket is AF_PACKET with sendmmsg/recvmmsg (OpenSocket).
	TransportAFPacket = "afpacket"
)

// TransportOptions tune OpenTransport.
type TransportOptions struct {
	// Kind is TransportAuto (default), TransportAFXDP or
	// TransportAFPacket.
	Kind string
	// ListenPort is the UDP port of the replies (68, or 67 for a relay).
	ListenPort uint16
	// Socket and XDP tune the two transports; their ListenPort is taken
	// from ListenPort when zero.
	Socket SocketOptions
	XDP    XDPOptions
	// Logger receives the fallback reason (nil discards it).
	Logger *slog.Logger
}

// OpenTransport opens the generator's transport on ifname. Like OpenSocket
// it must run on an OS thread inside the interface's namespace.
func OpenTransport(ifname string, o TransportOptions) (Transport, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if o.Socket.ListenPort == 0 {
		o.Socket.ListenPort = o.ListenPort
	}
	if o.XDP.ListenPort == 0 {
		o.XDP.ListenPort = o.ListenPort
	}
	if o.XDP.Logger == nil {
		o.XDP.Logger = o.Logger
	}
	switch o.Kind {
	case TransportAFPacket:
		return OpenSocket(ifname, o.Socket)
	case TransportAFXDP:
		return OpenXDP(ifname, o.XDP)
	case "", TransportAuto:
		x, err := OpenXDP(ifname, o.XDP)
		if err == nil {
			log.Info("loadgen transport", "iface", ifname, "transport", "af_xdp", "mode", x.Mode())
			return x, nil
		}
		log.Warn("loadgen transport: AF_XDP unavailable, using AF_PACKET", "iface", ifname, "reason", err)
		return OpenSocket(ifname, o.Socket)
	}
	return nil, fmt.Errorf("loadgen transport %q: want auto, afxdp or afpacket", o.Kind)
}
