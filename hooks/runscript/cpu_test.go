package runscript

import (
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestDaemonCPUPerCall measures this process's CPU time (user + system,
// the children's excluded) per script call with the scripts started by the
// process itself and by the spawner, in interleaved rounds on one loaded
// machine, beside a heap of XDHCP_RUNSCRIPT_CPU_HEAP_MB (default 512)
// touched to stand for a daemon's address space, less the process's CPU
// while idle for as long. It is a measurement, not a check: set
// XDHCP_RUNSCRIPT_CPU=calls-per-round to run it.
//
//	XDHCP_RUNSCRIPT_CPU=300 go test -count=1 -v -run TestDaemonCPUPerCall ./hooks/runscript
func TestDaemonCPUPerCall(t *testing.T) {
	calls, _ := strconv.Atoi(os.Getenv("XDHCP_RUNSCRIPT_CPU"))
	if calls <= 0 {
		t.Skip("a measurement: set XDHCP_RUNSCRIPT_CPU=calls-per-round")
	}
	heapMB := 512
	if v, err := strconv.Atoi(os.Getenv("XDHCP_RUNSCRIPT_CPU_HEAP_MB")); err == nil {
		heapMB = v
	}
	heap := make([]byte, heapMB<<20)
	for i := 0; i < len(heap); i += 4096 {
		heap[i] = 1
	}
	name := script(t, "exit 0")
	cpu := func() time.Duration {
		var ru unix.Rusage
		_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	var total [2]time.Duration
	var wall [2]time.Duration
	for round := range 3 {
		for mode, spawner := range []bool{false, true} {
			r := New(Params{Name: name, Workers: 4, QueueSize: calls, Timeout: 10 * time.Second, Spawner: spawner}, nil)
			// The process's CPU while idle (the runtime's own wake-ups, the
			// wait below), per second, is taken off the figure: on a loaded
			// machine the calls' wall time varies tenfold.
			i0, iw0 := cpu(), time.Now()
			time.Sleep(time.Second)
			idle := float64(cpu()-i0) / float64(time.Since(iw0))
			c0, w0 := cpu(), time.Now()
			for range calls {
				r.LeaseEvent(event())
			}
			for deadline := time.Now().Add(time.Duration(calls) * 100 * time.Millisecond); r.finished.Load() < uint64(calls); time.Sleep(250 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("round %d spawner=%v: calls did not run: %+v", round, spawner, r.Counters())
				}
			}
			w1 := time.Now()
			c1 := cpu() - time.Duration(idle*float64(w1.Sub(w0)))
			r.Close()
			if c := r.Counters(); c.Run != uint64(calls) || c.Failed != 0 {
				t.Fatalf("counters %+v", c)
			}
			total[mode] += c1 - c0
			wall[mode] += w1.Sub(w0)
			t.Logf("round %d spawner=%-5v: %6.1f µs of this process's CPU per call, %5.2f s wall",
				round, spawner, float64((c1-c0).Microseconds())/float64(calls), w1.Sub(w0).Seconds())
		}
	}
	n := float64(3 * calls)
	t.Logf("direct %.1f µs/call, spawner %.1f µs/call: spawner/direct %.2f (wall %.2f)",
		float64(total[0].Microseconds())/n, float64(total[1].Microseconds())/n,
		float64(total[1])/float64(total[0]), float64(wall[1])/float64(wall[0]))
	runtime.KeepAlive(heap)
}
