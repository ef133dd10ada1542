package slowpath

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"xdhcp/handoff"
	"xdhcp/lease"
	"xdhcp/lease/memfile"
)

// gateStore holds every async commit until the test lets it land, as a
// slow lease file does.
type gateStore struct {
	*countingStore
	mu      sync.Mutex
	pending []pendingCommit
}

type pendingCommit struct {
	ops  []lease.Op
	done func(error)
}

func (g *gateStore) CommitAsync(ops []lease.Op, done func(error)) {
	g.mu.Lock()
	g.commits++
	g.pending = append(g.pending, pendingCommit{ops, done})
	g.mu.Unlock()
}

func (g *gateStore) held() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.pending)
}

// land applies the oldest held commit (or fails it with err) and calls
// its done, as the writer goroutine does.
func (g *gateStore) land(t *testing.T, err error) {
	t.Helper()
	g.mu.Lock()
	if len(g.pending) == 0 {
		g.mu.Unlock()
		t.Fatal("no commit held")
	}
	c := g.pending[0]
	g.pending = g.pending[1:]
	g.mu.Unlock()
	if err == nil {
		g.countingStore.Store.CommitAsync(c.ops, c.done)
		return
	}
	c.done(err)
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// startGated starts the server's workers over a gateStore.
func startGated(t *testing.T) (*harness, *gateStore) {
	h := newHarness(t, testConfig)
	g := &gateStore{countingStore: h.store}
	h.srv.store = g
	// No reclamation: it would wait for the held commits, holding the
	// configuration's write lock.
	h.srv.rt.cfg.ExpiredLeases.ReclaimTimerWaitTime = 0
	h.srv.rt.cfg.ExpiredLeases.FlushReclaimedTimerWait = 0
	h.srv.Start(t.Context())
	t.Cleanup(func() {
		closed := make(chan struct{})
		go func() {
			h.srv.Close()
			close(closed)
		}()
		for {
			select {
			case <-closed:
				return
			case <-time.After(time.Millisecond):
				if g.held() > 0 {
					g.land(t, nil)
				}
			}
		}
	})
	return h, g
}

// enqueue hands m to the workers as a transport does: in a pooled packet
// the server must release (h.pool.Outstanding counts what it has not).
func (h *harness) enqueue(m *dhcpv4.DHCPv4) {
	h.enqueueRaw([6]byte(m.ClientHWAddr), m.ToBytes())
}

func (h *harness) enqueueRaw(src [6]byte, data []byte) {
	p := h.pool.Get()
	p.IfIndex, p.IfName, p.IfAddr, p.IfMAC = 2, "eth0", serverAddr, [6]byte{2, 0, 0, 0, 0, 1}
	p.Meta, p.Out = handoff.Meta{SrcMAC: src, SrcPort: 68, DstPort: 67}, h.out
	p.SetData(data)
	h.srv.Enqueue(p)
}

func (h *harness) await(n int) []sent {
	h.t.Helper()
	var got []sent
	waitUntil(h.t, "replies", func() bool {
		got = append(got, h.out.take()...)
		return len(got) >= n
	})
	return got
}

// holdCommit takes the client mac through DISCOVER and OFFER and sends
// its REQUEST; it returns the OFFER once g holds that REQUEST's commit.
func (h *harness) holdCommit(g *gateStore, mac string) *dhcpv4.DHCPv4 {
	h.t.Helper()
	h.enqueue(discover(mac))
	offer := h.await(1)[0].msg
	h.enqueue(requestFor(offer))
	waitUntil(h.t, "the commit", func() bool { return g.held() == 1 })
	return offer
}

// TestAsyncCommitACKWaitsAndHoldsClient: the ACK leaves only once the
// commit lands, the worker is free meanwhile (another client is served),
// and the client's next packet is held until its exchange is over.
func TestAsyncCommitACKWaitsAndHoldsClient(t *testing.T) {
	h, g := startGated(t)
	offer := h.holdCommit(g, "00:11:22:33:44:01")
	// The client's next packet (a retransmission) must wait for the commit.
	h.enqueue(requestFor(offer))
	// Another client is served meanwhile: no worker waits on the disk.
	h.enqueue(discover("00:11:22:33:44:02"))
	if got := h.await(1); len(got) != 1 || got[0].msg.MessageType() != dhcpv4.MessageTypeOffer {
		t.Fatalf("other client: %v", got)
	}
	time.Sleep(20 * time.Millisecond)
	if got := h.out.take(); len(got) != 0 || g.held() != 1 {
		t.Fatalf("before the commit landed: %d replies, %d commits held", len(got), g.held())
	}
	g.land(t, nil)
	ack := h.await(1)[0].msg
	if ack.MessageType() != dhcpv4.MessageTypeAck || !ack.YourIPAddr.Equal(offer.YourIPAddr) {
		t.Fatalf("got %s for %s, want ACK for %s", ack.MessageType(), ack.YourIPAddr, offer.YourIPAddr)
	}
	// Now the held retransmission runs: the lease is the client's, so it
	// commits (renews) it again.
	waitUntil(t, "the follow-up's commit", func() bool { return g.held() == 1 })
	g.land(t, nil)
	if m := h.await(1)[0].msg; m.MessageType() != dhcpv4.MessageTypeAck {
		t.Fatalf("follow-up: %s", m.MessageType())
	}
	if n := h.srv.queue.CommitsInFlight(); n != 0 {
		t.Fatalf("%d commits in flight after both landed", n)
	}
}

// TestAsyncCommitFailureFreesAddress: a refused commit sends no ACK and
// gives the address back.
func TestAsyncCommitFailureFreesAddress(t *testing.T) {
	h, g := startGated(t)
	sn := h.srv.rt.byID[2] // a three-address pool
	used := sn.pools[0].alloc.Used()
	h.enqueue(discover("00:11:22:33:44:03", dhcpv4.WithGatewayIP(nil)))
	offer := h.await(1)[0].msg
	a, _ := netip.AddrFromSlice(offer.YourIPAddr.To4())
	if !sn.cfg.Prefix.Contains(a) {
		sn = h.srv.rt.subnetFor(a)
		used = sn.pools[0].alloc.Used() - 1
	}
	h.enqueue(requestFor(offer))
	waitUntil(t, "the commit", func() bool { return g.held() == 1 })
	g.land(t, &lease.FaultError{Path: "l.csv", Err: syscall.ENOSPC, Since: time.Now()})
	waitUntil(t, "the failure", func() bool { return h.stat("xdhcp-lease-commit-fail") == 1 })
	waitUntil(t, "the exchange to end", func() bool { return h.srv.queue.CommitsInFlight() == 0 })
	if got := h.out.take(); len(got) != 0 {
		t.Fatalf("%d replies after a refused commit", len(got))
	}
	if u := sn.pools[0].alloc.Used(); u != used {
		t.Fatalf("pool has %d addresses used after the refused commit, %d before the offer", u, used)
	}
	if _, ok := h.srv.offers.forClient("h" + string(mac("00:11:22:33:44:03"))); ok {
		t.Fatal("offer still held")
	}
}

// TestAsyncCommitBackpressure: past the in-flight bound a worker waits,
// and the wait is counted; landing commits lets it go on.
func TestAsyncCommitBackpressure(t *testing.T) {
	h, g := startGated(t)
	h.srv.queue.SetCommitLimit(2)
	macs := []string{"00:11:22:33:44:10", "00:11:22:33:44:11", "00:11:22:33:44:12"}
	var offers []*dhcpv4.DHCPv4
	for _, m := range macs {
		h.enqueue(discover(m))
		offers = append(offers, h.await(1)[0].msg)
	}
	for _, o := range offers {
		h.enqueue(requestFor(o))
	}
	waitUntil(t, "a worker to wait", func() bool { return h.stat("xdhcp-commit-backpressure-waits") == 1 })
	if n := g.held(); n != 2 {
		t.Fatalf("%d commits queued, want the bound, 2", n)
	}
	g.land(t, nil)
	waitUntil(t, "the third commit", func() bool { return g.held() == 2 })
	g.land(t, nil)
	g.land(t, nil)
	if got := h.await(3); len(got) != 3 {
		t.Fatalf("%d ACKs", len(got))
	}
}

// TestAsyncCommitWithStore runs clients through the workers on a real,
// fdatasync'd lease file: every client gets an ACK for a distinct address,
// and the file groups their commits.
func TestAsyncCommitWithStore(t *testing.T) {
	h := newHarness(t, testConfig)
	st, err := memfile.Open(memfile.Options{Persist: true, Sync: true, Path: t.TempDir() + "/l.csv"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h.srv.store = st
	if err := h.srv.Reload(h.srv.Config()); err != nil {
		t.Fatal(err)
	}
	h.srv.Start(t.Context())
	const n = 60
	offers := map[string]*dhcpv4.DHCPv4{}
	for i := range n {
		h.enqueue(discover(macN(i)))
	}
	for _, s := range h.await(n) {
		offers[s.msg.ClientHWAddr.String()] = s.msg
	}
	for _, o := range offers {
		h.enqueue(requestFor(o))
	}
	seen := map[string]bool{}
	for _, s := range h.await(len(offers)) {
		if s.msg.MessageType() != dhcpv4.MessageTypeAck || seen[s.msg.YourIPAddr.String()] {
			t.Fatalf("%s for %s", s.msg.MessageType(), s.msg.YourIPAddr)
		}
		seen[s.msg.YourIPAddr.String()] = true
	}
	if err := h.srv.Close(); err != nil {
		t.Fatal(err)
	}
	if st.Len() != len(offers) || st.Stats().Syncs >= uint64(len(offers)) {
		t.Fatalf("%d leases, %+v", st.Len(), st.Stats())
	}
	if !errors.Is(st.Close(), nil) {
		t.Fatal("close")
	}
}

func macN(i int) string { return macString([]byte{2, 0, 0, 0, 0, byte(i)}) }

// TestEveryPacketReleased: whatever becomes of a request (answered,
// answered from a commit completion, held behind the client's exchange,
// displaced by a newer follow-up, dropped from a full queue, refused as a
// flood, malformed), the server releases its packet exactly once, so the
// transports' pools neither leak nor hand one packet out twice.
func TestEveryPacketReleased(t *testing.T) {
	h, g := startGated(t)
	offer := h.holdCommit(g, "00:11:22:33:44:20")
	// Held behind the commit, then displaced by the next one.
	h.enqueue(requestFor(offer))
	h.enqueue(requestFor(offer))
	waitUntil(t, "the displaced follow-up", func() bool { return h.stat("xdhcp-pkt4-client-busy-drop") == 1 })
	h.enqueueRaw([6]byte{2, 0, 0, 0, 0, 0x21}, []byte{1, 1, 6, 0}) // malformed
	h.enqueue(&dhcpv4.DHCPv4{OpCode: dhcpv4.OpcodeBootRequest, HWType: 1,
		ClientHWAddr: mac("00:11:22:33:44:22")}) // BOOTP: no message type
	// A queue of one while every worker is busy waiting for a commit slot:
	// the oldest of a burst is dropped.
	h.srv.queue.SetCommitLimit(1)
	h.srv.queue.Resize(1)
	for i := range 8 {
		h.enqueue(discover(fmt.Sprintf("00:11:22:33:45:%02x", i)))
	}
	if h.pool.Outstanding() == 0 {
		t.Fatal("nothing outstanding while a commit is held: the test exercises nothing")
	}
	for g.held() > 0 {
		g.land(t, nil)
	}
	waitUntil(t, "every packet released", func() bool {
		if g.held() > 0 {
			g.land(t, nil)
		}
		return h.pool.Outstanding() == 0
	})
	if h.stat("xdhcp-pkt4-queue-full-drop") == 0 && h.stat("xdhcp-pkt4-client-flood-drop") == 0 {
		t.Log("no queue drop happened: the burst was absorbed")
	}
	// A second release of the same packet must not put it in the pool
	// twice (two transports would then fill one buffer).
	p := h.pool.Get()
	p.Release()
	p.Release()
	a, b := h.pool.Get(), h.pool.Get()
	if a == b {
		t.Fatal("one packet handed out twice after a double release")
	}
	a.Release()
	b.Release()
	if n := h.pool.Outstanding(); n != 0 {
		t.Fatalf("%d packets outstanding", n)
	}
}
