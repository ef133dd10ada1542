package memfile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"xdhcp/lease"
)

// table is what a journal needs of the lease table it writes: the DHCPv4
// store (ops lease.Op) or the DHCPv6 one (lease.Op6). The journal owns the
// file, the commit queue, group commit, storage faults and cleanup; the
// table owns the index and the row format. encode, apply and compactFiles
// run on the journal's goroutines; apply and applyMemory take the table's
// own lock.
type table[O any] interface {
	// header is the lease file's first line, without its newline.
	header() string
	// validateOps rejects ops the table cannot store.
	validateOps(ops []O) error
	// encode appends the rows of batch's ops to buf in op order and
	// returns them, their count and the offset of the last one.
	encode(buf []byte, batch []*request[O]) (rows []byte, n, lastRow int)
	// apply applies a batch encode wrote to the index, counting each
	// request's deletions.
	apply(batch []*request[O])
	// applyMemory applies ops of a store that does not persist and returns
	// how many deletes removed a lease.
	applyMemory(ops []O) int
	// record is op's forensic record, nil when none.
	record(op *O) []byte
	// compactFiles merges the lease files inputs (missing ones skipped)
	// into a complete durable lease file out and returns its lease count.
	compactFiles(inputs []string, out string) (int, error)
}

// journal is the append-only lease file behind a store, with its single
// writer goroutine; see Store for what it promises.
type journal[O any] struct {
	tab  table[O]
	opts Options
	log  *slog.Logger
	now  func() time.Time
	path string

	// Commit queue, guarded by qmu.
	qmu    sync.Mutex
	queue  []*request[O]
	closed bool

	wake       chan struct{}   // cap 1: the queue has work or Close was called
	rotateCh   chan chan error // LFC asks the writer to rotate the live file
	writerDone chan struct{}   // closed when the writer goroutine exits
	stop       chan struct{}   // closed by Close: stops the LFC timer
	bg         sync.WaitGroup  // LFC timer goroutine
	lfcRuns    sync.WaitGroup  // RunLFC calls in flight
	closeOnce  sync.Once
	closeErr   error
	openFile   func(path string) (journalFile, error) // tests swap in faulty files
	w          writerState[O]                         // owned by the writer goroutine
	lfcBusy    atomic.Bool
	fault      atomic.Pointer[lease.FaultError] // the current storage fault, nil while healthy
	stats      struct {
		commits, batches, syncs, rows, writeErrors, lfcRuns atomic.Uint64
		faults, refused, retries                            atomic.Uint64
	}
}

// init sets the journal up for tab; start then loads and opens the files.
func (s *journal[O]) init(opts Options, openFile func(string) (journalFile, error), tab table[O]) {
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = DefaultMaxBatch
	}
	if opts.SyncInterval == 0 {
		opts.SyncInterval = DefaultSyncInterval
	}
	s.tab = tab
	s.opts = opts
	s.log = opts.Logger
	s.now = opts.Now
	s.path = opts.Path
	s.wake = make(chan struct{}, 1)
	s.rotateCh = make(chan chan error)
	s.writerDone = make(chan struct{})
	s.stop = make(chan struct{})
	s.openFile = openFile
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
}

// start loads the lease files with load, opens the live file and starts
// the writer (and the cleanup timer). Without Persist it only marks the
// writer done.
func (s *journal[O]) start(load func() (convert bool, live loadResult, err error)) (err error) {
	opts := s.opts
	if !opts.Persist {
		close(s.writerDone)
		return nil
	}
	if opts.Path == "" {
		return errors.New("open lease store: persist needs a lease file path")
	}
	if err := os.MkdirAll(filepath.Dir(opts.Path), 0o750); err != nil {
		return fmt.Errorf("create lease file directory: %w", err)
	}
	if pid, alive := livePID(s.path + sufPID); alive {
		return fmt.Errorf("load leases from %s: %w (pid %d in %s)", s.path, ErrLFCRunning, pid, s.path+sufPID)
	}
	convert, live, err := load()
	if err != nil {
		return err
	}
	if err := s.openLive(live); err != nil {
		return err
	}
	go s.writer()
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if convert {
		// Rewrite old-schema files before anything is appended. If an
		// interrupted cleanup left .1 or .completed, the first run only
		// finishes it; the second rotates the live file.
		s.log.Info("lease files use an older schema; running lease file cleanup to rewrite them", "path", s.path)
		s.lfcBusy.Store(true)
		rotated, err := s.lfc()
		if err == nil && !rotated {
			_, err = s.lfc()
		}
		s.lfcBusy.Store(false)
		if err != nil {
			return fmt.Errorf("convert lease files: %w", err)
		}
	}
	if opts.LFCInterval > 0 {
		s.bg.Add(1)
		go s.lfcLoop(opts.LFCInterval)
	}
	return nil
}

// loadFiles reads the lease files into sink in Kea's order:
// <name>.completed if it exists, else <name>.2 then <name>.1; then <name>.
func (s *journal[O]) loadFiles(sink rowSink) (convert bool, live loadResult, err error) {
	errs := &rowErrors{max: s.opts.MaxRowErrors}
	files := []string{s.path + sufCompleted}
	if _, err := os.Stat(files[0]); err != nil {
		files = []string{s.path + sufPrevious, s.path + sufInput}
	}
	start := s.now()
	for _, p := range files {
		res, err := loadFile(p, sink, errs, s.log)
		if err != nil {
			return false, live, fmt.Errorf("load leases: %w", err)
		}
		convert = convert || res.needsConversion()
	}
	live, err = loadFile(s.path, sink, errs, s.log)
	if err != nil {
		return false, live, fmt.Errorf("load leases: %w", err)
	}
	convert = convert || live.needsConversion()
	s.log.Info("leases loaded", "path", s.path, "leases", sink.len(), "bad_rows", errs.count,
		"seconds", s.now().Sub(start).Seconds())
	return convert, live, nil
}

// enqueue hands req to the writer.
func (s *journal[O]) enqueue(req *request[O]) error {
	s.qmu.Lock()
	if s.closed {
		s.qmu.Unlock()
		return lease.ErrClosed
	}
	s.queue = append(s.queue, req)
	s.qmu.Unlock()
	s.stats.commits.Add(1)
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// Commit applies ops atomically with respect to other commits and returns
// once they are durable: written to the lease file (and fdatasync'ed when
// Options.Sync), and then applied to the index in order. Concurrent
// commits are group-committed by one writer goroutine.
//
// On a write or sync error nothing of the batch is applied, the file is
// truncated back to its last good size, and a *FaultError (wrapping
// ErrStorage and the errno) is returned to every commit of the batch. The
// store then refuses commits with it until a recovery attempt succeeds
// (see FaultEvent).
//
// If ctx ends while Commit waits, it returns ctx.Err(), but the rows may
// still be written and applied afterwards: the outcome is unknown, as with
// a timed-out database call. Until then the store keeps reading ops and
// their byte slices, so the caller must not modify them.
func (s *journal[O]) Commit(ctx context.Context, ops ...O) error {
	_, err := s.submit(ctx, ops)
	return err
}

// CommitAsync is Commit without the wait: it queues ops and returns, and
// done is called exactly once with what Commit would have returned, once
// the ops are durable and applied to the index (nil) or refused (the
// store's error). A group commit's single fdatasync covers every commit
// queued while the previous one ran, so a caller with many requests in
// flight need not hold a goroutine per commit.
//
// done runs on the writer goroutine, or on the caller's before CommitAsync
// returns when the outcome is known at once (an invalid op, a closed store,
// a store that does not persist). It must return quickly and must not call
// Commit, Wipe, RunLFC or Close. The caller must not modify ops or their
// byte slices until done is called.
func (s *journal[O]) CommitAsync(ops []O, done func(error)) { s.submitAsync(ops, done) }

// submit is Commit, also returning how many deletes removed a lease.
func (s *journal[O]) submit(ctx context.Context, ops []O) (int, error) {
	if err := s.tab.validateOps(ops); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if !s.opts.Persist {
		return s.commitMemory(ops)
	}
	req := &request[O]{ops: ops, done: make(chan error, 1)}
	if err := s.enqueue(req); err != nil {
		return 0, err
	}
	select {
	case err := <-req.done:
		return req.deleted, err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// submitAsync is CommitAsync.
func (s *journal[O]) submitAsync(ops []O, done func(error)) {
	if err := s.tab.validateOps(ops); err != nil {
		done(err)
		return
	}
	if !s.opts.Persist {
		_, err := s.commitMemory(ops)
		done(err)
		return
	}
	if err := s.enqueue(&request[O]{ops: ops, cb: done}); err != nil {
		done(err)
	}
}

func (s *journal[O]) commitMemory(ops []O) (int, error) {
	s.qmu.Lock()
	closed := s.closed
	s.qmu.Unlock()
	if closed {
		return 0, lease.ErrClosed
	}
	return s.tab.applyMemory(ops), nil
}

// wipe deletes n leases, the i-th by the delete op del(i), in commits of
// at most MaxBatch ops, and returns how many it deleted.
func (s *journal[O]) wipe(ctx context.Context, subnetID uint32, n int, del func(i int) O) (int, error) {
	total := 0
	ops := make([]O, 0, min(n, s.opts.MaxBatch))
	for i := 0; i < n; {
		ops = ops[:0]
		for ; i < n && len(ops) < s.opts.MaxBatch; i++ {
			ops = append(ops, del(i))
		}
		d, err := s.submit(ctx, ops)
		total += d
		if err != nil {
			return total, fmt.Errorf("wipe leases of subnet %d: %w", subnetID, err)
		}
	}
	return total, nil
}

// Stats returns the journal counters.
func (s *journal[O]) Stats() lease.Stats {
	return lease.Stats{
		Commits:     s.stats.commits.Load(),
		Batches:     s.stats.batches.Load(),
		Syncs:       s.stats.syncs.Load(),
		Rows:        s.stats.rows.Load(),
		WriteErrors: s.stats.writeErrors.Load(),
		LFCRuns:     s.stats.lfcRuns.Load(),
		Faults:      s.stats.faults.Load(),
		Refused:     s.stats.refused.Load(),
		Retries:     s.stats.retries.Load(),
	}
}

// Close writes out pending commits, stops the LFC timer, waits for a
// running cleanup and closes the lease file. Commit after Close returns
// ErrClosed. Close is idempotent.
func (s *journal[O]) Close() error {
	s.closeOnce.Do(func() {
		s.qmu.Lock()
		s.closed = true
		s.qmu.Unlock()
		close(s.stop)
		s.bg.Wait()
		s.lfcRuns.Wait() // a cleanup may still need the writer to rotate
		select {
		case s.wake <- struct{}{}:
		default:
		}
		<-s.writerDone
		s.closeErr = s.w.closeErr
	})
	return s.closeErr
}
