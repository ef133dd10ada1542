// Package runscript is Kea's libdhcp_run_script.so: an external script
// called on lease events with the hook point's name as its first argument
// and Kea's variables as its environment. Unlike a blocking call, the
// script runs on a bounded pool fed by a bounded queue: a slow, hanging or
// failing script never delays a reply. What overflows the queue is
// dropped and counted, a script running longer than the timeout is killed
// (with its process group), and exit codes are counted and logged.
package runscript

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"xdhcp/hooks"
	"xdhcp/lease"
)

// Library is the hooks-libraries file name that selects run-script.
const Library = "libdhcp_run_script.so"

// Params are the library's parameters: Kea's name and sync, and the
// bounds of the pool.
type Params struct {
	Name string // "name": the script, an absolute path
	// Sync is Kea's "sync": a boolean, accepted and ignored, as Kea 2.2's
	// library does (it parses it and always runs the script
	// asynchronously); waiting for the script would hold the reply.
	Sync bool
	// Workers is how many scripts run at once ("workers", default 4).
	Workers int
	// QueueSize is how many calls wait for a worker ("queue-size",
	// default 1024); more are dropped and counted.
	QueueSize int
	// Timeout is how long a script may run before it is killed
	// ("timeout-seconds", default 60).
	Timeout time.Duration
	// Spawner is xdhcp's "spawner" (default true): the scripts are
	// started by a helper process at the scripts' priority rather than by
	// the daemon itself, which then pays a socket write per call.
	Spawner bool
	// Priority is xdhcp's "priority": how the scripts are scheduled
	// (PriorityIdle, the default, or PriorityLow).
	Priority Priority
	// OverloadCPUPercent is xdhcp's "overload-cpu-percent" (default 2):
	// while calls are being dropped, the share of one CPU the scripts
	// that share the packet workers' CPUs may use (see pace.go); 100
	// lifts the bound.
	OverloadCPUPercent float64
}

// Priority is how a script is scheduled beside the server.
type Priority string

const (
	// PriorityIdle runs the scripts under Linux's SCHED_IDLE policy: on
	// CPU time nothing else wants, and any thread of the server that wakes
	// (a packet, a sync done) takes the CPU from a script at once. Under
	// a full load the scripts wait (their queue overflows, counted) rather
	// than slow serving. The empty Priority is PriorityIdle.
	PriorityIdle Priority = "idle"
	// PriorityLow runs them at nice 19, the lowest normal priority: they
	// keep a small share of a CPU under full load, but a server thread
	// that wakes may wait for a running script's time slice to end.
	PriorityLow Priority = "low"
)

// ParseParams reads a hooks-libraries entry's parameters.
func ParseParams(raw json.RawMessage) (Params, error) {
	p := Params{Workers: 4, QueueSize: 1024, Timeout: time.Minute, Spawner: true, OverloadCPUPercent: DefaultOverloadCPUPercent}
	var in struct {
		Name      *string  `json:"name"`
		Sync      *bool    `json:"sync"`
		Workers   *int     `json:"workers"`
		QueueSize *int     `json:"queue-size"`
		Timeout   *float64 `json:"timeout-seconds"`
		Spawner   *bool    `json:"spawner"`
		Priority  *string  `json:"priority"`
		Overload  *float64 `json:"overload-cpu-percent"`
	}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &in); err != nil {
			return p, fmt.Errorf("%s parameters: %w", Library, err)
		}
	}
	if in.Name == nil {
		return p, fmt.Errorf("%s: the 'name' parameter is mandatory", Library)
	}
	p.Name = *in.Name
	if st, err := os.Stat(p.Name); err != nil {
		return p, fmt.Errorf("%s: invalid 'name' parameter: %w", Library, err)
	} else if st.IsDir() || st.Mode()&0o111 == 0 {
		return p, fmt.Errorf("%s: invalid 'name' parameter: %s is not an executable file", Library, p.Name)
	}
	if in.Sync != nil {
		p.Sync = *in.Sync
	}
	if in.Workers != nil {
		if *in.Workers < 1 || *in.Workers > 1024 {
			return p, fmt.Errorf("%s: workers %d: expected 1..1024", Library, *in.Workers)
		}
		p.Workers = *in.Workers
	}
	if in.QueueSize != nil {
		if *in.QueueSize < 1 || *in.QueueSize > 1<<20 {
			return p, fmt.Errorf("%s: queue-size %d: expected 1..1048576", Library, *in.QueueSize)
		}
		p.QueueSize = *in.QueueSize
	}
	if in.Timeout != nil {
		if *in.Timeout <= 0 {
			return p, fmt.Errorf("%s: timeout-seconds must be positive", Library)
		}
		p.Timeout = time.Duration(*in.Timeout * float64(time.Second))
	}
	if in.Spawner != nil {
		p.Spawner = *in.Spawner
	}
	if in.Priority != nil {
		switch pr := Priority(*in.Priority); pr {
		case PriorityIdle, PriorityLow:
			p.Priority = pr
		default:
			return p, fmt.Errorf("%s: priority %q: expected %q or %q", Library, *in.Priority, PriorityIdle, PriorityLow)
		}
	}
	if in.Overload != nil {
		if !(*in.Overload > 0 && *in.Overload <= 100) {
			return p, fmt.Errorf("%s: overload-cpu-percent %v: expected more than 0 and at most 100", Library, *in.Overload)
		}
		p.OverloadCPUPercent = *in.Overload
	}
	return p, nil
}

// DefaultOverloadCPUPercent is overload-cpu-percent's default: under a
// flood of calls, scripts beside the packet workers get a fiftieth of a
// CPU (a trivial shell script's start costs about 0.6 ms of CPU on the
// benchmark's machine: some thirty calls a second).
const DefaultOverloadCPUPercent = 2

// scriptNice is the nice value of the spawner and, with PriorityLow, of
// the scripts: the lowest, so that a flood of scripts takes little CPU
// from serving and overflows the queue instead (counted).
const scriptNice = 19

// startScript starts the script and lowers its priority as soon as it has
// been exec'ed. The start itself (a vfork and exec) runs at the caller's
// priority on purpose: until the child has exec'ed, the starting thread is
// suspended holding one of the Go runtime's Ps.
//
// Why SCHED_IDLE by default rather than nice 19: a nice-19 script that has
// the CPU keeps it for the rest of its time slice when a server thread
// wakes, and on a server whose threads sleep between bursts (a fast-path
// worker waiting for the forensic log's sync, say) every wake-up then
// waited for a script. In the benchmark's cached renewals with forensic
// log and run-script both on, nice-19 scripts cut the rate to a quarter and
// more than doubled the server's CPU per renewal; idle-policy scripts, to
// which the kernel gives the CPU back at every such wake-up, did not.
func startScript(name string, argv []string, attr *os.ProcAttr, prio Priority) (*os.Process, error) {
	p, err := os.StartProcess(name, argv, attr)
	if err == nil {
		if prio != PriorityLow {
			// Where the policy cannot be set, nice 19 is the next best.
			_ = unix.SchedSetAttr(p.Pid, &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_IDLE}, 0)
		}
		_ = unix.Setpriority(unix.PRIO_PROCESS, p.Pid, scriptNice)
	}
	return p, err
}

// job is one script call, copied out of the event.
type job struct {
	point             hooks.Point
	query             []byte
	iface             string
	ifIndex           int
	local, remote     netip.AddrPort
	localHW, remoteHW [6]byte
	htype             byte
	leases, deleted   []lease.Lease
	subnet            hooks.Subnet
	removeLease       bool
	// reused: a renewal without a lease write (lease reuse, the fast
	// path's cache), whose leases4_committed Kea calls with no leases.
	reused bool
	// v6, when set, is a DHCPv6 call: the fields above are unused.
	v6 *job6
}

// hook is the call's first argument, its hook point's name.
func (j *job) hook() string {
	if j.v6 != nil {
		return j.v6.point.String()
	}
	return j.point.String()
}

// Counters are the runner's cumulative counts.
type Counters struct {
	Queued   uint64 // calls accepted
	Dropped  uint64 // calls refused because the queue was full
	Run      uint64 // scripts started
	Failed   uint64 // scripts that exited non-zero or could not start
	TimedOut uint64 // scripts killed after the timeout
	// SpawnerRestarts counts the deaths of the spawner process.
	SpawnerRestarts uint64
	// CPU is the scripts' CPU time (each script's, with the children it
	// waited for).
	CPU time.Duration
}

// Runner runs the script for lease events. LeaseEvent is safe for
// concurrent use and never blocks.
type Runner struct {
	p   Params
	log *slog.Logger
	q   chan *job
	wg  sync.WaitGroup
	// mu orders LeaseEvent's sends before Close closes q.
	mu     sync.RWMutex
	closed bool
	// stopping makes the workers discard what is still queued; ctx ends
	// the scripts still running a grace period after Close.
	stopping atomic.Bool
	ctx      context.Context
	cancel   context.CancelFunc
	stop     chan struct{} // closed by Close

	// devNull is every script's stdin, stdout and stderr (stdio).
	devNull *os.File
	stdio   []*os.File

	queued, dropped, run, failed, timedOut atomic.Uint64
	finished                               atomic.Uint64 // runs that ended
	// lateDropped counts the calls dropped after they were queued.
	lateDropped atomic.Uint64

	// sp is the spawner process when the scripts are started by one.
	sp              atomic.Pointer[spawner]
	spawnerRestarts atomic.Uint64
	quickDeaths     int // the spawner's deaths soon after its start, in a row
	// dropLogging is set while an overflow is being logged: the first
	// drop logs at once and arms a timer that logs the drops of each
	// following second, until a second passes without one.
	dropLogging atomic.Bool
	dropLogged  uint64 // drops counted by the last line (the timer's)
	dropHook    atomic.Uint32
	// scriptCPUs are the CPUs the spawner, and so its scripts, run on (nil:
	// the daemon's); see KeepOffCPUs.
	cpuMu      sync.Mutex
	scriptCPUs []int
	// pacer holds the scripts to their share of a CPU under overload
	// while shared says they run on the packet workers' CPUs (until
	// KeepOffCPUs finds them others); paced is set once that is logged,
	// for the overload going on.
	pacer  *pacer
	shared atomic.Bool
	paced  atomic.Bool
	// cpu is the scripts' CPU time so far, in nanoseconds.
	cpu atomic.Int64
}

var _ hooks.Listener = (*Runner)(nil)

// Forks reports whether the daemon starts the scripts itself (no
// spawner): each start (a vfork and exec) then holds a thread and a Go P
// until the script has exec'ed.
func (r *Runner) Forks() bool { return !r.p.Spawner }

// New starts the pool.
func New(p Params, log *slog.Logger) *Runner {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Runner{p: p, log: log, q: make(chan *job, p.QueueSize), stop: make(chan struct{}), pacer: newPacer(p.OverloadCPUPercent)}
	r.shared.Store(true)
	if null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0); err != nil {
		log.Error("run-script: scripts run without stdin, stdout and stderr", "err", err)
	} else {
		r.devNull = null
		r.stdio = []*os.File{null, null, null}
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	if p.Spawner {
		s, err := r.startSpawner()
		if err != nil {
			log.Error("run-script: the scripts are started by the daemon itself", "err", err)
			r.p.Spawner = false
		} else {
			r.sp.Store(s)
			r.wg.Add(1)
			go r.forward()
		}
	}
	for range p.Workers {
		if r.p.Spawner {
			break
		}
		r.wg.Add(1)
		go r.worker()
	}
	log.Info("RUN_SCRIPT_LOAD", "script", p.Name, "workers", p.Workers, "queue", p.QueueSize, "timeout", p.Timeout,
		"spawner", r.p.Spawner)
	return r
}

// Counters returns the cumulative counts.
func (r *Runner) Counters() Counters {
	return Counters{Queued: r.queued.Load(), Dropped: r.dropped.Load(), Run: r.run.Load(),
		Failed: r.failed.Load(), TimedOut: r.timedOut.Load(), SpawnerRestarts: r.spawnerRestarts.Load(),
		CPU: time.Duration(r.cpu.Load())}
}

// Wants implements hooks.Interest: the hook points Kea's library handles.
func (r *Runner) Wants(p hooks.Point) bool {
	switch p {
	case hooks.Leases4Committed, hooks.Lease4Renew, hooks.Lease4Release, hooks.Lease4Decline,
		hooks.Lease4Expire, hooks.Lease4Recover:
		return true
	}
	return false
}

// LeaseEvent implements hooks.Listener: it queues the script call for the
// hook points Kea's library handles.
func (r *Runner) LeaseEvent(e *hooks.Event) {
	if !r.Wants(e.Point) {
		return
	}
	if len(r.q) == cap(r.q) {
		// Full: drop before copying anything.
		r.drop(e.Point)
		return
	}
	j := &job{point: e.Point, iface: e.Iface, ifIndex: e.IfIndex, local: e.Local, remote: e.Remote,
		localHW: e.LocalHW, remoteHW: e.RemoteHW, htype: 1, subnet: e.Subnet, removeLease: e.RemoveLease}
	if e.Query != nil {
		j.query = append([]byte(nil), e.Query...)
		if len(e.Query) > 1 && e.Query[1] != 0 {
			j.htype = e.Query[1]
		}
	}
	j.reused = e.Reused || e.Cached
	j.leases = cloneAll(e.Leases)
	j.deleted = cloneAll(e.Deleted)
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		return
	}
	select {
	case r.q <- j:
		r.queued.Add(1)
	default:
		r.drop(e.Point)
	}
}

// drop counts a call the full queue refused. An overflow is a flood, so
// it is logged once a second at most, and without reading the clock per
// call (a clock read cost more than the rest of a dropped call).
func (r *Runner) drop(p hooks.Point) { r.dropCode(uint32(p)) }

// drop6 is drop for a DHCPv6 hook point.
func (r *Runner) drop6(p hooks.Point6) { r.dropCode(dropV6 | uint32(p)) }

// dropV6 marks a DHCPv6 hook point in dropHook.
const dropV6 = 1 << 8

// dropName is the hook point name of a dropHook value.
func dropName(code uint32) string {
	if code&dropV6 != 0 {
		return hooks.Point6(code &^ dropV6).String()
	}
	return hooks.Point(code).String()
}

func (r *Runner) dropCode(code uint32) {
	r.dropped.Add(1)
	if r.dropHook.Load() != code {
		// Not stored again: in a flood every call comes here, and a store
		// would take the line from the other workers each time.
		r.dropHook.Store(code)
	}
	if r.dropLogging.Load() || !r.dropLogging.CompareAndSwap(false, true) {
		return
	}
	r.log.Warn("run-script queue full: call dropped", "hook", dropName(code),
		"dropped_total", r.dropped.Load(), "queue", r.p.QueueSize)
	r.dropLogged = r.dropped.Load()
	time.AfterFunc(time.Second, r.logDrops)
}

// logDrops logs the drops of the second past, and goes on each second
// while they go on.
func (r *Runner) logDrops() {
	total := r.dropped.Load()
	if total == r.dropLogged {
		r.dropLogging.Store(false)
		r.paced.Store(false)
		return
	}
	r.log.Warn("run-script queue full: calls dropped", "hook", dropName(r.dropHook.Load()),
		"dropped", total-r.dropLogged, "dropped_total", total, "queue", r.p.QueueSize)
	r.dropLogged = total
	time.AfterFunc(time.Second, r.logDrops)
}

func cloneAll(ls []lease.Lease) []lease.Lease {
	if len(ls) == 0 {
		return nil
	}
	out := make([]lease.Lease, len(ls))
	for i := range ls {
		out[i] = ls[i].Clone()
	}
	return out
}

func (r *Runner) worker() {
	defer r.wg.Done()
	for j := range r.q {
		if r.stopping.Load() || !r.pace() {
			r.dropped.Add(1)
			r.lateDropped.Add(1)
			continue
		}
		r.exec(j)
	}
}

// exec runs one script call to its end or its timeout, in this process.
func (r *Runner) exec(j *job) {
	r.run.Add(1)
	defer r.finished.Add(1)
	hook := j.hook()
	r.record(hook, runScript(r.ctx, r.p.Name, hook, j.env(), r.stdio, r.p.Timeout, r.p.Priority))
}

// spent counts a script's CPU time.
func (r *Runner) spent(cpu time.Duration) {
	r.cpu.Add(int64(cpu))
	r.pacer.spent(cpu, time.Now())
}

// How a script call ended (an outcome's kind).
const (
	exited     byte = iota // the script ran and exited; code is its exit code
	timedOut               // killed after the timeout
	killedStop             // killed at shutdown
	startError             // could not be started; msg says why
	waitError              // could not be waited for; msg says why
	lost                   // the spawner died with the call in hand
)

// outcome is how one script call ended.
type outcome struct {
	kind byte
	code int
	msg  string
	cpu  time.Duration // the script's CPU time
}

// record counts and logs one call's outcome, wherever the script ran.
func (r *Runner) record(hook string, o outcome) {
	r.spent(o.cpu)
	switch o.kind {
	case exited:
		if o.code != 0 {
			r.failed.Add(1)
			r.log.Warn("run-script exited with an error", "script", r.p.Name, "hook", hook, "exit_code", o.code)
		}
	case killedStop:
		r.failed.Add(1)
		r.log.Warn("run-script killed at shutdown", "script", r.p.Name, "hook", hook)
	case timedOut:
		r.timedOut.Add(1)
		r.log.Warn("run-script killed after its timeout", "script", r.p.Name, "hook", hook, "timeout", r.p.Timeout)
	case startError:
		r.failed.Add(1)
		r.log.Error("run-script could not run", "script", r.p.Name, "hook", hook, "err", o.msg)
	case waitError:
		r.failed.Add(1)
		r.log.Error("run-script could not be waited for", "script", r.p.Name, "hook", hook, "err", o.msg)
	default:
		r.failed.Add(1)
		r.log.Error("run-script call lost: the spawner died", "script", r.p.Name, "hook", hook)
	}
}

// runScript runs script name for hook with environment env to its end or
// its timeout. It starts the script itself (os.StartProcess, a vfork and
// exec) rather than through os/exec: no descriptors opened, pipes made or
// goroutines started per call, the one /dev/null serving as every
// script's stdin, stdout and stderr. ctx's end kills the script.
func runScript(ctx context.Context, name, hook string, env []string, stdio []*os.File, timeout time.Duration, prio Priority) outcome {
	attr := &os.ProcAttr{
		// Kea passes the variables as the whole environment.
		Env:   env,
		Files: stdio,
		// Its own process group, so a timeout kills what the script
		// started.
		Sys: &syscall.SysProcAttr{Setpgid: true},
	}
	// argv[0] is the script's path, as Kea passes it.
	p, err := startScript(name, []string{name, hook}, attr, prio)
	if err != nil {
		return outcome{kind: startError, msg: err.Error()}
	}
	st, to, shutdown, err := wait(ctx, p, timeout)
	var o outcome
	switch {
	case err != nil:
		return outcome{kind: waitError, msg: err.Error()}
	case st.Success():
		o = outcome{kind: exited}
	case shutdown:
		o = outcome{kind: killedStop}
	case to:
		o = outcome{kind: timedOut}
	default:
		o = outcome{kind: exited, code: st.ExitCode()}
	}
	if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
		o.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return o
}

// wait waits for script p to end, killing its process group after the
// timeout or at ctx's end. It waits in Go's network poller on a pidfd (it
// becomes readable when the process ends), not in a blocking waitid as
// os.Process.Wait does: a goroutine blocked in a system call keeps its P
// until the runtime's monitor takes it back (up to 10 ms later), and with
// a few scripts running, a fast-path worker woken by a packet or a sync
// then waited for a P.
func wait(ctx context.Context, p *os.Process, timeout time.Duration) (st *os.ProcessState, timedOut, shutdown bool, err error) {
	kill := func() { _ = syscall.Kill(-p.Pid, syscall.SIGKILL) }
	var sd atomic.Bool
	if fd, perr := unix.PidfdOpen(p.Pid, unix.PIDFD_NONBLOCK); perr == nil {
		f := os.NewFile(uintptr(fd), "pidfd")
		defer f.Close()
		rc, cerr := f.SyscallConn()
		if cerr == nil && f.SetReadDeadline(time.Now().Add(timeout)) == nil {
			stop := context.AfterFunc(ctx, func() { sd.Store(true); f.SetReadDeadline(time.Unix(1, 0)) })
			defer stop()
			// Each call asks whether the process has ended, without
			// reaping it: the first too, because a script that ended
			// before the wait was armed made the pidfd readable before
			// the poller looked, and arming forgets readiness already
			// seen (the edge would never come again: the call then
			// waited for its timeout).
			err := rc.Read(func(uintptr) bool { return ended(p.Pid) })
			if errors.Is(err, os.ErrDeadlineExceeded) {
				timedOut = !sd.Load()
				kill()
			}
			st, err = p.Wait() // the process has ended, or was just killed
			return st, timedOut, sd.Load(), err
		}
	}
	// No pollable pidfd (an old kernel): wait in waitid.
	var to atomic.Bool
	t := time.AfterFunc(timeout, func() { to.Store(true); kill() })
	stop := context.AfterFunc(ctx, func() { sd.Store(true); kill() })
	st, err = p.Wait()
	t.Stop()
	stop()
	return st, to.Load(), sd.Load(), err
}

// ended reports whether process pid has ended, leaving it to be reaped.
func ended(pid int) bool {
	var info unix.Siginfo
	if err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil); err != nil {
		return !errors.Is(err, unix.EINTR) // gone, or not ours: nothing to wait for
	}
	return info.Signo != 0 // WNOHANG leaves info zero while it runs
}

// closeGrace is how long Close lets running scripts finish before it
// kills them.
const closeGrace = 2 * time.Second

// Close stops taking calls, discards the queued ones (counted as dropped),
// lets the running scripts finish for closeGrace, then kills them.
func (r *Runner) Close() {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		r.stopping.Store(true)
		close(r.q)
		close(r.stop)
	}
	r.mu.Unlock()
	if s := r.sp.Load(); s != nil {
		// A forwarder waiting on a full socket gives up.
		_ = s.sock.SetWriteDeadline(time.Unix(1, 0))
	}
	t := time.AfterFunc(closeGrace, r.cancel)
	r.wg.Wait()
	r.stopSpawner()
	t.Stop()
	r.cancel()
	if r.devNull != nil {
		r.devNull.Close()
		r.devNull = nil
	}
}

// Drain waits until every call queued so far has run (for tests and an
// orderly stop).
func (r *Runner) Drain(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		c := r.Counters()
		if len(r.q) == 0 && r.finished.Load()+r.lateDropped.Load() == c.Queued {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}
