package intake

import (
	"sync"
	"time"
)

// RateLimiter is a per-client rate limit where no XDP program enforces
// it (socket mode): a token bucket per client key. The table has Slots
// slots; a client whose slot holds another client's bucket takes it over
// with a full bucket, so a collision can only let packets through, never
// drop a well-behaved client's. It is guarded by its own mutex; the zero
// value lets everything through.
type RateLimiter struct {
	mu          sync.Mutex
	rate, burst int64 // packets per second (0 = off), bucket size
	slots       [Slots]bucket
}

type bucket struct {
	key    uint64
	tokens int64 // packets × 1e9, so that refill needs no division
	last   int64 // unix nanoseconds
}

// Configure sets the rate in packets per second (0 turns the limiter off)
// and the burst, at least the rate; every bucket starts afresh.
func (l *RateLimiter) Configure(rate, burst uint32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rate, l.burst = int64(rate), int64(max(burst, rate, 1))
	l.slots = [Slots]bucket{}
}

// Allow takes a token from the bucket of client key at time now (unix
// nanoseconds) and reports whether there was one.
func (l *RateLimiter) Allow(key uint64, now int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rate == 0 {
		return true
	}
	const second = int64(time.Second)
	capacity := l.burst * second
	bk := &l.slots[key%Slots]
	if bk.key != key || bk.last == 0 {
		*bk = bucket{key: key, tokens: capacity - second, last: now}
		return true
	}
	if elapsed := now - bk.last; elapsed >= capacity/l.rate {
		bk.tokens = capacity
	} else if elapsed > 0 {
		bk.tokens = min(capacity, bk.tokens+elapsed*l.rate)
	}
	bk.last = max(bk.last, now)
	if bk.tokens < second {
		return false
	}
	bk.tokens -= second
	return true
}
