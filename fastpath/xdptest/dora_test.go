package xdptest

import (
	"net/netip"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// TestDORA: a full DISCOVER-OFFER-REQUEST-ACK goes through the XDP program
// (redirected, not passed to the stack), the AF_XDP socket (the worker
// hands both requests to the slow path) and back out of the AF_XDP TX
// ring (the OFFER and the ACK are slow-path replies the worker sent).
func TestDORA(t *testing.T) {
	forModes(t, func(t *testing.T, e *env) {
		d := e.serve(e.config())
		c := e.nclient(testMAC(1, 1))

		before := d.stats()
		l := dora(t, c)
		after := d.stats()

		yi, ok := netip.AddrFromSlice(l.ACK.YourIPAddr.To4())
		if !ok || !netip.MustParsePrefix(subnetStr).Contains(yi) {
			t.Errorf("ACK yiaddr %v, want an address of %s", l.ACK.YourIPAddr, subnetStr)
		}
		if l.ACK.MessageType() != dhcpv4.MessageTypeAck {
			t.Errorf("reply %v, want ACK", l.ACK.MessageType())
		}
		// nclient4 retransmits after 1 s; on a quiet lab the exchange is
		// exactly one DISCOVER and one REQUEST.
		wantDeltas(t, before, after, map[string]int64{
			"xdp-redirected":        2,
			"fastpath-rx-frames":    2,
			"fastpath-handoffs":     2,
			"fastpath-slow-replies": 2,
			"pkt4-received":         2,
			"pkt4-ack-sent":         1,
			"pkt4-offer-sent":       1,
		})
		if got := delta(t, before, after, "xdp-pass-xsk-missing"); got != 0 {
			t.Errorf("xdp-pass-xsk-missing grew by %d: requests bypassed the AF_XDP socket", got)
		}
		t.Logf("%s: DORA through XDP+AF_XDP, lease %v", e.mode, l.ACK.YourIPAddr)
	})
}
