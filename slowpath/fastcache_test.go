package slowpath

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"xdhcp/fastpath/dhcpview"
	"xdhcp/fastpath/leasecache"
)

// TestPublishedLeaseAnswersRenewal: an ACK of a subnet with cache-threshold
// is published to the fast path's cache with the request's fingerprint,
// and the fast path then finds the client's renewal reusable.
func TestPublishedLeaseAnswersRenewal(t *testing.T) {
	h := newHarness(t, testConfig)
	cache := leasecache.New(64)
	h.srv.cache = cache
	relay := dhcpv4.WithGatewayIP(net.ParseIP("10.9.9.9"))
	offer := h.one(discover("00:11:22:33:44:55", relay)) // subnet 3: cache-threshold 0.5
	req := requestFor(offer.msg, relay)
	if ack := h.one(req); ack.msg.MessageType() != dhcpv4.MessageTypeAck {
		t.Fatalf("got %s, want ACK", ack.msg.MessageType())
	}
	ip := netip.MustParseAddr(offer.msg.YourIPAddr.String())
	// The client renews with the request it was ACKed for, in RENEWING.
	req.ClientIPAddr = net.IP(ip.AsSlice())
	req.Options.Del(dhcpv4.OptionRequestedIPAddress)
	req.Options.Del(dhcpv4.OptionServerIdentifier)
	e, ok := cache.Lookup(ip.As4())
	if !ok {
		t.Fatal("the ACKed lease was not published")
	}
	var v dhcpview.View
	if err := v.Parse(req.ToBytes()); err != nil {
		t.Fatal(err)
	}
	if _, ok := leasecache.Reusable(e, &v, h.now.Add(10*time.Minute).Unix()); !ok {
		t.Fatalf("renewal not reusable from the published entry (fingerprint %x, renewal %x)", e.Fingerprint, v.Fingerprint())
	}
	// A renewal that asks for other options must not reuse the ACK.
	if err := v.Parse(renew("00:11:22:33:44:55", ip, relay).ToBytes()); err != nil {
		t.Fatal(err)
	}
	if _, ok := leasecache.Reusable(e, &v, h.now.Add(10*time.Minute).Unix()); ok {
		t.Fatal("a renewal with other options reuses the ACK")
	}
}
