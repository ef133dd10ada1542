package intake

// Per-client share of the queue. A DHCP client has one request outstanding
// (two with a retransmission); the serializer keeps at most one follow-up
// per client anyway. Without a share, one client flooding the socket fills
// the FIFO and the drop-oldest rule pushes everybody else's packets out;
// with it the flooder holds at most PerClientQueued slots and the rest of
// the queue stays open to other clients. Unlike a rate limit it costs
// nothing when there is no contention.
const (
	PerClientQueued = 4
	// Slots is the size of the per-client tables (the share, the rate
	// limiter's buckets), indexed by client key: fixed, so that a client
	// cycling identities cannot grow them. Two clients in one slot share
	// it, which only matters under a flood.
	Slots = 4096
)

// clientShare counts queued packets per client key. It is guarded by the
// queue's mutex.
type clientShare struct {
	n [Slots]uint16
}

// admit reports whether the client may queue one more packet, and counts
// it when so.
func (c *clientShare) admit(key uint64) bool {
	i := key % Slots
	if c.n[i] >= PerClientQueued {
		return false
	}
	c.n[i]++
	return true
}

// leave uncounts a packet that left the queue (popped or dropped).
func (c *clientShare) leave(key uint64) {
	if i := key % Slots; c.n[i] > 0 {
		c.n[i]--
	}
}
