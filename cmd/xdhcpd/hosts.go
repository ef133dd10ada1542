package main

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"

	"xdhcp/config"
	"xdhcp/control"
	"xdhcp/control/client"
	"xdhcp/control/hostcmd"
	"xdhcp/host"
	"xdhcp/host/sqlhost"
)

// openHostDBs connects to cfg's host databases, in order. A database that
// cannot be reached or lacks Kea's schema fails start-up (and a reload),
// as it fails Kea 2.2's configuration.
func openHostDBs(ctx context.Context, cfg *config.Config) ([]*sqlhost.DB, error) {
	var dbs []*sqlhost.DB
	for i, dbc := range cfg.HostsDatabases {
		db, err := sqlhost.Open(ctx, dbc, cfg)
		if err != nil {
			closeHostDBs(dbs)
			return nil, fmt.Errorf("hosts-databases[%d]: %w", i, err)
		}
		dbs = append(dbs, db)
	}
	return dbs, nil
}

func closeHostDBs(dbs []*sqlhost.DB) error {
	var errs []error
	for _, db := range dbs {
		errs = append(errs, db.Close())
	}
	return errors.Join(errs...)
}

// originHostsDatabase is the NetworkState origin holding DHCP service
// disabled while a host database is unreachable under stop-retry-exit.
const originHostsDatabase = "hosts-database"

// watchHostDB applies dbc's on-fail policy to db's connection losses, as
// Kea 2.2 does: a lookup that fails drops its packet; when the database
// then does not answer a ping, the connection is lost. With reconnection
// off (max-reconnect-tries or reconnect-wait-time 0) the daemon exits
// unless on-fail is serve-retry-continue; else stop-retry-exit disables
// DHCP service while it retries every reconnect-wait-time, and when the
// tries run out the daemon exits, unless on-fail is serve-retry-continue
// (then it serves on; each lookup tries the database again).
func (d *daemon) watchHostDB(db *sqlhost.DB, dbc config.HostsDatabase) {
	db.OnError(func(err error) {
		defer db.Recovered()
		if db.Ping(d.ctx) == nil || db.Closed() {
			return // a failed statement, or a database a reload replaced
		}
		d.hostDBLost.Inc()
		exits := dbc.OnFail != "serve-retry-continue"
		d.log.Error("host database connection lost", "db", db.String(), "on_fail", dbc.OnFail, "err", err)
		if dbc.MaxReconnectTries == 0 || dbc.ReconnectWaitTime == 0 {
			if exits {
				d.fail(fmt.Errorf("host database %s: connection lost and reconnection is disabled (max-reconnect-tries %d, reconnect-wait-time %d ms): %w",
					db, dbc.MaxReconnectTries, dbc.ReconnectWaitTime.Milliseconds(), err))
			}
			return
		}
		if dbc.OnFail == "stop-retry-exit" {
			d.srv.Network.Disable(originHostsDatabase, 0)
			defer d.srv.Network.Enable(originHostsDatabase)
		}
		for try := 1; try <= dbc.MaxReconnectTries; try++ {
			select {
			case <-d.ctx.Done():
				return
			case <-time.After(dbc.ReconnectWaitTime):
			}
			if db.Closed() {
				return
			}
			if db.Ping(d.ctx) == nil {
				d.log.Info("host database reconnected", "db", db.String(), "tries", try)
				return
			}
		}
		if exits && !db.Closed() {
			d.fail(fmt.Errorf("host database %s: connection lost, %d reconnection attempts failed: %w", db, dbc.MaxReconnectTries, err))
			return
		}
		d.log.Warn("host database still unreachable after the reconnection attempts: serving on (serve-retry-continue)", "db", db.String())
	})
}

// useHostDBs hands dbs to the engine and the reservation commands with
// cfg, the configuration they now serve.
func (d *daemon) useHostDBs(cfg *config.Config, dbs []*sqlhost.DB) {
	srcs := make([]host.Source, len(dbs))
	stores := make([]host.Store, len(dbs))
	for i, db := range dbs {
		db.SetConfig(cfg)
		srcs[i], stores[i] = db, db
	}
	if !sameDBs(d.hostDBs, dbs) {
		for i, db := range dbs {
			d.watchHostDB(db, cfg.HostsDatabases[i])
		}
	}
	d.hostDBs = dbs
	d.srv.SetHostSources(srcs)
	d.hostCmds.Set(cfg, stores)
}

// reopenHostDBs opens cfg's host databases when a reload changes them
// (nil, false when they stay).
func reopenHostDBs(ctx context.Context, cfg, old *config.Config) ([]*sqlhost.DB, bool, error) {
	if reflect.DeepEqual(cfg.HostsDatabases, old.HostsDatabases) {
		return nil, false, nil
	}
	dbs, err := openHostDBs(ctx, cfg)
	return dbs, err == nil, err
}

func sameDBs(a, b []*sqlhost.DB) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// hostCmds6 are the reservation commands a request is for when it is
// meant for the DHCPv6 service, as a Control Agent forwards it to
// kea-dhcp6 ("service": ["dhcp6"], or a daemon serving DHCPv6 only); nil
// for DHCPv4.
func (d *daemon) hostCmds6(req *control.Request) *hostcmd.Commands6 {
	if d.v6 == nil || d.v6.hostCmds == nil {
		return nil
	}
	if !d.srv.Config().HasDhcp4 || slices.Contains(req.Service, client.ServiceDHCP6) && !slices.Contains(req.Service, client.ServiceDHCP4) {
		return d.v6.hostCmds
	}
	return nil
}
