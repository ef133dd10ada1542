package sqllease

import (
	"context"
	"time"

	"xdhcp/lease"
)

// Connection loss.
//
// A batch whose write fails is followed by a ping: when the ping fails
// too the database is lost, and the store refuses every commit (a
// *lease.FaultError wrapping lease.ErrStorage, so nothing is acknowledged
// that the database may not hold) while one goroutine reconnects with
// backoff. A failed batch's transaction may or may not have committed
// before the connection went: its commits are refused all the same, and
// the cache is reloaded from the database when the connection comes back,
// so the cache holds what the database holds, whichever way it went. What
// the server does meanwhile (stop serving, exit) is its on-fail policy,
// told through Options.OnFault.

// lost reports whether err left the database unreachable; if so it
// starts a fault episode (once).
func (s *Store) lost(err error) bool {
	if s.reachable() {
		return false
	}
	s.startFault(err)
	return true
}

// reachable pings the database.
func (s *Store) reachable() bool {
	ctx, cancel := context.WithTimeout(context.Background(), min(pingTimeout, s.opts.OpTimeout))
	defer cancel()
	return s.d.Ping(ctx) == nil
}

// startFault starts a fault episode for err unless one is under way.
func (s *Store) startFault(err error) {
	fe := &lease.FaultError{Path: s.opts.Where, Err: err, Since: s.now()}
	if !s.fault.CompareAndSwap(nil, fe) {
		return // an episode is under way
	}
	s.stats.faults.Add(1)
	s.log.Error("lease database connection lost: refusing lease commits until it is back",
		"database", s.opts.Where, "err", err, "retry_limit", s.opts.RetryLimit)
	s.emit(lease.FaultEvent{Kind: lease.FaultFailed, Err: err, Since: fe.Since})
	if s.opts.RetryLimit <= 0 {
		// Kea's max-reconnect-tries 0: no attempt is allowed before the
		// policy acts. The store still reconnects, for serve-retry-continue.
		s.emit(lease.FaultEvent{Kind: lease.FaultExhausted, Err: err, Since: fe.Since})
	}
	s.bg.Add(1)
	go s.reconnect(fe)
}

// reconnect retries until the database answers, its schema is right and
// the cache is reloaded, or the store is closed.
func (s *Store) reconnect(fe *lease.FaultError) {
	defer s.bg.Done()
	wait := s.opts.RetryWait
	backoff := wait <= 0
	if backoff {
		wait = DefaultRetryWait
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	for attempt := 1; ; attempt++ {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		err := s.attempt()
		if err == nil {
			s.fault.Store(nil)
			s.log.Info("lease database connection back: lease commits accepted again", "database", s.opts.Where,
				"attempts", attempt, "down_s", s.now().Sub(fe.Since).Seconds())
			s.emit(lease.FaultEvent{Kind: lease.FaultRecovered, Since: fe.Since, Attempts: attempt})
			return
		}
		s.stats.retries.Add(1)
		s.log.Warn("lease database reconnection attempt failed", "database", s.opts.Where, "attempt", attempt,
			"max_reconnect_tries", s.opts.RetryLimit, "err", err)
		s.emit(lease.FaultEvent{Kind: lease.FaultRetry, Err: err, Since: fe.Since, Attempts: attempt})
		if attempt == s.opts.RetryLimit {
			s.emit(lease.FaultEvent{Kind: lease.FaultExhausted, Err: err, Since: fe.Since, Attempts: attempt})
		}
		if backoff {
			wait = min(2*wait, MaxRetryWait)
		}
		t.Reset(wait)
	}
}

// attempt reconnects: ping, schema, and a fresh cache.
func (s *Store) attempt() error {
	ctx, cancel := s.opCtx()
	err := s.d.Ping(ctx)
	if err == nil {
		err = s.d.CheckSchema(ctx)
	}
	cancel()
	if err != nil {
		return err
	}
	lctx, lcancel := context.WithTimeout(context.Background(), max(loadTimeout, s.opts.OpTimeout))
	defer lcancel()
	cache, n, err := s.load(lctx)
	if err != nil {
		return err
	}
	old := s.cache.Swap(cache)
	_ = old.Close()
	s.log.Info("lease cache reloaded from the database", "database", s.opts.Where, "leases", n)
	return nil
}

func (s *Store) emit(ev lease.FaultEvent) {
	if s.opts.OnFault != nil {
		ev.Path = s.opts.Where
		s.opts.OnFault(ev)
	}
}
