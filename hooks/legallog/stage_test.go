package legallog

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"xdhcp/hooks"
	"xdhcp/lease"
)

// killRecords is how many cached renewals the killed writer records:
// more than one 64 KiB piece, so that the file has part of them and the
// stage the rest.
const killRecords = 300

// TestStageSurvivesKill: the records of replies Flush let leave are in the
// log file after the process is killed with SIGKILL and the log is opened
// again, though no sync wrote them to the file, each once.
func TestStageSurvivesKill(t *testing.T) {
	if dir := os.Getenv("XDHCP_LEGALLOG_KILL_DIR"); dir != "" {
		killedWriter(t, dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run", "^TestStageSurvivesKill$", "-test.count=1")
	cmd.Env = append(os.Environ(), "XDHCP_LEGALLOG_KILL_DIR="+dir)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the writer was not killed: %v\n%s", err, out)
	}
	names, _ := filepath.Glob(filepath.Join(dir, "kea-legal*.txt"))
	if len(names) != 1 {
		t.Fatalf("log files %v", names)
	}
	before, _ := os.ReadFile(names[0])
	if n := strings.Count(string(before), "\n"); n == 0 || n >= killRecords {
		t.Fatalf("%d of %d records in the file before the restart: want some (the 64 KiB pieces), not all", n, killRecords)
	}
	l, err := Open(params(t, `{"path": "`+dir+`"}`), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(names[0])
	le := testLease()
	for range killRecords {
		le.Addr = le.Addr.Next()
		if n := strings.Count(string(b), "Address: "+le.Addr.String()+" "); n != 1 {
			t.Errorf("%s: %d records after the restart, want 1", le.Addr, n)
		}
	}
	if n := strings.Count(string(b), "\n"); n != killRecords {
		t.Errorf("%d records after the restart, want %d", n, killRecords)
	}
}

// killedWriter records killRecords cached renewals in a log in dir, lets
// their replies leave (Flush), and kills its own process before any sync
// could write the stage to the file.
func killedWriter(t *testing.T, dir string) {
	l, err := Open(params(t, `{"path": "`+dir+`"}`), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Every sync slot held: neither a sync nor the ticker drains the
	// stage (the ticker waits in its first sync, before any checkpoint).
	for range cap(l.syncSlots) {
		l.syncSlots <- struct{}{}
	}
	le := testLease()
	for range killRecords {
		le.Addr = le.Addr.Next()
		l.LeaseEvent(&hooks.Event{Point: hooks.Leases4Committed, Time: time.Now(), Query: relayedRequest(), Leases: []lease.Lease{le}, Cached: true})
	}
	if tk := l.Flush(); tk != 0 {
		t.Fatalf("Flush gave ticket %d", tk)
	}
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	time.Sleep(time.Minute)
}

// TestStageOfAnotherBoot: what a stage holds is appended to its file at
// start when it was written in this boot, and not when it was written in
// another (after a power failure its pages may be any mix of old and new).
func TestStageOfAnotherBoot(t *testing.T) {
	for _, other := range []bool{false, true} {
		dir := t.TempDir()
		p := params(t, `{"path": "`+dir+`"}`)
		l, err := Open(p, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		file := l.FileName()
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		s, held, err := openStage(stageName(p))
		if err != nil {
			t.Fatal(err)
		}
		if held != nil {
			t.Fatalf("a stage closed cleanly holds %q", held.data)
		}
		s.start(file, 0)
		s.add([]byte("a record\n"))
		if other {
			copy(s.mem[stageOffBoot:], "00000000-0000-0000-0000-000000000000")
		}
		s.close()
		l, err = Open(p, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(file)
		if want := map[bool]string{false: "a record\n", true: ""}[other]; string(b) != want {
			t.Errorf("stage of another boot %v: file %q, want %q", other, b, want)
		}
	}
}

// TestStageCutByAnotherProcess: a stage whose file another process cuts
// (a rotation tool truncating every file of the directory) faults when
// touched; the log gives it up, counts and logs it, puts the records it
// held, synced through the write-ahead file but not yet in the log file,
// back into the file, and goes on writing records to the file at once,
// without crashing.
func TestStageCutByAnotherProcess(t *testing.T) {
	dir := t.TempDir()
	p := params(t, `{"path": "`+dir+`"}`)
	l, err := Open(p, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	le := testLease()
	renew := func() {
		le.Addr = le.Addr.Next()
		l.LeaseEvent(&hooks.Event{Point: hooks.Leases4Committed, Time: time.Now(), Query: relayedRequest(), Leases: []lease.Lease{le}, Cached: true})
		l.Flush()
	}
	renew()
	// Synced as a cached renewal's are: durable in the write-ahead file,
	// in the file only at the ticker's next sync.
	if err := l.sync(true, false); err != nil {
		t.Fatal(err)
	}
	if b := l.Synced(); b == 0 {
		t.Fatal("the record was not synced")
	}
	if b, _ := os.ReadFile(l.FileName()); strings.Contains(string(b), "192.2.1.101") {
		t.Fatal("the synced record is in the file already: the test would not see it restored")
	}
	if err := os.Truncate(stageName(p), 0); err != nil {
		t.Fatal(err)
	}
	renew() // faults: the stage is given up, the record written at once
	renew()
	if err := l.SyncRecords(); err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	gone := l.file.stage == nil
	l.mu.Unlock()
	if !gone {
		t.Fatal("the log kept a stage whose file was cut")
	}
	if c := l.Counters(); c.WriteErrors == 0 {
		t.Errorf("counters %+v: the stage's loss not counted", c)
	}
	b, _ := os.ReadFile(l.FileName())
	for _, a := range []string{"192.2.1.101", "192.2.1.102", "192.2.1.103"} {
		if strings.Count(string(b), "Address: "+a+" ") != 1 {
			t.Errorf("record of %s missing after the stage was cut: %q", a, b)
		}
	}
}
