// Package cpuset reads and sets which CPUs threads may run on: the fast
// path pins its workers to the CPUs the process may use, and run-script
// keeps its scripts off the workers' CPUs where others are allowed.
package cpuset

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// maxCPU is how many CPUs a unix.CPUSet holds.
const maxCPU = len(unix.CPUSet{}) * 64

// Allowed returns the CPUs the calling thread may run on, in order. A
// goroutine not locked to a pinned thread sees the process's CPUs: those
// of taskset, a cpuset cgroup or systemd's CPUAffinity.
func Allowed() ([]int, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil, fmt.Errorf("sched_getaffinity: %w", err)
	}
	return List(set), nil
}

// List returns the CPUs in set, in order.
func List(set unix.CPUSet) []int {
	var out []int
	for c := 0; c < maxCPU; c++ {
		if set.IsSet(c) {
			out = append(out, c)
		}
	}
	return out
}

// Of returns the set of cpus; those a CPUSet cannot hold are left out.
func Of(cpus []int) unix.CPUSet {
	var set unix.CPUSet
	for _, c := range cpus {
		if c >= 0 && c < maxCPU {
			set.Set(c)
		}
	}
	return set
}

// Without returns the CPUs of all that are not in avoid.
func Without(all, avoid []int) []int {
	var out []int
	for _, c := range all {
		if !slices.Contains(avoid, c) {
			out = append(out, c)
		}
	}
	return out
}

// Format writes cpus as the kernel's lists do ("0-3,8").
func Format(cpus []int) string {
	var b strings.Builder
	for i := 0; i < len(cpus); {
		j := i
		for j+1 < len(cpus) && cpus[j+1] == cpus[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(cpus[i]))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(cpus[j]))
		}
		i = j + 1
	}
	return b.String()
}

// SetProcess sets the CPUs of every thread of process pid. Affinity is
// per thread, and a thread starts with its creator's: it goes over the
// threads until it finds no new one, as the process may start threads
// meanwhile; those started after inherit the set.
func SetProcess(pid int, cpus []int) error {
	set := Of(cpus)
	if set.Count() == 0 {
		return fmt.Errorf("no CPU in %v", cpus)
	}
	done := map[int]bool{}
	dir := fmt.Sprintf("/proc/%d/task", pid)
	for {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("threads of process %d: %w", pid, err)
		}
		more := false
		for _, e := range ents {
			tid, err := strconv.Atoi(e.Name())
			if err != nil || done[tid] {
				continue
			}
			done[tid], more = true, true
			if err := unix.SchedSetaffinity(tid, &set); err != nil && err != unix.ESRCH {
				return fmt.Errorf("sched_setaffinity thread %d of process %d: %w", tid, pid, err)
			}
		}
		if !more {
			return nil
		}
	}
}
