package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"xdhcp/config"
	"xdhcp/control"
	"xdhcp/internal/buildinfo"
	"xdhcp/internal/cli"
	"xdhcp/internal/logging"
	"xdhcp/internal/profiling"
)

// version is the xdhcp release; versionText adds the commit, its date and
// the Go version.
const version = buildinfo.Version

func versionText() string { return buildinfo.Read().String() }

// run parses the command line and runs the daemon until ctx ends, a
// shutdown command arrives, or a fatal error occurs.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("xdhcpd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("c", "", "Kea Dhcp4 configuration file (default: the embedded demo configuration)")
	testPath := fs.String("t", "", "check the configuration file and exit (0 valid, 1 invalid)")
	debug := fs.Bool("d", false, "debug logging")
	showVersion := fs.Bool("v", false, "print the version and exit")
	extVersion := fs.Bool("V", false, "print the extended version and exit")
	agentPath := fs.String("a", "", "Kea Control-agent configuration file (what kea-ctrl-agent -c reads): sets the HA peer listener's address, authentication and TLS")
	pprof := fs.Bool("pprof", false, "serve net/http/pprof under /debug/pprof/ on the loopback HTTP(S) control sockets that authenticate, for profiling only")
	if help, err := cli.Parse(fs, args, stdout, stderr); help || err != nil {
		return err
	}
	switch {
	case *showVersion:
		fmt.Fprintln(stdout, version)
		return nil
	case *extVersion:
		fmt.Fprintln(stdout, versionText())
		return nil
	case *testPath != "":
		cfg, err := config.Check(*testPath)
		if err == nil {
			err = withControlAgent(cfg, *agentPath, stderr)
		}
		if cfg != nil {
			for _, w := range cfg.Warnings {
				fmt.Fprintln(stderr, "WARN", w)
			}
		}
		if err == nil {
			err = checkLeaseHooks(cfg)
		}
		if err == nil {
			err = logging.Check(cfg.Loggers)
		}
		if err == nil {
			// kea-dhcp4 -t also refuses interfaces this system lacks.
			err = cfg.CheckInterfaces(interfaceExists)
		}
		if err != nil {
			return fmt.Errorf("configuration %s is invalid:\n%w", *testPath, err)
		}
		fmt.Fprintf(stdout, "configuration %s is valid\n", *testPath)
		return nil
	}

	cfg, err := loadConfig(*cfgPath)
	if err == nil {
		err = withControlAgent(cfg, *agentPath, stderr)
	}
	if err == nil {
		// As -t: the Dhcp6 section's entries are checked too, though only
		// the Dhcp4 section's are opened.
		err = checkLeaseHooks(cfg)
	}
	if err != nil {
		return err
	}
	logs, err := logging.Open(cfg.Loggers, *debug, stderr)
	if err != nil {
		return err
	}
	defer logs.Close()
	log := logs.Logger()
	for _, w := range cfg.Warnings {
		log.Warn("configuration: " + w)
	}
	xdpProblem, err := checkCapabilities(cfg)
	if err != nil {
		return err
	}
	if xdpProblem != "" {
		log.Warn(xdpProblem + ": serving in socket mode")
	}
	warnExposedControl(cfg, log)
	// SIGHUP is caught from before the control channel answers: a reload
	// asked for during start-up waits instead of killing the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	d, err := newDaemon(ctx, cfg, *cfgPath, xdpProblem == "", log)
	if err != nil {
		return err
	}
	kept, err := d.dropCapabilities(cfg)
	if err != nil {
		return errors.Join(err, d.close())
	}
	log.Info("capabilities dropped", "kept", kept.String())
	// Only now may io_uring start its worker threads: they copy the
	// capabilities of the thread that first uses a ring.
	d.rings.Open()
	if *pprof {
		// Private routes: only loopback sockets that authenticate serve
		// them, behind the control channel's limits and timeouts.
		for _, r := range profiling.Routes() {
			if err := d.ctl.HandlePrivateHTTP(r.Path, r.Handler); err != nil {
				return errors.Join(err, d.close())
			}
		}
		log.Info("runtime profiles served on the authenticated loopback control sockets", "path", profiling.Prefix)
	}
	for {
		select {
		case <-hup:
			// logrotate's postrotate sends SIGHUP: new log files first.
			if err := logs.Reopen(); err != nil {
				log.Error("reopen log outputs on SIGHUP failed", "err", err)
			}
			if err := d.reload(nil); err != nil {
				log.Error("reload on SIGHUP failed: keeping the running configuration", "err", err)
			}
		case <-d.done:
			// A fatal error (the lease-database on-fail policy) comes
			// first: it is what the operator must read.
			return errors.Join(d.fatalErr(), d.close())
		case <-ctx.Done():
			return d.close()
		}
	}
}

func interfaceExists(name string) bool {
	_, err := net.InterfaceByName(name)
	return err == nil
}

// loadConfig reads path, or the embedded default when path is empty.
func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		return config.Parse(config.Default())
	}
	return config.Load(path)
}

// uptime helper for status-get.
func secondsSince(t time.Time) int64 { return int64(time.Since(t).Seconds()) }

// warnExposedControl warns about control listeners reachable from the
// network without TLS or authentication (control.Exposed).
func warnExposedControl(cfg *config.Config, log *slog.Logger) {
	for _, a := range control.Exposed(cfg.ControlSockets) {
		log.Warn("control channel listens on a non-loopback address without TLS and authentication", "listener", a)
	}
}
