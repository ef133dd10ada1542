package daemontest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"xdhcp/internal/lab"
)

// ProcessOptions describe a program a test runs in a lab namespace.
type ProcessOptions struct {
	// Name names the program in messages ("xdhcpd", "kea-dhcp4").
	Name string
	// NS is the namespace the program runs in.
	NS *lab.NS
	// Args is the command line, the executable first.
	Args []string
	// Env is added to the test's environment.
	Env []string
	// Log receives the program's stdout and stderr; every launch appends
	// to it after a "==== start" line.
	Log string
}

// Process is a program, and its restarts, in a lab namespace. The test's
// cleanup kills it if it still runs and, when the test failed, logs the
// end of its log. Its methods are for the test goroutine, except Running,
// Signal, PID, RSSKiB, Log and LogCount, which other goroutines may call
// while no launch is under way.
type Process struct {
	t testing.TB
	o ProcessOptions

	cmd     *exec.Cmd
	logOff  int64 // where this incarnation's log starts
	exited  chan struct{}
	waitErr error
	stopped bool // Stop, Kill9 or Wait were called: an exit is expected
}

// NewProcess prepares a process without launching it.
func NewProcess(t testing.TB, o ProcessOptions) *Process {
	p := &Process{t: t, o: o}
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("%s log (%s):\n%s", o.Name, o.Log, p.Log())
		}
	})
	return p
}

// Launch starts the program without waiting for anything.
func (p *Process) Launch() {
	t := p.t
	t.Helper()
	logf, err := os.OpenFile(p.o.Log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	if st, err := logf.Stat(); err == nil {
		p.logOff = st.Size()
	}
	fmt.Fprintf(logf, "==== start %s\n", time.Now().Format(time.RFC3339Nano))
	cmd := p.o.NS.Command(context.Background(), p.o.Args[0], p.o.Args[1:]...)
	if len(p.o.Env) > 0 {
		cmd.Env = append(os.Environ(), p.o.Env...)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := p.o.NS.Start(cmd); err != nil {
		t.Fatal(err)
	}
	p.cmd, p.exited, p.waitErr, p.stopped = cmd, make(chan struct{}), nil, false
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
}

// WaitUntil polls ready until it returns nil; it fails the test when the
// process exits first or timeout passes, with what it waited for and the
// last reason ready gave.
func (p *Process) WaitUntil(timeout time.Duration, what string, ready func() error) {
	t := p.t
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := ready()
		if err == nil {
			return
		}
		select {
		case <-p.exited:
			t.Fatalf("%s exited before it was %s (%v); log:\n%s", p.o.Name, what, p.waitErr, p.Log())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not %s after %v (last: %v); log:\n%s", p.o.Name, what, timeout, err, p.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Pid is the process's id (0 before Launch).
func (p *Process) Pid() int {
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Signal sends sig to the process.
func (p *Process) Signal(sig syscall.Signal) error { return p.cmd.Process.Signal(sig) }

// Kill9 sends SIGKILL and waits for the process to be gone.
func (p *Process) Kill9() {
	p.t.Helper()
	p.stopped = true
	if err := p.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		p.t.Fatalf("kill -9 %s: %v", p.o.Name, err)
	}
	<-p.exited
}

// Kill sends SIGKILL if the process was launched and still runs, and
// waits for it.
func (p *Process) Kill() {
	if p.cmd == nil {
		return
	}
	select {
	case <-p.exited:
	default:
		_ = p.Signal(syscall.SIGKILL)
		<-p.exited
	}
}

// Stop sends SIGTERM and waits (up to 10 s) for the exit, returning its
// error: a process that had exited already is an error too.
func (p *Process) Stop() error {
	p.stopped = true
	if err := p.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	return p.Wait(10 * time.Second)
}

// Wait waits for the process to exit on its own and returns its error.
func (p *Process) Wait(timeout time.Duration) error {
	p.stopped = true
	select {
	case <-p.exited:
		return p.waitErr
	case <-time.After(timeout):
		return fmt.Errorf("%s did not exit within %v", p.o.Name, timeout)
	}
}

// Running reports whether the process has not exited.
func (p *Process) Running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Err is the process's exit error once it has exited (Running is false).
func (p *Process) Err() error { return p.waitErr }

// PID is the process id of the current incarnation.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// LogPath is the process's log file.
func (p *Process) LogPath() string { return p.o.Log }

// Log returns the end of the log file (its last 8000 bytes).
func (p *Process) Log() string {
	b, _ := os.ReadFile(p.o.Log)
	if len(b) > 8000 {
		b = append([]byte("...\n"), b[len(b)-8000:]...)
	}
	return string(b)
}

// LogSince returns what the current incarnation has logged; an unreadable
// log fails the test.
func (p *Process) LogSince() string {
	p.t.Helper()
	b, err := os.ReadFile(p.o.Log)
	if err != nil {
		p.t.Fatalf("read %s log: %v", p.o.Name, err)
	}
	if int64(len(b)) < p.logOff {
		return ""
	}
	return string(b[p.logOff:])
}

// LogCount counts the occurrences of s in the whole log.
func (p *Process) LogCount(s string) int {
	b, _ := os.ReadFile(p.o.Log)
	return bytes.Count(b, []byte(s))
}

// RSSKiB returns the process's resident set size in KiB.
func (p *Process) RSSKiB() (int64, error) {
	return lab.RSSKiB(p.PID())
}
