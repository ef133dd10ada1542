package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"reflect"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"xdhcp/host/sqlhost"
	"xdhcp/internal/buildinfo"
	"xdhcp/internal/uring"
	"xdhcp/telemetry"

	"github.com/VictoriaMetrics/metrics"

	"xdhcp/config"
	"xdhcp/control"
	"xdhcp/control/hostcmd"
	"xdhcp/control/leasecmd"
	"xdhcp/fastpath"
	"xdhcp/fastpath/afpacket"
	"xdhcp/fastpath/leasecache"
	"xdhcp/fastpath/xdp"
	"xdhcp/ha"
	"xdhcp/internal/stats"
	"xdhcp/lease"
	"xdhcp/lease/memfile"
	"xdhcp/slowpath"
)

// daemon is one running xdhcpd: the wiring of store, server, transports
// and control channel.
type daemon struct {
	// rings holds the io_uring syncs (lease files, forensic log) back
	// until the capabilities are dropped (see uring.Gate).
	rings   *uring.Gate
	log     *slog.Logger
	cfgPath string
	started time.Time

	reg     *stats.Registry
	metrics *metrics.Set
	store   leaseStore
	// leaseReader is what the lease commands read: the store, or for a
	// database the database itself.
	leaseReader lease.Reader
	hooks       *leaseHooks
	srv         *slowpath.Server
	// v6 is the DHCPv6 side (nil without a Dhcp6 section).
	v6  *dhcp6
	ctl *control.Server
	// leaseCmds are the server's lease and service commands; HA writes
	// the leases it synchronizes through them.
	leaseCmds *leasecmd.Commands
	// hostCmds are the reservation commands; hostDBs the host databases
	// the engine and they use.
	hostCmds *hostcmd.Commands
	hostDBs  []*sqlhost.DB
	// hostDBLost counts host database connection losses.
	hostDBLost *stats.Stat
	// cb is the configuration backend (config-control).
	cb *configBackend

	// cache is the fast path's lease cache (used in XDP mode).
	cache      *leasecache.Cache
	xdpAllowed bool
	ha         *ha.Service
	haListener *ha.Listener
	xdp        *xdp.Datapath
	// policy is the lease store's on-fail policy (is the store failing?).
	policy *slowpath.StoragePolicy
	// telemetry serves /metrics, /healthz and /ready without credentials
	// when xdhcp.telemetry is configured.
	telemetry *telemetry.Server

	mu        sync.Mutex // serializes reloads
	reloaded  time.Time
	listeners []*fastpath.SocketListener
	lisCancel context.CancelFunc
	lisWG     sync.WaitGroup

	ctx    context.Context
	cancel context.CancelFunc
	// sampling is closed when sampleStats has returned; close waits for
	// it before releasing what the statistics read (the XDP maps).
	sampling    chan struct{}
	stopSampler context.CancelFunc
	done        chan struct{}
	doneOnce    sync.Once
	// fatal is why the daemon stops on its own (the lease-database
	// on-fail policy); run returns it so the process exits non-zero.
	fatal atomic.Pointer[error]
}

func newDaemon(parent context.Context, cfg *config.Config, cfgPath string, xdpAllowed bool, log *slog.Logger) (_ *daemon, err error) {
	ctx, cancel := context.WithCancel(parent)
	d := &daemon{
		rings:    new(uring.Gate),
		log:      log,
		cfgPath:  cfgPath,
		started:  time.Now(),
		reloaded: time.Now(),
		reg:      stats.New(cfg.StatisticDefaultSampleCount, cfg.StatisticDefaultSampleAge),
		metrics:  metrics.NewSet(),
		ctx:      ctx,
		cancel:   cancel,
		done:     make(chan struct{}),
		// Without the capabilities for XDP the daemon serves in socket
		// mode whatever the configuration asks.
		xdpAllowed: xdpAllowed,
	}
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	if cfg, err = d.openConfigBackend(ctx, cfg); err != nil {
		return nil, err
	}
	db := cfg.LeaseDatabase
	network := slowpath.NewNetworkState(time.Now)
	storeLog := log.With("component", "lease-store")
	policy, err := slowpath.NewStoragePolicy(db.OnFail, network, d.reg, storeLog, d.fail)
	d.policy = policy
	if err != nil {
		return nil, err
	}
	d.hooks, err = openLeaseHooks(cfg, log, log.With("logger", "kea-dhcp4.leases"), d.reg, d.rings)
	if err != nil {
		return nil, err
	}
	if db.Type != "memfile" {
		policy.Describe("lease database")
		d.store, d.leaseReader, err = openDatabaseStore(ctx, cfg, d.hooks.records(), policy.Observe, storeLog)
		if err != nil {
			return nil, fmt.Errorf("open lease database: %w", err)
		}
		log.Info("lease database open", "type", db.Type, "name", db.Name, "host", db.Host, "leases", d.store.Len())
	} else {
		mf, err := memfile.Open(memfile.Options{
			Path: db.Name,
			// A file with a Dhcp6 section only writes no DHCPv4 lease file.
			Persist:      db.Persist && (cfg.Dhcp6 == nil || cfg.HasDhcp4),
			LFCInterval:  db.LFCInterval,
			MaxRowErrors: db.MaxRowErrors,
			Sync:         cfg.XDHCP.Durability != "none",
			MaxBatch:     cfg.XDHCP.CommitBatch,
			Logger:       storeLog,
			RetryWait:    db.ReconnectWaitTime,
			RetryLimit:   db.MaxReconnectTries,
			OnFault:      policy.Observe,
			Records:      d.hooks.records(),
			SyncRingGate: d.rings,
		})
		if err != nil {
			return nil, fmt.Errorf("open lease database: %w", err)
		}
		d.store, d.leaseReader = mf, mf
		log.Info("lease database open", "path", db.Name, "persist", db.Persist, "leases", d.store.Len())
	}
	// Parsing a large lease file leaves garbage several times the size of
	// the index; give it back to the OS now rather than leave the
	// scavenger to do it over minutes (a million leases: about 100 MiB).
	debug.FreeOSMemory()
	if cfg.XDHCP.XDP.Mode != "off" && d.xdpAllowed {
		d.cache = leasecache.New(leaseCacheSize)
	}
	d.ctl = control.NewServer(log.With("component", "control"))
	d.ctl.SetServices(controlServices(cfg)...)
	deps := slowpath.Deps{
		Store:   d.store,
		Stats:   d.reg,
		Metrics: d.metrics,
		Network: network,
		Log:     log.With("component", "dhcp4"),
		// Recorder and Events: forensic logging, run-script, lease log lines.
		Recorder: d.hooks.recorder(),
		Events:   d.hooks.listener(),
	}
	if d.cache != nil {
		deps.Cache = d.cache // not a typed nil: the engine tests Cache for nil
	}
	if hc := cfg.HA; hc != nil {
		for _, w := range hc.Warnings {
			log.Warn("high-availability: " + w)
		}
		parked := cfg.ParkedPacketLimit
		if parked == 0 {
			parked = -1 // Kea: 0 is no limit
		}
		d.ha, err = ha.New(hc, ha.Deps{Leases: d.store, Apply: partnerLeases{d}, Network: network,
			ParkedPacketLimit: parked, Log: log.With("component", "ha")})
		if err != nil {
			return nil, fmt.Errorf("high-availability: %w", err)
		}
		deps.Replicator = d.ha
		deps.Scopes = haScopes{d.ha}
		deps.Share = haScopes{d.ha}
	} else if cfg.ControlAgent != nil {
		log.Warn("Control-agent: xdhcpd serves it only as the HA peer listener; without HA it is not used (use control-sockets)")
	}
	d.srv, err = slowpath.New(cfg, deps)
	if err != nil {
		return nil, err
	}
	d.srv.Start(ctx)
	// The DHCPv6 engine comes first, so that the XDP path steers DHCPv6
	// to it on the interfaces it serves (its sockets take the rest).
	if cfg.Dhcp6 != nil {
		var cache6 *leasecache.Cache6
		if d.cache != nil {
			cache6 = leasecache.NewCache6(leaseCacheSize)
		}
		d.v6, err = startDHCP6(ctx, cfg.Dhcp6, d.reg, cfg.XDHCP.Durability != "none", cache6, d.rings, d.fail,
			log.With("component", "dhcp6"))
		if err != nil {
			return nil, err
		}
		if err := d.v6.hooks.setQuietSubnets(cfg.Raw); err != nil {
			return nil, err
		}
		d.v6.cmds.Register(d.ctl)
	}
	xdeps := xdp.Deps{Handler: d.srv, Cache: d.cache, Service: d.srv.Network, Load: d.srv,
		Stats: d.reg, HA: d.ha != nil, Drops: d.srv.Drops(), Log: log, Events: d.hooks.fastPathListener(d.srv.Config)}
	if d.v6 != nil && d.cache != nil {
		xdeps.Handler6, xdeps.Cache6, xdeps.Service6 = d.v6.srv, d.v6.cache, d.v6.network
		xdeps.HA6 = d.v6.ha != nil
		xdeps.Events, xdeps.Events6 = fastPathEvents(xdeps.Events, d.v6.hooks.listener())
	}
	d.xdp = xdp.New(xdeps)

	control.RegisterStatistics(d.ctl, d.reg)
	control.RegisterStatLease(d.ctl, control.StatLeaseSource{Config: d.srv.Config, Stats: d.reg, Leases: d.store})
	d.leaseCmds = leasecmd.New(d.srv, d.leaseReader)
	if d.v6 != nil {
		d.leaseCmds.SetService6(d.v6.network, d.v6.srv)
	}
	d.leaseCmds.Register(d.ctl)
	hostDBs, err := openHostDBs(ctx, cfg)
	if err != nil {
		return nil, err
	}
	d.hostCmds = hostcmd.New()
	d.hostDBLost = d.reg.Counter("xdhcp-host-database-connection-lost")
	d.useHostDBs(cfg, hostDBs)
	hostcmd.RegisterBoth(d.ctl, d.hostCmds, d.hostCmds6)
	d.registerCommands()
	d.registerConfigBackendCommands()
	d.xdp.RegisterCommands(d.ctl)
	if err := d.ctl.HandleHTTP("/metrics", http.HandlerFunc(d.serveMetrics)); err != nil {
		return nil, err
	}
	registerHACommands(d.ctl, d.ha, d.ha6())
	if d.ha != nil {
		d.ha.OnScopesChanged(d.xdp.SetScopes)
	}
	if h := d.ha6(); h != nil {
		h.OnScopesChanged(d.xdp.SetScopes6)
	}
	// The packet path comes up before the control channel, so that a
	// control socket that answers means a server that serves.
	if err := d.startListeners(cfg); err != nil {
		return nil, err
	}
	if err := d.ctl.Listen(controlSockets(cfg)); err != nil {
		return nil, fmt.Errorf("control channel: %w", err)
	}
	if err := d.startHA(ctx, cfg); err != nil {
		return nil, err
	}
	if t := cfg.XDHCP.Telemetry; t.Port != 0 {
		d.telemetry, err = telemetry.Listen(telemetry.Options{Addr: net.JoinHostPort(t.Address, strconv.Itoa(t.Port)),
			Metrics: d.writeMetrics, Ready: d.notReady, Log: log.With("component", "telemetry")})
		if err != nil {
			return nil, err
		}
	}
	sctx, stopSampler := context.WithCancel(ctx)
	d.sampling, d.stopSampler = make(chan struct{}), stopSampler
	go func() {
		defer close(d.sampling)
		d.sampleStats(sctx)
	}()
	d.startConfigPoll(cfg)
	log.Info("xdhcpd serving", "version", version)
	return d, nil
}

// leaseCacheSize bounds the fast path's lease cache (entries).
const leaseCacheSize = 1 << 21

// startListeners serves every configured interface: through XDP and AF_XDP
// unless xdp.mode is off, in socket mode (AF_PACKET) where XDP cannot
// attach.
func (d *daemon) startListeners(cfg *config.Config) error {
	ifaces, err := resolveInterfaces(cfg.Interfaces)
	if err != nil {
		return err
	}
	if len(ifaces) == 0 {
		// As Kea: a server with no interface to serve starts, answers its
		// control channel and serves DHCP once a reload names one.
		d.log.Warn("no interface to serve: interfaces-config names none (or \"*\" found no up interface with an IPv4 address); DHCP is served once a reload names one")
		return nil
	}
	ctx, cancel := context.WithCancel(d.ctx)
	d.lisCancel = cancel
	if cfg.XDHCP.XDP.Mode != "off" && d.xdpAllowed {
		if ifaces, err = d.xdp.Start(ctx, cfg, ifaces); err != nil {
			return err
		}
		if n := d.xdp.Workers(); n > 0 {
			blocking := d.hooks.blockingProcs()
			if d.v6 != nil {
				blocking += d.v6.hooks.blockingProcs()
			}
			if runtime.NumCPU() > 1 || blocking > 0 {
				ensureProcs(n+1+blocking, d.log)
			}
		}
		cpus := d.xdp.WorkerCPUs()
		d.hooks.keepScriptsOff(cpus)
		if d.v6 != nil {
			d.v6.hooks.shared().keepScriptsOff(cpus)
		}
	}
	var opened []*fastpath.SocketListener
	for _, spec := range ifaces {
		conn, err := afpacket.Open(spec.Name, afpacket.Options{Logger: d.log})
		if err != nil {
			d.log.Error("cannot open socket on interface", "iface", spec.Name, "err", err)
			continue
		}
		l, err := fastpath.NewSocketListener(conn, spec.Addr, d.srv, d.log)
		if err != nil {
			conn.Close()
			d.log.Error("cannot serve interface", "iface", spec.Name, "err", err)
			continue
		}
		opened = append(opened, l)
	}
	if len(opened) == 0 && d.xdp.Workers() == 0 {
		return errors.New("no interface could be opened for DHCP (check interfaces-config and that each interface has an IPv4 address)")
	}
	for _, l := range opened {
		d.lisWG.Add(1)
		go func(l *fastpath.SocketListener) {
			defer d.lisWG.Done()
			if err := l.Run(ctx); err != nil {
				d.log.Error("socket listener stopped", "iface", l.Iface().Name, "err", err)
			}
		}(l)
		d.log.Info("listening", "iface", l.Iface().Name, "mode", "socket")
	}
	d.listeners = opened
	return nil
}

func (d *daemon) stopListeners() {
	if d.lisCancel != nil {
		d.lisCancel()
	}
	d.lisWG.Wait()
	d.listeners = nil
	if d.xdp != nil {
		if err := d.xdp.Stop(); err != nil {
			d.log.Warn("close XDP path", "err", err)
		}
	}
}

// ensureProcs raises GOMAXPROCS to n unless the operator set it, so that
// each fast-path worker (pinned to its CPU, on a thread of its own) and
// the slow path have a P, and the hooks' blocking calls one more.
//
// A server confined to one core without such hooks keeps the one P Go
// gives it: its goroutines then hand packets to one another without
// thread switches (a second P costs a futex wake-up and a spinning thread
// per hand-off, on the same core), and they take turns by yielding — the
// fast-path worker after each batch it hands over, the slow path's
// workers every few packets — rather than at the runtime's 10 ms
// preemption. Nothing on the packet path enters a blocking system call
// that would hold the P (the lease file is synced through io_uring).
func ensureProcs(n int, log *slog.Logger) {
	if os.Getenv("GOMAXPROCS") != "" || runtime.GOMAXPROCS(0) >= n {
		return
	}
	log.Info("GOMAXPROCS raised: each fast-path worker and the slow path get a P", "from", runtime.GOMAXPROCS(0), "to", n)
	runtime.GOMAXPROCS(n)
}

// resolveInterfaces expands "*" to every up, non-loopback interface with
// an IPv4 address.
func resolveInterfaces(specs []config.InterfaceSpec) ([]config.InterfaceSpec, error) {
	var out []config.InterfaceSpec
	seen := map[string]bool{}
	for _, s := range specs {
		if s.Name != "*" {
			if !seen[s.Name] {
				seen[s.Name] = true
				out = append(out, s)
			}
			continue
		}
		all, err := net.Interfaces()
		if err != nil {
			return nil, fmt.Errorf("list interfaces: %w", err)
		}
		for _, ifc := range all {
			if ifc.Flags&net.FlagLoopback != 0 || ifc.Flags&net.FlagUp == 0 || seen[ifc.Name] {
				continue
			}
			addrs, _ := ifc.Addrs()
			has4 := false
			for _, a := range addrs {
				if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
					has4 = true
				}
			}
			if has4 {
				seen[ifc.Name] = true
				out = append(out, config.InterfaceSpec{Name: ifc.Name})
			}
		}
	}
	return out, nil
}

// reload applies a new configuration: from the file when cfg is nil. On
// any error the running configuration stays.
func (d *daemon) reload(cfg *config.Config) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if cfg == nil {
		var err error
		if cfg, err = loadConfig(d.cfgPath); err != nil {
			return err
		}
	}
	cfg, err := d.withBackend(d.ctx, cfg)
	if err != nil {
		return err
	}
	old := d.srv.Config()
	if cfg.LeaseDatabase != old.LeaseDatabase {
		return errors.New("lease-database changes need a restart; nothing was changed")
	}
	if !reflect.DeepEqual(haParams(cfg), haParams(old)) {
		return errors.New("high-availability changes need a restart; nothing was changed")
	}
	if cfg.XDHCP.Telemetry != old.XDHCP.Telemetry {
		return errors.New("xdhcp.telemetry changes need a restart; nothing was changed")
	}
	if cfg.ControlAgent != nil && !reflect.DeepEqual(cfg.ControlAgent, old.ControlAgent) {
		d.log.Warn("Control-agent changes take effect at the next restart (the HA peer listener keeps its settings)")
	}
	if leaseHookParams(cfg) != leaseHookParams(old) {
		return errors.New("forensic logging and run-script changes need a restart; nothing was changed")
	}
	if err := d.ctl.Listen(controlSockets(cfg)); err != nil {
		return fmt.Errorf("control channel: %w", err)
	}
	if (cfg.Dhcp6 == nil) != (d.v6 == nil) {
		return errors.New("adding or removing the Dhcp6 section needs a restart; nothing was changed")
	}
	if cfg.Dhcp6 != nil {
		// As at start-up: a unicast address must be on its interface.
		if err := cfg.Dhcp6.CheckUnicast(interfaceExists); err != nil {
			return fmt.Errorf("%w; nothing was changed", err)
		}
		if hookParams(cfg.Dhcp6.Hooks) != hookParams(d.v6.srv.Config().Hooks) {
			return errors.New("Dhcp6 high-availability changes need a restart; nothing was changed")
		}
	}
	d.ctl.SetServices(controlServices(cfg)...)
	newDBs, changed, err := reopenHostDBs(d.ctx, cfg, old)
	if err != nil {
		return err
	}
	if err := d.srv.Reload(cfg); err != nil {
		closeHostDBs(newDBs)
		return err
	}
	if changed {
		oldDBs := d.hostDBs
		d.useHostDBs(cfg, newDBs)
		closeHostDBs(oldDBs)
	} else {
		d.useHostDBs(cfg, d.hostDBs)
	}
	if err := d.hooks.setQuietSubnets(cfg); err != nil {
		d.log.Warn("forensic log: subnets' legal-logging not updated", "err", err)
	}
	if d.v6 != nil {
		if err := d.v6.hooks.setQuietSubnets(cfg.Raw); err != nil {
			d.log.Warn("DHCPv6 forensic log: subnets' legal-logging not updated", "err", err)
		}
		if err := d.v6.reload(d.ctx, cfg.Dhcp6); err != nil {
			return fmt.Errorf("Dhcp6: %w", err)
		}
	}
	for _, w := range cfg.Warnings {
		d.log.Warn("configuration: " + w)
	}
	d.xdp.ApplyConfig(cfg)
	if !reflect.DeepEqual(cfg.Interfaces, old.Interfaces) || cfg.XDHCP.XDP != old.XDHCP.XDP || cfg.XDHCP.RateLimit != old.XDHCP.RateLimit {
		d.stopListeners()
		if err := d.startListeners(cfg); err != nil {
			return fmt.Errorf("interfaces: %w", err)
		}
	}
	d.reloaded = time.Now()
	d.log.Info("configuration reloaded", "subnets", len(cfg.Subnets))
	return nil
}

// shutdown asks run to stop (the shutdown command).
func (d *daemon) shutdown() { d.doneOnce.Do(func() { close(d.done) }) }

// fail stops the daemon because of err; run returns err. It does not block
// (the lease store's writer calls it).
func (d *daemon) fail(err error) {
	d.fatal.CompareAndSwap(nil, &err)
	d.log.Error("xdhcpd exiting", "err", err)
	d.shutdown()
}

// fatalErr is the error passed to fail, or nil.
func (d *daemon) fatalErr() error {
	if p := d.fatal.Load(); p != nil {
		return *p
	}
	return nil
}

// close stops the statistics and the control channel, stops taking
// packets, lets the workers finish what they hold, then flushes and closes
// the lease store.
func (d *daemon) close() error {
	var errs []error
	// Nothing may read the statistics (the sampler, a /metrics scrape, a
	// command) while the listeners close the XDP maps they read.
	if d.stopSampler != nil {
		d.stopSampler()
		<-d.sampling
	}
	errs = append(errs, d.closeConfigBackend())
	if d.telemetry != nil {
		errs = append(errs, d.telemetry.Close())
	}
	if d.ctl != nil {
		errs = append(errs, d.ctl.Close())
	}
	if d.ha != nil {
		errs = append(errs, d.ha.Close())
	}
	// Both families' peer listeners (the DHCPv6 relationship stops with
	// the rest of DHCPv6, below).
	errs = append(errs, d.haListener.Close())
	d.stopListeners()
	if d.srv != nil {
		errs = append(errs, d.srv.Close())
	}
	errs = append(errs, d.v6.close())
	if d.store != nil {
		errs = append(errs, d.store.Close())
	}
	errs = append(errs, closeHostDBs(d.hostDBs))
	errs = append(errs, d.hooks.close())
	d.cancel()
	d.log.Info("xdhcpd stopped")
	return errors.Join(errs...)
}

// sampleStats records statistic samples once a second (statistic-get
// history) and the queue length gauge.
func (d *daemon) sampleStats(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			d.reg.Snapshot(now)
		}
	}
}

func (d *daemon) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	e := stats.NewExposition(w)
	d.writeMetrics(e)
	if err := e.Flush(); err != nil {
		d.log.Warn("metrics scrape", "err", err)
	}
}

// notReady says why the daemon should not get traffic now (/ready): DHCP
// service disabled (by HA while it waits, syncs or is terminated, by the
// lease store's on-fail policy, or by an operator), the lease store
// failing, or an interface the configuration serves with XDP that has no
// program attached any more.
func (d *daemon) notReady() []string {
	var out []string
	if origins := d.srv.Network.DisabledBy(); len(origins) > 0 {
		out = append(out, "DHCP service disabled (origin "+strings.Join(origins, ", ")+")")
	}
	if d.policy != nil && d.policy.Failed() {
		out = append(out, "lease store failing (on-fail "+d.policy.Policy()+")")
	}
	if d.v6 != nil {
		out = append(out, d.v6.notReady()...)
	}
	for _, m := range d.xdp.AttachModes() {
		if m.Mode == "none" || m.Mode == "unknown" {
			out = append(out, "XDP program not attached to "+m.Iface)
		}
	}
	return out
}

// writeMetrics writes every /metrics family: the statistics (Kea's and
// xdhcp's), the latency histograms, HA, the sockets, the build and XDP
// attach state, and the Go runtime and process series.
func (d *daemon) writeMetrics(e *stats.Exposition) {
	d.reg.WriteTo(e)
	if e.Family(slowpath.LatencyFamily, stats.KindHistogram,
		"Slow-path processing time per message type, from intake to the reply handed to the transport.") {
		var b strings.Builder
		d.metrics.WritePrometheus(&b)
		e.Samples(b.String())
	}
	if haSvcs := d.haServices(); len(haSvcs) > 0 {
		ha.WriteMetrics(e, haSvcs...) // both families in one set of families
	}
	for _, c := range []struct {
		name, help string
		get        func(l *fastpath.SocketListener) uint64
	}{
		{"xdhcp_socket_rx_frames_total", "Frames received by socket-mode listeners.", func(l *fastpath.SocketListener) uint64 { return l.RxFrames.Load() }},
		{"xdhcp_socket_rx_malformed_total", "Malformed frames received by socket-mode listeners.", func(l *fastpath.SocketListener) uint64 { return l.RxMalformed.Load() }},
		{"xdhcp_socket_tx_frames_total", "Frames sent by socket-mode listeners.", func(l *fastpath.SocketListener) uint64 { return l.TxFrames.Load() }},
		{"xdhcp_socket_tx_errors_total", "Frames socket-mode listeners failed to send.", func(l *fastpath.SocketListener) uint64 { return l.TxErrors.Load() }},
	} {
		if len(d.listeners) > 0 && e.Family(c.name, stats.KindCounter, c.help) {
			for _, l := range d.listeners {
				e.Int("", []stats.Label{{Name: "iface", Value: l.Iface().Name}}, int64(c.get(l)))
			}
		}
	}
	d.writeMetrics6(e)
	if e.Family("xdhcp_slowpath_queue_length", stats.KindGauge, "Requests waiting in the slow path's queue.") {
		e.Int("", nil, int64(d.srv.QueueLen()))
	}
	if e.Family("xdhcp_leases", stats.KindGauge, "Leases in the lease store, expired ones not yet reclaimed included.") {
		e.Int("", nil, int64(d.store.Len()))
	}
	if e.Family("xdhcp_xdp_attached", stats.KindGauge,
		"1 per interface the XDP program serves, labelled with the attach mode the kernel reports now (native, generic, offload, multi; none when detached).") {
		for _, m := range d.xdp.AttachModes() {
			v := int64(1)
			if m.Mode == "none" || m.Mode == "unknown" {
				v = 0
			}
			e.Int("", []stats.Label{{Name: "iface", Value: m.Iface}, {Name: "mode", Value: m.Mode}}, v)
		}
	}
	if e.Family("xdhcp_build_info", stats.KindGauge, "Always 1; the labels say which build is running.") {
		bi := buildinfo.Read()
		e.Int("", []stats.Label{{Name: "version", Value: bi.Version}, {Name: "commit", Value: bi.Commit},
			{Name: "date", Value: bi.Date}, {Name: "goversion", Value: bi.Go}}, 1)
	}
	stats.WriteRuntime(e)
}

// haParams is the HA hook's configuration, for comparing on reload.
func haParams(cfg *config.Config) string { return hookParams(cfg.Hooks) }

// hookParams are the parameters of the HA hook among hooks ("" without).
func hookParams(hooks []config.Hook) string {
	for _, h := range hooks {
		if strings.Contains(h.Library, "libdhcp_ha") {
			return string(h.Parameters)
		}
	}
	return ""
}
