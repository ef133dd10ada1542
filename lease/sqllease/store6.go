package sqllease

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"sync/atomic"
	"time"

	"xdhcp/lease"
	"xdhcp/lease/memfile"
)

// Dialect6 is one database's side of a Store6, on Kea's lease6 table. Its
// methods are called as Dialect's are.
type Dialect6 interface {
	// Write6 applies ws in one transaction, as Dialect.Write does; a
	// put's row is the same client's when it has the same DUID, IAID
	// and lease type.
	Write6(ctx context.Context, ws []Write6, now time.Time) (conflicts []int, err error)
	// Load6 calls fn for every lease of the table.
	Load6(ctx context.Context, fn func(l *lease.Lease6) error) error
	// Get6 reads the lease for addr.
	Get6(ctx context.Context, addr netip.Addr) (lease.Lease6, bool, error)
	// Find6 reads the leases q selects.
	Find6(ctx context.Context, q Query) ([]lease.Lease6, error)
	CheckSchema(ctx context.Context) error
	Ping(ctx context.Context) error
	Close()
}

// Write6 is one op of a Store6 transaction, with what the store knew of
// its address (see Write): a put applies when the row is absent,
// expired, reclaimed, the same IA's (DUID, IAID and type), or equal to
// Known (same expiry and DUID).
type Write6 struct {
	Op    *lease.Op6
	Known *lease.Lease6
}

var (
	_ lease.Store6        = (*Store6)(nil)
	_ lease.StatsReporter = (*Store6)(nil)
	_ lease.Shared        = (*Store6)(nil)
)

// Store6 is a DHCPv6 lease store on a database (Kea's lease6 table), with
// the write path, cache and fault handling of Store. All methods are safe
// for concurrent use.
type Store6 struct {
	*core[lease.Op6, lease.Lease6]
	d     Dialect6
	cache atomic.Pointer[memfile.Store6]
}

// Open6 connects through d, checks the schema version, loads every
// lease6 row into the cache and starts the writers (opts.Dialect is not
// used).
func Open6(ctx context.Context, d Dialect6, opts Options) (*Store6, error) {
	if d == nil {
		return nil, errors.New("open lease database: no dialect")
	}
	s := &Store6{d: d}
	c, err := start(ctx, opts, family[lease.Op6, lease.Lease6](fam6{s: s, where: opts.Where, log: logger(opts)}))
	if err != nil {
		return nil, err
	}
	s.core = c
	return s, nil
}

func (s *Store6) c() *memfile.Store6 { return s.cache.Load() }

// Get returns the cached lease at addr.
func (s *Store6) Get(addr netip.Addr) (lease.Lease6, bool) { return s.c().Get(addr) }

// ByIA returns the cached leases of one IA.
func (s *Store6) ByIA(duid []byte, iaid uint32, t lease.Type, subnetID uint32) []lease.Lease6 {
	return s.c().ByIA(duid, iaid, t, subnetID)
}

// ByDUID returns the cached leases of duid.
func (s *Store6) ByDUID(duid []byte) []lease.Lease6 { return s.c().ByDUID(duid) }

// ByHostname returns the cached leases with hostname name.
func (s *Store6) ByHostname(name string) []lease.Lease6 { return s.c().ByHostname(name) }

// Page returns cached leases after from.
func (s *Store6) Page(from netip.Addr, limit int) []lease.Lease6 { return s.c().Page(from, limit) }

// Range calls fn for every cached lease.
func (s *Store6) Range(fn func(l *lease.Lease6) bool) { s.c().Range(fn) }

// Expired returns cached leases awaiting reclamation (see Store.Expired).
func (s *Store6) Expired(now int64, limit int) []lease.Lease6 { return s.c().Expired(now, limit) }

// Reclaimed returns cached expired-reclaimed leases (see Expired).
func (s *Store6) Reclaimed(before int64, limit int) []lease.Lease6 {
	return s.c().Reclaimed(before, limit)
}

// Len returns the number of cached leases.
func (s *Store6) Len() int { return s.c().Len() }

// fam6 is the lease6 table's family.
type fam6 struct {
	s     *Store6
	where string
	log   *slog.Logger
}

func (f fam6) addr(o *lease.Op6) netip.Addr             { return o.Lease.Addr }
func (f fam6) record(o *lease.Op6) []byte               { return o.Record }
func (f fam6) validate(ops []lease.Op6) error           { return memfile.Validate6(ops) }
func (f fam6) cached(a netip.Addr) (lease.Lease6, bool) { return f.s.c().Get(a) }
func (f fam6) checkSchema(ctx context.Context) error    { return f.s.d.CheckSchema(ctx) }
func (f fam6) ping(ctx context.Context) error           { return f.s.d.Ping(ctx) }
func (f fam6) cache(ctx context.Context, ops ...lease.Op6) error {
	return f.s.c().Commit(ctx, ops...)
}

func (f fam6) write(ctx context.Context, ops []*lease.Op6, known []*lease.Lease6, now time.Time) ([]int, error) {
	ws := make([]Write6, len(ops))
	for i := range ops {
		ws[i] = Write6{Op: ops[i], Known: known[i]}
	}
	return f.s.d.Write6(ctx, ws, now)
}

func (f fam6) holds(ctx context.Context, o *lease.Op6) (absent, own bool, err error) {
	l, ok, err := f.s.d.Get6(ctx, o.Lease.Addr)
	if err != nil || !ok {
		return !ok, false, err
	}
	w := &o.Lease
	return false, bytes.Equal(l.DUID, w.DUID) && l.IAID == w.IAID && l.Type == w.Type &&
		Expire6Of(&l).Unix() == Expire6Of(w).Unix() && l.State == w.State, nil
}

func (f fam6) fetch(ctx context.Context, addr netip.Addr, limit int) ([]lease.Op6, error) {
	return fetchRows(ctx, addr, limit, f.s.d.Get6, f.s.d.Find6,
		func(l lease.Lease6) lease.Op6 { return lease.Op6{Kind: lease.OpPut, Lease: l} },
		func(a netip.Addr) lease.Op6 { return lease.Op6{Kind: lease.OpDelete, Lease: lease.Lease6{Addr: a}} })
}

func (f fam6) reload(ctx context.Context) (int, error) {
	cache, err := memfile.Open6(memfile.Options{Persist: false, Logger: f.log})
	if err != nil {
		return 0, err
	}
	n, err := loadRows(ctx, f.log, f.where, cache.Commit, func(emit func(lease.Op6) error) error {
		return f.s.d.Load6(ctx, func(l *lease.Lease6) error { return emit(lease.Op6{Kind: lease.OpPut, Lease: l.Clone()}) })
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

func (f fam6) empty() error {
	cache, err := memfile.Open6(memfile.Options{Persist: false, Logger: f.log})
	if err != nil {
		return err
	}
	if old := f.s.cache.Swap(cache); old != nil {
		_ = old.Close()
	}
	return nil
}

func (f fam6) close() error {
	f.s.d.Close()
	return f.s.c().Close()
}
