package memfile

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"xdhcp/lease"
)

// TestSyncIntervalPacesBackToBackCommits: a steady stream of commits is
// gathered into at most one fdatasync per SyncInterval, and every commit
// still lands (in the index and in the file).
func TestSyncIntervalPacesBackToBackCommits(t *testing.T) {
	const interval = 10 * time.Millisecond
	path := filepath.Join(t.TempDir(), "leases4.csv")
	s, ff, _ := openFaulty(t, path, func(o *Options) { o.SyncInterval = interval })
	ff.mu.Lock()
	syncs0 := ff.syncs
	ff.mu.Unlock()
	var wg sync.WaitGroup
	const n = 1500
	start := time.Now()
	for i := range n {
		wg.Add(1)
		s.CommitAsync([]lease.Op{{Kind: lease.OpPut, Lease: testLease(i)}}, func(err error) {
			if err != nil {
				t.Errorf("commit %d: %v", i, err)
			}
			wg.Done()
		})
		if i%10 == 9 {
			time.Sleep(100 * time.Microsecond) // ~100,000 commits/s, in small groups
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	ff.mu.Lock()
	syncs := ff.syncs - syncs0
	ff.mu.Unlock()
	// One sync may start at once, then at most one per interval; the
	// large-batch exception can add a few when the stream outruns it.
	if limit := int(elapsed/interval) + 3; syncs > limit {
		t.Fatalf("%d fdatasyncs for %d commits in %v: want at most %d with a %v interval", syncs, n, elapsed, limit, interval)
	}
	if s.Len() != n {
		t.Fatalf("%d leases in the index, want %d", s.Len(), n)
	}
	s.Close()
	s2 := openTest(t, path)
	defer s2.Close()
	if s2.Len() != n {
		t.Fatalf("%d leases in the file, want %d", s2.Len(), n)
	}
	t.Logf("%d commits in %v: %d fdatasyncs", n, elapsed, syncs)
}

// TestSyncIntervalOnlyWhenBusy: a commit after a quiet spell is written at
// once; one that follows a sync closely waits for the interval (which is
// what gathers the commits behind it).
func TestSyncIntervalOnlyWhenBusy(t *testing.T) {
	const interval = time.Second
	s := openTest(t, filepath.Join(t.TempDir(), "leases4.csv"), func(o *Options) { o.SyncInterval = interval })
	defer s.Close()
	ctx := context.Background()
	if err := s.Commit(ctx, lease.Op{Kind: lease.OpPut, Lease: testLease(1)}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if err := s.Commit(ctx, lease.Op{Kind: lease.OpPut, Lease: testLease(2)}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d < interval/2 {
		t.Fatalf("a commit right after a sync took %v: not paced (interval %v)", d, interval)
	}
	time.Sleep(interval + interval/4)
	t0 = time.Now()
	if err := s.Commit(ctx, lease.Op{Kind: lease.OpPut, Lease: testLease(3)}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d >= interval/2 {
		t.Fatalf("a commit after a quiet spell took %v: it waited for the interval", d)
	}
	// Without Sync there is nothing to pace.
	s2 := openTest(t, filepath.Join(t.TempDir(), "leases4.csv"), func(o *Options) { o.SyncInterval = interval; o.Sync = false })
	defer s2.Close()
	t0 = time.Now()
	for i := range 3 {
		if err := s2.Commit(ctx, lease.Op{Kind: lease.OpPut, Lease: testLease(10 + i)}); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(t0); d >= interval/2 {
		t.Fatalf("three commits without Sync took %v", d)
	}
}
