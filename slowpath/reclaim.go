package slowpath

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"xdhcp/hooks"
	"xdhcp/lease"
)

// housekeeping runs the timers: offer expiry every second, expired-lease
// reclamation and flushing on Kea's expired-leases-processing timers.
func (s *Server) housekeeping() {
	defer s.wg.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var lastReclaim, lastFlush time.Time
	for {
		select {
		case <-s.ctx.Done():
			return
		case now := <-tick.C:
			s.expireOffers(now.Unix())
			el := s.Config().ExpiredLeases
			if el.ReclaimTimerWaitTime > 0 && now.Sub(lastReclaim) >= el.ReclaimTimerWaitTime {
				lastReclaim = now
				// With the flush timer off nothing would ever remove a
				// held lease: Kea's cycles then remove leases at once.
				if _, err := s.reclaim(el.FlushReclaimedTimerWait == 0, true); err != nil {
					s.log.Error("lease reclamation", "err", err)
				}
			}
			if el.FlushReclaimedTimerWait > 0 && now.Sub(lastFlush) >= el.FlushReclaimedTimerWait {
				lastFlush = now
				if err := s.flushReclaimed(); err != nil {
					s.log.Error("flush reclaimed leases", "err", err)
				}
			}
		}
	}
}

func (s *Server) expireOffers(now int64) {
	gone := s.offers.expire(now)
	if len(gone) == 0 {
		return
	}
	s.rtMu.RLock()
	defer s.rtMu.RUnlock()
	for _, a := range gone {
		if l, ok := s.store.Get(a); ok && l.State != lease.StateExpiredReclaimed {
			continue // leased meanwhile: the bit belongs to the lease
		}
		s.freeAddr(s.rt, a)
	}
}

// Reclaim reclaims expired leases (Kea's leases-reclaim): each becomes
// expired-reclaimed (or is removed when remove is set, hold-reclaimed-time
// is 0, or it was declined) and its address returns to the pool. As Kea's
// command, it reclaims every expired lease, whatever max-reclaim-leases
// and max-reclaim-time say; the timer's cycles keep to them.
func (s *Server) Reclaim(remove bool) (int, error) { return s.reclaim(remove, false) }

// reclaimChunk is the number of leases committed before max-reclaim-time
// is looked at again.
const reclaimChunk = 1024

// reclaim is one reclamation; limited keeps it to max-reclaim-leases and
// max-reclaim-time. The store is searched first, without locks of the
// engine's: the search reads every lease, and the workers must not wait
// for it (when nothing expired, the usual case, they never wait at all).
// The leases found are then reclaimed under the configuration's write
// lock, so that no renewal of one of them interleaves, each only if it is
// still as found.
func (s *Server) reclaim(remove, limited bool) (int, error) {
	start := time.Now()
	limit := 1 << 20
	if el := s.Config().ExpiredLeases; limited && el.MaxReclaimLeases > 0 {
		limit = el.MaxReclaimLeases
	}
	now := s.now().Unix()
	expired := s.store.Expired(now, limit)
	if len(expired) == 0 {
		return 0, nil
	}
	s.lockLiveConfig()
	defer s.rtMu.Unlock()
	rt := s.rt
	el := rt.cfg.ExpiredLeases
	var deadline time.Time
	if limited && el.MaxReclaimTime > 0 {
		deadline = start.Add(el.MaxReclaimTime)
	}
	remove = remove || el.HoldReclaimedTime == 0
	ops := make([]lease.Op, 0, len(expired))
	was := make([]lease.State, 0, len(expired))
	for _, l := range expired {
		if l.State == lease.StateExpiredReclaimed || !s.unchanged(&l) {
			continue
		}
		was = append(was, l.State)
		// A declined lease has no client identifiers: there is no client
		// to keep it for (the reason reclaimed leases are held), and a
		// row without hwaddr or client-id that is not declined is invalid
		// in Kea's lease file. It goes at once.
		if remove || l.State == lease.StateDeclined {
			ops = append(ops, lease.Op{Kind: lease.OpDelete, Lease: l})
			continue
		}
		r := l
		r.State = lease.StateExpiredReclaimed
		ops = append(ops, lease.Op{Kind: lease.OpPut, Lease: r})
	}
	done, step := 0, len(ops)
	if !deadline.IsZero() {
		step = reclaimChunk
	}
	for off := 0; off < len(ops); off += step {
		chunk := ops[off:min(off+step, len(ops))]
		errs, err := s.commitReclaimed(chunk)
		for i, op := range chunk {
			if (err != nil && errs == nil) || (errs != nil && errs[i] != nil) {
				continue
			}
			s.reclaimed(rt, op, was[off+i])
			done++
		}
		if err != nil {
			return done, err
		}
		if !deadline.IsZero() && time.Now().After(deadline) {
			break
		}
	}
	return done, nil
}

// commitReclaimed writes a chunk of reclamations. A store other servers
// share takes each lease on its own (its group commit batches them
// again): one of them renewed meanwhile by another server is a conflict
// that must not cost the others, and stays as that server wrote it
// (errs says which). Any other store takes the chunk at once.
func (s *Server) commitReclaimed(ops []lease.Op) (errs []error, err error) {
	if sh, ok := s.store.(lease.Shared); !ok || !sh.SharedWithOtherServers() {
		return nil, s.store.Commit(s.context(), ops...)
	}
	errs = make([]error, len(ops))
	var wg sync.WaitGroup
	wg.Add(len(ops))
	for i := range ops {
		s.store.CommitAsync(ops[i:i+1], func(e error) { errs[i] = e; wg.Done() })
	}
	wg.Wait()
	for i, e := range errs {
		if e != nil && !errors.Is(e, lease.ErrConflict) {
			// Not another server's renewal: the store failed. The
			// leases it did commit are reclaimed all the same (errs).
			return errs, fmt.Errorf("reclaim %s: %w", ops[i].Lease.Addr, e)
		}
	}
	return errs, nil
}

// reclaimed does what follows a lease's reclamation: its address returns
// to the pool, the statistics count it, and the listeners hear of it.
// Called with the configuration's write lock held.
func (s *Server) reclaimed(rt *liveConfig, op lease.Op, was lease.State) {
	l := op.Lease
	s.freeAddr(rt, l.Addr)
	s.forget(l.Addr)
	sn := rt.byID[l.SubnetID]
	if sn != nil {
		sn.st.assigned.Add(-1)
	}
	if was == lease.StateDeclined {
		s.st.declined.Add(-1)
		s.st.reclaimedDeclined.Inc()
		if sn != nil {
			sn.st.declined.Add(-1)
			sn.st.reclaimedDeclined.Inc()
		}
	}
	s.st.reclaimed.Inc()
	if sn != nil {
		sn.st.reclaimed.Inc()
	}
	// As Kea: every expired lease is told lease4_expire; a declined one
	// back from probation then lease4_recover (it is removed, but not
	// told as removed: that is the reclamation mode's flag).
	if was == lease.StateDeclined {
		s.tellLease(nil, hooks.Lease4Expire, sn, expired0(op, was), false)
		s.tellLease(nil, hooks.Lease4Recover, sn, expired0(op, was), false)
	} else {
		s.tellLease(nil, hooks.Lease4Expire, sn, expired0(op, was), op.Kind == lease.OpDelete)
	}
}

// flushReclaimed removes expired-reclaimed leases held longer than
// hold-reclaimed-time. As reclaim, it searches before it locks.
func (s *Server) flushReclaimed() error {
	hold := int64(s.Config().ExpiredLeases.HoldReclaimedTime.Seconds())
	found := s.store.Reclaimed(s.now().Unix()-hold, flushLimit)
	if len(found) == 0 {
		return nil
	}
	s.lockLiveConfig()
	defer s.rtMu.Unlock()
	ops := make([]lease.Op, 0, len(found))
	for _, l := range found {
		if s.unchanged(&l) {
			ops = append(ops, lease.Op{Kind: lease.OpDelete, Lease: l})
		}
	}
	if len(ops) == 0 {
		return nil
	}
	return s.store.Commit(s.context(), ops...)
}

// flushLimit bounds the leases one flush of reclaimed leases removes.
const flushLimit = 10000

// unchanged reports whether the store still holds l as it was found:
// not renewed, released or reclaimed since. Called under the
// configuration's write lock, with the commits in flight done.
func (s *Server) unchanged(l *lease.Lease) bool {
	cur, ok := s.store.Get(l.Addr)
	return ok && cur.State == l.State && cur.CLTT == l.CLTT && cur.ValidLft == l.ValidLft && cur.SubnetID == l.SubnetID
}

// expired0 is the lease as it was before reclamation (state was), as the
// expiry listeners are told of it.
func expired0(op lease.Op, was lease.State) lease.Lease {
	l := op.Lease
	l.State = was
	return l
}
