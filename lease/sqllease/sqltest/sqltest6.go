package sqltest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"xdhcp/internal/dbtest"
	"xdhcp/lease"
	"xdhcp/lease/sqllease"
)

// Open6 opens a DHCPv6 store on db, closed at the test's end.
func Open6(t *testing.T, k Kind, db dbtest.DB, opts sqllease.Options) *sqllease.Store6 {
	t.Helper()
	ctx := context.Background()
	d, err := k.Open6(ctx, Params(db))
	if err != nil {
		t.Fatal(err)
	}
	opts.Where = "test " + db.Name
	s, err := sqllease.Open6(ctx, d, opts)
	if err != nil {
		d.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func duid(n byte) []byte { return []byte{0, 1, 0, 1, 0x2a, 0x2b, 0x2c, 0x2d, 0, 0x16, 0x3e, 0, 0, n} }

func put6(addr string, client byte, iaid uint32, cltt int64) lease.Op6 {
	return lease.Op6{Kind: lease.OpPut, Lease: lease.Lease6{Addr: netip.MustParseAddr(addr), PrefixLen: 128,
		Type: lease.TypeNA, DUID: duid(client), IAID: iaid, PreferredLft: 1800, ValidLft: 3600, CLTT: cltt, SubnetID: 1,
		Hostname: fmt.Sprintf("host-%d", client)}}
}

// Addresses and prefixes committed by one store are lease6 rows as Kea
// writes them, and a store opened later reads them back whole.
func roundTrip6(t *testing.T, k Kind) {
	db := k.Server.Get(t).NewDB(t)
	a := Open6(t, k, db, sqllease.Options{})
	ctx := context.Background()
	now := time.Now().Unix()
	na := put6("2001:db8:1::10", 1, 7, now)
	na.Lease.HWAddr, na.Lease.HWType, na.Lease.HWAddrSource = []byte{0, 0x16, 0x3e, 0, 0, 1}, 1, lease.HWAddrSourceDUID
	na.Lease.FqdnFwd, na.Lease.UserContext = true, `{"a":1}`
	pd := put6("2001:db8:100::", 1, 0xfffffffe, now)
	pd.Lease.Type, pd.Lease.PrefixLen, pd.Lease.ValidLft, pd.Lease.Hostname = lease.TypePD, 56, lease.Infinite, ""
	if err := a.Commit(ctx, na, pd); err != nil {
		t.Fatal(err)
	}
	out, err := db.Exec(k.Row6)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("2001:db8:100::\t000100012a2b2c2d00163e000001\t4294967295\t%d\t1800\t2\t56\t\t0\t0\t\t0\t\n"+
		"2001:db8:1::10\t000100012a2b2c2d00163e000001\t3600\t%d\t1800\t0\t128\t00163e000001\t1\t2\thost-1\t0\t{\"a\":1}",
		now, now+3600)
	if out != want {
		t.Fatalf("lease6 rows:\n%s\nwant:\n%s", out, want)
	}
	if out, _ := db.Exec("SELECT iaid FROM lease6 WHERE lease_type = 2"); out != k.IAIDColumn {
		t.Fatalf("iaid column %q, want %q (as Kea writes it)", out, k.IAIDColumn)
	}
	// Reclamation: an expired lease is listed and its reclaimed state
	// written over it.
	old := put6("2001:db8:1::11", 2, 1, now-7200)
	if err := a.Commit(ctx, old); err != nil {
		t.Fatal(err)
	}
	exp := a.Expired(now, 0)
	if len(exp) != 1 || exp[0].Addr != old.Lease.Addr {
		t.Fatalf("expired leases %+v, want 2001:db8:1::11", exp)
	}
	exp[0].State = lease.StateExpiredReclaimed
	if err := a.Commit(ctx, lease.Op6{Kind: lease.OpPut, Lease: exp[0]}); err != nil {
		t.Fatalf("reclaiming: %v", err)
	}
	if out, _ := db.Exec("SELECT state FROM lease6 WHERE address = '2001:db8:1::11'"); out != "2" {
		t.Fatalf("reclaimed lease's state in the database: %q", out)
	}
	if err := a.Commit(ctx, lease.Op6{Kind: lease.OpDelete, Lease: exp[0]}); err != nil {
		t.Fatal(err)
	}
	b := Open6(t, k, db, sqllease.Options{})
	if b.Len() != 2 {
		t.Fatalf("reopened store holds %d leases, want 2", b.Len())
	}
	l, ok := b.Get(pd.Lease.Addr)
	if !ok || l.CLTT != now || l.ValidLft != lease.Infinite || l.Type != lease.TypePD || l.PrefixLen != 56 ||
		l.IAID != 0xfffffffe || len(l.HWAddr) != 0 {
		t.Fatalf("reloaded prefix %+v", l)
	}
	l, ok = b.Get(na.Lease.Addr)
	if !ok || l.HWAddrSource != lease.HWAddrSourceDUID || l.HWType != 1 || !l.FqdnFwd || l.UserContext != `{"a":1}` {
		t.Fatalf("reloaded address %+v", l)
	}
	if ls := b.Database6().ByIA(duid(1), 0xfffffffe, lease.TypePD, 1); len(ls) != 1 || ls[0].Addr != pd.Lease.Addr {
		t.Fatalf("by IA from the database: %+v", ls)
	}
	if ls := b.Database6().ByDUID(duid(1)); len(ls) != 2 {
		t.Fatalf("by DUID from the database: %+v", ls)
	}
	if ls := b.Database6().Page(netip.Addr{}, 1); len(ls) != 1 {
		t.Fatalf("page from the database: %+v", ls)
	}
}

// Two servers on one database never hold one address for two IAs.
func conflict6(t *testing.T, k Kind) {
	db := k.Server.Get(t).NewDB(t)
	a := Open6(t, k, db, sqllease.Options{})
	b := Open6(t, k, db, sqllease.Options{})
	ctx := context.Background()
	now := time.Now().Unix()
	if err := a.Commit(ctx, put6("2001:db8::5", 1, 1, now)); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(ctx, put6("2001:db8::5", 2, 1, now)); !errors.Is(err, lease.ErrConflict) {
		t.Fatalf("second server's commit: %v, want a conflict", err)
	}
	if l, ok := b.Get(netip.MustParseAddr("2001:db8::5")); !ok || l.DUID[len(l.DUID)-1] != 1 {
		t.Fatalf("after the conflict the second server's cache holds %+v", l)
	}
	// Another IA of the same client is another binding.
	if err := b.Commit(ctx, put6("2001:db8::5", 1, 2, now)); !errors.Is(err, lease.ErrConflict) {
		t.Fatalf("another IAID of the same DUID: %v, want a conflict", err)
	}
	// The IA itself renewing at the second server keeps its address.
	if err := b.Commit(ctx, put6("2001:db8::5", 1, 1, now+20)); err != nil {
		t.Fatalf("the lease's own IA at the second server: %v", err)
	}
	// An expired lease is free for anyone.
	if err := a.Commit(ctx, put6("2001:db8::6", 3, 1, now-7200)); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(ctx, put6("2001:db8::6", 4, 1, now)); err != nil {
		t.Fatalf("taking an expired lease: %v", err)
	}
	// A conflicting op fails its whole commit, and only its commit.
	err := a.Commit(ctx, put6("2001:db8::7", 5, 1, now), put6("2001:db8::6", 5, 1, now))
	if !errors.Is(err, lease.ErrConflict) {
		t.Fatalf("commit with a conflicting op: %v", err)
	}
	if out, _ := db.Exec("SELECT count(*) FROM lease6 WHERE address = '2001:db8::7'"); out != "0" {
		t.Fatalf("the refused commit's other op was written (%s rows)", out)
	}
}

// Concurrent commits share transactions, each returning once its row is
// in the database.
func groupCommit6(t *testing.T, k Kind) {
	db := k.Server.Get(t).NewDB(t)
	s := Open6(t, k, db, sqllease.Options{Writers: 2})
	check, err := k.Open6(context.Background(), Params(db))
	if err != nil {
		t.Fatal(err)
	}
	defer check.Close()
	now := time.Now().Unix()
	const n = 300
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		op := put6(fmt.Sprintf("2001:db8:2::%x", i+1), byte(i), uint32(i), now)
		op.Lease.DUID = append(duid(0), byte(i>>8), byte(i))
		s.CommitAsync([]lease.Op6{op}, func(err error) {
			defer wg.Done()
			if err == nil {
				if _, ok, qerr := check.Get6(context.Background(), op.Lease.Addr); qerr != nil || !ok {
					err = fmt.Errorf("committed %s is not in the database (%v)", op.Lease.Addr, qerr)
				}
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Commits != n || st.Batches >= n {
		t.Fatalf("stats %+v: want %d commits in fewer transactions", st, n)
	}
}
