// Package sqltest is the test suite every dialect of the database lease
// store passes, against a real server (internal/dbtest).
package sqltest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"xdhcp/internal/dbtest"
	"xdhcp/lease"
	"xdhcp/lease/sqllease"
)

// Kind is one dialect under test.
type Kind struct {
	Server  *dbtest.Lazy
	Open    func(ctx context.Context, p sqllease.Params) (sqllease.Dialect, error)
	Version string // the schema version kea-admin 2.2 creates ("13.0")
	// Row is the SQL listing lease4 as TestRoundTrip expects it.
	Row string
	// Open6 opens the dialect's lease6 side; Row6 lists lease6 as
	// roundTrip6 expects it, and IAIDColumn is how the iaid column shows
	// IAID 0xfffffffe.
	Open6      func(ctx context.Context, p sqllease.Params) (sqllease.Dialect6, error)
	Row6       string
	IAIDColumn string
}

// Run runs the suite.
func Run(t *testing.T, k Kind) {
	t.Run("RoundTrip", func(t *testing.T) { roundTrip(t, k) })
	t.Run("Conflict", func(t *testing.T) { conflict(t, k) })
	t.Run("GroupCommit", func(t *testing.T) { groupCommit(t, k) })
	t.Run("SchemaVersion", func(t *testing.T) { schemaVersion(t, k) })
	t.Run("ReclaimAfterRenewal", func(t *testing.T) { reclaimAfterRenewal(t, k) })
	t.Run("TLS", func(t *testing.T) { tlsConnect(t, k) })
	t.Run("RetryOnStartup", func(t *testing.T) { retryOnStartup(t, k) })
	if k.Open6 != nil {
		t.Run("RoundTrip6", func(t *testing.T) { roundTrip6(t, k) })
		t.Run("Conflict6", func(t *testing.T) { conflict6(t, k) })
		t.Run("GroupCommit6", func(t *testing.T) { groupCommit6(t, k) })
	}
}

// A server's reclamation of a lease it saw expire does not overwrite the
// same client's renewal through another server; a lease nobody renewed is
// reclaimed.
func reclaimAfterRenewal(t *testing.T, k Kind) {
	db := k.Server.Get(t).NewDB(t)
	a := open(t, k, db, sqllease.Options{})
	b := open(t, k, db, sqllease.Options{})
	ctx := context.Background()
	old := time.Now().Unix() - 7200 // expired an hour ago
	if err := a.Commit(ctx, put("10.0.0.8", 8, old), put("10.0.0.9", 9, old)); err != nil {
		t.Fatal(err)
	}
	// The client of 10.0.0.8 renews at the other server.
	if err := b.Commit(ctx, put("10.0.0.8", 8, time.Now().Unix())); err != nil {
		t.Fatal(err)
	}
	reclaim := func(addr string, mac byte) lease.Op {
		op := put(addr, mac, old)
		op.Lease.State = lease.StateExpiredReclaimed
		return op
	}
	if err := a.Commit(ctx, reclaim("10.0.0.8", 8)); !errors.Is(err, lease.ErrConflict) {
		t.Fatalf("reclaiming a lease another server renewed: %v, want a conflict", err)
	}
	if err := a.Commit(ctx, reclaim("10.0.0.9", 9)); err != nil {
		t.Fatalf("reclaiming an expired lease: %v", err)
	}
	if out, _ := db.Exec("SELECT address, state FROM lease4 ORDER BY address"); out != "167772168\t0\n167772169\t2" {
		t.Fatalf("rows after the reclamations:\n%s\nwant 10.0.0.8 live (0), 10.0.0.9 reclaimed (2)", out)
	}
}

// Params are the connection parameters of db.
func Params(db dbtest.DB) sqllease.Params {
	return sqllease.Params{Host: db.Host(), Port: db.Port(), Name: db.Name, User: db.User, Password: db.Password,
		ConnectTimeout: 5 * time.Second, MaxConns: 8}
}

// Open opens a store on db, closed at the test's end.
func Open(t *testing.T, k Kind, db dbtest.DB, opts sqllease.Options) *sqllease.Store {
	t.Helper()
	ctx := context.Background()
	d, err := k.Open(ctx, Params(db))
	if err != nil {
		t.Fatal(err)
	}
	opts.Dialect = d
	opts.Where = "test " + db.Name
	s, err := sqllease.Open(ctx, opts)
	if err != nil {
		d.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func open(t *testing.T, k Kind, db dbtest.DB, opts sqllease.Options) *sqllease.Store {
	t.Helper()
	return Open(t, k, db, opts)
}

func put(addr string, mac byte, cltt int64) lease.Op {
	return lease.Op{Kind: lease.OpPut, Lease: lease.Lease{Addr: netip.MustParseAddr(addr),
		HWAddr: []byte{0, 1, 2, 3, 4, mac}, ClientID: []byte{1, 0, 1, 2, 3, 4, mac}, ValidLft: 3600, CLTT: cltt,
		SubnetID: 1, Hostname: fmt.Sprintf("host-%d", mac)}}
}

// Leases committed by one store are rows Kea's schema holds, and a store
// opened later loads them.
func roundTrip(t *testing.T, k Kind) {
	db := k.Server.Get(t).NewDB(t)
	a := open(t, k, db, sqllease.Options{})
	now := time.Now().Unix()
	inf := put("10.0.0.9", 9, now)
	inf.Lease.ValidLft = lease.Infinite
	inf.Lease.UserContext = `{"a":1}`
	if err := a.Commit(context.Background(), put("10.0.0.1", 1, now), put("10.0.0.2", 2, now), inf); err != nil {
		t.Fatal(err)
	}
	out, err := db.Exec(k.Row)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("167772161\t000102030401\t3600\t%d\thost-1\t0\n167772162\t000102030402\t3600\t%d\thost-2\t0\n167772169\t000102030409\t4294967295\t%d\thost-9\t0",
		now+3600, now+3600, now)
	if out != want {
		t.Fatalf("rows:\n%s\nwant:\n%s", out, want)
	}
	if err := a.Commit(context.Background(), lease.Op{Kind: lease.OpDelete, Lease: lease.Lease{Addr: netip.MustParseAddr("10.0.0.2")}}); err != nil {
		t.Fatal(err)
	}
	// Reclamation: an expired lease is listed and its reclaimed state
	// written over it.
	old := put("10.0.0.3", 3, now-7200)
	if err := a.Commit(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	exp := a.Expired(now, 0)
	if len(exp) != 1 || exp[0].Addr != old.Lease.Addr {
		t.Fatalf("expired leases %+v, want 10.0.0.3", exp)
	}
	exp[0].State = lease.StateExpiredReclaimed
	if err := a.Commit(context.Background(), lease.Op{Kind: lease.OpPut, Lease: exp[0]}); err != nil {
		t.Fatalf("reclaiming: %v", err)
	}
	if out, _ := db.Exec("SELECT state FROM lease4 WHERE address = 167772163"); out != "2" {
		t.Fatalf("reclaimed lease's state in the database: %q", out)
	}
	if err := a.Commit(context.Background(), lease.Op{Kind: lease.OpDelete, Lease: exp[0]}); err != nil {
		t.Fatal(err)
	}
	b := open(t, k, db, sqllease.Options{})
	if b.Len() != 2 {
		t.Fatalf("reopened store holds %d leases, want 2", b.Len())
	}
	l, ok := b.Get(netip.MustParseAddr("10.0.0.9"))
	if !ok || l.CLTT != now || l.ValidLft != lease.Infinite || l.UserContext != `{"a":1}` || l.Hostname != "host-9" {
		t.Fatalf("reloaded infinite lease %+v", l)
	}
	if ls := b.Database().ByHWAddr([]byte{0, 1, 2, 3, 4, 1}); len(ls) != 1 || ls[0].Addr != netip.MustParseAddr("10.0.0.1") {
		t.Fatalf("by hwaddr from the database: %+v", ls)
	}
	if ls := b.Database().Page(netip.Addr{}, 10); len(ls) != 2 {
		t.Fatalf("page from the database: %+v", ls)
	}
}

// Two servers on one database: the second cannot take an address the
// first leased after it loaded, learns the lease from the refusal, and
// may take the address once the lease has expired.
func conflict(t *testing.T, k Kind) {
	db := k.Server.Get(t).NewDB(t)
	a := open(t, k, db, sqllease.Options{})
	b := open(t, k, db, sqllease.Options{})
	now := time.Now().Unix()
	ctx := context.Background()
	if err := a.Commit(ctx, put("10.0.0.5", 1, now)); err != nil {
		t.Fatal(err)
	}
	err := b.Commit(ctx, put("10.0.0.5", 2, now))
	if !errors.Is(err, lease.ErrConflict) {
		t.Fatalf("second server's commit: %v, want a conflict", err)
	}
	if l, ok := b.Get(netip.MustParseAddr("10.0.0.5")); !ok || l.HWAddr[5] != 1 {
		t.Fatalf("after the conflict the second server's cache holds %+v", l)
	}
	// Knowing the other server's lease now does not make it replaceable
	// (the engine may still complete an offer made before).
	if err := b.Commit(ctx, put("10.0.0.5", 2, now)); !errors.Is(err, lease.ErrConflict) {
		t.Fatalf("second server's commit over a lease it learned: %v, want a conflict", err)
	}
	// The first client renews at the first server: its own lease.
	if err := a.Commit(ctx, put("10.0.0.5", 1, now+10)); err != nil {
		t.Fatal(err)
	}
	// The same client moving to the second server keeps its address.
	if err := b.Commit(ctx, put("10.0.0.5", 1, now+20)); err != nil {
		t.Fatalf("the lease's own client at the second server: %v", err)
	}
	// An expired lease is free for anyone.
	if err := a.Commit(ctx, put("10.0.0.6", 3, now-7200)); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(ctx, put("10.0.0.6", 4, now)); err != nil {
		t.Fatalf("taking an expired lease: %v", err)
	}
	// A conflicting op fails its whole commit, and only its commit.
	err = a.Commit(ctx, put("10.0.0.7", 5, now), put("10.0.0.6", 5, now))
	if !errors.Is(err, lease.ErrConflict) {
		t.Fatalf("commit with a conflicting op: %v", err)
	}
	if out, _ := db.Exec("SELECT count(*) FROM lease4 WHERE address = 167772167"); out != "0" {
		t.Fatalf("the refused commit's other op was written (%s rows)", out)
	}
	if sa := a.Stats(); sa.Commits == 0 {
		t.Fatalf("stats %+v", sa)
	}
}

// Many concurrent commits share transactions, and each returns only once
// its row is in the database.
func groupCommit(t *testing.T, k Kind) {
	db := k.Server.Get(t).NewDB(t)
	s := open(t, k, db, sqllease.Options{Writers: 2})
	check, err := k.Open(context.Background(), Params(db))
	if err != nil {
		t.Fatal(err)
	}
	defer check.Close()
	now := time.Now().Unix()
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for i := 0; i < 400; i++ {
		wg.Add(1)
		op := put(fmt.Sprintf("10.1.%d.%d", i/200, i%200+1), byte(i), now)
		op.Lease.HWAddr = []byte{0, 2, 0, 0, byte(i >> 8), byte(i)}
		op.Lease.ClientID = nil
		s.CommitAsync([]lease.Op{op}, func(err error) {
			defer wg.Done()
			if err == nil {
				_, ok, qerr := check.Get(context.Background(), op.Lease.Addr)
				if qerr != nil || !ok {
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
	st := s.Stats()
	if st.Commits != 400 || st.Batches >= 400 {
		t.Fatalf("stats %+v: want 400 commits in fewer transactions", st)
	}
	t.Logf("400 commits in %d transactions", st.Batches)
}

// A database with another schema version is refused with a message that
// says which version is needed.
func schemaVersion(t *testing.T, k Kind) {
	db := k.Server.Get(t).NewDB(t)
	if _, err := db.Exec("UPDATE schema_version SET version = 12"); err != nil {
		t.Fatal(err)
	}
	d, err := k.Open(context.Background(), Params(db))
	if err != nil {
		t.Fatal(err)
	}
	_, err = sqllease.Open(context.Background(), sqllease.Options{Dialect: d, Where: "x"})
	d.Close()
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("schema version 12.0, but xdhcpd needs %s", k.Version)) {
		t.Fatalf("open on schema 12.0: %v", err)
	}
}

// LineDiff shows the lines only one of two sorted texts holds, for test
// failures.
func LineDiff(want, got string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	w, g := in(want), in(got)
	var b strings.Builder
	for _, l := range strings.Split(want, "\n") {
		if !g[l] {
			b.WriteString("- " + l + "\n")
		}
	}
	for _, l := range strings.Split(got, "\n") {
		if !w[l] {
			b.WriteString("+ " + l + "\n")
		}
	}
	return b.String()
}

// Schema is a dialect's schema creation, as xdhcpctl db-init runs it.
type Schema interface {
	InitSchema(ctx context.Context) error
	SchemaVersion(ctx context.Context) (major, minor int, err error)
	Close()
}

// SchemaCheck describes one dialect for CompareWithKeaAdmin.
type SchemaCheck struct {
	Server  *dbtest.Lazy
	Version string // "13.0"
	Open    func(ctx context.Context, p sqllease.Params) (Schema, error)
	// Catalog lists the database's schema objects, one sorted text per
	// kind, independent of names of the database, owners and ids.
	Catalog func(t *testing.T, db dbtest.DB) map[string]string
	// Generate rewrites the dialect's embedded schema from db, which
	// kea-admin made (XDHCP_SCHEMA_GENERATE set).
	Generate func(t *testing.T, db dbtest.DB)
}

// CompareWithKeaAdmin runs kea-admin db-init and the dialect's db-init
// each on a fresh database and compares the catalogs they leave.
func CompareWithKeaAdmin(t *testing.T, c SchemaCheck) {
	if _, err := exec.LookPath("kea-admin"); err != nil {
		t.Skip("kea-admin not installed")
	}
	srv := c.Server.Get(t)
	ref := srv.NewEmptyDB(t)
	start := time.Now()
	if err := dbtest.KeaAdminInit(ref); err != nil {
		t.Fatal(err)
	}
	t.Logf("kea-admin db-init: %v", time.Since(start).Round(time.Millisecond))
	if os.Getenv("XDHCP_SCHEMA_GENERATE") != "" {
		c.Generate(t, ref)
	}
	mine := srv.NewEmptyDB(t)
	ctx := context.Background()
	d, err := c.Open(ctx, Params(mine))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, _, err := d.SchemaVersion(ctx); err == nil {
		t.Fatal("an empty database reports a schema version")
	}
	start = time.Now()
	if err := d.InitSchema(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("db-init: %v", time.Since(start).Round(time.Millisecond))
	if major, minor, err := d.SchemaVersion(ctx); err != nil || fmt.Sprintf("%d.%d", major, minor) != c.Version {
		t.Fatalf("schema version after db-init: %d.%d %v, want %s", major, minor, err, c.Version)
	}
	if err := d.InitSchema(ctx); err == nil || !strings.Contains(err.Error(), "empty database") {
		t.Errorf("db-init on an initialised database: %v", err)
	}
	want, got := c.Catalog(t, ref), c.Catalog(t, mine)
	for k := range want {
		if want[k] != got[k] {
			t.Errorf("%s differs from kea-admin's:\n%s", k, LineDiff(want[k], got[k]))
		}
	}
	if !strings.Contains(want["tables"], "lease4\t") || !strings.Contains(strings.ToLower(want["triggers"]), "lease4_ains") ||
		!strings.Contains(want["rows"], "schema_version") {
		t.Errorf("the catalog misses what kea-admin made:\n%s\n%s", want["tables"], want["triggers"])
	}
}

// An account the server admits over TLS only: refused without TLS,
// refused with a trust anchor that did not sign the server's certificate
// (an error that says so), served with the right one.
func tlsConnect(t *testing.T, k Kind) {
	srv := k.Server.Get(t)
	if srv.CAFile == "" {
		t.Skip("the test server was started without TLS")
	}
	db := srv.NewTLSDB(t)
	ctx := context.Background()
	try := func(p sqllease.Params) error {
		d, err := k.Open(ctx, p)
		if err == nil {
			err = d.CheckSchema(ctx)
			d.Close()
		}
		return err
	}
	p := Params(db)
	if err := try(p); err == nil {
		t.Error("a connection without TLS was admitted by a server requiring it")
	} else {
		t.Logf("without TLS: %v", err)
	}
	p.TrustAnchor = srv.OtherCAFile
	err := try(p)
	if err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Errorf("with a trust anchor that did not sign the server's certificate: %v, want an unknown authority error", err)
	}
	p.TrustAnchor = srv.CAFile
	if err := try(p); err != nil {
		t.Fatalf("with the right trust anchor: %v", err)
	}
	// The trust anchor as a directory of CA files (Kea takes either).
	p.TrustAnchor = filepath.Dir(srv.CAFile) + "/no-such-dir"
	if err := try(p); err == nil || !strings.Contains(err.Error(), "trust-anchor") {
		t.Errorf("a missing trust anchor: %v, want an error naming trust-anchor", err)
	}
	p.TrustAnchor, p.CipherList = srv.CAFile, "NO-SUCH-CIPHER"
	if err := try(p); err == nil || !strings.Contains(err.Error(), "cipher-list") {
		t.Errorf("an unknown cipher-list: %v", err)
	}
	// A lease written over TLS is in the database.
	p.CipherList = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384"
	d, err := k.Open(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqllease.Open(ctx, sqllease.Options{Dialect: d, Where: "tls " + db.Name})
	if err != nil {
		d.Close()
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Commit(ctx, put("10.0.0.9", 9, time.Now().Unix())); err != nil {
		t.Fatalf("commit over TLS: %v", err)
	}
	if out, err := db.Exec("SELECT count(*) FROM lease4"); err != nil || out != "1" {
		t.Errorf("leases in the database after a commit over TLS: %q %v", out, err)
	}
}

// With retry-on-startup a store opens while the database cannot be
// reached: in a fault from the start (commits refused, the policy told),
// and once the database answers it loads the leases and commits again.
func retryOnStartup(t *testing.T, k Kind) {
	srv := k.Server.Get(t)
	db := srv.NewDB(t)
	// Kea's row, written before the store starts, is loaded on recovery.
	writer := Open(t, k, db, sqllease.Options{})
	if err := writer.Commit(context.Background(), put("10.0.0.1", 1, time.Now().Unix())); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fw := srv.Forward(l)
	defer fw.Close()
	fw.Cut()
	p := Params(db)
	p.Port, p.Lazy, p.ConnectTimeout = fw.Port, true, time.Second
	ctx := context.Background()
	d, err := k.Open(ctx, p)
	if err != nil {
		t.Fatalf("open with retry-on-startup: %v", err)
	}
	var mu sync.Mutex
	var kinds []lease.FaultKind
	recovered := make(chan struct{})
	s, err := sqllease.Open(ctx, sqllease.Options{Dialect: d, Where: "retry " + db.Name, RetryOnStartup: true,
		RetryWait: 100 * time.Millisecond, RetryLimit: 1000, OpTimeout: 2 * time.Second,
		OnFault: func(ev lease.FaultEvent) {
			mu.Lock()
			kinds = append(kinds, ev.Kind)
			mu.Unlock()
			if ev.Kind == lease.FaultRecovered {
				close(recovered)
			}
		}})
	if err != nil {
		d.Close()
		t.Fatalf("store with retry-on-startup and the database away: %v", err)
	}
	defer s.Close()
	if err := s.Commit(ctx, put("10.0.0.2", 2, time.Now().Unix())); !errors.Is(err, lease.ErrStorage) {
		t.Errorf("commit with the database away: %v, want a storage fault", err)
	}
	fw.Mend()
	select {
	case <-recovered:
	case <-time.After(15 * time.Second):
		t.Fatal("the store did not recover once the database answered")
	}
	if _, ok := s.Get(netip.MustParseAddr("10.0.0.1")); !ok {
		t.Error("the database's lease is not loaded after the recovery")
	}
	if err := s.Commit(ctx, put("10.0.0.2", 2, time.Now().Unix())); err != nil {
		t.Errorf("commit after the recovery: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(kinds) == 0 || kinds[0] != lease.FaultFailed {
		t.Errorf("fault events %v: want the episode to begin with %v", kinds, lease.FaultFailed)
	}
	// Without retry-on-startup the same start fails, naming the database.
	fw.Cut()
	d2, err := k.Open(ctx, p)
	if err == nil {
		_, err = sqllease.Open(ctx, sqllease.Options{Dialect: d2, Where: "noretry " + db.Name, OpTimeout: 2 * time.Second})
		d2.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "noretry") {
		t.Errorf("start without retry-on-startup, database away: %v", err)
	}
}
