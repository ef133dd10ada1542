package memfile

import (
	"errors"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"xdhcp/lease"
)

// TestCommitAsync: one goroutine queues many commits without waiting; each
// done is called once, after its lease is in the index, and the writer
// covers many of them with one fdatasync.
func TestCommitAsync(t *testing.T) {
	path := filepath.Join(t.TempDir(), "l.csv")
	s := openTest(t, path)
	const n = 2000
	var (
		wg            sync.WaitGroup
		calls, misses atomic.Int64
		errMu         sync.Mutex
		errs          []error
	)
	wg.Add(n)
	for i := range n {
		l := testLease(i)
		s.CommitAsync([]lease.Op{{Kind: lease.OpPut, Lease: l}}, func(err error) {
			defer wg.Done()
			calls.Add(1)
			if err != nil {
				errMu.Lock()
				errs = append(errs, err)
				errMu.Unlock()
				return
			}
			if _, ok := s.Get(l.Addr); !ok {
				misses.Add(1) // done before the index has the lease
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatal(errs[0])
	}
	if calls.Load() != n || misses.Load() != 0 {
		t.Fatalf("%d done calls for %d commits, %d before the lease was visible", calls.Load(), n, misses.Load())
	}
	st := s.Stats()
	t.Logf("commits %d, fsyncs %d", st.Commits, st.Syncs)
	if st.Syncs >= n/4 {
		t.Errorf("%d fsyncs for %d queued commits: not grouped", st.Syncs, n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var closedErr error
	s.CommitAsync([]lease.Op{{Kind: lease.OpPut, Lease: testLease(n)}}, func(err error) { closedErr = err })
	if !errors.Is(closedErr, lease.ErrClosed) {
		t.Fatalf("CommitAsync after Close: %v, want ErrClosed before it returns", closedErr)
	}
	if s = openTest(t, path); s.Len() != n {
		t.Fatalf("reopened: %d leases, want %d", s.Len(), n)
	}
}

// TestCommitAsyncImmediate: outcomes known at once are reported before
// CommitAsync returns (invalid op; a store that does not persist).
func TestCommitAsyncImmediate(t *testing.T) {
	s, err := Open(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var got []error
	record := func(err error) { got = append(got, err) }
	s.CommitAsync([]lease.Op{{Kind: lease.OpPut, Lease: testLease(1)}}, record)
	bad := testLease(2)
	bad.ValidLft = 0
	s.CommitAsync([]lease.Op{{Kind: lease.OpPut, Lease: bad}}, record)
	if len(got) != 2 || got[0] != nil || !errors.Is(got[1], lease.ErrInvalidLease) {
		t.Fatalf("outcomes %v, want [nil, invalid lease]", got)
	}
	if _, ok := s.Get(testLease(1).Addr); !ok {
		t.Fatal("memory commit not applied")
	}
}

// TestCommitAsyncFault: a failing fdatasync refuses the async commits of
// the batch with a FaultError and applies none of them.
func TestCommitAsyncFault(t *testing.T) {
	s, ff, _ := openFaulty(t, filepath.Join(t.TempDir(), "l.csv"), func(o *Options) { o.RetryWait = time.Hour })
	ff.failSyncs(1, syscall.EIO)
	done := make(chan error, 1)
	l := testLease(7)
	s.CommitAsync([]lease.Op{{Kind: lease.OpPut, Lease: l}}, func(err error) { done <- err })
	err := <-done
	var fe *lease.FaultError
	if !errors.As(err, &fe) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("async commit on a failing disk: %v, want a FaultError with EIO", err)
	}
	if _, ok := s.Get(l.Addr); ok {
		t.Fatal("refused lease is in the index")
	}
}

// TestCommitAsyncYieldsBetweenCompletions: the callbacks of one batch run
// on the writer's goroutine, and on one P other goroutines run between
// them (a batch holds up to MaxBatch: the packet workers must not wait
// for all of its callbacks).
func TestCommitAsyncYieldsBetweenCompletions(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	s := openTest(t, filepath.Join(t.TempDir(), "l.csv"))
	put(t, s, testLease(0)) // the file exists and the writer waits
	before := s.Stats().Batches
	var (
		turns, stop atomic.Int64
		wg          sync.WaitGroup
	)
	const n = 200
	seen := make([]int64, n)
	wg.Add(n)
	// No call below blocks or yields: the writer takes all n in one batch.
	for i := range n {
		s.CommitAsync([]lease.Op{{Kind: lease.OpPut, Lease: testLease(i + 1)}}, func(err error) {
			defer wg.Done()
			if err != nil {
				t.Error(err)
			}
			switch i {
			case 0:
				// Runs only when the writer lets it.
				go func() {
					for stop.Load() == 0 {
						turns.Add(1)
						runtime.Gosched()
					}
				}()
			case n - 1:
				stop.Store(1)
			}
			seen[i] = turns.Load()
		})
	}
	wg.Wait()
	if b := s.Stats().Batches - before; b != 1 {
		t.Skipf("the commits took %d batches, not one: nothing to look at", b)
	}
	if seen[n-1] == 0 {
		t.Errorf("no other goroutine ran between the %d callbacks of one batch", n)
	}
}
