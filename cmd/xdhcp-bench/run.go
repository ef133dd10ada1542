package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"xdhcp/bench"
	"xdhcp/bench/loadgen"
	"xdhcp/internal/cli"
)

const usage = `usage:
  xdhcp-bench demo  -xdhcpd PATH [-clients N]
  xdhcp-bench run   [-netns PATH -iface IF | -xdhcpd PATH] [-mode open|closed] [-rate R] ...
  xdhcp-bench suite [-quick] [-only S1,S5,...] [-repeats N] [-no-kea] -xdhcpd PATH -out DIR
run "xdhcp-bench SUBCOMMAND -h" for the flags`

// run dispatches the subcommand.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return errors.New("no subcommand")
	}
	switch args[0] {
	case "demo":
		return runDemo(ctx, args[1:], stdout, stderr)
	case "run":
		return runLoad(ctx, args[1:], stdout, stderr)
	case "suite":
		return runSuite(ctx, args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	fmt.Fprintln(stderr, usage)
	return fmt.Errorf("unknown subcommand %q", args[0])
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	xd := fs.String("xdhcpd", "./bin/xdhcpd", "xdhcpd binary (runs with its embedded configuration)")
	n := fs.Int("clients", 300, "emulated clients")
	if help, err := cli.Parse(fs, args, stdout, stderr); help || err != nil {
		return err
	}
	return bench.Demo(ctx, bench.DemoOptions{Xdhcpd: *xd, Clients: *n}, stdout)
}

func runSuite(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("suite", flag.ContinueOnError)
	fs.SetOutput(stderr)
	xd := fs.String("xdhcpd", "./bin/xdhcpd", "xdhcpd binary")
	out := fs.String("out", "bench/results", "results folder (a timestamped folder is created inside)")
	quick := fs.Bool("quick", false, "short runs of S1-S3 only (CI, 1-3 minutes); with -only, short runs of those")
	noKea := fs.Bool("no-kea", false, "do not run Kea even if installed")
	repeats := fs.Int("repeats", 0, "interleaved repeats per point (default 3, quick 1)")
	only := fs.String("only", "", "comma-separated scenarios to run (e.g. S1,S5,S6/S7); default all")
	leaseHooks := fs.Bool("lease-hooks", false, "each server also runs, interleaved, with forensic logging (xdhcpd) and run-script with a trivial script (both): the hooks' cost in one invocation; S1's knee is then searched once per repeat, to 3%, and the median kept")
	hookSet := fs.String("lease-hooks-set", bench.HooksBoth, "with -lease-hooks, the hooks the variant runs: both, legal-log or run-script")
	s2Window := fs.Int("s2-window", 256, "renewals S2's closed loop keeps in flight (a larger window measures the capacity of a server whose replies wait longer)")
	hookScript := fs.String("lease-hooks-script", "", "with -lease-hooks, the script run-script calls (default: one that exits 0 at once); the suite runs it as it is")
	durable := fs.Bool("forensic-durable", false, "with -lease-hooks, the forensic log holds replies that commit no lease until their records are synced, not only written (durable-before-reply true)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: xdhcp-bench suite [flags]\n\nflags:")
		fs.PrintDefaults()
		fmt.Fprintln(fs.Output(), "\n"+bench.ScenarioHelp)
	}
	if help, err := cli.Parse(fs, args, stdout, stderr); help || err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable: %w", err)
	}
	if *hookScript != "" {
		// The servers run in folders of their own.
		if *hookScript, err = filepath.Abs(*hookScript); err != nil {
			return fmt.Errorf("-lease-hooks-script: %w", err)
		}
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	return bench.RunSuite(ctx, bench.SuiteOptions{
		Xdhcpd: *xd, Out: *out, Quick: *quick, NoKea: *noKea, Repeats: *repeats, Self: self, Logger: log,
		Only: splitList(*only), LeaseHooks: *leaseHooks, LeaseHookSet: *hookSet, ForensicDurable: *durable,
		LeaseHookScript: *hookScript,
		S2Window:        *s2Window,
	}, stdout)
}

// loadFlags are the flags of `run`.
type loadFlags struct {
	netnsPath, iface, xdhcpd       string
	mode                           string
	rate                           float64
	outstanding, clients, count    int
	duration, timeout, renewAfter  time.Duration
	retries, renewals, warmup      int
	renewFraction                  float64
	relay, rebind, release, cid    bool
	declineEvery                   int
	server, relayAddr, subnet, mac string
	macPrefix                      string
	quiet                          bool
	floodMAC                       string
	leasesOut                      string
	transport                      string
	v6                             bool
	delegated                      string
}

func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f loadFlags
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.netnsPath, "netns", "", "client network namespace (path, e.g. /run/netns/NAME) of an existing lab")
	fs.StringVar(&f.iface, "iface", "xd1", "client-side interface in -netns")
	fs.StringVar(&f.xdhcpd, "xdhcpd", "./bin/xdhcpd", "without -netns: build a lab and run this xdhcpd (embedded configuration)")
	fs.StringVar(&f.mode, "mode", "open", "open (fixed rate) or closed (fixed outstanding)")
	fs.Float64Var(&f.rate, "rate", 1000, "open loop: exchanges started per second")
	fs.IntVar(&f.outstanding, "outstanding", 64, "closed loop: exchanges in flight")
	fs.IntVar(&f.clients, "clients", 10000, "distinct clients")
	fs.IntVar(&f.count, "count", 0, "exchanges to start (default: clients, or rate*duration when renewing)")
	fs.DurationVar(&f.duration, "duration", 10*time.Second, "bound on the sending phase")
	fs.DurationVar(&f.timeout, "timeout", time.Second, "reply timeout")
	fs.IntVar(&f.retries, "retries", 0, "retransmissions before an exchange counts as lost")
	fs.IntVar(&f.renewals, "renewals", 0, "renewals per client after binding")
	fs.DurationVar(&f.renewAfter, "renew-after", 0, "delay before each renewal (0: T1 of the lease)")
	fs.Float64Var(&f.renewFraction, "renew-fraction", 0, "share of started exchanges that renew bound clients")
	fs.IntVar(&f.warmup, "warmup", 0, "clients bound before the measured phase")
	fs.BoolVar(&f.relay, "relay", false, "relay mode (giaddr, option 82, unicast from port 67)")
	fs.BoolVar(&f.rebind, "rebind", false, "rebind after the renewals")
	fs.BoolVar(&f.release, "release", false, "release at the end")
	fs.BoolVar(&f.cid, "client-id", false, "send option 61")
	fs.IntVar(&f.declineEvery, "decline-every", 0, "every n-th client declines its first address")
	fs.StringVar(&f.server, "server", "10.77.0.1", "server address (relay mode destination)")
	fs.StringVar(&f.relayAddr, "relay-addr", "", "relay address (default: the interface's first IPv4 address)")
	fs.StringVar(&f.subnet, "subnet", "10.77.0.0/16", "every offered address must be in this prefix (empty: no check)")
	fs.StringVar(&f.mac, "server-mac", "", "server MAC for relay mode (default: resolved by ARP)")
	fs.StringVar(&f.macPrefix, "mac-prefix", "02:58", "first two bytes of the client MACs")
	fs.BoolVar(&f.quiet, "q", false, "no progress line")
	fs.StringVar(&f.floodMAC, "flood-mac", "", "also flood DISCOVERs from this MAC at full speed during the run (S3)")
	fs.StringVar(&f.transport, "transport", loadgen.TransportAuto, "auto (AF_XDP, else AF_PACKET with the reason logged), afxdp or afpacket")
	fs.BoolVar(&f.v6, "v6", false, "DHCPv6 clients (AF_XDP only, with -netns): Solicit/Advertise/Request/Reply for one address and one prefix each, Renew/Rebind of both; -subnet then bounds the addresses")
	fs.StringVar(&f.delegated, "delegated", "", "with -v6: every delegated prefix must lie in this prefix (empty: no check)")
	fs.StringVar(&f.leasesOut, "leases-out", "", "write the clients' bound addresses at the end, as JSON {MAC: address}, to this file")
	if help, err := cli.Parse(fs, args, stdout, stderr); help || err != nil {
		return err
	}
	cfg, err := f.config()
	if err != nil {
		return err
	}
	do := func(fn func() error) error { return bench.DoInNetns(f.netnsPath, fn) }
	if f.v6 && (f.netnsPath == "" || f.floodMAC != "" || f.leasesOut != "") {
		return errors.New("-v6 runs in an existing lab (-netns), without -flood-mac and -leases-out")
	}
	if f.netnsPath == "" {
		b, err := bench.NewLab("xd-run", netip.MustParsePrefix("10.77.0.1/16"), netip.MustParsePrefix("10.77.0.2/16"))
		if err != nil {
			return err
		}
		defer b.Close()
		tmp, err := os.MkdirTemp("", "xd-run-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		srv, err := bench.StartXdhcpd(ctx, b, bench.ServerOptions{Bin: f.xdhcpd, CPU: -1, LogPath: filepath.Join(tmp, "xdhcpd.log")})
		if err != nil {
			return err
		}
		defer srv.Stop()
		f.iface = b.ClientIf
		do = b.Client.Do
	}
	var sock loadgen.Transport
	err = do(func() error {
		if cfg.Relay {
			if !cfg.RelayAddr.IsValid() {
				a, err := firstAddr(f.iface)
				if err != nil {
					return err
				}
				cfg.RelayAddr = a
			}
			if cfg.ServerMAC == [6]byte{} {
				m, err := loadgen.ResolveMAC(f.iface, cfg.ServerAddr, 3*time.Second)
				if err != nil {
					return err
				}
				cfg.ServerMAC = m
			}
		}
		var err error
		port := uint16(68)
		if cfg.Relay {
			port = 67
		}
		if cfg.V6 {
			port = 546
			if f.transport == loadgen.TransportAuto {
				// AF_PACKET's filter takes IPv4 only.
				f.transport = loadgen.TransportAFXDP
			}
			if cfg.LinkLocal, err = loadgen.InterfaceLinkLocal(f.iface); err != nil {
				return err
			}
		}
		// The flood (S3) keeps its own AF_PACKET socket below: sharing the
		// AF_XDP socket floods faster but queues the legitimate clients
		// behind the flood, and their latency is what S3 measures.
		sock, err = loadgen.OpenTransport(f.iface, loadgen.TransportOptions{Kind: f.transport, ListenPort: port,
			Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
		return err
	})
	if err != nil {
		return err
	}
	defer sock.Close()
	if !f.quiet && isTerminal(stderr) {
		cfg.Progress = func(s loadgen.Second) {
			fmt.Fprintf(stderr, "\r[%3ds] started %6d  dora %6d  renew %6d  lost %5d  wrong %d  p99 %7.2f ms ", s.T+1, s.Started, s.DORA, s.Renew, s.Lost, s.Wrong, s.P99Ms)
		}
	}
	g, err := loadgen.New(cfg, sock)
	if err != nil {
		return err
	}
	var flood chan uint64
	var fsock *loadgen.Socket
	stopFlood := func() {}
	if f.floodMAC != "" {
		hw, err := net.ParseMAC(f.floodMAC)
		if err != nil || len(hw) != 6 {
			return fmt.Errorf("-flood-mac %q: not a MAC", f.floodMAC)
		}
		if err := do(func() error {
			var err error
			fsock, err = loadgen.OpenSocket(f.iface, loadgen.SocketOptions{ListenPort: 9, RcvBuf: 4096})
			return err
		}); err != nil {
			return err
		}
		defer fsock.Close()
		// The flood stands for other hosts: it must not delay the
		// legitimate clients inside the generator, or their latency
		// measures the generator rather than the server. Its goroutine
		// never blocks, so in a generator confined to one core (GOMAXPROCS
		// 1) the engine, back from poll(2) with replies, would wait for a P
		// until the flood is preempted (Go's 10 ms time slice); with a P of
		// its own it still shares the core with the flood's thread, which
		// therefore runs as SCHED_IDLE: it takes all the CPU the engine
		// leaves, and yields the moment a reply wakes the engine. Measured
		// in the S3 lab (legitimate p99 at 500/s, three runs each): alone
		// 2.4-3.0 ms; beside a flood at normal priority 5.4-6.7 ms; beside
		// a SCHED_IDLE flood 1.9-3.2 ms, the flood still at ~380,000
		// frames/s.
		if runtime.GOMAXPROCS(0) < 2 {
			runtime.GOMAXPROCS(2)
		}
		flood = make(chan uint64, 1)
		var fctx context.Context
		fctx, stopFlood = context.WithCancel(ctx)
		defer stopFlood()
		go func() {
			runtime.LockOSThread() // the thread ends with the goroutine: its policy goes with it
			if err := unix.SchedSetAttr(0, &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_IDLE}, 0); err != nil {
				fmt.Fprintf(stderr, "xdhcp-bench: flood thread not SCHED_IDLE (it may delay the measured clients): %v\n", err)
			}
			n, _ := loadgen.Flood(fctx, fsock, [6]byte(hw), cfg.Duration+cfg.Timeout)
			flood <- n
		}()
	}
	rep, err := g.Run(ctx)
	stopFlood()
	if flood != nil && rep != nil {
		rep.FloodFrames = <-flood
	}
	if cfg.Progress != nil {
		fmt.Fprintln(stderr)
	}
	if f.leasesOut != "" {
		if lerr := writeLeases(f.leasesOut, g.Leases()); lerr != nil {
			return lerr
		}
	}
	if rep != nil {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if eerr := enc.Encode(rep); eerr != nil {
			return eerr
		}
	}
	if err != nil {
		return err
	}
	return rep.Failed()
}

func (f *loadFlags) config() (loadgen.Config, error) {
	c := loadgen.Config{
		Mode: loadgen.Mode(f.mode), Rate: f.rate, Outstanding: f.outstanding, Clients: f.clients,
		Count: f.count, Duration: f.duration, Timeout: f.timeout, Retries: f.retries,
		Renewals: f.renewals, RenewAfter: f.renewAfter, RenewFraction: f.renewFraction,
		WarmupClients: f.warmup, Relay: f.relay, Rebind: f.rebind, Release: f.release,
		ClientID: f.cid, DeclineEvery: f.declineEvery, V6: f.v6,
	}
	if c.Count == 0 {
		c.Count = c.Clients - c.WarmupClients
		if c.RenewFraction > 0 {
			c.Count = 1 << 40
		}
	}
	var err error
	if c.ServerAddr, err = netip.ParseAddr(f.server); err != nil {
		return c, fmt.Errorf("-server: %w", err)
	}
	if f.relayAddr != "" {
		if c.RelayAddr, err = netip.ParseAddr(f.relayAddr); err != nil {
			return c, fmt.Errorf("-relay-addr: %w", err)
		}
	}
	if f.subnet != "" {
		if c.Subnet, err = netip.ParsePrefix(f.subnet); err != nil {
			return c, fmt.Errorf("-subnet: %w", err)
		}
		if c.V6 != c.Subnet.Addr().Is6() {
			return c, fmt.Errorf("-subnet %s: not of the clients' address family", f.subnet)
		}
	}
	if f.delegated != "" {
		if c.Delegated, err = netip.ParsePrefix(f.delegated); err != nil || !c.Delegated.Addr().Is6() {
			return c, fmt.Errorf("-delegated %q: want an IPv6 prefix", f.delegated)
		}
	}
	if f.mac != "" {
		hw, err := net.ParseMAC(f.mac)
		if err != nil || len(hw) != 6 {
			return c, fmt.Errorf("-server-mac %q: not a MAC", f.mac)
		}
		c.ServerMAC = [6]byte(hw)
	}
	hw, err := net.ParseMAC(f.macPrefix + ":00:00:00:00")
	if err != nil {
		return c, fmt.Errorf("-mac-prefix %q: want two hex bytes like 02:58", f.macPrefix)
	}
	c.MACPrefix = [2]byte{hw[0], hw[1]}
	return c, nil
}

// firstAddr returns the first IPv4 address of ifname (in the current
// thread's namespace).
func firstAddr(ifname string) (netip.Addr, error) {
	ifc, err := net.InterfaceByName(ifname)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("find %s: %w", ifname, err)
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		return netip.Addr{}, err
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(ipn.IP.To4()); ok && ipn.IP.To4() != nil {
				return ip, nil
			}
		}
	}
	return netip.Addr{}, fmt.Errorf("%s has no IPv4 address", ifname)
}

// isTerminal reports whether w is a terminal (for the progress line).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(v string) []string {
	var out []string
	for f := range strings.SplitSeq(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// writeLeases writes the clients' bound addresses as JSON {MAC: address}
// (the suite checks them against an HA standby's lease database).
func writeLeases(path string, leases map[[6]byte]netip.Addr) error {
	m := make(map[string]string, len(leases))
	for mac, a := range leases {
		m[net.HardwareAddr(mac[:]).String()] = a.String()
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write leases %s: %w", path, err)
	}
	return nil
}
