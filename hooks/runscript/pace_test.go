package runscript

import (
	"testing"
	"time"
)

// TestPacer: the scripts' CPU beyond their share makes a start wait the
// wall time the share takes to pay it back, a quiet spell's credit is
// bounded by a second's share, one wait by maxPaceWait, and a share of
// 100% holds nothing.
func TestPacer(t *testing.T) {
	p := newPacer(10) // 100 ms of CPU a second
	t0 := time.Unix(1000, 0)
	if d := p.wait(t0); d != 0 {
		t.Fatalf("fresh: wait %v, want 0", d)
	}
	p.spent(300*time.Millisecond, t0)
	if d := p.wait(t0); d != 3*time.Second {
		t.Errorf("300 ms over: wait %v, want 3s", d)
	}
	if d := p.wait(t0.Add(time.Second)); d != 2*time.Second {
		t.Errorf("a second later: wait %v, want 2s", d)
	}
	// A minute's quiet leaves a second's share of credit, no more.
	t1 := t0.Add(time.Minute)
	if d := p.wait(t1); d != 0 {
		t.Errorf("paid back: wait %v, want 0", d)
	}
	p.spent(150*time.Millisecond, t1)
	if d := p.wait(t1); d != 500*time.Millisecond {
		t.Errorf("150 ms after the credit of 100: wait %v, want 500ms", d)
	}
	p.spent(time.Hour, t1)
	if d := p.wait(t1); d != maxPaceWait {
		t.Errorf("an hour over: wait %v, want %v", d, maxPaceWait)
	}
	free := newPacer(100)
	free.spent(time.Hour, t1)
	if d := free.wait(t1); d != 0 || free.bounded() {
		t.Errorf("100%%: wait %v, bounded %v; want no bound", d, free.bounded())
	}
}

// TestOverloadHoldsScriptsToTheirShare floods a runner of two workers and
// a one-call queue with calls for a script that burns CPU, for floodFor:
// with overload-cpu-percent 100 the scripts take what CPU they can; with
// 5 they take at most 5% of the flood's time, the second's credit, and
// what the scripts running when the share ran out spent (each worker's
// last one). The scripts run at nice 19, so on a machine busy with other
// work the unbounded flood may get too little CPU for the bound to show:
// it is then run longer, and the test skipped if it still does not.
func TestOverloadHoldsScriptsToTheirShare(t *testing.T) {
	bothWays(t, func(t *testing.T, spawner bool) {
		// About 20 ms of CPU per call, measured in the unbounded run.
		name := script(t, "i=0; while [ $i -lt 4000 ]; do i=$((i+1)); done")
		flood := func(percent float64, floodFor time.Duration) (cpu time.Duration, run uint64, longest time.Duration) {
			r := New(Params{Name: name, Workers: 2, QueueSize: 1, Timeout: 10 * time.Second, Spawner: spawner,
				Priority: PriorityLow, OverloadCPUPercent: percent}, nil)
			for end := time.Now().Add(floodFor); time.Now().Before(end); time.Sleep(time.Millisecond) {
				r.LeaseEvent(event())
			}
			c := r.Counters()
			r.Close()
			if c.Run > 0 {
				longest = c.CPU / time.Duration(c.Run) * 3 // generous: scripts vary
			}
			return c.CPU, c.Run, longest
		}
		for _, floodFor := range []time.Duration{time.Second, 3 * time.Second} {
			freeCPU, freeRun, perScript := flood(100, floodFor)
			if freeRun == 0 || freeCPU == 0 {
				t.Fatalf("unbounded: %d scripts ran, %v of CPU counted", freeRun, freeCPU)
			}
			bound := time.Duration(0.05*float64(floodFor)) + 50*time.Millisecond + 2*perScript
			t.Logf("unbounded for %v: %d scripts, %v of CPU (%v each); bound at 5%%: %v", floodFor, freeRun, freeCPU, freeCPU/time.Duration(freeRun), bound)
			if freeCPU < 2*bound {
				continue // a busy machine: try longer
			}
			cpu, run, _ := flood(5, floodFor)
			t.Logf("at 5%%: %d scripts, %v of CPU", run, cpu)
			if cpu > bound || run == 0 {
				t.Errorf("at 5%%: %d scripts took %v of CPU in %v, want some and at most %v", run, cpu, floodFor, bound)
			}
			return
		}
		t.Skip("the unbounded scripts got too little CPU for the bound to show: the machine is busy")
	})
}
