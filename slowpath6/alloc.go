package slowpath6

import (
	"net/netip"
	"sync"

	"xdhcp/config"
	"xdhcp/lease"
)

// maxAttempts bounds the candidates one allocation looks at in a pool of
// more than wholeScan candidates. Such pools are huge; one nearly full is
// the exception, and a client refused after that many busy candidates gets
// NoAddrsAvail rather than a stalled worker (the cursor has moved past
// them, so the next client's search starts further on).
const maxAttempts = 4096

// wholeScan is the largest pool whose every candidate one allocation may
// look at, as Kea's iterative allocator does: a pd-pool of a /40 cut into
// /56s (65,536 prefixes) filled to its last few free prefixes, or whose
// cursor came round to a long run of bound ones, still finds a free one.
const wholeScan = 1 << 16

// pool is an address range (IA_NA) or a pd-pool (IA_PD) with the cursor of
// Kea's iterative allocator: each allocation takes the next candidate after
// the previous one, so finding a free address or prefix never scans what
// was handed out before.
type pool struct {
	typ lease.Type
	// first is the first address or prefix; step the distance between
	// candidates (1 for addresses, 2^(128-delegated-len) for prefixes);
	// size the number of candidates.
	first, step, size u128
	plen              uint8 // 128, or the delegated length
	addrs             *config.Pool6
	pd                *config.PDPool

	mu     sync.Mutex
	cursor u128 // offset of the next candidate
}

func newAddrPool(p *config.Pool6) *pool {
	first, last := u128From(p.First.As16()), u128From(p.Last.As16())
	return &pool{typ: lease.TypeNA, first: first, step: u128{0, 1}, size: last.sub(first).add(u128{0, 1}),
		plen: 128, addrs: p}
}

func newPDPool(p *config.PDPool) *pool {
	bits := uint(p.DelegatedLen - p.Prefix.Bits())
	size := u128{0, 1}.shl(bits)
	if bits >= 128 {
		size = u128{^uint64(0), ^uint64(0)}
	}
	return &pool{typ: lease.TypePD, first: u128From(p.Prefix.Masked().Addr().As16()),
		step: u128{0, 1}.shl(uint(128 - p.DelegatedLen)), size: size, plen: uint8(p.DelegatedLen), pd: p}
}

// contains reports whether the address (or prefix of length plen) a is
// one of the pool's candidates.
func (p *pool) contains(a netip.Addr, plen uint8) bool {
	if p.typ == lease.TypePD {
		return plen == p.plen && p.pd.Prefix.Contains(a) &&
			netip.PrefixFrom(a, int(plen)).Masked().Addr() == a
	}
	v := u128From(a.As16())
	return !v.less(p.first) && v.sub(p.first).less(p.size)
}

// capacity is the number of candidates, saturated at 2^64-1 (Kea's
// total-nas is an int64 too).
func (p *pool) capacity() int64 {
	c := p.size.capped()
	if c > 1<<63-1 {
		return 1<<63 - 1
	}
	return int64(c)
}

// startAt moves the cursor to offset off modulo the pool's size.
func (p *pool) startAt(off u128) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.size.hi == 0 {
		if p.size.lo > 0 {
			p.cursor = u128{0, off.lo % p.size.lo}
		}
		return
	}
	p.cursor = u128{off.hi % p.size.hi, off.lo}
}

// next returns candidates from the cursor on until free accepts one or
// the pool's every candidate (up to wholeScan of them; maxAttempts in a
// larger pool) was tried.
func (p *pool) next(free func(a netip.Addr) bool) (netip.Addr, bool) {
	n := uint64(maxAttempts)
	if p.size.hi == 0 && p.size.lo <= wholeScan {
		n = p.size.lo
	}
	for range n {
		p.mu.Lock()
		off := p.cursor
		p.cursor = p.cursor.add(u128{0, 1})
		if !p.cursor.less(p.size) {
			p.cursor = u128{}
		}
		p.mu.Unlock()
		a := netip.AddrFrom16(p.first.add(mulStep(off, p.step)).bytes())
		if free(a) {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// mulStep is off*step where step is a power of two.
func mulStep(off, step u128) u128 {
	if step.hi == 0 && step.lo == 1 {
		return off
	}
	n := uint(0)
	for s := step; !(s.hi == 0 && s.lo == 1); n++ {
		s = u128{s.hi >> 1, s.lo>>1 | s.hi<<63}
	}
	return off.shl(n)
}

// pending are the addresses and prefixes the engine has handed out and
// not yet seen in the store: advertised (held briefly, as Kea does not
// but a client's Request should find its Advertise's address free) or
// committed and on their way to the lease file. Each entry belongs to one
// client's IA.
type pending struct {
	mu   sync.Mutex
	byA  map[netip.Addr]hold
	byIA map[iaKey][]netip.Addr
}

type iaKey struct {
	duid string
	iaid uint32
	typ  lease.Type
}

type hold struct {
	ia    iaKey
	plen  uint8
	until int64
}

func newPending() *pending {
	return &pending{byA: make(map[netip.Addr]hold), byIA: make(map[iaKey][]netip.Addr)}
}

// holder is the IA holding a, if a hold of it is still good at now.
func (t *pending) holder(a netip.Addr, now int64) (iaKey, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	h, ok := t.byA[a]
	if !ok || h.until <= now {
		return iaKey{}, false
	}
	return h.ia, true
}

// of returns the addresses held for ia at now.
func (t *pending) of(ia iaKey, now int64) []netip.Addr {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []netip.Addr
	for _, a := range t.byIA[ia] {
		if h, ok := t.byA[a]; ok && h.ia == ia && h.until > now {
			out = append(out, a)
		}
	}
	return out
}

// put holds a for ia until the given time; false if another IA holds it.
func (t *pending) put(ia iaKey, a netip.Addr, plen uint8, until, now int64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if h, ok := t.byA[a]; ok && h.ia != ia && h.until > now {
		return false
	}
	if h, ok := t.byA[a]; !ok || h.ia != ia {
		t.byIA[ia] = append(t.byIA[ia], a)
	}
	t.byA[a] = hold{ia: ia, plen: plen, until: until}
	return true
}

// drop forgets the hold of a.
func (t *pending) drop(a netip.Addr) {
	t.mu.Lock()
	defer t.mu.Unlock()
	h, ok := t.byA[a]
	if !ok {
		return
	}
	delete(t.byA, a)
	l := t.byIA[h.ia]
	for i, x := range l {
		if x == a {
			l = append(l[:i], l[i+1:]...)
			break
		}
	}
	if len(l) == 0 {
		delete(t.byIA, h.ia)
	} else {
		t.byIA[h.ia] = l
	}
}

// expire forgets holds that ended at now.
func (t *pending) expire(now int64) {
	t.mu.Lock()
	var gone []netip.Addr
	for a, h := range t.byA {
		if h.until <= now {
			gone = append(gone, a)
		}
	}
	t.mu.Unlock()
	for _, a := range gone {
		t.drop(a)
	}
}
