package fastpath

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"xdhcp/fastpath/dhcpview"
	"xdhcp/hooks"
)

// syncingListener stands for the forensic log: it keeps what it needs of
// the events it is told, and its records are durable when the test says.
type syncingListener struct {
	mu       sync.Mutex
	points   []hooks.Point
	respType byte // the told reply's message type
	ticket   atomic.Uint64
	synced   atomic.Uint64
	notify   atomic.Pointer[func()]
}

func (l *syncingListener) LeaseEvent(e *hooks.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.points) < 8 { // no growth past the first exchanges (AllocsPerRun)
		l.points = append(l.points, e.Point)
	}
	var p hooks.Packet
	if e.Response != nil && p.Parse(e.Response, "", nil) == nil && p.Op == 2 {
		l.respType = p.MsgType
	}
}

func (l *syncingListener) Flush() uint64  { return l.ticket.Add(1) }
func (l *syncingListener) Synced() uint64 { return l.synced.Load() }
func (l *syncingListener) OnSynced(f func()) func() {
	l.notify.Store(&f)
	return func() { l.notify.Store(nil) }
}

// sync makes every ticket so far durable and tells the worker.
func (l *syncingListener) sync() {
	l.synced.Store(l.ticket.Load())
	if f := l.notify.Load(); f != nil {
		(*f)()
	}
}

// TestWorkerHoldsCachedRepliesUntilSynced: with a listener whose records
// must be durable before the reply, a cached renewal's ACK leaves only
// once the listener's sync reaches the batch's ticket; the listener is
// told lease4_renew and leases4_committed with the ACK as the response.
func TestWorkerHoldsCachedRepliesUntilSynced(t *testing.T) {
	e := newIdleWorkerEnv(t)
	l := &syncingListener{}
	e.w.listen(l, nil)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- e.w.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
	}()
	m := e.renewal(t)
	if err := e.cache.Put(e.entry(t, m, 10)); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		l.sync()
	}()
	t0 := time.Now()
	r := e.exchange(t, m)
	if r.MessageType() != dhcpv4.MessageTypeAck {
		t.Fatalf("reply %v, want ACK", r.MessageType())
	}
	if d := time.Since(t0); d < 250*time.Millisecond {
		t.Errorf("the ACK left after %v, before its record was synced", d)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.points) != 2 || l.points[0] != hooks.Lease4Renew || l.points[1] != hooks.Leases4Committed {
		t.Errorf("told %v, want lease4_renew, leases4_committed", l.points)
	}
	if l.respType != dhcpview.MsgAck {
		t.Errorf("the told response's message type is %d, want the ACK", l.respType)
	}
}

// TestWorkerAnswerAllocsWithEvents: telling listeners of a cached renewal
// allocates nothing either.
func TestWorkerAnswerAllocsWithEvents(t *testing.T) {
	e := newIdleWorkerEnv(t)
	l := &syncingListener{}
	e.w.listen(l, nil)
	meta, payload := e.cachedRenewal(t)
	var view dhcpview.View
	now := time.Now().Unix()
	allocs := testing.AllocsPerRun(200, func() {
		d, ok := e.w.answer(&view, payload, &meta, now)
		if !ok {
			t.Fatal("cached renewal not answered")
		}
		e.w.cfg.Socket.Release(d.Addr)
	})
	if allocs != 0 {
		t.Errorf("answer with listeners allocates %.1f times per renewal, want 0", allocs)
	}
	if l.respType != dhcpview.MsgAck {
		t.Errorf("the told response's message type is %d, want the ACK", l.respType)
	}
}

// committedOnly is a syncingListener that handles leases4_committed only
// (hooks.Interest), as the forensic log does.
type committedOnly struct{ syncingListener }

func (*committedOnly) Wants(p hooks.Point) bool { return p == hooks.Leases4Committed }

// A cached renewal tells its listeners only the points they handle; with
// none handled it builds no event at all.
func TestWorkerTellsWantedPointsOnly(t *testing.T) {
	e := newIdleWorkerEnv(t)
	l := &committedOnly{}
	e.w.listen(l, nil)
	meta, payload := e.cachedRenewal(t)
	var view dhcpview.View
	d, ok := e.w.answer(&view, payload, &meta, time.Now().Unix())
	if !ok {
		t.Fatal("cached renewal not answered")
	}
	e.w.cfg.Socket.Release(d.Addr)
	if len(l.points) != 1 || l.points[0] != hooks.Leases4Committed {
		t.Errorf("told %v, want leases4_committed alone", l.points)
	}
	if e.w.listen(hooks.Listeners{}, nil); len(e.w.told) != 0 {
		t.Errorf("listeners that handle nothing: told %v", e.w.told)
	}
}
