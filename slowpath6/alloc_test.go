package slowpath6

import (
	"net/netip"
	"testing"

	"xdhcp/config"
)

// A /40 cut into /56s whose cursor comes round to a run of bound prefixes
// longer than maxAttempts still yields the free one after them; only a
// pool with every candidate bound refuses.
func TestPoolNextFindsFreePastLongBusyRun(t *testing.T) {
	p := newPDPool(&config.PDPool{Prefix: netip.MustParsePrefix("2001:db8:100::/40"), DelegatedLen: 56})
	want := netip.MustParseAddr("2001:db8:113:8800::") // candidate 5000: 0x1388 /56s in
	busy := func(a netip.Addr) bool { return a == want }
	got, ok := p.next(busy)
	if !ok || got != want {
		t.Fatalf("next after 5000 bound prefixes = %v, %v; want %v", got, ok, want)
	}
	if _, ok := p.next(func(netip.Addr) bool { return false }); ok {
		t.Fatal("a pool with every prefix bound gave one")
	}
}
