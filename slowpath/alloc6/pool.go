// Package alloc6 hands out DHCPv6 addresses (IA_NA, from a pool range)
// and delegated prefixes (IA_PD, from a pd-pool's prefix split at its
// delegated length) without scanning: a cursor walks the candidates once
// in order, skipping the few already taken, and released candidates wait
// in a queue until the cursor has passed the end. Every operation is O(1)
// amortized and memory is proportional to the candidates in use, so a /64
// address range or a /32 split into /56s costs nothing until used.
package alloc6

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
	"sync"
)

// MaxCandidates caps the size a pool counts: a range of more addresses
// (or prefixes) than this is served as if it had this many, which no
// server ever exhausts.
const MaxCandidates = 1 << 62

// ErrBadPool is wrapped by the constructors for an unusable pool.
var ErrBadPool = errors.New("bad DHCPv6 pool")

// u128 is an IPv6 address as an integer.
type u128 struct{ hi, lo uint64 }

func toU128(a netip.Addr) u128 {
	b := a.As16()
	return u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

func (u u128) addr() netip.Addr {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], u.hi)
	binary.BigEndian.PutUint64(b[8:], u.lo)
	return netip.AddrFrom16(b)
}

func (u u128) sub(v u128) u128 {
	lo, borrow := bits.Sub64(u.lo, v.lo, 0)
	hi, _ := bits.Sub64(u.hi, v.hi, borrow)
	return u128{hi, lo}
}

func (u u128) add(v u128) u128 {
	lo, carry := bits.Add64(u.lo, v.lo, 0)
	hi, _ := bits.Add64(u.hi, v.hi, carry)
	return u128{hi, lo}
}

func (u u128) shl(n uint) u128 {
	switch {
	case n == 0:
		return u
	case n >= 128:
		return u128{}
	case n >= 64:
		return u128{u.lo << (n - 64), 0}
	}
	return u128{u.hi<<n | u.lo>>(64-n), u.lo << n}
}

func (u u128) shr(n uint) u128 {
	switch {
	case n == 0:
		return u
	case n >= 128:
		return u128{}
	case n >= 64:
		return u128{0, u.hi >> (n - 64)}
	}
	return u128{u.hi >> n, u.lo>>n | u.hi<<(64-n)}
}

func (u u128) less(v u128) bool { return u.hi < v.hi || u.hi == v.hi && u.lo < v.lo }

// Pool is one range of candidates: the addresses of a pool, or the
// delegated prefixes of a pd-pool. It is safe for concurrent use.
type Pool struct {
	first u128   // the first candidate
	shift uint   // log2 of the address step between candidates: 0, or 128 - delegated length
	size  uint64 // candidates, at most MaxCandidates
	plen  int    // 128 for addresses, the delegated length for prefixes

	mu     sync.Mutex
	cursor uint64              // candidates below it have been handed out (or skipped) once
	used   map[uint64]struct{} // offsets in use
	free   []uint64            // released offsets below cursor, oldest first; may hold stale entries
	head   int                 // free[:head] already consumed
}

// NewAddrPool returns the pool of addresses first..last inclusive (a
// Dhcp6 "pools" entry), all free.
func NewAddrPool(first, last netip.Addr) (*Pool, error) {
	if !first.Is6() || !last.Is6() || first.Is4In6() || last.Is4In6() {
		return nil, fmt.Errorf("%w: %v-%v: not IPv6", ErrBadPool, first, last)
	}
	f, l := toU128(first.WithZone("")), toU128(last.WithZone(""))
	if l.less(f) {
		return nil, fmt.Errorf("%w: %v-%v: first after last", ErrBadPool, first, last)
	}
	n := l.sub(f)
	size := uint64(MaxCandidates)
	if n.hi == 0 && n.lo < MaxCandidates {
		size = n.lo + 1
	}
	return newPool(f, 0, size, 128), nil
}

// NewPrefixPool returns the pool of the /delegatedLen prefixes inside
// prefix (a Dhcp6 "pd-pools" entry: prefix, prefix-len, delegated-len),
// all free.
func NewPrefixPool(prefix netip.Prefix, delegatedLen int) (*Pool, error) {
	if !prefix.IsValid() || !prefix.Addr().Is6() || prefix.Addr().Is4In6() {
		return nil, fmt.Errorf("%w: %v: not an IPv6 prefix", ErrBadPool, prefix)
	}
	if delegatedLen < prefix.Bits() || delegatedLen > 128 || delegatedLen < 1 {
		return nil, fmt.Errorf("%w: %v: delegated length %d must lie between %d and 128",
			ErrBadPool, prefix, delegatedLen, prefix.Bits())
	}
	size := uint64(MaxCandidates)
	if e := delegatedLen - prefix.Bits(); e < 62 {
		size = 1 << e
	}
	return newPool(toU128(prefix.Masked().Addr()), uint(128-delegatedLen), size, delegatedLen), nil
}

func newPool(first u128, shift uint, size uint64, plen int) *Pool {
	return &Pool{first: first, shift: shift, size: size, plen: plen, used: make(map[uint64]struct{})}
}

// PrefixLen is the length of the candidates: 128 for an address pool,
// the delegated length for a prefix pool.
func (p *Pool) PrefixLen() int { return p.plen }

// Size is the number of candidates (at most MaxCandidates).
func (p *Pool) Size() uint64 { return p.size }

// at is the candidate at offset off.
func (p *Pool) at(off uint64) netip.Addr {
	return p.first.add(u128{0, off}.shl(p.shift)).addr()
}

// offset is a's offset, if a is a candidate of the pool (for a prefix
// pool: the first address of one of its delegated prefixes).
func (p *Pool) offset(a netip.Addr) (uint64, bool) {
	if !a.Is6() || a.Is4In6() {
		return 0, false
	}
	u := toU128(a.WithZone(""))
	if u.less(p.first) {
		return 0, false
	}
	d := u.sub(p.first)
	if p.shift > 0 && d.shl(128-p.shift) != (u128{}) {
		return 0, false // not on a delegated prefix boundary
	}
	d = d.shr(p.shift)
	if d.hi != 0 || d.lo >= p.size {
		return 0, false
	}
	return d.lo, true
}

// Contains reports whether a is a candidate of the pool.
func (p *Pool) Contains(a netip.Addr) bool {
	_, ok := p.offset(a)
	return ok
}

// Next hands out a free candidate and marks it used: the next one the
// cursor has not passed, or once the cursor has passed the end, the one
// released longest ago. ok is false when every candidate is in use.
func (p *Pool) Next() (a netip.Addr, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.cursor < p.size {
		off := p.cursor
		p.cursor++
		if _, taken := p.used[off]; !taken {
			p.used[off] = struct{}{}
			return p.at(off), true
		}
	}
	for p.head < len(p.free) {
		off := p.free[p.head]
		p.head++
		if _, taken := p.used[off]; !taken {
			p.used[off] = struct{}{}
			p.compact()
			return p.at(off), true
		}
	}
	p.free, p.head = p.free[:0], 0
	return netip.Addr{}, false
}

// compact drops the consumed head of the free queue once it is most of it.
func (p *Pool) compact() {
	if p.head > 64 && p.head*2 > len(p.free) {
		n := copy(p.free, p.free[p.head:])
		p.free, p.head = p.free[:n], 0
	}
}

// Take marks a used if it is a free candidate and reports whether it was
// (a client asking for an address or prefix it had, or hinted).
func (p *Pool) Take(a netip.Addr) bool {
	off, ok := p.offset(a)
	if !ok {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, taken := p.used[off]; taken {
		return false
	}
	p.used[off] = struct{}{}
	return true
}

// Mark marks a used whether or not it was (a lease loaded from the store,
// or a reservation), and reports whether a is a candidate of the pool.
func (p *Pool) Mark(a netip.Addr) bool {
	off, ok := p.offset(a)
	if !ok {
		return false
	}
	p.mu.Lock()
	p.used[off] = struct{}{}
	p.mu.Unlock()
	return true
}

// Release frees a (its lease expired, was released, declined and
// reclaimed, or deleted). Releasing a free candidate or an address outside
// the pool does nothing.
func (p *Pool) Release(a netip.Addr) {
	off, ok := p.offset(a)
	if !ok {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, taken := p.used[off]; !taken {
		return
	}
	delete(p.used, off)
	if off < p.cursor {
		p.free = append(p.free, off)
	}
}

// Used returns the number of candidates in use.
func (p *Pool) Used() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return uint64(len(p.used))
}
