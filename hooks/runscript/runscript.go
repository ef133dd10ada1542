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
}

// ParseParams reads a hooks-libraries entry's parameters.
func ParseParams(raw json.RawMessage) (Params, error) {
	p := Params{Workers: 4, QueueSize: 1024, Timeout: time.Minute}
	var in struct {
		Name      *string  `json:"name"`
		Sync      *bool    `json:"sync"`
		Workers   *int     `json:"workers"`
		QueueSize *int     `json:"queue-size"`
		Timeout   *float64 `json:"timeout-seconds"`
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
	return p, nil
}

// scriptNice is the scheduling priority a script runs at: the lowest,
// so that a flood of scripts takes little CPU from serving (about 1.5% of
// a busy core each) and overflows the queue instead (counted).
//
// Not the SCHED_IDLE policy: an idle-policy task on a busy CPU can wait
// indefinitely while it holds something the kernel needs elsewhere (the
// filesystem's journal, say), and with idle-policy scripts the fast path's
// replies waiting for the forensic log's fdatasync waited 15 ms at the
// median instead of 2.4 ms at nice 19 (the benchmark's S2).
const scriptNice = 19

// startNice starts the script and lowers its priority to scriptNice as
// soon as it has been exec'ed. The start itself (a vfork and exec) runs at
// the caller's priority on purpose: until the child has exec'ed, the
// starting thread is suspended holding one of the Go runtime's Ps.
func startNice(name string, argv []string, attr *os.ProcAttr) (*os.Process, error) {
	p, err := os.StartProcess(name, argv, attr)
	if err == nil {
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

	// devNull is every script's stdin, stdout and stderr (stdio).
	devNull *os.File
	stdio   []*os.File

	queued, dropped, run, failed, timedOut atomic.Uint64
	finished                               atomic.Uint64 // runs that ended
	// dropLogging is set while an overflow is being logged: the first
	// drop logs at once and arms a timer that logs the drops of each
	// following second, until a second passes without one.
	dropLogging atomic.Bool
	dropLogged  uint64 // drops counted by the last line (the timer's)
	dropHook    atomic.Uint32
}

var _ hooks.Listener = (*Runner)(nil)

// New starts the pool.
func New(p Params, log *slog.Logger) *Runner {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Runner{p: p, log: log, q: make(chan *job, p.QueueSize)}
	if null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0); err != nil {
		log.Error("run-script: scripts run without stdin, stdout and stderr", "err", err)
	} else {
		r.devNull = null
		r.stdio = []*os.File{null, null, null}
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	for range p.Workers {
		r.wg.Add(1)
		go r.worker()
	}
	log.Info("RUN_SCRIPT_LOAD", "script", p.Name, "workers", p.Workers, "queue", p.QueueSize, "timeout", p.Timeout)
	return r
}

// Counters returns the cumulative counts.
func (r *Runner) Counters() Counters {
	return Counters{Queued: r.queued.Load(), Dropped: r.dropped.Load(), Run: r.run.Load(),
		Failed: r.failed.Load(), TimedOut: r.timedOut.Load()}
}

// LeaseEvent implements hooks.Listener: it queues the script call for the
// hook points Kea's library handles.
func (r *Runner) LeaseEvent(e *hooks.Event) {
	switch e.Point {
	case hooks.Leases4Committed, hooks.Lease4Renew, hooks.Lease4Release, hooks.Lease4Decline,
		hooks.Lease4Expire, hooks.Lease4Recover:
	default:
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
	r.dropHook.Store(code)
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
		if r.stopping.Load() {
			r.dropped.Add(1)
			continue
		}
		r.exec(j)
	}
}

// exec runs one script call to its end or its timeout. It starts the
// script itself (os.StartProcess, a vfork and exec) rather than through
// os/exec: no descriptors opened, pipes made or goroutines started per
// call, the one /dev/null serving as every script's stdin, stdout and
// stderr.
func (r *Runner) exec(j *job) {
	attr := &os.ProcAttr{
		// Kea passes the variables as the whole environment.
		Env:   j.env(),
		Files: r.stdio,
		// Its own process group, so a timeout kills what the script
		// started.
		Sys: &syscall.SysProcAttr{Setpgid: true},
	}
	r.run.Add(1)
	defer r.finished.Add(1)
	hook := j.hook()
	// argv[0] is the script's path, as Kea passes it.
	p, err := startNice(r.p.Name, []string{r.p.Name, hook}, attr)
	if err != nil {
		r.failed.Add(1)
		r.log.Error("run-script could not run", "script", r.p.Name, "hook", hook, "err", err)
		return
	}
	st, timedOut, shutdown, err := r.wait(p)
	switch {
	case err != nil:
		r.failed.Add(1)
		r.log.Error("run-script could not be waited for", "script", r.p.Name, "hook", hook, "err", err)
	case st.Success():
	case shutdown:
		r.failed.Add(1)
		r.log.Warn("run-script killed at shutdown", "script", r.p.Name, "hook", hook)
	case timedOut:
		r.timedOut.Add(1)
		r.log.Warn("run-script killed after its timeout", "script", r.p.Name, "hook", hook, "timeout", r.p.Timeout)
	default:
		r.failed.Add(1)
		r.log.Warn("run-script exited with an error", "script", r.p.Name, "hook", hook, "exit_code", st.ExitCode())
	}
}

// wait waits for script p to end, killing its process group after the
// timeout or at shutdown. It waits in Go's network poller on a pidfd (it
// becomes readable when the process ends), not in a blocking waitid as
// os.Process.Wait does: a goroutine blocked in a system call keeps its P
// until the runtime's monitor takes it back (up to 10 ms later), and with
// a few scripts running, a fast-path worker woken by a packet or a sync
// then waited for a P.
func (r *Runner) wait(p *os.Process) (st *os.ProcessState, timedOut, shutdown bool, err error) {
	kill := func() { _ = syscall.Kill(-p.Pid, syscall.SIGKILL) }
	var sd atomic.Bool
	if fd, perr := unix.PidfdOpen(p.Pid, unix.PIDFD_NONBLOCK); perr == nil {
		f := os.NewFile(uintptr(fd), "pidfd")
		defer f.Close()
		rc, cerr := f.SyscallConn()
		if cerr == nil && f.SetReadDeadline(time.Now().Add(r.p.Timeout)) == nil {
			stop := context.AfterFunc(r.ctx, func() { sd.Store(true); f.SetReadDeadline(time.Unix(1, 0)) })
			defer stop()
			polled := false
			err := rc.Read(func(uintptr) bool {
				done := polled // the first call only arms the wait
				polled = true
				return done
			})
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
	t := time.AfterFunc(r.p.Timeout, func() { to.Store(true); kill() })
	stop := context.AfterFunc(r.ctx, func() { sd.Store(true); kill() })
	st, err = p.Wait()
	t.Stop()
	stop()
	return st, to.Load(), sd.Load(), err
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
	}
	r.mu.Unlock()
	t := time.AfterFunc(closeGrace, r.cancel)
	r.wg.Wait()
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
		if len(r.q) == 0 && c.Run == c.Queued && r.finished.Load() == c.Run {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}
