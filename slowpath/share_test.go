package slowpath

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"xdhcp/slowpath/alloc"
)

// fixedShare is HA's pool share, set by the test.
type fixedShare struct{ part alloc.Part }

func (f *fixedShare) Part(uint32) alloc.Part { return f.part }

// While HA restricts new leases to this server's half of the pool, every
// new address comes from that half, an address of the other half is
// offered or acknowledged only to the client holding its unexpired lease,
// and a request for one the partner may have given meanwhile is left to
// the partner.
func TestPoolShareRestrictsNewLeases(t *testing.T) {
	h := newHarness(t, testConfig)
	share := &fixedShare{}
	h.srv.share = share
	upper := func(ip netip.Addr) bool { return ip.As4()[3] >= 150 && ip.As4()[3] <= 199 }
	ipOf := func(m *dhcpv4.DHCPv4) netip.Addr { return netip.MustParseAddr(m.YourIPAddr.String()) }

	// The whole pool: the round-robin cursor starts at its bottom.
	old := ipOf(h.dora("00:11:22:33:00:01"))
	expiring := ipOf(h.dora("00:11:22:33:00:02"))
	if upper(old) || upper(expiring) {
		t.Fatalf("whole pool: first leases %v %v, want the lower half first", old, expiring)
	}

	share.part = alloc.Part{Index: 1, Parts: 2} // the upper half: .150-.199
	h.now = h.now.Add(10 * time.Minute)
	// A lease of the other half renews (it was on both servers).
	if r := h.one(renew("00:11:22:33:00:01", old)); r.msg.MessageType() != dhcpv4.MessageTypeAck {
		t.Fatalf("renewal of %v: %s, want ACK", old, r.msg.MessageType())
	}
	if o := h.one(discover("00:11:22:33:00:01")); ipOf(o.msg) != old {
		t.Errorf("DISCOVER of the client holding %v: offered %v", old, o.msg.YourIPAddr)
	}
	// New clients get only the upper half, until it is exhausted.
	got := map[netip.Addr]bool{}
	for i := range 50 {
		ip := ipOf(h.dora(fmt.Sprintf("00:11:22:44:00:%02x", i)))
		if !upper(ip) || got[ip] {
			t.Fatalf("new client %d: %v (outside the upper half or twice)", i, ip)
		}
		got[ip] = true
	}
	if out := h.exchange(discover("00:11:22:55:00:01")); len(out) != 0 {
		t.Errorf("upper half exhausted: got %s %v, want no offer (the lower half is the partner's)", out[0].msg.MessageType(), out[0].msg.YourIPAddr)
	}
	// Free addresses of the lower half are the partner's to give now.
	free := netip.MustParseAddr("192.0.2.130")
	d := discover("00:11:22:55:00:02", dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IP(free.AsSlice()))))
	if out := h.exchange(d); len(out) != 0 {
		t.Errorf("DISCOVER asking for %v: offered %v", free, out[0].msg.YourIPAddr)
	}
	reboot, _ := dhcpv4.New(dhcpv4.WithHwAddr(mac("00:11:22:55:00:03")), dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IP(free.AsSlice()))))
	if out := h.exchange(reboot); len(out) != 0 {
		t.Errorf("INIT-REBOOT for %v: %s, want silence (the partner may have given it)", free, out[0].msg.MessageType())
	}
	if n := h.stat("xdhcp-pkt4-ha-partner-part-drop"); n != 1 {
		t.Errorf("xdhcp-pkt4-ha-partner-part-drop %d, want 1", n)
	}
	// A client that chose our offer of a lower-half address, made before
	// the restriction, gets a NAK: the partner does not answer a REQUEST
	// naming us.
	share.part = alloc.Part{}
	early := h.one(discover("00:11:22:55:00:05"))
	share.part = alloc.Part{Index: 1, Parts: 2}
	if upper(ipOf(early.msg)) {
		t.Fatalf("offer before the restriction %v: want the lower half", early.msg.YourIPAddr)
	}
	if r := h.one(requestFor(early.msg)); r.msg.MessageType() != dhcpv4.MessageTypeNak {
		t.Errorf("REQUEST for our earlier offer of %v: %s, want NAK", early.msg.YourIPAddr, r.msg.MessageType())
	}
	// An expired lease of the lower half is no longer its client's to
	// take back: the partner may have reused it.
	h.now = h.now.Add(2 * time.Hour)
	rebind := renew("00:11:22:33:00:02", expiring, dhcpv4.WithBroadcast(true))
	if out := h.exchange(rebind); len(out) != 0 {
		t.Errorf("rebinding an expired lease of the other half: %s, want silence", out[0].msg.MessageType())
	}

	// Back to the whole pool (the pair in sync again): the lower half serves.
	share.part = alloc.Part{}
	if ip := ipOf(h.dora("00:11:22:55:00:04")); upper(ip) {
		t.Errorf("whole pool again: %v, want the lower half (the upper is full)", ip)
	}
}
