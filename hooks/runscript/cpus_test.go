package runscript

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"xdhcp/internal/cpuset"
)

// TestKeepOffCPUs runs a script that reads its own CPUs: off the CPU
// given once the runner keeps off it, on all of the process's again once
// no CPU is left to it, and in a spawner started again after a kill.
func TestKeepOffCPUs(t *testing.T) {
	all, err := cpuset.Allowed()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 2 {
		t.Skip("needs two CPUs")
	}
	out := filepath.Join(t.TempDir(), "cpus")
	r := New(Params{Name: script(t, "grep Cpus_allowed_list /proc/self/status > "+out), Workers: 1, QueueSize: 4,
		Timeout: 5 * time.Second, Spawner: true}, nil)
	defer r.Close()
	runs := uint64(0)
	cpus := func() string {
		t.Helper()
		os.Remove(out)
		runs++
		r.LeaseEvent(event())
		waitFor(t, "the script", func() bool { return r.Counters().Run == runs && r.finished.Load() == runs })
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(strings.TrimPrefix(string(b), "Cpus_allowed_list:"))
	}
	if got, want := cpus(), cpuset.Format(all); got != want {
		t.Errorf("before: script on CPUs %s, want the process's %s", got, want)
	}
	if !r.shared.Load() {
		t.Error("before: the scripts are not held to their share under overload")
	}
	r.KeepOffCPUs(all[:1])
	if got, want := cpus(), cpuset.Format(all[1:]); got != want {
		t.Errorf("kept off %d: script on CPUs %s, want %s", all[0], got, want)
	}
	if r.shared.Load() {
		t.Error("kept off: the scripts, on CPUs of their own, are still held to their share under overload")
	}

	// A spawner started again after its death is kept off them too.
	old := r.sp.Load()
	if err := old.proc.Kill(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the spawner's restart", func() bool { s := r.sp.Load(); return s != nil && s != old })
	if got, want := cpus(), cpuset.Format(all[1:]); got != want {
		t.Errorf("restarted spawner: script on CPUs %s, want %s", got, want)
	}

	r.KeepOffCPUs(all)
	if got, want := cpus(), cpuset.Format(all); got != want {
		t.Errorf("no CPU left: script on CPUs %s, want the process's %s", got, want)
	}
	if !r.shared.Load() {
		t.Error("no CPU left: the scripts, beside the workers, are not held to their share under overload")
	}
}
