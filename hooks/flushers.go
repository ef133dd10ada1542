package hooks

import "sync"

// JoinFlushers makes one Flusher of two (the DHCPv4 and the DHCPv6
// forensic logs), for the fast path, which holds replies for one: a
// ticket of the joined one is reached once both tickets its Flush took
// are.
func JoinFlushers(a, b Flusher) Flusher { return &flusherPair{a: a, b: b} }

type flusherPair struct {
	a, b Flusher
	mu   sync.Mutex
	// n is the last ticket given; waiting are the given tickets not
	// reached yet, oldest first; done is the last reached.
	n, done uint64
	waiting []pairTicket
}

type pairTicket struct{ n, a, b uint64 }

// Flush implements Flusher.
func (p *flusherPair) Flush() uint64 {
	ta, tb := p.a.Flush(), p.b.Flush()
	if ta == 0 && tb == 0 {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	p.waiting = append(p.waiting, pairTicket{p.n, ta, tb})
	return p.n
}

// Synced implements Flusher.
func (p *flusherPair) Synced() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.waiting) == 0 {
		return p.done
	}
	sa, sb := p.a.Synced(), p.b.Synced()
	i := 0
	for ; i < len(p.waiting) && p.waiting[i].a <= sa && p.waiting[i].b <= sb; i++ {
		p.done = p.waiting[i].n
	}
	p.waiting = p.waiting[:copy(p.waiting, p.waiting[i:])]
	return p.done
}

// OnSynced implements Flusher.
func (p *flusherPair) OnSynced(notify func()) func() {
	ca, cb := p.a.OnSynced(notify), p.b.OnSynced(notify)
	return func() { ca(); cb() }
}
