package fastpath

import (
	"context"
	"errors"
	"math"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cilium/ebpf/link"
	"github.com/insomniacslk/dhcp/dhcpv4"

	"xdhcp/bpf"
	"xdhcp/fastpath/dhcpview"
	"xdhcp/fastpath/leasecache"
	"xdhcp/fastpath/xsk"
	"xdhcp/handoff"
	"xdhcp/internal/lab"
	"xdhcp/internal/testframe"
)

// occupancy is a parking lot whose fill the test sets.
type occupancy struct{ v float64 }

func (o *occupancy) Occupancy() float64 { return o.v }

// overloadRecorder records the levels written to the XDP program, or
// fails every write with err.
type overloadRecorder struct {
	levels []uint32
	err    error
}

func (r *overloadRecorder) SetOverload(queue int, level uint32) error {
	if r.err != nil {
		return r.err
	}
	r.levels = append(r.levels, level)
	return nil
}

// handlerFunc makes a function a handoff.Handler.
type handlerFunc func(*handoff.Packet)

func (f handlerFunc) Enqueue(p *handoff.Packet) { f(p) }

// service is a DHCP service switch.
type service struct{ off atomic.Bool }

func (s *service) Enabled() bool { return !s.off.Load() }

var discard = handlerFunc(func(p *handoff.Packet) { p.Release() })

// TestNewWorker: a worker needs a socket and a handler; watermarks that
// cannot work are replaced by the defaults (0.75, and a third of High).
func TestNewWorker(t *testing.T) {
	if _, err := NewWorker(WorkerConfig{Handler: discard}); err == nil {
		t.Error("worker without a socket accepted")
	}
	if _, err := NewWorker(WorkerConfig{Socket: &xsk.Socket{}}); err == nil {
		t.Error("worker without a handler accepted")
	}
	for _, tc := range []struct{ high, low, wantHigh, wantLow float64 }{
		{0, 0, 0.75, 0},
		{1.5, 0.1, 0.75, 0.1},
		{0.8, 0.9, 0.8, 0.8 / 3},
		{0.6, -1, 0.6, 0.6 / 3},
		{0.9, 0.5, 0.9, 0.5},
	} {
		w, err := NewWorker(WorkerConfig{Socket: &xsk.Socket{}, Handler: discard, High: tc.high, Low: tc.low})
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(w.cfg.High-tc.wantHigh) > 1e-9 || math.Abs(w.cfg.Low-tc.wantLow) > 1e-9 {
			t.Errorf("High %v Low %v became %v %v, want %v %v", tc.high, tc.low, w.cfg.High, w.cfg.Low, tc.wantHigh, tc.wantLow)
		}
	}
}

// TestAdjustOverload: parking-lot occupancy maps to the queue's overload
// level, up at High (1) and halfway from High to full (2), and down to 0
// only at Low: between Low and High the level stays where it was. Only
// changes are written; a failed write leaves the level as it was, to be
// tried again.
func TestAdjustOverload(t *testing.T) {
	load := &occupancy{}
	rec := &overloadRecorder{}
	w, err := NewWorker(WorkerConfig{Socket: &xsk.Socket{}, Handler: discard, Queue: 3, Load: load, Overload: rec, High: 0.6, Low: 0.2})
	if err != nil {
		t.Fatal(err)
	}
	// High 0.6: level 2 from (1+0.6)/2 = 0.8.
	steps := []struct {
		occ  float64
		want uint32
	}{
		{0, 0},
		{0.59, 0}, // below High: nothing to shed
		{0.6, 1},  // at High
		{0.7, 1},  // still below the level-2 mark
		{0.4, 1},  // between Low and High: hysteresis holds 1
		{0.21, 1}, // just above Low
		{0.2, 0},  // at Low: back to 0
		{0.5, 0},  // between Low and High going up: stays 0
		{0.8, 2},  // at the level-2 mark
		{0.65, 2}, // above High: never down to 1 from 2
		{0.3, 2},  // hysteresis holds 2 too
		{0.1, 0},  // below Low: straight to 0
		{1, 2},    // full
		{0.95, 2}, // unchanged: no write
		{0.0, 0},  // empty
		{0.61, 1}, // up again
		{0.61, 1}, // unchanged
		{0.85, 2}, // from 1 to 2
		{0.19, 0}, // from 2 to 0
	}
	var wantWrites []uint32
	prev := uint32(0)
	for i, s := range steps {
		load.v = s.occ
		w.adjustOverload()
		if got := w.Stats.OverloadLevel.Load(); got != s.want {
			t.Fatalf("step %d: occupancy %v gave level %d, want %d", i, s.occ, got, s.want)
		}
		if s.want != prev {
			wantWrites = append(wantWrites, s.want)
		}
		prev = s.want
	}
	if len(rec.levels) != len(wantWrites) {
		t.Fatalf("levels written %v, want %v (changes only)", rec.levels, wantWrites)
	}
	for i := range wantWrites {
		if rec.levels[i] != wantWrites[i] {
			t.Fatalf("levels written %v, want %v", rec.levels, wantWrites)
		}
	}

	// A write that fails keeps the old level, and the next call tries again.
	rec.err = errors.New("map update failed")
	load.v = 1
	w.adjustOverload()
	if got := w.Stats.OverloadLevel.Load(); got != 0 {
		t.Errorf("level %d after a failed write, want 0 kept", got)
	}
	rec.err = nil
	w.adjustOverload()
	if got := w.Stats.OverloadLevel.Load(); got != 2 || rec.levels[len(rec.levels)-1] != 2 {
		t.Errorf("level %d after the write succeeded (written %v), want 2", got, rec.levels)
	}

	// Without a load source or a setter there is nothing to do.
	for _, cfg := range []WorkerConfig{
		{Socket: &xsk.Socket{}, Handler: discard, Load: load},
		{Socket: &xsk.Socket{}, Handler: discard, Overload: rec},
	} {
		w, err := NewWorker(cfg)
		if err != nil {
			t.Fatal(err)
		}
		w.adjustOverload()
		if w.Stats.OverloadLevel.Load() != 0 {
			t.Error("level set without both a load source and a setter")
		}
	}
}

// TestSendQueueFull: Send stamps the interface's MAC as the source, queues
// up to replyQueue replies, and then refuses with ErrReplyQueueFull and
// counts the drop rather than block the slow path.
func TestSendQueueFull(t *testing.T) {
	mac := [6]byte{2, 0, 0, 0, 0, 9}
	w, err := NewWorker(WorkerConfig{Socket: &xsk.Socket{}, Handler: discard, IfMAC: mac})
	if err != nil {
		t.Fatal(err)
	}
	payload := []byte("reply")
	dst := handoff.Meta{DstMAC: [6]byte{2, 0, 0, 0, 0, 7}}
	for i := range replyQueue {
		m := dst
		if err := w.Send(&m, payload); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		if m.SrcMAC != mac {
			t.Fatalf("source MAC %v, want the interface's %v", m.SrcMAC, mac)
		}
	}
	payload[0] = 'X' // the queued copies must not see this
	if err := w.Send(&dst, payload); !errors.Is(err, ErrReplyQueueFull) {
		t.Errorf("send to a full queue: %v, want ErrReplyQueueFull", err)
	}
	if n := w.Stats.SlowDropped.Load(); n != 1 {
		t.Errorf("SlowDropped = %d, want 1", n)
	}
	if r := <-w.replies; string(*r.payload) != "reply" {
		t.Errorf("queued payload %q, want a copy %q", *r.payload, "reply")
	}
}

var (
	wtServer = netip.MustParsePrefix("10.79.0.1/24")
	wtClient = netip.MustParsePrefix("10.79.0.2/24")
)

// workerEnv is a worker serving the server end of a veth in a lab, behind
// the XDP program in generic mode, and a UDP socket on port 68 at the
// client end: the client's own address is its lease.
type workerEnv struct {
	w      *Worker
	cache  *leasecache.Cache
	svc    *service
	handed chan *handoff.Packet
	client *net.UDPConn
	cliMAC [6]byte
}

func newWorkerEnv(t *testing.T) *workerEnv {
	t.Helper()
	e := newIdleWorkerEnv(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- e.w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
	})
	return e
}

// newIdleWorkerEnv is newWorkerEnv with the worker not running, for tests
// that call its methods themselves.
func newIdleWorkerEnv(t *testing.T) *workerEnv {
	t.Helper()
	_, p := lab.PairForTest(t, "fw", "fw-a", wtServer, "fw-b", wtClient)
	srv, cli := p.Server, p.Client
	e := &workerEnv{cache: leasecache.New(16), svc: &service{}, handed: make(chan *handoff.Packet, 8)}
	srvMAC, err := srv.LinkMAC(p.ServerIf)
	if err != nil {
		t.Fatal(err)
	}
	if e.cliMAC, err = cli.LinkMAC(p.ClientIf); err != nil {
		t.Fatal(err)
	}
	objs, err := bpf.Load(bpf.Options{})
	if err != nil {
		t.Skipf("cannot load the XDP program here: %v", err)
	}
	t.Cleanup(func() { objs.Close() })
	var (
		ifindex int
		lk      link.Link
		sock    *xsk.Socket
	)
	if err := srv.Do(func() error {
		ifc, err := net.InterfaceByName(p.ServerIf)
		if err != nil {
			return err
		}
		ifindex = ifc.Index
		if lk, err = objs.Attach(ifindex, bpf.ModeGeneric); err != nil {
			return err
		}
		sock, err = xsk.Open(xsk.Options{Ifindex: ifindex, Queue: 0})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lk.Close() })
	t.Cleanup(func() { sock.Close() })
	if err := objs.RegisterXSK(0, sock.FD()); err != nil {
		t.Fatal(err)
	}
	if err := cli.Do(func() (err error) {
		e.client, err = net.ListenUDP("udp4", &net.UDPAddr{IP: wtClient.Addr().AsSlice(), Port: 68})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.client.Close() })

	e.w, err = NewWorker(WorkerConfig{
		Socket: sock, Queue: 0, CPU: -1, IfIndex: ifindex, IfName: p.ServerIf, IfMAC: srvMAC, IfAddr: wtServer.Addr(),
		Cache: e.cache, Service: e.svc, Handler: handlerFunc(func(p *handoff.Packet) { e.handed <- p }),
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// renewal is a DHCPREQUEST renewing the client's own address.
func (e *workerEnv) renewal(t *testing.T) *dhcpv4.DHCPv4 {
	t.Helper()
	m, err := dhcpv4.New(dhcpv4.WithHwAddr(e.cliMAC[:]), dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
		dhcpv4.WithClientIP(wtClient.Addr().AsSlice()))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// exchange sends m from the client to the server and returns the reply.
func (e *workerEnv) exchange(t *testing.T, m *dhcpv4.DHCPv4) *dhcpv4.DHCPv4 {
	t.Helper()
	if _, err := e.client.WriteToUDP(m.ToBytes(), &net.UDPAddr{IP: wtServer.Addr().AsSlice(), Port: 67}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	e.client.SetReadDeadline(time.Now().Add(3 * time.Second))
	for {
		n, _, err := e.client.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("no reply to %v: %v", m.MessageType(), err)
		}
		r, err := dhcpv4.FromBytes(buf[:n])
		if err != nil {
			t.Fatalf("reply does not parse: %v", err)
		}
		if r.TransactionID == m.TransactionID {
			return r
		}
	}
}

// entry is the cache entry for a lease of the client's address ACKed age
// seconds ago, 3600 s long, reusable for half of it.
func (e *workerEnv) entry(t *testing.T, m *dhcpv4.DHCPv4, age int64) *leasecache.Entry {
	t.Helper()
	var v dhcpview.View
	if err := v.Parse(m.ToBytes()); err != nil {
		t.Fatal(err)
	}
	le := &leasecache.Entry{
		Addr: wtClient.Addr().As4(), HWLen: 6, SubnetID: 1,
		CLTT: time.Now().Unix() - age, ValidLft: 3600, NewValid: 3600, Threshold: 0.5, MaxAge: -1,
		CalcTee: true, T1Pct: 0.5, T2Pct: 0.875,
		ServerID: wtServer.Addr().As4(), Fingerprint: v.Fingerprint(),
		Options: []byte{1, 4, 255, 255, 255, 0},
	}
	copy(le.HW[:], e.cliMAC[:])
	return le
}

// txSettle waits up to a second for the worker to count want transmitted
// frames.
func txSettle(s *WorkerStats, want uint64) {
	for deadline := time.Now().Add(time.Second); s.TxFrames.Load() < want && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
}

// TestWorkerCachedRenewal: a renewal of a cached lease is answered by the
// worker itself, out of its TX ring, with the rest of the lease's
// lifetime; nothing reaches the handler. With the DHCP service off, or
// the lease not in the cache, the renewal goes to the handler instead,
// and the handler's reply goes out through the worker.
func TestWorkerCachedRenewal(t *testing.T) {
	e := newWorkerEnv(t)
	const age = 100
	m := e.renewal(t)
	if err := e.cache.Put(e.entry(t, m, age)); err != nil {
		t.Fatal(err)
	}

	r := e.exchange(t, m)
	if r.MessageType() != dhcpv4.MessageTypeAck || !r.YourIPAddr.Equal(wtClient.Addr().AsSlice()) {
		t.Fatalf("reply %v for %v, want ACK for %v", r.MessageType(), r.YourIPAddr, wtClient.Addr())
	}
	if lt := r.IPAddressLeaseTime(0); lt < (3600-age-2)*time.Second || lt > (3600-age)*time.Second {
		t.Errorf("lease time %v, want the remaining %ds", lt, 3600-age)
	}
	if id := r.ServerIdentifier(); !id.Equal(wtServer.Addr().AsSlice()) {
		t.Errorf("server identifier %v, want %v", id, wtServer.Addr())
	}
	s := &e.w.Stats
	// The worker counts a frame once Transmit returns, which may be after
	// the client has it.
	txSettle(s, 1)
	if s.CacheHits.Load() != 1 || s.Handoffs.Load() != 0 || s.TxFrames.Load() != 1 {
		t.Errorf("cache hits %d, handoffs %d, tx %d; want 1, 0, 1", s.CacheHits.Load(), s.Handoffs.Load(), s.TxFrames.Load())
	}
	select {
	case p := <-e.handed:
		t.Errorf("a cached renewal reached the handler: %+v", p.Meta)
	default:
	}

	// The slow path's turn: it answers through the packet's sender.
	slow := func(t *testing.T, what string) {
		t.Helper()
		m := e.renewal(t)
		go func() {
			p := <-e.handed
			defer p.Release()
			if p.IfName != "fw-a" || p.IfAddr != wtServer.Addr() || !p.Policed || p.Out != e.w {
				t.Errorf("%s: handed-off packet %s %v policed %v out %T, want fw-a %v, policed, the worker", what, p.IfName, p.IfAddr, p.Policed, p.Out, wtServer.Addr())
			}
			req, err := dhcpv4.FromBytes(p.Data)
			if err != nil {
				t.Errorf("%s: handed-off payload: %v", what, err)
				return
			}
			nak, _ := dhcpv4.NewReplyFromRequest(req, dhcpv4.WithMessageType(dhcpv4.MessageTypeNak))
			dst := handoff.Meta{DstMAC: p.Meta.SrcMAC, SrcIP: wtServer.Addr().As4(), DstIP: p.Meta.SrcIP,
				SrcPort: 67, DstPort: 68, TTL: 64}
			if err := p.Out.Send(&dst, nak.ToBytes()); err != nil {
				t.Errorf("%s: send: %v", what, err)
			}
		}()
		if r := e.exchange(t, m); r.MessageType() != dhcpv4.MessageTypeNak {
			t.Errorf("%s: reply %v, want the handler's NAK", what, r.MessageType())
		}
	}
	hits, misses := s.CacheHits.Load(), s.CacheMisses.Load()
	e.svc.off.Store(true)
	slow(t, "service disabled")
	if s.CacheHits.Load() != hits || s.CacheMisses.Load() != misses {
		t.Errorf("service disabled: the cache was looked at (hits %d, misses %d)", s.CacheHits.Load(), s.CacheMisses.Load())
	}
	e.svc.off.Store(false)
	e.cache.Delete(wtClient.Addr().As4())
	slow(t, "not cached")
	if s.CacheMisses.Load() != misses+1 {
		t.Errorf("cache misses %d, want %d", s.CacheMisses.Load(), misses+1)
	}
	txSettle(s, 3)
	if s.Handoffs.Load() != 2 || s.SlowReplies.Load() != 2 || s.TxFrames.Load() != 3 {
		t.Errorf("handoffs %d, slow replies %d, tx %d; want 2, 2, 3", s.Handoffs.Load(), s.SlowReplies.Load(), s.TxFrames.Load())
	}
	if n := e.w.PacketsOutstanding(); n != 0 {
		t.Errorf("%d packets outstanding after the handler released them", n)
	}
}

// cachedRenewal caches a lease for e's client and returns its renewal as
// the fast path receives it.
func (e *workerEnv) cachedRenewal(t *testing.T) (handoff.Meta, []byte) {
	t.Helper()
	m := e.renewal(t)
	if err := e.cache.Put(e.entry(t, m, 10)); err != nil {
		t.Fatal(err)
	}
	src := handoff.Meta{SrcMAC: e.cliMAC, DstMAC: e.w.cfg.IfMAC, SrcIP: wtClient.Addr().As4(), DstIP: wtServer.Addr().As4(),
		SrcPort: 68, DstPort: 67, TTL: 64}
	_, meta, payload, err := testframe.Arrived(src, m.ToBytes())
	if err != nil {
		t.Fatal(err)
	}
	return meta, payload
}

// TestWorkerAnswerAllocs: answering a cached renewal allocates nothing:
// the reply is built straight into a TX frame.
func TestWorkerAnswerAllocs(t *testing.T) {
	e := newIdleWorkerEnv(t)
	meta, payload := e.cachedRenewal(t)
	var view dhcpview.View
	now := time.Now().Unix()
	sock := e.w.cfg.Socket
	allocs := testing.AllocsPerRun(200, func() {
		d, ok := e.w.answer(&view, payload, &meta, now)
		if !ok {
			t.Fatal("cached renewal not answered")
		}
		sock.Release(d.Addr)
	})
	if allocs != 0 {
		t.Errorf("answer allocates %.1f times per renewal, want 0", allocs)
	}
}
