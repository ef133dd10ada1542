package ha

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"xdhcp/lease"
	"xdhcp/lease/memfile"
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

// TestBothPartnerDownRecover: a two-way cut long enough for both servers
// to declare the other down (each sees more than max-unacked-clients of
// its partner's clients unanswered); when the link returns, both leave
// partner-down, resynchronize and are back in their normal state.
func TestBothPartnerDownRecover(t *testing.T) {
	for _, mode := range []string{"load-balancing", "hot-standby"} {
		t.Run(mode, func(t *testing.T) {
			ln1, ln2 := listen(t), listen(t)
			a1, a2 := ln1.Addr().String(), ln2.Addr().String()
			extra := `, "max-unacked-clients": 2`
			h1, h2 := newBlackhole(t), newBlackhole(t)
			n1 := newNode(t, "server1", ln1, haParams("server1", mode, a1, a2, extra), nil, h1.tap)
			n2 := newNode(t, "server2", ln2, haParams("server2", mode, a1, a2, extra), nil, h2.tap)
			norm := normal(n1.rel().cfg.Mode)
			waitState(t, n1, norm, 5*time.Second)
			waitState(t, n2, norm, 5*time.Second)

			h1.set(true)
			h2.set(true)
			// Interrupted after max-response-delay; then clients that have
			// tried for 10 s (secs little-endian, as Kea reads it) decide.
			deadline := time.Now().Add(5 * time.Second)
			for n1.rel().State() != StatePartnerDown || n2.rel().State() != StatePartnerDown {
				if time.Now().After(deadline) {
					t.Fatalf("not both partner-down: server1 %s, server2 %s", n1.rel().State(), n2.rel().State())
				}
				for i := range 4 {
					for _, n := range []*node{n1, n2} {
						n.svc.ObserveQuery(0x0a00, []byte{byte(i), 1}, msgRequest)
						n.svc.ObserveQuery(0x0a00, []byte{byte(i), 2}, msgRequest)
					}
				}
				time.Sleep(50 * time.Millisecond)
			}
			// Each served alone meanwhile: a lease on each side only.
			l1, l2 := testLease(801, time.Now().Unix()), testLease(802, time.Now().Unix())
			for _, x := range []struct {
				n *node
				l lease.Lease
			}{{n1, l1}, {n2, l2}} {
				if err := x.n.store.Commit(context.Background(), lease.Op{Kind: lease.OpPut, Lease: x.l}); err != nil {
					t.Fatal(err)
				}
				if err := x.n.svc.Replicate(context.Background(), []lease.Op{{Kind: lease.OpPut, Lease: x.l}}); err != nil {
					t.Fatalf("%s in partner-down: %v", x.n.name, err)
				}
			}
			restored := time.Now()
			h1.set(false)
			h2.set(false)
			waitState(t, n1, norm, 10*time.Second)
			waitState(t, n2, norm, 10*time.Second)
			t.Logf("both partner-down → %s in %v", norm, time.Since(restored).Round(time.Millisecond))
			// Each holds the lease the other gave alone.
			for _, n := range []*node{n1, n2} {
				for _, l := range []lease.Lease{l1, l2} {
					if _, ok := n.store.Get(l.Addr); !ok {
						t.Errorf("%s lacks %s after recovery", n.name, l.Addr)
					}
				}
			}
		})
	}
}

// TestClockSkewPair: the partners' clocks differ. Over 30 s both servers
// warn and keep serving; over 60 s both terminate HA, as Kea does.
func TestClockSkewPair(t *testing.T) {
	for _, c := range []struct {
		skew time.Duration
		want State
	}{{45 * time.Second, StateHotStandby}, {61 * time.Second, StateTerminated}, {-61 * time.Second, StateTerminated}} {
		t.Run(c.skew.String(), func(t *testing.T) {
			ln1, ln2 := listen(t), listen(t)
			a1, a2 := ln1.Addr().String(), ln2.Addr().String()
			off := func() time.Time { return time.Now().Add(c.skew) }
			n1 := newNode(t, "server1", ln1, haParams("server1", "hot-standby", a1, a2, ""), nil)
			n2 := newNodeClock(t, "server2", ln2, haParams("server2", "hot-standby", a1, a2, ""), memfile.Options{}, off, nil)
			if c.want == StateTerminated {
				waitState(t, n1, StateTerminated, 5*time.Second)
				waitState(t, n2, StateTerminated, 5*time.Second)
				return
			}
			waitState(t, n1, c.want, 5*time.Second)
			waitState(t, n2, c.want, 5*time.Second)
			time.Sleep(300 * time.Millisecond)
			for _, n := range []*node{n1, n2} {
				if st := n.rel().State(); st != c.want {
					t.Errorf("%s: %s with skew %v, want %s", n.name, st, c.skew, c.want)
				}
			}
		})
	}
}

// TestRecoverFlushesUpdatesQueuedDuringTheFlush: leaving
// communication-recovery, the server keeps serving while it sends the
// backlog; a lease given during that flush joins the backlog and must
// reach the partner too before the server is back in load-balancing (it
// used to be dropped with the backlog at the transition).
func TestRecoverFlushesUpdatesQueuedDuringTheFlush(t *testing.T) {
	var mu sync.Mutex
	var got []string
	var r *Relationship
	late := testLease(99, time.Now().Unix())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var body struct {
			Command   string `json:"command"`
			Arguments struct {
				IP string `json:"ip-address"`
			} `json:"arguments"`
		}
		_ = json.NewDecoder(req.Body).Decode(&body)
		mu.Lock()
		first := len(got) == 0
		got = append(got, body.Arguments.IP)
		mu.Unlock()
		if first {
			// A client is acknowledged while the flush runs.
			r.mu.Lock()
			r.queueLocked(updates4([]lease.Op{{Kind: lease.OpPut, Lease: late}})[0])
			r.mu.Unlock()
		}
		_, _ = w.Write([]byte(`[{"result": 0, "text": "ok"}]`))
	}))
	t.Cleanup(srv.Close)
	cfg := strings.Replace(lbPair, "http://127.0.0.1:2/", srv.URL+"/", 1)
	cfg = strings.Replace(cfg, `"max-unacked-clients": 3`, `"max-unacked-clients": 3, "delayed-updates-limit": 10`, 1)
	_, r, _ = testRel(t, cfg, time.Now)
	r.mu.Lock()
	r.transitionLocked(StateLoadBalancing, "test")
	r.transitionLocked(StateCommunicationRecovery, "test")
	first := testLease(1, time.Now().Unix())
	r.queueLocked(updates4([]lease.Op{{Kind: lease.OpPut, Lease: first}})[0])
	r.mu.Unlock()
	r.recover(context.Background())
	mu.Lock()
	defer mu.Unlock()
	if want := []string{first.Addr.String(), late.Addr.String()}; !slices.Equal(got, want) {
		t.Errorf("partner received updates for %v, want %v", got, want)
	}
	if st := r.State(); st != StateLoadBalancing {
		t.Errorf("state %s after the flush, want load-balancing", st)
	}
}
