package ha

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"xdhcp/config"
	"xdhcp/control"
	"xdhcp/lease"
	"xdhcp/lease/leasejson"
)

// ErrUpdateFailed wraps every failed awaited lease update: the caller must
// not send the reply (Kea drops the parked response).
var ErrUpdateFailed = errors.New("lease update to HA peer failed")

// ErrParkingLotFull is returned by Replicate when parked-packet-limit
// replies already wait for their lease updates: the reply is dropped and
// no update is sent, as Kea drops a query it cannot park. The client
// retries, and its retry is committed and replicated again.
var ErrParkingLotFull = fmt.Errorf("%w: parked-packet-limit replies already wait for the partner", ErrUpdateFailed)

// ErrTooManyRejected is logged when rejected updates send a relationship
// to terminated.
var ErrTooManyRejected = errors.New("too many lease updates rejected by the partner")

// Replicate sends committed lease changes to the peers that must have them
// and returns when every awaited answer is in: the failover partner
// always (in load-balancing, hot-standby and partner-in-maintenance),
// backups only with wait-backup-ack (otherwise they are sent in the
// background). Deletes go as lease4-del, puts as lease4-update with
// force-create; every lease is its own request and the requests run in
// parallel over the peer's connection pool. In communication-recovery the
// partner's updates are queued (up to delayed-updates-limit) and not
// awaited; in states that send nothing they are counted as unsent.
//
// A call whose ops put a lease holds a reply (Kea's parking lot): when
// Deps.ParkedPacketLimit calls already wait, it sends nothing and returns
// ErrParkingLotFull, so an overloaded pair sheds load instead of queueing
// updates until every reply is too late for its client. Delete-only
// calls (releases, whose replies do not exist) are never dropped.
//
// A non-nil error means an awaited peer did not accept every change: the
// reply must be withheld. It implements slowpath.Replicator.
func (s *Service) Replicate(ctx context.Context, ops []lease.Op) error {
	if len(ops) == 0 {
		return nil
	}
	return s.replicateBySubnet(ctx, hasPut(ops), len(ops), func(i int) uint32 { return ops[i].Lease.SubnetID },
		func(idx []int) []update {
			sub := make([]lease.Op, len(idx))
			for j, i := range idx {
				sub[j] = ops[i]
			}
			return updates4(sub)
		})
}

// Replicate6 is Replicate for a DHCPv6 service: the committed changes of
// one exchange go to each peer as one lease6-bulk-apply (deleted-leases,
// then leases), as kea-dhcp6's HA sends them.
func (s *Service) Replicate6(ctx context.Context, ops []lease.Op6) error {
	if len(ops) == 0 {
		return nil
	}
	put := false
	for _, op := range ops {
		put = put || op.Kind != lease.OpDelete
	}
	return s.replicateBySubnet(ctx, put, len(ops), func(i int) uint32 { return ops[i].Lease.SubnetID },
		func(idx []int) []update {
			sub := make([]lease.Op6, len(idx))
			for j, i := range idx {
				sub[j] = ops[i]
			}
			return []update{bulkApply6(sub)}
		})
}

// replicateBySubnet sends n changes, of which subnet(i) is the i-th's
// subnet, to the relationships that replicate them: encode turns the
// indexes of one relationship's changes into its updates. put says the
// changes hold a reply (see Replicate's parking lot).
func (s *Service) replicateBySubnet(ctx context.Context, put bool, n int, subnet func(i int) uint32,
	encode func(idx []int) []update) error {
	if s.parkLimit > 0 && put {
		if s.parked.Add(1) > s.parkLimit {
			s.parked.Add(-1)
			s.parkDrops.Add(1)
			return ErrParkingLotFull
		}
		defer s.parked.Add(-1)
	}
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	if s.bySubnet == nil {
		return s.rels[0].replicate(ctx, encode(all))
	}
	groups := map[*Relationship][]int{}
	for _, i := range all {
		if r := s.bySubnet[subnet(i)]; r != nil {
			groups[r] = append(groups[r], i)
		}
	}
	var errs []error
	for r, g := range groups {
		if err := r.replicate(ctx, encode(g)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (r *Relationship) replicate(ctx context.Context, ops []update) error {
	if !r.cfg.SendLeaseUpdates {
		return nil
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	await := func(ctx context.Context, p *peerLink, partner bool) {
		for _, op := range ops {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := r.send(ctx, p, op, partner)
				if err != nil && partner && r.deferUpdate(op, err) {
					err = nil
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}()
		}
	}
	if r.partner != nil {
		r.mu.Lock()
		st := r.state
		switch {
		case st == StateCommunicationRecovery:
			for _, op := range ops {
				r.queueLocked(op)
			}
			r.mu.Unlock()
		case updatesPartner(st):
			// The updates stop waiting when the state machine leaves
			// the states that update the partner (a failed heartbeat
			// or update moved it to communication-recovery, failure
			// detection to partner-down): see deferUpdate.
			stop := r.stopUpdates
			r.mu.Unlock()
			pctx, cancel := context.WithCancel(ctx)
			defer cancel()
			go func() {
				select {
				case <-stop:
					cancel()
				case <-pctx.Done():
				}
			}()
			await(pctx, r.partner, true)
		default:
			r.mu.Unlock()
			r.unsent.Add(uint64(len(ops)))
		}
	}
	for _, b := range r.backups {
		if r.cfg.WaitBackupAck {
			await(ctx, b, false)
			continue
		}
		// Not awaited: a slow backup must not hold the pair's replies, as
		// in Kea. Its bounded queue takes them.
		for _, op := range ops {
			b.queue.enqueue(r, b, op)
		}
	}
	wg.Wait()
	return errors.Join(errs...)
}

// maxFlushRounds bounds how many times recover flushes the updates that
// joined the backlog while it flushed the previous ones.
const maxFlushRounds = 16

// flush sends the backlog's updates to the partner in order over one
// connection, stopping at the first that fails or is refused.
func (r *Relationship) flush(ctx context.Context, backlog []update) error {
	c, err := newClient(r.partner.cfg, 1, r.s.family)
	if err != nil {
		return err
	}
	defer c.close()
	for _, up := range backlog {
		a, err := c.do(ctx, up.name, up.args, RequestTimeout)
		if err == nil && !a.ok() {
			err = fmt.Errorf("%s %s: result %d: %s", up.name, up.addr, a.Result, a.Text)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// queueLocked adds op to the backlog of communication-recovery, or marks
// the backlog overflowed when delayed-updates-limit updates wait already.
// r.mu is held.
func (r *Relationship) queueLocked(op update) {
	if len(r.backlog) >= r.cfg.DelayedUpdatesLimit {
		r.backlogOver = true
		return
	}
	r.backlog = append(r.backlog, op)
}

// deferUpdate decides the fate of a partner update that failed without
// an answer: when the state machine has meanwhile left the states that
// update the partner for one that serves without it, the update is kept
// as that state keeps updates and the reply goes out, as it would have
// had the query come a moment later. In communication-recovery it joins
// the backlog (flushed, or replaced by a reset and resynchronization, when
// the partner is back); in partner-down it is counted as unsent (the
// partner synchronizes from this server when it returns). Otherwise — the
// partner answered with a failure, or the server still updates the
// partner or no longer serves — the reply is withheld, as Kea withholds
// it, and the client's retry decides again.
func (r *Relationship) deferUpdate(op update, err error) bool {
	if errors.Is(err, errPartnerAnswered) {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch r.state {
	case StateCommunicationRecovery:
		r.queueLocked(op)
		return true
	case StatePartnerDown:
		r.unsent.Add(1)
		return true
	}
	return false
}

// errPartnerAnswered marks an update the partner answered with a failure.
var errPartnerAnswered = errors.New("partner answered")

// ParkingLotDrops returns how many replies Replicate dropped because
// parked-packet-limit replies were already waiting.
func (s *Service) ParkingLotDrops() uint64 { return s.parkDrops.Load() }

func hasPut(ops []lease.Op) bool {
	for _, op := range ops {
		if op.Kind != lease.OpDelete {
			return true
		}
	}
	return false
}

// update is one lease update command to a peer: what Replicate sends for
// committed changes, what the backlog and the backups' queues hold.
type update struct {
	name string
	args any
	// addr is the lease it is about (the first of a bulk), for the
	// rejected-updates count and the logs.
	addr netip.Addr
}

// updates4 are the DHCPv4 updates for ops, deletes before puts as Kea
// sends them: lease4-del for a delete, lease4-update with force-create
// for a put.
func updates4(ops []lease.Op) []update {
	out := make([]update, 0, len(ops))
	for _, op := range ops {
		if op.Kind == lease.OpDelete {
			out = append(out, update{cmdLeaseDel, leasejson.EncodeUpdate(&op.Lease, false), op.Lease.Addr})
		}
	}
	for _, op := range ops {
		if op.Kind != lease.OpDelete {
			out = append(out, update{cmdLeaseUpdate, leasejson.EncodeUpdate(&op.Lease, true), op.Lease.Addr})
		}
	}
	return out
}

// bulkArgs are lease6-bulk-apply's arguments as Kea's HA sends them.
type bulkArgs struct {
	DeletedLeases []map[string]any `json:"deleted-leases"`
	Leases        []map[string]any `json:"leases"`
	Origin        string           `json:"origin"`
}

// bulkApply6 is the DHCPv6 update for ops: one lease6-bulk-apply.
func bulkApply6(ops []lease.Op6) update {
	a := bulkArgs{DeletedLeases: []map[string]any{}, Leases: []map[string]any{}, Origin: originPartner}
	for i := range ops {
		l := &ops[i].Lease
		if ops[i].Kind == lease.OpDelete {
			a.DeletedLeases = append(a.DeletedLeases, leasejson.EncodeUpdate6(l))
		} else {
			a.Leases = append(a.Leases, leasejson.EncodeUpdate6(l))
		}
	}
	return update{cmdLease6BulkApply, a, ops[0].Lease.Addr}
}

// send delivers one change to a peer. For the partner, a failure marks it
// unavailable (Kea 2.2) and a rejection counts toward
// max-rejected-lease-updates.
func (r *Relationship) send(ctx context.Context, p *peerLink, op update, partner bool) error {
	name := op.name
	a, err := p.c.do(ctx, name, op.args, r.updateTimeout(partner))
	if err == nil && a.ok() {
		if partner {
			r.mu.Lock()
			delete(r.rejected, op.addr)
			r.mu.Unlock()
		}
		return nil
	}
	if err == nil {
		err = fmt.Errorf("%w: %s %s to %s: result %d: %s", errPartnerAnswered, name, op.addr, p.cfg.Name, a.Result, a.Text)
	}
	if !partner {
		return fmt.Errorf("%w: %w", ErrUpdateFailed, err)
	}
	if ctx.Err() != nil {
		// Given up by this server (its state machine stopped the
		// updates, or it is shutting down): says nothing of the partner.
		return fmt.Errorf("%w: %w", ErrUpdateFailed, err)
	}
	rejected := a.Result == control.ResultError || a.Result == control.ResultConflict
	r.mu.Lock()
	terminate := false
	if rejected {
		r.rejected[op.addr] = true
		terminate = r.cfg.MaxRejectedLeaseUpdates > 0 && len(r.rejected) > r.cfg.MaxRejectedLeaseUpdates
	}
	// A conflict (Kea ≥2.3.1) is the partner disagreeing, not failing;
	// anything else marks it unavailable as Kea 2.2 does.
	if a.Result != control.ResultConflict {
		r.partnerState = StateUnavailable
	}
	if terminate && r.state != StateTerminated {
		r.log.Error("partner rejected too many lease updates", "rejected", len(r.rejected),
			"max_rejected_lease_updates", r.cfg.MaxRejectedLeaseUpdates, "err", ErrTooManyRejected)
		r.transitionLocked(StateTerminated, "max-rejected-lease-updates exceeded")
	}
	recovering := !terminate && r.recoverNowLocked()
	r.mu.Unlock()
	if terminate || recovering {
		r.s.publishScopes()
	}
	r.poke()
	return fmt.Errorf("%w: %w", ErrUpdateFailed, err)
}

// updateTimeout is how long an update may wait for its answer. A
// load-balancing server with communication-recovery need not hold a reply
// longer than failure detection waits for a heartbeat: past that the
// update fails, the server enters communication-recovery and the update
// joins the backlog (see deferUpdate). Otherwise the failed update would
// withhold the reply, so it gets Kea's request timeout.
func (r *Relationship) updateTimeout(partner bool) time.Duration {
	if partner && r.cfg.Mode == config.HAModeLoadBalancing && r.cfg.DelayedUpdatesLimit > 0 {
		return r.heartbeatTimeout()
	}
	return RequestTimeout
}

// recoverNowLocked moves a load-balancing server whose partner just became
// unavailable to communication-recovery at once, as Kea does at the first
// failed update, rather than at the next run of the state machine (which
// waits for the heartbeat in flight, possibly on a blackholed connection).
// It reports whether it moved. r.mu is held.
func (r *Relationship) recoverNowLocked() bool {
	if r.state != StateLoadBalancing || r.partnerState != StateUnavailable {
		return false
	}
	next, act := decide(r.viewLocked(r.s.now()))
	if act != actNone || next != StateCommunicationRecovery {
		return false
	}
	r.transitionLocked(next, "lease update to partner failed")
	return true
}

// recover leaves communication-recovery toward a partner back in
// load-balancing: flush the backlog in order, one request per lease,
// stopping at the first error; if that fails or the backlog overflowed,
// ha-reset the partner (success → waiting, failure → stay).
//
// The server still serves in communication-recovery while it flushes, so
// leases given meanwhile join a new backlog; they are flushed in turn, and
// the state changes only once the backlog is empty under the lock the
// updates are queued under (leaving the state drops the backlog). A backlog
// that keeps refilling for maxFlushRounds is treated as overflowed: the
// partner is reset and resynchronizes instead.
func (r *Relationship) recover(ctx context.Context) {
	var flushErr error
	over, sent := false, 0
	r.mu.Lock()
	for round := 0; ; round++ {
		backlog := r.backlog
		over = over || r.backlogOver || round == maxFlushRounds && len(backlog) > 0
		r.backlog, r.backlogOver = nil, false
		if over || len(backlog) == 0 {
			break
		}
		r.mu.Unlock()
		flushErr = r.flush(ctx, backlog)
		r.mu.Lock()
		if flushErr != nil {
			break
		}
		sent += len(backlog)
	}
	defer r.unlockPublish()
	if !over && flushErr == nil {
		r.transitionLocked(StateLoadBalancing, fmt.Sprintf("communication restored, %d delayed updates sent", sent))
		return
	}
	r.log.Warn("delayed updates not delivered: resetting partner", "overflow", over, "err", flushErr)
	r.mu.Unlock()
	a, err := r.partner.c.do(ctx, cmdReset, nil, RequestTimeout)
	r.mu.Lock()
	if err == nil && a.Result == 0 {
		r.transitionLocked(StateWaiting, "partner reset after backlog loss")
		return
	}
	// Stay in communication-recovery; keep the overflow so the next run
	// tries the reset again.
	r.backlogOver = true
	r.log.Warn("ha-reset to partner failed", "err", err, "result", a.Result)
}
