package runscript

import (
	"sync"
	"time"
)

// Scripts beside the packet workers, under overload.
//
// A script that shares a packet worker's CPU costs that worker more than
// the CPU the script uses: the kernel (built without preemption, as
// distribution kernels mostly are) does not take the CPU from a process in
// the middle of its exec, page faults or exit, whatever its priority, so a
// worker woken by a packet waits for that section to end, and then runs on
// caches the script has filled. On an idle CPU that is harmless. Under a
// flood of calls (a queue that overflows: cached renewals call the script
// at the rate packets arrive) the scripts fill every gap the worker leaves,
// and in the benchmark's cached renewals on one core they cost it a tenth
// of its rate, though the calls they served were a tiny share of those
// made. So while calls are being dropped, the scripts that share the
// workers' CPUs are held to OverloadCPUPercent of one CPU, measured from
// each script's own CPU time (what wait4 reports for it and the children
// it waited for): a start waits until the scripts' use is back under that
// share. Calls meanwhile wait in the queue or are dropped, counted, as
// they were already. Where the scripts have CPUs of their own (see
// KeepOffCPUs), or the calls keep up, nothing is held.

// maxPaceWait bounds one start's wait, whatever the scripts overspent (a
// script that ran long): the share holds on average, not per script.
const maxPaceWait = 5 * time.Second

// pacer holds the scripts' CPU to share of one CPU. Safe for concurrent
// use.
type pacer struct {
	share float64 // of one CPU; 0 or ≥ 1: no bound
	burst time.Duration

	mu sync.Mutex
	// debt is the scripts' CPU beyond what the share allowed up to at;
	// below zero, the credit of a quiet spell (at most burst).
	debt time.Duration
	at   time.Time
}

// newPacer bounds the scripts to percent of one CPU, allowing a second's
// worth of it at once.
func newPacer(percent float64) *pacer {
	share := percent / 100
	return &pacer{share: share, burst: time.Duration(share * float64(time.Second))}
}

// bounded reports whether the pacer holds anything back.
func (p *pacer) bounded() bool { return p != nil && p.share > 0 && p.share < 1 }

// settleLocked pays the debt back at share of the wall time since at.
func (p *pacer) settleLocked(now time.Time) {
	if !p.at.IsZero() {
		p.debt -= time.Duration(p.share * float64(now.Sub(p.at)))
	}
	p.debt = max(p.debt, -p.burst)
	p.at = now
}

// spent counts a script's CPU.
func (p *pacer) spent(cpu time.Duration, now time.Time) {
	if !p.bounded() || cpu <= 0 {
		return
	}
	p.mu.Lock()
	p.settleLocked(now)
	p.debt += cpu
	p.mu.Unlock()
}

// wait is how long a start must wait at now for the scripts to be back
// under their share (0: start now).
func (p *pacer) wait(now time.Time) time.Duration {
	if !p.bounded() {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.settleLocked(now)
	if p.debt <= 0 {
		return 0
	}
	return min(time.Duration(float64(p.debt)/p.share), maxPaceWait)
}

// paceCheck is how often a held start looks again whether it is still
// held: the overload may end, or the share be paid back, meanwhile.
const paceCheck = 100 * time.Millisecond

// pace holds the next script start while the calls overflow, the scripts
// share the packet workers' CPUs and their CPU is over the share. It
// reports false when the Runner stops meanwhile.
func (r *Runner) pace() bool {
	for {
		if !r.overloaded() || !r.shared.Load() {
			return true
		}
		d := r.pacer.wait(time.Now())
		if d == 0 {
			return true
		}
		if !r.paced.Load() && r.paced.CompareAndSwap(false, true) {
			r.log.Warn("run-script: calls overflow and the scripts share the packet workers' CPUs: their starts are held to a share of a CPU",
				"overload_cpu_percent", r.p.OverloadCPUPercent)
		}
		t := time.NewTimer(min(d, paceCheck))
		select {
		case <-t.C:
		case <-r.stop:
			t.Stop()
			return false
		}
	}
}

// overloaded reports whether calls were dropped within about the last
// second (the overflow's log lines are going on).
func (r *Runner) overloaded() bool { return r.dropLogging.Load() }
