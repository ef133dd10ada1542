package ha

import (
	"xdhcp/config"
	"xdhcp/slowpath/alloc"
)

// poolHalves splits every pool in two for the pair: the primary's half is
// the lower one, the secondary's or standby's the upper one. Both servers
// compute it from the same configuration, so the halves agree address by
// address.
const poolHalves = 2

// splitsPools says whether, in state s of a relationship in mode m, this
// server may be handing out new leases while its partner does too and
// neither hears of the other's: in partner-down (the partner may have
// taken over as well, on the other side of a cut), and in load-balancing's
// communication-recovery and terminated states, where each server serves
// its own scope without lease updates. A hot-standby server that is
// terminated serves alone (the standby serves nothing then).
func splitsPools(s State, m config.HAMode) bool {
	switch s {
	case StatePartnerDown:
		return true
	case StateCommunicationRecovery, StateTerminated:
		return m == config.HAModeLoadBalancing
	}
	return false
}

// poolPartLocked is the part of every pool this server takes new leases
// from on entering state next from prev. r.mu is held.
//
// In the states of splitsPools it is this server's half: two servers that
// each allocate only from their own half never give one address to two
// clients, whatever each missed of the other's leases. Leases the client
// already holds are renewed wherever they are (the slow path checks that
// against the lease database).
//
// The whole pool stays this server's when the partner said it stopped
// serving: partner-down entered from partner-in-maintenance (the partner
// was put in maintenance before it went away) or by ha-maintenance-start
// with the partner unreachable (the operator says it is down). A partner
// that comes back synchronizes this server's leases before it serves
// again (sync-leases, on by default), as long as its HA link works when it
// starts.
//
// DHCPv6 pools are not split: the DHCPv6 engine's allocator takes the
// whole pool (as Kea does in every state).
func (r *Relationship) poolPartLocked(prev, next State) alloc.Part {
	if r.partner == nil || r.s.family != FamilyV4 || !splitsPools(next, r.cfg.Mode) {
		return alloc.Part{}
	}
	if next == StatePartnerDown && (prev == StatePartnerInMaintenance || r.forceFailover) {
		return alloc.Part{}
	}
	switch r.me.Role {
	case config.HARolePrimary:
		return alloc.Part{Index: 0, Parts: poolHalves}
	case config.HARoleSecondary, config.HARoleStandby:
		return alloc.Part{Index: 1, Parts: poolHalves}
	}
	return alloc.Part{}
}

// setPoolPartLocked publishes the part for the DHCP workers and logs a
// change. r.mu is held.
func (r *Relationship) setPoolPartLocked(pt alloc.Part) {
	prev := r.PoolPart()
	r.poolPart.Store(uint32(pt.Index)<<8 | uint32(pt.Parts))
	switch {
	case pt == prev:
	case pt.Whole():
		r.log.Info("new leases from the whole of every pool again")
	default:
		half := map[uint8]string{0: "lower", 1: "upper"}[pt.Index]
		r.log.Warn("new leases only from this server's half of every pool while the partner may serve without lease updates",
			"half", half)
	}
}

// PoolPart is the part of every pool of this relationship's subnets that
// new leases come from now: the zero Part (the whole pool) unless this
// server may be serving beside a partner that does not hear of its leases
// (see poolPartLocked). The DHCP workers read it for every allocation.
func (r *Relationship) PoolPart() alloc.Part {
	v := r.poolPart.Load()
	return alloc.Part{Index: uint8(v >> 8), Parts: uint8(v)}
}
