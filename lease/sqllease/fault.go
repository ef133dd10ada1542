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
func (c *core[O, L]) lost(err error) bool {
	if c.reachable() {
		return false
	}
	c.startFault(err)
	return true
}

// reachable pings the database.
func (c *core[O, L]) reachable() bool {
	ctx, cancel := context.WithTimeout(context.Background(), min(pingTimeout, c.opts.OpTimeout))
	defer cancel()
	return c.fam.ping(ctx) == nil
}

// startFault starts a fault episode for err unless one is under way.
func (c *core[O, L]) startFault(err error) {
	fe := &lease.FaultError{Path: c.opts.Where, Err: err, Since: c.now()}
	if !c.fault.CompareAndSwap(nil, fe) {
		return // an episode is under way
	}
	c.stats.faults.Add(1)
	c.log.Error("lease database connection lost: refusing lease commits until it is back",
		"database", c.opts.Where, "err", err, "retry_limit", c.opts.RetryLimit)
	c.emit(lease.FaultEvent{Kind: lease.FaultFailed, Err: err, Since: fe.Since})
	if c.opts.RetryLimit <= 0 {
		// Kea's max-reconnect-tries 0: no attempt is allowed before the
		// policy acts. The store still reconnects, for serve-retry-continue.
		c.emit(lease.FaultEvent{Kind: lease.FaultExhausted, Err: err, Since: fe.Since})
	}
	c.bg.Add(1)
	go c.reconnect(fe)
}

// reconnect retries until the database answers, its schema is right and
// the cache is reloaded, or the store is closed.
func (c *core[O, L]) reconnect(fe *lease.FaultError) {
	defer c.bg.Done()
	wait := c.opts.RetryWait
	backoff := wait <= 0
	if backoff {
		wait = DefaultRetryWait
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	for attempt := 1; ; attempt++ {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		err := c.attempt()
		if err == nil {
			c.fault.Store(nil)
			c.log.Info("lease database connection back: lease commits accepted again", "database", c.opts.Where,
				"attempts", attempt, "down_s", c.now().Sub(fe.Since).Seconds())
			c.emit(lease.FaultEvent{Kind: lease.FaultRecovered, Since: fe.Since, Attempts: attempt})
			return
		}
		c.stats.retries.Add(1)
		c.log.Warn("lease database reconnection attempt failed", "database", c.opts.Where, "attempt", attempt,
			"max_reconnect_tries", c.opts.RetryLimit, "err", err)
		c.emit(lease.FaultEvent{Kind: lease.FaultRetry, Err: err, Since: fe.Since, Attempts: attempt})
		if attempt == c.opts.RetryLimit {
			c.emit(lease.FaultEvent{Kind: lease.FaultExhausted, Err: err, Since: fe.Since, Attempts: attempt})
		}
		if backoff {
			wait = min(2*wait, MaxRetryWait)
		}
		t.Reset(wait)
	}
}

// attempt reconnects: ping, schema, and a fresh cache.
func (c *core[O, L]) attempt() error {
	ctx, cancel := c.opCtx()
	err := c.fam.ping(ctx)
	if err == nil {
		err = c.fam.checkSchema(ctx)
	}
	cancel()
	if err != nil {
		return err
	}
	lctx, lcancel := context.WithTimeout(context.Background(), max(loadTimeout, c.opts.OpTimeout))
	defer lcancel()
	n, err := c.fam.reload(lctx)
	if err != nil {
		return err
	}
	c.log.Info("lease cache reloaded from the database", "database", c.opts.Where, "leases", n)
	return nil
}

func (c *core[O, L]) emit(ev lease.FaultEvent) {
	if c.opts.OnFault != nil {
		ev.Path = c.opts.Where
		c.opts.OnFault(ev)
	}
}
