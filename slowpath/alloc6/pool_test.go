package alloc6

import (
	"net/netip"
	"testing"
)

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

func TestAddrPoolOrderExhaustionReuse(t *testing.T) {
	p, err := NewAddrPool(mustAddr("2001:db8::10"), mustAddr("2001:db8::14"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Size() != 5 || p.PrefixLen() != 128 {
		t.Fatalf("size %d, prefix len %d", p.Size(), p.PrefixLen())
	}
	// A lease loaded from the store is skipped.
	if !p.Mark(mustAddr("2001:db8::11")) {
		t.Fatal("Mark of a pool address failed")
	}
	var got []string
	for {
		a, ok := p.Next()
		if !ok {
			break
		}
		got = append(got, a.String())
	}
	want := "[2001:db8::10 2001:db8::12 2001:db8::13 2001:db8::14]"
	if s := netipList(got); s != want {
		t.Fatalf("handed out %s, want %s", s, want)
	}
	if p.Used() != 5 {
		t.Errorf("used %d, want 5", p.Used())
	}
	// Released candidates come back oldest first once the cursor has
	// passed the end.
	p.Release(mustAddr("2001:db8::13"))
	p.Release(mustAddr("2001:db8::10"))
	p.Release(mustAddr("2001:db8::10")) // twice: no effect
	p.Release(mustAddr("2001:db8::99")) // outside: no effect
	if a, _ := p.Next(); a != mustAddr("2001:db8::13") {
		t.Errorf("first reuse %v, want 2001:db8::13", a)
	}
	if !p.Take(mustAddr("2001:db8::10")) {
		t.Error("Take of a released address failed")
	}
	if p.Take(mustAddr("2001:db8::10")) {
		t.Error("Take of a used address succeeded")
	}
	if a, ok := p.Next(); ok {
		t.Errorf("full pool handed out %v", a)
	}
}

func TestPrefixPool(t *testing.T) {
	p, err := NewPrefixPool(netip.MustParsePrefix("2001:db8:100::/40"), 56)
	if err != nil {
		t.Fatal(err)
	}
	if p.Size() != 1<<16 || p.PrefixLen() != 56 {
		t.Fatalf("size %d, prefix len %d", p.Size(), p.PrefixLen())
	}
	p.Mark(mustAddr("2001:db8:100:100::"))
	a, _ := p.Next()
	b, _ := p.Next()
	if a != mustAddr("2001:db8:100::") || b != mustAddr("2001:db8:100:200::") {
		t.Errorf("first prefixes %v %v", a, b)
	}
	for _, c := range []string{"2001:db8:100:180::", "2001:db8:200::", "2001:db8:ff::", "192.0.2.1"} {
		if p.Contains(mustAddr(c)) || p.Take(mustAddr(c)) {
			t.Errorf("%s counted as a /56 of the pool", c)
		}
	}
	last := mustAddr("2001:db8:1ff:ff00::")
	if !p.Contains(last) {
		t.Errorf("%v: last /56 not in the pool", last)
	}
	// Allocation stays O(1) whatever is taken ahead of the cursor.
	for range 1000 {
		if _, ok := p.Next(); !ok {
			t.Fatal("pool exhausted early")
		}
	}
	if p.Used() != 1003 {
		t.Errorf("used %d", p.Used())
	}
}

func TestHugePools(t *testing.T) {
	p, err := NewAddrPool(mustAddr("2001:db8::"), mustAddr("2001:db8::ffff:ffff:ffff:ffff"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Size() != MaxCandidates {
		t.Errorf("a /64 range counts %d", p.Size())
	}
	q, err := NewPrefixPool(netip.MustParsePrefix("2001:db8::/32"), 128)
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := q.Next(); a != mustAddr("2001:db8::") {
		t.Errorf("first /128 of a /32: %v", a)
	}
	for _, bad := range []func() error{
		func() error { _, err := NewAddrPool(mustAddr("2001:db8::2"), mustAddr("2001:db8::1")); return err },
		func() error { _, err := NewAddrPool(mustAddr("192.0.2.1"), mustAddr("192.0.2.2")); return err },
		func() error { _, err := NewPrefixPool(netip.MustParsePrefix("2001:db8::/48"), 40); return err },
	} {
		if bad() == nil {
			t.Error("a bad pool was accepted")
		}
	}
}

func netipList(s []string) string {
	out := "["
	for i, a := range s {
		if i > 0 {
			out += " "
		}
		out += a
	}
	return out + "]"
}
