package memfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"
	"unsafe"

	"xdhcp/internal/uring"
	"xdhcp/lease"

	"golang.org/x/sys/unix"
)

// journalFile is the live lease file as the writer uses it. Tests replace
// it to inject write and sync failures.
type journalFile interface {
	Write(p []byte) (int, error)
	// Sync makes written data durable (fdatasync).
	Sync() error
	Truncate(size int64) error
	Close() error
}

// osJournal is a journalFile on an *os.File opened with O_APPEND. Its
// writes are raw system calls and its syncs go through an io_uring when
// the kernel offers one (see uring.SyncRing), so that appending and syncing the
// lease file never enter a blocking system call the Go runtime must watch.
type osJournal struct {
	f *os.File
	// fd is f's descriptor, for the raw calls.
	fd int
	// ring is nil when io_uring is not available, or after it failed:
	// Sync then calls fdatasync(2). With a gate, the ring is made at the
	// first Sync after the gate opened (ringTried: made or failed).
	ring      *uring.SyncRing
	gate      *uring.Gate
	withRing  bool
	ringTried bool
}

// Write appends p with write(2) called raw: the runtime is not told of
// the call, which on a lease file's page cache takes microseconds, so it
// neither wakes its monitor thread nor hands the P to another thread.
func (j *osJournal) Write(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		r, _, errno := unix.RawSyscall(unix.SYS_WRITE, uintptr(j.fd), uintptr(unsafe.Pointer(&p[n])), uintptr(len(p)-n))
		switch {
		case errno == unix.EINTR:
			continue
		case errno != 0:
			return n, &os.PathError{Op: "write", Path: j.f.Name(), Err: errno}
		case r == 0:
			return n, &os.PathError{Op: "write", Path: j.f.Name(), Err: io.ErrShortWrite}
		}
		n += int(r)
	}
	runtime.KeepAlive(j.f)
	return n, nil
}

func (j *osJournal) Sync() error {
	if j.withRing && !j.ringTried && j.gate.Opened() {
		j.ringTried = true
		j.ring, _ = uring.NewSyncRing()
	}
	if j.ring != nil {
		err := j.ring.Fdatasync(j.fd)
		runtime.KeepAlive(j.f)
		if !errors.Is(err, uring.ErrRingBroken) {
			if err != nil {
				return &os.PathError{Op: "fdatasync", Path: j.f.Name(), Err: err}
			}
			return nil
		}
		// The ring itself failed (not the sync): fdatasync(2) from now on.
		j.ring.Close()
		j.ring = nil
	}
	rc, err := j.f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			serr = unix.Fdatasync(int(fd))
			if !errors.Is(serr, unix.EINTR) {
				return
			}
		}
	}); err != nil {
		return err
	}
	if serr != nil {
		return &os.PathError{Op: "fdatasync", Path: j.f.Name(), Err: serr}
	}
	return nil
}

// StartSync submits the fdatasync of the file through the ring and
// reports whether it did; WaitSync then waits for it. Without a ring (or
// when it fails) the caller calls Sync instead.
func (j *osJournal) StartSync() bool {
	if j.withRing && !j.ringTried && j.gate.Opened() {
		j.ringTried = true
		j.ring, _ = uring.NewSyncRing()
	}
	if j.ring == nil {
		return false
	}
	if err := j.ring.StartFdatasync(j.fd); err != nil {
		j.ring.Close()
		j.ring = nil
		return false
	}
	return true
}

// WaitSync waits for the fdatasync StartSync submitted. Should the ring
// itself fail meanwhile, the sync's outcome is unknown: it is done again
// with fdatasync(2).
func (j *osJournal) WaitSync() error {
	err := j.ring.Wait()
	runtime.KeepAlive(j.f)
	if errors.Is(err, uring.ErrRingBroken) {
		j.ring.Close()
		j.ring = nil
		return j.Sync()
	}
	if err != nil {
		return &os.PathError{Op: "fdatasync", Path: j.f.Name(), Err: err}
	}
	return nil
}

// splitSyncer is a journalFile whose sync can be started and waited for
// apart (osJournal with a ring).
type splitSyncer interface {
	StartSync() bool
	WaitSync() error
}

func (j *osJournal) Truncate(size int64) error { return j.f.Truncate(size) }

func (j *osJournal) Close() error {
	if j.ring != nil {
		j.ring.Close()
		j.ring = nil
	}
	return j.f.Close()
}

// journalOpener opens the live lease file for appending, with a sync ring
// when the kernel offers io_uring, once gate (nil: at once) is open.
func journalOpener(gate *uring.Gate) func(path string) (journalFile, error) {
	return func(path string) (journalFile, error) {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			return nil, err
		}
		j := newOSJournal(f, true)
		j.gate = gate
		return j, nil
	}
}

// newOSJournal wraps f; withRing asks for a sync ring (without one, or
// where io_uring is missing, Sync calls fdatasync(2)), made at its first
// Sync.
func newOSJournal(f *os.File, withRing bool) *osJournal {
	return &osJournal{f: f, fd: int(f.Fd()), withRing: withRing}
}

// syncDir makes renames and file creations in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// request is one Commit waiting for the writer.
type request[O any] struct {
	ops     []O
	done    chan error  // cap 1; the writer sends exactly once (Commit)
	cb      func(error) // called exactly once instead (CommitAsync)
	deleted int         // set by the writer before done
}

// finish reports the outcome of the request to its committer.
func (r *request[O]) finish(err error) {
	if r.cb != nil {
		r.cb(err)
		return
	}
	r.done <- err
}

// writerState is owned by the writer goroutine (and by Open before the
// writer starts).
type writerState[O any] struct {
	f   journalFile
	off int64 // size of the file: everything before it is whole rows
	// fault is the storage fault episode, if any: while it lasts nothing
	// is appended except by a recovery attempt, which first cuts the file
	// back to off.
	fault    faultState
	buf      []byte
	recs     []byte // the batch's forensic records
	batch    []*request[O]
	closeErr error
	// lastSync is when the latest fdatasync began (pace).
	lastSync time.Time
	recSync  recordSyncer
}

// recordSyncer syncs the forensic records beside the lease file's
// fdatasync when the lease file has no ring to start its sync on
// (syncBoth), on a goroutine of its own started at the first such batch
// and kept for the writer's life: a goroutine and a channel per commit
// cost more than the rest of the hand-off.
type recordSyncer struct {
	req  chan RecordLog
	done chan error
}

// start asks for a sync of recs; wait returns its outcome. Writer only.
func (r *recordSyncer) start(recs RecordLog) {
	if r.req == nil {
		r.req, r.done = make(chan RecordLog, 1), make(chan error, 1)
		go func(req <-chan RecordLog, done chan<- error) {
			for l := range req {
				done <- l.SyncRecords()
			}
		}(r.req, r.done)
	}
	r.req <- recs
}

func (r *recordSyncer) wait() error { return <-r.done }

// stop ends the goroutine, if one was started.
func (r *recordSyncer) stop() {
	if r.req != nil {
		close(r.req)
		r.req = nil
	}
}

// openLive opens the live lease file for appending, writing the header to
// a new or empty file and cutting a torn last line off an existing one.
func (s *journal[O]) openLive(live loadResult) error {
	w := &s.w
	f, err := s.openFile(s.path)
	if err != nil {
		return fmt.Errorf("open lease file %s: %w", s.path, err)
	}
	w.f = f
	w.off = live.goodSize
	w.fault.lastRow = live.lastRow
	if live.torn || live.columns == 0 {
		if err := f.Truncate(live.goodSize); err != nil {
			f.Close()
			return fmt.Errorf("truncate torn line of lease file %s: %w", s.path, err)
		}
		if live.torn && live.goodSize > 0 {
			s.log.Warn("truncated torn last line of lease file", "path", s.path, "offset", live.goodSize,
				"bytes", live.size-live.goodSize)
		}
	}
	if live.goodSize == 0 || live.columns == 0 {
		if err := s.writeHeader(); err != nil {
			f.Close()
			return err
		}
	}
	return nil
}

// writeHeader starts the (empty) live file with the CSV header and makes
// the file itself durable.
func (s *journal[O]) writeHeader() error {
	w := &s.w
	if err := w.f.Truncate(0); err != nil {
		return fmt.Errorf("truncate lease file %s: %w", s.path, err)
	}
	if _, err := w.f.Write([]byte(s.tab.header() + "\n")); err != nil {
		return fmt.Errorf("write header of lease file %s: %w", s.path, err)
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("sync lease file %s: %w", s.path, err)
	}
	w.off = int64(len(s.tab.header()) + 1)
	return syncDir(filepath.Dir(s.path))
}

// writer is the single goroutine that appends to the lease file. It runs
// until Close, then drains the queue and closes the file.
func (s *journal[O]) writer() {
	defer close(s.writerDone)
	defer s.stopRetry()
	w := &s.w
	defer w.recSync.stop()
	for {
		select {
		case <-s.wake:
		case reply := <-s.rotateCh:
			reply <- s.rotate()
			continue
		case <-s.retryC():
			s.tryRecover()
		}
		for {
			s.pace()
			batch, closed := s.takeBatch()
			if len(batch) == 0 {
				if closed {
					if w.f != nil {
						w.closeErr = w.f.Close()
						if w.closeErr != nil {
							w.closeErr = fmt.Errorf("close lease file %s: %w", s.path, w.closeErr)
						}
					}
					return
				}
				break
			}
			s.commitBatch(batch)
			// Under sustained load the queue never drains; let a waiting
			// rotation in between batches.
			select {
			case reply := <-s.rotateCh:
				reply <- s.rotate()
			default:
			}
		}
	}
}

// pace waits, while commits arrive back to back, until SyncInterval after
// the previous fdatasync began, unless a large batch is already queued:
// one sync then covers what arrives meanwhile instead of each few leases
// paying for their own. After a quiet spell the previous sync is long
// past and nothing waits.
func (s *journal[O]) pace() {
	if !s.opts.Sync || s.opts.SyncInterval <= 0 || s.w.lastSync.IsZero() {
		return
	}
	wait := time.Until(s.w.lastSync.Add(s.opts.SyncInterval))
	if wait <= 0 {
		return
	}
	s.qmu.Lock()
	rows := 0
	for _, r := range s.queue {
		rows += len(r.ops)
	}
	s.qmu.Unlock()
	if rows >= max(s.opts.MaxBatch/16, 1) {
		return
	}
	time.Sleep(wait)
}

// takeBatch removes whole requests from the queue, up to MaxBatch rows
// (at least one request), and reports whether the store is closed.
func (s *journal[O]) takeBatch() ([]*request[O], bool) {
	w := &s.w
	s.qmu.Lock()
	defer s.qmu.Unlock()
	clear(w.batch)
	w.batch = w.batch[:0]
	rows, n := 0, 0
	for _, r := range s.queue {
		if n > 0 && rows+len(r.ops) > s.opts.MaxBatch {
			break
		}
		rows += len(r.ops)
		n++
	}
	w.batch = append(w.batch, s.queue[:n]...)
	rest := copy(s.queue, s.queue[n:])
	clear(s.queue[rest:])
	s.queue = s.queue[:rest]
	return w.batch, s.closed
}

// commitBatch writes the rows of batch with one write(2), syncs, applies
// them to the index and wakes the waiters.
func (s *journal[O]) commitBatch(batch []*request[O]) {
	w := &s.w
	if fe := w.fault.err; fe != nil {
		// Failed: refuse at once rather than hammer a failing disk; the
		// retry timer finds out when it works again.
		s.refuse(batch, fe)
		return
	}

	buf, rows, lastRow := s.tab.encode(w.buf[:0], batch)
	w.buf = buf

	recs := s.batchRecords(batch)
	if len(buf) > 0 || len(recs) > 0 {
		_, err := w.f.Write(buf)
		if err == nil && len(recs) > 0 {
			if rerr := s.opts.Records.WriteRecords(recs); rerr != nil {
				err = recordsError{rerr}
			}
		}
		if err == nil && s.opts.Sync {
			s.stats.syncs.Add(1)
			w.lastSync = time.Now()
			err = s.syncBoth(len(recs) > 0)
		}
		if err != nil {
			s.stats.writeErrors.Add(1)
			err = fmt.Errorf("append %d lease rows to %s: %w", rows, s.path, err)
			if terr := w.f.Truncate(w.off); terr != nil {
				// The partial rows stay until a recovery attempt can cut
				// them; nothing is appended before that.
				s.log.Warn("cannot truncate lease file after write error", "path", s.path, "err", terr)
			}
			s.refuse(batch, s.enterFault(err))
			return
		}
		w.off += int64(len(buf))
		w.fault.lastRow = append(w.fault.lastRow[:0], buf[lastRow:]...)
		s.stats.batches.Add(1)
		s.stats.rows.Add(uint64(rows))
	}
	if cap(w.buf) > 4<<20 {
		w.buf = nil // don't pin a huge buffer after a giant commit
	}

	s.tab.apply(batch)
	for i, r := range batch {
		if i > 0 && i%lease.CompletionYield == 0 {
			runtime.Gosched()
		}
		r.finish(nil)
	}
}

// syncBoth makes the lease file durable and, when withRecords, the
// forensic records written for the batch too. The two sync side by side:
// the batch waits for the slower of them, not for both in turn. With a
// ring the lease file's fdatasync is submitted first and the records are
// synced on this goroutine meanwhile, so that one goroutine waits for
// both; otherwise the records sync on the record syncer's goroutine.
func (s *journal[O]) syncBoth(withRecords bool) error {
	w := &s.w
	if !withRecords {
		return w.f.Sync()
	}
	if ss, ok := w.f.(splitSyncer); ok && ss.StartSync() {
		recErr := s.opts.Records.SyncRecords()
		if err := ss.WaitSync(); err != nil {
			return err
		}
		if recErr != nil {
			return recordsError{recErr}
		}
		return nil
	}
	w.recSync.start(s.opts.Records)
	err := w.f.Sync()
	if recErr := w.recSync.wait(); err == nil && recErr != nil {
		err = recordsError{recErr}
	}
	return err
}

// batchRecords gathers the forensic records of batch's ops into one
// buffer (reused between batches); nil without a record log.
func (s *journal[O]) batchRecords(batch []*request[O]) []byte {
	if s.opts.Records == nil {
		return nil
	}
	w := &s.w
	recs := w.recs[:0]
	for _, r := range batch {
		for k := range r.ops {
			recs = append(recs, s.tab.record(&r.ops[k])...)
		}
	}
	w.recs = recs
	if cap(w.recs) > 1<<20 {
		w.recs = nil
	}
	return recs
}

// rotate implements the first half of Kea's LFC on the writer goroutine,
// between batches: close the live file, rename it to <name>.1 and start a
// fresh <name> with the header. If the rename fails the old file is
// reopened so appends go on, as Kea does.
func (s *journal[O]) rotate() error {
	w := &s.w
	if fe := w.fault.err; fe != nil {
		return fmt.Errorf("rotate lease file: %w", fe)
	}
	if err := w.f.Close(); err != nil {
		s.log.Warn("close lease file for rotation", "path", s.path, "err", err)
	}
	w.f = nil
	renameErr := os.Rename(s.path, s.path+sufInput)
	f, err := s.openFile(s.path)
	if err != nil {
		// Nothing can be appended now: a storage fault, which recovery
		// attempts end by reopening the file.
		w.f = brokenJournal{err}
		if renameErr == nil {
			w.off, w.fault.lastRow = 0, nil // the file to reopen is a new one
		}
		err = fmt.Errorf("reopen lease file %s after rotation: %w", s.path, err)
		s.enterFault(err)
		return err
	}
	w.f = f
	if renameErr != nil {
		// The old file is open again, unchanged: w.off still holds.
		return fmt.Errorf("rotate lease file %s: %w", s.path, renameErr)
	}
	w.off, w.fault.lastRow = 0, nil // a fresh file: recovery rewrites the header if this fails
	if err := s.writeHeader(); err != nil {
		s.enterFault(err)
		return fmt.Errorf("rotate lease file: %w", err)
	}
	return nil
}

// brokenJournal stands in for a lease file that could not be reopened.
type brokenJournal struct{ err error }

func (b brokenJournal) Write([]byte) (int, error) { return 0, b.err }
func (b brokenJournal) Sync() error               { return b.err }
func (b brokenJournal) Truncate(int64) error      { return b.err }
func (b brokenJournal) Close() error              { return nil }
