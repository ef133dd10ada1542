package xsk

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Defaults of Options.
const (
	DefaultFrameSize = 2048
	DefaultNumFrames = 4096
	DefaultRingSize  = 2048
	// MaxRingSize bounds the ring sizes; far above anything useful, it
	// keeps the mmap lengths well inside 32 bits.
	MaxRingSize = 1 << 20
	// minFrameSize is the kernel's XDP_UMEM_MIN_CHUNK_SIZE; the largest
	// frame (aligned mode) is the page size.
	minFrameSize = 2048
	// copyTxBudget is how many descriptors one sendto sends in copy mode
	// (the kernel's default TX skb budget); it sizes the kick loop.
	copyTxBudget = 32
	// busyRetryStart and busyRetryMax bound how long Open retries bind
	// on a queue that is still busy with a closed socket: the sleeps
	// double from 5 ms and stop after one over 320 ms (about 1.3 s in all).
	busyRetryStart = 5 * time.Millisecond
	busyRetryMax   = 320 * time.Millisecond
)

// Modes reported by Socket.Mode.
const (
	ModeCopy     = "copy"
	ModeZeroCopy = "zerocopy"
)

// Errors. The per-packet methods return these sentinels as they are, so the
// hot path never formats or allocates an error.
var (
	// ErrBadOption: Open was given options that cannot work.
	ErrBadOption = errors.New("xsk: invalid option")
	// ErrClosed: the socket is closed.
	ErrClosed = fmt.Errorf("xsk: %w", net.ErrClosed)
	// ErrNotOwned: Release or Transmit of a frame the caller does not hold
	// (never received or taken, already released, or already queued).
	ErrNotOwned = errors.New("xsk: frame not owned by the caller")
	// ErrBadDesc: a TX descriptor with length 0 or running past the end
	// of its frame.
	ErrBadDesc = errors.New("xsk: descriptor outside its frame")
	// ErrTxFull: the TX ring stayed full; descriptors from the returned
	// count on were not queued and still belong to the caller.
	ErrTxFull = errors.New("xsk: tx ring full")
)

// Options configure Open. The zero value of every size means its default.
type Options struct {
	// Ifindex and Queue name the interface and receive queue to bind to;
	// the ifindex is looked up in the network namespace of the calling
	// thread.
	Ifindex, Queue int
	// FrameSize is the size of one UMEM frame: a power of two from 2048
	// to the page size (default 2048). A frame holds one packet after the
	// kernel's 256-byte headroom.
	FrameSize int
	// NumFrames is the number of frames in the UMEM (default 4096, so
	// 8 MiB). Half of them are put in the fill ring; the rest serve TX
	// and frames the caller holds.
	NumFrames int
	// RxSize, TxSize, FillSize and CompSize are the ring sizes in
	// descriptors: powers of two up to MaxRingSize (default 2048 each).
	// The fill ring must hold half the frames.
	RxSize, TxSize, FillSize, CompSize int
	// ZeroCopy asks for XDP_ZEROCOPY and falls back to XDP_COPY when the
	// driver refuses it (EOPNOTSUPP or EINVAL); Mode tells which one was
	// granted. Without it the socket binds in copy mode.
	ZeroCopy bool
	// DisableNeedWakeup turns off XDP_USE_NEED_WAKEUP (on by default):
	// with it the kernel says when it needs a syscall to make progress on
	// the fill and TX rings, and otherwise Transmit and Receive skip the
	// syscall. It is a negative so that the zero value is the default.
	DisableNeedWakeup bool
	// Logger receives open and close events, never per-packet ones (nil
	// discards them).
	Logger *slog.Logger
}

// withDefaults returns o with the defaults filled in, or the joined list of
// what is wrong with it.
func (o Options) withDefaults() (Options, error) {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.FrameSize, DefaultFrameSize)
	def(&o.NumFrames, DefaultNumFrames)
	def(&o.RxSize, DefaultRingSize)
	def(&o.TxSize, DefaultRingSize)
	def(&o.FillSize, DefaultRingSize)
	def(&o.CompSize, DefaultRingSize)

	var errs []error
	if o.Ifindex <= 0 {
		errs = append(errs, fmt.Errorf("%w: Ifindex %d", ErrBadOption, o.Ifindex))
	}
	if o.Queue < 0 {
		errs = append(errs, fmt.Errorf("%w: Queue %d", ErrBadOption, o.Queue))
	}
	page := os.Getpagesize()
	if !isPow2(o.FrameSize) || o.FrameSize < minFrameSize || o.FrameSize > page {
		errs = append(errs, fmt.Errorf("%w: FrameSize %d (want a power of two from %d to %d)",
			ErrBadOption, o.FrameSize, minFrameSize, page))
	}
	// Two frames at least: one for the fill ring, one for TX. The upper
	// bound keeps the UMEM length (and frame addresses) inside int.
	if o.NumFrames < 2 || o.NumFrames > 1<<24 {
		errs = append(errs, fmt.Errorf("%w: NumFrames %d (want 2..%d)", ErrBadOption, o.NumFrames, 1<<24))
	}
	for _, r := range []struct {
		name string
		v    int
	}{{"RxSize", o.RxSize}, {"TxSize", o.TxSize}, {"FillSize", o.FillSize}, {"CompSize", o.CompSize}} {
		if !isPow2(r.v) || r.v > MaxRingSize {
			errs = append(errs, fmt.Errorf("%w: %s %d (want a power of two up to %d)", ErrBadOption, r.name, r.v, MaxRingSize))
		}
	}
	if isPow2(o.FillSize) && o.NumFrames/2 > o.FillSize {
		errs = append(errs, fmt.Errorf("%w: FillSize %d cannot hold half of NumFrames %d", ErrBadOption, o.FillSize, o.NumFrames))
	}
	return o, errors.Join(errs...)
}

func isPow2(v int) bool { return v > 0 && v&(v-1) == 0 }

// Desc is one packet in the UMEM: Addr is its offset in the UMEM, Len its
// length in bytes.
type Desc struct {
	Addr uint64
	Len  uint32
}

// Socket is an AF_XDP socket bound to one (interface, queue), with its own
// UMEM. See the package documentation for which goroutine may call what.
type Socket struct {
	fd         int
	opts       Options
	zc         bool
	needWakeup bool
	log        *slog.Logger

	u          *umem
	rx, tx     *ring[unix.XDPDesc]
	fill, comp *ring[uint64]
	fillTarget int
	pfd        [1]unix.PollFd

	closed atomic.Bool
	mu     sync.RWMutex // Close (write) against Stats (read): the fd must stay valid for getsockopt

	ctr counters
}

// Open creates the socket, its UMEM and rings, puts half the frames in the
// fill ring and binds to opts.Ifindex and opts.Queue.
//
// Open must run on an OS thread inside the interface's network namespace
// (lock the goroutine to its thread and enter the namespace, as lab.NS.Do
// does). The socket keeps that namespace: afterwards it works from any
// goroutine. If the queue is still held by a socket closed a moment ago, Open
// retries bind for about a second before it reports EBUSY. Register FD with
// the XDP program (bpf.Objects.RegisterXSK) to receive anything.
func Open(opts Options) (*Socket, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if o.ZeroCopy {
		s, bindFailed, err := open(o, log, unix.XDP_ZEROCOPY)
		if err == nil {
			return s, nil
		}
		if !bindFailed || !(errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EINVAL)) {
			return nil, err
		}
		// Drivers without zero-copy support (veth, most virtual NICs)
		// refuse the bind; copy mode works everywhere XDP does.
		log.Info("af_xdp zero copy refused, falling back to copy mode",
			"ifindex", o.Ifindex, "queue", o.Queue, "err", err)
	}
	s, _, err := open(o, log, unix.XDP_COPY)
	return s, err
}

// open builds a socket bound with the given mode flag. bindFailed tells
// whether the failure came from bind (the only step zero copy can fail).
func open(o Options, log *slog.Logger, modeFlag uint16) (_ *Socket, bindFailed bool, err error) {
	s := &Socket{fd: -1, opts: o, needWakeup: !o.DisableNeedWakeup, log: log}
	defer func() {
		if err != nil {
			err = errors.Join(err, s.release())
		}
	}()
	where := fmt.Sprintf("ifindex %d queue %d", o.Ifindex, o.Queue)

	if s.u, err = newUMEM(o.NumFrames, o.FrameSize); err != nil {
		return nil, false, fmt.Errorf("af_xdp %s: %w", where, err)
	}
	s.fd, err = unix.Socket(unix.AF_XDP, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, false, fmt.Errorf("af_xdp %s: socket: %w", where, err)
	}
	if err := s.u.register(s.fd); err != nil {
		return nil, false, fmt.Errorf("af_xdp %s: %w", where, err)
	}
	for _, r := range []struct {
		opt  int
		name string
		size int
	}{
		{unix.XDP_UMEM_FILL_RING, "fill", o.FillSize},
		{unix.XDP_UMEM_COMPLETION_RING, "completion", o.CompSize},
		{unix.XDP_RX_RING, "rx", o.RxSize},
		{unix.XDP_TX_RING, "tx", o.TxSize},
	} {
		if err := unix.SetsockoptInt(s.fd, unix.SOL_XDP, r.opt, r.size); err != nil {
			return nil, false, fmt.Errorf("af_xdp %s: size %s ring to %d: %w", where, r.name, r.size, err)
		}
	}

	// No typed getsockopt for XDP_MMAP_OFFSETS in x/sys/unix either.
	var off unix.XDPMmapOffsets
	optlen := uint32(unsafe.Sizeof(off))
	if _, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(s.fd), unix.SOL_XDP, unix.XDP_MMAP_OFFSETS,
		uintptr(unsafe.Pointer(&off)), uintptr(unsafe.Pointer(&optlen)), 0); errno != 0 {
		return nil, false, fmt.Errorf("af_xdp %s: XDP_MMAP_OFFSETS: %w", where, errno)
	}
	if optlen != uint32(unsafe.Sizeof(off)) {
		// Only pre-5.4 kernels answer the shorter layout without the
		// flags word, and they have no need-wakeup either.
		return nil, false, fmt.Errorf("af_xdp %s: XDP_MMAP_OFFSETS returned %d bytes, want %d (kernel too old)",
			where, optlen, unsafe.Sizeof(off))
	}
	if s.fill, err = mapRing[uint64](s.fd, unix.XDP_UMEM_PGOFF_FILL_RING, off.Fr, uint32(o.FillSize), true); err != nil {
		return nil, false, fmt.Errorf("af_xdp %s: fill ring: %w", where, err)
	}
	if s.comp, err = mapRing[uint64](s.fd, unix.XDP_UMEM_PGOFF_COMPLETION_RING, off.Cr, uint32(o.CompSize), false); err != nil {
		return nil, false, fmt.Errorf("af_xdp %s: completion ring: %w", where, err)
	}
	if s.rx, err = mapRing[unix.XDPDesc](s.fd, unix.XDP_PGOFF_RX_RING, off.Rx, uint32(o.RxSize), false); err != nil {
		return nil, false, fmt.Errorf("af_xdp %s: rx ring: %w", where, err)
	}
	if s.tx, err = mapRing[unix.XDPDesc](s.fd, unix.XDP_PGOFF_TX_RING, off.Tx, uint32(o.TxSize), true); err != nil {
		return nil, false, fmt.Errorf("af_xdp %s: tx ring: %w", where, err)
	}

	// The fill ring must hold frames before bind: the first packet may
	// arrive as soon as the socket is bound and registered.
	s.fillTarget = o.NumFrames / 2
	if n := s.Refill(); n != s.fillTarget {
		return nil, false, fmt.Errorf("af_xdp %s: filled %d of %d frames into the fill ring", where, n, s.fillTarget)
	}

	flags := modeFlag
	if s.needWakeup {
		flags |= unix.XDP_USE_NEED_WAKEUP
	}
	sa := &unix.SockaddrXDP{Flags: flags, Ifindex: uint32(o.Ifindex), QueueID: uint32(o.Queue)}
	for wait := busyRetryStart; ; wait *= 2 {
		err = unix.Bind(s.fd, sa)
		if err != unix.EBUSY || wait > busyRetryMax {
			break
		}
		// A socket closed on this queue a moment ago is released by a
		// kernel work item after close(2) returns; until then the queue
		// is busy. A live socket on the queue keeps it busy for good.
		time.Sleep(wait)
	}
	if err != nil {
		return nil, true, fmt.Errorf("af_xdp %s: bind (%s): %w", where, modeName(modeFlag), err)
	}
	// Ask the kernel what it granted instead of trusting the request.
	xopts, err := unix.GetsockoptInt(s.fd, unix.SOL_XDP, unix.XDP_OPTIONS)
	if err != nil {
		return nil, false, fmt.Errorf("af_xdp %s: XDP_OPTIONS: %w", where, err)
	}
	s.zc = xopts&unix.XDP_OPTIONS_ZEROCOPY != 0
	s.pfd[0] = unix.PollFd{Fd: int32(s.fd), Events: unix.POLLIN}
	log.Info("af_xdp socket open", "ifindex", o.Ifindex, "queue", o.Queue, "mode", s.Mode(),
		"need_wakeup", s.needWakeup, "frames", o.NumFrames, "frame_size", o.FrameSize,
		"rx", o.RxSize, "tx", o.TxSize, "fill", o.FillSize, "comp", o.CompSize)
	return s, false, nil
}

func modeName(flag uint16) string {
	if flag == unix.XDP_ZEROCOPY {
		return ModeZeroCopy
	}
	return ModeCopy
}

// FD is the socket's file descriptor, for bpf.Objects.RegisterXSK. It stays
// owned by the socket and is meaningless after Close.
func (s *Socket) FD() int { return s.fd }

// Mode is "zerocopy" or "copy", as granted by the kernel.
func (s *Socket) Mode() string {
	if s.zc {
		return ModeZeroCopy
	}
	return ModeCopy
}

// FrameSize is the size of one UMEM frame.
func (s *Socket) FrameSize() int { return s.opts.FrameSize }

// NumFrames is the number of frames in the UMEM.
func (s *Socket) NumFrames() int { return s.opts.NumFrames }

// FreeFrames is the number of frames on the socket's free list (neither in
// a ring nor held by the caller). Owner only.
func (s *Socket) FreeFrames() int {
	if s.closed.Load() {
		return 0
	}
	return len(s.u.free)
}

// Receive moves up to len(descs) received packets from the RX ring into
// descs and returns how many; it never blocks (use Poll to wait). The
// caller owns each returned frame until it Releases or Transmits it.
// Receive also tops up the fill ring, and when nothing was received and the
// kernel asks for it (need-wakeup on the fill ring), wakes the driver with
// a non-blocking recvfrom.
func (s *Socket) Receive(descs []Desc) int {
	if s.closed.Load() {
		return 0
	}
	n := min(s.rx.available(), uint32(min(len(descs), MaxRingSize)))
	got := 0
	for i := range n {
		d := s.rx.peek(i)
		idx, ok := s.u.frame(d.Addr)
		if !ok || s.u.owner[idx] != ownKernelRX {
			// The kernel handed back an address we never gave it: a
			// kernel or bookkeeping bug, counted, never delivered.
			s.ctr.ownership.Add(1)
			continue
		}
		s.u.owner[idx] = ownCaller
		s.u.inFill--
		descs[got] = Desc{Addr: d.Addr, Len: d.Len}
		got++
	}
	if n > 0 {
		s.rx.release(n)
		s.ctr.rx.Add(uint64(got))
	}
	s.Refill()
	if got == 0 && s.needWakeup && s.fill.needWakeup() {
		// Raw, as the TX kick: it never blocks.
		unix.RawSyscall6(unix.SYS_RECVFROM, uintptr(s.fd), 0, 0, unix.MSG_DONTWAIT, 0, 0)
		s.ctr.rxWakeups.Add(1)
	}
	return got
}

// Frame returns the packet d as a view into the UMEM, without copying: its
// length is d.Len and its capacity runs to the end of the frame, so a reply
// may be built in place and longer than the request. It returns nil for a
// descriptor outside the UMEM or its frame. The view is valid while the
// caller owns the frame.
func (s *Socket) Frame(d Desc) []byte {
	if s.closed.Load() {
		return nil
	}
	idx, ok := s.u.frame(d.Addr)
	if !ok {
		return nil
	}
	end := uint64(idx+1) << s.u.shift
	if d.Addr+uint64(d.Len) > end {
		return nil
	}
	return s.u.mem[d.Addr : d.Addr+uint64(d.Len) : end]
}

// Release gives frames the caller owns back to the socket's free list: RX
// frames it is done with, and TX frames from GetTxFrame it did not send.
// Any address inside a frame names the frame. It returns ErrNotOwned (and
// skips the address) for a frame the caller does not hold.
func (s *Socket) Release(addrs ...uint64) error {
	if s.closed.Load() {
		return ErrClosed
	}
	var err error
	for _, a := range addrs {
		idx, ok := s.u.frame(a)
		if !ok || s.u.owner[idx] != ownCaller {
			s.ctr.ownership.Add(1)
			err = ErrNotOwned
			continue
		}
		s.u.push(idx)
	}
	return err
}

// Refill moves frames from the free list into the fill ring until the
// kernel holds half the UMEM for RX again (or the free list or the ring
// runs out), and returns how many it moved. Receive and Poll call it; call
// it directly after releasing many frames without receiving.
func (s *Socket) Refill() int {
	if s.closed.Load() {
		return 0
	}
	n := min(s.fillTarget-s.u.inFill, len(s.u.free), int(s.fill.free()))
	if n <= 0 {
		return 0
	}
	for i := range n {
		a, _ := s.u.pop()
		s.u.owner[a>>s.u.shift] = ownKernelRX
		*s.fill.slot(uint32(i)) = a
	}
	s.fill.submit(uint32(n))
	s.u.inFill += n
	return n
}

// Poll waits up to timeout (negative: forever) for packets in the RX ring
// and reports whether there are some. It tops up the fill ring first, and
// returns at once if packets are already waiting. poll(2) on an AF_XDP
// socket also wakes the driver when the kernel asks for it (need-wakeup)
// and, in copy mode, sends what is queued in the TX ring.
func (s *Socket) Poll(timeout time.Duration) (readable bool, err error) {
	if s.closed.Load() {
		return false, ErrClosed
	}
	s.Refill()
	if s.rx.available() > 0 {
		return true, nil
	}
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	ms := -1
	if timeout >= 0 {
		ms = int((timeout + time.Millisecond - 1) / time.Millisecond)
	}
	for {
		s.pfd[0].Revents = 0
		_, err := unix.Poll(s.pfd[:], ms)
		if err == unix.EINTR {
			// Go's preemption signals interrupt poll; wait out the rest.
			if timeout > 0 {
				left := time.Until(deadline)
				if left <= 0 {
					break
				}
				ms = int((left + time.Millisecond - 1) / time.Millisecond)
			}
			continue
		}
		if err != nil {
			return false, fmt.Errorf("af_xdp poll: %w", err)
		}
		break
	}
	if s.pfd[0].Revents&unix.POLLNVAL != 0 {
		return false, ErrClosed
	}
	return s.rx.available() > 0, nil
}

// GetTxFrame takes a free frame to build a packet in: addr is its UMEM
// address and buf the whole frame. The caller owns it until it passes
// Desc{Addr: addr, Len: n} to Transmit, or Releases it. ok is false when no
// frame is free even after reaping the completion ring.
func (s *Socket) GetTxFrame() (addr uint64, buf []byte, ok bool) {
	if s.closed.Load() {
		return 0, nil, false
	}
	if len(s.u.free) == 0 {
		s.reap()
	}
	a, ok := s.u.pop()
	if !ok {
		return 0, nil, false
	}
	s.u.owner[a>>s.u.shift] = ownCaller
	return a, s.u.mem[a : a+s.u.frameSize : a+s.u.frameSize], true
}

// Transmit queues descs on the TX ring and kicks the kernel to send them,
// then reaps the completion ring into the free list. Each descriptor must
// name a frame the caller owns (from Receive or GetTxFrame) and lie inside
// it; the frames belong to the kernel from then on. If one does not, none
// is queued and the result is 0 with ErrNotOwned or ErrBadDesc.
//
// In copy mode each kick sends at most 32 descriptors, so Transmit kicks in
// a loop, reaping completions in between, with a bound on the number of
// kicks; descriptors still in the ring at the end go out on a later kick
// (any Transmit, even Transmit(nil), or Poll). When the ring stays full it
// returns the number queued with ErrTxFull, and the rest still belong to
// the caller. A failed kick returns a *KickError.
func (s *Socket) Transmit(descs []Desc) (int, error) {
	if s.closed.Load() {
		return 0, ErrClosed
	}
	s.reap()
	if err := s.claimTx(descs); err != nil {
		return 0, err
	}
	queued := 0
	var kerr error
	for stalls := 0; queued < len(descs); {
		n := min(int(s.tx.free()), len(descs)-queued)
		if n == 0 {
			// The kernel has not consumed the ring yet: kick, reap,
			// and give up after a few rounds without room.
			if stalls++; stalls > 4 {
				break
			}
			if kerr = s.kick(); kerr != nil {
				break
			}
			continue
		}
		for i := range n {
			d := &descs[queued+i]
			*s.tx.slot(uint32(i)) = unix.XDPDesc{Addr: d.Addr, Len: d.Len}
		}
		s.tx.submit(uint32(n))
		queued += n
	}
	s.ctr.tx.Add(uint64(queued))
	if queued < len(descs) {
		for i := queued; i < len(descs); i++ {
			idx, _ := s.u.frame(descs[i].Addr)
			s.u.owner[idx] = ownCaller
		}
		if kerr != nil {
			return queued, kerr
		}
		return queued, ErrTxFull
	}
	if err := s.kick(); err != nil {
		return queued, err
	}
	return queued, nil
}

// claimTx checks that the caller owns every frame of descs and marks them
// as the kernel's; on failure it undoes the marks. A frame named twice in
// the batch fails the second time.
func (s *Socket) claimTx(descs []Desc) error {
	for i := range descs {
		d := &descs[i]
		idx, ok := s.u.frame(d.Addr)
		var err error
		switch {
		case !ok || s.u.owner[idx] != ownCaller:
			err = ErrNotOwned
		case d.Len == 0 || d.Addr+uint64(d.Len) > uint64(idx+1)<<s.u.shift:
			err = ErrBadDesc
		}
		if err != nil {
			for j := range i {
				k, _ := s.u.frame(descs[j].Addr)
				s.u.owner[k] = ownCaller
			}
			s.ctr.ownership.Add(1)
			return err
		}
		s.u.owner[idx] = ownKernelTX
	}
	return nil
}

// kick makes the kernel process the TX ring. In copy mode sendto transmits
// synchronously, at most copyTxBudget descriptors per call, answering
// EAGAIN (budget spent, completion ring full, device busy) or EBUSY (a
// frame was dropped by the device) while descriptors are left: loop, reaping
// completions, a bounded number of times. In zero-copy mode sendto only
// schedules the driver, so one call (when the kernel asks for it) is all.
func (s *Socket) kick() error {
	pending := s.tx.outstanding()
	limit := 2*(int(pending)/copyTxBudget+1) + 16
	for range limit {
		if s.tx.outstanding() == 0 {
			s.reap()
			return nil
		}
		if s.needWakeup && !s.tx.needWakeup() {
			// The driver is busy with the ring and will see the new
			// descriptors by itself (zero copy; copy mode keeps the
			// flag set).
			s.reap()
			return nil
		}
		// Raw: the kick never blocks (MSG_DONTWAIT), and a call the
		// runtime is told of wakes its monitor thread on an idle server,
		// which then polls every 20 µs: thread switches on the core that
		// serves the packets.
		_, _, errno := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(s.fd), 0, 0, unix.MSG_DONTWAIT, 0, 0)
		s.ctr.txKicks.Add(1)
		s.reap()
		switch errno {
		case 0:
			if s.zc {
				return nil
			}
		case unix.EAGAIN, unix.EBUSY, unix.ENOBUFS, unix.EINTR:
			s.ctr.txRetries.Add(1)
		default:
			return &KickError{Errno: errno}
		}
	}
	if s.tx.outstanding() > 0 {
		s.ctr.txStalls.Add(1)
	}
	return nil
}

// KickError is a TX kick (sendto) that failed for a reason other than a
// full queue, such as ENETDOWN when the interface is down or ENXIO when it
// is gone. The descriptors stay queued.
type KickError struct{ Errno unix.Errno }

func (e *KickError) Error() string { return "xsk: tx kick: " + e.Errno.Error() }

// Unwrap returns the errno.
func (e *KickError) Unwrap() error { return e.Errno }

// reap moves completed TX frames from the completion ring to the free list.
func (s *Socket) reap() int {
	n := s.comp.available()
	if n == 0 {
		return 0
	}
	for i := range n {
		idx, ok := s.u.frame(*s.comp.peek(i))
		if !ok || s.u.owner[idx] != ownKernelTX {
			s.ctr.ownership.Add(1)
			continue
		}
		s.u.push(idx)
	}
	s.comp.release(n)
	s.ctr.txCompleted.Add(uint64(n))
	return int(n)
}

// Close closes the socket and unmaps its rings and UMEM. Call it once the
// owner goroutine has stopped using the socket; it may run on any
// goroutine, and calls after the first return nil. Closing the socket also
// removes it from the XSKMAP. The kernel frees the queue for another socket
// shortly after Close returns, from a work item; Open waits for that.
func (s *Socket) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	err := s.release()
	s.log.Info("af_xdp socket closed", "ifindex", s.opts.Ifindex, "queue", s.opts.Queue)
	return err
}

// release closes the fd and unmaps whatever Open got to. The fd goes first,
// so the kernel has stopped writing to the rings before they disappear.
func (s *Socket) release() error {
	var errs []error
	if s.fd >= 0 {
		if err := unix.Close(s.fd); err != nil {
			errs = append(errs, fmt.Errorf("close af_xdp socket: %w", err))
		}
	}
	for _, r := range []struct {
		name  string
		unmap func() error
	}{{"rx", s.rx.unmap}, {"tx", s.tx.unmap}, {"fill", s.fill.unmap}, {"completion", s.comp.unmap}, {"umem", s.u.unmap}} {
		if err := r.unmap(); err != nil {
			errs = append(errs, fmt.Errorf("unmap af_xdp %s: %w", r.name, err))
		}
	}
	return errors.Join(errs...)
}
