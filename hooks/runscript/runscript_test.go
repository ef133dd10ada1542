package runscript

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"xdhcp/hooks"
	"xdhcp/internal/testlog"
	"xdhcp/lease"
)

func TestMain(m *testing.M) {
	// The test binary serves as the spawner, as xdhcpd does.
	if IsSpawner() {
		os.Exit(ServeSpawner())
	}
	os.Exit(m.Run())
}

// bothWays runs f with the scripts started by the process itself and by
// the spawner.
func bothWays(t *testing.T, f func(t *testing.T, spawner bool)) {
	t.Run("direct", func(t *testing.T) { f(t, false) })
	t.Run("spawner", func(t *testing.T) { f(t, true) })
}

func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "s.sh")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func event() *hooks.Event {
	return &hooks.Event{Point: hooks.Lease4Expire, Leases: []lease.Lease{{
		Addr: netip.MustParseAddr("192.0.2.7"), HWAddr: []byte{2, 0, 0, 0, 0, 7}, ValidLft: 3600, SubnetID: 1}},
		RemoveLease: true}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// runOnce runs the script body(out) once for event() on a runner of one
// worker (kept in *rp when rp is not nil) and returns what it wrote to out.
func runOnce(t *testing.T, spawner bool, body func(out string) string, rp **Runner) []byte {
	t.Helper()
	return runOnceAt(t, spawner, "", body, rp)
}

// runOnceAt is runOnce with the scripts at prio.
func runOnceAt(t *testing.T, spawner bool, prio Priority, body func(out string) string, rp **Runner) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out")
	r := New(Params{Name: script(t, body(out)), Workers: 1, QueueSize: 4, Timeout: 5 * time.Second, Spawner: spawner, Priority: prio}, nil)
	if rp != nil {
		*rp = r
	}
	r.LeaseEvent(event())
	if !r.Drain(5 * time.Second) {
		t.Fatal("the call did not run")
	}
	r.Close()
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEnvironmentAndArgument(t *testing.T) { bothWays(t, testEnvironmentAndArgument) }

func testEnvironmentAndArgument(t *testing.T, spawner bool) {
	b := runOnce(t, spawner, func(out string) string { return `{ echo "$1"; /usr/bin/env; } > ` + out }, nil)
	for _, want := range []string{"lease4_expire\n", "LEASE4_ADDRESS=192.0.2.7\n", "LEASE4_HWADDR=02:00:00:00:00:07\n",
		"LEASE4_HWADDR_TYPE=1\n", "LEASE4_STATE=default\n", "LEASE4_VALID_LIFETIME=3600\n", "REMOVE_LEASE=true\n", "LEASE4_CLIENT_ID=\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("script saw no %q:\n%s", want, b)
		}
	}
	if strings.Contains(string(b), "HOME=") {
		t.Error("the script inherited the daemon's environment")
	}
}

func TestHangingScriptNeverBlocksAndIsKilled(t *testing.T) {
	bothWays(t, testHangingScriptNeverBlocksAndIsKilled)
}

func testHangingScriptNeverBlocksAndIsKilled(t *testing.T, spawner bool) {
	// The script starts a grandchild too: the timeout kills both.
	r := New(Params{Name: script(t, "sleep 60 & sleep 60"), Workers: 1, QueueSize: 2, Timeout: 300 * time.Millisecond,
		Spawner: spawner}, nil)
	start := time.Now()
	for range 10 {
		r.LeaseEvent(event())
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("10 calls took %v: the caller waited for the script", d)
	}
	c := r.Counters()
	if c.Queued+c.Dropped != 10 || c.Dropped < 7 {
		t.Errorf("counters %+v: want the queue (2) and one running call taken, the rest dropped", c)
	}
	waitFor(t, "a timeout", func() bool { return r.Counters().TimedOut > 0 })
	start = time.Now()
	r.Close()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v", d)
	}
	if c := r.Counters(); c.TimedOut+c.Failed != c.Run || c.Run > 3 {
		t.Errorf("counters %+v: every run should have timed out or been killed at Close, the queue discarded", c)
	}
}

func TestFailingScriptCounted(t *testing.T) { bothWays(t, testFailingScriptCounted) }

func testFailingScriptCounted(t *testing.T, spawner bool) {
	// The scripts run at nice 19: on a loaded machine one can wait
	// seconds for a CPU, which is not what this test is about.
	r := New(Params{Name: script(t, "exit 3"), Workers: 2, QueueSize: 8, Timeout: time.Minute, Spawner: spawner}, nil)
	for range 3 {
		r.LeaseEvent(event())
	}
	r.Drain(time.Minute)
	r.Close()
	if c := r.Counters(); c.Failed != 3 || c.Run != 3 {
		t.Errorf("counters %+v, want 3 runs failed", c)
	}
	// Nothing is queued after Close.
	r.LeaseEvent(event())
	if c := r.Counters(); c.Queued != 3 {
		t.Errorf("a call was queued after Close: %+v", c)
	}
}

func TestParams(t *testing.T) {
	ok := script(t, "exit 0")
	p, err := ParseParams(json.RawMessage(`{"name": "` + ok + `", "sync": true, "workers": 2, "queue-size": 10, "timeout-seconds": 1.5}`))
	if err != nil || p.Workers != 2 || p.QueueSize != 10 || p.Timeout != 1500*time.Millisecond || !p.Sync {
		t.Errorf("params %+v, %v", p, err)
	}
	if p, err := ParseParams(json.RawMessage(`{"name": "` + ok + `"}`)); err != nil || !p.Spawner {
		t.Errorf("default params %+v, %v: want the spawner", p, err)
	}
	if p, err := ParseParams(json.RawMessage(`{"name": "` + ok + `", "spawner": false}`)); err != nil || p.Spawner {
		t.Errorf("params %+v, %v: want no spawner", p, err)
	}
	if p, err := ParseParams(json.RawMessage(`{"name": "` + ok + `", "priority": "low"}`)); err != nil || p.Priority != PriorityLow {
		t.Errorf("params %+v, %v: want priority low", p, err)
	}
	if p, err := ParseParams(json.RawMessage(`{"name": "` + ok + `"}`)); err != nil || p.OverloadCPUPercent != DefaultOverloadCPUPercent {
		t.Errorf("default params %+v, %v: want overload-cpu-percent %v", p, err, DefaultOverloadCPUPercent)
	}
	if p, err := ParseParams(json.RawMessage(`{"name": "` + ok + `", "overload-cpu-percent": 12.5}`)); err != nil || p.OverloadCPUPercent != 12.5 {
		t.Errorf("params %+v, %v: want overload-cpu-percent 12.5", p, err)
	}
	for _, js := range []string{`{}`, `{"name": "/nonexistent"}`, `{"name": "/tmp"}`, `{"name": "` + ok + `", "workers": 0}`,
		`{"name": "` + ok + `", "timeout-seconds": 0}`, `{"name": 5}`, `{"name": "` + ok + `", "priority": "high"}`,
		`{"name": "` + ok + `", "overload-cpu-percent": 0}`, `{"name": "` + ok + `", "overload-cpu-percent": 101}`,
		`{"name": "` + ok + `", "overload-cpu-percent": "2"}`} {
		if _, err := ParseParams(json.RawMessage(js)); err == nil {
			t.Errorf("%s accepted", js)
		}
	}
}

// The script runs under SCHED_IDLE by default, at nice 19 with priority
// "low" (/proc/PID/stat: nice is field 19, the policy field 41). Both are
// set just after the exec: the script looks a moment later.
func TestScriptPriority(t *testing.T) { bothWays(t, testScriptPriority) }

func testScriptPriority(t *testing.T, spawner bool) {
	for _, c := range []struct {
		prio         Priority
		nice, policy string
	}{{"", "19", "5"}, {PriorityIdle, "19", "5"}, {PriorityLow, "19", "0"}} {
		var r *Runner
		b := runOnceAt(t, spawner, c.prio, func(out string) string { return `sleep 0.2; cut -d' ' -f19,41 /proc/$$/stat > ` + out }, &r)
		if got, want := strings.TrimSpace(string(b)), c.nice+" "+c.policy; got != want {
			t.Errorf("priority %q: script's nice and policy %q, want %q", c.prio, got, want)
		}
		if c := r.Counters(); c.Failed != 0 || c.Run != 1 {
			t.Errorf("counters %+v", c)
		}
	}
}

// The spawner runs every thread at the scripts' priority, so that a script
// is at it from its first instruction (a child inherits its parent's nice
// and policy): SCHED_IDLE by default, nice 19 and SCHED_OTHER with "low".
func TestSpawnerAtScriptPriority(t *testing.T) {
	for _, c := range []struct {
		prio         Priority
		nice, policy string
	}{{"", "19", "5"}, {PriorityLow, "19", "0"}} {
		r := New(Params{Name: script(t, "exit 0"), Workers: 1, QueueSize: 4, Timeout: 5 * time.Second, Spawner: true, Priority: c.prio}, nil)
		s := r.sp.Load()
		if s == nil {
			r.Close()
			t.Fatal("no spawner started")
		}
		waitThreadsAt(t, s.proc.Pid, c.nice, c.policy)
		r.Close()
	}
}

// waitThreadsAt waits until every thread of process pid runs at nice and
// policy (/proc/PID/task/TID/stat: nice is the 19th field, the policy the
// 41st). The spawner lowers its threads as it starts; its runtime's
// threads exist before its main runs.
func waitThreadsAt(t *testing.T, pid int, nice, policy string) {
	t.Helper()
	var off []string
	defer func() {
		if t.Failed() {
			t.Logf("threads not at nice %s, policy %s: %v", nice, policy, off)
		}
	}()
	waitFor(t, fmt.Sprintf("the spawner's threads at nice %s, policy %s", nice, policy), func() bool {
		tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
		if err != nil || len(tasks) == 0 {
			t.Fatalf("spawner's threads: %v %v", tasks, err)
		}
		off = off[:0]
		for _, task := range tasks {
			b, err := os.ReadFile(task)
			if err != nil {
				return false // a thread that ended meanwhile
			}
			// The fields after the command's closing parenthesis start at the 3rd.
			if f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:])); f[16] != nice || f[38] != policy {
				off = append(off, fmt.Sprintf("%s at nice %s, policy %s", task, f[16], f[38]))
			}
		}
		return len(off) == 0
	})
}

// A killed spawner is logged, counted and restarted; the calls after its
// restart run; it runs wholly (every thread) at the scripts' priority.
func TestSpawnerRestartedAfterDeath(t *testing.T) {
	var logged testlog.Buffer
	r := New(Params{Name: script(t, "exit 0"), Workers: 1, QueueSize: 4, Timeout: 5 * time.Second, Spawner: true},
		slog.New(slog.NewTextHandler(&logged, nil)))
	defer r.Close()
	s := r.sp.Load()
	if s == nil {
		t.Fatal("no spawner started")
	}
	waitThreadsAt(t, s.proc.Pid, "19", "5")
	if err := s.proc.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the spawner's restart", func() bool { return r.Counters().SpawnerRestarts == 1 && r.sp.Load() != s && r.sp.Load() != nil })
	waitThreadsAt(t, r.sp.Load().proc.Pid, "19", "5")
	if !strings.Contains(logged.String(), "run-script spawner died") {
		t.Errorf("the death was not logged:\n%s", logged.String())
	}
	for range 3 {
		r.LeaseEvent(event())
	}
	if !r.Drain(5 * time.Second) {
		t.Fatalf("calls after the restart did not run: %+v", r.Counters())
	}
	if c := r.Counters(); c.Run != 3 || c.Failed != 0 || c.Queued != 3 {
		t.Errorf("counters %+v, want 3 runs", c)
	}
}
