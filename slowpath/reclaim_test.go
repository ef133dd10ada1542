package slowpath

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"xdhcp/lease"
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
