package runscript

import (
	"slices"

	"xdhcp/internal/cpuset"
)

// Scripts off the packet workers' CPUs.
//
// A script runs where the spawner runs, and by default that is wherever
// the daemon may run, the fast path's pinned workers' CPUs included. A
// script sharing a worker's CPU delays that worker's replies even at the
// lowest priority: each time the worker sleeps the script runs, and each
// time it wakes the CPU switches back from another address space (a
// process's start is page faults and cache misses, and the kernel does not
// preempt a script in the middle of a system call). With the bench's
// server confined to one core, scripts beside it moved its knee by tens of
// percent from run to run. So once the workers are pinned, the spawner and
// its scripts are kept to the CPUs the daemon may use and no worker is
// pinned to. Where no such CPU is left (the daemon confined to its
// workers' CPUs), they share them, as before.

// KeepOffCPUs keeps the scripts off cpus (the pinned workers' CPUs) where
// the daemon may use another CPU, and lets them run on every CPU it may
// use otherwise. It applies to the spawner running and to those started
// after it; without a spawner the daemon's own threads start the scripts,
// and they are left as they are.
func (r *Runner) KeepOffCPUs(cpus []int) {
	if !r.p.Spawner {
		return
	}
	all, err := cpuset.Allowed()
	if err != nil {
		r.log.Warn("run-script: scripts may run on the packet workers' CPUs", "err", err)
		return
	}
	keep := cpuset.Without(all, cpus)
	if len(keep) == 0 {
		keep = all
	}
	// Scripts on CPUs of their own are not held to a share under
	// overload (see pace.go).
	r.shared.Store(len(keep) == len(all))
	r.cpuMu.Lock()
	defer r.cpuMu.Unlock()
	if slices.Equal(keep, r.scriptCPUs) {
		return
	}
	r.scriptCPUs = keep
	if s := r.sp.Load(); s != nil {
		r.placeSpawnerLocked(s)
	}
	if len(keep) < len(all) {
		r.log.Info("run-script: scripts run off the packet workers' CPUs", "cpus", cpuset.Format(keep),
			"workers", cpuset.Format(cpus))
	}
}

// placeSpawnerLocked moves s to scriptCPUs (under cpuMu).
func (r *Runner) placeSpawnerLocked(s *spawner) {
	if r.scriptCPUs == nil {
		return
	}
	if err := cpuset.SetProcess(s.proc.Pid, r.scriptCPUs); err != nil {
		r.log.Warn("run-script: cannot move the spawner's CPUs", "cpus", cpuset.Format(r.scriptCPUs), "err", err)
	}
}
