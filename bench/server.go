package bench

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"xdhcp/control/client"
	"xdhcp/internal/lab"
)

// Answer is one Kea control answer.
type Answer = client.Answer

// Server is a DHCP server process running in the lab's server namespace.
type Server struct {
	// Name is "xdhcp" or "kea".
	Name string
	// Ready is the time from exec to the first answered control command.
	Ready time.Duration
	// LogPath holds the server's output.
	LogPath string

	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
	// ctl: the UNIX control socket (kea, xdhcpd on its embedded
	// configuration), or HTTP inside the namespace (xdhcpd on the suite's).
	ctl *client.Client
	// telemetry, when set, serves xdhcpd's GET /metrics (the embedded
	// configuration's read-only listener, inside the namespace); else the
	// HTTP control listener does.
	telemetry *client.Client
	// restoreFiles, when set, puts the lease files of the embedded
	// configuration back as they were before the start (once).
	restoreFiles func()
}

// ServerOptions describe how to start a server.
type ServerOptions struct {
	// Bin is the executable (xdhcpd, kea-dhcp4).
	Bin string
	// Config is the configuration file; empty runs xdhcpd's embedded one.
	Config string
	// CPU pins the server with taskset; -1 leaves it unpinned.
	CPU int
	// LogPath receives stdout and stderr.
	LogPath string
	// Env is added to the environment (Kea's pid and lock directories).
	Env []string
	// ReadyTimeout bounds the wait for the control channel (default 60 s,
	// enough to load a million leases).
	ReadyTimeout time.Duration
}

// StartXdhcpd starts xdhcpd in the server namespace and waits until its
// control channel answers: with o.Config, the HTTP listener the suite's
// configurations put at 127.0.0.1:8000 inside the namespace; without, the
// UNIX socket of the embedded configuration.
func StartXdhcpd(ctx context.Context, b *Lab, o ServerOptions) (*Server, error) {
	return StartXdhcpdIn(ctx, b.Server, o)
}

// StartXdhcpdIn starts xdhcpd in namespace ns (a lab of another shape than
// Lab, such as the HA pair's), as StartXdhcpd.
func StartXdhcpdIn(ctx context.Context, ns *lab.NS, o ServerOptions) (*Server, error) {
	var args []string
	s := &Server{Name: "xdhcp"}
	opts := client.Options{URL: "http://127.0.0.1:8000/", Dial: nsDialer(ns.Do)}
	if o.Config != "" {
		args = []string{"-c", o.Config}
	} else {
		opts = client.Options{Socket: embeddedControlSocket}
		var err error
		if s.telemetry, err = client.New(client.Options{URL: embeddedTelemetryURL, Dial: nsDialer(ns.Do), Timeout: 10 * time.Second}); err != nil {
			return nil, err
		}
		// The embedded configuration's lease file is the system's: keep
		// what is there, and remove only what this server creates.
		if s.restoreFiles, err = protectLeaseFiles(embeddedLeaseFile); err != nil {
			return nil, err
		}
		// Its XDP pins go under the default bpffs directory, where they
		// outlive the daemon (for its restart): this namespace's go once
		// the server stopped.
		unpin, err := unpinNamespace(ns)
		if err != nil {
			s.restore()
			return nil, err
		}
		restoreFiles := s.restoreFiles
		s.restoreFiles = func() { restoreFiles(); unpin() }
	}
	opts.Timeout, opts.Service = 10*time.Second, client.ServiceDHCP4
	ctl, err := client.New(opts)
	if err == nil {
		s.ctl = ctl
		err = s.start(ctx, ns, o, args)
	}
	if err != nil {
		s.restore()
		return nil, err
	}
	return s, nil
}

// unpinNamespace returns a function removing the pin directories that an
// xdhcpd in ns leaves under embeddedPinBase (netns-<inode>-<cookie>).
func unpinNamespace(ns *lab.NS) (func(), error) {
	var st syscall.Stat_t
	if err := syscall.Stat(ns.Path(), &st); err != nil {
		return nil, fmt.Errorf("stat namespace %s: %w", ns.Name(), err)
	}
	pattern := fmt.Sprintf("%s/netns-%d-*", embeddedPinBase, st.Ino)
	return func() {
		dirs, _ := filepath.Glob(pattern)
		for _, dir := range dirs {
			_ = os.RemoveAll(dir)
		}
	}, nil
}

// restore runs restoreFiles, once.
func (s *Server) restore() {
	if s.restoreFiles != nil {
		s.restoreFiles()
		s.restoreFiles = nil
	}
}

// protectLeaseFiles notes which of the lease file at path and its LFC
// companions exist, moves the lease file aside if there is one (a server
// would load it), and returns a function removing the files created after
// and putting the lease file back.
func protectLeaseFiles(path string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	names := []string{path, path + ".2", path + ".1", path + ".output", path + ".completed"}
	existed := map[string]bool{}
	for _, n := range names {
		if _, err := os.Stat(n); err == nil {
			existed[n] = true
		}
	}
	removeNew := func() {
		for _, n := range names {
			if !existed[n] {
				_ = os.Remove(n)
			}
		}
	}
	if !existed[path] {
		return removeNew, nil
	}
	bak := path + ".before-xdhcp-bench"
	if err := os.Rename(path, bak); err != nil {
		return nil, fmt.Errorf("move %s aside: %w", path, err)
	}
	existed[path] = false
	return func() {
		removeNew()
		_ = os.Rename(bak, path)
	}, nil
}

// Facts of xdhcpd's embedded configuration the bench relies on (the demo's
// run in make test fails if they change): its UNIX control socket (a file,
// so reached from outside the server's namespace; control there is a UNIX
// socket only), its telemetry listener (inside the namespace), its lease
// file and the bpffs directory it pins under (xdhcpd's default).
const (
	embeddedControlSocket = "/run/xdhcp/xdhcp4-ctrl-socket"
	embeddedTelemetryURL  = "http://127.0.0.1:9547/"
	embeddedLeaseFile     = "/var/lib/xdhcp/leases4.csv"
	embeddedPinBase       = "/sys/fs/bpf/xdhcp"
)

// StartKea starts kea-dhcp4 -c Config in the server namespace; the
// configuration must have a UNIX control socket at sock.
func StartKea(ctx context.Context, b *Lab, o ServerOptions, sock string) (*Server, error) {
	return StartKeaIn(ctx, b.Server, o, sock)
}

// StartKeaIn starts kea-dhcp4 -c Config in namespace ns.
func StartKeaIn(ctx context.Context, ns *lab.NS, o ServerOptions, sock string) (*Server, error) {
	ctl, err := client.New(client.Options{Socket: sock})
	if err != nil {
		return nil, err
	}
	s := &Server{Name: "kea", ctl: ctl}
	return s, s.start(ctx, ns, o, []string{"-c", o.Config})
}

func (s *Server) start(ctx context.Context, ns *lab.NS, o ServerOptions, args []string) error {
	bin, err := filepath.Abs(o.Bin)
	if err != nil {
		return err
	}
	argv := append([]string{"--net=" + ns.Path(), "--", bin}, args...)
	name := "nsenter"
	if o.CPU >= 0 {
		argv = append([]string{"-c", strconv.Itoa(o.CPU), "nsenter"}, argv...)
		name = "taskset"
	}
	s.cmd = exec.Command(name, argv...)
	s.cmd.Env = append(os.Environ(), o.Env...)
	s.LogPath = o.LogPath
	if o.LogPath != "" {
		f, err := os.Create(o.LogPath)
		if err != nil {
			return fmt.Errorf("server log: %w", err)
		}
		defer f.Close()
		s.cmd.Stdout, s.cmd.Stderr = f, f
	}
	t0 := time.Now()
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", o.Bin, err)
	}
	s.done = make(chan struct{})
	go func() { s.waitErr = s.cmd.Wait(); close(s.done) }()
	timeout := o.ReadyTimeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	deadline := time.Now().Add(timeout)
	for {
		if !s.Alive() {
			return fmt.Errorf("%s exited during start-up (%v); log:\n%s", s.Name, s.waitErr, s.LogTail(20))
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		a, err := s.Command(cctx, "version-get", nil)
		cancel()
		if err == nil && a.Result == 0 {
			s.Ready = time.Since(t0)
			return nil
		}
		if ctx.Err() != nil {
			s.Stop()
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			s.Stop()
			return fmt.Errorf("%s: control channel not ready after %v (last: %v); log:\n%s", s.Name, timeout, err, s.LogTail(20))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// PID is the server's process id.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Alive reports whether the process is still running.
func (s *Server) Alive() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// Command sends a Kea control command and returns the first answer. A
// UNIX socket exchange without a deadline in ctx is bounded by 30 s.
func (s *Server) Command(ctx context.Context, command string, args any) (Answer, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
	}
	a, err := s.ctl.Do(ctx, command, args)
	if err != nil {
		return Answer{}, fmt.Errorf("%s %s: %w", s.Name, command, err)
	}
	return a, nil
}

// metricsText is the body of xdhcpd's GET /metrics (on its telemetry or
// HTTP control listener); Kea has no such endpoint.
func (s *Server) metricsText(ctx context.Context) ([]byte, error) {
	if s.Name != "xdhcp" {
		return nil, fmt.Errorf("%s has no /metrics", s.Name)
	}
	from := s.ctl
	if s.telemetry != nil {
		from = s.telemetry
	}
	resp, err := from.Get(ctx, "metrics")
	if err != nil {
		return nil, fmt.Errorf("%s metrics: %w", s.Name, err)
	}
	if resp.Status != http.StatusOK {
		return nil, fmt.Errorf("%s metrics: HTTP %d", s.Name, resp.Status)
	}
	return resp.Body, nil
}

// RSSKiB returns the server's resident set size (VmRSS) in KiB.
func (s *Server) RSSKiB() (int64, error) {
	v, err := lab.RSSKiB(s.PID())
	if err != nil {
		return 0, fmt.Errorf("%s: %w", s.Name, err)
	}
	return v, nil
}

// Stop sends SIGTERM, waits up to 5 s, then kills. It returns an error if
// the process had died before Stop (a crash).
func (s *Server) Stop() error {
	defer s.restore()
	if s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	select {
	case <-s.done:
		return fmt.Errorf("%s (pid %d) had exited: %v", s.Name, s.PID(), s.waitErr)
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	return nil
}

// LogTail returns the last n lines of the server's log.
func (s *Server) LogTail(n int) string {
	b, err := os.ReadFile(s.LogPath)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
