package memfile

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"xdhcp/lease"

	"golang.org/x/sys/unix"
)

// The suffixes Kea's memfile backend and kea-lfc give the lease files
// (Memfile_LeaseMgr::appendSuffix).
const (
	sufInput     = ".1"         // rotated live file, LFC input
	sufPrevious  = ".2"         // result of the previous LFC
	sufOutput    = ".output"    // LFC result being written
	sufCompleted = ".completed" // LFC result, complete
	sufPID       = ".pid"       // PID of the running kea-lfc
)

// RunLFC runs Kea's lease file cleanup in-process, leaving exactly the
// files kea-lfc would, so kea-dhcp4 or kea-lfc can take over:
//
//  1. unless <name>.completed or <name>.1 exists (an interrupted run),
//     rotate: the live file becomes <name>.1 and appends continue in a
//     fresh <name> (the writer pauses only for the rename and the header);
//  2. unless <name>.completed exists, load <name>.2 then <name>.1 (last
//     row per address wins, valid lifetime 0 deletes), write the surviving
//     leases, expired ones included, to <name>.output, and rename it to
//     <name>.completed;
//  3. delete <name>.2 and <name>.1 and rename <name>.completed to <name>.2.
//
// While it runs, <name>.pid holds our PID, as kea-lfc's does. If a run is
// already in progress (here, or a kea-lfc named by <name>.pid) it returns
// ErrLFCRunning without doing anything. With Persist false it does nothing.
func (s *journal[O]) RunLFC() error {
	if !s.opts.Persist {
		return nil
	}
	// Registering under qmu orders this run before Close's wait.
	s.qmu.Lock()
	if s.closed {
		s.qmu.Unlock()
		return lease.ErrClosed
	}
	s.lfcRuns.Add(1)
	s.qmu.Unlock()
	defer s.lfcRuns.Done()
	if !s.lfcBusy.CompareAndSwap(false, true) {
		return ErrLFCRunning
	}
	defer s.lfcBusy.Store(false)
	_, err := s.lfc()
	return err
}

func (s *journal[O]) lfcLoop(interval time.Duration) {
	defer s.bg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			err := s.RunLFC()
			switch {
			case errors.Is(err, ErrLFCRunning):
				s.log.Info("lease file cleanup skipped: previous run still in progress", "path", s.path)
			case errors.Is(err, lease.ErrClosed):
				return
			case err != nil:
				s.log.Error("lease file cleanup failed", "path", s.path, "err", err)
			}
		}
	}
}

// lfc does one cleanup run; the caller holds lfcBusy. It reports whether
// it rotated the live file.
func (s *journal[O]) lfc() (rotated bool, err error) {
	start := s.now()
	pidPath := s.path + sufPID
	if pid, alive := livePID(pidPath); alive {
		return false, fmt.Errorf("%w: pid %d in %s", ErrLFCRunning, pid, pidPath)
	}
	if err := os.WriteFile(pidPath, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o640); err != nil {
		return false, fmt.Errorf("write lfc pid file: %w", err)
	}
	defer func() {
		if rerr := os.Remove(pidPath); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = errors.Join(err, fmt.Errorf("remove lfc pid file: %w", rerr))
		}
	}()

	input, completed := s.path+sufInput, s.path+sufCompleted
	if !exists(completed) && !exists(input) {
		if err := s.requestRotate(); err != nil {
			return false, err
		}
		rotated = true
	}
	leases := -1
	if !exists(completed) {
		n, err := s.compact()
		if err != nil {
			return rotated, err
		}
		leases = n
	}
	if err := s.finishLFC(); err != nil {
		return rotated, err
	}
	s.stats.lfcRuns.Add(1)
	s.log.Info("lease file cleanup done", "path", s.path, "leases", leases, "rotated", rotated,
		"seconds", s.now().Sub(start).Seconds())
	return rotated, nil
}

// requestRotate has the writer goroutine rotate the live file.
func (s *journal[O]) requestRotate() error {
	reply := make(chan error, 1)
	select {
	case s.rotateCh <- reply:
	case <-s.writerDone:
		return lease.ErrClosed
	}
	select {
	case err := <-reply:
		return err
	case <-s.writerDone:
		return lease.ErrClosed
	}
}

// compact merges <name>.2 and <name>.1 into <name>.completed (via
// <name>.output) and returns the number of leases written.
func (s *journal[O]) compact() (int, error) {
	out := s.path + sufOutput
	n, err := s.tab.compactFiles([]string{s.path + sufPrevious, s.path + sufInput}, out)
	if err != nil {
		return 0, fmt.Errorf("lease file cleanup: %w", err)
	}
	if err := os.Rename(out, s.path+sufCompleted); err != nil {
		return 0, fmt.Errorf("lease file cleanup: %w", err)
	}
	if err := syncDir(filepath.Dir(s.path)); err != nil {
		return 0, fmt.Errorf("lease file cleanup: %w", err)
	}
	return n, nil
}

// writeLeaseFile writes header and the rows rows emits (it stops when emit
// returns false) as a complete durable lease file at path.
func writeLeaseFile(path, header string, rows func(emit func(row []byte) bool)) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close %s: %w", path, cerr)
		}
	}()
	bw := bufio.NewWriterSize(f, 256<<10)
	bw.WriteString(header + "\n")
	rows(func(row []byte) bool {
		_, err = bw.Write(row)
		return err == nil
	})
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := newOSJournal(f, false).Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return nil
}

// finishLFC is kea-lfc's fileRotate: drop the inputs and make the
// completed file the new <name>.2.
func (s *journal[O]) finishLFC() error {
	for _, p := range []string{s.path + sufPrevious, s.path + sufInput} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("lease file cleanup: %w", err)
		}
	}
	if err := os.Rename(s.path+sufCompleted, s.path+sufPrevious); err != nil {
		return fmt.Errorf("lease file cleanup: %w", err)
	}
	if err := syncDir(filepath.Dir(s.path)); err != nil {
		return fmt.Errorf("lease file cleanup: %w", err)
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// livePID reads a kea-lfc style PID file and reports whether the process
// it names is alive (kill(pid, 0) succeeds or fails with EPERM), which is
// how Kea's PIDFile::check decides. A missing or unreadable file means no.
func livePID(path string) (int, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	err = unix.Kill(pid, 0)
	return pid, err == nil || errors.Is(err, unix.EPERM)
}
