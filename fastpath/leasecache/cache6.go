package leasecache

import (
	"bytes"
	"fmt"
	"math/bits"
	"sync"
	"sync/atomic"

	"xdhcp/handoff"
)

var _ handoff.LeaseCache6 = (*Cache6)(nil)

// Cache6 maps DHCPv6 client DUIDs to published entries, with the design of
// Cache (see the package documentation): a fixed open-addressing table of
// atomic pointers to immutable entries, lock-free for the fast path's
// readers, writers serialized on a mutex, backward-shift deletion, a clock
// hand for eviction. All methods are safe for concurrent use.
type Cache6 struct {
	slots []atomic.Pointer[Entry6]
	mask  uint32
	max   int

	n         atomic.Int64
	evictions atomic.Uint64

	mu   sync.Mutex // writers only
	hand uint32     // eviction clock hand, under mu
}

// NewCache6 returns a cache holding at most maxEntries clients; zero or
// less holds nothing (every Lookup misses). Limits above MaxEntries are
// lowered to it.
func NewCache6(maxEntries int) *Cache6 {
	maxEntries = min(max(maxEntries, 0), MaxEntries)
	size := 8
	if maxEntries > 0 {
		size = max(size, 1<<bits.Len(uint(2*maxEntries-1)))
	}
	return &Cache6{slots: make([]atomic.Pointer[Entry6], size), mask: uint32(size - 1), max: maxEntries}
}

// home is the first slot to probe for duid: FNV-1a over the DUID (whose
// last bytes, a MAC or a counter, are the ones that vary).
func (c *Cache6) home(duid []byte) uint32 {
	h := uint32(2166136261)
	for _, b := range duid {
		h = (h ^ uint32(b)) * 16777619
	}
	return h & c.mask
}

// Lookup returns the entry for duid without locking or allocating; it may
// miss an entry a concurrent Delete6 or eviction is shifting.
func (c *Cache6) Lookup(duid []byte) (*Entry6, bool) {
	_, e := c.probe(duid)
	return e, e != nil
}

// Put6 publishes a copy of e (the caller keeps e and its slices), replacing
// any entry for e.DUID. It returns an error, and publishes nothing, if e
// fails Validate6. On a cache created with a zero limit it does nothing.
func (c *Cache6) Put6(e *Entry6) error {
	if err := Validate6(e); err != nil {
		return fmt.Errorf("publish bindings of DUID %x: %w", e.DUID, err)
	}
	if c.max == 0 {
		return nil
	}
	cp := copyEntry6(e)
	c.mu.Lock()
	defer c.mu.Unlock()
	i, found := c.find(cp.DUID)
	if found {
		c.slots[i].Store(cp)
		return nil
	}
	if int(c.n.Load()) >= c.max {
		c.evictOne()
		i, _ = c.find(cp.DUID)
	}
	c.slots[i].Store(cp)
	c.n.Add(1)
	return nil
}

// copyEntry6 copies e deeply, so that the caller's later changes cannot
// reach a published entry. The copy takes four allocations whatever the
// entry holds: one for the entry, one for all its bytes, one for its IAs
// and one for their leases (and one for its relays, if any); a published
// entry is never changed, so its parts may share backing arrays.
func copyEntry6(e *Entry6) *Entry6 {
	cp := *e
	n, nLeases := len(e.DUID)+len(e.ServerDUID)+len(e.Options), 0
	for _, rl := range e.Relays {
		n += len(rl.Options)
	}
	for _, ia := range e.IAs {
		n += len(ia.Options)
		nLeases += len(ia.Leases)
		for _, l := range ia.Leases {
			n += len(l.Options)
		}
	}
	buf := make([]byte, 0, n)
	// clone appends b to buf and returns the copy (nil stays nil).
	clone := func(b []byte) []byte {
		if b == nil {
			return nil
		}
		start := len(buf)
		buf = append(buf, b...)
		return buf[start:len(buf):len(buf)]
	}
	cp.DUID = clone(e.DUID)
	cp.ServerDUID = clone(e.ServerDUID)
	cp.Options = clone(e.Options)
	cp.Relays = make([]handoff.CachedRelay6, len(e.Relays))
	for i, rl := range e.Relays {
		rl.Options = clone(rl.Options)
		cp.Relays[i] = rl
	}
	cp.IAs = make([]handoff.CachedIA6, len(e.IAs))
	leases := make([]handoff.CachedLease6Addr, 0, nLeases)
	for i, ia := range e.IAs {
		ia.Options = clone(ia.Options)
		start := len(leases)
		for _, l := range ia.Leases {
			l.Options = clone(l.Options)
			leases = append(leases, l)
		}
		ia.Leases = leases[start:len(leases):len(leases)]
		cp.IAs[i] = ia
	}
	return &cp
}

// Delete6 removes the entry for duid, if any.
func (c *Cache6) Delete6(duid []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i, found := c.find(duid); found {
		c.removeAt(i)
	}
}

// Purge6 removes every entry.
func (c *Cache6) Purge6() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.slots {
		c.slots[i].Store(nil)
	}
	c.n.Store(0)
}

// Len returns the number of entries.
func (c *Cache6) Len() int { return int(c.n.Load()) }

// Evictions returns how many entries Put6 has evicted to stay within the
// limit.
func (c *Cache6) Evictions() uint64 { return c.evictions.Load() }

func (c *Cache6) find(duid []byte) (uint32, bool) {
	i, e := c.probe(duid)
	return i, e != nil
}

// probe walks duid's probe sequence, at most once around the table, to
// the slot holding it or to the first empty slot (nil entry).
func (c *Cache6) probe(duid []byte) (uint32, *Entry6) {
	i := c.home(duid)
	for range len(c.slots) {
		e := c.slots[i].Load()
		if e == nil || bytes.Equal(e.DUID, duid) {
			return i, e
		}
		i = (i + 1) & c.mask
	}
	return i, nil
}

// evictOne removes the first live entry at or after the clock hand.
func (c *Cache6) evictOne() {
	if evictSlot(c.slots, c.mask, &c.hand, c.entryHome) {
		c.n.Add(-1)
		c.evictions.Add(1)
	}
}

// removeAt empties slot i (see removeSlot).
func (c *Cache6) removeAt(i uint32) {
	removeSlot(c.slots, c.mask, i, c.entryHome)
	c.n.Add(-1)
}

func (c *Cache6) entryHome(e *Entry6) uint32 { return c.home(e.DUID) }
