package memfile

import (
	"hash/maphash"
	"math/bits"
	"net/netip"
	"slices"
	"strings"

	"xdhcp/lease"
)

// rec is the compact in-memory form of a lease: fixed fields inline, and
// the variable ones (hwaddr, client-id, hostname, user context) packed into
// one string so a lease costs one small heap object instead of four.
type rec struct {
	addr     uint32
	valid    uint32
	cltt     int64
	subnet   uint32
	hwNext   int32 // next record in the same byHW hash chain, -1 ends it
	cidNext  int32
	hostNext int32
	hostLen  uint32
	state    lease.State
	flags    uint8
	hwLen    uint8
	cidLen   uint8
	data     string // hwaddr | client-id | hostname | user context
}

const (
	flagLive    = 1 << 0 // slot holds a lease (free slots are reused)
	flagFqdnFwd = 1 << 1
	flagFqdnRev = 1 << 2
)

func (r *rec) hw() string   { return r.data[:r.hwLen] }
func (r *rec) cid() string  { return r.data[r.hwLen : int(r.hwLen)+int(r.cidLen)] }
func (r *rec) host() string { o := int(r.hwLen) + int(r.cidLen); return r.data[o : o+int(r.hostLen)] }
func (r *rec) uctx() string { return r.data[int(r.hwLen)+int(r.cidLen)+int(r.hostLen):] }

// index holds leases by address, with optional secondary indexes by
// hwaddr, client-id and hostname. The secondary indexes map a hash to the
// head of an intrusive chain threaded through the records, so a lease costs
// one map entry per index and no per-key allocation; lookups compare the
// real bytes, so hash collisions only lengthen a chain.
//
// index is not safe for concurrent use; Store guards it.
type index struct {
	recs      []rec
	free      []int32
	byAddr    map[uint32]int32
	secondary bool
	byHW      map[uint64]int32
	byCID     map[uint64]int32
	byHost    map[uint64]int32
	seed      maphash.Seed
	order     addrSet
}

func newIndex(secondary bool) *index {
	x := &index{
		byAddr:    make(map[uint32]int32),
		secondary: secondary,
		seed:      maphash.MakeSeed(),
		order:     addrSet{blocks: make(map[uint32]*[4]uint64)},
	}
	if secondary {
		x.byHW = make(map[uint64]int32)
		x.byCID = make(map[uint64]int32)
		x.byHost = make(map[uint64]int32)
	}
	return x
}

func addrKey(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func keyAddr(k uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(k >> 24), byte(k >> 16), byte(k >> 8), byte(k)})
}

func (x *index) len() int { return len(x.byAddr) }

func (x *index) lookup(a uint32) (int32, bool) {
	i, ok := x.byAddr[a]
	return i, ok
}

func (x *index) hashHW(b []byte) uint64     { return maphash.Bytes(x.seed, b) }
func (x *index) hashHost(h string) uint64   { return maphash.String(x.seed, strings.ToLower(h)) }
func (x *index) hashString(s string) uint64 { return maphash.String(x.seed, s) }

// put inserts or replaces the lease for l.Addr (which must be IPv4).
func (x *index) put(l *lease.Lease) {
	a := addrKey(l.Addr)
	i, ok := x.byAddr[a]
	if ok {
		x.unlinkSecondary(i)
	} else {
		i = newSlot(&x.recs, &x.free)
		x.byAddr[a] = i
		x.order.add(a)
	}
	r := &x.recs[i]
	var sb strings.Builder
	sb.Grow(len(l.HWAddr) + len(l.ClientID) + len(l.Hostname) + len(l.UserContext))
	sb.Write(l.HWAddr)
	sb.Write(l.ClientID)
	sb.WriteString(l.Hostname)
	sb.WriteString(l.UserContext)
	flags := liveFlags(l.FqdnFwd, l.FqdnRev)
	*r = rec{
		addr: a, valid: l.ValidLft, cltt: l.CLTT, subnet: l.SubnetID,
		hwNext: -1, cidNext: -1, hostNext: -1,
		hostLen: uint32(len(l.Hostname)), state: l.State, flags: flags,
		hwLen: uint8(len(l.HWAddr)), cidLen: uint8(len(l.ClientID)),
		data: sb.String(),
	}
	x.linkSecondary(i)
}

// newSlot returns the index of a free record of recs, reusing one of the
// slots listed in free before growing recs.
func newSlot[R any](recs *[]R, free *[]int32) int32 {
	if n := len(*free); n > 0 {
		i := (*free)[n-1]
		*free = (*free)[:n-1]
		return i
	}
	var zero R
	*recs = append(*recs, zero)
	return int32(len(*recs) - 1)
}

// liveFlags are the flags of a live record with these FQDN settings.
func liveFlags(fqdnFwd, fqdnRev bool) uint8 {
	flags := uint8(flagLive)
	if fqdnFwd {
		flags |= flagFqdnFwd
	}
	if fqdnRev {
		flags |= flagFqdnRev
	}
	return flags
}

// del removes the lease for a and reports whether there was one.
func (x *index) del(a uint32) bool {
	i, ok := x.byAddr[a]
	if !ok {
		return false
	}
	x.unlinkSecondary(i)
	delete(x.byAddr, a)
	x.order.remove(a)
	x.recs[i] = rec{}
	x.free = append(x.free, i)
	return true
}

func (x *index) linkSecondary(i int32) {
	if !x.secondary {
		return
	}
	r := &x.recs[i]
	if r.hwLen > 0 {
		linkChain(x.byHW, x.hashString(r.hw()), i, &r.hwNext)
	}
	if r.cidLen > 0 {
		linkChain(x.byCID, x.hashString(r.cid()), i, &r.cidNext)
	}
	if r.hostLen > 0 {
		linkChain(x.byHost, x.hashHost(r.host()), i, &r.hostNext)
	}
}

type chainKind uint8

const (
	chainHW chainKind = iota
	chainCID
	chainHost
)

func (x *index) next(i int32, k chainKind) *int32 {
	r := &x.recs[i]
	switch k {
	case chainHW:
		return &r.hwNext
	case chainCID:
		return &r.cidNext
	default:
		return &r.hostNext
	}
}

// unlink removes record i from the chain at m[h].
func (x *index) unlink(m map[uint64]int32, h uint64, i int32, k chainKind) {
	unlinkChain(m, h, i, func(j int32) *int32 { return x.next(j, k) })
}

// linkChain puts record i, whose link to the next record is next, at the
// head of the hash chain at m[h].
func linkChain(m map[uint64]int32, h uint64, i int32, next *int32) {
	if head, ok := m[h]; ok {
		*next = head
	}
	m[h] = i
}

// unlinkChain removes record i from the hash chain at m[h], whose links
// next returns.
func unlinkChain(m map[uint64]int32, h uint64, i int32, next func(int32) *int32) {
	head, ok := m[h]
	if !ok {
		return
	}
	if head == i {
		if n := *next(i); n >= 0 {
			m[h] = n
		} else {
			delete(m, h)
		}
		return
	}
	for p := head; p >= 0; {
		np := next(p)
		if *np == i {
			*np = *next(i)
			return
		}
		p = *np
	}
}

func (x *index) unlinkSecondary(i int32) {
	if !x.secondary {
		return
	}
	r := &x.recs[i]
	if r.hwLen > 0 {
		x.unlink(x.byHW, x.hashString(r.hw()), i, chainHW)
	}
	if r.cidLen > 0 {
		x.unlink(x.byCID, x.hashString(r.cid()), i, chainCID)
	}
	if r.hostLen > 0 {
		x.unlink(x.byHost, x.hashHost(r.host()), i, chainHost)
	}
}

// find returns the records whose chain key equals the wanted value, in
// ascending address order.
func (x *index) find(k chainKind, key []byte, host string) []int32 {
	if !x.secondary {
		return nil
	}
	var (
		head int32
		ok   bool
	)
	switch k {
	case chainHW:
		head, ok = x.byHW[x.hashHW(key)]
	case chainCID:
		head, ok = x.byCID[x.hashHW(key)]
	default:
		head, ok = x.byHost[x.hashHost(host)]
	}
	if !ok {
		return nil
	}
	var out []int32
	for i := head; i >= 0; i = *x.next(i, k) {
		r := &x.recs[i]
		var match bool
		switch k {
		case chainHW:
			match = r.hw() == string(key)
		case chainCID:
			match = r.cid() == string(key)
		default:
			match = strings.EqualFold(r.host(), host)
		}
		if match {
			out = append(out, i)
		}
	}
	slices.SortFunc(out, func(a, b int32) int {
		ra, rb := x.recs[a].addr, x.recs[b].addr
		switch {
		case ra < rb:
			return -1
		case ra > rb:
			return 1
		}
		return 0
	})
	return out
}

// fill copies record i into l, reusing l's byte slices' capacity. Strings
// share the record's immutable data.
func (x *index) fill(i int32, l *lease.Lease) {
	r := &x.recs[i]
	l.Addr = keyAddr(r.addr)
	l.HWAddr = appendOrNil(l.HWAddr[:0], r.hw())
	l.ClientID = appendOrNil(l.ClientID[:0], r.cid())
	l.ValidLft = r.valid
	l.CLTT = r.cltt
	l.SubnetID = r.subnet
	l.FqdnFwd = r.flags&flagFqdnFwd != 0
	l.FqdnRev = r.flags&flagFqdnRev != 0
	l.Hostname = r.host()
	l.State = r.state
	l.UserContext = r.uctx()
}

func appendOrNil(dst []byte, s string) []byte {
	if len(s) == 0 {
		return nil
	}
	return append(dst, s...)
}

// lease returns a freshly allocated copy of record i.
func (x *index) lease(i int32) lease.Lease {
	var l lease.Lease
	x.fill(i, &l)
	return l
}

// ascend calls fn with the record of every lease whose address is >= start,
// in ascending address order, until fn returns false.
func (x *index) ascend(start uint32, fn func(i int32) bool) {
	x.order.ascend(start, func(a uint32) bool {
		return fn(x.byAddr[a])
	})
}

// finishLoad ends bulk loading (see addrSet.loading).
func (x *index) finishLoad() { x.order.finishLoad() }

// addrSet is the set of leased addresses in sorted order, for paging and
// ordered iteration: a 256-bit block per /24 that holds any lease, plus the
// sorted list of those /24 prefixes. Dense pools cost well under a byte per
// lease; a /24 with a single lease costs about 60 bytes.
type addrSet struct {
	blocks map[uint32]*[4]uint64
	keys   []uint32
	// loading defers sorting keys to finishLoad, so loading a file in
	// random address order stays O(n log n) instead of O(prefixes^2).
	loading bool
}

func (s *addrSet) add(a uint32) {
	p := a >> 8
	b := s.blocks[p]
	if b == nil {
		b = new([4]uint64)
		s.blocks[p] = b
		if s.loading {
			s.keys = append(s.keys, p)
		} else {
			k, _ := slices.BinarySearch(s.keys, p)
			s.keys = slices.Insert(s.keys, k, p)
		}
	}
	b[(a&0xff)>>6] |= 1 << (a & 63)
}

func (s *addrSet) remove(a uint32) {
	p := a >> 8
	b := s.blocks[p]
	if b == nil {
		return
	}
	b[(a&0xff)>>6] &^= 1 << (a & 63)
	if b[0]|b[1]|b[2]|b[3] != 0 {
		return
	}
	delete(s.blocks, p)
	if !s.loading {
		if k, ok := slices.BinarySearch(s.keys, p); ok {
			s.keys = slices.Delete(s.keys, k, k+1)
		}
	}
}

func (s *addrSet) finishLoad() {
	if !s.loading {
		return
	}
	s.loading = false
	s.keys = slices.DeleteFunc(s.keys, func(p uint32) bool { return s.blocks[p] == nil })
	slices.Sort(s.keys)
	s.keys = slices.Compact(s.keys)
	s.keys = slices.Clip(s.keys)
}

func (s *addrSet) ascend(start uint32, fn func(a uint32) bool) {
	k, _ := slices.BinarySearch(s.keys, start>>8)
	for ; k < len(s.keys); k++ {
		p := s.keys[k]
		b := s.blocks[p]
		lo := uint32(0)
		if p == start>>8 {
			lo = start & 0xff
		}
		for w := lo >> 6; w < 4; w++ {
			word := b[w]
			if w == lo>>6 {
				word &^= 1<<(lo&63) - 1 // drop bits below lo
			}
			for word != 0 {
				bit := uint32(bits.TrailingZeros64(word))
				word &= word - 1
				if !fn(p<<8 | w<<6 | bit) {
					return
				}
			}
		}
	}
}

// startLoad begins bulk loading (see addrSet.loading).
func (x *index) startLoad() { x.order.loading = true }
