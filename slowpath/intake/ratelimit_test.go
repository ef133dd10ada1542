package intake

import (
	"testing"
	"time"
)

func TestRateLimiter(t *testing.T) {
	var l RateLimiter
	if !l.Allow(1, 1) {
		t.Fatal("the zero limiter must let everything through")
	}
	l.Configure(2, 3)
	now := time.Now().UnixNano()
	allowed := 0
	for i := 0; i < 10; i++ {
		if l.Allow(1, now) {
			allowed++
		}
	}
	if allowed != 3 {
		t.Fatalf("burst of 3: %d allowed", allowed)
	}
	if !l.Allow(2, now) {
		t.Fatal("another client has its own bucket")
	}
	if !l.Allow(1, now+int64(time.Second/2)) || l.Allow(1, now+int64(time.Second/2)) {
		t.Fatal("half a second at 2/s must refill one token")
	}
	if !l.Allow(1+Slots, now) {
		t.Fatal("a client colliding in a slot takes it over with a full bucket")
	}
	l.Configure(0, 0)
	for i := 0; i < 10; i++ {
		if !l.Allow(1, now) {
			t.Fatal("rate 0 turns the limiter off")
		}
	}
}
