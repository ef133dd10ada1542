package slowpath6

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"xdhcp/config"
	"xdhcp/handoff"
	"xdhcp/hooks"
	"xdhcp/host"
	"xdhcp/internal/stats"
	"xdhcp/lease"
	"xdhcp/slowpath"
	"xdhcp/slowpath/intake"
	"xdhcp/slowpath/stats6"
)

// Replicator is told of an exchange's committed lease changes before its
// reply leaves (HA). A non-nil error withholds the reply, as Kea drops a
// parked response whose lease updates failed; the client's retry decides
// again.
type Replicator interface {
	Replicate6(ctx context.Context, ops []lease.Op6) error
}

// Scopes is HA's say on each query: whether this server answers it (and
// the HA_<server> class it gets), and failure detection for those it
// leaves to its partner. The key is the client's DUID (Kea's DHCPv6 load
// balancing hashes the whole client identifier); elapsed is the query's
// Elapsed Time option (hundredths of a second, 0 without one).
type Scopes interface {
	Accept(subnetID uint32, msgType uint8, duid []byte) (class string, serve bool)
	Observe(elapsed uint16, duid []byte, msgType uint8)
}

// Deps are the server's collaborators.
type Deps struct {
	Store lease.Store6
	Stats *stats.Registry
	Log   *slog.Logger
	// Cache is the fast path's v6 lease cache; nil in socket mode.
	Cache handoff.LeaseCache6
	// Network is the DHCPv6 service's state: while it is disabled (the
	// lease-database on-fail policy) every packet is discarded. nil: always
	// enabled.
	Network *slowpath.NetworkState
	// ServerDUID overrides the DUID the configuration's server-id block
	// would give (tests); nil = ServerDUID(cfg.ServerID).
	ServerDUID []byte
	Now        func() time.Time
	// Replicator and Scopes are HA (both nil without it).
	Replicator Replicator
	Scopes     Scopes
	// Recorder formats forensic records that travel with lease commits;
	// Events is told of lease events (forensic log, run-script). Either
	// may be nil.
	Recorder hooks.Recorder6
	Events   hooks.Listener6
	// Share is HA's say on which part of each pool new leases come from
	// (nil: the whole pool), as for DHCPv4.
	Share slowpath.PoolShare
}

var _ handoff.Handler6 = (*Server)(nil)

// Server is the DHCPv6 slow path.
type Server struct {
	log   *slog.Logger
	store lease.Store6
	reg   *stats.Registry
	st    *serverStats
	// leases are the lease statistics (assigned, declined, reclaimed…).
	leases *stats6.Leases
	now    func() time.Time
	cache  handoff.LeaseCache6
	duid   []byte
	// network gates the service (nil: always enabled).
	network *slowpath.NetworkState
	// replicator and scopes are HA's (nil without it); ctx bounds the
	// lease updates replicator sends (Start's, canceled at Close).
	replicator Replicator
	scopes     Scopes
	share      slowpath.PoolShare
	ctx        context.Context
	// recorder and events are the lease hooks (nil: none).
	recorder hooks.Recorder6
	events   hooks.Listener6

	rtMu sync.RWMutex
	rt   *live
	// cfg is rt's configuration, set with rt: Config reads it without
	// the lock, which a reload holds while the commits in flight land.
	cfg atomic.Pointer[config.Config6]
	// hostDBs are the host databases (see SetHostSources).
	hostDBs atomic.Pointer[[]host.Source6]

	queue   *intake.Queue[*handoff.Packet6, *exchange]
	held    *pending
	exs     sync.Pool
	workers int
	wg      sync.WaitGroup
	stop    context.CancelFunc
}

// maxInflightCommits bounds the exchanges waiting for the lease file.
const maxInflightCommits = 4096

// advertiseHold is how long an advertised address or prefix stays set
// aside for the client it was advertised to (see pending).
const advertiseHold = 10

// New builds a server for cfg. Call Start to begin serving.
func New(cfg *config.Config6, d Deps) (*Server, error) {
	if d.Store == nil || d.Stats == nil || cfg == nil {
		return nil, errors.New("slowpath6: configuration, store and stats are required")
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	s := &Server{log: d.Log, store: d.Store, reg: d.Stats, st: newServerStats(d.Stats), leases: stats6.New(d.Stats), now: d.Now,
		cache: d.Cache, duid: d.ServerDUID, network: d.Network, held: newPending(),
		replicator: d.Replicator, scopes: d.Scopes, share: d.Share, ctx: context.Background(),
		recorder: d.Recorder, events: d.Events}
	if s.duid == nil {
		duid, err := ServerDUID(cfg.ServerID, d.Now())
		if err != nil {
			return nil, err
		}
		s.duid = duid
	}
	rt, err := buildLive(cfg, d.Store, d.Stats, s.leases)
	if err != nil {
		return nil, err
	}
	s.rt = rt
	s.cfg.Store(cfg)
	s.queue = intake.NewQueue[*handoff.Packet6, *exchange](cfg.MultiThreading.PacketQueueSize, maxInflightCommits)
	s.workers = workerCount(cfg)
	s.exs.New = func() any { return &exchange{s: s} }
	return s, nil
}

func workerCount(cfg *config.Config6) int {
	n := cfg.MultiThreading.ThreadPoolSize
	if n <= 0 {
		n = runtime.NumCPU()
	}
	if !cfg.MultiThreading.Enable {
		n = 1
	}
	return max(n, 2)
}

// DUID is the server's DUID (the Server Identifier option's data).
func (s *Server) DUID() []byte { return s.duid }

// Config is the running configuration.
func (s *Server) Config() *config.Config6 { return s.cfg.Load() }

// Start launches the workers and housekeeping; they stop with ctx or Close.
func (s *Server) Start(ctx context.Context) {
	ctx, s.stop = context.WithCancel(ctx)
	s.ctx = ctx
	for range s.workers {
		s.wg.Add(1)
		go s.worker()
	}
	s.wg.Add(1)
	go s.housekeeping(ctx)
}

// Close answers what is queued, waits for the commits in flight and stops.
func (s *Server) Close() error {
	s.queue.Close()
	if s.stop != nil {
		s.stop()
	}
	s.wg.Wait()
	s.queue.WaitCommits()
	return nil
}

// Reload swaps in a new configuration, keeping the running one on error.
func (s *Server) Reload(cfg *config.Config6) error {
	s.rtMu.Lock()
	defer s.rtMu.Unlock()
	s.queue.WaitCommits()
	rt, err := buildLive(cfg, s.store, s.reg, s.leases)
	if err != nil {
		return fmt.Errorf("apply Dhcp6 configuration: %w", err)
	}
	s.rt = rt
	s.cfg.Store(cfg)
	s.queue.Resize(cfg.MultiThreading.PacketQueueSize)
	if s.cache != nil {
		s.cache.Purge6()
	}
	return nil
}

// QueueStatistics is the packet queue's average occupancy over the last
// 10, 100 and 1000 packets (status-get's packet-queue-statistics).
func (s *Server) QueueStatistics() [3]float64 { return s.queue.Statistics() }

// Enqueue6 hands a packet to the workers without blocking: a full queue
// drops its oldest packet (as Kea does), a client flooding it is refused.
func (s *Server) Enqueue6(p *handoff.Packet6) {
	switch s.queue.Push(p, clientHash(p.Data)) {
	case intake.DroppedOldest, intake.Closed:
		s.st.queueDrop.Inc()
	case intake.Refused:
		s.st.clientFlood.Inc()
	}
}

// clientHash keys the queue's per-client share: the bytes after the
// transaction id (or the relay header), where the client's identifier
// usually sits. It need not be exact, only stable per client.
func clientHash(b []byte) uint64 {
	h := uint64(14695981039346656037)
	start := 4
	if len(b) > 0 && (b[0] == 12 || b[0] == 13) {
		start = 2 // the peer address identifies a relayed client
	}
	for i := start; i < len(b) && i < start+48; i++ {
		h ^= uint64(b[i])
		h *= 1099511628211
	}
	return h
}

// yieldEvery is how many exchanges a worker serves back to back before it
// lets the other goroutines run: on a server confined to one core (one P)
// a worker with a backlog would otherwise keep the P until the runtime
// preempts it (10 ms), while the fast path's worker and the journal wait.
// It is the fast path's batch (64 frames a turn): fewer would let the
// fast path fill the queue faster than the workers drain it in turns, and
// the queue would drop packets the core had time to serve.
const yieldEvery = 64

func (s *Server) worker() {
	defer s.wg.Done()
	for served := 1; ; served++ {
		if served%yieldEvery == 0 {
			runtime.Gosched()
		}
		p, _, ok := s.queue.Pop()
		if !ok {
			return
		}
		ex := s.exs.Get().(*exchange)
		ex.pkt = p
		s.rtMu.RLock()
		ex.rt = s.rt
		detached := ex.serve()
		s.rtMu.RUnlock()
		if !detached {
			ex.finish()
		}
	}
}

// LeaseChanged is told of a lease a command (lease6-add, -update, -del,
// -bulk-apply, -wipe) wrote or removed after its commit: old is nil for a
// new lease, new nil for a removed one. The bindings counters move as
// Kea's lease_cmds moves them, and the fast path forgets the client.
func (s *Server) LeaseChanged(old, new *lease.Lease6) {
	s.leases.Changed(old, new)
	for _, l := range []*lease.Lease6{old, new} {
		if l == nil {
			continue
		}
		if s.cache != nil && len(l.DUID) > 0 {
			s.cache.Delete6(l.DUID)
		}
		s.held.drop(l.Addr)
	}
}

// addrOf is a netip.Addr of a 16-byte array.
func addrOf(a [16]byte) netip.Addr { return netip.AddrFrom16(a) }
