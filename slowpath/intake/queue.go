package intake

import "sync"

// Packet is what the queue holds: something a transport handed over,
// given back with Release when the queue drops it.
type Packet interface {
	Release()
}

// Counter is a statistic the queue increments (stats.Stat implements it).
type Counter interface {
	Inc()
}

// Load is how full the queue in front of the workers is: what the fast
// path's XDP overload levels, the packet-queue-statistics of Kea's
// status-get and the queue-length metric read.
type Load interface {
	// Occupancy is how full the queue is, 0 to 1.
	Occupancy() float64
	// Statistics is Kea's packet-queue-statistics: the average queue
	// length over the last 10, 100 and 1000 packets.
	Statistics() [3]float64
	// Len is the number of queued packets.
	Len() int
}

var _ Load = (*Queue[Packet, *int])(nil)

// Unbounded caps Kea's "unlimited" (0) packet-queue-size so that memory
// stays bounded whatever the configuration says.
const Unbounded = 1 << 16

// Queue is the bounded FIFO in front of an engine's workers. When it is
// full the oldest packet is dropped (Kea's behaviour); a client that
// already has its share of it is refused instead (see PerClientQueued).
//
// It also feeds the workers the follow-ups that commit completions
// release (R, a decoded request; its zero value means none), before new
// packets, and it counts the exchanges whose commit is in flight: that
// bound is the backpressure between the workers and the lease file, and
// Close waits for those exchanges, whose completions could still release
// a follow-up.
type Queue[P Packet, R comparable] struct {
	mu sync.Mutex
	// avg are the queue length averaged over the last 10, 100 and 1000
	// packets (Kea's packet-queue-statistics), as moving averages.
	avg    [3]float64
	cond   *sync.Cond
	buf    []entry[P]
	head   int
	n      int
	limit  int
	closed bool
	share  clientShare
	// ready are clients' follow-ups released by a commit completion, for
	// the workers before new packets. At most one per exchange in flight.
	ready []R
	// inflight counts exchanges whose commit is in flight; room is
	// signalled when it drops below commitLimit and when it reaches zero.
	inflight    int
	commitLimit int
	room        *sync.Cond
}

// entry is a queued packet with its client key, hashed once on Push.
type entry[P Packet] struct {
	p   P
	key uint64
}

// NewQueue returns a queue of limit packets (0 or less: Unbounded) that
// lets at most commitLimit commits be in flight at once.
func NewQueue[P Packet, R comparable](limit, commitLimit int) *Queue[P, R] {
	q := &Queue[P, R]{commitLimit: commitLimit}
	q.cond = sync.NewCond(&q.mu)
	q.room = sync.NewCond(&q.mu)
	q.resizeLocked(limit)
	return q
}

// Resize changes the bound (a reload); shrinking keeps the newest
// packets, as a full queue would, and releases the others.
func (q *Queue[P, R]) Resize(limit int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.resizeLocked(limit)
}

func (q *Queue[P, R]) resizeLocked(limit int) {
	if limit <= 0 || limit > Unbounded {
		limit = Unbounded
	}
	buf := make([]entry[P], limit)
	keep := min(q.n, limit)
	skip := q.n - keep
	for i := 0; i < skip; i++ {
		e := q.buf[(q.head+i)%len(q.buf)]
		q.share.leave(e.key)
		e.p.Release()
	}
	for i := 0; i < keep; i++ {
		buf[i] = q.buf[(q.head+skip+i)%len(q.buf)]
	}
	q.buf, q.head, q.n, q.limit = buf, 0, keep, limit
}

// PushResult is what became of a pushed packet.
type PushResult uint8

// What Push did with a packet.
const (
	Queued        PushResult = iota // queued
	DroppedOldest                   // queued; the oldest packet was dropped to make room
	Refused                         // not queued: its client has its share
	Closed                          // not queued: the queue is closed
)

// Push adds p, whose client is key, dropping the oldest packet when the
// queue is full. The packet that did not stay (p itself, or the oldest)
// is released.
func (q *Queue[P, R]) Push(p P, key uint64) PushResult {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		p.Release()
		return Closed
	}
	if !q.share.admit(key) {
		q.mu.Unlock()
		p.Release()
		return Refused
	}
	res := Queued
	var dropped entry[P]
	if q.n == q.limit {
		dropped = q.buf[q.head]
		q.share.leave(dropped.key)
		q.buf[q.head] = entry[P]{}
		q.head = (q.head + 1) % q.limit
		q.n--
		res = DroppedOldest
	}
	q.buf[(q.head+q.n)%q.limit] = entry[P]{p: p, key: key}
	q.n++
	for i, w := range [3]float64{10, 100, 1000} {
		q.avg[i] += (float64(q.n) - q.avg[i]) / w
	}
	q.mu.Unlock()
	q.cond.Signal()
	if res == DroppedOldest {
		dropped.p.Release()
	}
	return res
}

// Pop waits for work and returns a released follow-up (r is not the zero
// R), else the oldest packet. After Close it returns false once nothing
// is queued and no commit is in flight.
func (q *Queue[P, R]) Pop() (p P, r R, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.n == 0 && len(q.ready) == 0 {
		if q.closed && q.inflight == 0 {
			return p, r, false
		}
		q.cond.Wait()
	}
	if n := len(q.ready); n > 0 {
		r = q.ready[0]
		copy(q.ready, q.ready[1:])
		var none R
		q.ready[n-1] = none
		q.ready = q.ready[:n-1]
		return p, r, true
	}
	e := q.buf[q.head]
	q.buf[q.head] = entry[P]{}
	q.head = (q.head + 1) % q.limit
	q.n--
	q.share.leave(e.key)
	return e.p, r, true
}

// Close stops Push; Pop drains what is queued and in flight.
func (q *Queue[P, R]) Close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.cond.Broadcast()
}

// BeginCommit takes a commit slot, waiting while the limit is reached; a
// wait is counted in waits when it begins.
func (q *Queue[P, R]) BeginCommit(waits Counter) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.inflight >= q.commitLimit {
		waits.Inc()
	}
	for q.inflight >= q.commitLimit {
		q.room.Wait()
	}
	q.inflight++
}

// EndCommit frees a commit slot and queues next (the client's follow-up,
// or the zero R) for the workers.
func (q *Queue[P, R]) EndCommit(next R) {
	var none R
	q.mu.Lock()
	q.inflight--
	if q.inflight == q.commitLimit-1 || q.inflight == 0 {
		q.room.Broadcast()
	}
	wakeAll := q.closed && q.inflight == 0
	if next != none {
		q.ready = append(q.ready, next)
	}
	q.mu.Unlock()
	switch {
	case wakeAll:
		q.cond.Broadcast()
	case next != none:
		q.cond.Signal()
	}
}

// WaitCommits returns once no commit is in flight.
func (q *Queue[P, R]) WaitCommits() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.inflight > 0 {
		q.room.Wait()
	}
}

// CommitsInFlight is the number of exchanges waiting for their commit.
func (q *Queue[P, R]) CommitsInFlight() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.inflight
}

// SetCommitLimit changes the number of commits allowed in flight (tests
// lower it to reach the bound).
func (q *Queue[P, R]) SetCommitLimit(n int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.commitLimit = n
	q.room.Broadcast()
}

// Occupancy is how full the queue is, 0 to 1.
func (q *Queue[P, R]) Occupancy() float64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return float64(q.n) / float64(q.limit)
}

// Statistics is Kea's packet-queue-statistics: the average queue length
// over the last 10, 100 and 1000 packets.
func (q *Queue[P, R]) Statistics() [3]float64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.avg
}

// Len is the number of queued packets.
func (q *Queue[P, R]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}
