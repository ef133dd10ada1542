package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"sync"
	"time"

	"xdhcp/config"
	"xdhcp/control"
	"xdhcp/control/client"
	"xdhcp/control/hostcmd"
	"xdhcp/control/leasecmd"
	"xdhcp/fastpath"
	"xdhcp/fastpath/leasecache"
	"xdhcp/ha"
	"xdhcp/host"
	"xdhcp/host/sqlhost"
	"xdhcp/internal/stats"
	"xdhcp/internal/uring"
	"xdhcp/lease"
	"xdhcp/lease/leasejson"
	"xdhcp/lease/memfile"
	"xdhcp/slowpath"
	"xdhcp/slowpath6"
)

// dhcp6 is the DHCPv6 side of the daemon: its lease store, its engine and
// its sockets. One process serves both families (see the README's "One
// daemon for DHCPv4 and DHCPv6"); each family keeps its own store and
// engine, and they share the statistics registry, the control channel and
// the metrics endpoint.
type dhcp6 struct {
	log   *slog.Logger
	store leaseStore6
	// reads answer the lease6 commands: the store, or a lease
	// database's own rows.
	reads lease.Reader6
	srv   *slowpath6.Server
	// cache is the fast path's DHCPv6 lease cache (nil without XDP).
	cache *leasecache.Cache6
	// network is the DHCPv6 service's state, apart from DHCPv4's as Kea's
	// two servers keep theirs; policy disables it while the leases6 file
	// fails under on-fail stop-retry-exit.
	network *slowpath.NetworkState
	policy  *slowpath.StoragePolicy

	// cmds are the lease6 commands, registered on the control channel.
	cmds *leasecmd.Commands6
	// ha is the Dhcp6 section's HA (nil without the hook); the daemon's
	// HA listener serves its peer URL.
	ha *ha.Service
	// hostDBs are the Dhcp6 section's host databases.
	hostDBs []*sqlhost.DB
	// hostCmds answer the reservation commands meant for DHCPv6.
	hostCmds *hostcmd.Commands6
	// hooks are the Dhcp6 forensic log and run-script (none: nil fields).
	hooks *leaseHooks6

	mu        sync.Mutex
	listeners []*fastpath.UDP6Listener
	cancel    context.CancelFunc
	wg        sync.WaitGroup
}

// startDHCP6 opens the leases6 store and starts the engine and the
// sockets of cfg's Dhcp6 section.
//
// cache, when not nil, is the fast path's DHCPv6 lease cache: the engine
// publishes into it the bindings the XDP workers may renew themselves.
// rings holds the io_uring syncs back (see uring.Gate). fail is called,
// once, when the lease-database on-fail policy says the
// daemon must exit (the leases6 file cannot be written).
func startDHCP6(ctx context.Context, cfg *config.Config6, reg *stats.Registry, durable bool, cache *leasecache.Cache6,
	rings *uring.Gate, fail func(error), log *slog.Logger) (_ *dhcp6, err error) {
	// As -t (and kea-dhcp6 at start-up): a unicast address must be on
	// its interface.
	if err := cfg.CheckUnicast(interfaceExists); err != nil {
		return nil, err
	}
	v := &dhcp6{log: log, cache: cache, network: slowpath.NewNetworkState(time.Now)}
	defer func() {
		if err != nil {
			err = errors.Join(err, v.close())
		}
	}()
	if v.hooks, err = openLeaseHooks6(cfg, log, reg, rings); err != nil {
		return nil, err
	}
	db := cfg.LeaseDatabase
	storeLog := log.With("component", "lease6-store")
	if v.policy, err = slowpath.NewStoragePolicy6(db.OnFail, v.network, reg, storeLog, fail); err != nil {
		return nil, err
	}
	if db.Type == "memfile" {
		var ms *memfile.Store6
		ms, err = memfile.Open6(memfile.Options{
			Path: db.Name, Persist: db.Persist, LFCInterval: db.LFCInterval, MaxRowErrors: db.MaxRowErrors,
			Sync: durable, Logger: storeLog,
			Records:   v.hooks.records(),
			RetryWait: db.ReconnectWaitTime, RetryLimit: db.MaxReconnectTries,
			OnFault: v.policy.Observe, SyncRingGate: rings,
		})
		if ms != nil {
			v.store, v.reads = ms, ms
		}
	} else {
		v.store, v.reads, err = openDatabaseStore6(ctx, db, v.hooks.records(), v.policy.Observe, storeLog)
	}
	if err != nil {
		return nil, fmt.Errorf("open DHCPv6 lease database: %w", err)
	}
	log.Info("DHCPv6 lease database open", "type", db.Type, "name", db.Name, "persist", db.Persist, "leases", v.store.Len())
	deps := slowpath6.Deps{Store: v.store, Stats: reg, Log: log, Network: v.network,
		Recorder: v.hooks.recorder(), Events: v.hooks.listener()}
	if cache != nil {
		deps.Cache = cache // not a typed nil: the engine tests Cache for nil
	}
	if err := v.newHA6(cfg, &deps, log); err != nil {
		return nil, err
	}
	v.srv, err = slowpath6.New(cfg, deps)
	if err != nil {
		return nil, err
	}
	log.Info("DHCPv6 server identifier", "duid", slowpath6.FormatDUID(v.srv.DUID()))
	if err := v.useHostDBs(ctx, cfg); err != nil {
		return nil, err
	}
	v.cmds = leasecmd.New6(v.store, leasecmd.Options6{Subnets: v.subnets, Changed: v.srv.LeaseChanged, Reader: v.reads,
		Record: v.hooks.commandRecord()})
	v.srv.Start(ctx)
	if err := v.startListeners(ctx, cfg); err != nil {
		return nil, err
	}
	return v, nil
}

// notReady says why DHCPv6 should not get traffic now (/ready): its
// service disabled, or its lease file failing.
func (v *dhcp6) notReady() []string {
	var out []string
	if origins := v.network.DisabledBy(); len(origins) > 0 {
		out = append(out, "DHCPv6 service disabled (origin "+strings.Join(origins, ", ")+")")
	}
	if v.policy.Failed() {
		out = append(out, "DHCPv6 lease store failing (on-fail "+v.policy.Policy()+")")
	}
	return out
}

// controlServices are the "service" values the control channel answers
// for: "dhcp4" and "dhcp6" for the sections cfg serves (a Control Agent
// forwards the lease6 commands with "service": ["dhcp6"]).
func controlServices(cfg *config.Config) []string {
	var out []string
	if cfg.HasDhcp4 || cfg.Dhcp6 == nil {
		out = append(out, client.ServiceDHCP4)
	}
	if cfg.Dhcp6 != nil {
		out = append(out, client.ServiceDHCP6)
	}
	return out
}

// subnets are the running configuration's subnets as the lease6
// commands check leases against them.
func (v *dhcp6) subnets() leasejson.Subnets6 {
	var out leasejson.Subnets6
	for _, sn := range v.srv.Config().Subnets {
		out = append(out, leasejson.Subnet6{ID: sn.ID, Prefix: sn.Prefix, ValidLft: sn.Valid.Valid})
	}
	return out
}

// startListeners opens a DHCPv6 socket on every interface of
// interfaces-config ("*": every up interface but loopback), listening on
// the unicast addresses named with it ("eth0/2001:db8::1").
func (v *dhcp6) startListeners(parent context.Context, cfg *config.Config6) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	names, unicast, err := interfaces6(cfg.Interfaces)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		v.log.Warn("DHCPv6: no interface to serve: interfaces-config names none; DHCPv6 is served once a reload names one")
		return nil
	}
	ctx, cancel := context.WithCancel(parent)
	v.cancel = cancel
	for _, name := range names {
		l, err := fastpath.ListenUDP6(name, unicast[name], v.srv, v.log)
		if err != nil {
			v.log.Error("cannot serve DHCPv6 on interface", "iface", name, "err", err)
			continue
		}
		v.listeners = append(v.listeners, l)
		v.wg.Add(1)
		go func() {
			defer v.wg.Done()
			if err := l.Run(ctx); err != nil {
				v.log.Error("DHCPv6 socket stopped", "iface", name, "err", err)
			}
		}()
		v.log.Info("listening", "iface", name, "family", "DHCPv6", "unicast", unicast[name])
	}
	if len(v.listeners) == 0 {
		return errors.New("no interface could be opened for DHCPv6 (check interfaces-config of Dhcp6)")
	}
	return nil
}

func interfaces6(specs []config.InterfaceSpec) (names []string, unicast map[string][]netip.Addr, err error) {
	unicast = map[string][]netip.Addr{}
	seen := map[string]bool{}
	add := func(n string) {
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	for _, s := range specs {
		if s.Name != "*" {
			add(s.Name)
			if s.Addr.IsValid() {
				unicast[s.Name] = append(unicast[s.Name], s.Addr)
			}
			continue
		}
		all, err := net.Interfaces()
		if err != nil {
			return nil, nil, fmt.Errorf("list interfaces: %w", err)
		}
		for _, ifc := range all {
			if ifc.Flags&net.FlagLoopback == 0 && ifc.Flags&net.FlagUp != 0 {
				add(ifc.Name)
			}
		}
	}
	return names, unicast, nil
}

func (v *dhcp6) stopListeners() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.cancel != nil {
		v.cancel()
	}
	v.wg.Wait()
	v.listeners = nil
}

// reload applies a new Dhcp6 section; the lease database needs a restart.
func (v *dhcp6) reload(ctx context.Context, cfg *config.Config6) error {
	old := v.srv.Config()
	if cfg.LeaseDatabase != old.LeaseDatabase {
		return errors.New("Dhcp6 lease-database changes need a restart; nothing was changed")
	}
	if !reflect.DeepEqual(cfg.HostsDatabases, old.HostsDatabases) {
		if err := v.useHostDBs(ctx, cfg); err != nil {
			return err
		}
	} else {
		v.setHostDBConfig(cfg)
	}
	if err := v.srv.Reload(cfg); err != nil {
		return err
	}
	if !reflect.DeepEqual(cfg.Interfaces, old.Interfaces) {
		v.stopListeners()
		return v.startListeners(ctx, cfg)
	}
	return nil
}

// close stops the sockets, answers what the engine holds and closes the
// store.
func (v *dhcp6) close() error {
	if v == nil {
		return nil
	}
	v.stopListeners()
	var errs []error
	if v.ha != nil {
		errs = append(errs, v.ha.Close())
	}
	if v.srv != nil {
		errs = append(errs, v.srv.Close())
	}
	if v.store != nil {
		errs = append(errs, v.store.Close())
	}
	errs = append(errs, closeHostDBs(v.hostDBs))
	errs = append(errs, v.hooks.close())
	return errors.Join(errs...)
}

// useHostDBs opens the host databases of cfg (Kea's hosts,
// ipv6_reservations and dhcp6_options tables) and makes them the
// engine's, closing those it used before. A database that cannot be
// reached or lacks Kea's schema fails start-up and a reload, as for
// DHCPv4.
func (v *dhcp6) useHostDBs(ctx context.Context, cfg *config.Config6) error {
	var dbs []*sqlhost.DB
	srcs := make([]host.Source6, 0, len(cfg.HostsDatabases))
	for i, dbc := range cfg.HostsDatabases {
		// The DHCPv4 option definitions play no part: the options of
		// DHCPv6 reservations are decoded with the Dhcp6 section's.
		db, err := sqlhost.Open(ctx, dbc, &config.Config{})
		if err != nil {
			_ = closeHostDBs(dbs)
			return fmt.Errorf("Dhcp6 hosts-databases[%d]: %w", i, err)
		}
		dbs = append(dbs, db)
		srcs = append(srcs, db)
	}
	v.srv.SetHostSources(srcs)
	old := v.hostDBs
	v.hostDBs = dbs
	v.setHostDBConfig(cfg)
	return closeHostDBs(old)
}

// setHostDBConfig gives cfg to the host databases (the options of their
// hosts follow its option-def) and to the reservation commands.
func (v *dhcp6) setHostDBConfig(cfg *config.Config6) {
	stores := make([]host.Store6, len(v.hostDBs))
	for i, db := range v.hostDBs {
		db.SetConfig6(cfg)
		stores[i] = db
	}
	if v.hostCmds == nil {
		v.hostCmds = hostcmd.New6()
	}
	v.hostCmds.Set(cfg, stores)
}

// socketCounters are the v6 sockets' counters for /metrics.
func (v *dhcp6) socketCounters() map[string]map[string]uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := map[string]map[string]uint64{}
	for _, l := range v.listeners {
		out[l.Iface().Name] = map[string]uint64{
			"rx": l.RxPackets.Load(), "rx_malformed": l.RxMalformed.Load(), "rx_not_listening": l.RxNotListening.Load(),
			"tx": l.TxPackets.Load(), "tx_errors": l.TxErrors.Load(),
		}
	}
	return out
}

// writeMetrics6 writes the DHCPv6 sockets' counters.
func (d *daemon) writeMetrics6(e *stats.Exposition) {
	if d.v6 == nil {
		return
	}
	per := d.v6.socketCounters()
	for _, c := range []struct{ key, name, help string }{
		{"rx", "xdhcp_socket6_rx_total", "DHCPv6 datagrams received by the sockets."},
		{"rx_malformed", "xdhcp_socket6_rx_malformed_total", "DHCPv6 datagrams the sockets could not hand over (too short or long, no destination)."},
		{"rx_not_listening", "xdhcp_socket6_rx_not_listening_total", "DHCPv6 datagrams to a unicast address interfaces-config does not name."},
		{"tx", "xdhcp_socket6_tx_total", "DHCPv6 replies sent by the sockets."},
		{"tx_errors", "xdhcp_socket6_tx_errors_total", "DHCPv6 replies the sockets failed to send."},
	} {
		if len(per) > 0 && e.Family(c.name, stats.KindCounter, c.help) {
			for iface, v := range per {
				e.Int("", []stats.Label{{Name: "iface", Value: iface}}, int64(v[c.key]))
			}
		}
	}
}

// controlSockets are the control channel's listeners: those of the Dhcp4
// section and those of the Dhcp6 section it does not already list. Kea
// runs one process per family, each with its own; one xdhcpd answers both
// families' commands on either.
func controlSockets(cfg *config.Config) []config.ControlSocket {
	out := append([]config.ControlSocket(nil), cfg.ControlSockets...)
	if cfg.Dhcp6 == nil {
		return out
	}
	for _, s := range cfg.Dhcp6.ControlSockets {
		dup := false
		for _, o := range out {
			if reflect.DeepEqual(o, s) {
				dup = true
			}
		}
		if !dup {
			out = append(out, s)
		}
	}
	return out
}

// status is status-get's answer for the DHCPv6 service (a request for
// "service": ["dhcp6"], or a daemon serving Dhcp6 alone): kea-dhcp6's
// keys, from the Dhcp6 section, and the DHCPv6 service's state.
func (v *dhcp6) status(cfg *config.Config, started, reloaded time.Time) map[string]any {
	c6 := v.srv.Config()
	return map[string]any{
		"pid":                     os.Getpid(),
		"uptime":                  secondsSince(started),
		"reload":                  secondsSince(reloaded),
		"multi-threading-enabled": c6.MultiThreading.Enable,
		"thread-pool-size":        c6.MultiThreading.ThreadPoolSize,
		"packet-queue-size":       c6.MultiThreading.PacketQueueSize,
		"packet-queue-statistics": v.srv.QueueStatistics(),
		"dhcp-state": map[string]any{
			"enabled":     v.network.Enabled(),
			"disabled-by": v.network.DisabledBy(),
		},
		"sockets":          map[string]any{"status": "ready"},
		"insecure-control": control.Exposed(controlSockets(cfg)),
	}
}
