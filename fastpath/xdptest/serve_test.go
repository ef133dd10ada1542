package xdptest

// How XDP serves: a full DORA through the AF_XDP socket and the slow path,
// and a renewal answered from the lease cache by the fast path alone.

import (
	"context"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"xdhcp/internal/daemontest"
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

// TestCachedRenewal: with cache-threshold 0.5, a renewal 1 s after the ACK
// is answered by the fast-path worker from the lease cache
// (fastpath-cache-hits +1, no hand-off to the slow path), the ACK carries
// the remaining lifetime rather than a fresh one, and the lease file does
// not change by a byte.
func TestCachedRenewal(t *testing.T) {
	forModes(t, func(t *testing.T, e *env) {
		const valid = 600
		cfg := e.config()
		cfg["valid-lifetime"] = valid
		cfg["renew-timer"] = valid / 4
		cfg["rebind-timer"] = valid / 2
		cfg["cache-threshold"] = 0.5
		d := e.serve(cfg)

		c := e.nclient(testMAC(4, 1))
		l := dora(t, c)
		acked := time.Now()
		if lt := l.ACK.IPAddressLeaseTime(0); lt != valid*time.Second {
			t.Fatalf("first ACK lease time %v, want %ds", lt, valid)
		}
		// The lease file is written before the ACK leaves (fsync
		// durability), so its size is final here.
		st0, err := os.Stat(e.leasePath())
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(1500 * time.Millisecond)

		before := d.stats()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r, err := c.Renew(ctx, l, daemontest.FreshXID())
		if err != nil {
			t.Fatalf("renewal: %v", err)
		}
		age := time.Since(acked)
		time.Sleep(100 * time.Millisecond)
		after := d.stats()

		if r.ACK.MessageType() != dhcpv4.MessageTypeAck || !r.ACK.YourIPAddr.Equal(l.ACK.YourIPAddr) {
			t.Errorf("renewal reply %v for %v, want ACK for %v", r.ACK.MessageType(), r.ACK.YourIPAddr, l.ACK.YourIPAddr)
		}
		wantDeltas(t, before, after, map[string]int64{
			"fastpath-cache-hits":   1,
			"fastpath-handoffs":     0,
			"fastpath-slow-replies": 0,
			"xdp-redirected":        1,
		})
		// Remaining lifetime: valid minus the lease's age, whole
		// seconds (the age is 1.5 s and a bit, so 598 or 599).
		lt := int64(r.ACK.IPAddressLeaseTime(0) / time.Second)
		lo := valid - int64(age/time.Second) - 2
		if lt >= valid || lt < lo {
			t.Errorf("cached ACK lease time %d s at age %v, want the remaining %d..%d s", lt, age.Round(time.Millisecond), lo, valid-1)
		}
		if t1 := int64(r.ACK.IPAddressRenewalTime(0) / time.Second); t1 <= 0 || t1 >= lt {
			t.Errorf("cached ACK renew timer %d s, want 0 < T1 < lease time %d", t1, lt)
		}
		st1, err := os.Stat(e.leasePath())
		if err != nil {
			t.Fatal(err)
		}
		if st1.Size() != st0.Size() || !st1.ModTime().Equal(st0.ModTime()) {
			t.Errorf("cached renewal wrote to the lease file: %d -> %d bytes, mtime %v -> %v",
				st0.Size(), st1.Size(), st0.ModTime(), st1.ModTime())
		}
		t.Logf("%s: cached renewal answered by the fast path, lease time %d s of %d, lease file unchanged (%d bytes)",
			e.mode, lt, valid, st1.Size())

		// dhcp-disable silences the fast path too: Kea answers nothing
		// while its service is disabled, cached or not.
		if a := d.cmd("dhcp-disable", nil, nil); a.Result != 0 {
			t.Fatalf("dhcp-disable: %d %s", a.Result, a.Text)
		}
		before = d.stats()
		ctx2, cancel2 := context.WithTimeout(context.Background(), 1500*time.Millisecond)
		defer cancel2()
		if r, err := c.Renew(ctx2, l, daemontest.FreshXID()); err == nil {
			t.Errorf("renewal answered (%v) while DHCP service is disabled", r.ACK.MessageType())
		}
		if got := delta(t, before, d.stats(), "fastpath-cache-hits"); got != 0 {
			t.Errorf("fastpath-cache-hits grew by %d while disabled, want 0", got)
		}
		if a := d.cmd("dhcp-enable", nil, nil); a.Result != 0 {
			t.Fatalf("dhcp-enable: %d %s", a.Result, a.Text)
		}
		ctx3, cancel3 := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel3()
		if _, err := c.Renew(ctx3, l, daemontest.FreshXID()); err != nil {
			t.Errorf("renewal after dhcp-enable: %v", err)
		}
	})
}
