package sqllease

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"xdhcp/lease"
)

// racyDialect is a database whose first transaction commits but loses its
// answer with the connection, and whose next one reports the batch's
// inserts as duplicate keys: the first commit became visible between its
// locking read and its insert. After that it behaves. other is a row of
// another client, which always conflicts.
type racyDialect struct {
	mu     sync.Mutex
	rows   map[netip.Addr]lease.Lease
	writes int
	other  netip.Addr
}

func (d *racyDialect) Write(_ context.Context, ws []Write, _ time.Time) ([]int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.writes++
	var conflicts []int
	for i, w := range ws {
		if w.Op.Lease.Addr == d.other {
			conflicts = append(conflicts, i)
		}
	}
	if len(conflicts) > 0 {
		return conflicts, nil
	}
	switch d.writes {
	case 1:
		for _, w := range ws {
			d.rows[w.Op.Lease.Addr] = w.Op.Lease.Clone()
		}
		return nil, errors.New("invalid connection: unexpected EOF")
	case 2:
		all := make([]int, len(ws))
		for i := range ws {
			all[i] = i
		}
		return all, nil
	}
	for _, w := range ws {
		d.rows[w.Op.Lease.Addr] = w.Op.Lease.Clone()
	}
	return nil, nil
}

func (d *racyDialect) Get(_ context.Context, a netip.Addr) (lease.Lease, bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if a == d.other {
		return lease.Lease{Addr: a, HWAddr: []byte{9, 9, 9, 9, 9, 9}, ValidLft: 3600, CLTT: time.Now().Unix()}, true, nil
	}
	l, ok := d.rows[a]
	return l.Clone(), ok, nil
}

func (d *racyDialect) Load(context.Context, func(*lease.Lease) error) error { return nil }
func (d *racyDialect) Find(context.Context, Query) ([]lease.Lease, error)   { return nil, nil }
func (d *racyDialect) CheckSchema(context.Context) error                    { return nil }
func (d *racyDialect) Ping(context.Context) error                           { return nil }
func (d *racyDialect) Close()                                               {}

func put4(addr string, hw byte) lease.Op {
	return lease.Op{Kind: lease.OpPut, Lease: lease.Lease{Addr: netip.MustParseAddr(addr),
		HWAddr: []byte{1, 2, 3, 4, 5, hw}, ValidLft: 3600, CLTT: time.Now().Unix()}}
}

// A commit whose answer was lost, and whose rewrite then meets its own
// row, is acknowledged rather than refused as another client's; a row of
// another client in the same batch is still refused.
func TestLostAnswerIsNoConflict(t *testing.T) {
	d := &racyDialect{rows: map[netip.Addr]lease.Lease{}}
	s, err := Open(context.Background(), Options{Dialect: d, Where: "fake", Writers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Commit(context.Background(), put4("10.0.0.1", 1), put4("10.0.0.2", 2)); err != nil {
		t.Fatalf("commit whose first answer was lost: %v", err)
	}
	if d.writes != 3 {
		t.Fatalf("%d transactions, want 3 (lost answer, duplicate keys, rewrite)", d.writes)
	}
	if _, ok := s.Get(netip.MustParseAddr("10.0.0.2")); !ok {
		t.Fatal("the acknowledged lease is not cached")
	}
	if st := s.Stats(); s.Conflicts() != 0 {
		t.Fatalf("stats %+v, %d conflicts: want none", st, s.Conflicts())
	}

	d.other = netip.MustParseAddr("10.0.0.9")
	err = s.Commit(context.Background(), put4("10.0.0.9", 9))
	if !errors.Is(err, lease.ErrConflict) || !strings.Contains(err.Error(), "10.0.0.9") {
		t.Fatalf("commit over another client's row: %v, want a conflict", err)
	}
	if s.Conflicts() != 1 {
		t.Fatalf("%d conflicts counted, want 1", s.Conflicts())
	}
}
