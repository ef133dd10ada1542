package memfile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"xdhcp/internal/testlog"
	"xdhcp/lease"
)

// testLogger writes the store's warnings and errors to the test log.
func testLogger(t testing.TB) *slog.Logger { return testlog.AtLevel(t, slog.LevelWarn) }

// testLease returns a distinct, valid lease for i.
func testLease(i int) lease.Lease {
	a := uint32(10<<24 | i)
	return lease.Lease{
		Addr:     keyAddr(a),
		HWAddr:   []byte{0x02, 0, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)},
		ClientID: []byte{0x01, 0x02, 0, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)},
		ValidLft: 3600,
		CLTT:     1_700_000_000 + int64(i),
		SubnetID: uint32(1 + i%4),
	}
}

func openTest(t testing.TB, path string, mod ...func(*Options)) *Store {
	t.Helper()
	opts := Options{Path: path, Persist: true, Sync: true, Logger: testLogger(t)}
	for _, m := range mod {
		m(&opts)
	}
	s, err := Open(opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func put(t testing.TB, s *Store, ls ...lease.Lease) {
	t.Helper()
	ops := make([]lease.Op, len(ls))
	for i := range ls {
		ops[i] = lease.Op{Kind: lease.OpPut, Lease: ls[i]}
	}
	if err := s.Commit(context.Background(), ops...); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

func all(s *Store) []lease.Lease {
	var out []lease.Lease
	s.Range(func(l *lease.Lease) bool {
		c := *l
		c.HWAddr = slices.Clone(l.HWAddr)
		c.ClientID = slices.Clone(l.ClientID)
		out = append(out, c)
		return true
	})
	return out
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o640); err != nil {
		t.Fatal(err)
	}
}

func TestOpenKeaFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kea-leases4.csv")
	writeFile(t, path, Header+"\n"+strings.Join(keaRows, "\n")+"\n"+
		"192.0.2.11,00:0c:01:02:03:05,,3600,1795292506,2,0,0,host.example.,1,\n")
	s := openTest(t, path)
	if s.Len() != 2 {
		t.Fatalf("Len %d, want 2 (192.0.2.10 was deleted by its marker)", s.Len())
	}
	if _, ok := s.Get(netip.MustParseAddr("192.0.2.10")); ok {
		t.Error("deleted lease present")
	}
	l, ok := s.Get(netip.MustParseAddr("192.0.2.60"))
	if !ok || l.Hostname != "a,b&c.example." || l.UserContext != `{ "a": 1, "b": "x,y" }` || !l.FqdnFwd {
		t.Errorf("192.0.2.60: %+v %v", l, ok)
	}
	if got := s.ByHostname("HOST.example."); len(got) != 1 || got[0].State != lease.StateDeclined {
		t.Errorf("ByHostname: %+v", got)
	}
}

func TestLoadOrderAndLastRowWins(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "l.csv")
	row := func(ip string, valid int, host string) string {
		return fmt.Sprintf("%s,01:02:03:04:05:06,,%d,%d,1,0,0,%s,0,\n", ip, valid, 1000+valid, host)
	}
	// .2 is older than .1, which is older than the live file.
	writeFile(t, path+".2", Header+"\n"+row("10.0.0.1", 10, "two")+row("10.0.0.2", 10, "two")+row("10.0.0.3", 10, "two"))
	writeFile(t, path+".1", Header+"\n"+row("10.0.0.1", 20, "one")+row("10.0.0.2", 0, ""))
	writeFile(t, path, Header+"\n"+row("10.0.0.1", 30, "live")+row("10.0.0.2", 40, "back")+row("10.0.0.1", 31, "live2"))
	s := openTest(t, path)
	want := map[string]string{"10.0.0.1": "live2", "10.0.0.2": "back", "10.0.0.3": "two"}
	for ip, host := range want {
		l, ok := s.Get(netip.MustParseAddr(ip))
		if !ok || l.Hostname != host {
			t.Errorf("%s: %+v %v, want hostname %s", ip, l, ok, host)
		}
	}
	s.Close()

	// With .completed present, .2 and .1 are ignored.
	writeFile(t, path+".completed", Header+"\n"+row("10.0.0.9", 10, "done"))
	s = openTest(t, path)
	if _, ok := s.Get(netip.MustParseAddr("10.0.0.3")); ok {
		t.Error(".2 loaded although .completed exists")
	}
	if _, ok := s.Get(netip.MustParseAddr("10.0.0.9")); !ok {
		t.Error(".completed not loaded")
	}
}

func TestTornLastLine(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "l.csv")
	good := keaRows[1] + "\n"
	writeFile(t, path, Header+"\n"+good+"10.0.0.7,01:02:03,,36")
	s := openTest(t, path)
	if s.Len() != 1 {
		t.Fatalf("Len %d", s.Len())
	}
	put(t, s, testLease(1))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	l := testLease(1)
	want := Header + "\n" + good + string(AppendRow(nil, &l))
	if string(b) != want {
		t.Fatalf("file after torn-line repair:\n%s\nwant:\n%s", b, want)
	}
	s = openTest(t, path)
	if s.Len() != 2 {
		t.Errorf("reopened Len %d", s.Len())
	}

	// A torn header (crash right after creating the file) is an empty file.
	p2 := filepath.Join(dir, "h.csv")
	writeFile(t, p2, "address,hwad")
	s2 := openTest(t, p2)
	put(t, s2, testLease(2))
	s2.Close()
	if b, _ := os.ReadFile(p2); !strings.HasPrefix(string(b), Header+"\n10.0.0.2,") {
		t.Errorf("file %q", b)
	}
}

func TestOpenCreatesFileAndDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "leases.csv")
	s := openTest(t, path)
	s.Close()
	b, err := os.ReadFile(path)
	if err != nil || string(b) != Header+"\n" {
		t.Fatalf("%q %v", b, err)
	}
}

func TestOpenRejects(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "l.csv")

	// A live kea-lfc (here: ourselves) named by the pid file.
	writeFile(t, path+".pid", fmt.Sprintf("%d\n", os.Getpid()))
	if _, err := Open(Options{Path: path, Persist: true}); !errors.Is(err, ErrLFCRunning) {
		t.Errorf("live pid: %v", err)
	}
	// A stale pid file is ignored.
	writeFile(t, path+".pid", "2147483646\n")
	s, err := Open(Options{Path: path, Persist: true})
	if err != nil {
		t.Fatalf("stale pid: %v", err)
	}
	s.Close()
	os.Remove(path + ".pid")

	// Not a lease file.
	writeFile(t, path, "hello,world\n")
	if _, err := Open(Options{Path: path, Persist: true}); err == nil || !strings.Contains(err.Error(), "header") {
		t.Errorf("bad header: %v", err)
	}

	// max-row-errors.
	writeFile(t, path, Header+"\nbad\nbad,row\n"+keaRows[0]+"\n")
	if _, err := Open(Options{Path: path, Persist: true, MaxRowErrors: 1}); err == nil || !strings.Contains(err.Error(), "max-row-errors") {
		t.Errorf("max row errors 1: %v", err)
	}
	s, err = Open(Options{Path: path, Persist: true, MaxRowErrors: 2})
	if err != nil || s.Len() != 1 {
		t.Fatalf("max row errors 2: %v", err)
	}
	s.Close()
}

func TestOldSchemaIsRewritten(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "l.csv")
	h10 := "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state"
	writeFile(t, path, h10+"\n10.0.0.1,01:02,,100,1100,1,0,0,h,0\n10.0.0.2,,,100,1100,1,0,0,,1\n")
	s := openTest(t, path)
	if s.Len() != 2 {
		t.Fatalf("Len %d", s.Len())
	}
	put(t, s, testLease(3))
	s.Close()
	live, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(live), Header+"\n") {
		t.Errorf("live file not in the current schema: %q", live)
	}
	prev, _ := os.ReadFile(path + ".2")
	wantPrev := Header + "\n10.0.0.1,01:02,,100,1100,1,0,0,h,0,\n10.0.0.2,,,100,1100,1,0,0,,1,\n"
	if string(prev) != wantPrev {
		t.Errorf(".2 = %q\nwant %q", prev, wantPrev)
	}
	if exists(path + ".1") {
		t.Error(".1 left behind")
	}
	s = openTest(t, path)
	if s.Len() != 3 {
		t.Errorf("reopened Len %d", s.Len())
	}
}

func TestQueries(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "l.csv"))
	var ls []lease.Lease
	for i := range 50 {
		l := testLease(i * 7) // spread over several /24s
		if i%10 == 0 {
			l.Hostname = fmt.Sprintf("Host%d.example.", i)
		}
		ls = append(ls, l)
	}
	// Same client in two subnets.
	dup := testLease(1000)
	dup.HWAddr = ls[3].HWAddr
	dup.ClientID = nil
	dup.SubnetID = 99
	ls = append(ls, dup)
	put(t, s, ls...)

	got := s.ByHWAddr(ls[3].HWAddr)
	if len(got) != 2 || got[0].Addr != ls[3].Addr || got[1].Addr != dup.Addr {
		t.Errorf("ByHWAddr: %v", got)
	}
	if got := s.ByClientID(ls[3].ClientID); len(got) != 1 || got[0].Addr != ls[3].Addr {
		t.Errorf("ByClientID: %v", got)
	}
	if got := s.ByHostname("host10.EXAMPLE."); len(got) != 1 || got[0].Addr != ls[10].Addr {
		t.Errorf("ByHostname: %v", got)
	}
	if got := s.ByHWAddr([]byte{9, 9}); got != nil {
		t.Errorf("unknown hw: %v", got)
	}

	// Paging walks everything once, in order, strictly after from.
	var paged []netip.Addr
	from := netip.Addr{}
	for {
		p := s.Page(from, 7)
		if len(p) == 0 {
			break
		}
		for _, l := range p {
			paged = append(paged, l.Addr)
		}
		from = p[len(p)-1].Addr
	}
	var want []netip.Addr
	for _, l := range ls {
		want = append(want, l.Addr)
	}
	slices.SortFunc(want, netip.Addr.Compare)
	if !slices.Equal(paged, want) {
		t.Errorf("paged %v\nwant %v", paged, want)
	}
	if p := s.Page(ls[5].Addr, 1); len(p) != 1 || p[0].Addr != ls[6].Addr {
		t.Errorf("Page after %v: %v", ls[5].Addr, p)
	}
	if p := s.Page(netip.MustParseAddr("255.255.255.255"), 10); len(p) != 0 {
		t.Errorf("Page after broadcast: %v", p)
	}

	// Updating replaces secondary keys.
	upd := ls[3]
	upd.HWAddr = []byte{0xde, 0xad, 0xbe, 0xef, 0, 1}
	put(t, s, upd)
	if got := s.ByHWAddr(ls[3].HWAddr); len(got) != 1 || got[0].Addr != dup.Addr {
		t.Errorf("old hw after update: %v", got)
	}
	if got := s.ByHWAddr(upd.HWAddr); len(got) != 1 || got[0].Addr != upd.Addr {
		t.Errorf("new hw after update: %v", got)
	}
}

func TestExpired(t *testing.T) {
	s := openTest(t, "", func(o *Options) { o.Persist = false })
	base := int64(1_000_000)
	mk := func(i int, cltt int64, valid uint32, st lease.State) lease.Lease {
		l := testLease(i)
		l.CLTT, l.ValidLft, l.State = cltt, valid, st
		return l
	}
	put(t, s,
		mk(1, base-100, 50, lease.StateDefault),             // expired at base-50
		mk(2, base-100, 100, lease.StateDefault),            // expires exactly now: included
		mk(3, base-100, 101, lease.StateDefault),            // not yet
		mk(4, base-300, 10, lease.StateExpiredReclaimed),    // already reclaimed
		mk(5, base-300, lease.Infinite, lease.StateDefault), // never expires
		mk(6, base-200, 10, lease.StateDeclined),            // probation over: Kea reclaims it
		mk(7, base-100, 50, lease.StateDefault),             // same expiry as 1, higher address
	)
	got := s.Expired(base, 0)
	var addrs []int
	for _, l := range got {
		addrs = append(addrs, int(addrKey(l.Addr)&0xffff))
	}
	if !slices.Equal(addrs, []int{6, 1, 7, 2}) {
		t.Errorf("Expired order %v, want [6 1 7 2]", addrs)
	}
	got = s.Expired(base, 2)
	if len(got) != 2 || got[0].Addr != testLease(6).Addr || got[1].Addr != testLease(1).Addr {
		t.Errorf("Expired limit 2: %v", got)
	}

	// Reclaimed: the expired-reclaimed ones only, by the same order.
	put(t, s,
		mk(8, base-300, 10, lease.StateExpiredReclaimed),   // expired at base-290, as 4
		mk(9, base-100, 100, lease.StateExpiredReclaimed),  // expired at base: included
		mk(10, base-100, 101, lease.StateExpiredReclaimed), // expires after base
	)
	addrs = addrs[:0]
	for _, l := range s.Reclaimed(base, 0) {
		if l.State != lease.StateExpiredReclaimed {
			t.Errorf("Reclaimed returned %v in state %v", l.Addr, l.State)
		}
		addrs = append(addrs, int(addrKey(l.Addr)&0xffff))
	}
	if !slices.Equal(addrs, []int{4, 8, 9}) {
		t.Errorf("Reclaimed order %v, want [4 8 9]", addrs)
	}
	if got := s.Reclaimed(base-100, 1); len(got) != 1 || got[0].Addr != testLease(4).Addr {
		t.Errorf("Reclaimed(base-100, 1): %v, want lease 4 alone", got)
	}
}

func TestDeleteAndWipe(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "l.csv")
	s := openTest(t, path)
	var ls []lease.Lease
	for i := range 40 {
		ls = append(ls, testLease(i))
	}
	put(t, s, ls...)
	ctx := context.Background()
	// Delete of a lease put in the same commit, and of an absent lease.
	extra := testLease(500)
	if err := s.Commit(ctx, lease.Op{Kind: lease.OpPut, Lease: extra}, lease.Op{Kind: lease.OpDelete, Lease: lease.Lease{Addr: extra.Addr}},
		lease.Op{Kind: lease.OpDelete, Lease: lease.Lease{Addr: netip.MustParseAddr("10.9.9.9")}}, lease.Op{Kind: lease.OpDelete, Lease: lease.Lease{Addr: ls[0].Addr}}); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Get(extra.Addr); ok {
		t.Error("extra present")
	}
	if _, ok := s.Get(ls[0].Addr); ok {
		t.Error("ls[0] present")
	}
	n, err := s.Wipe(ctx, 2)
	if err != nil || n != 10 { // subnet 1+i%4 == 2: i = 1,5,...,37
		t.Fatalf("Wipe(2) = %d, %v", n, err)
	}
	if s.Len() != 29 {
		t.Errorf("Len %d after wipe", s.Len())
	}
	s.Close()
	b, _ := os.ReadFile(path)
	// The marker for ls[0] is the stored lease with valid lifetime 0.
	marker := ls[0]
	marker.ValidLft = 0
	if !bytes.Contains(b, AppendRow(nil, &marker)) {
		t.Errorf("no Kea deletion marker for %v in file", ls[0].Addr)
	}
	if bytes.Contains(b, []byte("10.9.9.9")) {
		t.Error("marker written for an absent lease")
	}
	s = openTest(t, path)
	if s.Len() != 29 {
		t.Errorf("reopened Len %d", s.Len())
	}
	n, err = s.Wipe(ctx, 0)
	if err != nil || n != 29 || s.Len() != 0 {
		t.Errorf("Wipe(0) = %d, %v, Len %d", n, err, s.Len())
	}
}

func TestCommitValidation(t *testing.T) {
	s := openTest(t, "", func(o *Options) { o.Persist = false })
	bad := []lease.Lease{
		{Addr: netip.MustParseAddr("2001:db8::1"), HWAddr: []byte{1}, ValidLft: 1},
		{Addr: netip.MustParseAddr("10.0.0.1"), HWAddr: []byte{1}, ValidLft: 0},
		{Addr: netip.MustParseAddr("10.0.0.1"), ValidLft: 1},
		{Addr: netip.MustParseAddr("10.0.0.1"), HWAddr: make([]byte, 21), ValidLft: 1},
		{Addr: netip.MustParseAddr("10.0.0.1"), HWAddr: []byte{1}, ValidLft: 1, UserContext: "[]"},
	}
	for _, l := range bad {
		if err := s.Commit(context.Background(), lease.Op{Kind: lease.OpPut, Lease: l}); !errors.Is(err, lease.ErrInvalidLease) {
			t.Errorf("%+v: %v", l, err)
		}
	}
	declined := lease.Lease{Addr: netip.MustParseAddr("10.0.0.1"), ValidLft: 1, State: lease.StateDeclined}
	if err := s.Commit(context.Background(), lease.Op{Kind: lease.OpPut, Lease: declined}); err != nil {
		t.Errorf("declined without ids: %v", err)
	}
}

func TestConcurrentGroupCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "l.csv")
	s := openTest(t, path)
	const workers, per = 64, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range per {
				l := testLease(w*per + k)
				if err := s.Commit(context.Background(), lease.Op{Kind: lease.OpPut, Lease: l}); err != nil {
					errs <- err
					return
				}
				// Visible as soon as Commit returns.
				if _, ok := s.Get(l.Addr); !ok {
					errs <- fmt.Errorf("%v not in index after Commit", l.Addr)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	st := s.Stats()
	t.Logf("commits %d, batches %d, fsyncs %d", st.Commits, st.Batches, st.Syncs)
	if st.Commits != workers*per || st.Syncs >= st.Commits || st.Syncs != st.Batches {
		t.Errorf("group commit not grouping: %+v", st)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(context.Background(), lease.Op{Kind: lease.OpPut, Lease: testLease(1)}); !errors.Is(err, lease.ErrClosed) {
		t.Errorf("Commit after Close: %v", err)
	}
	s = openTest(t, path)
	if s.Len() != workers*per {
		t.Fatalf("reopened Len %d, want %d", s.Len(), workers*per)
	}
	for i := range workers * per {
		want := testLease(i)
		got, ok := s.Get(want.Addr)
		if !ok || !reflect.DeepEqual(got, want) {
			t.Fatalf("lease %d: %+v %v", i, got, ok)
		}
	}
}

func TestMaxBatch(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "l.csv"), func(o *Options) { o.MaxBatch = 3; o.Sync = false })
	var ls []lease.Lease
	for i := range 10 {
		ls = append(ls, testLease(i))
	}
	put(t, s, ls...) // larger than MaxBatch: written alone, in one batch
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			put(t, s, testLease(100+i))
		}()
	}
	wg.Wait()
	st := s.Stats()
	if st.Rows != 40 || st.Batches < 11 || st.Syncs != 0 {
		t.Errorf("stats %+v: want 40 rows, >= 1+30/3 batches, no syncs", st)
	}
}

func TestCommitContextCancelled(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "l.csv"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Commit(ctx, lease.Op{Kind: lease.OpPut, Lease: testLease(1)}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Commit: %v", err)
	}
	if _, ok := s.Get(testLease(1).Addr); ok {
		t.Error("a Commit cancelled before it started was applied")
	}
}

func TestMemoryOnly(t *testing.T) {
	s := openTest(t, "", func(o *Options) { o.Persist = false })
	put(t, s, testLease(1), testLease(2))
	if s.Len() != 2 {
		t.Errorf("Len %d", s.Len())
	}
	if err := s.RunLFC(); err != nil {
		t.Errorf("RunLFC: %v", err)
	}
	s.Close()
	if err := s.Commit(context.Background(), lease.Op{Kind: lease.OpPut, Lease: testLease(3)}); !errors.Is(err, lease.ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
}

// faultyJournal fails writes or syncs on demand, writing half the buffer
// first to leave a partial row behind, as a short write would.
type faultyJournal struct {
	journalFile
	mu                  sync.Mutex
	failWrite, failSync bool
	failTruncate        bool
}

var errInjected = errors.New("injected disk error")

func (f *faultyJournal) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failWrite {
		n, _ := f.journalFile.Write(p[:len(p)/2])
		return n, errInjected
	}
	return f.journalFile.Write(p)
}

func (f *faultyJournal) Sync() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failSync {
		return errInjected
	}
	return f.journalFile.Sync()
}

func (f *faultyJournal) Truncate(n int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failTruncate {
		return errInjected
	}
	return f.journalFile.Truncate(n)
}

func (f *faultyJournal) set(w, s, tr bool) {
	f.mu.Lock()
	f.failWrite, f.failSync, f.failTruncate = w, s, tr
	f.mu.Unlock()
}

func TestWriteErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "l.csv")
	fj := &faultyJournal{}
	// Open with a journal we control; the swap happens before the writer
	// starts (openFile is read in openLive).
	s, err := openHook(Options{Path: path, Persist: true, Sync: true, RetryWait: time.Hour, Logger: testLogger(t)},
		func(p string) (journalFile, error) {
			j, err := journalOpener(nil)(p)
			fj.journalFile = j
			return fj, err
		})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	put(t, s, testLease(1))
	sizeOK := fileSize(t, path)

	for _, c := range []struct {
		name  string
		w, sy bool
	}{{"write", true, false}, {"fsync", false, true}} {
		fj.set(c.w, c.sy, false)
		err := s.Commit(ctx, lease.Op{Kind: lease.OpPut, Lease: testLease(2)}, lease.Op{Kind: lease.OpDelete, Lease: testLease(1)})
		if !errors.Is(err, errInjected) || !errors.Is(err, lease.ErrStorage) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s error: %v", c.name, err)
		}
		if _, ok := s.Get(testLease(2).Addr); ok {
			t.Errorf("%s: failed batch applied to the index", c.name)
		}
		if _, ok := s.Get(testLease(1).Addr); !ok {
			t.Errorf("%s: failed delete applied to the index", c.name)
		}
		if n := fileSize(t, path); n != sizeOK {
			t.Errorf("%s: file size %d after failure, want truncated back to %d", c.name, n, sizeOK)
		}
		// Recover by hand (the retry timer is an hour away).
		fj.set(false, false, false)
		s.w.fault.timer.Reset(0)
		waitHealthy(t, s)
		sizeOK = fileSize(t, path)
	}

	// Truncate fails too: the partial row stays until recovery cuts it.
	fj.set(true, false, true)
	if err := s.Commit(ctx, lease.Op{Kind: lease.OpPut, Lease: testLease(3)}); !errors.Is(err, errInjected) {
		t.Errorf("write+truncate error: %v", err)
	}
	if n := fileSize(t, path); n <= sizeOK {
		t.Fatalf("file size %d: the injected partial write is missing", n)
	}
	fj.set(false, false, false)
	if err := s.Commit(ctx, lease.Op{Kind: lease.OpPut, Lease: testLease(4)}); !errors.Is(err, lease.ErrStorage) {
		t.Errorf("commit while failed: %v", err)
	}
	s.w.fault.timer.Reset(0)
	waitHealthy(t, s)
	put(t, s, testLease(5))
	if st := s.Stats(); st.WriteErrors != 3 || st.Faults != 3 || st.Refused != 4 {
		t.Errorf("stats %+v, want 3 write errors, 3 faults, 4 refused", st)
	}
	s.Close()

	s = openTest(t, path)
	got := all(s)
	if len(got) != 2 || got[0].Addr != testLease(1).Addr || got[1].Addr != testLease(5).Addr {
		t.Errorf("after reopen: %v", got)
	}
	checkRows(t, path)
}

func TestClosedFD(t *testing.T) {
	path := filepath.Join(t.TempDir(), "l.csv")
	s := openTest(t, path)
	put(t, s, testLease(1))
	// Pull the descriptor out from under the writer.
	if err := s.w.f.(*osJournal).f.Close(); err != nil {
		t.Fatal(err)
	}
	err := s.Commit(context.Background(), lease.Op{Kind: lease.OpPut, Lease: testLease(2)})
	if err == nil {
		t.Fatal("Commit on a closed fd succeeded")
	}
	t.Log(err)
	if _, ok := s.Get(testLease(2).Addr); ok {
		t.Error("failed commit visible in the index")
	}
	if err := s.Commit(context.Background(), lease.Op{Kind: lease.OpPut, Lease: testLease(3)}); err == nil {
		t.Error("second Commit on a closed fd succeeded")
	}
}

func openWith(path string, of func(string) (journalFile, error)) (*Store, error) {
	return openHook(Options{Path: path, Persist: true, Sync: true}, of)
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func TestLFC(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "l.csv")
	s := openTest(t, path)
	for i := range 30 {
		put(t, s, testLease(i))
	}
	for i := range 10 { // overwrite some, delete some
		l := testLease(i)
		l.CLTT += 100
		put(t, s, l)
	}
	if err := s.Commit(context.Background(), lease.Op{Kind: lease.OpDelete, Lease: testLease(20)}, lease.Op{Kind: lease.OpDelete, Lease: testLease(21)}); err != nil {
		t.Fatal(err)
	}
	if err := s.RunLFC(); err != nil {
		t.Fatal(err)
	}
	for _, suf := range []string{".1", ".completed", ".output", ".pid"} {
		if exists(path + suf) {
			t.Errorf("%s left behind", suf)
		}
	}
	if b, _ := os.ReadFile(path); string(b) != Header+"\n" {
		t.Errorf("live file after rotation: %q", b)
	}
	// .2 holds exactly the index, in address order, in Kea's format.
	var want []byte
	want = append(want, Header+"\n"...)
	s.Range(func(l *lease.Lease) bool { want = AppendRow(want, l); return true })
	if got, _ := os.ReadFile(path + ".2"); !bytes.Equal(got, want) {
		t.Errorf(".2:\n%s\nwant:\n%s", got, want)
	}

	// Appends continue in the new live file; a second run folds them in.
	put(t, s, testLease(100))
	if err := s.RunLFC(); err != nil {
		t.Fatal(err)
	}
	put(t, s, testLease(101))
	before := all(s)
	s.Close()
	s = openTest(t, path)
	if after := all(s); !reflect.DeepEqual(before, after) {
		t.Errorf("reopen after LFC differs:\n%v\n%v", before, after)
	}
	if st := s.Stats(); st.LFCRuns != 0 {
		t.Errorf("fresh store LFCRuns %d", st.LFCRuns)
	}
}

func TestLFCResumesInterruptedRun(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "l.csv")
	r := func(ip string, host string) string {
		return ip + ",01:02,,100,1100,1,0,0," + host + ",0,\n"
	}
	// A kea-lfc died after rotating: .2 and .1 exist, no .completed.
	writeFile(t, path+".2", Header+"\n"+r("10.0.0.1", "a")+r("10.0.0.2", "a"))
	writeFile(t, path+".1", Header+"\n"+r("10.0.0.1", "b"))
	writeFile(t, path, Header+"\n"+r("10.0.0.3", "live"))
	s := openTest(t, path)
	if err := s.RunLFC(); err != nil {
		t.Fatal(err)
	}
	// No rotation (.1 existed), so the live file is untouched.
	if b, _ := os.ReadFile(path); string(b) != Header+"\n"+r("10.0.0.3", "live") {
		t.Errorf("live file rotated: %q", b)
	}
	if b, _ := os.ReadFile(path + ".2"); string(b) != Header+"\n"+r("10.0.0.1", "b")+r("10.0.0.2", "a") {
		t.Errorf(".2 = %q", b)
	}
	if exists(path + ".1") {
		t.Error(".1 left behind")
	}
}

func TestLFCSkipsWhileRunning(t *testing.T) {
	path := filepath.Join(t.TempDir(), "l.csv")
	s := openTest(t, path)
	writeFile(t, path+".pid", fmt.Sprintf("%d\n", os.Getpid()))
	if err := s.RunLFC(); !errors.Is(err, ErrLFCRunning) {
		t.Errorf("with live pid file: %v", err)
	}
	os.Remove(path + ".pid")
	s.lfcBusy.Store(true)
	if err := s.RunLFC(); !errors.Is(err, ErrLFCRunning) {
		t.Errorf("with a run in progress: %v", err)
	}
	s.lfcBusy.Store(false)
}

func TestLFCTimer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "l.csv")
	s := openTest(t, path, func(o *Options) { o.LFCInterval = 20 * time.Millisecond })
	put(t, s, testLease(1))
	deadline := time.Now().Add(5 * time.Second)
	for s.Stats().LFCRuns == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if s.Stats().LFCRuns == 0 {
		t.Fatal("timer never ran LFC")
	}
	put(t, s, testLease(2))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, path)
	if s.Len() != 2 {
		t.Errorf("Len %d", s.Len())
	}
}

func TestConcurrentCommitDuringLFC(t *testing.T) {
	path := filepath.Join(t.TempDir(), "l.csv")
	s := openTest(t, path, func(o *Options) { o.Sync = false })
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 200 {
				put(t, s, testLease(w*200+k))
			}
		}()
	}
	for range 5 {
		if err := s.RunLFC(); err != nil {
			t.Error(err)
		}
	}
	wg.Wait()
	before := all(s)
	s.Close()
	s = openTest(t, path)
	if after := all(s); len(after) != 1600 || !reflect.DeepEqual(before, after) {
		t.Errorf("after reopen %d leases, before %d", len(after), len(before))
	}
}
