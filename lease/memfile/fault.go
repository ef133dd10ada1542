package memfile

import (
	"errors"
	"fmt"
	"syscall"
	"time"

	"xdhcp/lease"

	"golang.org/x/sys/unix"
)

// Storage faults.
//
// When a write or fdatasync of the live lease file fails (ENOSPC, EIO,
// EROFS, ...), every commit of that batch gets an error and nothing of it
// reaches the index, so no ACK can promise a lease that is not on disk. The
// store then enters a failed state: it cuts the file back to the end of the
// last durable row and refuses every commit (a *FaultError) without
// touching the disk, while the writer retries every RetryWait. A retry
// re-establishes a consistent file: it truncates to the last durable offset
// and then appends the file's last row again and fdatasyncs it. The row is
// already the last word on its address, so the copy changes nothing a
// loader sees, but the append and the sync go through the same path a
// commit takes: when they succeed the fault has cleared. A live file with
// no rows is rewritten from its header instead.
//
// What the server does while failed (stop serving, exit) is its policy:
// the store reports each step to Options.OnFault and keeps retrying until it
// recovers or is closed.

// Retry defaults for a memfile store. Kea's defaults (max-reconnect-tries 0,
// reconnect-wait-time 0) mean "give up at once" for a database connection;
// a full or failing disk usually clears in seconds to minutes, so a memfile
// store retries by default.
const (
	// DefaultRetryWait is the pause between recovery attempts when
	// Options.RetryWait is 0.
	DefaultRetryWait = 2 * time.Second
	// DefaultRetryLimit is the number of failed recovery attempts after
	// which FaultExhausted is reported when Options.RetryLimit is 0 (with
	// DefaultRetryWait, about a minute).
	DefaultRetryLimit = 30
)

// faultState is the writer's view of an episode; owned by the writer
// goroutine.
type faultState struct {
	err       *lease.FaultError // nil while healthy
	attempts  int
	exhausted bool
	errno     string // errno of the last logged error, to log a change once
	timer     *time.Timer
	// lastRow is the last complete line of the live file (without a row,
	// nil): the row a recovery attempt appends again.
	lastRow []byte
}

// retryC is the channel the writer waits on for the next recovery attempt:
// nil (never ready) while healthy.
func (s *journal[O]) retryC() <-chan time.Time {
	if s.w.fault.err == nil || s.w.fault.timer == nil {
		return nil
	}
	return s.w.fault.timer.C
}

func (s *journal[O]) retryWait() time.Duration {
	if s.opts.RetryWait > 0 {
		return s.opts.RetryWait
	}
	return DefaultRetryWait
}

func (s *journal[O]) retryLimit() int {
	if s.opts.RetryLimit > 0 {
		return s.opts.RetryLimit
	}
	return DefaultRetryLimit
}

func (s *journal[O]) emit(ev lease.FaultEvent) {
	if s.opts.OnFault != nil {
		ev.Path = s.path
		s.opts.OnFault(ev)
	}
}

// recordsError is a failure of the forensic records written beside a
// batch (Options.Records), not of the lease file: the batch is refused
// all the same, as its records are not durable.
type recordsError struct{ err error }

func (e recordsError) Error() string { return e.err.Error() }
func (e recordsError) Unwrap() error { return e.err }

// failing names what failed in err, for the log lines of a fault.
func failing(err error) string {
	if errors.As(err, new(recordsError)) {
		return "forensic log"
	}
	return "lease file"
}

// enterFault starts an episode after err (a failed write, sync or header
// write). The caller has already tried to truncate the partial write away;
// every attempt truncates again before appending, so a file that could not
// be cut back now never gets a row appended after a torn one.
func (s *journal[O]) enterFault(err error) *lease.FaultError {
	f := &s.w.fault
	if f.err != nil {
		return f.err
	}
	f.err = &lease.FaultError{Path: s.path, Err: err, Since: s.now()}
	f.attempts, f.exhausted = 0, false
	f.errno = errnoName(err)
	s.fault.Store(f.err)
	s.stats.faults.Add(1)
	if f.timer == nil {
		f.timer = time.NewTimer(s.retryWait())
	} else {
		f.timer.Reset(s.retryWait())
	}
	s.log.Error(failing(err)+" write failed: refusing lease commits until it recovers",
		"path", s.path, "errno", f.errno, "err", err,
		"retry_wait_s", s.retryWait().Seconds(), "retry_limit", s.retryLimit())
	s.emit(lease.FaultEvent{Kind: lease.FaultFailed, Err: err, Since: f.err.Since})
	return f.err
}

// refuse fails every commit of batch with the current fault.
func (s *journal[O]) refuse(batch []*request[O], fe *lease.FaultError) {
	s.stats.refused.Add(uint64(len(batch)))
	for _, r := range batch {
		r.finish(fe)
	}
	s.emit(lease.FaultEvent{Kind: lease.FaultRefused, Err: fe.Err, Since: fe.Since,
		Attempts: s.w.fault.attempts, Refused: len(batch)})
}

// tryRecover is one recovery attempt, on the writer goroutine when the
// retry timer fires.
func (s *journal[O]) tryRecover() {
	f := &s.w.fault
	if f.err == nil {
		return
	}
	f.attempts++
	// The forensic records first: while they cannot be made durable (a
	// forensic log's database away), the lease file is left as it is.
	var err error
	if s.opts.Records != nil {
		if rerr := s.opts.Records.SyncRecords(); rerr != nil {
			err = recordsError{rerr}
		}
	}
	if err == nil {
		err = s.reestablish()
	}
	if err == nil {
		down := s.now().Sub(f.err.Since)
		s.log.Info("lease file recovered: accepting lease commits again", "path", s.path,
			"attempts", f.attempts, "down_s", down.Seconds(), "offset", s.w.off)
		ev := lease.FaultEvent{Kind: lease.FaultRecovered, Err: f.err.Err, Since: f.err.Since, Attempts: f.attempts}
		f.err = nil
		s.fault.Store(nil)
		s.emit(ev)
		return
	}
	s.stats.retries.Add(1)
	if n := errnoName(err); n != f.errno {
		// The fault changed nature (say ENOSPC became EIO): worth one line.
		f.errno = n
		s.log.Warn(failing(err)+" still failing, with another error", "path", s.path, "errno", n,
			"attempts", f.attempts, "err", err)
	}
	s.emit(lease.FaultEvent{Kind: lease.FaultRetry, Err: err, Since: f.err.Since, Attempts: f.attempts})
	if f.attempts >= s.retryLimit() && !f.exhausted {
		f.exhausted = true
		s.log.Error("lease file recovery attempts exhausted", "path", s.path, "attempts", f.attempts,
			"down_s", s.now().Sub(f.err.Since).Seconds(), "err", err)
		s.emit(lease.FaultEvent{Kind: lease.FaultExhausted, Err: err, Since: f.err.Since, Attempts: f.attempts})
	}
	f.timer.Reset(s.retryWait())
}

// reestablish makes the live file consistent and proves it writable: cut
// back to the last durable row, append that row again and fdatasync. On
// success w.off is the new durable size.
func (s *journal[O]) reestablish() error {
	w := &s.w
	if _, ok := w.f.(brokenJournal); ok {
		f, err := s.openFile(s.path)
		if err != nil {
			return fmt.Errorf("reopen lease file %s: %w", s.path, err)
		}
		w.f = f
	}
	if w.off == 0 || w.fault.lastRow == nil {
		// A fresh file whose header write failed, or a file of only a
		// header: nothing to lose, so it is rewritten.
		return s.writeHeader()
	}
	if err := w.f.Truncate(w.off); err != nil {
		return fmt.Errorf("truncate lease file %s to %d bytes: %w", s.path, w.off, err)
	}
	_, err := w.f.Write(w.fault.lastRow)
	if err == nil {
		// Synced whatever Options.Sync says: without it an EIO would go
		// unseen until the page cache is written back.
		s.stats.syncs.Add(1)
		err = w.f.Sync()
	}
	if err != nil {
		if terr := w.f.Truncate(w.off); terr != nil {
			err = errors.Join(err, fmt.Errorf("truncate: %w", terr))
		}
		return fmt.Errorf("append to lease file %s: %w", s.path, err)
	}
	w.off += int64(len(w.fault.lastRow))
	return nil
}

// stopRetry releases the retry timer (writer exit).
func (s *journal[O]) stopRetry() {
	if t := s.w.fault.timer; t != nil {
		t.Stop()
	}
}

// Fault returns the current storage fault, or nil while the lease file is
// healthy.
func (s *journal[O]) Fault() *lease.FaultError { return s.fault.Load() }

// errnoName is the errno in err as its C name ("ENOSPC"), or "" if err
// carries none.
func errnoName(err error) string {
	var e syscall.Errno
	if errors.As(err, &e) {
		if n := unix.ErrnoName(e); n != "" {
			return n
		}
		return e.Error()
	}
	return ""
}
