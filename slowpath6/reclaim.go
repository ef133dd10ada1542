package slowpath6

import (
	"context"
	"slices"
	"time"

	"xdhcp/hooks"
	"xdhcp/lease"
)

// housekeeping runs the timers: advertised addresses set aside expire
// every few seconds; expired leases are reclaimed and reclaimed ones
// flushed on Kea's expired-leases-processing timers (read at each tick,
// so a reload applies).
func (s *Server) housekeeping(ctx context.Context) {
	defer s.wg.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var lastHeld, lastReclaim, lastFlush time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			if now.Sub(lastHeld) >= 5*time.Second {
				lastHeld = now
				s.held.expire(s.now().Unix())
			}
			s.rtMu.RLock()
			el := s.rt.cfg.ExpiredLeases
			s.rtMu.RUnlock()
			if el.ReclaimTimerWaitTime > 0 && now.Sub(lastReclaim) >= el.ReclaimTimerWaitTime {
				lastReclaim = now
				// With the flush timer off nothing would ever remove a
				// held lease: Kea's cycles then remove leases at once.
				if _, err := s.reclaim(el.FlushReclaimedTimerWait == 0, true); err != nil {
					s.log.Warn("reclaim expired DHCPv6 leases", "err", err)
				}
			}
			if el.FlushReclaimedTimerWait > 0 && now.Sub(lastFlush) >= el.FlushReclaimedTimerWait {
				lastFlush = now
				if err := s.flushReclaimed(); err != nil {
					s.log.Warn("flush reclaimed DHCPv6 leases", "err", err)
				}
			}
		}
	}
}

// Reclaim reclaims every expired lease now (Kea's leases-reclaim for
// DHCPv6), whatever max-reclaim-leases and max-reclaim-time say; remove
// removes them rather than keep them expired-reclaimed.
func (s *Server) Reclaim(remove bool) (int, error) { return s.reclaim(remove, false) }

// reclaim processes expired leases as Kea's expired-leases-processing
// does. An expired lease stays in the store in the expired-reclaimed
// state (its address or prefix free for anyone, its last owner
// remembered for hold-reclaimed-time), or is removed when remove is set
// or hold-reclaimed-time is 0. A declined address whose probation ended
// is removed (it has no client to be kept for; Kea's lease file refuses a
// row with the empty DUID that is not declined) and told as recovered.
// limited keeps a cycle to max-reclaim-leases and max-reclaim-time.
//
// The store is searched before the write lock is taken: the search reads
// every lease, and the workers must not wait for it (when nothing
// expired, the usual case, they never wait at all). Under the lock, so
// that no renewal interleaves, a lease found is reclaimed only if it is
// still as found.
func (s *Server) reclaim(remove, limited bool) (int, error) {
	start := time.Now()
	limit := 0 // all
	if limited {
		limit = max(s.Config().ExpiredLeases.MaxReclaimLeases, 0)
	}
	exp := s.store.Expired(s.now().Unix(), limit)
	if len(exp) == 0 {
		return 0, nil
	}
	s.rtMu.Lock()
	defer s.rtMu.Unlock()
	el := s.rt.cfg.ExpiredLeases
	var deadline time.Time
	if limited && el.MaxReclaimTime > 0 {
		deadline = start.Add(el.MaxReclaimTime)
	}
	remove = remove || el.HoldReclaimedTime == 0
	exp = slices.DeleteFunc(exp, func(l lease.Lease6) bool { return !s.unchanged(&l) })
	done := 0
	for len(exp) > 0 {
		n := min(len(exp), reclaimChunk)
		chunk := exp[:n]
		exp = exp[n:]
		ops := make([]lease.Op6, 0, len(chunk))
		for _, l := range chunk {
			if remove || l.State == lease.StateDeclined {
				ops = append(ops, lease.Op6{Kind: lease.OpDelete, Lease: l})
				continue
			}
			r := l
			r.State = lease.StateExpiredReclaimed
			r.Hostname, r.FqdnFwd, r.FqdnRev = "", false, false
			ops = append(ops, lease.Op6{Kind: lease.OpPut, Lease: r})
		}
		if err := s.store.Commit(context.Background(), ops...); err != nil {
			return done, err
		}
		for i := range chunk {
			s.reclaimed(&chunk[i], &ops[i])
		}
		done += n
		if !deadline.IsZero() && time.Now().After(deadline) {
			break
		}
	}
	return done, nil
}

// reclaimChunk is the number of leases committed at once, and between
// two looks at max-reclaim-time.
const reclaimChunk = 1024

// reclaimed does what follows the reclamation of lease l (as it was) by
// op: the fast path forgets its client, the statistics move, and the
// listeners hear lease6_expire, then lease6_recover for a declined
// address, as kea-dhcp6 tells them.
func (s *Server) reclaimed(l *lease.Lease6, op *lease.Op6) {
	if s.cache != nil && len(l.DUID) > 0 {
		s.cache.Delete6(l.DUID)
	}
	s.leases.Reclaimed(l)
	var after *lease.Lease6
	if op.Kind == lease.OpPut {
		after = &op.Lease
	}
	s.leases.Changed(l, after)
	if s.events == nil {
		return
	}
	s.tell(hooks.Lease6Expire, l, op.Kind == lease.OpDelete && l.State != lease.StateDeclined)
	if l.State == lease.StateDeclined {
		s.tell(hooks.Lease6Recover, l, false)
	}
}

// tell tells the listeners of a reclamation event for lease l.
func (s *Server) tell(p hooks.Point6, l *lease.Lease6, removed bool) {
	e := &hooks.Event6{Point: p, Time: s.now(), Leases: []lease.Lease6{*l}, Subnet: hooks.Subnet{ID: l.SubnetID},
		RemoveLease: removed}
	s.events.LeaseEvent6(e)
}

// flushReclaimed removes expired-reclaimed leases held longer than
// hold-reclaimed-time.
func (s *Server) flushReclaimed() error {
	hold := int64(s.Config().ExpiredLeases.HoldReclaimedTime.Seconds())
	found := s.store.Reclaimed(s.now().Unix()-hold, flushLimit)
	if len(found) == 0 {
		return nil
	}
	s.rtMu.Lock()
	defer s.rtMu.Unlock()
	ops := make([]lease.Op6, 0, len(found))
	for _, l := range found {
		if s.unchanged(&l) {
			ops = append(ops, lease.Op6{Kind: lease.OpDelete, Lease: l})
		}
	}
	if len(ops) == 0 {
		return nil
	}
	return s.store.Commit(context.Background(), ops...)
}

// flushLimit bounds the leases one flush of reclaimed leases removes.
const flushLimit = 10000

// unchanged reports whether the store still holds l as it was found: not
// renewed, released or reclaimed since. Called under the write lock.
func (s *Server) unchanged(l *lease.Lease6) bool {
	cur, ok := s.store.Get(l.Addr)
	return ok && cur.Type == l.Type && cur.State == l.State && cur.CLTT == l.CLTT && cur.ValidLft == l.ValidLft &&
		cur.SubnetID == l.SubnetID
}
