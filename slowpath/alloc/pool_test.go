package alloc

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"
)

func mustPool(t testing.TB, first, last string) *Pool {
	t.Helper()
	p, err := NewPool(netip.MustParseAddr(first), netip.MustParseAddr(last))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNewPoolErrors(t *testing.T) {
	tests := []struct{ first, last string }{
		{"10.0.0.10", "10.0.0.9"},      // reversed
		{"2001:db8::1", "2001:db8::9"}, // IPv6
		{"10.0.0.0", "11.0.0.0"},       // 2^24 + 1 addresses
	}
	for _, tt := range tests {
		if _, err := NewPool(netip.MustParseAddr(tt.first), netip.MustParseAddr(tt.last)); !errors.Is(err, ErrBadRange) {
			t.Errorf("%s-%s: %v", tt.first, tt.last, err)
		}
	}
	p := mustPool(t, "::ffff:10.0.0.1", "10.0.0.1") // mapped form is fine; one address
	if p.Size() != 1 || p.First() != netip.MustParseAddr("10.0.0.1") || p.Last() != p.First() {
		t.Errorf("single-address pool: size %d %v-%v", p.Size(), p.First(), p.Last())
	}
}

func TestExhaustionAndRoundRobin(t *testing.T) {
	// Not aligned to 64: first word and tail word are partial.
	p := mustPool(t, "10.0.0.250", "10.0.1.69") // 76 addresses
	if p.Size() != 76 {
		t.Fatalf("Size %d", p.Size())
	}
	prev := netip.Addr{}
	for i := range 76 {
		a, ok := p.Next()
		if !ok {
			t.Fatalf("exhausted after %d", i)
		}
		if !p.Contains(a) {
			t.Fatalf("%v outside the pool", a)
		}
		// Round-robin from the start of an empty pool: ascending.
		if prev.IsValid() && a != prev.Next() {
			t.Fatalf("allocation %d: %v after %v", i, a, prev)
		}
		prev = a
	}
	if _, ok := p.Next(); ok {
		t.Fatal("Next succeeded on a full pool")
	}
	if p.Used() != 76 {
		t.Errorf("Used %d", p.Used())
	}
	// A released address is found again, from the wrapped cursor.
	x := netip.MustParseAddr("10.0.1.3")
	p.Release(x)
	p.Release(x) // double release is a no-op
	if p.Used() != 75 {
		t.Errorf("Used %d after release", p.Used())
	}
	if a, ok := p.Next(); !ok || a != x {
		t.Errorf("Next after release: %v %v, want %v", a, ok, x)
	}
}

func TestReleasedAddressNotReusedImmediately(t *testing.T) {
	p := mustPool(t, "192.168.0.0", "192.168.0.255")
	a, _ := p.Next()
	p.Release(a)
	b, _ := p.Next()
	if a == b {
		t.Errorf("round robin handed %v out again at once", a)
	}
}

func TestClaimRelease(t *testing.T) {
	p := mustPool(t, "10.0.0.0", "10.0.0.127")
	in := netip.MustParseAddr("10.0.0.5")
	if !p.Claim(in) || p.Claim(in) {
		t.Error("Claim: first must succeed, second fail")
	}
	for _, out := range []string{"10.0.0.128", "9.255.255.255", "2001:db8::5", "0.0.0.0"} {
		a := netip.MustParseAddr(out)
		if p.Claim(a) || p.Contains(a) {
			t.Errorf("%s claimed or contained", out)
		}
		p.Release(a) // no-op, no panic
	}
	if p.Used() != 1 {
		t.Errorf("Used %d", p.Used())
	}
	// Claimed addresses are never handed out.
	for {
		a, ok := p.Next()
		if !ok {
			break
		}
		if a == in {
			t.Fatal("Next returned a claimed address")
		}
	}
	if p.Used() != 128 {
		t.Errorf("Used %d", p.Used())
	}
}

func TestNextFunc(t *testing.T) {
	p := mustPool(t, "10.0.0.0", "10.0.0.199")
	odd := func(a netip.Addr) bool { return a.As4()[3]%2 == 1 }
	n := 0
	for {
		a, ok := p.NextFunc(odd)
		if !ok {
			break
		}
		if odd(a) {
			t.Fatalf("NextFunc returned skipped %v", a)
		}
		n++
	}
	if n != 100 || p.Used() != 100 {
		t.Fatalf("got %d, Used %d; want the 100 even addresses", n, p.Used())
	}
	// Skipped addresses stayed free.
	if a, ok := p.Next(); !ok || !odd(a) {
		t.Errorf("Next after NextFunc: %v %v", a, ok)
	}
	// The search wraps round: everything below the cursor is still found.
	q := mustPool(t, "10.0.0.0", "10.0.0.9")
	for range 8 {
		q.Next()
	}
	q.Release(netip.MustParseAddr("10.0.0.2"))
	var seen []netip.Addr
	a, ok := q.NextFunc(func(a netip.Addr) bool { seen = append(seen, a); return a != netip.MustParseAddr("10.0.0.2") })
	if !ok || a != netip.MustParseAddr("10.0.0.2") || len(seen) != 3 {
		t.Errorf("wrapped NextFunc: %v %v, saw %v", a, ok, seen)
	}
}

// TestModel checks random operations against a map.
func TestModel(t *testing.T) {
	// The second range spans several summary and top-level words.
	for _, r := range [][2]string{{"172.16.3.7", "172.16.7.200"}, {"172.16.3.7", "172.20.7.200"}} {
		t.Run(r[0]+"-"+r[1], func(t *testing.T) { testModel(t, mustPool(t, r[0], r[1])) })
	}
}

func testModel(t *testing.T, p *Pool) {
	used := map[netip.Addr]bool{}
	r := rand.New(rand.NewPCG(1, 2))
	first, size := key(p.First()), uint32(p.Size())
	for i := range 100_000 {
		a := addr(first - 20 + r.Uint32N(size+40)) // some out of range
		switch r.IntN(4) {
		case 0:
			got := p.Claim(a)
			want := p.Contains(a) && !used[a]
			if got != want {
				t.Fatalf("op %d Claim(%v) = %v, want %v", i, a, got, want)
			}
			if got {
				used[a] = true
			}
		case 1:
			p.Release(a)
			delete(used, a)
		default:
			b, ok := p.Next()
			if ok != (len(used) < int(size)) {
				t.Fatalf("op %d Next ok=%v with %d used", i, ok, len(used))
			}
			if ok {
				if used[b] || !p.Contains(b) {
					t.Fatalf("op %d Next returned %v (used %v)", i, b, used[b])
				}
				used[b] = true
			}
		}
		if p.Used() != uint64(len(used)) {
			t.Fatalf("op %d Used %d, model %d", i, p.Used(), len(used))
		}
	}
}

func TestConcurrentNextNeverDuplicates(t *testing.T) {
	p := mustPool(t, "10.20.0.0", "10.20.15.255") // a /20
	const workers = 16
	results := make([][]netip.Addr, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1; ; i++ {
				a, ok := p.Next()
				if !ok {
					return
				}
				if i%7 == 0 && i < 500 { // churn: give some back early on
					p.Release(a)
					continue
				}
				results[w] = append(results[w], a)
			}
		}()
	}
	wg.Wait()
	seen := map[netip.Addr]bool{}
	for _, rs := range results {
		for _, a := range rs {
			if seen[a] {
				t.Fatalf("%v handed out twice", a)
			}
			seen[a] = true
		}
	}
	if len(seen) != 4096 || p.Used() != 4096 {
		t.Errorf("%d distinct, Used %d, want 4096", len(seen), p.Used())
	}
}

func TestSlash8(t *testing.T) {
	last := "10.255.255.255"
	if testing.Short() {
		last = "10.15.255.255" // a /12
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	p := mustPool(t, "10.0.0.0", last)
	runtime.GC()
	runtime.ReadMemStats(&after)
	mem := after.HeapAlloc - before.HeapAlloc
	n := int(p.Size())
	start := time.Now()
	for i := range n {
		if _, ok := p.Next(); !ok {
			t.Fatalf("exhausted at %d", i)
		}
	}
	fill := time.Since(start)
	if _, ok := p.Next(); ok {
		t.Fatal("Next succeeded on a full pool")
	}
	// Nearly full: free scattered addresses, then find them all again.
	r := rand.New(rand.NewPCG(3, 4))
	for range 100 {
		p.Release(addr(key(p.First()) + r.Uint32N(uint32(n))))
	}
	holes := uint64(n) - p.Used()
	start = time.Now()
	found := uint64(0)
	for {
		if _, ok := p.Next(); !ok {
			break
		}
		found++
	}
	sparse := time.Since(start)
	t.Logf("pool of %d: %d KiB bitmap; fill %.1f ns/Next; nearly full %.0f ns/Next",
		n, mem/1024, float64(fill.Nanoseconds())/float64(n), float64(sparse.Nanoseconds())/float64(max(found, 1)))
	if found != holes || p.Used() != uint64(n) {
		t.Errorf("refound %d of %d holes, Used %d", found, holes, p.Used())
	}
	if limit := uint64(n)/8 + 64<<10; mem > limit {
		t.Errorf("bitmap uses %d bytes, want under %d", mem, limit)
	}
	runtime.KeepAlive(p)
}

func TestNextDoesNotAllocate(t *testing.T) {
	p := mustPool(t, "10.0.0.0", "10.0.255.255")
	skip := func(a netip.Addr) bool { return false }
	allocs := testing.AllocsPerRun(1000, func() {
		a, _ := p.Next()
		p.Release(a)
		b, _ := p.NextFunc(skip)
		p.Release(b)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per Next/NextFunc/Release", allocs)
	}
}

// benchNextRelease measures one Next and the Release of what it took, on
// p as the benchmark prepared it.
func benchNextRelease(b *testing.B, p *Pool) {
	b.ReportAllocs()
	for b.Loop() {
		a, ok := p.Next()
		if !ok {
			b.Fatal("exhausted")
		}
		p.Release(a)
	}
}

func BenchmarkNext(b *testing.B) {
	p := mustPool(b, "10.0.0.0", "10.255.255.255")
	// Half full, so Next and Release both do real work.
	for range p.Size() / 2 {
		p.Next()
	}
	benchNextRelease(b, p)
}

func BenchmarkNextNearlyFull(b *testing.B) {
	p := mustPool(b, "10.0.0.0", "10.255.255.255")
	for range p.Size() {
		p.Next()
	}
	// One free address, far from the cursor: worst case summary scan.
	hole := addr(key(p.First()) + uint32(p.Size()/2))
	p.Release(hole)
	benchNextRelease(b, p)
}

func BenchmarkNextParallel(b *testing.B) {
	p := mustPool(b, "10.0.0.0", "10.255.255.255")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			a, _ := p.Next()
			p.Release(a)
		}
	})
}

// The two halves of a pool are disjoint, cover it, and NextIn hands out
// every address of its half and nothing else, whatever the cursor.
func TestNextInHalves(t *testing.T) {
	for _, size := range []int{1, 2, 3, 250, 1000} {
		last := netip.MustParseAddr("10.1.0.0")
		for range size - 1 {
			last = last.Next()
		}
		p := mustPool(t, "10.1.0.0", last.String())
		halves := []Part{{Index: 0, Parts: 2}, {Index: 1, Parts: 2}}
		seen := map[netip.Addr]int{}
		// Move the cursor into the upper half first.
		for range size * 3 / 4 {
			a, _ := p.Next()
			p.Release(a)
		}
		for h, pt := range halves {
			for {
				a, ok := p.NextIn(pt)
				if !ok {
					break
				}
				if _, dup := seen[a]; dup {
					t.Fatalf("size %d: %v handed out twice", size, a)
				}
				seen[a] = h
				if !p.InPart(a, pt) || p.InPart(a, halves[1-h]) {
					t.Fatalf("size %d: %v from half %d: InPart disagrees", size, a, h)
				}
			}
		}
		if len(seen) != size || p.Used() != uint64(size) {
			t.Fatalf("size %d: halves gave %d addresses, pool used %d", size, len(seen), p.Used())
		}
		lower := 0
		for a, h := range seen {
			if h == 0 {
				lower++
				if f, l, ok := p.PartRange(halves[0]); !ok || a.Less(f) || l.Less(a) {
					t.Fatalf("size %d: %v outside the lower half's range", size, a)
				}
			}
		}
		if lower != size/2 {
			t.Errorf("size %d: lower half %d addresses, want %d", size, lower, size/2)
		}
	}
}

// The whole pool is the zero Part.
func TestNextInWhole(t *testing.T) {
	p := mustPool(t, "10.0.0.1", "10.0.0.4")
	for range 4 {
		if _, ok := p.NextIn(Part{}); !ok {
			t.Fatal("whole pool exhausted early")
		}
	}
	if _, ok := p.NextIn(Part{}); ok {
		t.Fatal("allocated past exhaustion")
	}
	if !p.InPart(netip.MustParseAddr("10.0.0.4"), Part{}) || p.InPart(netip.MustParseAddr("10.0.0.5"), Part{}) {
		t.Error("InPart of the whole pool")
	}
}

func TestNextInAllocs(t *testing.T) {
	p := mustPool(t, "10.0.0.0", "10.0.255.255")
	pt := Part{Index: 1, Parts: 2}
	if n := testing.AllocsPerRun(100, func() {
		a, _ := p.NextIn(pt)
		p.Release(a)
	}); n != 0 {
		t.Errorf("NextIn allocates %v times", n)
	}
}
