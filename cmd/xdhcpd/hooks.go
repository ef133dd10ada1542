package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"xdhcp/config"
	"xdhcp/hooks"
	"xdhcp/hooks/leaselog"
	"xdhcp/hooks/legallog"
	"xdhcp/hooks/runscript"
	"xdhcp/internal/stats"
	"xdhcp/internal/uring"
	"xdhcp/lease/memfile"
)

// leaseHooks are the lease event listeners the configuration asks for:
// forensic logging and run-script (by their Kea hooks-libraries entries)
// and the lease event log lines (always).
type leaseHooks struct {
	legal  *legallog.Log
	script *runscript.Runner
	events hooks.Listeners
}

// openLeaseHooks opens what cfg's hooks-libraries name. leaseLog is the
// kea-dhcp4.leases logger.
func openLeaseHooks(cfg *config.Config, log, leaseLog *slog.Logger, reg *stats.Registry, rings *uring.Gate) (_ *leaseHooks, err error) {
	h := &leaseHooks{}
	defer func() {
		if err != nil {
			h.close()
		}
	}()
	for _, lib := range cfg.Hooks {
		switch filepath.Base(lib.Library) {
		case legallog.Library:
			if h.legal != nil {
				return nil, fmt.Errorf("%s is loaded twice", legallog.Library)
			}
			p, err := legallog.ParseParams(lib.Parameters)
			if err != nil {
				return nil, err
			}
			p.RingGate = rings
			if h.legal, err = openLegalLog(p, "Dhcp4", log.With("component", "legal-log")); err != nil {
				return nil, err
			}
			if err := h.setQuietSubnets(cfg); err != nil {
				return nil, err
			}
			h.events = append(h.events, h.legal)
			registerLegalCounters(reg, "xdhcp-legal-log", h.legal.Counters)
		case runscript.Library:
			if h.script != nil {
				return nil, fmt.Errorf("%s is loaded twice", runscript.Library)
			}
			if h.script, err = openRunScript(lib.Parameters, log.With("component", "run-script"), reg, "xdhcp-run-script"); err != nil {
				return nil, err
			}
			h.events = append(h.events, h.script)
		}
	}
	// The lease lines cost a formatted line per exchange: only when the
	// kea-dhcp4.leases logger takes INFO (a WARN root turns them off).
	if leaseLog.Enabled(context.Background(), slog.LevelInfo) {
		h.events = append(h.events, leaselog.New(leaseLog))
	}
	return h, nil
}

// openLegalLog opens the forensic log p describes, on a file or, with a
// database type, on the database's logs table (section names the
// configuration section in errors).
func openLegalLog(p legallog.Params, section string, log *slog.Logger) (*legallog.Log, error) {
	if !p.IsDatabase() {
		return legallog.Open(p, log, nil)
	}
	w, err := openLegalDB(p, section)
	if err != nil {
		return nil, err
	}
	return legallog.OpenDB(p, w, log, nil)
}

// logsDialect is a database dialect that writes Kea's logs table too.
type logsDialect interface {
	sqlDialect
	legallog.RowWriter
}

// openLegalDB connects to the forensic log's database (its connection
// parameters by Kea's lease-database names, beside the library's own) and
// checks its schema as the lease database's is checked.
func openLegalDB(p legallog.Params, section string) (logsDialect, error) {
	db, err := config.ParseDatabaseConnection(section+".hooks-libraries["+legallog.Library+"].parameters", p.Type, p.Raw)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), max(db.ConnectTimeout, dbConnectTimeout)+5*time.Second)
	defer cancel()
	d, err := openDialect(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("forensic log database %s: %w", dbWhere(db), err)
	}
	ld, ok := d.(logsDialect)
	if !ok {
		d.Close()
		return nil, fmt.Errorf("forensic log database %s: this dialect does not write the logs table", dbWhere(db))
	}
	if err := d.CheckSchema(ctx); err != nil {
		d.Close()
		return nil, fmt.Errorf("forensic log database %s: %w", dbWhere(db), err)
	}
	return ld, nil
}

// registerLegalCounters registers a forensic log's counters as
// <prefix>-records, -write-errors and -script-errors.
func registerLegalCounters(reg *stats.Registry, prefix string, c func() legallog.Counters) {
	reg.Func(prefix+"-records", stats.KindCounter, func() int64 { return int64(c().Records) })
	reg.Func(prefix+"-write-errors", stats.KindCounter, func() int64 { return int64(c().WriteErrors) })
	reg.Func(prefix+"-script-errors", stats.KindCounter, func() int64 { return int64(c().ScriptErrors) })
}

// openRunScript starts run-script with a hooks-libraries entry's
// parameters and registers its counters as <prefix>-queued, -dropped,
// -run, -failed, -timed-out, -spawner-restarts and -cpu-ms (the scripts'
// CPU time).
func openRunScript(params json.RawMessage, log *slog.Logger, reg *stats.Registry, prefix string) (*runscript.Runner, error) {
	p, err := runscript.ParseParams(params)
	if err != nil {
		return nil, err
	}
	if p.Sync {
		log.Warn("run-script: sync is ignored, as Kea 2.2 ignores it: the script never holds a reply")
	}
	r := runscript.New(p, log)
	c := r.Counters
	for name, v := range map[string]func(runscript.Counters) uint64{
		"-queued":           func(c runscript.Counters) uint64 { return c.Queued },
		"-dropped":          func(c runscript.Counters) uint64 { return c.Dropped },
		"-run":              func(c runscript.Counters) uint64 { return c.Run },
		"-failed":           func(c runscript.Counters) uint64 { return c.Failed },
		"-timed-out":        func(c runscript.Counters) uint64 { return c.TimedOut },
		"-spawner-restarts": func(c runscript.Counters) uint64 { return c.SpawnerRestarts },
		"-cpu-ms":           func(c runscript.Counters) uint64 { return uint64(c.CPU.Milliseconds()) },
	} {
		reg.Func(prefix+name, stats.KindCounter, func() int64 { return int64(v(c())) })
	}
	return r, nil
}

// setQuietSubnets tells the forensic log which of cfg's subnets have
// "legal-logging": false in their user-context (at start and on reload).
func (h *leaseHooks) setQuietSubnets(cfg *config.Config) error {
	if h == nil || h.legal == nil {
		return nil
	}
	q, err := legallog.QuietSubnets(cfg.Raw)
	if err != nil {
		return err
	}
	h.legal.SetQuietSubnets(q)
	return nil
}

// blockingProcs is how many Go Ps the hooks' blocking calls get on top of
// serving's: the forensic log's syncs that cannot go through io_uring (a
// blocking fdatasync keeps its P until the runtime's monitor takes it
// back, up to 10 ms later) and run-script's starts when the daemon starts
// the scripts itself (the starting thread keeps its P, suspended, until
// the child has exec'ed). Without them, a fast-path worker woken meanwhile
// waited for a P. With io_uring and the spawner, the default, there are
// none, and a server confined to one core keeps its one P.
func (h *leaseHooks) blockingProcs() int {
	if h == nil {
		return 0
	}
	n := 0
	if h.legal != nil {
		n += h.legal.BlockingSyncs()
	}
	if h.script != nil && h.script.Forks() {
		n++
	}
	return n
}

// keepScriptsOff keeps run-script's scripts off cpus, the fast-path
// workers' CPUs, where the daemon may use others.
func (h *leaseHooks) keepScriptsOff(cpus []int) {
	if h != nil && h.script != nil {
		h.script.KeepOffCPUs(cpus)
	}
}

// recorder is the engine's forensic record formatter, nil without one.
func (h *leaseHooks) recorder() hooks.Recorder {
	if h == nil || h.legal == nil {
		return nil
	}
	return h.legal
}

// records is the lease store's record log, nil without one.
func (h *leaseHooks) records() memfile.RecordLog {
	if h == nil || h.legal == nil {
		return nil
	}
	return h.legal
}

// listener is what the engine and the fast path tell of lease events.
func (h *leaseHooks) listener() hooks.Listener {
	if h == nil || len(h.events) == 0 {
		return nil
	}
	return h.events
}

// close waits for queued scripts and closes the forensic log; the lease
// store must be closed first (its last group commit writes records).
func (h *leaseHooks) close() error {
	if h == nil {
		return nil
	}
	if h.script != nil {
		h.script.Close()
	}
	if h.legal != nil {
		return h.legal.Close()
	}
	return nil
}

// withSubnets fills in the prefix of events that know only their subnet's
// id (the fast path's cached renewals), from the running configuration.
type withSubnets struct {
	hooks.Listener
	config func() *config.Config
}

func (w withSubnets) LeaseEvent(e *hooks.Event) {
	if e.Subnet.ID != 0 && !e.Subnet.Prefix.IsValid() {
		if sn := w.config().SubnetByID(e.Subnet.ID); sn != nil {
			e.Subnet.Prefix = sn.Prefix
		}
	}
	w.Listener.LeaseEvent(e)
}

// Wants implements hooks.Interest.
func (w withSubnets) Wants(p hooks.Point) bool { return hooks.Wants(w.Listener, p) }

// Flush implements hooks.Flusher for the listeners that hold events.
func (w withSubnets) Flush() uint64 {
	if f, ok := w.Listener.(hooks.Flusher); ok {
		return f.Flush()
	}
	return 0
}

// Synced implements hooks.Flusher.
func (w withSubnets) Synced() uint64 {
	if f, ok := w.Listener.(hooks.Flusher); ok {
		return f.Synced()
	}
	return 0
}

// OnSynced implements hooks.Flusher.
func (w withSubnets) OnSynced(notify func()) func() {
	if f, ok := w.Listener.(hooks.Flusher); ok {
		return f.OnSynced(notify)
	}
	return func() {}
}

// fastPathListener is what the fast path tells of its cached renewals.
func (h *leaseHooks) fastPathListener(cfg func() *config.Config) hooks.Listener {
	l := h.listener()
	if l == nil {
		return nil
	}
	return withSubnets{Listener: l, config: cfg}
}

// checkLeaseHooks checks the parameters of the forensic logging and
// run-script entries without opening anything (xdhcpd -t): the Dhcp6
// section's with its expressions compiled for DHCPv6, as kea-dhcp6 checks
// them.
func checkLeaseHooks(cfg *config.Config) error {
	check := func(libs []config.Hook, v6 bool) error {
		for _, lib := range libs {
			var err error
			switch filepath.Base(lib.Library) {
			case legallog.Library:
				var p legallog.Params
				if v6 {
					var p6 legallog.Params6
					p6, err = legallog.ParseParams6(lib.Parameters)
					p = p6.Params
				} else {
					p, err = legallog.ParseParams(lib.Parameters)
				}
				if err == nil && p.IsDatabase() {
					_, err = config.ParseDatabaseConnection("hooks-libraries["+legallog.Library+"].parameters", p.Type, p.Raw)
				}
			case runscript.Library:
				_, err = runscript.ParseParams(lib.Parameters)
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	if err := check(cfg.Hooks, false); err != nil {
		return err
	}
	if cfg.Dhcp6 != nil {
		return check(cfg.Dhcp6.Hooks, true)
	}
	return nil
}

// leaseHookParams is the forensic logging and run-script entries of cfg
// (of both sections), for comparing on reload (they are opened once, at
// start).
func leaseHookParams(cfg *config.Config) string {
	var b strings.Builder
	libs := cfg.Hooks
	if cfg.Dhcp6 != nil {
		libs = append(slices.Clip(libs), cfg.Dhcp6.Hooks...)
	}
	for _, lib := range libs {
		switch filepath.Base(lib.Library) {
		case legallog.Library, runscript.Library:
			fmt.Fprintf(&b, "%s %s\n", filepath.Base(lib.Library), lib.Parameters)
		}
	}
	return b.String()
}
