package intake

import "sync"

// Serializer keeps the packets of one client from being processed at
// once: while a client's request is in process (or its commit in flight)
// its next one is held, and an older held one is displaced. R is the
// engine's request; its zero value means none. The zero Serializer is
// ready to use.
type Serializer[R comparable] struct {
	mu       sync.Mutex
	inflight map[string]R // client key -> its held follow-up, or none
}

// Acquire reports whether the caller may process r, of client key, now.
// Otherwise r is held as the client's next request, displacing an older
// one, which it returns (when not the zero R) for the caller to count and
// free.
func (z *Serializer[R]) Acquire(key string, r R) (run bool, displaced R) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.inflight == nil {
		z.inflight = make(map[string]R)
	}
	next, running := z.inflight[key]
	if !running {
		var none R
		z.inflight[key] = none
		return true, none
	}
	z.inflight[key] = r
	return false, next
}

// Release ends the processing of client key's request and returns the
// held follow-up, which the caller now processes, or the zero R when the
// client has nothing more in flight.
func (z *Serializer[R]) Release(key string) R {
	z.mu.Lock()
	defer z.mu.Unlock()
	var none R
	if next := z.inflight[key]; next != none {
		z.inflight[key] = none
		return next
	}
	delete(z.inflight, key)
	return none
}
