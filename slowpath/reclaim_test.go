package slowpath

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"xdhcp/internal/stats"
	"xdhcp/lease"
	"xdhcp/lease/memfile"
)

// TestReclaimDeclined: a declined address comes back to the pool when its
// probation ends, and reclaiming it does not stall the reclamation of the
// other expired leases (a declined lease has no client identifiers, so it
// cannot be kept as an expired-reclaimed lease: it is removed).
func TestReclaimDeclined(t *testing.T) {
	h := newHarness(t, testConfig)
	declinedAck := h.dora("00:11:22:33:44:77")
	declined := netip.MustParseAddr(declinedAck.YourIPAddr.String())
	dec, _ := dhcpv4.New(dhcpv4.WithHwAddr(mac("00:11:22:33:44:77")), dhcpv4.WithMessageType(dhcpv4.MessageTypeDecline),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(declinedAck.YourIPAddr)), dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.ParseIP("192.0.2.1"))))
	if out := h.exchange(dec); len(out) != 0 {
		t.Fatal("DECLINE answered")
	}
	expiredAck := h.dora("00:11:22:33:44:88")
	expired := netip.MustParseAddr(expiredAck.YourIPAddr.String())

	// Past the probation (86400 s) and the other lease's lifetime.
	h.now = h.now.Add(86401 * time.Second)
	n, err := h.srv.Reclaim(false)
	if err != nil || n != 2 {
		t.Fatalf("Reclaim: %d leases, %v; want 2, nil", n, err)
	}
	if _, ok := h.store.Get(declined); ok {
		t.Error("declined lease still in the store after its probation was reclaimed")
	}
	if l, ok := h.store.Get(expired); !ok || l.State != lease.StateExpiredReclaimed || len(l.HWAddr) == 0 {
		t.Errorf("expired lease %+v (found %v), want expired-reclaimed with its hwaddr kept", l, ok)
	}
	for name, want := range map[string]int64{
		"declined-addresses": 0, "reclaimed-declined-addresses": 1, "reclaimed-leases": 2,
		"subnet[1].assigned-addresses": 0, "subnet[1].declined-addresses": 0,
	} {
		if got := h.stat(name); got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
	// The address is usable again: a client asking for it gets it.
	o := h.one(discover("00:11:22:33:44:99", dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(declinedAck.YourIPAddr))))
	if !o.msg.YourIPAddr.Equal(declinedAck.YourIPAddr) {
		t.Errorf("offered %s, want the reclaimed declined address %s", o.msg.YourIPAddr, declined)
	}
}

// renewingStore is a store in which a lease is renewed (renew, once)
// right after Expired found it expired: a renewal that lands between the
// reclamation's search and its lock.
type renewingStore struct {
	*countingStore
	renew func()
}

func (s *renewingStore) Expired(now int64, limit int) []lease.Lease {
	found := s.countingStore.Expired(now, limit)
	if s.renew != nil {
		s.renew()
		s.renew = nil
	}
	return found
}

// TestReclaimLeavesLeaseRenewedMeanwhile: the reclamation searches the
// store before it takes the configuration's lock, so a lease can be
// renewed in between; it must then stay as renewed, not be reclaimed.
func TestReclaimLeavesLeaseRenewedMeanwhile(t *testing.T) {
	st := &renewingStore{countingStore: &countingStore{Store: openStore(t, memfile.Options{Persist: false})}}
	h := &harness{t: t, store: st.countingStore, reg: stats.New(20, 0), out: &capture{}, now: time.Unix(1_800_000_000, 0)}
	h.srv = newTestServer(t, testConfig, Deps{Store: st, Stats: h.reg, Now: func() time.Time { return h.now }})
	ack := h.dora("00:11:22:33:44:55")
	addr := netip.MustParseAddr(ack.YourIPAddr.String())
	h.now = h.now.Add(2 * ack.IPAddressLeaseTime(0))
	st.renew = func() {
		l, _ := st.Get(addr)
		l.CLTT = h.now.Unix()
		if err := st.Store.Commit(context.Background(), lease.Op{Kind: lease.OpPut, Lease: l}); err != nil {
			t.Error(err)
		}
	}
	if n, err := h.srv.Reclaim(false); err != nil || n != 0 {
		t.Fatalf("Reclaim: %d leases, %v; want 0, nil", n, err)
	}
	if l, ok := st.Get(addr); !ok || l.State != lease.StateDefault || l.CLTT != h.now.Unix() {
		t.Errorf("lease renewed during the reclamation: %+v (found %v), want it as renewed", l, ok)
	}
	if got := h.stat("reclaimed-leases"); got != 0 {
		t.Errorf("reclaimed-leases = %d, want 0", got)
	}
}

// TestReclamationSearchHoldsNoWorker: while nothing is due, the timers'
// reclamation and flush never take the configuration's write lock, which
// would hold every worker; they return while a worker holds the read
// lock. A due lease is still reclaimed, then flushed.
func TestReclamationSearchHoldsNoWorker(t *testing.T) {
	h := newHarness(t, testConfig)
	ack := h.dora("00:11:22:33:44:55")
	addr := netip.MustParseAddr(ack.YourIPAddr.String())

	h.srv.rtMu.RLock() // a worker in the middle of a packet
	done := make(chan error, 1)
	go func() {
		_, err := h.srv.reclaim(false, true)
		done <- errors.Join(err, h.srv.flushReclaimed())
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("reclamation with nothing due waited for the workers' lock")
	}
	h.srv.rtMu.RUnlock()

	h.now = h.now.Add(ack.IPAddressLeaseTime(0) + time.Second)
	if n, err := h.srv.reclaim(false, true); err != nil || n != 1 {
		t.Fatalf("reclaim: %d leases, %v; want 1, nil", n, err)
	}
	if l, ok := h.store.Get(addr); !ok || l.State != lease.StateExpiredReclaimed {
		t.Fatalf("lease after reclamation: %+v (found %v), want expired-reclaimed", l, ok)
	}
	if err := h.srv.flushReclaimed(); err != nil {
		t.Fatal(err)
	}
	if _, ok := h.store.Get(addr); !ok {
		t.Fatal("reclaimed lease flushed before hold-reclaimed-time passed")
	}
	h.now = h.now.Add(h.srv.Config().ExpiredLeases.HoldReclaimedTime + time.Second)
	if err := h.srv.flushReclaimed(); err != nil {
		t.Fatal(err)
	}
	if l, ok := h.store.Get(addr); ok {
		t.Errorf("reclaimed lease %+v still held after hold-reclaimed-time", l)
	}
}
