// Package ha is xdhcp's high availability, wire-compatible with ISC Kea 2.2's
// libdhcp_ha.so: the HTTP/JSON protocol between peers, Kea's state machine
// with failure detection, lease updates sent before a reply is released,
// paged lease synchronization, and the RFC 3074 load-balancing split.
//
// A Service runs one or more relationships (Kea 2.2 has exactly one;
// several give hub-and-spoke, see config.HA). Each relationship has one
// goroutine that sends heartbeats and runs the state machine after each; the
// DHCP workers call Replicate, InScope and ObserveQuery concurrently.
package ha

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"xdhcp/config"

	"xdhcp/lease"
	"xdhcp/slowpath"
)

// Leases is what HA reads of the local lease database; every lease.Store
// implements it.
type Leases interface {
	Get(addr netip.Addr) (lease.Lease, bool)
}

// LeaseApplier writes a lease received from the partner during
// synchronization, as a lease update from the partner is written: the
// server's pools, statistics and lease cache follow. The lease commands
// (control/leasecmd) implement it.
type LeaseApplier interface {
	ApplyPartnerLease(ctx context.Context, l lease.Lease) error
}

// Leases6 is Leases for a DHCPv6 service; every lease.Store6 implements it.
type Leases6 interface {
	Get(addr netip.Addr) (lease.Lease6, bool)
}

// LeaseApplier6 is LeaseApplier for a DHCPv6 service (the lease6
// commands implement it).
type LeaseApplier6 interface {
	ApplyPartnerLease6(ctx context.Context, l lease.Lease6) error
}

// Network is the local DHCP service switch; *slowpath.NetworkState
// implements it.
type Network interface {
	Disable(origin string, maxPeriod time.Duration)
	Enable(origin string) bool
	Enabled() bool
}

var _ Network = (*slowpath.NetworkState)(nil)
var _ slowpath.Replicator = (*Service)(nil)

// Deps are a Service's collaborators.
type Deps struct {
	// Family is the protocol the service replicates (FamilyV4 when
	// zero). A daemon serving both runs one Service per family, as Kea
	// runs one HA hook in kea-dhcp4 and another in kea-dhcp6.
	Family  Family
	Leases  Leases        // required for FamilyV4
	Apply   LeaseApplier  // required for FamilyV4 (sync writes through it)
	Leases6 Leases6       // required for FamilyV6
	Apply6  LeaseApplier6 // required for FamilyV6
	Network Network       // required: the family's DHCP service
	Log     *slog.Logger
	// Now is the clock (time.Now when nil). Every decision that depends
	// on time (skew, interruption, ages) reads it.
	Now func() time.Time
	// ParkedPacketLimit is Kea's parked-packet-limit: how many replies
	// may wait at once for their lease updates. 0 means Kea's default
	// (DefaultParkedPacketLimit), a negative value no limit.
	ParkedPacketLimit int
}

// DefaultParkedPacketLimit is Kea 2.2's default parked-packet-limit.
const DefaultParkedPacketLimit = 256

// Service is the HA service: every relationship of this server.
type Service struct {
	log    *slog.Logger
	now    func() time.Time
	d      Deps
	family Family

	rels     []*Relationship
	bySubnet map[uint32]*Relationship // nil: rels[0] has every subnet

	scopesMu   sync.Mutex
	scopesCB   func(served [256]bool)
	lastScopes [256]bool
	scopesSent bool

	wg     sync.WaitGroup
	cancel context.CancelFunc

	// bg runs the senders of the backups' update queues; bgCtx
	// ends them at Close. bgMu orders starting one against Close.
	bgMu     sync.RWMutex
	bgClosed bool
	bgCtx    context.Context
	bgCancel context.CancelFunc
	bg       sync.WaitGroup

	// parked counts the Replicate calls holding a reply; parkLimit bounds
	// it (0: none) and parkDrops counts the replies dropped at the bound.
	parked    atomic.Int64
	parkLimit int64
	parkDrops atomic.Uint64
}

// New builds the service for cfg. Call Start to run it.
func New(cfg *config.HA, d Deps) (*Service, error) {
	if cfg == nil || len(cfg.Relationships) == 0 {
		return nil, errors.New("ha: no relationship configured")
	}
	switch {
	case d.Network == nil:
		return nil, errors.New("ha: Network is required")
	case d.Family == FamilyV4 && (d.Leases == nil || d.Apply == nil):
		return nil, errors.New("ha: Leases and Apply are required")
	case d.Family == FamilyV6 && (d.Leases6 == nil || d.Apply6 == nil):
		return nil, errors.New("ha: Leases6 and Apply6 are required for DHCPv6")
	case d.Family > FamilyV6:
		return nil, fmt.Errorf("ha: unknown family %d", d.Family)
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	s := &Service{log: d.Log.With("component", "ha"), now: d.Now, d: d, family: d.Family}
	s.bgCtx, s.bgCancel = context.WithCancel(context.Background())
	switch {
	case d.ParkedPacketLimit == 0:
		s.parkLimit = DefaultParkedPacketLimit
	case d.ParkedPacketLimit > 0:
		s.parkLimit = int64(d.ParkedPacketLimit)
	}
	for i, rc := range cfg.Relationships {
		origin := "ha-local"
		if len(cfg.Relationships) > 1 {
			origin = fmt.Sprintf("ha-local-%d", i)
		}
		r, err := newRelationship(s, rc, origin)
		if err != nil {
			s.closeClients()
			return nil, err
		}
		s.rels = append(s.rels, r)
	}
	if len(s.rels) > 1 {
		s.bySubnet = map[uint32]*Relationship{}
		for _, r := range s.rels {
			for _, id := range r.cfg.Subnets {
				s.bySubnet[id] = r
			}
		}
	}
	return s, nil
}

func (s *Service) closeClients() {
	s.stopBackground()
	for _, r := range s.rels {
		r.closeClients()
	}
}

// background runs fn on its own goroutine, owned by the service: fn's
// context ends at Close, which waits for fn to return. After Close fn is
// not run.
func (s *Service) background(fn func(ctx context.Context)) {
	s.bgMu.RLock()
	defer s.bgMu.RUnlock()
	if s.bgClosed {
		return
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		fn(s.bgCtx)
	}()
}

// stopBackground cancels the goroutines of background and waits for them.
func (s *Service) stopBackground() {
	s.bgMu.Lock()
	s.bgClosed = true
	s.bgMu.Unlock()
	s.bgCancel()
	s.bg.Wait()
}

// Family is the protocol the service replicates.
func (s *Service) Family() Family { return s.family }

// Relationships returns the relationships in configuration order.
func (s *Service) Relationships() []*Relationship { return s.rels }

// ForSubnet returns the relationship that replicates subnet id, or nil.
func (s *Service) ForSubnet(id uint32) *Relationship {
	if s.bySubnet == nil {
		return s.rels[0]
	}
	return s.bySubnet[id]
}

// Start enters the initial state of every relationship and starts their
// heartbeat loops. They stop when ctx ends or Close is called.
func (s *Service) Start(ctx context.Context) {
	ctx, s.cancel = context.WithCancel(ctx)
	for _, r := range s.rels {
		r.start()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			r.run(ctx)
		}()
	}
	s.publishScopes()
}

// Close stops the loops and closes connections. The local DHCP service is
// left as the state machine last set it.
func (s *Service) Close() error {
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
	s.closeClients()
	return nil
}

// Relationship is one HA relationship of this server.
type Relationship struct {
	s      *Service
	cfg    *config.HARelationship
	me     *config.HAPeer
	origin string // NetworkState origin of this relationship's local disables
	log    *slog.Logger

	partner *peerLink   // nil for backups and passive-backup
	backups []*peerLink // backup peers we send updates to (primary / secondary / standby)

	kick chan struct{} // run the state machine now

	stepMu sync.Mutex // one state-machine run at a time

	mu            sync.Mutex
	state         State
	prevState     State // before in-maintenance / partner-in-maintenance
	entered       time.Time
	paused        bool
	pausedOnce    map[State]bool
	served        map[string]bool // scopes (peer names) served now
	partnerState  State
	partnerScopes []string
	partnerUnsent [2]uint64 // previous, current
	// unsentAtDown is the partner's unsent-update-count when this server
	// entered partner-down: a different count when the partner is back
	// means it served without updating us meanwhile, however many
	// heartbeats passed before the state machine looked.
	unsentAtDown  uint64
	skew          time.Duration
	lastSkewWarn  time.Time
	inTouch       bool
	hbLatency     time.Duration
	syncNotified  bool        // ha-sync-complete-notify received in partner-down
	forceFailover bool        // partner-down entered by ha-maintenance-start
	clients       clientTable // failure detection's clients
	analyzed      uint64
	backlog       []update
	backlogOver   bool
	rejected      map[netip.Addr]bool
	syncProgress  syncStats
	// maintCanceled is set by a maintenance cancel, on both servers, until
	// a heartbeat reports the partner in a state other than (partner-)in-
	// maintenance: one answered before the partner left maintenance is
	// stale and would send this server back into it (Kea skips one
	// state-machine run for this, isMaintenanceCanceled; a heartbeat can
	// take longer than a run).
	maintCanceled  bool
	lastPassUp     bool
	transitions    uint64
	lastOKUnixNano atomic.Int64 // last successful heartbeat (start time before any)
	unsent         atomic.Uint64
	// stopUpdates is closed when the relationship leaves the states that
	// update the partner, and replaced by an open one when it enters one
	// again: lease updates in flight stop waiting for a partner that the
	// state machine has given up on (see Replicate).
	stopUpdates chan struct{}
	// poolPart is PoolPart, packed (index<<8 | parts) for the DHCP
	// workers to read without the lock.
	poolPart atomic.Uint32
}

// minUpdateConns is the least number of parallel connections to a peer
// (see newRelationship).
const minUpdateConns = 32

// peerLink is a peer with its connection pool.
type peerLink struct {
	cfg   *config.HAPeer
	c     *client
	queue *backupQueue // a backup's updates nobody awaits; nil otherwise
}

func newRelationship(s *Service, rc *config.HARelationship, origin string) (*Relationship, error) {
	r := &Relationship{
		s: s, cfg: rc, me: rc.This(), origin: origin,
		log:        s.log.With("relationship", rc.ThisServerName),
		kick:       make(chan struct{}, 1),
		pausedOnce: map[State]bool{},
		served:     map[string]bool{},
		clients:    newClientTable(rc.MaxUnackedClients),
		rejected:   map[netip.Addr]bool{},
		// Closed: the initial state sends no updates.
		stopUpdates: make(chan struct{}),
	}
	close(r.stopUpdates)
	// Kea's http-client-threads caps its connections per peer (one, queued,
	// without multi-threading). Here it is only a floor: every lease
	// update is one round trip that waits for the peer's fdatasync, so
	// the updates a peer can group into one sync are those in flight at
	// once. With two connections a pair tops out at two leases per
	// (round trip + sync); minUpdateConns lets the partner's group commit
	// amortise its sync. The transport opens them only as concurrent
	// updates need them, and a Kea partner accepts any number.
	conns := max(rc.MultiThreading.HTTPClientThreads, minUpdateConns)
	if p := rc.Partner(); p != nil {
		c, err := newClient(p, conns, s.family)
		if err != nil {
			return nil, err
		}
		r.partner = &peerLink{cfg: p, c: c}
		r.log = r.log.With("partner", p.Name)
	}
	if r.me.Role != config.HARoleBackup {
		for i := range rc.Peers {
			p := &rc.Peers[i]
			if p.Role != config.HARoleBackup || p.Name == r.me.Name {
				continue
			}
			c, err := newClient(p, conns, s.family)
			if err != nil {
				r.closeClients()
				return nil, err
			}
			b := &peerLink{cfg: p, c: c}
			if !rc.WaitBackupAck {
				r.startBackupQueue(b, conns)
			}
			r.backups = append(r.backups, b)
		}
	}
	return r, nil
}

func (r *Relationship) closeClients() {
	if r.partner != nil {
		r.partner.c.close()
	}
	for _, b := range r.backups {
		b.c.close()
	}
}

// Name is this server's name in the relationship.
func (r *Relationship) Name() string { return r.me.Name }

// Mode is the relationship's mode.
func (r *Relationship) Mode() config.HAMode { return r.cfg.Mode }

// State is the current state.
func (r *Relationship) State() State {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state
}

// PartnerState is the partner's state as last seen (StateUnavailable when
// the last exchange failed, StateUnknown before any).
func (r *Relationship) PartnerState() State {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.partnerState
}

// start enters waiting (Kea's initial state; backups and passive-backup
// move on at the first run).
func (r *Relationship) start() {
	r.lastOKUnixNano.Store(r.s.now().UnixNano())
	r.mu.Lock()
	r.state = StateUnknown
	r.transitionLocked(StateWaiting, "start")
	r.mu.Unlock()
}

// run is the heartbeat loop: a heartbeat every heartbeat-delay after the
// previous one completed, then a state-machine run.
func (r *Relationship) run(ctx context.Context) {
	r.step(ctx)
	for {
		delay := r.cfg.HeartbeatDelay
		if delay <= 0 {
			delay = time.Second // heartbeats off: still re-evaluate
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-r.kick:
			t.Stop()
			r.step(ctx)
			continue
		case <-t.C:
		}
		if r.partner != nil && r.cfg.HeartbeatDelay > 0 && sendsHeartbeats(r.State()) {
			r.heartbeat(ctx)
		}
		r.step(ctx)
	}
}

// poke asks the loop to run the state machine soon.
func (r *Relationship) poke() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// heartbeat sends one ha-heartbeat and records the outcome.
func (r *Relationship) heartbeat(ctx context.Context) {
	start := r.s.now()
	a, err := r.partner.c.do(ctx, cmdHeartbeat, nil, r.heartbeatTimeout())
	if err == nil && a.Result != 0 {
		err = fmt.Errorf("ha-heartbeat to %s: result %d: %s", r.partner.cfg.Name, a.Result, a.Text)
	}
	var hb heartbeat
	if err == nil {
		hb, err = parseHeartbeat(a.Arguments)
	}
	now := r.s.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		if r.partnerState != StateUnavailable {
			r.log.Warn("heartbeat to partner failed", "err", err)
		}
		r.partnerState = StateUnavailable
		r.maintCanceled = false
		if r.syncNotified {
			// The partner that synced from us is gone: serve again.
			r.syncNotified = false
			r.s.d.Network.Enable(originPartner)
		}
		return
	}
	r.lastOKUnixNano.Store(now.UnixNano())
	r.hbLatency = now.Sub(start)
	r.inTouch = true
	if r.maintCanceled {
		if hb.state == StateInMaintenance || hb.state == StatePartnerInMaintenance {
			hb.state = r.partnerState // stale: the maintenance was canceled
		} else {
			r.maintCanceled = false
		}
	}
	if r.partnerState != hb.state {
		r.log.Info("partner state", "partner_state", hb.state.String())
	}
	r.partnerState = hb.state
	r.partnerScopes = hb.scopes
	r.partnerUnsent[0], r.partnerUnsent[1] = r.partnerUnsent[1], hb.unsent
	// Skew at one-second resolution, as Kea computes it.
	r.skew = hb.time.Sub(now.Truncate(time.Second))
	if abs(r.skew) > warnSkew && now.Sub(r.lastSkewWarn) >= maxSkew {
		r.lastSkewWarn = now
		r.log.Warn("clock skew with partner", "skew_s", r.skew.Seconds(),
			"terminates_above_s", maxSkew.Seconds())
	}
	// A successful heartbeat resets failure detection.
	r.clients.reset()
	r.analyzed = 0
}

// heartbeatTimeout is how long a heartbeat may wait for its answer: twice
// heartbeat-delay, at least a second and at most Kea's request timeout. A
// partner answers a heartbeat at once (no lease write waits behind it), so
// a heartbeat that takes longer has met a dead or blackholed connection,
// and failure detection must not wait Kea's full ten seconds to say so.
func (r *Relationship) heartbeatTimeout() time.Duration {
	return min(max(2*r.cfg.HeartbeatDelay, time.Second), RequestTimeout)
}

// interrupted reports whether more than max-response-delay passed since
// the last successful heartbeat.
func (r *Relationship) interrupted(now time.Time) bool {
	if r.partner == nil {
		return false
	}
	return now.UnixNano()-r.lastOKUnixNano.Load() > int64(r.cfg.MaxResponseDelay)
}

// shouldPartnerDownLocked is Kea's failure detection.
func (r *Relationship) shouldPartnerDownLocked(now time.Time) bool {
	if !r.interrupted(now) {
		return false
	}
	if r.s.d.Network.Enabled() && (r.cfg.Mode == config.HAModeLoadBalancing || r.me.Role == config.HARoleStandby) {
		if r.cfg.MaxUnackedClients == 0 {
			return true
		}
		return r.clients.unacked > r.cfg.MaxUnackedClients
	}
	return true
}

// step runs the state machine once and performs what it asks.
func (r *Relationship) step(ctx context.Context) {
	r.stepMu.Lock()
	defer r.stepMu.Unlock()
	for range 4 { // follow immediate chains (e.g. waiting → syncing → ready)
		now := r.s.now()
		r.mu.Lock()
		next, act := decide(r.viewLocked(now))
		if act == actNone {
			changed := next != r.state
			if changed {
				r.transitionLocked(next, "partner "+r.partnerState.String())
			}
			r.unlockPublish()
			if !changed {
				return
			}
			continue
		}
		if act == actSync && next != r.state {
			r.transitionLocked(next, "partner "+r.partnerState.String())
		}
		r.unlockPublish()
		switch act {
		case actSync:
			if err := r.syncFrom(ctx, r.partner, r.syncMaxPeriod()); err != nil {
				r.log.Error("lease database synchronization failed", "err", err)
				return
			}
			r.mu.Lock()
			if r.state == StateSyncing {
				r.transitionLocked(StateReady, "synchronization complete")
			}
			r.mu.Unlock()
		case actRecover:
			r.recover(ctx)
		}
	}
}

// viewLocked is what the state machine looks at now. r.mu is held.
func (r *Relationship) viewLocked(now time.Time) view {
	return view{
		state: r.state, mode: r.cfg.Mode, role: r.me.Role, partner: r.partnerState,
		paused: r.paused, skew: r.skew, partnerDown: r.shouldPartnerDownLocked(now),
		interrupted: r.interrupted(now), syncLeases: r.cfg.SyncLeases,
		delayedUpdates:  r.cfg.DelayedUpdatesLimit > 0,
		backlogOverflow: r.backlogOver,
		newUnsent: r.partnerUnsent[1] > 0 && r.partnerUnsent[0] != r.partnerUnsent[1] ||
			r.state == StatePartnerDown && r.partnerUnsent[1] != r.unsentAtDown,
	}
}

// syncMaxPeriod is the dhcp-disable max-period of an automatic sync:
// sync-timeout in seconds, at least 1.
func (r *Relationship) syncMaxPeriod() time.Duration {
	return max(r.cfg.SyncTimeout.Truncate(time.Second), time.Second)
}

// transitionLocked moves to next, runs the entry actions of the state and
// logs the transition once with both states. r.mu is held.
func (r *Relationship) transitionLocked(next State, why string) {
	prev := r.state
	if next == prev {
		return
	}
	if prev == StateCommunicationRecovery {
		r.backlog, r.backlogOver = nil, false
	}
	if next == StateInMaintenance || next == StatePartnerInMaintenance {
		r.prevState = prev
	}
	if next != StatePartnerDown {
		r.forceFailover = false
	} else {
		r.unsentAtDown = r.partnerUnsent[1]
	}
	switch {
	case updatesPartner(prev) && !updatesPartner(next):
		close(r.stopUpdates)
	case !updatesPartner(prev) && updatesPartner(next):
		r.stopUpdates = make(chan struct{})
	}
	r.state = next
	r.entered = r.s.now()
	r.transitions++
	r.log.Info("HA state transition", "from", prev.String(), "to", next.String(),
		"partner_state", r.partnerState.String(), "reason", why)
	r.setScopesLocked(r.entryScopes(next))
	r.setPoolPartLocked(r.poolPartLocked(prev, next))
	if dhcpEnabled(next) {
		r.s.d.Network.Enable(r.origin)
	} else {
		r.s.d.Network.Disable(r.origin, 0)
	}
	if next == normal(r.cfg.Mode) && r.syncNotified {
		r.syncNotified = false
		r.s.d.Network.Enable(originPartner)
	}
	switch r.cfg.Pause[next.String()] {
	case config.HAPauseAlways:
		r.paused = true
	case config.HAPauseOnce:
		if !r.pausedOnce[next] {
			r.pausedOnce[next] = true
			r.paused = true
		}
	}
	if r.paused {
		r.log.Info("HA state machine paused", "state", next.String())
	}
}

// errNoPartner is returned by operations that need a failover partner.
var errNoPartner = errors.New("this server has no failover partner in the relationship")
