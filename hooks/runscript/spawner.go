package runscript

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// The spawner is a small helper process that starts the scripts for the
// daemon, so that the daemon never forks: a fork and exec from the
// daemon's large address space costs it about a fifth of a trivial
// script's CPU, runs at the daemon's priority (Go cannot lower the child's
// before exec) and holds one of the Go runtime's Ps meanwhile. The spawner
// is the daemon's own binary started again in a hidden mode (one binary to
// ship; IsSpawner and ServeSpawner are its entry point), runs entirely at
// the scripts' Priority (so they start at it), and receives each call as one message on a unix
// SOCK_SEQPACKET socket pair: the daemon pays a non-blocking write, and a
// full socket is the queue-full drop. The spawner reports each call's
// outcome back, so the counters and the log lines are the same as when
// the daemon starts the scripts itself.
//
// A call message is the hook point's name and the environment's
// variables, each ended by a NUL byte. An outcome message is its kind, its
// exit code (4 bytes, little-endian), the script's CPU time in nanoseconds
// (8 bytes, little-endian) and the hook's name, NUL, and an error's text.

// spawnerEnv is the environment variable that starts the binary as the
// spawner: "workers queue timeout-nanoseconds priority"; the script is argv[1] and
// the socket descriptor 3.
const spawnerEnv = "XDHCP_RUN_SCRIPT_SPAWNER"

// outcomeHeader is an outcome message's length before the hook's name.
const outcomeHeader = 13

// maxCall bounds a call message (the spawner's read buffer).
const maxCall = 64 << 10

// discarded is the outcome kind of a call the spawner discarded unrun at
// shutdown.
const discarded byte = 100

// spawnerRestartsMax bounds how many times in a row a spawner that dies
// soon after its start is restarted; then the calls are dropped (counted).
const spawnerRestartsMax = 5

// IsSpawner says whether this process was started as the run-script
// spawner: main calls ServeSpawner then, before anything else.
func IsSpawner() bool { return os.Getenv(spawnerEnv) != "" }

// ServeSpawner runs the spawner until the daemon closes its end of the
// socket (or dies) and returns the process's exit code.
func ServeSpawner() int {
	var workers, queue int
	var timeout int64
	var prio Priority
	_, err := fmt.Sscanf(os.Getenv(spawnerEnv), "%d %d %d %s", &workers, &queue, &timeout, &prio)
	lowerSelf(prio)
	if err != nil || workers < 1 || queue < 1 || timeout <= 0 || len(os.Args) < 2 {
		fmt.Fprintf(os.Stderr, "run-script spawner: bad start parameters %q: %v\n", os.Getenv(spawnerEnv), err)
		return 2
	}
	name := os.Args[1]
	_ = unix.SetNonblock(3, true)
	sock := os.NewFile(3, "run-script socket")
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		fmt.Fprintf(os.Stderr, "run-script spawner: %v\n", err)
		return 1
	}
	stdio := []*os.File{null, null, null}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stopping atomic.Bool
	// The queue is the daemon's: the spawner is given at most a call per
	// worker.
	calls := make(chan []byte, workers)
	report := func(hook string, o outcome) {
		msg := make([]byte, outcomeHeader, outcomeHeader+len(hook)+1+len(o.msg))
		msg[0] = o.kind
		binary.LittleEndian.PutUint32(msg[1:], uint32(int32(o.code)))
		binary.LittleEndian.PutUint64(msg[5:], uint64(o.cpu))
		msg = append(append(append(msg, hook...), 0), o.msg...)
		_, _ = sock.Write(msg) // the daemon gone: nothing to tell
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range calls {
				hook, env := decodeCall(m)
				if stopping.Load() {
					report(hook, outcome{kind: discarded})
					continue
				}
				report(hook, runScript(ctx, name, hook, env, stdio, time.Duration(timeout), prio))
			}
		}()
	}
	buf := make([]byte, maxCall)
	for {
		n, err := sock.Read(buf)
		if err != nil || n == 0 {
			break
		}
		calls <- bytes.Clone(buf[:n])
	}
	// The daemon closed its end: discard what is queued, let the running
	// scripts finish for closeGrace, then kill them.
	stopping.Store(true)
	close(calls)
	t := time.AfterFunc(closeGrace, cancel)
	wg.Wait()
	t.Stop()
	return 0
}

// lowerSelf puts every thread of the process at the scripts' priority:
// nice 19 and, unless prio is PriorityLow, SCHED_IDLE (Linux's priority
// and policy are per thread; threads started later, and the scripts,
// inherit them). A script is then at its priority from its first
// instruction: set after its start, as the daemon must for the scripts it
// starts itself, it was not while the dynamic loader ran (most of a
// trivial script's CPU), nor at all when the script ended before the
// spawner's thread ran again. It goes over the threads until it finds no
// new one, as the runtime may start one meanwhile.
func lowerSelf(prio Priority) {
	lower := func(tid int) {
		_ = unix.Setpriority(unix.PRIO_PROCESS, tid, scriptNice)
		if prio != PriorityLow {
			_ = unix.SchedSetAttr(tid, &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_IDLE}, 0)
		}
	}
	done := map[int]bool{}
	for {
		ents, err := os.ReadDir("/proc/self/task")
		if err != nil {
			lower(0)
			return
		}
		more := false
		for _, e := range ents {
			tid, err := strconv.Atoi(e.Name())
			if err != nil || done[tid] {
				continue
			}
			lower(tid)
			done[tid], more = true, true
		}
		if !more {
			return
		}
	}
}

// encodeCall appends j's call message to b.
func encodeCall(b []byte, hook string, j *job) []byte {
	return j.appendEnv(append(append(b, hook...), 0))
}

func decodeCall(m []byte) (hook string, env []string) {
	fields := bytes.Split(bytes.TrimSuffix(m, []byte{0}), []byte{0})
	hook = string(fields[0])
	env = make([]string, 0, len(fields)-1)
	for _, f := range fields[1:] {
		env = append(env, string(f))
	}
	return hook, env
}

// spawner is the daemon's side of one spawner process.
type spawner struct {
	proc  *os.Process
	sock  *os.File
	start time.Time
	// mu orders a send against the accounting of the spawner's death, so
	// that every call sent is settled exactly once.
	mu            sync.Mutex
	dead          bool
	sent, settled uint64
	done          chan struct{} // closed when its reader has ended
	// slots holds a token per call in the spawner's hands: at most one
	// per worker, so that the calls wait in the daemon's queue, bounded
	// by its size, as when the daemon starts the scripts itself.
	slots chan struct{}
}

// startSpawner starts a spawner process and its reader.
func (r *Runner) startSpawner() (*spawner, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("run-script spawner socket: %w", err)
	}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return nil, fmt.Errorf("run-script spawner socket: %w", err)
	}
	mine, theirs := os.NewFile(uintptr(fds[0]), "run-script spawner"), os.NewFile(uintptr(fds[1]), "run-script spawner")
	defer theirs.Close()
	stdin := r.devNull
	if stdin == nil {
		stdin = os.Stdin
	}
	// /proc/self/exe: the running binary, even if its file was replaced
	// since (an upgrade).
	proc, err := os.StartProcess("/proc/self/exe", []string{"xdhcpd-run-script-spawner", r.p.Name}, &os.ProcAttr{
		Env: []string{fmt.Sprintf("%s=%d %d %d %s", spawnerEnv, r.p.Workers, r.p.QueueSize, r.p.Timeout.Nanoseconds(), cmp.Or(r.p.Priority, PriorityIdle)),
			"GOMAXPROCS=1"},
		Files: []*os.File{stdin, stdin, os.Stderr, theirs},
	})
	if err != nil {
		mine.Close()
		return nil, fmt.Errorf("run-script spawner: %w", err)
	}
	_ = unix.Setpriority(unix.PRIO_PROCESS, proc.Pid, scriptNice)
	s := &spawner{proc: proc, sock: mine, start: time.Now(), done: make(chan struct{}),
		slots: make(chan struct{}, r.p.Workers)}
	r.cpuMu.Lock()
	r.placeSpawnerLocked(s)
	r.cpuMu.Unlock()
	go r.readSpawner(s)
	return s, nil
}

// send writes one call. While the socket is full (a call's environment
// is large) it waits in the runtime's poller, no thread held.
func (s *spawner) send(msg []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dead {
		return errors.New("the spawner is not running")
	}
	if _, err := s.sock.Write(msg); err != nil {
		return err
	}
	s.sent++
	return nil
}

// readSpawner records the outcomes s reports until it ends; if it ended
// other than at Close, it counts and logs its death and restarts it.
func (r *Runner) readSpawner(s *spawner) {
	defer close(s.done)
	buf := make([]byte, 4096)
	var rerr error
	for {
		n, err := s.sock.Read(buf)
		if err != nil || n == 0 {
			rerr = err
			break
		}
		if n < outcomeHeader {
			continue
		}
		hook, msg, _ := bytes.Cut(buf[outcomeHeader:n], []byte{0})
		o := outcome{kind: buf[0], code: int(int32(binary.LittleEndian.Uint32(buf[1:]))), msg: string(msg),
			cpu: time.Duration(binary.LittleEndian.Uint64(buf[5:]))}
		s.mu.Lock()
		s.settled++
		s.mu.Unlock()
		<-s.slots
		if o.kind == discarded {
			r.dropped.Add(1)
			r.lateDropped.Add(1)
			continue
		}
		r.run.Add(1)
		r.record(string(hook), o)
		r.finished.Add(1)
	}
	s.mu.Lock()
	s.dead = true
	lostCalls := s.sent - s.settled
	s.mu.Unlock()
	s.sock.Close()
	st, werr := s.proc.Wait()
	for range lostCalls {
		r.run.Add(1)
		r.failed.Add(1)
		r.finished.Add(1)
	}
	if r.stopping.Load() {
		return
	}
	r.spawnerRestarts.Add(1)
	r.log.Error("run-script spawner died: restarting it", "state", fmt.Sprint(st), "wait_err", werr,
		"read_err", rerr, "lost_calls", lostCalls, "restarts_total", r.spawnerRestarts.Load())
	quick := time.Since(s.start) < 10*time.Second
	if quick {
		r.quickDeaths++
	} else {
		r.quickDeaths = 0
	}
	if r.quickDeaths > spawnerRestartsMax {
		r.log.Error("run-script spawner keeps dying: calls are dropped from now on", "restarts_total", r.spawnerRestarts.Load())
		r.sp.Store(nil)
		return
	}
	if quick {
		time.Sleep(100 * time.Millisecond << r.quickDeaths)
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		r.sp.Store(nil)
		return
	}
	ns, err := r.startSpawner()
	if err != nil {
		r.log.Error("run-script spawner could not be restarted: calls are dropped from now on", "err", err)
		r.sp.Store(nil)
		return
	}
	r.sp.Store(ns)
}

// forward sends the queued calls to the spawner.
func (r *Runner) forward() {
	defer r.wg.Done()
	var buf []byte
	for j := range r.q {
		paced := r.pace()
		s := r.sp.Load()
		if r.stopping.Load() || s == nil || !paced {
			r.lateDropped.Add(1)
			r.drop(j.point)
			continue
		}
		hook := j.hook()
		buf = encodeCall(buf[:0], hook, j)
		if len(buf) > maxCall {
			r.run.Add(1)
			r.record(hook, outcome{kind: startError, msg: fmt.Sprintf("its environment is too large (%d bytes)", len(buf))})
			r.finished.Add(1)
			continue
		}
		sent := false
		select {
		case s.slots <- struct{}{}:
			sent = s.send(buf) == nil // fails with a dead spawner, or at Close
			if !sent {
				<-s.slots
			}
		case <-s.done: // died meanwhile
		case <-r.stop:
		}
		if !sent {
			r.lateDropped.Add(1)
			r.drop(j.point)
		}
	}
}

// stopSpawner ends the spawner at Close: it discards the queued calls and
// gives the running scripts closeGrace, then kills them; it is killed if
// it does not end soon after.
func (r *Runner) stopSpawner() {
	s := r.sp.Load()
	if s == nil {
		return
	}
	s.mu.Lock()
	if rc, err := s.sock.SyscallConn(); err == nil && !s.dead {
		_ = rc.Control(func(fd uintptr) { _ = unix.Shutdown(int(fd), unix.SHUT_WR) })
	}
	s.mu.Unlock()
	select {
	case <-s.done:
	case <-time.After(closeGrace + 2*time.Second):
		_ = s.proc.Kill()
		<-s.done
	}
}
