// Package sqllease is the lease store on a SQL database holding Kea 2.2's
// lease4 table: the part every database shares (the in-memory cache the
// engine reads, group commit over a bounded set of connections, conflict
// handling when other servers share the database, connection-loss faults
// and reconnection). What differs between databases — the SQL, the driver,
// the connection parameters — is a Dialect (lease/pgsql, lease/mysql).
//
// # What is cached, and why that is safe with other servers
//
// The store keeps every lease it has read or written in memory (a memfile
// index without a file) and answers the engine's reads from it without
// waiting for the database. The database stays the authority: every write
// of a lease is conditional on the row the database holds, so a write
// cannot take an address another server has leased meanwhile. A put
// succeeds when the row is absent, expired, reclaimed, held by the same
// client (hardware address or client identifier), or exactly the row this
// store last saw; otherwise the commit fails with lease.ErrConflict, the
// row the database holds replaces the cached one, and the engine chooses
// again. A stale cache therefore costs at most a refused commit, never an
// address given twice. The lease commands read the database itself
// (Database).
package sqllease

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"xdhcp/lease"
	"xdhcp/lease/memfile"
)

// Dialect is one database's side of the store. Its methods are called
// concurrently (up to Options.Writers writes and any number of reads).
type Dialect interface {
	// Write applies ws in one transaction. A put whose row the database
	// refuses (see Write) is a conflict: Write then rolls the whole
	// transaction back and returns the indexes of the conflicting
	// writes, with a nil error. Any other failure returns an error and
	// applies nothing.
	Write(ctx context.Context, ws []Write, now time.Time) (conflicts []int, err error)
	// Load calls fn for every lease of the table (fn may keep nothing of
	// l's slices beyond the call).
	Load(ctx context.Context, fn func(l *lease.Lease) error) error
	// Get reads the lease for addr.
	Get(ctx context.Context, addr netip.Addr) (lease.Lease, bool, error)
	// Find reads the leases q selects, in ascending address order.
	Find(ctx context.Context, q Query) ([]lease.Lease, error)
	// CheckSchema returns an error when the database's schema version is
	// not the one the dialect was written for.
	CheckSchema(ctx context.Context) error
	// Ping checks the connection.
	Ping(ctx context.Context) error
	// Close closes the connections.
	Close()
}

// Write is one op of a transaction, with what the store knew of its
// address: the database applies a put only when the row it holds is
// absent, expired (expire at or before now), reclaimed, the same client's
// (equal hardware address, or equal non-empty client identifier; not for
// a put that reclaims, since another server may have renewed the lease),
// or equal to Known (same expiry and hardware address). A delete removes the
// row when Known is nil or the row is Known or expired; otherwise it
// leaves the row and is no conflict.
type Write struct {
	Op    *lease.Op
	Known *lease.Lease
}

// QueryKind says what a Query selects.
type QueryKind uint8

// Query kinds.
const (
	ByHWAddr QueryKind = iota + 1
	ByClientID
	ByHostname // case insensitive
	Page       // addresses after From, Limit rows
)

// Query is a lookup of the lease commands.
type Query struct {
	Kind  QueryKind
	Key   []byte
	Name  string
	From  netip.Addr
	Limit int
}

// Defaults.
const (
	// DefaultMaxBatch caps the ops of one transaction.
	DefaultMaxBatch = 512
	// DefaultWriters is the number of transactions in flight at once:
	// while one waits for its commit to be flushed, the next gathers.
	DefaultWriters = 4
	// DefaultRetryWait is the first pause between reconnection attempts
	// when Options.RetryWait is 0; it doubles up to MaxRetryWait.
	DefaultRetryWait = 250 * time.Millisecond
	// MaxRetryWait caps the doubling pause.
	MaxRetryWait = 5 * time.Second
	// DefaultOpTimeout bounds one transaction or lookup when
	// Options.OpTimeout is 0.
	DefaultOpTimeout = 30 * time.Second
	// loadTimeout bounds reading every lease into the cache.
	loadTimeout = 2 * time.Minute
	// pingTimeout bounds the ping that tells a failed statement from a
	// lost database.
	pingTimeout = 5 * time.Second
)

// Options configures a Store.
type Options struct {
	Dialect Dialect
	// Where names the database in logs and fault events
	// ("postgresql 127.0.0.1:5432/kea").
	Where string
	// MaxBatch caps the ops of one transaction; 0 means DefaultMaxBatch.
	MaxBatch int
	// Writers is the number of transactions in flight at once (each
	// holds one connection); 0 means DefaultWriters.
	Writers int
	// RetryWait is the pause between reconnection attempts (Kea's
	// reconnect-wait-time); 0 starts at DefaultRetryWait and doubles up
	// to MaxRetryWait.
	RetryWait time.Duration
	// RetryLimit is the number of failed attempts after which
	// FaultExhausted is reported (Kea's max-reconnect-tries); 0 reports
	// it with the first failure, as Kea gives up at once. The store goes
	// on retrying until it recovers or is closed.
	RetryLimit int
	// OpTimeout bounds one transaction, lookup or ping: a connection
	// that hangs (a network path that drops packets, a stalled server)
	// fails its operation after it, which then counts as a lost
	// connection. 0 means DefaultOpTimeout.
	OpTimeout time.Duration
	// RetryOnStartup starts the store even when the database cannot be
	// reached: with an empty cache, in a fault (commits refused, the
	// on-fail policy told) until a reconnection loads the leases.
	RetryOnStartup bool
	// OnFault is told each step of a connection-loss episode; it must
	// return quickly and must not call the store.
	OnFault func(lease.FaultEvent)
	// Records, if set, receives the forensic records of each committed
	// batch, written and synced before its commits complete.
	Records memfile.RecordLog
	Logger  *slog.Logger
	Now     func() time.Time
}

var (
	_ lease.Store         = (*Store)(nil)
	_ lease.StatsReporter = (*Store)(nil)
)

// Store is a lease store on a database. All methods are safe for
// concurrent use.
type Store struct {
	opts Options
	d    Dialect
	log  *slog.Logger
	now  func() time.Time

	cache atomic.Pointer[memfile.Store] // replaced whole after a reconnection

	mu       sync.Mutex
	cond     *sync.Cond
	queue    []*request
	inflight map[netip.Addr]struct{} // addresses of batches being written
	writers  int                     // batches being written
	closed   bool
	recMu    sync.Mutex // serializes record log writes

	// learned holds the addresses whose cached lease was read from the
	// database after a conflict rather than written by this store: a put
	// over one is checked as if the store knew nothing of it (see writes).
	learnMu sync.Mutex
	learned map[netip.Addr]struct{}

	fault     atomic.Pointer[lease.FaultError]
	recovered chan struct{} // closed and replaced when a fault ends
	bg        sync.WaitGroup
	stop      chan struct{}

	stats struct {
		commits, batches, rows, writeErrors, faults, refused, retries, conflicts atomic.Uint64
	}
}

type request struct {
	ops  []lease.Op
	done func(error)
}

// Open connects through opts.Dialect, checks the schema version, loads
// every lease into the cache and starts the writers.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.Dialect == nil {
		return nil, errors.New("open lease database: no dialect")
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = DefaultMaxBatch
	}
	if opts.Writers <= 0 {
		opts.Writers = DefaultWriters
	}
	s := &Store{opts: opts, d: opts.Dialect, log: opts.Logger, now: opts.Now,
		inflight: make(map[netip.Addr]struct{}), learned: make(map[netip.Addr]struct{}), stop: make(chan struct{}), recovered: make(chan struct{})}
	s.cond = sync.NewCond(&s.mu)
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.opts.OpTimeout <= 0 {
		s.opts.OpTimeout = DefaultOpTimeout
	}
	err := s.d.CheckSchema(ctx)
	var cache *memfile.Store
	n := 0
	if err == nil {
		cache, n, err = s.load(ctx)
	}
	if err != nil && (!opts.RetryOnStartup || s.reachable()) {
		return nil, fmt.Errorf("lease database %s: %w", opts.Where, err)
	}
	if err != nil {
		// retry-on-startup: serve from an empty cache, refusing
		// commits, until the database answers.
		lostErr := err
		if cache, err = memfile.Open(memfile.Options{Persist: false, Logger: s.log}); err != nil {
			return nil, err
		}
		s.cache.Store(cache)
		s.bg.Add(1)
		go s.dispatch()
		s.log.Warn("lease database unreachable at start (retry-on-startup): starting without its leases",
			"database", opts.Where, "err", lostErr)
		s.startFault(lostErr)
		return s, nil
	}
	s.cache.Store(cache)
	s.log.Info("leases loaded from the database", "database", opts.Where, "leases", n)
	s.bg.Add(1)
	go s.dispatch()
	return s, nil
}

// opCtx bounds one operation on the database.
func (s *Store) opCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.opts.OpTimeout)
}

// load reads every lease into a new cache.
func (s *Store) load(ctx context.Context) (*memfile.Store, int, error) {
	cache, err := memfile.Open(memfile.Options{Persist: false, Logger: s.log})
	if err != nil {
		return nil, 0, err
	}
	const chunk = 4096
	ops := make([]lease.Op, 0, chunk)
	n, skipped := 0, 0
	flush := func() error {
		if err := cache.Commit(ctx, ops...); err != nil {
			// One bad row fails the chunk: add them one at a time.
			for i := range ops {
				if cache.Commit(ctx, ops[i]) != nil {
					skipped++
					continue
				}
				n++
			}
		} else {
			n += len(ops)
		}
		ops = ops[:0]
		return nil
	}
	err = s.d.Load(ctx, func(l *lease.Lease) error {
		ops = append(ops, lease.Op{Kind: lease.OpPut, Lease: l.Clone()})
		if len(ops) == chunk {
			return flush()
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("load leases: %w", err)
	}
	_ = flush()
	if skipped > 0 {
		s.log.Warn("lease rows the server cannot use were skipped", "database", s.opts.Where, "rows", skipped)
	}
	return cache, n, nil
}

func (s *Store) c() *memfile.Store { return s.cache.Load() }

// Get returns the cached lease for addr.
func (s *Store) Get(addr netip.Addr) (lease.Lease, bool) { return s.c().Get(addr) }

// ByHWAddr returns the cached leases with hardware address hw.
func (s *Store) ByHWAddr(hw []byte) []lease.Lease { return s.c().ByHWAddr(hw) }

// ByClientID returns the cached leases with client identifier id.
func (s *Store) ByClientID(id []byte) []lease.Lease { return s.c().ByClientID(id) }

// ByHostname returns the cached leases with hostname name.
func (s *Store) ByHostname(name string) []lease.Lease { return s.c().ByHostname(name) }

// Page returns cached leases after from.
func (s *Store) Page(from netip.Addr, limit int) []lease.Lease { return s.c().Page(from, limit) }

// Range calls fn for every cached lease.
func (s *Store) Range(fn func(l *lease.Lease) bool) { s.c().Range(fn) }

// Expired returns cached leases awaiting reclamation. Leases other
// servers wrote after this one loaded are theirs to reclaim.
func (s *Store) Expired(now int64, limit int) []lease.Lease { return s.c().Expired(now, limit) }

// Len returns the number of cached leases.
func (s *Store) Len() int { return s.c().Len() }

// SharedWithOtherServers reports true: Kea and other xdhcpd may write to
// the same database (see lease.Shared).
func (s *Store) SharedWithOtherServers() bool { return true }

// Commit writes ops in one transaction (grouped with other commits) and
// applies them to the cache.
func (s *Store) Commit(ctx context.Context, ops ...lease.Op) error {
	ch := make(chan error, 1)
	s.CommitAsync(ops, func(err error) { ch <- err })
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// CommitAsync is Commit without the wait; done runs on a writer
// goroutine (or before CommitAsync returns when the outcome is known at
// once).
func (s *Store) CommitAsync(ops []lease.Op, done func(error)) {
	if err := memfile.Validate(ops); err != nil {
		done(err)
		return
	}
	if fe := s.fault.Load(); fe != nil {
		s.stats.refused.Add(1)
		s.emit(lease.FaultEvent{Kind: lease.FaultRefused, Err: fe.Err, Since: fe.Since, Refused: 1})
		done(fe)
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		done(lease.ErrClosed)
		return
	}
	s.queue = append(s.queue, &request{ops: ops, done: done})
	s.stats.commits.Add(1)
	s.mu.Unlock()
	s.cond.Broadcast()
}

// dispatch gathers queued requests into batches whose addresses no
// batch in flight touches, and starts a writer for each while fewer than
// Options.Writers run. A request touching an address in flight waits, and
// so does every later request touching it, so writes to one address keep
// their order.
func (s *Store) dispatch() {
	defer s.bg.Done()
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		for !s.closed && (len(s.queue) == 0 || s.writers >= s.opts.Writers) {
			s.cond.Wait()
		}
		if s.closed && len(s.queue) == 0 {
			for s.writers > 0 {
				s.cond.Wait()
			}
			return
		}
		batch, rest, blocked := s.take()
		s.queue = rest
		if len(batch) == 0 {
			if s.closed && s.writers == 0 {
				// Nothing can free the blocked addresses any more.
				for _, r := range rest {
					r.done(lease.ErrClosed)
				}
				s.queue = nil
				continue
			}
			_ = blocked
			s.cond.Wait()
			continue
		}
		s.writers++
		go s.write(batch)
	}
}

// take splits the queue into a batch and what stays queued. Called with
// s.mu held.
func (s *Store) take() (batch, rest []*request, blocked int) {
	ops := 0
	var mine map[netip.Addr]struct{}
	for i, r := range s.queue {
		if ops >= s.opts.MaxBatch {
			rest = append(rest, s.queue[i:]...)
			break
		}
		if s.touchesInflight(r) || (mine != nil && touches(r, mine)) {
			// Later requests on the same address must wait too: mark
			// its addresses as taken without taking it.
			if mine == nil {
				mine = make(map[netip.Addr]struct{})
			}
			for i := range r.ops {
				mine[r.ops[i].Lease.Addr] = struct{}{}
			}
			rest = append(rest, r)
			blocked++
			continue
		}
		if mine == nil {
			mine = make(map[netip.Addr]struct{})
		}
		for i := range r.ops {
			mine[r.ops[i].Lease.Addr] = struct{}{}
			s.inflight[r.ops[i].Lease.Addr] = struct{}{}
		}
		batch = append(batch, r)
		ops += len(r.ops)
	}
	return batch, rest, blocked
}

func (s *Store) touchesInflight(r *request) bool { return touches(r, s.inflight) }

func touches(r *request, set map[netip.Addr]struct{}) bool {
	for i := range r.ops {
		if _, ok := set[r.ops[i].Lease.Addr]; ok {
			return true
		}
	}
	return false
}

// write runs one batch and completes its requests.
func (s *Store) write(batch []*request) {
	results := s.writeBatch(batch)
	s.mu.Lock()
	for _, r := range batch {
		for i := range r.ops {
			delete(s.inflight, r.ops[i].Lease.Addr)
		}
	}
	s.writers--
	s.mu.Unlock()
	s.cond.Broadcast()
	for i, r := range batch {
		r.done(results[i])
	}
}

// writeBatch writes batch, retrying without the requests that conflict
// or fail on their own, and applies what was committed to the cache. It
// returns each request's outcome.
func (s *Store) writeBatch(batch []*request) []error {
	results := make([]error, len(batch))
	pending := make([]int, len(batch))
	for i := range pending {
		pending[i] = i
	}
	retried := false
	for len(pending) > 0 {
		if fe := s.fault.Load(); fe != nil {
			for _, i := range pending {
				results[i] = fe
			}
			s.stats.refused.Add(uint64(len(pending)))
			s.emit(lease.FaultEvent{Kind: lease.FaultRefused, Err: fe.Err, Since: fe.Since, Refused: len(pending)})
			return results
		}
		ws, owner := s.writes(batch, pending)
		ctx, cancel := s.opCtx()
		conflicts, err := s.d.Write(ctx, ws, s.now())
		cancel()
		s.stats.batches.Add(1)
		if err == nil && len(conflicts) == 0 {
			s.stats.rows.Add(uint64(len(ws)))
			s.applied(batch, pending)
			return results
		}
		if err == nil {
			// Refuse the conflicting requests, learn what the database
			// holds for their addresses, and write the others again.
			bad := make(map[int]bool)
			for _, c := range conflicts {
				bad[owner[c]] = true
				s.learn(ws[c].Op.Lease.Addr)
			}
			s.stats.conflicts.Add(uint64(len(bad)))
			pending = s.without(pending, bad, results, func(i int) error {
				return fmt.Errorf("%w: %s", lease.ErrConflict, conflictAddr(batch[i], ws, conflicts, owner, i))
			})
			continue
		}
		s.stats.writeErrors.Add(1)
		if s.lost(err) {
			continue // the loop refuses pending with the fault
		}
		if !retried {
			// Concurrent transactions can fail each other for a moment:
			// a deadlock, or Kea's statistics trigger inserting the same
			// first row of a subnet's counters twice. Once more, then
			// find the culprit.
			retried = true
			continue
		}
		if len(pending) == 1 {
			results[pending[0]] = fmt.Errorf("lease database %s: %w", s.opts.Where, err)
			return results
		}
		// A statement failed: write each request alone to find which.
		for _, i := range pending {
			results[i] = s.writeBatch([]*request{batch[i]})[0]
		}
		return results
	}
	return results
}

// writes flattens the pending requests' ops, with what the cache knows of
// each address; owner maps a write back to its request.
func (s *Store) writes(batch []*request, pending []int) ([]Write, []int) {
	cache := s.c()
	var ws []Write
	var owner []int
	s.learnMu.Lock()
	defer s.learnMu.Unlock()
	for _, i := range pending {
		for j := range batch[i].ops {
			op := &batch[i].ops[j]
			w := Write{Op: op}
			// A lease learned from another server is not one this store
			// may replace for knowing it: the engine may still act on an
			// offer made before it was learned.
			if _, other := s.learned[op.Lease.Addr]; !other {
				if l, ok := cache.Get(op.Lease.Addr); ok {
					w.Known = &l
				}
			}
			ws = append(ws, w)
			owner = append(owner, i)
		}
	}
	return ws, owner
}

func conflictAddr(r *request, ws []Write, conflicts, owner []int, i int) string {
	for _, c := range conflicts {
		if owner[c] == i {
			return fmt.Sprintf("address %s is leased to another client in the database", ws[c].Op.Lease.Addr)
		}
	}
	return "conflict"
}

// without sets results of the pending requests in bad and returns the
// others.
func (s *Store) without(pending []int, bad map[int]bool, results []error, why func(int) error) []int {
	out := pending[:0:0]
	for _, i := range pending {
		if bad[i] {
			results[i] = why(i)
			continue
		}
		out = append(out, i)
	}
	return out
}

// applied applies committed requests to the cache and writes their
// records.
func (s *Store) applied(batch []*request, pending []int) {
	cache := s.c()
	var records []byte
	s.learnMu.Lock()
	for _, i := range pending {
		for j := range batch[i].ops {
			delete(s.learned, batch[i].ops[j].Lease.Addr)
		}
	}
	s.learnMu.Unlock()
	for _, i := range pending {
		// The cache cannot refuse ops Validate accepted.
		_ = cache.Commit(context.Background(), batch[i].ops...)
		for j := range batch[i].ops {
			records = append(records, batch[i].ops[j].Record...)
		}
	}
	if len(records) > 0 && s.opts.Records != nil {
		s.recMu.Lock()
		err := s.opts.Records.WriteRecords(records)
		if err == nil {
			err = s.opts.Records.SyncRecords()
		}
		s.recMu.Unlock()
		if err != nil {
			s.log.Error("forensic records of committed leases could not be written", "err", err)
		}
	}
}

// learnAhead is how many rows after a conflicting address learn reads
// too: servers sharing a pool hand out addresses in the same order, so
// where one lease of another server is, more follow.
const learnAhead = 256

// learn replaces the cached lease of addr with the database's row, and
// caches the rows of the next learnAhead leased addresses.
func (s *Store) learn(addr netip.Addr) {
	ctx, cancel := s.opCtx()
	defer cancel()
	l, ok, err := s.d.Get(ctx, addr)
	if err != nil {
		s.log.Warn("reading a conflicting lease from the database failed", "addr", addr, "err", err)
		return
	}
	ops := []lease.Op{{Kind: lease.OpDelete, Lease: lease.Lease{Addr: addr}}}
	if ok {
		ops[0] = lease.Op{Kind: lease.OpPut, Lease: l}
	}
	ahead, err := s.d.Find(ctx, Query{Kind: Page, From: addr, Limit: learnAhead})
	if err == nil {
		for _, l := range ahead {
			ops = append(ops, lease.Op{Kind: lease.OpPut, Lease: l})
		}
	}
	s.learnMu.Lock()
	for i := range ops {
		s.learned[ops[i].Lease.Addr] = struct{}{}
	}
	s.learnMu.Unlock()
	for i := range ops {
		// One by one: a row the cache refuses must not cost the others.
		if err := s.c().Commit(ctx, ops[i]); err != nil {
			s.log.Warn("a lease of the database cannot be cached", "addr", ops[i].Lease.Addr, "err", err)
		}
	}
}

// Stats returns the write counters.
func (s *Store) Stats() lease.Stats {
	return lease.Stats{
		Commits:     s.stats.commits.Load(),
		Batches:     s.stats.batches.Load(),
		Rows:        s.stats.rows.Load(),
		WriteErrors: s.stats.writeErrors.Load(),
		Faults:      s.stats.faults.Load(),
		Refused:     s.stats.refused.Load(),
		Retries:     s.stats.retries.Load(),
	}
}

// Conflicts returns the number of commits refused because another
// server's lease held an address.
func (s *Store) Conflicts() uint64 { return s.stats.conflicts.Load() }

// Close stops the writers once the queue is written and closes the
// connections.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	s.cond.Broadcast()
	s.bg.Wait()
	s.d.Close()
	return s.c().Close()
}
