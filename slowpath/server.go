package slowpath

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/insomniacslk/dhcp/dhcpv4"

	"xdhcp/config"
	"xdhcp/fastpath/leasecache"
	"xdhcp/handoff"
	"xdhcp/internal/stats"
	"xdhcp/lease"
)

// LeaseStore is what the server needs of the lease store; *lease.Store
// implements it.
type LeaseStore interface {
	Get(addr netip.Addr) (lease.Lease, bool)
	ByHWAddr(hw []byte) []lease.Lease
	ByClientID(id []byte) []lease.Lease
	Range(fn func(l *lease.Lease) bool)
	Expired(now int64, limit int) []lease.Lease
	Commit(ctx context.Context, ops ...lease.Op) error
	// CommitAsync is lease.Store.CommitAsync: done is called once with
	// the outcome, maybe before it returns.
	CommitAsync(ops []lease.Op, done func(error))
}

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

// Deps are the server's collaborators.
type Deps struct {
	Store      LeaseStore
	Stats      *stats.Registry
	Metrics    *metrics.Set // latency histograms; nil = none
	Log        *slog.Logger
	Replicator Replicator // optional
	// Scopes is HA's query filter (optional).
	Scopes Scopes
	// Network is the DHCP service switch shared with HA; nil = a new one.
	Network *NetworkState
	// Cache is the fast path's lease cache; nil in socket mode.
	Cache *leasecache.Cache
	Now   func() time.Time
}

var _ handoff.Handler = (*Server)(nil)

// Server is the DHCPv4 slow path.
type Server struct {
	log        *slog.Logger
	store      LeaseStore
	reg        *stats.Registry
	st         *serverStats
	hs         *hostileStats
	now        func() time.Time
	replicator Replicator
	scopes     Scopes
	cache      *leasecache.Cache
	latency    [dhcpv4.MessageTypeInform + 1]*metrics.Histogram

	rtMu sync.RWMutex
	rt   *liveConfig

	queue   *packetQueue
	replies sync.Pool   // *replyBuf
	reqs    sync.Pool   // *request (newRequest, unref)
	limit   rateLimiter // xdhcp.rate-limit in socket mode
	serial  serializer
	offers  *offerTable
	Network *NetworkState

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
		cache:      d.Cache,
		offers:     newOfferTable(),
		Network:    d.Network,
	}
	if s.Network == nil {
		s.Network = NewNetworkState(d.Now)
	}
	s.serial.init()
	s.replies.New = newReplyBuf
	if st, ok := d.Store.(*lease.Store); ok {
		registerStoreStats(d.Stats, st)
	}
	if d.Metrics != nil {
		for t, name := range map[dhcpv4.MessageType]string{
			dhcpv4.MessageTypeDiscover: "discover", dhcpv4.MessageTypeRequest: "request",
			dhcpv4.MessageTypeRelease: "release", dhcpv4.MessageTypeDecline: "decline",
			dhcpv4.MessageTypeInform: "inform",
		} {
			s.latency[t] = d.Metrics.NewHistogram(fmt.Sprintf(`xdhcp_slowpath_processing_seconds{type=%q}`, name))
		}
	}
	rt, err := buildLiveConfig(cfg, d.Store, d.Stats, nil)
	if err != nil {
		return nil, err
	}
	s.rt = rt
	s.queue = newPacketQueue(queueLimit(cfg, d.Cache != nil))
	s.workers = workerCount(cfg)
	// Packets that came through XDP were policed there (Packet.Policed);
	// the limiter is for interfaces served in socket mode, which a daemon
	// in XDP mode can have too when XDP cannot attach to one of them.
	s.limit.configure(cfg.XDHCP.RateLimit)
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

// Occupancy is how full the queue is, 0 to 1 (fastpath.Occupancy).
func (s *Server) Occupancy() float64 {
	s.queue.mu.Lock()
	defer s.queue.mu.Unlock()
	return float64(s.queue.n) / float64(s.queue.limit)
}

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
	s.queue.close()
	s.workersWG.Wait()
	// Without Start (tests drive process directly) no worker waited for
	// the commits in flight.
	s.queue.waitCommits()
	if s.stop != nil {
		s.stop()
	}
	s.wg.Wait()
	return nil
}

// Config returns the running configuration.
func (s *Server) Config() *config.Config {
	s.rtMu.RLock()
	defer s.rtMu.RUnlock()
	return s.rt.cfg
}

// lockLiveConfig takes the live configuration's write lock once no commit is in flight.
// Completions run without the lock, under the configuration their request was
// processed with, and change the index when they land: whoever replaces
// the live configuration or decides from the index under the write lock (reload,
// reclaim, wipe) must see them landed.
func (s *Server) lockLiveConfig() {
	s.rtMu.Lock()
	s.queue.waitCommits()
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
	s.queue.resize(queueLimit(cfg, s.cache != nil))
	s.limit.configure(cfg.XDHCP.RateLimit)
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
// instead (clientShare), and in socket mode one over the client's
// xdhcp.rate-limit before that (rateLimiter).
func (s *Server) Enqueue(p *Packet) {
	if !p.Policed && !s.limit.allow(p.Data, s.now().UnixNano()) {
		s.hs.rateLimited.Inc()
		p.Release()
		return
	}
	res, dropped := s.queue.push(p)
	switch res {
	case pushDroppedOldest:
		s.st.queueDrop.Inc()
	case pushRefused:
		s.hs.clientFlood.Inc()
	}
	if dropped != nil {
		dropped.Release()
	}
}

func (s *Server) worker() {
	defer s.workersWG.Done()
	for {
		r, p, ok := s.queue.pop()
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
				s.unref(r)
				continue
			}
			run, dropped := s.serial.acquire(r, s.st.serialDrop, s.st.receiveDrop)
			if dropped != nil {
				s.unref(dropped)
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
			s.unref(r) // the completion holds its own reference
			return
		}
		next := s.serial.release(r.key)
		s.unref(r)
		r = next
	}
}

// decode parses a packet and counts it. It returns nil for packets that
// are dropped.
func (s *Server) decode(p *Packet) *request {
	// While the service is disabled (dhcp-disable, HA sync) packets are
	// discarded before anything is counted, as Kea does.
	if !s.Network.Enabled() {
		return nil
	}
	s.st.received.Inc()
	r := s.newRequest()
	if err := r.msg.parse(p.Data); err != nil {
		s.st.parseFailed.Inc()
		s.st.receiveDrop.Inc()
		if errors.Is(err, errOverload) {
			s.hs.badOption.Inc()
		}
		s.freeRequest(r)
		return nil
	}
	if c, why := s.screen(p, &r.msg); c != nil {
		c.Inc()
		s.st.receiveDrop.Inc()
		s.log.Debug("drop request", "iface", p.IfName, "reason", why)
		s.freeRequest(r)
		return nil
	}
	r.pkt = p
	if why := r.derive(); why != "" {
		s.st.receiveDrop.Inc()
		s.log.Debug("drop request", "iface", p.IfName, "reason", why)
		r.pkt = nil // the caller releases p
		s.freeRequest(r)
		return nil
	}
	s.st.countType(r.typ)
	return r
}

func (s *Server) process(r *request) {
	start := s.now()
	r.start = start
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

// serializer keeps packets of one client from being processed at once.
type serializer struct {
	mu       sync.Mutex
	inflight map[string]*request // value: the held follow-up, or nil
}

func (z *serializer) init() { z.inflight = make(map[string]*request) }

// acquire reports whether the caller may process r now. Otherwise r is
// held as the client's next packet, displacing (and counting) an older
// one, which it returns for the caller to free.
func (z *serializer) acquire(r *request, busy, drop *stats.Stat) (run bool, displaced *request) {
	z.mu.Lock()
	defer z.mu.Unlock()
	next, running := z.inflight[r.key]
	if !running {
		z.inflight[r.key] = nil
		return true, nil
	}
	if next != nil {
		busy.Inc()
		drop.Inc()
	}
	z.inflight[r.key] = r
	return false, next
}

// release returns the held follow-up for key, or nil when the client has
// nothing more in flight.
func (z *serializer) release(key string) *request {
	z.mu.Lock()
	defer z.mu.Unlock()
	if next := z.inflight[key]; next != nil {
		z.inflight[key] = nil
		return next
	}
	delete(z.inflight, key)
	return nil
}

// packetQueue is a bounded FIFO that drops its oldest packet when full.
type packetQueue struct {
	mu sync.Mutex
	// avg are the queue length averaged over the last 10, 100 and 1000
	// packets (Kea's packet-queue-statistics), as moving averages.
	avg    [3]float64
	cond   *sync.Cond
	buf    []*Packet
	head   int
	n      int
	limit  int
	closed bool
	share  clientShare
	// ready are clients' follow-ups released by a commit completion, for
	// the workers before new packets. At most one per exchange in flight.
	ready []*request
	// inflight counts exchanges whose commit is in flight; room is
	// signalled when it drops below maxInflightCommits and when it
	// reaches zero.
	inflight    int
	commitLimit int // maxInflightCommits; tests lower it
	room        *sync.Cond
}

// unboundedQueue caps Kea's "unlimited" (0) packet-queue-size so memory
// stays bounded whatever the configuration says.
const unboundedQueue = 1 << 16

func newPacketQueue(limit int) *packetQueue {
	q := &packetQueue{}
	q.cond = sync.NewCond(&q.mu)
	q.room = sync.NewCond(&q.mu)
	q.commitLimit = maxInflightCommits
	q.resizeLocked(limit)
	return q
}

func (q *packetQueue) resize(limit int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.resizeLocked(limit)
}

func (q *packetQueue) resizeLocked(limit int) {
	if limit <= 0 || limit > unboundedQueue {
		limit = unboundedQueue
	}
	// Keep the newest packets when shrinking, as a full queue would.
	buf := make([]*Packet, limit)
	keep := min(q.n, limit)
	skip := q.n - keep
	for i := 0; i < skip; i++ {
		p := q.buf[(q.head+i)%len(q.buf)]
		q.share.leave(p)
		p.Release()
	}
	for i := 0; i < keep; i++ {
		buf[i] = q.buf[(q.head+skip+i)%len(q.buf)]
	}
	q.buf, q.head, q.n, q.limit = buf, 0, keep, limit
}

// pushResult is what became of a pushed packet.
type pushResult uint8

const (
	pushQueued        pushResult = iota
	pushDroppedOldest            // queued; the oldest packet made room for it
	pushRefused                  // not queued: its client has its share
)

// push adds p, dropping the oldest packet when the queue is full. The
// packet that did not stay (p itself, or the oldest) is returned for the
// caller to release.
func (q *packetQueue) push(p *Packet) (res pushResult, dropped *Packet) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return pushDroppedOldest, p
	}
	if !q.share.admit(p) {
		q.mu.Unlock()
		return pushRefused, p
	}
	if q.n == q.limit {
		dropped = q.buf[q.head]
		q.share.leave(dropped)
		q.buf[q.head] = nil
		q.head = (q.head + 1) % q.limit
		q.n--
		res = pushDroppedOldest
	}
	q.buf[(q.head+q.n)%q.limit] = p
	q.n++
	for i, w := range [3]float64{10, 100, 1000} {
		q.avg[i] += (float64(q.n) - q.avg[i]) / w
	}
	q.mu.Unlock()
	q.cond.Signal()
	return res, dropped
}

// pop returns a released follow-up, else the oldest packet. After close it
// returns false once nothing is queued and no commit is in flight (whose
// completion could still release a follow-up).
func (q *packetQueue) pop() (*request, *Packet, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.n == 0 && len(q.ready) == 0 {
		if q.closed && q.inflight == 0 {
			return nil, nil, false
		}
		q.cond.Wait()
	}
	if n := len(q.ready); n > 0 {
		r := q.ready[0]
		copy(q.ready, q.ready[1:])
		q.ready[n-1] = nil
		q.ready = q.ready[:n-1]
		return r, nil, true
	}
	p := q.buf[q.head]
	q.buf[q.head] = nil
	q.head = (q.head + 1) % q.limit
	q.n--
	q.share.leave(p)
	return nil, p, true
}

// beginCommit takes a commit slot, waiting while maxInflightCommits are
// taken; a wait is counted in waits when it begins.
func (q *packetQueue) beginCommit(waits *stats.Stat) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.inflight >= q.commitLimit {
		waits.Inc()
	}
	for q.inflight >= q.commitLimit {
		q.room.Wait()
	}
	q.inflight++
}

// endCommit frees a commit slot and queues next (the client's follow-up,
// or nil) for the workers.
func (q *packetQueue) endCommit(next *request) {
	q.mu.Lock()
	q.inflight--
	if q.inflight == q.commitLimit-1 || q.inflight == 0 {
		q.room.Broadcast()
	}
	wakeAll := q.closed && q.inflight == 0
	if next != nil {
		q.ready = append(q.ready, next)
	}
	q.mu.Unlock()
	switch {
	case wakeAll:
		q.cond.Broadcast()
	case next != nil:
		q.cond.Signal()
	}
}

// waitCommits returns once no commit is in flight.
func (q *packetQueue) waitCommits() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.inflight > 0 {
		q.room.Wait()
	}
}

// QueueStatistics is Kea's packet-queue-statistics: the average queue
// length over the last 10, 100 and 1000 packets.
func (s *Server) QueueStatistics() [3]float64 {
	s.queue.mu.Lock()
	defer s.queue.mu.Unlock()
	return s.queue.avg
}

// QueueLen is the number of queued packets.
func (s *Server) QueueLen() int {
	s.queue.mu.Lock()
	defer s.queue.mu.Unlock()
	return s.queue.n
}

func (q *packetQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.cond.Broadcast()
}
