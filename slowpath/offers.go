package slowpath

import (
	"net/netip"
	"sync"
)

// offerTable remembers addresses offered but not yet requested, so that one
// address is never offered to two clients at once. Each client holds at most
// one offer; offers expire after offerHold.
type offerTable struct {
	mu       sync.Mutex
	byAddr   map[netip.Addr]heldOffer
	byClient map[string]netip.Addr
}

type heldOffer struct {
	key   string
	until int64 // unix seconds
}

func newOfferTable() *offerTable {
	return &offerTable{byAddr: make(map[netip.Addr]heldOffer), byClient: make(map[string]netip.Addr)}
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

// hold records that a is offered to key until the given time. It returns
// the address the client held before, if it differs, so the caller can
// free it.
func (o *offerTable) hold(key string, a netip.Addr, until int64) (prev netip.Addr, had bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if p, ok := o.byClient[key]; ok && p != a {
		delete(o.byAddr, p)
		prev, had = p, true
	}
	o.byClient[key] = a
	o.byAddr[a] = heldOffer{key: key, until: until}
	return prev, had
}

// drop forgets the offer of a (it was requested, or it is being freed).
func (o *offerTable) drop(a netip.Addr) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if h, ok := o.byAddr[a]; ok {
		delete(o.byAddr, a)
		if o.byClient[h.key] == a {
			delete(o.byClient, h.key)
		}
	}
}

// expire removes offers held past now and returns their addresses.
func (o *offerTable) expire(now int64) []netip.Addr {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []netip.Addr
	for a, h := range o.byAddr {
		if h.until <= now {
			delete(o.byAddr, a)
			if o.byClient[h.key] == a {
				delete(o.byClient, h.key)
			}
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
