package leasecache

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"xdhcp/fastpath/dhcpview"
	"xdhcp/handoff"
)

func addr(i uint32) [4]byte {
	var a [4]byte
	binary.BigEndian.PutUint32(a[:], 0x0a000000+i)
	return a
}

func entryFor(a [4]byte, gen uint32) *Entry {
	return &Entry{Addr: a, ServerID: [4]byte{10, 255, 255, 254}, HWLen: 6, ValidLft: gen,
		ClientID: []byte{1, a[2], a[3]}, Options: []byte{3, 4, 10, 0, 0, 1}}
}

func TestCachePutLookupDelete(t *testing.T) {
	c := New(100)
	if c.Len() != 0 || c.Cap() != 100 {
		t.Fatalf("len %d cap %d", c.Len(), c.Cap())
	}
	e := entryFor(addr(1), 1)
	if err := c.Put(e); err != nil {
		t.Fatal(err)
	}
	// Put copies: changing the caller's entry and slices changes nothing.
	e.ValidLft = 99
	e.ClientID[0] = 0xff
	e.Options[0] = 0xff
	got, ok := c.Lookup(addr(1))
	if !ok || got.ValidLft != 1 || got.ClientID[0] != 1 || got.Options[0] != 3 {
		t.Fatalf("lookup %+v %v", got, ok)
	}
	// Appending to the stored ClientID must not overwrite Options.
	_ = append(got.ClientID, 0xaa)
	if got.Options[0] != 3 {
		t.Fatal("ClientID and Options share capacity")
	}
	if _, ok := c.Lookup(addr(2)); ok {
		t.Fatal("phantom entry")
	}
	// Replace.
	if err := c.Put(entryFor(addr(1), 2)); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.Lookup(addr(1)); got.ValidLft != 2 || c.Len() != 1 {
		t.Fatalf("replace: %d len %d", got.ValidLft, c.Len())
	}
	// The old entry a reader held is unchanged.
	if got.ValidLft != 1 {
		t.Fatal("published entry mutated")
	}
	c.Delete(addr(1))
	c.Delete(addr(1)) // absent: no-op
	if _, ok := c.Lookup(addr(1)); ok || c.Len() != 0 {
		t.Fatal("delete failed")
	}
	if err := c.Put(&Entry{Addr: addr(3)}); !errors.Is(err, ErrBadEntry) {
		t.Fatalf("invalid entry accepted: %v", err)
	}
	if c.Len() != 0 {
		t.Fatal("invalid entry stored")
	}
}

func TestCacheDisabled(t *testing.T) {
	for _, n := range []int{0, -5} {
		c := New(n)
		if err := c.Put(entryFor(addr(1), 1)); err != nil {
			t.Fatal(err)
		}
		if _, ok := c.Lookup(addr(1)); ok || c.Len() != 0 {
			t.Fatalf("New(%d) stored an entry", n)
		}
	}
}

// TestCacheModel runs random operations against a map model on a small
// table, so that probe chains collide, wrap around the end of the table
// and get shifted by deletions and evictions.
func TestCacheModel(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, limit := range []int{1, 3, 8, 64} {
		c := New(limit)
		model := map[[4]byte]uint32{}
		for step := range 20000 {
			a := addr(uint32(r.IntN(limit * 3)))
			switch op := r.IntN(10); {
			case op < 6:
				gen := uint32(step)
				if err := c.Put(entryFor(a, gen)); err != nil {
					t.Fatal(err)
				}
				_, had := model[a]
				if !had && len(model) >= limit {
					// One entry was evicted: find which.
					for k := range model {
						if _, ok := c.Lookup(k); !ok {
							delete(model, k)
							break
						}
					}
				}
				model[a] = gen
			case op < 8:
				c.Delete(a)
				delete(model, a)
			default:
				c.Purge()
				clear(model)
			}
			if c.Len() != len(model) || c.Len() > limit {
				t.Fatalf("limit %d step %d: len %d, model %d", limit, step, c.Len(), len(model))
			}
			for k, gen := range model {
				e, ok := c.Lookup(k)
				if !ok || e.ValidLft != gen {
					t.Fatalf("limit %d step %d: %v missing or stale", limit, step, k)
				}
			}
		}
	}
}

func TestCacheEvictionBound(t *testing.T) {
	const limit = 1000
	c := New(limit)
	for i := range uint32(5 * limit) {
		if err := c.Put(entryFor(addr(i), i)); err != nil {
			t.Fatal(err)
		}
	}
	if c.Len() != limit || c.Evictions() != 4*limit {
		t.Fatalf("len %d evictions %d", c.Len(), c.Evictions())
	}
	n := 0
	for i := range uint32(5 * limit) {
		if _, ok := c.Lookup(addr(i)); ok {
			n++
		}
	}
	if n != limit {
		t.Fatalf("%d entries reachable, want %d", n, limit)
	}
	// Replacing an existing entry at the limit evicts nothing.
	ev := c.Evictions()
	for i := range uint32(5 * limit) {
		if _, ok := c.Lookup(addr(i)); ok {
			if err := c.Put(entryFor(addr(i), 1)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if c.Evictions() != ev {
		t.Fatal("replace evicted")
	}
}

// TestCacheConcurrent runs readers against writers that put, replace and
// delete; run it with -race. Readers must only ever get the entry of the
// address they asked for, with consistent contents; a set of entries that
// no writer touches may be missed transiently (while a deletion shifts a
// cluster they share) but must all be there when the writers stop.
func TestCacheConcurrent(t *testing.T) {
	c := New(4096)
	const stable = 512
	for i := range uint32(stable) {
		if err := c.Put(entryFor(addr(1<<20+i), 7)); err != nil {
			t.Fatal(err)
		}
	}
	var stop atomic.Bool
	var readers, writers sync.WaitGroup
	var lookups, misses, wrong atomic.Int64
	for w := range 2 {
		readers.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for !stop.Load() {
				a := addr(uint32(r.IntN(3000)))
				if e, ok := c.Lookup(a); ok && (e.Addr != a || e.ClientID[1] != a[2] || e.ClientID[2] != a[3]) {
					wrong.Add(1)
				}
				s := addr(1<<20 + uint32(r.IntN(stable)))
				if e, ok := c.Lookup(s); !ok {
					misses.Add(1)
				} else if e.Addr != s || e.ValidLft != 7 {
					wrong.Add(1)
				}
				lookups.Add(1)
			}
		})
	}
	for w := range 2 {
		writers.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 2))
			for i := range 20000 {
				a := addr(uint32(r.IntN(3000)))
				if i%3 == 0 {
					c.Delete(a)
				} else if err := c.Put(entryFor(a, uint32(i))); err != nil {
					t.Error(err)
				}
			}
		})
	}
	writers.Wait()
	stop.Store(true)
	readers.Wait()
	if wrong.Load() != 0 {
		t.Fatalf("%d lookups returned a wrong entry", wrong.Load())
	}
	for i := range uint32(stable) {
		if _, ok := c.Lookup(addr(1<<20 + i)); !ok {
			t.Fatalf("stable entry %d lost", i)
		}
	}
	reachable := stable
	for i := range uint32(3000) {
		if _, ok := c.Lookup(addr(i)); ok {
			reachable++
		}
	}
	if reachable != c.Len() {
		t.Fatalf("len %d, reachable %d", c.Len(), reachable)
	}
	t.Logf("%d reader iterations, %d transient misses of stable entries", lookups.Load(), misses.Load())
}

var (
	errMiss        = errors.New("miss")
	errNotReusable = errors.New("not reusable")
)

// cachedRenewal puts the lease of the base client, bound at cltt, into c
// and returns its entry, the payload of the client's RENEWING request and
// the headers that request arrived with.
func cachedRenewal(t testing.TB, c *Cache, cltt int64) (*Entry, []byte, *handoff.Meta) {
	t.Helper()
	sel, renew := requests(t, baseMods())
	e := baseEntry(t, sel, cltt)
	if err := c.Put(e); err != nil {
		t.Fatal(err)
	}
	reqM := handoff.Meta{SrcMAC: [6]byte(clientMAC), DstMAC: serverMAC, SrcIP: e.Addr, DstIP: e.ServerID, SrcPort: 68, DstPort: 67}
	_, rm, _ := requestFrame(t, renew.ToBytes(), reqM)
	return e, renew.ToBytes(), rm
}

// answerRenewal is what the fast path does with a renewal: parse payload
// into v, look its ciaddr up in c, check the entry is reusable at now and
// build the ACK into dst.
func answerRenewal(c *Cache, v *dhcpview.View, payload []byte, rm *handoff.Meta, now int64, dst []byte) error {
	if err := v.Parse(payload); err != nil {
		return err
	}
	got, ok := c.Lookup(v.Ciaddr())
	if !ok {
		return errMiss
	}
	rem, ok := Reusable(got, v, now)
	if !ok {
		return errNotReusable
	}
	_, err := BuildACK(dst, v, rm, got, rem, serverMAC)
	return err
}

func TestZeroAllocs(t *testing.T) {
	const cltt = 1_000_000
	c := New(1 << 10)
	_, payload, rm := cachedRenewal(t, c, cltt)
	dst := make([]byte, 2048)
	var v dhcpview.View
	allocs := testing.AllocsPerRun(500, func() {
		if err := answerRenewal(c, &v, payload, rm, cltt+10, dst); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per Lookup+Reusable+BuildACK", allocs)
	}
}

func BenchmarkRenewal(b *testing.B) {
	const cltt = 1_000_000
	c := New(1 << 20)
	e, payload, rm := cachedRenewal(b, c, cltt)
	// Half a million other leases around it.
	for i := range uint32(1 << 19) {
		o := *e
		o.Addr = addr(i)
		if err := c.Put(&o); err != nil {
			b.Fatal(err)
		}
	}
	dst := make([]byte, 2048)
	var v dhcpview.View
	b.ReportAllocs()
	for b.Loop() {
		if err := answerRenewal(c, &v, payload, rm, cltt+10, dst); err != nil {
			b.Fatal(err)
		}
	}
}
