package ha

import "hash/maphash"

// minClientTable is the least number of clients the failure detection
// tracks while communication with the partner is interrupted.
const minClientTable = 4096

// clientTable is failure detection's record of the clients seen while the
// partner does not answer: whether each is unacked (has tried for longer
// than max-ack-delay). It holds a fixed number of clients, by a 64-bit
// hash of their key rather than a copy of it, so a flood of new clients
// during an outage costs no more memory than the bound. When it is full, a
// new unacked client takes the place of one not (yet) unacked, so a flood
// of fresh clients cannot hide the unacked ones that decide failover; a
// new client that is not unacked is only counted as analyzed.
type clientTable struct {
	seed    maphash.Seed
	m       map[uint64]bool // key hash → unacked
	size    int
	unacked int
}

// newClientTable holds at least enough clients to reach maxUnacked + 1
// unacked ones.
func newClientTable(maxUnacked int) clientTable {
	size := max(minClientTable, 2*(maxUnacked+1))
	return clientTable{seed: maphash.MakeSeed(), m: make(map[uint64]bool, min(size, minClientTable)), size: size}
}

// observe records a query from the client with key; unacked says whether
// it has been trying for longer than max-ack-delay.
func (t *clientTable) observe(key []byte, unacked bool) {
	h := maphash.Bytes(t.seed, key)
	was, seen := t.m[h]
	switch {
	case seen && (was || !unacked):
		return
	case seen: // now unacked
		t.m[h] = true
		t.unacked++
		return
	}
	if len(t.m) >= t.size {
		if !unacked || !t.evictAcked() {
			return
		}
	}
	t.m[h] = unacked
	if unacked {
		t.unacked++
	}
}

// evictAcked drops one client that is not unacked, reporting whether
// there was one.
func (t *clientTable) evictAcked() bool {
	for h, u := range t.m {
		if !u {
			delete(t.m, h)
			return true
		}
	}
	return false
}

// reset forgets every client (a heartbeat succeeded).
func (t *clientTable) reset() {
	clear(t.m)
	t.unacked = 0
}

// len is the number of clients recorded.
func (t *clientTable) len() int { return len(t.m) }
