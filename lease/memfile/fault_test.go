package memfile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"xdhcp/lease"
)

// faultFile is a journalFile that fails writes or syncs on demand: from
// the Nth call on, until cleared, with a chosen errno. A failing write
// first writes half its buffer, as a short write on a full disk does.
type faultFile struct {
	journalFile
	mu                  sync.Mutex
	writes, syncs       int // calls so far
	writeFrom, syncFrom int // 1-based call number from which calls fail; 0 never
	writeErr, syncErr   error
}

func (f *faultFile) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes++
	if f.writeFrom > 0 && f.writes >= f.writeFrom {
		n, _ := f.journalFile.Write(p[:len(p)/2])
		return n, f.writeErr
	}
	return f.journalFile.Write(p)
}

func (f *faultFile) Sync() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.syncs++
	if f.syncFrom > 0 && f.syncs >= f.syncFrom {
		return f.syncErr
	}
	return f.journalFile.Sync()
}

// failWrites makes the nth write from now, and every later one, fail.
func (f *faultFile) failWrites(n int, err error) {
	f.mu.Lock()
	f.writeFrom, f.writeErr = f.writes+n, &os.PathError{Op: "write", Path: "l.csv", Err: err}
	f.mu.Unlock()
}

// failSyncs makes the nth sync from now, and every later one, fail.
func (f *faultFile) failSyncs(n int, err error) {
	f.mu.Lock()
	f.syncFrom, f.syncErr = f.syncs+n, &os.PathError{Op: "fdatasync", Path: "l.csv", Err: err}
	f.mu.Unlock()
}

func (f *faultFile) clear() {
	f.mu.Lock()
	f.writeFrom, f.syncFrom = 0, 0
	f.mu.Unlock()
}

// eventLog records OnFault events.
type eventLog struct {
	mu  sync.Mutex
	evs []lease.FaultEvent
}

func (l *eventLog) add(ev lease.FaultEvent) {
	l.mu.Lock()
	l.evs = append(l.evs, ev)
	l.mu.Unlock()
}

func (l *eventLog) count(k lease.FaultKind) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, ev := range l.evs {
		if ev.Kind == k {
			n++
		}
	}
	return n
}

func (l *eventLog) refused() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, ev := range l.evs {
		n += ev.Refused
	}
	return n
}

// openFaulty opens a store on path whose live file is a faultFile.
func openFaulty(t *testing.T, path string, mod func(*Options)) (*Store, *faultFile, *eventLog) {
	t.Helper()
	ff := &faultFile{}
	evs := &eventLog{}
	opts := Options{Path: path, Persist: true, Sync: true, Logger: testLogger(t),
		RetryWait: 5 * time.Millisecond, RetryLimit: 3, OnFault: evs.add}
	if mod != nil {
		mod(&opts)
	}
	s, err := openHook(opts, func(p string) (journalFile, error) {
		j, err := journalOpener(nil)(p)
		if err != nil {
			return nil, err
		}
		ff.mu.Lock()
		ff.journalFile = j
		ff.mu.Unlock()
		return ff, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, ff, evs
}

// waitHealthy waits until the store has no storage fault.
func waitHealthy(t *testing.T, s *Store) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); s.Fault() != nil; {
		if time.Now().After(deadline) {
			t.Fatalf("store did not recover: %v", s.Fault())
		}
		time.Sleep(time.Millisecond)
	}
}

// openThroughFullDisk opens a store on path, has the commit of l fail on
// a full disk, then frees the disk and waits for the store to recover: the
// store it returns has been through one storage fault.
func openThroughFullDisk(t *testing.T, path string, l lease.Lease) *Store {
	t.Helper()
	s, ff, _ := openFaulty(t, path, nil)
	ff.failWrites(1, syscall.ENOSPC)
	if err := s.Commit(context.Background(), lease.Op{Kind: lease.OpPut, Lease: l}); err == nil {
		t.Fatal("commit succeeded on a full disk")
	}
	ff.clear()
	waitHealthy(t, s)
	return s
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// checkRows asserts that the lease file is whole: a header, then only
// rows that parse, and a final newline (no torn row anywhere).
func checkRows(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Errorf("lease file ends in a torn row: %q", b[bytes.LastIndexByte(b, '\n')+1:])
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if lines[0] != Header {
		t.Fatalf("first line %q is not the header", lines[0])
	}
	for i, l := range lines[1:] {
		if _, err := ParseRow([]byte(l)); err != nil {
			t.Errorf("line %d: %v: %q", i+2, err, l)
		}
	}
}

// fileLeases loads path into a fresh store and returns its addresses.
func fileLeases(t *testing.T, path string) []string {
	t.Helper()
	s, err := Open(Options{Path: path, Persist: true, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	var out []string
	for _, l := range all(s) {
		out = append(out, l.Addr.String())
	}
	return out
}

// TestFaultConcurrentCommits fails a write in the middle of concurrent
// commits, then clears the fault: no commit that got an error is in the
// index or the file, every acknowledged one is, and the file has no torn
// row.
func TestFaultConcurrentCommits(t *testing.T) {
	for _, c := range []struct {
		name  string
		errno syscall.Errno
		sync  bool
	}{{"ENOSPC write", syscall.ENOSPC, false}, {"EIO fdatasync", syscall.EIO, true}, {"EROFS write", syscall.EROFS, false}} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "l.csv")
			s, ff, evs := openFaulty(t, path, func(o *Options) { o.RetryWait = 20 * time.Millisecond })
			put(t, s, testLease(0))

			var (
				mu       sync.Mutex
				acked    = map[int]bool{0: true}
				refused  []int
				wg       sync.WaitGroup
				failed   = make(chan struct{})
				failOnce sync.Once
			)
			start := make(chan struct{})
			for g := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					for k := range 40 {
						i := 1 + g*1000 + k
						err := s.Commit(context.Background(), lease.Op{Kind: lease.OpPut, Lease: testLease(i)})
						mu.Lock()
						if err == nil {
							acked[i] = true
						} else {
							if !errors.Is(err, lease.ErrStorage) || !errors.Is(err, c.errno) || !strings.Contains(err.Error(), path) {
								t.Errorf("commit %d: error %v does not wrap ErrStorage, %v and name the file", i, err, c.errno)
							}
							refused = append(refused, i)
							failOnce.Do(func() { close(failed) })
						}
						mu.Unlock()
						if err == nil {
							if _, ok := s.Get(testLease(i).Addr); !ok {
								t.Errorf("commit %d acknowledged but not in the index", i)
							}
						}
					}
				}()
			}
			if c.sync {
				ff.failSyncs(3, c.errno)
			} else {
				ff.failWrites(3, c.errno)
			}
			close(start)
			select {
			case <-failed:
			case <-time.After(10 * time.Second):
				t.Fatal("no commit failed")
			}
			// Let several retries fail before the fault clears.
			waitFor(t, "three failed retries", func() bool { return evs.count(lease.FaultRetry) >= 3 })
			if s.Fault() == nil {
				t.Fatal("store healthy while the disk still fails")
			}
			ff.clear()
			wg.Wait()
			waitHealthy(t, s)
			put(t, s, testLease(99999))
			acked[99999] = true

			mu.Lock()
			defer mu.Unlock()
			for _, i := range refused {
				if _, ok := s.Get(testLease(i).Addr); ok {
					t.Errorf("refused commit %d is in the index", i)
				}
			}
			if evs.count(lease.FaultFailed) != 1 || evs.count(lease.FaultRecovered) != 1 {
				t.Errorf("events: %d failed, %d recovered; want one episode", evs.count(lease.FaultFailed), evs.count(lease.FaultRecovered))
			}
			if evs.count(lease.FaultExhausted) != 1 {
				t.Errorf("%d exhausted events, want exactly 1 (limit 3, at least 3 retries)", evs.count(lease.FaultExhausted))
			}
			if got := evs.refused(); got != len(refused) {
				t.Errorf("events count %d refused commits, %d were refused", got, len(refused))
			}
			if st := s.Stats(); st.Refused != uint64(len(refused)) || st.Faults != 1 || st.Retries < 3 {
				t.Errorf("stats %+v with %d refused", st, len(refused))
			}
			s.Close()
			checkRows(t, path)
			var want []string
			for i := range acked {
				want = append(want, testLease(i).Addr.String())
			}
			got := fileLeases(t, path)
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("file holds %d leases, %d acknowledged (refused %d)", len(got), len(want), len(refused))
			}
			t.Logf("%d acknowledged, %d refused", len(acked), len(refused))
		})
	}
}

// TestFaultRetriesUntilCleared: recovery attempts go on past the limit
// (the store never gives up by itself), and the first one after the disk
// works again ends the episode.
func TestFaultRetriesUntilCleared(t *testing.T) {
	path := filepath.Join(t.TempDir(), "l.csv")
	s, ff, evs := openFaulty(t, path, nil)
	put(t, s, testLease(1), testLease(2))
	ff.failWrites(1, syscall.ENOSPC)
	err := s.Commit(context.Background(), lease.Op{Kind: lease.OpPut, Lease: testLease(3)})
	var fe *lease.FaultError
	if !errors.As(err, &fe) || fe.Path != path || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("error %v, want a *FaultError for %s wrapping ENOSPC", err, path)
	}
	waitFor(t, "retries past the limit", func() bool { return evs.count(lease.FaultRetry) >= 6 })
	if s.Fault() == nil || evs.count(lease.FaultExhausted) != 1 {
		t.Fatalf("fault %v, %d exhausted events", s.Fault(), evs.count(lease.FaultExhausted))
	}
	// Commits while failed are refused without touching the disk.
	ff.mu.Lock()
	writes := ff.writes
	ff.mu.Unlock()
	if err := s.Commit(context.Background(), lease.Op{Kind: lease.OpDelete, Lease: testLease(1)}); !errors.Is(err, lease.ErrStorage) {
		t.Errorf("commit while failed: %v", err)
	}
	if _, ok := s.Get(testLease(1).Addr); !ok {
		t.Error("a refused delete removed the lease from the index")
	}
	ff.mu.Lock()
	if ff.writes-writes > 3 {
		t.Errorf("%d writes while failed: commits should not hammer the disk", ff.writes-writes)
	}
	ff.mu.Unlock()
	ff.clear()
	waitHealthy(t, s)
	put(t, s, testLease(4))
	s.Close()
	checkRows(t, path)
	want := []string{"10.0.0.1", "10.0.0.2", "10.0.0.4"}
	if got := fileLeases(t, path); !slices.Equal(got, want) {
		t.Errorf("file leases %v, want %v", got, want)
	}
}

// TestFaultHeaderOnlyFile: a file with no row yet is recovered by
// rewriting its header.
func TestFaultHeaderOnlyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "l.csv")
	s, ff, evs := openFaulty(t, path, nil)
	ff.failSyncs(1, syscall.EIO)
	if err := s.Commit(context.Background(), lease.Op{Kind: lease.OpPut, Lease: testLease(1)}); !errors.Is(err, syscall.EIO) {
		t.Fatalf("commit: %v", err)
	}
	waitFor(t, "a failed retry", func() bool { return evs.count(lease.FaultRetry) >= 1 })
	ff.clear()
	waitHealthy(t, s)
	put(t, s, testLease(2))
	s.Close()
	checkRows(t, path)
	if got := fileLeases(t, path); !slices.Equal(got, []string{"10.0.0.2"}) {
		t.Errorf("file leases %v", got)
	}
}

// TestFaultRecoveryKeepsLoadedRows: after a restart the row a recovery
// attempt appends again comes from the loaded file, and loading the
// result gives the same leases (a deletion marker included).
func TestFaultRecoveryKeepsLoadedRows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "l.csv")
	s := openTest(t, path)
	put(t, s, testLease(1), testLease(2))
	if err := s.Commit(context.Background(), lease.Op{Kind: lease.OpDelete, Lease: testLease(2)}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openThroughFullDisk(t, path, testLease(3))
	s.Close()
	checkRows(t, path)
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if n := len(lines); n != 5 || lines[3] != lines[4] {
		t.Errorf("want header, 3 rows and the last row again:\n%s", b)
	}
	if got := fileLeases(t, path); !slices.Equal(got, []string{"10.0.0.1"}) {
		t.Errorf("file leases %v, want only 10.0.0.1", got)
	}
}

// TestFaultDuringRotation: a lease file that cannot be reopened after LFC
// renamed it is a storage fault too; recovery reopens it.
func TestFaultDuringRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "l.csv")
	var (
		mu      sync.Mutex
		openErr error
	)
	evs := &eventLog{}
	s, err := openHook(Options{Path: path, Persist: true, Sync: true, Logger: testLogger(t),
		RetryWait: 5 * time.Millisecond, OnFault: evs.add}, func(p string) (journalFile, error) {
		mu.Lock()
		defer mu.Unlock()
		if openErr != nil {
			return nil, openErr
		}
		return journalOpener(nil)(p)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	put(t, s, testLease(1))
	mu.Lock()
	openErr = syscall.EMFILE
	mu.Unlock()
	if err := s.RunLFC(); !errors.Is(err, syscall.EMFILE) {
		t.Fatalf("RunLFC: %v", err)
	}
	if err := s.Commit(context.Background(), lease.Op{Kind: lease.OpPut, Lease: testLease(2)}); !errors.Is(err, lease.ErrStorage) {
		t.Fatalf("commit with no lease file: %v", err)
	}
	waitFor(t, "a failed retry", func() bool { return evs.count(lease.FaultRetry) >= 1 })
	mu.Lock()
	openErr = nil
	mu.Unlock()
	waitHealthy(t, s)
	put(t, s, testLease(3))
	s.Close()
	checkRows(t, path)
	if got := fileLeases(t, path); !slices.Equal(got, []string{"10.0.0.1", "10.0.0.3"}) {
		t.Errorf("leases after rotation fault: %v", got)
	}
}

// TestBadRowsNameFileAndLine: a hand-edited file loads, skipping bad rows
// with a warning naming the file and line, as Kea does; max-row-errors
// refuses it.
func TestBadRowsNameFileAndLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "l.csv")
	good := string(AppendRow(nil, ptr(testLease(1))))
	writeFile(t, path, Header+"\n"+good+"10.0.0.9,zz:zz,,3600,1700003600,1,0,0,,0,\n"+
		"not a row\n"+string(AppendRow(nil, ptr(testLease(2)))))
	var logs bytes.Buffer
	s, err := Open(Options{Path: path, Persist: true, Logger: newBufLogger(&logs)})
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 2 {
		t.Errorf("%d leases loaded, want the 2 good rows", s.Len())
	}
	s.Close()
	for _, want := range []string{"line=3", "line=4", path} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
	_, err = Open(Options{Path: path, Persist: true, MaxRowErrors: 1})
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "line 4") {
		t.Errorf("max-row-errors 1: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

// TestTornLastLineRepairedOnFault: a torn last line left by a crash is cut
// before the first append and the file stays whole through a fault.
func TestTornLastLineThenFault(t *testing.T) {
	path := filepath.Join(t.TempDir(), "l.csv")
	good := string(AppendRow(nil, ptr(testLease(1))))
	writeFile(t, path, Header+"\n"+good+good[:10])
	s := openThroughFullDisk(t, path, testLease(2))
	put(t, s, testLease(3))
	s.Close()
	checkRows(t, path)
	if got := fileLeases(t, path); fmt.Sprint(got) != "[10.0.0.1 10.0.0.3]" {
		t.Errorf("leases %v", got)
	}
}

func newBufLogger(w *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, nil))
}
