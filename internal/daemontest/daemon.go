package daemontest

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"xdhcp/internal/lab"
)

// DefaultControlURL is where the tests' configurations put the daemon's
// HTTP control listener, inside its namespace.
const DefaultControlURL = "http://127.0.0.1:8000/"

// InsecureControlKey is the key of the configuration's xdhcp section that
// lets an HTTP control socket on loopback run without authentication. The
// tests' configurations set it to true: the listener is inside the test's
// own namespace, where no other user can reach it, and the harness talks
// to it without credentials.
const InsecureControlKey = "insecure-unauthenticated-loopback-control"

// Options describe one xdhcpd of a test.
type Options struct {
	// NS is the namespace the daemon runs in.
	NS *lab.NS
	// Binary is the xdhcpd executable (Binary.Path).
	Binary string
	// Prefix, when set, is a command the daemon is run through, which
	// execs it (e.g. setpriv to run it as another user): the process's
	// PID is then the daemon's.
	Prefix []string
	// Config is the configuration file; WriteConfig writes one.
	Config string
	// Flags are added to the command line after -c Config.
	Flags []string
	// Log receives the daemon's stdout and stderr; every start appends
	// to it after a "==== start" line.
	Log string
	// ControlURL is the control listener inside NS (DefaultControlURL
	// when empty).
	ControlURL string
	// CommandTimeout bounds each control command (5 s when zero).
	CommandTimeout time.Duration
	// ReadyTimeout bounds Start's wait for readiness (15 s when zero).
	ReadyTimeout time.Duration
	// ReadyOnControl makes the daemon ready as soon as its control
	// channel answers; by default it must also have logged that it
	// serves, which a daemon logging above INFO never does.
	ReadyOnControl bool
	// StopAtEnd makes the test's cleanup stop a daemon still running with
	// SIGTERM, and fail the test if it had exited on its own (a crash)
	// or exits with an error; by default the cleanup kills it silently.
	StopAtEnd bool
}

// Daemon is one xdhcpd process, and its restarts, in a lab namespace: a
// Process whose embedded Control reaches the daemon's control listener.
type Daemon struct {
	*Process
	*Control
	o Options
}

// New prepares a daemon without starting it.
func New(t testing.TB, o Options) *Daemon {
	t.Helper()
	if o.ControlURL == "" {
		o.ControlURL = DefaultControlURL
	}
	if o.CommandTimeout == 0 {
		o.CommandTimeout = 5 * time.Second
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 15 * time.Second
	}
	d := &Daemon{
		Process: NewProcess(t, ProcessOptions{
			Name: "xdhcpd", NS: o.NS, Args: append(append(append([]string(nil), o.Prefix...), o.Binary, "-c", o.Config), o.Flags...), Log: o.Log,
		}),
		Control: NewControl(o.NS, o.ControlURL, o.CommandTimeout),
		o:       o,
	}
	if o.StopAtEnd {
		// Registered after the process's own cleanup, so it runs first.
		t.Cleanup(d.stopAtEnd)
	}
	return d
}

// Start is New followed by Daemon.Start.
func Start(t testing.TB, o Options) *Daemon {
	t.Helper()
	d := New(t, o)
	d.Start()
	return d
}

// WriteConfig writes cfg as indented JSON to path, failing t on error, and
// returns path.
func WriteConfig(t testing.TB, path string, cfg any) string {
	t.Helper()
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func (d *Daemon) stopAtEnd() {
	if d.stopped || d.cmd == nil {
		return
	}
	if !d.Running() {
		d.t.Errorf("xdhcpd (pid %d) had exited: %v", d.PID(), d.waitErr)
	} else if err := d.Stop(); err != nil {
		d.t.Errorf("stop xdhcpd: %v", err)
	}
}

// Start runs the process and waits until it is ready (see WaitReady).
func (d *Daemon) Start() {
	d.t.Helper()
	d.Launch()
	d.WaitReady(d.o.ReadyTimeout)
}

// WaitReady polls version-get until it answers and (unless
// Options.ReadyOnControl) the log says the daemon serves: the control
// socket opens before the interfaces do. It fails the test when the
// process exits first or the timeout passes.
func (d *Daemon) WaitReady(timeout time.Duration) {
	d.t.Helper()
	d.WaitUntil(timeout, "ready", func() error {
		a, err := d.Try("version-get", nil)
		switch {
		case err != nil:
			return err
		case a.Result != 0:
			return fmt.Errorf("version-get: result %d %q", a.Result, a.Text)
		case !d.o.ReadyOnControl && !strings.Contains(d.LogSince(), `msg="xdhcpd serving"`):
			return errors.New("control channel answers, serving not logged yet")
		}
		return nil
	})
}

// Restart starts the process again on the same configuration; it must
// have exited.
func (d *Daemon) Restart() {
	d.t.Helper()
	if d.Running() {
		d.t.Fatal("restart: xdhcpd still runs")
	}
	d.Start()
}

// ConfigPath is the configuration file the daemon runs on.
func (d *Daemon) ConfigPath() string { return d.o.Config }
