package sqllease

import (
	"context"
	"net/netip"

	"xdhcp/lease"
)

// Database returns a Reader that reads the database itself rather than
// the cache, for the lease commands: an operator asking for a lease wants
// the one the database holds, whichever server wrote it. A read that
// fails is logged and answered from the cache; while the connection is
// lost, reads go to the cache at once rather than wait on a dead path.
func (s *Store) Database() lease.Reader { return dbReader{s} }

type dbReader struct{ s *Store }

func (r dbReader) ctx() (context.Context, context.CancelFunc) {
	return r.s.opCtx()
}

// away reports a lost connection: read the cache.
func (r dbReader) away() bool { return r.s.fault.Load() != nil }

func (r dbReader) failed(what string, err error) {
	r.s.log.Warn("reading leases from the database failed: answering from the cache", "query", what,
		"database", r.s.opts.Where, "err", err)
}

func (r dbReader) Get(addr netip.Addr) (lease.Lease, bool) {
	addr = addr.Unmap()
	if !addr.Is4() {
		return lease.Lease{}, false
	}
	if r.away() {
		return r.s.Get(addr)
	}
	ctx, cancel := r.ctx()
	defer cancel()
	l, ok, err := r.s.d.Get(ctx, addr)
	if err != nil {
		r.failed("get", err)
		return r.s.Get(addr)
	}
	return l, ok
}

func (r dbReader) find(q Query, fallback func() []lease.Lease) []lease.Lease {
	if r.away() {
		return fallback()
	}
	ctx, cancel := r.ctx()
	defer cancel()
	ls, err := r.s.d.Find(ctx, q)
	if err != nil {
		r.failed("find", err)
		return fallback()
	}
	return ls
}

func (r dbReader) ByHWAddr(hw []byte) []lease.Lease {
	if len(hw) == 0 {
		return nil
	}
	return r.find(Query{Kind: ByHWAddr, Key: hw}, func() []lease.Lease { return r.s.ByHWAddr(hw) })
}

func (r dbReader) ByClientID(id []byte) []lease.Lease {
	if len(id) == 0 {
		return nil
	}
	return r.find(Query{Kind: ByClientID, Key: id}, func() []lease.Lease { return r.s.ByClientID(id) })
}

func (r dbReader) ByHostname(name string) []lease.Lease {
	if name == "" {
		return nil
	}
	return r.find(Query{Kind: ByHostname, Name: name}, func() []lease.Lease { return r.s.ByHostname(name) })
}

func (r dbReader) Page(from netip.Addr, limit int) []lease.Lease {
	return r.find(Query{Kind: Page, From: from, Limit: limit}, func() []lease.Lease { return r.s.Page(from, limit) })
}

func (r dbReader) Range(fn func(l *lease.Lease) bool) {
	if r.away() {
		r.s.Range(fn)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), max(loadTimeout, r.s.opts.OpTimeout))
	defer cancel()
	stop := errStop{}
	err := r.s.d.Load(ctx, func(l *lease.Lease) error {
		if !fn(l) {
			return stop
		}
		return nil
	})
	if err != nil && err != error(stop) {
		r.failed("all", err)
	}
}

type errStop struct{}

func (errStop) Error() string { return "stopped" }

func (r dbReader) Expired(now int64, limit int) []lease.Lease { return r.s.Expired(now, limit) }

func (r dbReader) Reclaimed(before int64, limit int) []lease.Lease {
	return r.s.Reclaimed(before, limit)
}

func (r dbReader) Len() int { return r.s.Len() }

// Database6 returns a Reader6 that reads the database itself, as
// Database does for DHCPv4 (the cache while the connection is lost).
func (s *Store6) Database6() lease.Reader6 { return dbReader6{s} }

type dbReader6 struct{ s *Store6 }

func (r dbReader6) failed(what string, err error) {
	r.s.log.Warn("reading leases from the database failed: answering from the cache", "query", what,
		"database", r.s.opts.Where, "err", err)
}

func (r dbReader6) Get(addr netip.Addr) (lease.Lease6, bool) {
	if !addr.Is6() || addr.Is4In6() {
		return lease.Lease6{}, false
	}
	if r.s.fault.Load() != nil {
		return r.s.Get(addr)
	}
	ctx, cancel := r.s.opCtx()
	defer cancel()
	l, ok, err := r.s.d.Get6(ctx, addr)
	if err != nil {
		r.failed("get", err)
		return r.s.Get(addr)
	}
	return l, ok
}

func (r dbReader6) find(q Query, fallback func() []lease.Lease6) []lease.Lease6 {
	if r.s.fault.Load() != nil {
		return fallback()
	}
	ctx, cancel := r.s.opCtx()
	defer cancel()
	ls, err := r.s.d.Find6(ctx, q)
	if err != nil {
		r.failed("find", err)
		return fallback()
	}
	return ls
}

func (r dbReader6) ByIA(duid []byte, iaid uint32, t lease.Type, subnetID uint32) []lease.Lease6 {
	return r.find(Query{Kind: ByIA, Key: duid, IAID: iaid, Type: t, Subnet: subnetID},
		func() []lease.Lease6 { return r.s.ByIA(duid, iaid, t, subnetID) })
}

func (r dbReader6) ByDUID(duid []byte) []lease.Lease6 {
	if len(duid) == 0 {
		return nil
	}
	return r.find(Query{Kind: ByDUID, Key: duid}, func() []lease.Lease6 { return r.s.ByDUID(duid) })
}

func (r dbReader6) ByHostname(name string) []lease.Lease6 {
	if name == "" {
		return nil
	}
	return r.find(Query{Kind: ByHostname, Name: name}, func() []lease.Lease6 { return r.s.ByHostname(name) })
}

func (r dbReader6) Page(from netip.Addr, limit int) []lease.Lease6 {
	return r.find(Query{Kind: Page, From: from, Limit: limit}, func() []lease.Lease6 { return r.s.Page(from, limit) })
}

func (r dbReader6) Range(fn func(l *lease.Lease6) bool) {
	if r.s.fault.Load() != nil {
		r.s.Range(fn)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), max(loadTimeout, r.s.opts.OpTimeout))
	defer cancel()
	stop := errStop{}
	err := r.s.d.Load6(ctx, func(l *lease.Lease6) error {
		if l.Addr.IsValid() && !fn(l) {
			return stop
		}
		return nil
	})
	if err != nil && err != error(stop) {
		r.failed("all", err)
	}
}

func (r dbReader6) Expired(now int64, limit int) []lease.Lease6 { return r.s.Expired(now, limit) }

func (r dbReader6) Reclaimed(before int64, limit int) []lease.Lease6 {
	return r.s.Reclaimed(before, limit)
}

func (r dbReader6) Len() int { return r.s.Len() }
