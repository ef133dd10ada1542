package main

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"xdhcp/config"
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

// useHostDBs hands dbs to the engine and the reservation commands with
// cfg, the configuration they now serve.
func (d *daemon) useHostDBs(cfg *config.Config, dbs []*sqlhost.DB) {
	srcs := make([]host.Source, len(dbs))
	stores := make([]host.Store, len(dbs))
	for i, db := range dbs {
		db.SetConfig(cfg)
		srcs[i], stores[i] = db, db
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
