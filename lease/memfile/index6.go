package memfile

import (
	"cmp"
	"encoding/binary"
	"hash/maphash"
	"net/netip"
	"slices"
	"strings"

	"xdhcp/lease"
)

// key6 is an IPv6 address as two integers, ordered as the address.
type key6 struct{ hi, lo uint64 }

func addrKey6(a netip.Addr) key6 {
	b := a.As16()
	return key6{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

func (k key6) addr() netip.Addr {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], k.hi)
	binary.BigEndian.PutUint64(b[8:], k.lo)
	return netip.AddrFrom16(b)
}

func (k key6) cmp(o key6) int {
	if c := cmp.Compare(k.hi, o.hi); c != 0 {
		return c
	}
	return cmp.Compare(k.lo, o.lo)
}

// next is the key after k; ok is false for the last address.
func (k key6) next() (key6, bool) {
	if k.lo != ^uint64(0) {
		return key6{k.hi, k.lo + 1}, true
	}
	if k.hi != ^uint64(0) {
		return key6{k.hi + 1, 0}, true
	}
	return k, false
}

// rec6 is the compact in-memory form of a DHCPv6 lease: fixed fields
// inline, the variable ones packed into one string.
type rec6 struct {
	addr     key6
	cltt     int64
	valid    uint32
	pref     uint32
	iaid     uint32
	subnet   uint32
	hwSource uint32
	hostLen  uint32
	seq      uint64 // when the address got its lease: secondary lookups answer in this order, as Kea's do
	duidNext int32  // next record in the same byDUID hash chain, -1 ends it
	hostNext int32
	hwType   uint16
	typ      lease.Type
	plen     uint8
	state    lease.State
	flags    uint8
	duidLen  uint8
	hwLen    uint8
	data     string // duid | hwaddr | hostname | user context
}

func (r *rec6) duid() string { return r.data[:r.duidLen] }
func (r *rec6) hw() string   { return r.data[r.duidLen : int(r.duidLen)+int(r.hwLen)] }
func (r *rec6) host() string {
	o := int(r.duidLen) + int(r.hwLen)
	return r.data[o : o+int(r.hostLen)]
}
func (r *rec6) uctx() string { return r.data[int(r.duidLen)+int(r.hwLen)+int(r.hostLen):] }

// index6 holds DHCPv6 leases by address, with optional secondary indexes
// by DUID and hostname (hash chains threaded through the records, as in
// index) and the addresses in order for paging.
//
// index6 is not safe for concurrent use; Store6 guards it.
type index6 struct {
	recs      slab[rec6]
	free      []int32
	byAddr    map[key6]int32
	secondary bool
	byDUID    map[uint64]int32
	byHost    map[uint64]int32
	seed      maphash.Seed
	order     keySet
	seq       uint64 // the last rec6.seq given
}

func newIndex6(secondary bool) *index6 {
	x := &index6{byAddr: make(map[key6]int32), secondary: secondary, seed: maphash.MakeSeed()}
	if secondary {
		x.byDUID = make(map[uint64]int32)
		x.byHost = make(map[uint64]int32)
	}
	return x
}

func (x *index6) len() int { return len(x.byAddr) }

func (x *index6) lookup(a key6) (int32, bool) {
	i, ok := x.byAddr[a]
	return i, ok
}

func (x *index6) hashDUID(b string) uint64 { return maphash.String(x.seed, b) }
func (x *index6) hashHost(h string) uint64 { return maphash.String(x.seed, strings.ToLower(h)) }

// put inserts or replaces the lease for l.Addr.
func (x *index6) put(l *lease.Lease6) {
	a := addrKey6(l.Addr)
	i, ok := x.byAddr[a]
	seq := x.seq + 1
	if ok {
		x.unlinkSecondary(i)
		seq = x.recs.at(i).seq
	} else {
		x.seq = seq
		i = x.recs.slot(&x.free)
		x.byAddr[a] = i
		x.order.add(a)
	}
	duid := l.DUID
	if len(duid) == 0 {
		duid = lease.EmptyDUID // what the lease file says of a lease without one
	}
	var sb strings.Builder
	sb.Grow(len(duid) + len(l.HWAddr) + len(l.Hostname) + len(l.UserContext))
	sb.Write(duid)
	sb.Write(l.HWAddr)
	sb.WriteString(l.Hostname)
	sb.WriteString(l.UserContext)
	flags := liveFlags(l.FqdnFwd, l.FqdnRev)
	*x.recs.at(i) = rec6{
		addr: a, cltt: l.CLTT, valid: l.ValidLft, pref: l.PreferredLft, iaid: l.IAID, subnet: l.SubnetID,
		hwSource: l.HWAddrSource, hostLen: uint32(len(l.Hostname)), duidNext: -1, hostNext: -1,
		seq: seq, hwType: l.HWType, typ: l.Type, plen: prefixLen(l), state: l.State, flags: flags,
		duidLen: uint8(len(duid)), hwLen: uint8(len(l.HWAddr)), data: sb.String(),
	}
	x.linkSecondary(i)
}

// del removes the lease for a and reports whether there was one.
func (x *index6) del(a key6) bool {
	i, ok := x.byAddr[a]
	if !ok {
		return false
	}
	x.unlinkSecondary(i)
	delete(x.byAddr, a)
	x.order.remove(a)
	*x.recs.at(i) = rec6{}
	x.free = append(x.free, i)
	return true
}

func (x *index6) chain(i int32, byHost bool) *int32 {
	if byHost {
		return &x.recs.at(i).hostNext
	}
	return &x.recs.at(i).duidNext
}

func (x *index6) linkSecondary(i int32) {
	if !x.secondary {
		return
	}
	r := x.recs.at(i)
	if r.duidLen > 0 {
		linkChain(x.byDUID, x.hashDUID(r.duid()), i, &r.duidNext)
	}
	if r.hostLen > 0 {
		linkChain(x.byHost, x.hashHost(r.host()), i, &r.hostNext)
	}
}

func (x *index6) unlink(m map[uint64]int32, h uint64, i int32, byHost bool) {
	unlinkChain(m, h, i, func(j int32) *int32 { return x.chain(j, byHost) })
}

func (x *index6) unlinkSecondary(i int32) {
	if !x.secondary {
		return
	}
	r := x.recs.at(i)
	if r.duidLen > 0 {
		x.unlink(x.byDUID, x.hashDUID(r.duid()), i, false)
	}
	if r.hostLen > 0 {
		x.unlink(x.byHost, x.hashHost(r.host()), i, true)
	}
}

// findDUID returns the records of DUID duid that match keep, oldest lease
// first.
func (x *index6) findDUID(duid []byte, keep func(r *rec6) bool) []int32 {
	if !x.secondary || len(duid) == 0 {
		return nil
	}
	head, ok := x.byDUID[maphash.Bytes(x.seed, duid)]
	if !ok {
		return nil
	}
	var out []int32
	for i := head; i >= 0; i = x.recs.at(i).duidNext {
		if r := x.recs.at(i); r.duid() == string(duid) && (keep == nil || keep(r)) {
			out = append(out, i)
		}
	}
	return x.sorted(out)
}

// findHost returns the records whose hostname equals name ignoring case,
// oldest lease first.
func (x *index6) findHost(name string) []int32 {
	if !x.secondary || name == "" {
		return nil
	}
	head, ok := x.byHost[x.hashHost(name)]
	if !ok {
		return nil
	}
	var out []int32
	for i := head; i >= 0; i = x.recs.at(i).hostNext {
		if strings.EqualFold(x.recs.at(i).host(), name) {
			out = append(out, i)
		}
	}
	return x.sorted(out)
}

func (x *index6) sorted(ids []int32) []int32 {
	slices.SortFunc(ids, func(a, b int32) int { return cmp.Compare(x.recs.at(a).seq, x.recs.at(b).seq) })
	return ids
}

// fill copies record i into l, reusing l's byte slices' capacity.
func (x *index6) fill(i int32, l *lease.Lease6) {
	r := x.recs.at(i)
	l.Addr = r.addr.addr()
	l.PrefixLen = r.plen
	l.Type = r.typ
	l.DUID = appendOrNil(l.DUID[:0], r.duid())
	l.IAID = r.iaid
	l.PreferredLft = r.pref
	l.ValidLft = r.valid
	l.CLTT = r.cltt
	l.SubnetID = r.subnet
	l.FqdnFwd = r.flags&flagFqdnFwd != 0
	l.FqdnRev = r.flags&flagFqdnRev != 0
	l.Hostname = r.host()
	l.HWAddr = appendOrNil(l.HWAddr[:0], r.hw())
	l.HWType = r.hwType
	l.HWAddrSource = r.hwSource
	l.State = r.state
	l.UserContext = r.uctx()
}

// lease returns a freshly allocated copy of record i.
func (x *index6) lease(i int32) lease.Lease6 {
	var l lease.Lease6
	x.fill(i, &l)
	return l
}

// finishLoad ends bulk loading (see keySet.loading).
func (x *index6) finishLoad() {
	x.order.finishLoad(func(k key6) bool { _, ok := x.byAddr[k]; return ok })
}

// ascend calls fn with the record of every lease whose address is >=
// start, in ascending address order, until fn returns false.
func (x *index6) ascend(start key6, fn func(i int32) bool) {
	x.order.ascend(start, func(a key6) bool { return fn(x.byAddr[a]) })
}

// keySet is a sorted set of addresses: sorted chunks of at most
// maxChunk keys, so an insert or delete moves at most a chunk and the
// chunk list (a thousandth of the keys), whatever order addresses come in.
type keySet struct {
	chunks [][]key6
	// loading collects added keys unsorted until finishLoad, so loading a
	// file costs O(n log n) whatever its row order; remove is then a no-op
	// (finishLoad drops the keys no longer present).
	loading bool
	pending []key6
}

// finishLoad ends bulk loading: the pending keys that present still
// reports are sorted into chunks.
func (s *keySet) finishLoad(present func(k key6) bool) {
	if !s.loading {
		return
	}
	s.loading = false
	keys := s.pending
	s.pending = nil
	for _, ch := range s.chunks {
		keys = append(keys, ch...)
	}
	keys = slices.DeleteFunc(keys, func(k key6) bool { return !present(k) })
	slices.SortFunc(keys, key6.cmp)
	keys = slices.Compact(keys)
	s.chunks = s.chunks[:0]
	for len(keys) > 0 {
		n := min(len(keys), maxChunk/2)
		s.chunks = append(s.chunks, slices.Clone(keys[:n]))
		keys = keys[n:]
	}
}

const maxChunk = 512

// chunkFor is the index of the chunk that holds or would hold k.
func (s *keySet) chunkFor(k key6) int {
	c, _ := slices.BinarySearchFunc(s.chunks, k, func(ch []key6, k key6) int {
		return ch[len(ch)-1].cmp(k)
	})
	return min(c, len(s.chunks)-1)
}

func (s *keySet) add(k key6) {
	if s.loading {
		s.pending = append(s.pending, k)
		return
	}
	if len(s.chunks) == 0 {
		s.chunks = [][]key6{{k}}
		return
	}
	c := s.chunkFor(k)
	ch := s.chunks[c]
	j, found := slices.BinarySearchFunc(ch, k, key6.cmp)
	if found {
		return
	}
	ch = slices.Insert(ch, j, k)
	if len(ch) <= maxChunk {
		s.chunks[c] = ch
		return
	}
	half := len(ch) / 2
	right := slices.Clone(ch[half:])
	s.chunks[c] = slices.Clip(ch[:half])
	s.chunks = slices.Insert(s.chunks, c+1, right)
}

func (s *keySet) remove(k key6) {
	if s.loading || len(s.chunks) == 0 {
		return
	}
	c := s.chunkFor(k)
	ch := s.chunks[c]
	j, found := slices.BinarySearchFunc(ch, k, key6.cmp)
	if !found {
		return
	}
	ch = slices.Delete(ch, j, j+1)
	if len(ch) == 0 {
		s.chunks = slices.Delete(s.chunks, c, c+1)
		return
	}
	s.chunks[c] = ch
}

func (s *keySet) ascend(start key6, fn func(k key6) bool) {
	if len(s.chunks) == 0 {
		return
	}
	c := s.chunkFor(start)
	j, _ := slices.BinarySearchFunc(s.chunks[c], start, key6.cmp)
	for ; c < len(s.chunks); c, j = c+1, 0 {
		for _, k := range s.chunks[c][j:] {
			if !fn(k) {
				return
			}
		}
	}
}

// startLoad begins bulk loading (see keySet.loading).
func (x *index6) startLoad() { x.order.loading = true }
