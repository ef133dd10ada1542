package slowpath

import (
	"net/netip"
	"sync"

	"xdhcp/lease"
)

// offerTable remembers addresses offered but not yet requested, so that one
// address is never offered to two clients at once. Each client holds at most
// one offer; offers expire after offerHold. The offers held in a subnet never
// outnumber its unclaimed addresses (hold), so the table is bounded by half
// the pools' size whatever the number of clients asking.
type offerTable struct {
	mu       sync.Mutex
	byAddr   map[netip.Addr]heldOffer
	byClient map[string]netip.Addr
	// bySubnet counts held offers per subnet ID (one entry per subnet
	// that has any).
	bySubnet map[uint32]int
}

type heldOffer struct {
	key    string
	until  int64 // unix seconds
	subnet uint32
}

func newOfferTable() *offerTable {
	return &offerTable{byAddr: make(map[netip.Addr]heldOffer), byClient: make(map[string]netip.Addr),
		bySubnet: make(map[uint32]int)}
}

// forClient returns the address held for client key, if any.
func (o *offerTable) forClient(key string) (netip.Addr, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	a, ok := o.byClient[key]
	return a, ok
}

// holder returns the client holding an offer of a, if any.
func (o *offerTable) holder(a netip.Addr) (string, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	h, ok := o.byAddr[a]
	return h.key, ok
}

// hold records that a, in subnet, is offered to key until the given time,
// unless the subnet's held offers already number free (its unclaimed
// addresses, a not counted): then nothing is recorded and held is false. A
// client moving its own offer within the subnet adds none. It returns the
// address the client held before, if it differs and was released, so the
// caller can free it.
func (o *offerTable) hold(key string, a netip.Addr, until int64, subnet uint32, free int) (prev netip.Addr, had, held bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	p, has := o.byClient[key]
	moving := has && o.byAddr[p].subnet == subnet
	if !moving && o.bySubnet[subnet] >= free {
		return netip.Addr{}, false, false
	}
	if has && p != a {
		o.forgetLocked(p)
		prev, had = p, true
	}
	o.forgetLocked(a) // the same address again: the hold is renewed
	o.byClient[key] = a
	o.byAddr[a] = heldOffer{key: key, until: until, subnet: subnet}
	o.bySubnet[subnet]++
	return prev, had, true
}

// forgetLocked removes the offer of a. o.mu is held.
func (o *offerTable) forgetLocked(a netip.Addr) {
	h, ok := o.byAddr[a]
	if !ok {
		return
	}
	delete(o.byAddr, a)
	if o.byClient[h.key] == a {
		delete(o.byClient, h.key)
	}
	if o.bySubnet[h.subnet]--; o.bySubnet[h.subnet] <= 0 {
		delete(o.bySubnet, h.subnet)
	}
}

// take forgets the offer of a if client key holds it, and reports whether
// it did.
func (o *offerTable) take(a netip.Addr, key string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if h, ok := o.byAddr[a]; !ok || h.key != key {
		return false
	}
	o.forgetLocked(a)
	return true
}

// heldIn is the number of offers held in subnet.
func (o *offerTable) heldIn(subnet uint32) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.bySubnet[subnet]
}

// drop forgets the offer of a (it was requested, or it is being freed).
func (o *offerTable) drop(a netip.Addr) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.forgetLocked(a)
}

// expire removes offers held past now and returns their addresses.
func (o *offerTable) expire(now int64) []netip.Addr {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []netip.Addr
	for a, h := range o.byAddr {
		if h.until <= now {
			o.forgetLocked(a)
			out = append(out, a)
		}
	}
	return out
}

func (o *offerTable) each(fn func(netip.Addr)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for a := range o.byAddr {
		fn(a)
	}
}

func (o *offerTable) len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.byAddr)
}

// evictOver drops the oldest offers of subnet held by clients other than
// keep until no more than free (plus one for each dropped) remain, and
// returns their addresses for the caller to free. Leases taken since the
// offers were held shrink the free addresses, so the cap hold enforces on
// new offers can be exceeded by old ones; this restores it.
func (o *offerTable) evictOver(subnet uint32, free int, keep string) []netip.Addr {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []netip.Addr
	for o.bySubnet[subnet] > free {
		var (
			oldest netip.Addr
			until  int64
		)
		for a, h := range o.byAddr {
			if h.subnet == subnet && h.key != keep && (!oldest.IsValid() || h.until < until) {
				oldest, until = a, h.until
			}
		}
		if !oldest.IsValid() {
			break
		}
		o.forgetLocked(oldest)
		out = append(out, oldest)
		free++ // its address goes back to the pool
	}
	return out
}

// rebalanceOffers restores, before an allocation in sn, the cap on held
// offers (at most as many as unclaimed addresses): an address held for a
// client that never came back is worth less than an answer to one that is
// asking now.
func (s *Server) rebalanceOffers(rt *liveConfig, sn *subnetRT, r *request) {
	for _, a := range s.offers.evictOver(sn.cfg.ID, unclaimed(sn), r.key) {
		if l, ok := s.store.Get(a); !ok || l.State == lease.StateExpiredReclaimed {
			s.freeAddr(rt, a)
		}
	}
}
