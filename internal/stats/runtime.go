package stats

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

// WriteRuntime writes the Go runtime and process series a soak test or an
// operator watches for leaks (go_goroutines, go_memstats_*, process_open_fds,
// process_resident_memory_bytes, ...), under the names and meanings the
// Prometheus Go client gives them, so existing dashboards work. It reads
// runtime.MemStats (a short stop of the world, as the Go client does) and
// /proc/self; a /proc file that cannot be read leaves its series out.
func WriteRuntime(e *Exposition) {
	gauge := func(name, help string, v float64) {
		if e.Family(name, KindGauge, help) {
			e.Float("", nil, v)
		}
	}
	counter := func(name, help string, v float64) {
		if e.Family(name, KindCounter, help) {
			e.Float("", nil, v)
		}
	}

	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	gauge("go_goroutines", "Number of goroutines that currently exist.", float64(runtime.NumGoroutine()))
	threads, _ := runtime.ThreadCreateProfile(nil)
	gauge("go_threads", "Number of OS threads created.", float64(threads))
	gauge("go_gomaxprocs", "The value of GOMAXPROCS.", float64(runtime.GOMAXPROCS(0)))
	if e.Family("go_info", KindGauge, "Information about the Go environment.") {
		e.Int("", []Label{{"version", runtime.Version()}}, 1)
	}
	writeGCSummary(e)
	for _, m := range []struct {
		name, help string
		v          uint64
	}{
		{"go_memstats_alloc_bytes", "Number of bytes allocated and still in use.", ms.Alloc},
		{"go_memstats_sys_bytes", "Number of bytes obtained from system.", ms.Sys},
		{"go_memstats_heap_alloc_bytes", "Number of heap bytes allocated and still in use.", ms.HeapAlloc},
		{"go_memstats_heap_sys_bytes", "Number of heap bytes obtained from system.", ms.HeapSys},
		{"go_memstats_heap_idle_bytes", "Number of heap bytes waiting to be used.", ms.HeapIdle},
		{"go_memstats_heap_inuse_bytes", "Number of heap bytes that are in use.", ms.HeapInuse},
		{"go_memstats_heap_released_bytes", "Number of heap bytes released to OS.", ms.HeapReleased},
		{"go_memstats_heap_objects", "Number of allocated objects.", ms.HeapObjects},
		{"go_memstats_stack_inuse_bytes", "Number of bytes in use by the stack allocator.", ms.StackInuse},
		{"go_memstats_stack_sys_bytes", "Number of bytes obtained from system for stack allocator.", ms.StackSys},
		{"go_memstats_gc_sys_bytes", "Number of bytes used for garbage collection system metadata.", ms.GCSys},
		{"go_memstats_next_gc_bytes", "Number of heap bytes when next garbage collection will take place.", ms.NextGC},
	} {
		gauge(m.name, m.help, float64(m.v))
	}
	gauge("go_memstats_last_gc_time_seconds", "Number of seconds since 1970 of last garbage collection.",
		float64(ms.LastGC)/1e9)
	counter("go_memstats_alloc_bytes_total", "Total number of bytes allocated, even if freed.", float64(ms.TotalAlloc))
	counter("go_memstats_mallocs_total", "Total number of mallocs.", float64(ms.Mallocs))
	counter("go_memstats_frees_total", "Total number of frees.", float64(ms.Frees))

	writeProcess(e, gauge, counter)
}

// writeGCSummary writes go_gc_duration_seconds, the Go client's summary of
// garbage collection pause times.
func writeGCSummary(e *Exposition) {
	var gc debug.GCStats
	gc.PauseQuantiles = make([]time.Duration, 5)
	debug.ReadGCStats(&gc)
	if !e.Family("go_gc_duration_seconds", KindSummary, "A summary of the pause duration of garbage collection cycles.") {
		return
	}
	for i, q := range []string{"0", "0.25", "0.5", "0.75", "1"} {
		e.Float("", []Label{{"quantile", q}}, gc.PauseQuantiles[i].Seconds())
	}
	e.Float("_sum", nil, gc.PauseTotal.Seconds())
	e.Int("_count", nil, gc.NumGC)
}

// writeProcess writes the process_* series from /proc/self.
func writeProcess(e *Exposition, gauge, counter func(name, help string, v float64)) {
	if st, err := readProcStat(); err == nil {
		counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", st.cpuSeconds)
		gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", st.vsize)
		gauge("process_resident_memory_bytes", "Resident memory size in bytes.", st.rss)
		gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", st.startTime)
	}
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		gauge("process_open_fds", "Number of open file descriptors.", float64(len(fds)))
	}
	if n, err := maxFDs(); err == nil {
		gauge("process_max_fds", "Maximum number of open file descriptors.", n)
	}
}

// procStat holds the fields of /proc/self/stat the process series use.
type procStat struct {
	cpuSeconds, vsize, rss, startTime float64
}

// userHZ is the kernel's clock tick for /proc times (USER_HZ), which is 100
// on every Linux architecture Go supports.
const userHZ = 100

func readProcStat() (procStat, error) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return procStat{}, fmt.Errorf("read /proc/self/stat: %w", err)
	}
	// The command name may hold spaces and parentheses: fields start after
	// the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("parse /proc/self/stat: no ')'")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime is field 14, stime 15, starttime 22,
	// vsize 23, rss 24 (pages).
	if len(f) < 22 {
		return procStat{}, fmt.Errorf("parse /proc/self/stat: %d fields", len(f)+2)
	}
	num := func(field int) float64 {
		v, _ := strconv.ParseFloat(f[field-3], 64)
		return v
	}
	boot, err := bootTime()
	if err != nil {
		return procStat{}, err
	}
	return procStat{
		cpuSeconds: (num(14) + num(15)) / userHZ,
		vsize:      num(23),
		rss:        num(24) * float64(os.Getpagesize()),
		startTime:  boot + num(22)/userHZ,
	}, nil
}

// bootTime reads the system's boot time (btime in /proc/stat), the origin
// of a process's start time.
func bootTime() (float64, error) {
	v, err := procLine("/proc/stat", "btime ")
	if err != nil {
		return 0, err
	}
	return strconv.ParseFloat(strings.TrimSpace(v), 64)
}

// maxFDs reads the soft limit on open files from /proc/self/limits.
func maxFDs() (float64, error) {
	v, err := procLine("/proc/self/limits", "Max open files")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(v)
	if len(f) == 0 {
		return 0, fmt.Errorf("parse /proc/self/limits: empty Max open files")
	}
	return strconv.ParseFloat(f[0], 64)
}

// procLine returns the rest of the first line of the /proc file path that
// starts with prefix.
func procLine(path, prefix string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, prefix); ok {
			return rest, nil
		}
	}
	return "", fmt.Errorf("parse %s: no %q line", path, prefix)
}
