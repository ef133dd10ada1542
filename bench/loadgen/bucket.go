package loadgen

import "time"

// TokenBucket paces an open-loop generator. Tokens accrue at Rate per
// second from the first call to Take, up to Burst tokens held back; Take
// hands out the whole tokens accrued so far. Because the credit is computed
// from the elapsed time rather than from tick counts, a late tick does not
// lose tokens (up to Burst), so the long-run rate is exact even though the
// generator's clock ticks only about once a millisecond. It is not safe for
// concurrent use.
type TokenBucket struct {
	rate   float64
	burst  float64
	tokens float64
	last   time.Duration
	primed bool
}

// NewTokenBucket returns a bucket for rate tokens per second holding at
// most burst tokens; burst below 1 is raised to 1.
func NewTokenBucket(rate, burst float64) *TokenBucket {
	return &TokenBucket{rate: rate, burst: max(burst, 1)}
}

// Take returns the number of whole tokens available at now (a monotonic
// time since any fixed origin) and consumes them.
func (b *TokenBucket) Take(now time.Duration) int {
	if !b.primed {
		b.primed, b.last = true, now
		return 0
	}
	if now > b.last {
		b.tokens = min(b.tokens+b.rate*float64(now-b.last)/float64(time.Second), b.burst)
		b.last = now
	}
	n := int(b.tokens)
	b.tokens -= float64(n)
	return n
}
