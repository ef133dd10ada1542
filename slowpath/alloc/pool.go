// Package alloc hands out IPv4 addresses from a pool range with a
// hierarchical bitmap: one bit per address, a summary bit per 64-bit word
// that still has a free address, and a top bit per summary word that is
// not zero. Memory is fixed at creation (about 2 MiB for a /8), and finding
// a free address reads a few words (at most a 64-word scan of the top level
// for a /8), with no allocation.
package alloc

import (
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
	"sync"
)

// MaxPoolSize is the largest pool: a /8.
const MaxPoolSize = 1 << 24

// ErrBadRange is wrapped by NewPool for an unusable range.
var ErrBadRange = errors.New("bad pool range")

// Pool is a range of IPv4 addresses with a used/free bit each. Addresses
// are handed out round-robin: a rotating cursor starts each search where
// the previous allocation ended, so a released address is not reused until
// the cursor comes round again (a returning client's old address stays free
// for it longer, and allocation does not always hit the lowest address).
//
// A Pool is safe for concurrent use.
type Pool struct {
	first uint32 // first address, host order
	size  uint32 // addresses in the pool, 1..MaxPoolSize

	mu      sync.Mutex
	used    uint64
	cursor  uint32   // offset where the next search starts
	words   []uint64 // bit set = address used; bits past size are set
	summary []uint64 // bit w set = words[w] has a free address
	top     []uint64 // bit s set = summary[s] is not zero
}

func key(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func addr(k uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(k >> 24), byte(k >> 16), byte(k >> 8), byte(k)})
}

// NewPool returns a pool of the addresses first..last inclusive, all
// free. Both must be IPv4 (IPv4-mapped IPv6 is accepted), first <= last,
// and the range at most MaxPoolSize addresses.
func NewPool(first, last netip.Addr) (*Pool, error) {
	first, last = first.Unmap(), last.Unmap()
	if !first.Is4() || !last.Is4() {
		return nil, fmt.Errorf("%w: %v-%v: not IPv4", ErrBadRange, first, last)
	}
	f, l := key(first), key(last)
	if f > l {
		return nil, fmt.Errorf("%w: %v-%v: first after last", ErrBadRange, first, last)
	}
	if n := uint64(l) - uint64(f) + 1; n > MaxPoolSize {
		return nil, fmt.Errorf("%w: %v-%v: %d addresses, more than %d (a /8)", ErrBadRange, first, last, n, MaxPoolSize)
	}
	p := &Pool{first: f, size: l - f + 1}
	nw := (p.size + 63) / 64
	p.words = make([]uint64, nw)
	p.summary = make([]uint64, (nw+63)/64)
	p.top = make([]uint64, (len(p.summary)+63)/64)
	for w := range nw {
		p.summary[w>>6] |= 1 << (w & 63)
	}
	for sw := range len(p.summary) {
		p.top[sw>>6] |= 1 << (sw & 63)
	}
	if tail := p.size % 64; tail != 0 {
		// Bits past the end are permanently used, so searches never
		// return them and a full last word reads as full.
		p.words[nw-1] = ^uint64(0) << tail
	}
	return p, nil
}

// First returns the first address of the pool.
func (p *Pool) First() netip.Addr { return addr(p.first) }

// Last returns the last address of the pool.
func (p *Pool) Last() netip.Addr { return addr(p.first + p.size - 1) }

// Size returns the number of addresses in the pool.
func (p *Pool) Size() uint64 { return uint64(p.size) }

// Used returns the number of used addresses.
func (p *Pool) Used() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.used
}

// offset returns a's offset in the pool.
func (p *Pool) offset(a netip.Addr) (uint32, bool) {
	a = a.Unmap()
	if !a.Is4() {
		return 0, false
	}
	off := key(a) - p.first // wraps for addresses below first
	return off, off < p.size
}

// Contains reports whether a is in the pool's range.
func (p *Pool) Contains(a netip.Addr) bool {
	_, ok := p.offset(a)
	return ok
}

// Claim marks a used. It returns false if a is out of range or already
// used. Use it to mark addresses of loaded leases and reservations.
func (p *Pool) Claim(a netip.Addr) bool {
	off, ok := p.offset(a)
	if !ok {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.words[off>>6]&(1<<(off&63)) != 0 {
		return false
	}
	p.take(off)
	return true
}

// Release marks a free. It does nothing if a is out of range or free.
func (p *Pool) Release(a netip.Addr) {
	off, ok := p.offset(a)
	if !ok {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	w, bit := off>>6, uint64(1)<<(off&63)
	if p.words[w]&bit == 0 {
		return
	}
	p.words[w] &^= bit
	p.summary[w>>6] |= 1 << (w & 63)
	p.top[w>>12] |= 1 << ((w >> 6) & 63)
	p.used--
}

// StartAt moves the cursor: the next search starts at the pool's address
// of offset off (modulo the pool's size).
func (p *Pool) StartAt(off uint64) {
	p.mu.Lock()
	p.cursor = uint32(off % uint64(p.size))
	p.mu.Unlock()
}

// Next claims and returns a free address, searching round-robin from the
// cursor. It returns false when the pool is exhausted.
func (p *Pool) Next() (netip.Addr, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	off, ok := p.findFree(p.cursor)
	if !ok {
		if off, ok = p.findFree(0); !ok {
			return netip.Addr{}, false
		}
	}
	p.take(off)
	p.advance(off)
	return addr(p.first + off), true
}

// NextFunc is Next, but skips every free address for which skip returns
// true (those stay free): for example addresses that are reserved for
// other clients or that answered a ping. It returns false when every free
// address was skipped. skip runs with the pool locked, so it must not call
// the Pool's methods.
func (p *Pool) NextFunc(skip func(netip.Addr) bool) (netip.Addr, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	start := p.cursor
	// Search [start, size), then wrap round to [0, start).
	for _, r := range [2][2]uint32{{start, p.size}, {0, start}} {
		for pos := r[0]; pos < r[1]; {
			off, ok := p.findFree(pos)
			if !ok || off >= r[1] {
				break
			}
			a := addr(p.first + off)
			if skip(a) {
				pos = off + 1
				continue
			}
			p.take(off)
			p.advance(off)
			return a, true
		}
	}
	return netip.Addr{}, false
}

func (p *Pool) take(off uint32) {
	w := off >> 6
	p.words[w] |= 1 << (off & 63)
	if p.words[w] == ^uint64(0) {
		sw := w >> 6
		p.summary[sw] &^= 1 << (w & 63)
		if p.summary[sw] == 0 {
			p.top[sw>>6] &^= 1 << (sw & 63)
		}
	}
	p.used++
}

func (p *Pool) advance(off uint32) {
	p.cursor = off + 1
	if p.cursor >= p.size {
		p.cursor = 0
	}
}

// findFree returns the lowest free offset >= from, without wrapping.
func (p *Pool) findFree(from uint32) (uint32, bool) {
	if from >= p.size {
		return 0, false
	}
	w := from >> 6
	if free := ^p.words[w] & (^uint64(0) << (from & 63)); free != 0 {
		return w<<6 | uint32(bits.TrailingZeros64(free)), true
	}
	// Later words in this summary word.
	w++
	sw := w >> 6
	if int(sw) >= len(p.summary) {
		return 0, false
	}
	if s := p.summary[sw] & (^uint64(0) << (w & 63)); s != 0 {
		return p.firstFreeIn(sw<<6 | uint32(bits.TrailingZeros64(s))), true
	}
	// Later summary words: the top level skips the full ones.
	sw++
	tw := sw >> 6
	if int(tw) >= len(p.top) {
		return 0, false
	}
	t := p.top[tw] & (^uint64(0) << (sw & 63))
	for t == 0 {
		tw++
		if int(tw) >= len(p.top) {
			return 0, false
		}
		t = p.top[tw]
	}
	sw = tw<<6 | uint32(bits.TrailingZeros64(t))
	return p.firstFreeIn(sw<<6 | uint32(bits.TrailingZeros64(p.summary[sw]))), true
}

// firstFreeIn returns the lowest free offset in words[w], which has one.
func (p *Pool) firstFreeIn(w uint32) uint32 {
	return w<<6 | uint32(bits.TrailingZeros64(^p.words[w]))
}

// A Part names one of Parts equal, disjoint, contiguous shares of every
// pool: part i of n holds the offsets [size·i/n, size·(i+1)/n). Two servers
// that compute it from the same pool range and the same (i, n) agree on
// it address by address. The zero Part (and any Parts below 2) is the
// whole pool.
type Part struct {
	Index, Parts uint8
}

// Whole reports whether pt is the whole pool.
func (pt Part) Whole() bool { return pt.Parts < 2 || pt.Index >= pt.Parts }

// bounds is pt's offset range in a pool of size addresses.
func (pt Part) bounds(size uint32) (lo, hi uint32) {
	if pt.Whole() {
		return 0, size
	}
	n, i := uint64(pt.Parts), uint64(pt.Index)
	return uint32(uint64(size) * i / n), uint32(uint64(size) * (i + 1) / n)
}

// InPart reports whether a is in part pt of the pool.
func (p *Pool) InPart(a netip.Addr, pt Part) bool {
	off, ok := p.offset(a)
	if !ok {
		return false
	}
	lo, hi := pt.bounds(p.size)
	return off >= lo && off < hi
}

// PartRange returns the first and last address of part pt of the pool;
// ok is false when the part is empty (a pool smaller than its parts).
func (p *Pool) PartRange(pt Part) (first, last netip.Addr, ok bool) {
	lo, hi := pt.bounds(p.size)
	if lo >= hi {
		return netip.Addr{}, netip.Addr{}, false
	}
	return addr(p.first + lo), addr(p.first + hi - 1), true
}

// NextIn is Next within part pt of the pool: it claims a free address of
// that part, searching round-robin from the cursor (or the part's start
// when the cursor is outside it). It returns false when the part has no
// free address, whatever the rest of the pool holds.
func (p *Pool) NextIn(pt Part) (netip.Addr, bool) {
	if pt.Whole() {
		return p.Next()
	}
	lo, hi := pt.bounds(p.size)
	p.mu.Lock()
	defer p.mu.Unlock()
	start := p.cursor
	if start < lo || start >= hi {
		start = lo
	}
	for _, r := range [2][2]uint32{{start, hi}, {lo, start}} {
		if off, ok := p.findFree(r[0]); ok && off < r[1] {
			p.take(off)
			p.advance(off)
			return addr(p.first + off), true
		}
	}
	return netip.Addr{}, false
}
