package slowpath6

import (
	"net/netip"
	"testing"

	"xdhcp/config"
	"xdhcp/slowpath/alloc"
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

// The halves of a pd-pool are its lower and upper delegated prefixes,
// and a part search never leaves its half, in pools too large for 64 bits.
func TestPoolPartsSplitCandidates(t *testing.T) {
	p := newPDPool(&config.PDPool{Prefix: netip.MustParsePrefix("2001:db8:100::/40"), DelegatedLen: 56})
	lower, upper := alloc.Part{Index: 0, Parts: 2}, alloc.Part{Index: 1, Parts: 2}
	mid := netip.MustParseAddr("2001:db8:180::")
	last := netip.MustParseAddr("2001:db8:17f:ff00::")
	if !p.inPart(last, lower) || p.inPart(last, upper) || p.inPart(mid, lower) || !p.inPart(mid, upper) {
		t.Errorf("%v and %v: not split between the halves at the middle", last, mid)
	}
	if a, ok := p.nextIn(upper, func(netip.Addr) bool { return true }); !ok || a != mid {
		t.Errorf("upper half's first prefix %v, want %v", a, mid)
	}
	var got []netip.Addr
	for range 3 {
		a, _ := p.nextIn(lower, func(a netip.Addr) bool { return a == last || a.Less(netip.MustParseAddr("2001:db8:100:100::")) })
		got = append(got, a)
	}
	if got[0] != netip.MustParseAddr("2001:db8:100::") || got[1] != last {
		t.Errorf("lower half's search gave %v, want its first prefix then its last", got)
	}
	// A /64 of addresses: 2^64 candidates, split in three.
	big := newAddrPool(&config.Pool6{First: netip.MustParseAddr("2001:db8::"), Last: netip.MustParseAddr("2001:db8::ffff:ffff:ffff:ffff")})
	lo, hi := big.partBounds(alloc.Part{Index: 2, Parts: 3})
	if want := (u128{1, 0}).mulDiv(2, 3); lo != want || hi != (u128{1, 0}) || want != (u128{0, 0xaaaaaaaaaaaaaaaa}) {
		t.Errorf("last third of 2^64: [%v, %v)", lo, hi)
	}
}
