package intake

import (
	"sync/atomic"
	"testing"
	"time"
)

// pkt is a test packet that records its release.
type pkt struct {
	id       int
	released bool
}

func (p *pkt) Release() { p.released = true }

type req struct{ id int }

type counter struct{ n atomic.Int64 }

func (c *counter) Inc() { c.n.Add(1) }

func newQ(limit int) *Queue[*pkt, *req] { return NewQueue[*pkt, *req](limit, 8) }

func popPkt(t *testing.T, q *Queue[*pkt, *req]) *pkt {
	t.Helper()
	p, r, ok := q.Pop()
	if !ok || r != nil || p == nil {
		t.Fatalf("Pop = %v, %v, %v; want a packet", p, r, ok)
	}
	return p
}

func TestQueueDropsOldestWhenFull(t *testing.T) {
	q := newQ(3)
	ps := make([]*pkt, 5)
	for i := range ps {
		ps[i] = &pkt{id: i}
	}
	for i, p := range ps {
		want := Queued
		if i >= 3 {
			want = DroppedOldest
		}
		if got := q.Push(p, uint64(i)); got != want {
			t.Fatalf("push %d: %v, want %v", i, got, want)
		}
	}
	if !ps[0].released || !ps[1].released || ps[2].released {
		t.Fatalf("the two oldest must be released, and only they")
	}
	for _, want := range []int{2, 3, 4} {
		if p := popPkt(t, q); p.id != want {
			t.Fatalf("popped %d, want %d (FIFO)", p.id, want)
		}
	}
	if q.Len() != 0 || q.Occupancy() != 0 {
		t.Fatalf("drained queue: len %d occupancy %v", q.Len(), q.Occupancy())
	}
}

func TestQueueClientShare(t *testing.T) {
	q := newQ(64)
	for i := 0; i < PerClientQueued; i++ {
		if got := q.Push(&pkt{}, 7); got != Queued {
			t.Fatalf("push %d of one client: %v", i, got)
		}
	}
	over := &pkt{}
	if got := q.Push(over, 7); got != Refused || !over.released {
		t.Fatalf("client over its share: %v, released %v", got, over.released)
	}
	if got := q.Push(&pkt{}, 8); got != Queued {
		t.Fatalf("another client: %v", got)
	}
	popPkt(t, q) // one of client 7's leaves: it may queue one more
	if got := q.Push(&pkt{}, 7); got != Queued {
		t.Fatalf("after a pop: %v", got)
	}
}

func TestQueueResizeKeepsNewest(t *testing.T) {
	q := newQ(8)
	ps := make([]*pkt, 6)
	for i := range ps {
		ps[i] = &pkt{id: i}
		q.Push(ps[i], uint64(i))
	}
	q.Resize(2)
	for i, p := range ps {
		if p.released != (i < 4) {
			t.Fatalf("packet %d released %v", i, p.released)
		}
	}
	if q.Len() != 2 || q.Occupancy() != 1 {
		t.Fatalf("len %d occupancy %v after shrinking to 2", q.Len(), q.Occupancy())
	}
	if p := popPkt(t, q); p.id != 4 {
		t.Fatalf("popped %d, want 4", p.id)
	}
	// The released packets left their clients' shares.
	for i := 0; i < PerClientQueued; i++ {
		if got := q.Push(&pkt{}, 0); got == Refused {
			t.Fatalf("client 0 refused after its packet was dropped by the resize")
		}
	}
	q.Resize(0)
	if q.limit != Unbounded {
		t.Fatalf("limit 0 is %d, want Unbounded", q.limit)
	}
}

func TestQueueStatistics(t *testing.T) {
	q := newQ(100)
	for i := 0; i < 10; i++ {
		q.Push(&pkt{}, uint64(i))
	}
	st := q.Statistics()
	if !(st[0] > st[1] && st[1] > st[2] && st[2] > 0) {
		t.Fatalf("averages over 10, 100, 1000 packets %v: the shortest window must react most", st)
	}
}

func TestQueueFollowUpsFirst(t *testing.T) {
	q := newQ(4)
	q.Push(&pkt{id: 1}, 1)
	q.BeginCommit(&counter{})
	q.EndCommit(&req{id: 9})
	if _, r, ok := q.Pop(); !ok || r == nil || r.id != 9 {
		t.Fatalf("Pop = %v, %v; want the follow-up first", r, ok)
	}
	if p := popPkt(t, q); p.id != 1 {
		t.Fatalf("popped %d", p.id)
	}
}

func TestQueueCloseWaitsForCommits(t *testing.T) {
	q := newQ(4)
	q.Push(&pkt{id: 1}, 1)
	q.BeginCommit(&counter{})
	q.Close()
	if got := q.Push(&pkt{}, 2); got != Closed {
		t.Fatalf("push after close: %v", got)
	}
	popPkt(t, q) // what was queued is still served
	done := make(chan bool)
	go func() {
		_, r, ok := q.Pop()
		done <- ok && r != nil
	}()
	select {
	case <-done:
		t.Fatal("Pop returned while a commit was in flight")
	case <-time.After(20 * time.Millisecond):
	}
	q.EndCommit(&req{id: 2}) // its completion releases a follow-up
	if !<-done {
		t.Fatal("the follow-up released after close was not served")
	}
	if _, _, ok := q.Pop(); ok {
		t.Fatal("Pop after close with nothing in flight")
	}
}

func TestQueueCommitBackpressure(t *testing.T) {
	q := newQ(4)
	q.SetCommitLimit(2)
	var waits counter
	q.BeginCommit(&waits)
	q.BeginCommit(&waits)
	third := make(chan struct{})
	go func() {
		q.BeginCommit(&waits)
		close(third)
	}()
	deadline := time.Now().Add(time.Second)
	for waits.n.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if waits.n.Load() != 1 || q.CommitsInFlight() != 2 {
		t.Fatalf("at the bound: %d waits, %d in flight", waits.n.Load(), q.CommitsInFlight())
	}
	q.EndCommit(nil)
	<-third
	q.EndCommit(nil)
	q.EndCommit(nil)
	q.WaitCommits()
	if q.CommitsInFlight() != 0 {
		t.Fatalf("%d in flight", q.CommitsInFlight())
	}
}

func TestQueuePushPopAllocs(t *testing.T) {
	q := newQ(4)
	p := &pkt{}
	if n := testing.AllocsPerRun(100, func() {
		q.Push(p, 1)
		q.Pop()
	}); n != 0 {
		t.Fatalf("push and pop allocate %v times", n)
	}
}
