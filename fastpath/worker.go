package fastpath

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"xdhcp/fastpath/dhcpview"
	"xdhcp/fastpath/frame"
	"xdhcp/fastpath/leasecache"
	"xdhcp/fastpath/xsk"
	"xdhcp/handoff"
	"xdhcp/hooks"
	"xdhcp/internal/stats"
)

// OverloadSetter writes a queue's overload level into the XDP program
// (bpf.Objects implements it).
type OverloadSetter interface {
	SetOverload(queue int, level uint32) error
}

// Occupancy reports how full the parking lot in front of the slow path is,
// from 0 to 1 (slowpath.Server implements it).
type Occupancy interface {
	Occupancy() float64
}

// Service says whether DHCP service is enabled (Kea's network state):
// while dhcp-disable, an HA sync or a failed lease store has it off, the
// fast path answers nothing either and leaves the packet to the slow
// path, which drops it and counts nothing, as Kea does.
type Service interface {
	Enabled() bool
}

// WorkerConfig wires one worker to its queue.
type WorkerConfig struct {
	Socket  *xsk.Socket
	Queue   int
	CPU     int // CPU to pin the worker's thread to; -1 = no pinning
	IfIndex int
	IfName  string
	IfMAC   [6]byte
	IfAddr  netip.Addr
	// Cache answers renewals; nil sends every request to the handler.
	Cache   *leasecache.Cache
	Handler handoff.Handler
	// Handler6 takes the DHCPv6 messages the XDP program steers to the
	// socket (when it is loaded with DHCPv6); nil drops them, counted in
	// RxMalformed6. Cache6 answers DHCPv6 Renews and Rebinds; nil sends
	// them to Handler6. IfLinkLocal is the interface's link-local address,
	// the source of the Replies the worker builds (zero: Cache6 unused).
	Handler6    handoff.Handler6
	Cache6      *leasecache.Cache6
	IfLinkLocal [16]byte
	// Service6 gates the cached DHCPv6 answers as Service does the
	// DHCPv4 ones (the DHCPv6 server's own network state); nil means
	// always enabled.
	Service6 Service
	// Service gates cached answers; nil means always enabled.
	Service Service
	// Events is told of each renewal answered from the cache (forensic
	// logging, run-script, lease log lines); nil tells nothing. Events6
	// is told of the DHCPv6 ones. The worker holds replies for the one
	// Flusher among them: Events if it is one, else Events6.
	Events  hooks.Listener
	Events6 hooks.Listener6
	// Load and Overload drive the XDP overload level; either may be nil.
	Load     Occupancy
	Overload OverloadSetter
	// NextHop addresses replies to relays (giaddr) by the routing table;
	// nil: such replies fail (ErrNoNextHop) and relayed renewals go to the
	// slow path.
	NextHop NextHop
	// High and Low are the occupancy watermarks: level 1 at High, level 2
	// halfway between High and full, back to 0 only at Low (hysteresis).
	High, Low float64
	Log       *slog.Logger
}

// WorkerStats are one worker's counters: written by the worker alone,
// read by the metrics scraper. Padded so two workers' counters never share
// a cache line.
type WorkerStats struct {
	RxFrames, RxMalformed    atomic.Uint64
	CacheHits, CacheMisses   atomic.Uint64
	Handoffs                 atomic.Uint64
	TxFrames, TxErrors       atomic.Uint64
	SlowReplies, SlowDropped atomic.Uint64
	// KernelReplies are replies to relays sent through the kernel (the
	// route leaves by another interface, or the relay's MAC is not known
	// yet).
	KernelReplies atomic.Uint64
	OverloadLevel atomic.Uint32
	// DHCPv6: frames received, frames not parsed (or with no handler),
	// Renews/Rebinds answered from Cache6 or not, messages handed to
	// Handler6, and the engine's Replies sent.
	RxFrames6, RxMalformed6  atomic.Uint64
	CacheHits6, CacheMisses6 atomic.Uint64
	Handoffs6, SlowReplies6  atomic.Uint64
	_                        [64]byte
}

// Worker owns one AF_XDP socket: it answers cached renewals itself and
// hands everything else to the slow path, whose replies it transmits.
type Worker struct {
	cfg   WorkerConfig
	Stats WorkerStats

	replies chan slowReply
	// waiter parks the worker in Go's network poller while its RX ring is
	// empty (nil: poll(2) in a loop, when the socket cannot be polled
	// that way); asleep says it is parked, so that Send wakes it.
	waiter *waiter
	asleep atomic.Bool
	// waitReady is wait's test between polls, made once (a closure made
	// per wait would be allocated per wait); waitRx and waitN are its
	// receive buffer and count.
	waitReady func() bool
	waitRx    []xsk.Desc
	waitN     int
	// bufs holds the copies of queued slow-path payloads (*[]byte), so
	// that the slow path may reuse its buffer once Send returns.
	bufs sync.Pool
	// packets are the handoffs to the slow path, which releases them.
	packets handoff.PacketPool
	level   uint32

	// flusher is cfg.Events when it holds cached renewals' events (the
	// forensic log); held are the replies waiting for its sync.
	flusher     hooks.Flusher
	held        []heldReply
	heldDropLog time.Time
	ev          cachedEvent
	// told are the points of a cached renewal that cfg.Events handles
	// (see tellCached).
	told []hooks.Point
	// v6 is the worker's DHCPv6 scratch, allocated once.
	v6 v6State
}

type slowReply struct {
	meta    handoff.Meta
	payload *[]byte
	// v6 says meta6 describes the reply (a DHCPv6 one), not meta.
	v6    bool
	meta6 handoff.Meta6
}

// replyBufSize fits any reply a frame can carry without a grow.
const replyBufSize = 1536

// ErrReplyQueueFull is returned by Send when the worker's reply queue is
// full; the reply is dropped and counted.
var ErrReplyQueueFull = errors.New("fastpath: reply queue full")

// replyQueue bounds the slow-path replies waiting for this worker's TX
// ring; a slow path that outruns the ring gets an error, never a block.
const replyQueue = 4096

// idleWait bounds a wait for packets, so that the overload level and the
// TX ring are looked at even when nothing arrives.
const idleWait = 10 * time.Millisecond

// maxHops is RFC 1542 §4.1.1's limit on relay hops; beyond it the request
// is looping between relays.
const maxHops = 16

// NewWorker checks cfg and returns a worker; Run starts it.
func NewWorker(cfg WorkerConfig) (*Worker, error) {
	if cfg.Socket == nil || cfg.Handler == nil {
		return nil, errors.New("fastpath: worker needs a socket and a handler")
	}
	if cfg.High <= 0 || cfg.High > 1 {
		cfg.High = 0.75
	}
	if cfg.Low < 0 || cfg.Low >= cfg.High {
		cfg.Low = cfg.High / 3
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	w := &Worker{cfg: cfg, replies: make(chan slowReply, replyQueue)}
	w.listen(cfg.Events, cfg.Events6)
	w.bufs.New = func() any {
		b := make([]byte, 0, replyBufSize)
		return &b
	}
	return w, nil
}

// listen sets the listeners the worker tells of its cached renewals: the
// points of a renewal they handle, and the one that holds events until
// Flush, if any.
func (w *Worker) listen(events hooks.Listener, events6 hooks.Listener6) {
	w.cfg.Events, w.cfg.Events6, w.told = events, events6, nil
	if events != nil {
		// Kea's points of a renewal, lease4_renew then leases4_committed.
		for _, p := range [...]hooks.Point{hooks.Lease4Renew, hooks.Leases4Committed} {
			if hooks.Wants(events, p) {
				w.told = append(w.told, p)
			}
		}
	}
	w.flusher, _ = events.(hooks.Flusher)
	if w.flusher == nil {
		w.flusher, _ = events6.(hooks.Flusher)
	}
}

// PacketsOutstanding is the number of packets this worker handed to the
// slow path that it has not released yet (queued or in process).
func (w *Worker) PacketsOutstanding() int64 { return w.packets.Outstanding() }

// Labels name the worker's interface and queue, for per-queue series.
func (w *Worker) Labels() []stats.Label {
	return []stats.Label{{Name: "iface", Value: w.cfg.IfName}, {Name: "queue", Value: strconv.Itoa(w.cfg.Queue)}}
}

// Send queues a copy of a slow-path reply for transmission on this
// worker's queue. Safe from any goroutine.
func (w *Worker) Send(dst *handoff.Meta, payload []byte) error {
	dst.SrcMAC = w.cfg.IfMAC
	if kernel, err := route(w.cfg.NextHop, dst, payload); kernel {
		if err != nil {
			w.Stats.SlowDropped.Add(1)
			return err
		}
		w.Stats.KernelReplies.Add(1)
		return nil
	}
	return w.queue(slowReply{meta: *dst}, payload)
}

// queue hands r, with a copy of payload, to the worker's TX loop.
func (w *Worker) queue(r slowReply, payload []byte) error {
	bp := w.bufs.Get().(*[]byte)
	*bp = append((*bp)[:0], payload...)
	r.payload = bp
	select {
	case w.replies <- r:
		w.wakeUp()
		return nil
	default:
		w.bufs.Put(bp)
		w.Stats.SlowDropped.Add(1)
		return ErrReplyQueueFull
	}
}

// wakeUp ends the worker's wait for packets, if it waits. Safe from any
// goroutine.
func (w *Worker) wakeUp() {
	if w.asleep.Load() && w.asleep.CompareAndSwap(true, false) {
		w.waiter.wake()
	}
}

// Run is the worker loop. When cfg.CPU is set it locks itself to an OS
// thread pinned to that CPU. It returns when ctx ends.
//
// Between packets the worker waits in Go's network poller, not in a
// blocking poll(2): a goroutine blocked in a system call keeps its P
// until sysmon takes it back (up to 10 ms when the process has been
// idle), and with GOMAXPROCS=1 (a server pinned to one core) the slow
// path's workers could not run meanwhile; the parking lot then filled in
// bursts and the XDP program shed DISCOVERs at a fraction of capacity.
func (w *Worker) Run(ctx context.Context) error {
	if w.cfg.CPU >= 0 {
		// Not unlocked: the thread ends with the worker, rather than go
		// back to the runtime pinned to one CPU, where other goroutines
		// (and what reads the process's CPUs) would inherit the pinning.
		runtime.LockOSThread()
		var set unix.CPUSet
		set.Set(w.cfg.CPU)
		if err := unix.SchedSetaffinity(0, &set); err != nil {
			w.cfg.Log.Warn("cannot pin fastpath worker", "queue", w.cfg.Queue, "cpu", w.cfg.CPU, "err", err)
		}
	}
	wt, err := newWaiter(w.cfg.Socket.FD())
	if err != nil {
		w.cfg.Log.Info("AF_XDP socket not pollable by the runtime: the worker polls", "queue", w.cfg.Queue, "err", err)
	} else {
		w.waiter = wt
		defer wt.close()
		stop := context.AfterFunc(ctx, wt.wake)
		defer stop()
	}
	if w.flusher != nil {
		// A sync that lets held replies leave wakes the worker, as Send.
		defer w.flusher.OnSynced(w.wakeUp)()
	}
	const batch = 64
	var (
		sock  = w.cfg.Socket
		rx    = make([]xsk.Desc, batch)
		tx    = make([]xsk.Desc, 0, batch+replyQueue)
		meta  handoff.Meta
		meta6 handoff.Meta6
		view  dhcpview.View
	)
	// handed counts the packets handed to the slow path since the worker
	// last yielded.
	handed := 0
	for ctx.Err() == nil {
		n := sock.Receive(rx)
		if n == 0 && handed > 0 {
			// The ring is drained: let the slow path take what was
			// handed over before waiting (on one P it runs only when
			// this goroutine lets it); its replies leave in the next
			// round.
			handed = 0
			runtime.Gosched()
			continue
		}
		if n == 0 {
			tx = w.slowReplies(tx[:0])
			tx = w.releaseHeld(tx, time.Now())
			w.transmit(tx)
			w.adjustOverload()
			if n, err = w.wait(rx); err != nil {
				return fmt.Errorf("wait on xsk queue %d: %w", w.cfg.Queue, err)
			}
			if n == 0 {
				continue
			}
		}
		now := time.Now() // one clock read per batch
		unixNow := now.Unix()
		tx = tx[:0]
		answered := false
		for _, d := range rx[:n] {
			w.Stats.RxFrames.Add(1)
			buf := sock.Frame(d)
			payload, err := frame.Parse(buf, &meta)
			if errors.Is(err, frame.ErrNotIPv4) {
				out, ok, slow := w.receive6(buf, &meta6, now, unixNow)
				if ok {
					tx = append(tx, out)
					answered = true
				}
				if slow {
					handed++
				}
				sock.Release(d.Addr)
				continue
			}
			if err != nil || meta.DstPort != 67 {
				w.Stats.RxMalformed.Add(1)
				sock.Release(d.Addr)
				continue
			}
			if out, ok := w.answer(&view, payload, &meta, unixNow); ok {
				tx = append(tx, out)
				answered = true
				sock.Release(d.Addr)
				continue
			}
			p := w.packets.Get()
			p.IfIndex, p.IfName, p.IfAddr, p.IfMAC = w.cfg.IfIndex, w.cfg.IfName, w.cfg.IfAddr, w.cfg.IfMAC
			p.Meta, p.Out, p.Received, p.Policed = meta, w, now, true
			p.SetData(payload)
			w.cfg.Handler.Enqueue(p)
			w.Stats.Handoffs.Add(1)
			handed++
			sock.Release(d.Addr)
		}
		held := len(w.held)
		if answered {
			tx = w.flushEvents(tx, now)
		}
		tx = w.slowReplies(tx)
		tx = w.releaseHeld(tx, now)
		w.transmit(tx)
		w.adjustOverload()
		switch {
		case len(w.held) > held:
			// Replies wait for a sync just asked for: let the log's
			// syncer start it now (on one P it runs only when this
			// goroutine lets it), so that the device works while this
			// worker goes on with the next batch.
			handed = 0
			runtime.Gosched()
		case handed >= maxHanded:
			// A ring that refills as fast as it drains: yield anyway,
			// or the slow path would wait for the runtime's preemption
			// and its queue would overflow.
			handed = 0
			runtime.Gosched()
		}
	}
	return nil
}

// maxHanded bounds the packets the worker hands to the slow path before
// it yields even though its ring is not empty. On one P (a server confined
// to one core) the worker drains its ring before the slow path runs, so
// that cached renewals are answered however busy the slow path is, and
// yields then; the bound keeps a ring that never empties from starving the
// slow path, and turn-taking from overflowing its queue: the slow path's
// workers serve up to 64 packets each per turn.
const maxHanded = 128

// wait blocks until packets arrive (received into rx, their count
// returned), a slow-path reply is queued, ctx ends, or idleWait passes.
func (w *Worker) wait(rx []xsk.Desc) (int, error) {
	sock := w.cfg.Socket
	if w.waiter == nil {
		if _, err := sock.Poll(time.Millisecond); err != nil && !errors.Is(err, unix.EINTR) {
			return 0, err
		}
		return 0, nil
	}
	// The deadline is set before the worker says it sleeps: a Send that
	// sees it asleep moves the deadline to the past after this, and so
	// wins.
	if err := w.waiter.arm(idleWait); err != nil {
		return 0, err
	}
	w.asleep.Store(true)
	if len(w.replies) > 0 || (w.flusher != nil && w.heldReady()) {
		w.asleep.Store(false)
		return 0, nil
	}
	if w.waitReady == nil {
		w.waitReady = func() bool {
			if w.waitN = w.cfg.Socket.Receive(w.waitRx); w.waitN > 0 {
				return true
			}
			return !w.asleep.Load() // woken by Send or by the end of ctx
		}
	}
	w.waitRx, w.waitN = rx, 0
	err := w.waiter.wait(w.waitReady)
	w.asleep.Store(false)
	w.waitRx = nil
	if errors.Is(err, os.ErrDeadlineExceeded) {
		err = nil
	}
	return w.waitN, err
}

// waiter waits for an AF_XDP socket to become readable in Go's network
// poller (epoll), which hands the goroutine's P to other goroutines while
// it waits, on a duplicate of the socket's descriptor: the os.File owns
// and closes the duplicate, the xsk.Socket its own descriptor.
type waiter struct {
	f  *os.File
	rc syscall.RawConn
}

func newWaiter(fd int) (*waiter, error) {
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("dup xsk fd: %w", err)
	}
	// Non-blocking is what makes os.NewFile register it with the poller;
	// the socket's own calls (recvfrom, sendto) are MSG_DONTWAIT anyway.
	if err := unix.SetNonblock(dup, true); err != nil {
		unix.Close(dup)
		return nil, fmt.Errorf("set xsk fd non-blocking: %w", err)
	}
	f := os.NewFile(uintptr(dup), "xsk")
	if err := f.SetReadDeadline(time.Time{}); err != nil {
		f.Close()
		return nil, fmt.Errorf("xsk fd in the runtime poller: %w", err)
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("xsk raw conn: %w", err)
	}
	return &waiter{f: f, rc: rc}, nil
}

// arm sets the deadline of the next wait.
func (t *waiter) arm(d time.Duration) error { return t.f.SetReadDeadline(time.Now().Add(d)) }

// wait calls ready until it returns true, waiting for the socket to
// become readable in between; it returns os.ErrDeadlineExceeded when the
// deadline passes or wake is called.
func (t *waiter) wait(ready func() bool) error {
	return t.rc.Read(func(uintptr) bool { return ready() })
}

// wake ends a wait in progress (or the next one) at once.
func (t *waiter) wake() { t.f.SetReadDeadline(time.Unix(1, 0)) }

func (t *waiter) close() { t.f.Close() }

// answer builds the ACK for a renewal whose lease the cache may reuse.
// It allocates nothing: the reply goes straight into a TX frame.
func (w *Worker) answer(v *dhcpview.View, payload []byte, meta *handoff.Meta, now int64) (xsk.Desc, bool) {
	c := w.cfg.Cache
	if c == nil || (w.cfg.Service != nil && !w.cfg.Service.Enabled()) || v.Parse(payload) != nil || !v.IsRenewal() {
		return xsk.Desc{}, false
	}
	if v.Hops() > maxHops {
		// A relay loop: the slow path drops it and counts why.
		return xsk.Desc{}, false
	}
	// A relayed renewal is answered here only when it came by unicast
	// from giaddr itself and the relay's next hop is known; the slow path
	// checks every other relay (see slowpath's relay trust) and resolves.
	var relayMAC [6]byte
	if g := v.Giaddr(); g != [4]byte{} {
		var ok bool
		if meta.SrcIP != g || meta.DstIP == [4]byte{255, 255, 255, 255} || w.cfg.NextHop == nil {
			return xsk.Desc{}, false
		}
		if relayMAC, ok = w.cfg.NextHop.Lookup(g); !ok {
			return xsk.Desc{}, false
		}
	}
	e, ok := c.Lookup(v.Ciaddr())
	if !ok {
		w.Stats.CacheMisses.Add(1)
		return xsk.Desc{}, false
	}
	remaining, ok := leasecache.Reusable(e, v, now)
	if !ok {
		w.Stats.CacheMisses.Add(1)
		return xsk.Desc{}, false
	}
	addr, buf, ok := w.cfg.Socket.GetTxFrame()
	if !ok {
		w.Stats.TxErrors.Add(1)
		return xsk.Desc{}, false
	}
	n, err := leasecache.BuildACK(buf, v, meta, e, remaining, w.cfg.IfMAC)
	if err != nil {
		w.cfg.Socket.Release(addr)
		w.Stats.TxErrors.Add(1)
		return xsk.Desc{}, false
	}
	if relayMAC != ([6]byte{}) {
		copy(buf[:6], relayMAC[:]) // the Ethernet destination: the relay's next hop, not the frame's source
	}
	w.Stats.CacheHits.Add(1)
	if len(w.told) > 0 {
		// The ACK's DHCP message ends the frame (it is never padded).
		w.tellCached(payload, buf[n-leasecache.ACKLen(e):n], meta, e, remaining, now)
	}
	return xsk.Desc{Addr: addr, Len: uint32(n)}, true
}

// slowReplies moves queued slow-path replies into TX frames.
func (w *Worker) slowReplies(tx []xsk.Desc) []xsk.Desc {
	for {
		select {
		case r := <-w.replies:
			addr, buf, ok := w.cfg.Socket.GetTxFrame()
			if !ok {
				w.bufs.Put(r.payload)
				w.Stats.SlowDropped.Add(1)
				continue
			}
			var n int
			var err error
			if r.v6 {
				n, err = frame.Build6(buf, &r.meta6, *r.payload)
			} else {
				n, err = frame.Build(buf, &r.meta, *r.payload)
			}
			w.bufs.Put(r.payload)
			if err != nil {
				w.cfg.Socket.Release(addr)
				w.Stats.SlowDropped.Add(1)
				continue
			}
			if r.v6 {
				w.Stats.SlowReplies6.Add(1)
			} else {
				w.Stats.SlowReplies.Add(1)
			}
			tx = append(tx, xsk.Desc{Addr: addr, Len: uint32(n)})
		default:
			return tx
		}
	}
}

func (w *Worker) transmit(tx []xsk.Desc) {
	if len(tx) == 0 {
		return
	}
	sent, err := w.cfg.Socket.Transmit(tx)
	w.Stats.TxFrames.Add(uint64(sent))
	if err != nil {
		w.Stats.TxErrors.Add(uint64(len(tx) - sent))
		if sent < len(tx) {
			w.cfg.Socket.Release(addrs(tx[sent:])...)
		}
	}
}

func addrs(ds []xsk.Desc) []uint64 {
	out := make([]uint64, len(ds))
	for i, d := range ds {
		out[i] = d.Addr
	}
	return out
}

// adjustOverload maps parking-lot occupancy to the queue's XDP overload
// level with hysteresis: up at the high watermarks, down only at Low.
func (w *Worker) adjustOverload() {
	if w.cfg.Load == nil || w.cfg.Overload == nil {
		return
	}
	occ := w.cfg.Load.Occupancy()
	level := w.level
	switch {
	case occ >= (1+w.cfg.High)/2:
		level = 2
	case occ >= w.cfg.High:
		level = max(level, 1)
	case occ <= w.cfg.Low:
		level = 0
	}
	if level == w.level {
		return
	}
	if err := w.cfg.Overload.SetOverload(w.cfg.Queue, level); err != nil {
		w.cfg.Log.Warn("set overload level", "queue", w.cfg.Queue, "err", err)
		return
	}
	w.cfg.Log.Info("overload level changed", "queue", w.cfg.Queue, "from", w.level, "to", level, "occupancy", occ)
	w.level = level
	w.Stats.OverloadLevel.Store(level)
}
