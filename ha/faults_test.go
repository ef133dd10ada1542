package ha

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"xdhcp/lease"
)

// blackhole is a tap that, while on, holds every request the node
// receives unanswered (a partner behind a link that drops packets: the
// connection stays open and nothing comes back).
type blackhole struct {
	on      atomic.Bool
	mu      sync.Mutex
	release chan struct{}
}

func newBlackhole(t *testing.T) *blackhole {
	b := &blackhole{release: make(chan struct{})}
	t.Cleanup(func() { b.set(false) })
	return b
}

func (b *blackhole) tap(_ string, r *http.Request) {
	if !b.on.Load() {
		return
	}
	b.mu.Lock()
	rel := b.release
	b.mu.Unlock()
	select {
	case <-rel:
	case <-r.Context().Done():
	}
}

func (b *blackhole) set(on bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.on.Swap(on) && !on {
		close(b.release)
		b.release = make(chan struct{})
	}
}

// TestBlackholedPartnerReleasesParkedReply: load-balancing, the partner
// stops answering (its link drops packets). A reply parked on a lease
// update is released as soon as failure detection (a heartbeat timing out
// after twice heartbeat-delay, at least 1 s) moves the server to
// communication-recovery, with the update in the backlog — not after the
// ten seconds of Kea's request timeout, and not dropped. When the partner
// answers again the backlog reaches it.
func TestBlackholedPartnerReleasesParkedReply(t *testing.T) {
	ln1, ln2 := listen(t), listen(t)
	a1, a2 := ln1.Addr().String(), ln2.Addr().String()
	extra := `, "max-unacked-clients": 10, "delayed-updates-limit": 100`
	hole := newBlackhole(t)
	n1 := newNode(t, "server1", ln1, haParams("server1", "load-balancing", a1, a2, extra), nil, hole.tap)
	n2 := newNode(t, "server2", ln2, haParams("server2", "load-balancing", a1, a2, extra), nil)
	waitState(t, n1, StateLoadBalancing, 5*time.Second)
	waitState(t, n2, StateLoadBalancing, 5*time.Second)

	hole.set(true)
	l := testLease(700, time.Now().Unix())
	start := time.Now()
	err := n2.svc.Replicate(context.Background(), []lease.Op{{Kind: lease.OpPut, Lease: l}})
	took := time.Since(start)
	t.Logf("parked reply released after %v", took.Round(time.Millisecond))
	if err != nil {
		t.Fatalf("update to a blackholed partner: %v after %v; want it deferred to the backlog", err, took)
	}
	if bound := n2.rel().heartbeatTimeout() + 1500*time.Millisecond; took > bound {
		t.Errorf("parked reply waited %v, want at most %v (the heartbeat timeout and a heartbeat period)", took, bound)
	}
	if st := n2.rel().State(); st != StateCommunicationRecovery {
		t.Fatalf("state %s, want communication-recovery", st)
	}
	n2.rel().mu.Lock()
	backlog := len(n2.rel().backlog)
	n2.rel().mu.Unlock()
	if backlog != 1 {
		t.Fatalf("backlog %d, want the deferred update", backlog)
	}
	hole.set(false)
	waitState(t, n2, StateLoadBalancing, 5*time.Second)
	if _, ok := n1.store.Get(l.Addr); !ok {
		t.Error("the deferred update did not reach the partner after recovery")
	}
}

// TestFailedUpdateEntersRecoveryAtOnce: the partner's listener is gone
// (connections refused). The first failed lease update moves a
// load-balancing server to communication-recovery at once, and its reply
// goes out with the update in the backlog.
func TestFailedUpdateEntersRecoveryAtOnce(t *testing.T) {
	ln1, ln2 := listen(t), listen(t)
	a1, a2 := ln1.Addr().String(), ln2.Addr().String()
	params := func(name string) string {
		return haParams(name, "load-balancing", a1, a2, `, "max-unacked-clients": 10, "delayed-updates-limit": 100`)
	}
	n1 := newNode(t, "server1", ln1, params("server1"), nil)
	n2 := newNode(t, "server2", ln2, params("server2"), nil)
	waitState(t, n1, StateLoadBalancing, 5*time.Second)
	waitState(t, n2, StateLoadBalancing, 5*time.Second)
	n2.rel().stepMu.Lock() // hold the state machine: no heartbeat-driven move
	restore := n1.cutHTTP()
	defer restore()
	l := testLease(701, time.Now().Unix())
	err := n2.svc.Replicate(context.Background(), []lease.Op{{Kind: lease.OpPut, Lease: l}})
	st := n2.rel().State()
	n2.rel().stepMu.Unlock()
	if err != nil {
		t.Fatalf("update to a partner that refuses connections: %v; want it deferred to the backlog", err)
	}
	if st != StateCommunicationRecovery {
		t.Errorf("state after the failed update %s, want communication-recovery", st)
	}
}
