package slowpath

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/insomniacslk/dhcp/dhcpv4"

	"xdhcp/config"
	"xdhcp/handoff"
	"xdhcp/hooks"
	"xdhcp/internal/stats"
	"xdhcp/lease"
	"xdhcp/slowpath/alloc"
	"xdhcp/slowpath/intake"
)

// Replicator is told of committed lease changes before the reply that
// depends on them leaves (HA lease updates). A non-nil error withholds the
// reply, as Kea does when its partner rejects an update.
type Replicator interface {
	Replicate(ctx context.Context, ops []lease.Op) error
}

// Scopes is HA's say on each query: whether this server answers it (and
// the HA_<server> class it gets), and failure detection for those it
// leaves to its partner.
type Scopes interface {
	Accept(subnetID uint32, msgType uint8, key []byte) (class string, serve bool)
	Observe(secs uint16, key []byte, msgType uint8)
}

// PoolShare is HA's say on which addresses may go to new leases. While
// this server may be serving beside its partner with neither hearing of
// the other's leases (both in partner-down after a cut, or serving their
// scopes in communication-recovery), each takes new addresses only from
// its own part of every pool, so the two never hand out the same one.
type PoolShare interface {
	// Part is the part of the pools of subnet subnetID that new leases
	// come from now (the whole pool when the zero Part).
	Part(subnetID uint32) alloc.Part
}

// LatencyFamily is the Prometheus histogram of the slow path's processing
// time per message type, from intake to the reply handed to the transport.
const LatencyFamily = "xdhcp_slowpath_processing_seconds"

// latencyBuckets are the histogram's upper bounds (seconds): from a cached
// or in-memory answer (tens of microseconds) to a lease store stalled for
// seconds.
var latencyBuckets = []float64{25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3,
	100e-3, 250e-3, 500e-3, 1, 2.5, 5}

// Deps are the server's collaborators.
type Deps struct {
	Store lease.Store
	Stats *stats.Registry
	// Metrics receives the processing-latency histograms (family
	// LatencyFamily, one series per message type); nil = none.
	Metrics    *metrics.Set
	Log        *slog.Logger
	Replicator Replicator // optional
	// Scopes is HA's query filter (optional).
	Scopes Scopes
	// Share is HA's part of the pools for new leases (optional).
	Share PoolShare
	// Network is the DHCP service switch shared with HA; nil = a new one.
	Network *NetworkState
	// Drops is the operator's drop list, shared with the XDP program's
	// commands; nil = a new, empty one.
	Drops *DropList
	// Cache is the fast path's lease cache; nil in socket mode.
	Cache handoff.LeaseCache
	Now   func() time.Time
	// Recorder formats forensic records that travel with lease commits;
	// Events is told of lease events (both optional).
	Recorder hooks.Recorder
	Events   hooks.Listener
}

var _ handoff.Handler = (*Server)(nil)

// Server is the DHCPv4 slow path.
type Server struct {
	log        *slog.Logger
	store      lease.Store
	reg        *stats.Registry
	st         *serverStats
	hs         *hostileStats
	now        func() time.Time
	replicator Replicator
	scopes     Scopes
	share      PoolShare
	cache      handoff.LeaseCache
	recorder   hooks.Recorder
	events     hooks.Listener
	// wanted says, by point, whether events is told of it at all: an
	// event no listener handles is not built.
	wanted  [hooks.LeaseCommand + 1]bool
	latency [dhcpv4.MessageTypeInform + 1]*metrics.PrometheusHistogram

	rtMu sync.RWMutex
	rt   *liveConfig
	// cfg is rt's configuration, set with rt: Config reads it without
	// rtMu, for the fast path's workers (a lock they would share with the
	// slow path).
	cfg atomic.Pointer[config.Config]
	// hostDBsPtr are the host databases (see SetHostSources).
	hostDBsPtr atomic.Pointer[hostSources]

	queue   *intake.Queue[*handoff.Packet, *request]
	replies replyPool
	reqs    requestPool
	limit   intake.RateLimiter // xdhcp.rate-limit in socket mode
	serial  intake.Serializer[*request]
	offers  *offerTable
	Network *NetworkState
	drops   *DropList

	workers   int
	workersWG sync.WaitGroup
	wg        sync.WaitGroup // housekeeping
	stop      context.CancelFunc
	ctx       context.Context
}

// offerHold is how long an offered address stays reserved for the client
// it was offered to. Kea 2.2 reserves nothing on DISCOVER, so two clients
// can be offered one address and one of them gets a NAK; holding it briefly
// avoids that without letting a DISCOVER storm pin the pool for long.
const offerHold = 10 * time.Second

// New builds a server for cfg. Call Start to begin serving.
func New(cfg *config.Config, d Deps) (*Server, error) {
	if d.Store == nil || d.Stats == nil {
		return nil, errors.New("slowpath: store and stats are required")
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	s := &Server{
		log:        d.Log,
		store:      d.Store,
		reg:        d.Stats,
		st:         newServerStats(d.Stats),
		hs:         newHostileStats(d.Stats),
		now:        d.Now,
		replicator: d.Replicator,
		scopes:     d.Scopes,
		share:      d.Share,
		cache:      d.Cache,
		recorder:   d.Recorder,
		events:     d.Events,
		offers:     newOfferTable(),
		Network:    d.Network,
		drops:      d.Drops,
	}
	if s.events != nil {
		for p := range s.wanted {
			s.wanted[p] = hooks.Wants(s.events, hooks.Point(p))
		}
	}
	if s.drops == nil {
		s.drops = NewDropList()
	}
	if s.Network == nil {
		s.Network = NewNetworkState(d.Now)
	}
	if st, ok := d.Store.(lease.StatsReporter); ok {
		registerStoreStats(d.Stats, st)
	}
	if d.Metrics != nil {
		for t, name := range map[dhcpv4.MessageType]string{
			dhcpv4.MessageTypeDiscover: "discover", dhcpv4.MessageTypeRequest: "request",
			dhcpv4.MessageTypeRelease: "release", dhcpv4.MessageTypeDecline: "decline",
			dhcpv4.MessageTypeInform: "inform",
		} {
			s.latency[t] = d.Metrics.NewPrometheusHistogramExt(fmt.Sprintf(`%s{type=%q}`, LatencyFamily, name), latencyBuckets)
		}
	}
	rt, err := buildLiveConfig(cfg, d.Store, d.Stats, nil)
	if err != nil {
		return nil, err
	}
	s.rt = rt
	s.cfg.Store(rt.cfg)
	s.queue = intake.NewQueue[*handoff.Packet, *request](queueLimit(cfg, d.Cache != nil), maxInflightCommits)
	s.workers = workerCount(cfg)
	// Packets that came through XDP were policed there (Packet.Policed);
	// the limiter is for interfaces served in socket mode, which a daemon
	// in XDP mode can have too when XDP cannot attach to one of them.
	s.limit.Configure(cfg.XDHCP.RateLimit.Rate, cfg.XDHCP.RateLimit.Burst)
	return s, nil
}

// queueLimit is the bound of the queue in front of the workers: Kea's
// packet-queue-size in socket mode; behind the fast path it is the parking
// lot, sized by parked-packet-limit, and its occupancy drives XDP shedding.
func queueLimit(cfg *config.Config, fastPath bool) int {
	if fastPath && cfg.ParkedPacketLimit > 0 {
		return cfg.ParkedPacketLimit
	}
	return cfg.MultiThreading.PacketQueueSize
}

// Drops is the drop list the engine enforces.
func (s *Server) Drops() *DropList { return s.drops }

// Load is the queue in front of the workers, as the fast path's overload
// levels and the statistics read it.
func (s *Server) Load() intake.Load { return s.queue }

// Occupancy is how full the queue is, 0 to 1 (fastpath.Occupancy).
func (s *Server) Occupancy() float64 { return s.queue.Occupancy() }

// QueueStatistics is Kea's packet-queue-statistics: the average queue
// length over the last 10, 100 and 1000 packets.
func (s *Server) QueueStatistics() [3]float64 { return s.queue.Statistics() }

// QueueLen is the number of queued packets.
func (s *Server) QueueLen() int { return s.queue.Len() }

// workerCount is the number of worker goroutines: thread-pool-size, or the
// CPU count. Workers do not wait for the lease file (commitAsync), so more
// of them than CPUs would only add scheduling; two at least, so that a
// worker waiting for a synchronous commit (a lease command, a reclaim) or
// for backpressure does not stop the packet path.
func workerCount(cfg *config.Config) int {
	n := cfg.MultiThreading.ThreadPoolSize
	if n <= 0 {
		n = runtime.NumCPU()
	}
	if !cfg.MultiThreading.Enable {
		n = 1
	}
	return max(n, 2)
}

// Start launches the workers and the housekeeping timers. They stop when
// ctx ends or Close is called.
func (s *Server) Start(ctx context.Context) {
	s.ctx, s.stop = context.WithCancel(ctx)
	for i := 0; i < s.workers; i++ {
		s.workersWG.Add(1)
		go s.worker()
	}
	s.wg.Add(1)
	go s.housekeeping()
}

// Close drains the queue (every packet already taken in is answered, its
// lease committed), then stops the workers and the timers.
func (s *Server) Close() error {
	s.queue.Close()
	s.workersWG.Wait()
	// Without Start (tests drive process directly) no worker waited for
	// the commits in flight.
	s.queue.WaitCommits()
	if s.stop != nil {
		s.stop()
	}
	s.wg.Wait()
	return nil
}

// Config returns the running configuration.
func (s *Server) Config() *config.Config { return s.cfg.Load() }

// lockLiveConfig takes the live configuration's write lock once no commit
// is in flight. Completions run without the lock, under the configuration
// their request was processed with, and change the index when they land:
// whoever replaces the live configuration or decides from the index under
// the write lock (reload, reclaim, wipe) must see them landed.
func (s *Server) lockLiveConfig() {
	s.rtMu.Lock()
	s.queue.WaitCommits()
}

// Reload swaps in a new configuration. It waits for packets in flight,
// rebuilds pools from the lease store, and on any error keeps the running
// configuration.
func (s *Server) Reload(cfg *config.Config) error {
	s.lockLiveConfig()
	defer s.rtMu.Unlock()
	rt, err := buildLiveConfig(cfg, s.store, s.reg, s.offers)
	if err != nil {
		return fmt.Errorf("apply configuration: %w", err)
	}
	s.rt = rt
	s.cfg.Store(rt.cfg)
	s.queue.Resize(queueLimit(cfg, s.cache != nil))
	s.limit.Configure(cfg.XDHCP.RateLimit.Rate, cfg.XDHCP.RateLimit.Burst)
	if s.cache != nil {
		// Options, classes and lifetimes may all have changed: cached
		// replies must be rebuilt by the slow path.
		s.cache.Purge()
	}
	return nil
}

// Enqueue hands a packet to the workers. It never blocks: when the queue
// is full the oldest queued packet is dropped (Kea's behaviour) and counted;
// a packet of a client that already has its share of the queue is dropped
// instead (intake.PerClientQueued), and in socket mode one over the
// client's xdhcp.rate-limit before that (intake.RateLimiter).
func (s *Server) Enqueue(p *handoff.Packet) {
	key := clientHash(p.Data)
	if !p.Policed && !s.limit.Allow(key, s.now().UnixNano()) {
		s.hs.rateLimited.Inc()
		p.Release()
		return
	}
	switch s.queue.Push(p, key) {
	case intake.DroppedOldest, intake.Closed:
		s.st.queueDrop.Inc()
	case intake.Refused:
		s.hs.clientFlood.Inc()
	}
}

// yieldEvery is how many packets a worker takes back to back before it
// lets the other goroutines run (see worker): the fast path's batch, so
// that taking turns alone never makes the queue grow.
const yieldEvery = 64

func (s *Server) worker() {
	defer s.workersWG.Done()
	for served := 1; ; served++ {
		if served%yieldEvery == 0 {
			// On one P (a server confined to one core) a worker with a
			// backlog would keep it until the runtime preempts it (10 ms)
			// while the fast path's worker and the journal wait.
			runtime.Gosched()
		}
		p, r, ok := s.queue.Pop()
		if !ok {
			return
		}
		if r == nil {
			// A new packet; r != nil is a client's held follow-up, already
			// decoded and holding the client's serializer entry.
			if r = s.decode(p); r == nil {
				p.Release()
				continue
			}
			if r.typ == dhcpv4.MessageTypeInform {
				s.process(r)
				s.reqs.unref(r)
				continue
			}
			run, displaced := s.serial.Acquire(r.key, r)
			if displaced != nil {
				s.st.serialDrop.Inc()
				s.st.receiveDrop.Inc()
				s.reqs.unref(displaced)
			}
			if !run {
				continue
			}
		}
		s.run(r)
	}
}

// run processes r and the client's follow-ups held meanwhile, until the
// client has nothing more in flight or an exchange waits for its commit
// (whose completion then releases the client).
func (s *Server) run(r *request) {
	for r != nil {
		s.process(r)
		if r.detached {
			s.reqs.unref(r) // the completion holds its own reference
			return
		}
		next := s.serial.Release(r.key)
		s.reqs.unref(r)
		r = next
	}
}

// decode parses a packet and counts it. It returns nil for packets that
// are dropped.
func (s *Server) decode(p *handoff.Packet) *request {
	// While the service is disabled (dhcp-disable, HA sync) packets are
	// discarded before anything is counted, as Kea does.
	if !s.Network.Enabled() {
		return nil
	}
	s.st.received.Inc()
	r := s.reqs.get()
	if err := r.msg.parse(p.Data); err != nil {
		s.st.parseFailed.Inc()
		s.st.receiveDrop.Inc()
		if errors.Is(err, errOverload) {
			s.hs.badOption.Inc()
		}
		s.reqs.free(r)
		return nil
	}
	if c, why := s.screen(p, &r.msg); c != nil {
		c.Inc()
		s.st.receiveDrop.Inc()
		s.log.Debug("drop request", "iface", p.IfName, "reason", why)
		s.reqs.free(r)
		return nil
	}
	r.pkt = p
	if why := r.derive(); why != "" {
		s.st.receiveDrop.Inc()
		s.log.Debug("drop request", "iface", p.IfName, "reason", why)
		r.pkt = nil // the caller releases p
		s.reqs.free(r)
		return nil
	}
	s.st.countType(r.typ)
	return r
}

func (s *Server) process(r *request) {
	start := s.now()
	r.start, r.evTime = start, start
	s.rtMu.RLock()
	s.handle(s.rt, r)
	s.rtMu.RUnlock()
	if r.detached {
		return // the commit's completion finishes the exchange
	}
	// What waits on the partner (the HA lease update, and the reply that
	// must not leave before it) runs outside the configuration lock: the
	// partner's lease update to us may be waiting for that lock while
	// ours waits for it.
	if r.after != nil {
		r.after()
	}
	if int(r.typ) < len(s.latency) && s.latency[r.typ] != nil {
		s.latency[r.typ].UpdateDuration(start)
	}
}
