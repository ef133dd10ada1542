// Package sqllease is the lease store on a SQL database holding Kea 2.2's
// lease4 table (Store) and lease6 table (Store6): the part every database
// and both families share (the in-memory cache the
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
// client (hardware address or client identifier; for DHCPv6 the same DUID
// and IAID), or exactly the row this store last saw; otherwise the commit fails with lease.ErrConflict, the
// row the database holds replaces the cached one, and the engine chooses
// again. A stale cache therefore costs at most a refused commit, never an
// address given twice. The lease commands read the database itself
// (Database).
package sqllease

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime"
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
	ByDUID     // lease6: Key is the DUID
	ByIA       // lease6: Key is the DUID, with IAID, Type and Subnet (0: any)
)

// Query is a lookup of the lease commands.
type Query struct {
	Kind   QueryKind
	Key    []byte
	Name   string
	From   netip.Addr
	Limit  int
	IAID   uint32
	Type   lease.Type
	Subnet uint32
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

// Options configures a Store or a Store6.
type Options struct {
	Dialect Dialect // Store's; Store6 takes its dialect as an argument
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

// family is what the write path needs to know of one lease table: how an
// op names its address, how it is checked, written and cached. O is the
// op type (lease.Op, lease.Op6), L the lease type.
type family[O, L any] interface {
	addr(o *O) netip.Addr
	record(o *O) []byte
	validate(ops []O) error
	// write runs one transaction (Dialect.Write); known[i] is the lease
	// the cache held for ops[i]'s address, nil if none.
	write(ctx context.Context, ops []*O, known []*L, now time.Time) (conflicts []int, err error)
	// cached returns the cache's lease of addr.
	cached(addr netip.Addr) (L, bool)
	// cache applies committed ops to the cache.
	cache(ctx context.Context, ops ...O) error
	// fetch reads the row of addr (a put, or a delete when there is none)
	// and the rows of the next limit leased addresses, as ops.
	fetch(ctx context.Context, addr netip.Addr, limit int) ([]O, error)
	// holds reads the row of o's address: absent, or exactly the lease o
	// writes (same client, expiry and state).
	holds(ctx context.Context, o *O) (absent, own bool, err error)
	// reload replaces the cache by the table's rows; it returns their
	// number.
	reload(ctx context.Context) (int, error)
	// empty replaces the cache by an empty one.
	empty() error
	checkSchema(ctx context.Context) error
	ping(ctx context.Context) error
	// close closes the connections and the cache.
	close() error
}

// core is the write path both stores share: the queue, group commit over
// Options.Writers transactions, conflicts, faults and reconnection.
type core[O, L any] struct {
	opts Options
	fam  family[O, L]
	log  *slog.Logger
	now  func() time.Time

	mu       sync.Mutex
	cond     *sync.Cond
	queue    []*request[O]
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

type request[O any] struct {
	ops  []O
	done func(error)
}

var (
	_ lease.Store         = (*Store)(nil)
	_ lease.StatsReporter = (*Store)(nil)
)

// Store is a DHCPv4 lease store on a database (Kea's lease4 table). All
// methods are safe for concurrent use.
type Store struct {
	*core[lease.Op, lease.Lease]
	d     Dialect
	cache atomic.Pointer[memfile.Store] // replaced whole after a reconnection
}

// Open connects through opts.Dialect, checks the schema version, loads
// every lease into the cache and starts the writers.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.Dialect == nil {
		return nil, errors.New("open lease database: no dialect")
	}
	s := &Store{d: opts.Dialect}
	c, err := start(ctx, opts, family[lease.Op, lease.Lease](fam4{s: s, where: opts.Where, log: logger(opts)}))
	if err != nil {
		return nil, err
	}
	s.core = c
	return s, nil
}

// start checks the schema, loads the cache and starts the writers.
func start[O, L any](ctx context.Context, opts Options, fam family[O, L]) (*core[O, L], error) {
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = DefaultMaxBatch
	}
	if opts.Writers <= 0 {
		opts.Writers = DefaultWriters
	}
	c := &core[O, L]{opts: opts, fam: fam, log: logger(opts), now: opts.Now,
		inflight: make(map[netip.Addr]struct{}), learned: make(map[netip.Addr]struct{}), stop: make(chan struct{}), recovered: make(chan struct{})}
	c.cond = sync.NewCond(&c.mu)
	if c.now == nil {
		c.now = time.Now
	}
	if c.opts.OpTimeout <= 0 {
		c.opts.OpTimeout = DefaultOpTimeout
	}
	err := fam.checkSchema(ctx)
	n := 0
	if err == nil {
		n, err = fam.reload(ctx)
	}
	if err != nil && (!opts.RetryOnStartup || c.reachable()) {
		return nil, fmt.Errorf("lease database %s: %w", opts.Where, err)
	}
	if err != nil {
		// retry-on-startup: serve from an empty cache, refusing
		// commits, until the database answers.
		lostErr := err
		if err := fam.empty(); err != nil {
			return nil, err
		}
		c.bg.Add(1)
		go c.dispatch()
		c.log.Warn("lease database unreachable at start (retry-on-startup): starting without its leases",
			"database", opts.Where, "err", lostErr)
		c.startFault(lostErr)
		return c, nil
	}
	c.log.Info("leases loaded from the database", "database", opts.Where, "leases", n)
	c.bg.Add(1)
	go c.dispatch()
	return c, nil
}

// opCtx bounds one operation on the database.
func (c *core[O, L]) opCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), c.opts.OpTimeout)
}

// loadRows commits the rows load gives into a cache through commit, in
// chunks; a row the cache refuses is skipped and counted.
func loadRows[O any](ctx context.Context, log *slog.Logger, where string, commit func(context.Context, ...O) error,
	load func(emit func(O) error) error) (int, error) {
	const chunk = 4096
	ops := make([]O, 0, chunk)
	n, skipped := 0, 0
	flush := func() error {
		if err := commit(ctx, ops...); err != nil {
			// One bad row fails the chunk: add them one at a time.
			for i := range ops {
				if commit(ctx, ops[i]) != nil {
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
	err := load(func(o O) error {
		ops = append(ops, o)
		if len(ops) == chunk {
			return flush()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("load leases: %w", err)
	}
	_ = flush()
	if skipped > 0 {
		log.Warn("lease rows the server cannot use were skipped", "database", where, "rows", skipped)
	}
	return n, nil
}

// logger is opts.Logger, or one that discards.
func logger(opts Options) *slog.Logger {
	if opts.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return opts.Logger
}

// fam4 is the lease4 table's family.
type fam4 struct {
	s     *Store
	where string
	log   *slog.Logger
}

func (f fam4) addr(o *lease.Op) netip.Addr             { return o.Lease.Addr }
func (f fam4) record(o *lease.Op) []byte               { return o.Record }
func (f fam4) validate(ops []lease.Op) error           { return memfile.Validate(ops) }
func (f fam4) cached(a netip.Addr) (lease.Lease, bool) { return f.s.c().Get(a) }
func (f fam4) cache(ctx context.Context, ops ...lease.Op) error {
	return f.s.c().Commit(ctx, ops...)
}
func (f fam4) checkSchema(ctx context.Context) error { return f.s.d.CheckSchema(ctx) }
func (f fam4) ping(ctx context.Context) error        { return f.s.d.Ping(ctx) }

func (f fam4) write(ctx context.Context, ops []*lease.Op, known []*lease.Lease, now time.Time) ([]int, error) {
	ws := make([]Write, len(ops))
	for i := range ops {
		ws[i] = Write{Op: ops[i], Known: known[i]}
	}
	return f.s.d.Write(ctx, ws, now)
}

func (f fam4) holds(ctx context.Context, o *lease.Op) (absent, own bool, err error) {
	l, ok, err := f.s.d.Get(ctx, o.Lease.Addr)
	if err != nil || !ok {
		return !ok, false, err
	}
	w := &o.Lease
	return false, bytes.Equal(l.HWAddr, w.HWAddr) && bytes.Equal(l.ClientID, w.ClientID) &&
		ExpireOf(&l).Unix() == ExpireOf(w).Unix() && l.State == w.State, nil
}

func (f fam4) fetch(ctx context.Context, addr netip.Addr, limit int) ([]lease.Op, error) {
	return fetchRows(ctx, addr, limit, f.s.d.Get, f.s.d.Find,
		func(l lease.Lease) lease.Op { return lease.Op{Kind: lease.OpPut, Lease: l} },
		func(a netip.Addr) lease.Op { return lease.Op{Kind: lease.OpDelete, Lease: lease.Lease{Addr: a}} })
}

// fetchRows reads addr's row (a put, or a delete when there is none) and
// the rows of the next limit addresses (puts) through get and find.
func fetchRows[O, L any](ctx context.Context, addr netip.Addr, limit int,
	get func(context.Context, netip.Addr) (L, bool, error), find func(context.Context, Query) ([]L, error),
	put func(L) O, del func(netip.Addr) O) ([]O, error) {
	l, ok, err := get(ctx, addr)
	if err != nil {
		return nil, err
	}
	ops := []O{del(addr)}
	if ok {
		ops[0] = put(l)
	}
	if ahead, err := find(ctx, Query{Kind: Page, From: addr, Limit: limit}); err == nil {
		for _, l := range ahead {
			ops = append(ops, put(l))
		}
	}
	return ops, nil
}

func (f fam4) reload(ctx context.Context) (int, error) {
	cache, err := memfile.Open(memfile.Options{Persist: false, Logger: f.log})
	if err != nil {
		return 0, err
	}
	n, err := loadRows(ctx, f.log, f.where, cache.Commit, func(emit func(lease.Op) error) error {
		return f.s.d.Load(ctx, func(l *lease.Lease) error { return emit(lease.Op{Kind: lease.OpPut, Lease: l.Clone()}) })
	})
	if err != nil {
		_ = cache.Close()
		return 0, err
	}
	if old := f.s.cache.Swap(cache); old != nil {
		_ = old.Close()
	}
	return n, nil
}

func (f fam4) empty() error {
	cache, err := memfile.Open(memfile.Options{Persist: false, Logger: f.log})
	if err != nil {
		return err
	}
	if old := f.s.cache.Swap(cache); old != nil {
		_ = old.Close()
	}
	return nil
}

func (f fam4) close() error {
	f.s.d.Close()
	return f.s.c().Close()
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

// Reclaimed returns cached expired-reclaimed leases (see Expired).
func (s *Store) Reclaimed(before int64, limit int) []lease.Lease {
	return s.c().Reclaimed(before, limit)
}

// Len returns the number of cached leases.
func (s *Store) Len() int { return s.c().Len() }

// SharedWithOtherServers reports true: Kea and other xdhcpd may write to
// the same database (see lease.Shared).
func (c *core[O, L]) SharedWithOtherServers() bool { return true }

// Commit writes ops in one transaction (grouped with other commits) and
// applies them to the cache.
func (c *core[O, L]) Commit(ctx context.Context, ops ...O) error {
	ch := make(chan error, 1)
	c.CommitAsync(ops, func(err error) { ch <- err })
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
func (c *core[O, L]) CommitAsync(ops []O, done func(error)) {
	if err := c.fam.validate(ops); err != nil {
		done(err)
		return
	}
	if fe := c.fault.Load(); fe != nil {
		c.stats.refused.Add(1)
		c.emit(lease.FaultEvent{Kind: lease.FaultRefused, Err: fe.Err, Since: fe.Since, Refused: 1})
		done(fe)
		return
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		done(lease.ErrClosed)
		return
	}
	c.queue = append(c.queue, &request[O]{ops: ops, done: done})
	c.stats.commits.Add(1)
	c.mu.Unlock()
	c.cond.Broadcast()
}

// dispatch gathers queued requests into batches whose addresses no
// batch in flight touches, and starts a writer for each while fewer than
// Options.Writers run. A request touching an address in flight waits, and
// so does every later request touching it, so writes to one address keep
// their order.
func (c *core[O, L]) dispatch() {
	defer c.bg.Done()
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		for !c.closed && (len(c.queue) == 0 || c.writers >= c.opts.Writers) {
			c.cond.Wait()
		}
		if c.closed && len(c.queue) == 0 {
			for c.writers > 0 {
				c.cond.Wait()
			}
			return
		}
		batch, rest := c.take()
		c.queue = rest
		if len(batch) == 0 {
			if c.closed && c.writers == 0 {
				// Nothing can free the blocked addresses any more.
				for _, r := range rest {
					r.done(lease.ErrClosed)
				}
				c.queue = nil
				continue
			}
			c.cond.Wait()
			continue
		}
		c.writers++
		go c.write(batch)
	}
}

// take splits the queue into a batch and what stays queued. Called with
// c.mu held.
func (c *core[O, L]) take() (batch, rest []*request[O]) {
	ops := 0
	var mine map[netip.Addr]struct{}
	for i, r := range c.queue {
		if ops >= c.opts.MaxBatch {
			rest = append(rest, c.queue[i:]...)
			break
		}
		if c.touches(r, c.inflight) || (mine != nil && c.touches(r, mine)) {
			// Later requests on the same address must wait too: mark
			// its addresses as taken without taking it.
			if mine == nil {
				mine = make(map[netip.Addr]struct{})
			}
			for i := range r.ops {
				mine[c.fam.addr(&r.ops[i])] = struct{}{}
			}
			rest = append(rest, r)
			continue
		}
		if mine == nil {
			mine = make(map[netip.Addr]struct{})
		}
		for i := range r.ops {
			a := c.fam.addr(&r.ops[i])
			mine[a] = struct{}{}
			c.inflight[a] = struct{}{}
		}
		batch = append(batch, r)
		ops += len(r.ops)
	}
	return batch, rest
}

func (c *core[O, L]) touches(r *request[O], set map[netip.Addr]struct{}) bool {
	for i := range r.ops {
		if _, ok := set[c.fam.addr(&r.ops[i])]; ok {
			return true
		}
	}
	return false
}

// write runs one batch and completes its requests.
func (c *core[O, L]) write(batch []*request[O]) {
	results := c.writeBatch(batch)
	c.mu.Lock()
	for _, r := range batch {
		for i := range r.ops {
			delete(c.inflight, c.fam.addr(&r.ops[i]))
		}
	}
	c.writers--
	c.mu.Unlock()
	c.cond.Broadcast()
	for i, r := range batch {
		if i > 0 && i%lease.CompletionYield == 0 {
			runtime.Gosched()
		}
		r.done(results[i])
	}
}

// writeBatch writes batch, retrying without the requests that conflict
// or fail on their own, and applies what was committed to the cache. It
// returns each request's outcome.
func (c *core[O, L]) writeBatch(batch []*request[O]) []error {
	results := make([]error, len(batch))
	pending := make([]int, len(batch))
	for i := range pending {
		pending[i] = i
	}
	retried, requeues := false, 0
	for len(pending) > 0 {
		if fe := c.fault.Load(); fe != nil {
			for _, i := range pending {
				results[i] = fe
			}
			c.stats.refused.Add(uint64(len(pending)))
			c.emit(lease.FaultEvent{Kind: lease.FaultRefused, Err: fe.Err, Since: fe.Since, Refused: len(pending)})
			return results
		}
		ops, known, owner := c.writes(batch, pending)
		ctx, cancel := c.opCtx()
		conflicts, err := c.fam.write(ctx, ops, known, c.now())
		cancel()
		c.stats.batches.Add(1)
		if err == nil && len(conflicts) == 0 {
			c.stats.rows.Add(uint64(len(ops)))
			c.applied(batch, pending)
			return results
		}
		if err == nil {
			// Refuse the conflicting requests, learn what the database
			// holds for their addresses, and write the others again.
			bad := c.refuse(ops, conflicts, owner)
			if len(bad) == 0 {
				// No conflict was another client's lease: each row is
				// gone, or is the op's own from an attempt whose answer
				// was lost. Writing again settles it, a few times at most.
				if requeues++; requeues > maxRequeues {
					for _, i := range pending {
						results[i] = fmt.Errorf("lease database %s: conflicts the database's rows do not explain, %d times", c.opts.Where, requeues)
					}
					return results
				}
				continue
			}
			c.stats.conflicts.Add(uint64(len(bad)))
			pending = without(pending, bad, results)
			continue
		}
		c.stats.writeErrors.Add(1)
		if c.lost(err) {
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
			results[pending[0]] = fmt.Errorf("lease database %s: %w", c.opts.Where, err)
			return results
		}
		// A statement failed: write each request alone to find which.
		for _, i := range pending {
			results[i] = c.writeBatch([]*request[O]{batch[i]})[0]
		}
		return results
	}
	return results
}

// maxRequeues bounds the writes again of one batch after conflicts that
// were no other client's lease.
const maxRequeues = 3

// refuse returns, by request, the addresses of the conflicting ops that
// hold another client's lease, after learning them. A conflict whose row
// is absent (an insert raced one that rolled back) or is the op's own (an
// earlier attempt committed, but its answer was lost with the connection)
// is none: the op is written again.
func (c *core[O, L]) refuse(ops []*O, conflicts, owner []int) map[int]netip.Addr {
	bad := make(map[int]netip.Addr)
	for _, k := range conflicts {
		a := c.fam.addr(ops[k])
		ctx, cancel := c.opCtx()
		absent, own, err := c.fam.holds(ctx, ops[k])
		cancel()
		if err == nil && (absent || own) {
			continue
		}
		bad[owner[k]] = a
		c.learn(a)
	}
	return bad
}

// writes flattens the pending requests' ops, with what the cache knows of
// each address; owner maps an op back to its request.
func (c *core[O, L]) writes(batch []*request[O], pending []int) (ops []*O, known []*L, owner []int) {
	c.learnMu.Lock()
	defer c.learnMu.Unlock()
	for _, i := range pending {
		for j := range batch[i].ops {
			op := &batch[i].ops[j]
			var k *L
			// A lease learned from another server is not one this store
			// may replace for knowing it: the engine may still act on an
			// offer made before it was learned.
			if _, other := c.learned[c.fam.addr(op)]; !other {
				if l, ok := c.fam.cached(c.fam.addr(op)); ok {
					k = &l
				}
			}
			ops = append(ops, op)
			known = append(known, k)
			owner = append(owner, i)
		}
	}
	return ops, known, owner
}

// without sets the results of the pending requests in bad (a conflict on
// the address given) and returns the others.
func without(pending []int, bad map[int]netip.Addr, results []error) []int {
	out := pending[:0:0]
	for _, i := range pending {
		if a, ok := bad[i]; ok {
			results[i] = fmt.Errorf("%w: address %s is leased to another client in the database", lease.ErrConflict, a)
			continue
		}
		out = append(out, i)
	}
	return out
}

// applied applies committed requests to the cache and writes their
// records.
func (c *core[O, L]) applied(batch []*request[O], pending []int) {
	var records []byte
	c.learnMu.Lock()
	for _, i := range pending {
		for j := range batch[i].ops {
			delete(c.learned, c.fam.addr(&batch[i].ops[j]))
		}
	}
	c.learnMu.Unlock()
	for _, i := range pending {
		// The cache cannot refuse ops validate accepted.
		_ = c.fam.cache(context.Background(), batch[i].ops...)
		for j := range batch[i].ops {
			records = append(records, c.fam.record(&batch[i].ops[j])...)
		}
	}
	if len(records) > 0 && c.opts.Records != nil {
		c.recMu.Lock()
		err := c.opts.Records.WriteRecords(records)
		if err == nil {
			err = c.opts.Records.SyncRecords()
		}
		c.recMu.Unlock()
		if err != nil {
			c.log.Error("forensic records of committed leases could not be written", "err", err)
		}
	}
}

// learnAhead is how many rows after a conflicting address learn reads
// too: servers sharing a pool hand out addresses in the same order, so
// where one lease of another server is, more follow.
const learnAhead = 256

// learn replaces the cached lease of addr with the database's row, and
// caches the rows of the next learnAhead leased addresses.
func (c *core[O, L]) learn(addr netip.Addr) {
	ctx, cancel := c.opCtx()
	defer cancel()
	ops, err := c.fam.fetch(ctx, addr, learnAhead)
	if err != nil {
		c.log.Warn("reading a conflicting lease from the database failed", "addr", addr, "err", err)
		return
	}
	c.learnMu.Lock()
	for i := range ops {
		c.learned[c.fam.addr(&ops[i])] = struct{}{}
	}
	c.learnMu.Unlock()
	for i := range ops {
		// One by one: a row the cache refuses must not cost the others.
		if err := c.fam.cache(ctx, ops[i]); err != nil {
			c.log.Warn("a lease of the database cannot be cached", "addr", c.fam.addr(&ops[i]), "err", err)
		}
	}
}

// Stats returns the write counters.
func (c *core[O, L]) Stats() lease.Stats {
	return lease.Stats{
		Commits:     c.stats.commits.Load(),
		Batches:     c.stats.batches.Load(),
		Rows:        c.stats.rows.Load(),
		WriteErrors: c.stats.writeErrors.Load(),
		Faults:      c.stats.faults.Load(),
		Refused:     c.stats.refused.Load(),
		Retries:     c.stats.retries.Load(),
	}
}

// Conflicts returns the number of commits refused because another
// server's lease held an address.
func (c *core[O, L]) Conflicts() uint64 { return c.stats.conflicts.Load() }

// Close stops the writers once the queue is written and closes the
// connections.
func (c *core[O, L]) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	close(c.stop)
	c.cond.Broadcast()
	c.bg.Wait()
	return c.fam.close()
}
