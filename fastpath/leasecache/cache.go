package leasecache

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"sync"
	"sync/atomic"

	"xdhcp/handoff"
)

// MaxEntries is the largest entry limit New accepts; larger limits are
// lowered to it. 64 Mi leases need a 1 GiB slot table.
const MaxEntries = 1 << 26

var _ handoff.LeaseCache = (*Cache)(nil)

// Cache maps leased addresses to published entries: lock-free for readers,
// serialized for writers (see the package documentation). All methods are
// safe for concurrent use.
type Cache struct {
	slots []atomic.Pointer[Entry]
	mask  uint32
	shift uint // 32 - log2(len(slots)), for Fibonacci hashing
	max   int

	n         atomic.Int64
	evictions atomic.Uint64

	mu   sync.Mutex // writers only
	hand uint32     // eviction clock hand, under mu
}

// New returns a cache holding at most maxEntries leases. A limit of zero or
// less gives a cache that holds nothing (every Lookup misses), which is how
// caching is switched off. Limits above MaxEntries are lowered to it.
func New(maxEntries int) *Cache {
	maxEntries = min(max(maxEntries, 0), MaxEntries)
	size := 8
	if maxEntries > 0 {
		size = max(size, 1<<bits.Len(uint(2*maxEntries-1)))
	}
	return &Cache{
		slots: make([]atomic.Pointer[Entry], size),
		mask:  uint32(size - 1),
		shift: uint(32 - bits.TrailingZeros(uint(size))),
		max:   maxEntries,
	}
}

// home is the first slot to probe for addr: Fibonacci hashing spreads the
// consecutive addresses of a pool over the table.
func (c *Cache) home(addr [4]byte) uint32 {
	return (binary.BigEndian.Uint32(addr[:]) * 0x9e3779b1) >> c.shift
}

// Lookup returns the entry for addr. It takes no lock and does not allocate;
// the entry is immutable and stays valid after later writes. It may miss an
// entry that a concurrent Delete or eviction is shifting (see the package
// documentation).
func (c *Cache) Lookup(addr [4]byte) (*Entry, bool) {
	_, e := c.probe(addr)
	return e, e != nil
}

// Put publishes a copy of e, replacing any entry for e.Addr; the caller
// keeps e and its slices. It returns an error, and publishes nothing, if e
// fails Validate. On a cache created with a zero limit it does nothing.
func (c *Cache) Put(e *Entry) error {
	if err := Validate(e); err != nil {
		return fmt.Errorf("publish lease %d.%d.%d.%d: %w", e.Addr[0], e.Addr[1], e.Addr[2], e.Addr[3], err)
	}
	if c.max == 0 {
		return nil
	}
	cp := *e
	// One backing array for both slices: one allocation fewer per write,
	// and the full-slice expressions keep an append on one from
	// overwriting the other.
	buf := make([]byte, len(e.ClientID)+len(e.Options))
	n := copy(buf, e.ClientID)
	copy(buf[n:], e.Options)
	cp.ClientID = buf[:n:n]
	cp.Options = buf[n:]
	if len(e.ClientID) == 0 {
		cp.ClientID = nil
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	i, found := c.find(cp.Addr)
	if found {
		c.slots[i].Store(&cp)
		return nil
	}
	if int(c.n.Load()) >= c.max {
		c.evictOne()
		// The shift may have moved the empty slot the probe ended at.
		i, _ = c.find(cp.Addr)
	}
	c.slots[i].Store(&cp)
	c.n.Add(1)
	return nil
}

// Delete removes the entry for addr, if any; the slow path calls it when a
// lease is released, declined, expires or changes so that the cached ACK
// would be wrong.
func (c *Cache) Delete(addr [4]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i, found := c.find(addr); found {
		c.removeAt(i)
	}
}

// Purge removes every entry, for example after a reconfiguration changed
// what the entries were computed from.
func (c *Cache) Purge() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.slots {
		c.slots[i].Store(nil)
	}
	c.n.Store(0)
}

// Len returns the number of entries.
func (c *Cache) Len() int { return int(c.n.Load()) }

// Cap returns the entry limit.
func (c *Cache) Cap() int { return c.max }

// Evictions returns how many entries Put has evicted to stay within the
// limit since New.
func (c *Cache) Evictions() uint64 { return c.evictions.Load() }

// find returns the slot holding addr, or the empty slot where its probe
// ends. The load factor is at most one half, so an empty slot exists.
// Callers hold mu.
func (c *Cache) find(addr [4]byte) (uint32, bool) {
	i, e := c.probe(addr)
	return i, e != nil
}

// probe walks addr's probe sequence, at most once around the table, to the
// slot holding addr (returned with its entry) or to the first empty slot
// (returned with nil). Without mu, a concurrent shift can hide an entry,
// and the bound keeps a reader from going round forever.
func (c *Cache) probe(addr [4]byte) (uint32, *Entry) {
	i := c.home(addr)
	for range len(c.slots) {
		e := c.slots[i].Load()
		if e == nil || e.Addr == addr {
			return i, e
		}
		i = (i + 1) & c.mask
	}
	return i, nil
}

// evictOne removes the first live entry at or after the clock hand.
// Callers hold mu and know the table is not empty.
func (c *Cache) evictOne() {
	if evictSlot(c.slots, c.mask, &c.hand, c.entryHome) {
		c.n.Add(-1)
		c.evictions.Add(1)
	}
}

// removeAt empties slot i (see removeSlot). Callers hold mu.
func (c *Cache) removeAt(i uint32) {
	removeSlot(c.slots, c.mask, i, c.entryHome)
	c.n.Add(-1)
}

func (c *Cache) entryHome(e *Entry) uint32 { return c.home(e.Addr) }
