package main

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"

	"xdhcp/config"
	"xdhcp/configdb"
	"xdhcp/control"
	"xdhcp/control/cbcmd"
	"xdhcp/internal/stats"
)

// configBackend is the daemon's configuration backend: the database of
// config-control, the file's configuration it merges into, and the audit
// revision last applied.
type configBackend struct {
	mu   sync.Mutex
	db   *configdb.DB
	spec config.HostsDatabase
	// db6 is the Dhcp6 section's config-control database (nil without
	// one); its dhcp6_* tables are merged into the Dhcp6 section.
	db6   *configdb.DB
	spec6 config.HostsDatabase
	// base is the configuration as the file (or config-set) gave it,
	// before the database's objects were merged in.
	base    *config.Config
	lastRev revisions
	fetches *stats.Stat
	errors  *stats.Stat
	failed  *stats.Stat
	stop    context.CancelFunc
	done    chan struct{}
}

// revisions are the audit revisions of the DHCPv4 and DHCPv6 databases
// a configuration reflects.
type revisions struct{ v4, v6 int64 }

// cbFetchTimeout bounds one fetch of the database's configuration.
const cbFetchTimeout = 20 * time.Second

// openConfigBackend opens config-control's database when cfg has one and
// returns cfg with the database's configuration merged in. As Kea 2.2, a
// database that cannot be read at start is an error.
func (d *daemon) openConfigBackend(ctx context.Context, cfg *config.Config) (*config.Config, error) {
	d.cb = &configBackend{fetches: d.reg.Counter("xdhcp-config-backend-fetches"),
		errors: d.reg.Counter("xdhcp-config-backend-fetch-errors"), failed: d.reg.Gauge("xdhcp-config-backend-failed")}
	cc6 := configControl6(cfg)
	if cfg.ConfigControl == nil && cc6 == nil {
		d.cb.base = cfg
		return cfg, nil
	}
	octx, cancel := context.WithTimeout(ctx, cbFetchTimeout)
	defer cancel()
	if cfg.ConfigControl != nil {
		spec := cfg.ConfigControl.Databases[0]
		db, err := configdb.Open(octx, spec)
		if err != nil {
			return nil, fmt.Errorf("config-control: %w", err)
		}
		d.cb.db, d.cb.spec = db, spec
	}
	if cc6 != nil {
		spec := cc6.Databases[0]
		db, err := configdb.Open6(octx, spec)
		if err != nil {
			d.cb.close()
			return nil, fmt.Errorf("Dhcp6 config-control: %w", err)
		}
		d.cb.db6, d.cb.spec6 = db, spec
	}
	merged, rev, err := d.cb.merge(octx, cfg)
	if err != nil {
		d.cb.close()
		return nil, fmt.Errorf("config-control: %w", err)
	}
	d.cb.base, d.cb.lastRev = cfg, rev
	if d.cb.db != nil {
		d.log.Info("configuration backend read", "database", d.cb.db.String(), "server-tag", cfg.ServerTag,
			"subnets", len(merged.Subnets), "audit-revision", rev.v4)
	}
	if d.cb.db6 != nil {
		d.log.Info("DHCPv6 configuration backend read", "database", d.cb.db6.String(), "server-tag", merged.Dhcp6.ServerTag,
			"subnets", len(merged.Dhcp6.Subnets), "audit-revision", rev.v6)
	}
	return merged, nil
}

// configControl6 is the Dhcp6 section's config-control (nil for none).
func configControl6(cfg *config.Config) *config.ConfigControl {
	if cfg.Dhcp6 == nil {
		return nil
	}
	return cfg.Dhcp6.ConfigControl
}

// active reports whether a configuration database is open.
func (cb *configBackend) active() bool { return cb != nil && (cb.db != nil || cb.db6 != nil) }

// close closes the databases.
func (cb *configBackend) close() error {
	var errs []error
	for _, db := range []**configdb.DB{&cb.db, &cb.db6} {
		if *db != nil {
			errs = append(errs, (*db).Close())
			*db = nil
		}
	}
	return errors.Join(errs...)
}

// lastRevisions reads the newest audit revision of each database.
func (cb *configBackend) lastRevisions(ctx context.Context) (revisions, error) {
	var r revisions
	var err error
	if cb.db != nil {
		if r.v4, err = cb.db.LastRevision(ctx); err != nil {
			return r, err
		}
	}
	if cb.db6 != nil {
		if r.v6, err = cb.db6.LastRevision(ctx); err != nil {
			return r, err
		}
	}
	return r, nil
}

// mergeInto merges db's configuration for tag into the document doc.
func mergeInto(ctx context.Context, db *configdb.DB, tag string, doc []byte) ([]byte, error) {
	if db == nil {
		return doc, nil
	}
	snap, err := db.Fetch(ctx, tag)
	if err != nil {
		return nil, err
	}
	return snap.Merge(doc)
}

// merge reads the database's configuration for base's server tag and
// returns base with it merged in, and the audit revision it reflects.
func (cb *configBackend) merge(ctx context.Context, base *config.Config) (*config.Config, revisions, error) {
	cb.fetches.Inc()
	rev, err := cb.lastRevisions(ctx)
	if err == nil {
		var doc []byte
		if doc, err = mergeInto(ctx, cb.db, base.ServerTag, base.Raw); err == nil {
			tag6 := ""
			if base.Dhcp6 != nil {
				tag6 = base.Dhcp6.ServerTag
			}
			if doc, err = mergeInto(ctx, cb.db6, tag6, doc); err == nil {
				var cfg *config.Config
				if cfg, err = config.Parse(doc); err == nil {
					cb.failed.Set(0)
					return cfg, rev, nil
				}
				err = fmt.Errorf("the configuration with the database's objects merged in is invalid: %w", err)
			}
		}
	}
	cb.errors.Inc()
	cb.failed.Set(1)
	return nil, revisions{}, err
}

// withBackend merges the backend's configuration into a configuration a
// reload brings (nil error and cfg itself without a backend).
func (d *daemon) withBackend(ctx context.Context, cfg *config.Config) (*config.Config, error) {
	cb := d.cb
	if !cb.active() {
		if cfg.ConfigControl != nil || configControl6(cfg) != nil {
			return nil, errors.New("config-control added: the configuration backend needs a restart; nothing was changed")
		}
		if cb != nil {
			cb.base = cfg
		}
		return cfg, nil
	}
	if !sameControl(cfg.ConfigControl, cb.db, cb.spec) || !sameControl(configControl6(cfg), cb.db6, cb.spec6) {
		return nil, errors.New("config-control changes need a restart; nothing was changed")
	}
	cb.mu.Lock()
	defer cb.mu.Unlock()
	fctx, cancel := context.WithTimeout(ctx, cbFetchTimeout)
	defer cancel()
	merged, rev, err := cb.merge(fctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("config-control: %w; nothing was changed", err)
	}
	cb.base, cb.lastRev = cfg, rev
	return merged, nil
}

// sameControl reports whether config-control cc names the database db
// was opened with (spec), or neither has one.
func sameControl(cc *config.ConfigControl, db *configdb.DB, spec config.HostsDatabase) bool {
	if cc == nil || db == nil {
		return cc == nil && db == nil
	}
	return reflect.DeepEqual(cc.Databases[0], spec)
}

// fetchWait is the polling interval: the shorter of the two sections'
// config-fetch-wait-time (0: no polling).
func fetchWait(cfg *config.Config) time.Duration {
	var w time.Duration
	for _, cc := range []*config.ConfigControl{cfg.ConfigControl, configControl6(cfg)} {
		if cc != nil && cc.FetchWait > 0 && (w == 0 || cc.FetchWait < w) {
			w = cc.FetchWait
		}
	}
	return w
}

// startConfigPoll polls the audit tables every config-fetch-wait-time and
// applies what changed through the reload path config-set takes. A fetch
// that fails, or a merged configuration that is invalid, is logged and
// counted and the running configuration stays.
func (d *daemon) startConfigPoll(cfg *config.Config) {
	cb := d.cb
	wait := fetchWait(cfg)
	if !cb.active() || wait == 0 {
		return
	}
	ctx, cancel := context.WithCancel(d.ctx)
	cb.stop, cb.done = cancel, make(chan struct{})
	go func() {
		defer close(cb.done)
		t := time.NewTicker(wait)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				d.pollConfig(ctx)
			}
		}
	}()
}

// pollConfig applies the database's changes since the last revision.
func (d *daemon) pollConfig(ctx context.Context) {
	if err := d.pullConfig(ctx); err != nil {
		d.log.Error("configuration backend: changes not applied; the running configuration stays", "err", err)
	}
}

// pullConfig reads the newest audit revision and, when it moved, applies
// the database's configuration (the poll, and config-backend-pull).
func (d *daemon) pullConfig(ctx context.Context) error {
	cb := d.cb
	fctx, cancel := context.WithTimeout(ctx, cbFetchTimeout)
	defer cancel()
	rev, err := cb.lastRevisions(fctx)
	if err != nil {
		cb.errors.Inc()
		cb.failed.Set(1)
		return err
	}
	cb.mu.Lock()
	same := rev == cb.lastRev
	base := cb.base
	cb.mu.Unlock()
	if same {
		cb.failed.Set(0)
		return nil
	}
	if err := d.reload(base); err != nil {
		return err
	}
	d.log.Info("configuration backend changes applied", "audit-revision", rev)
	return nil
}

// closeConfigBackend stops polling and closes the database.
func (d *daemon) closeConfigBackend() error {
	cb := d.cb
	if cb == nil {
		return nil
	}
	if cb.stop != nil {
		cb.stop()
		<-cb.done
	}
	return cb.close()
}

// registerConfigBackendCommands adds config-backend-pull and the
// remote-* commands.
func (d *daemon) registerConfigBackendCommands() {
	d.ctl.Handle("config-backend-pull", func(ctx context.Context, _ *control.Request) control.Answer {
		if !d.cb.active() {
			return control.Answer{Result: control.ResultEmpty, Text: "No config backend."}
		}
		if err := d.pullConfig(ctx); err != nil {
			return control.Errorf("On demand configuration update failed: %v", err)
		}
		return control.Answer{Result: control.ResultSuccess, Text: "On demand configuration update successful."}
	})
	cbcmd.New(func() *configdb.DB {
		if d.cb == nil {
			return nil
		}
		return d.cb.db
	}, d.checkBackendObjects).Register(d.ctl)
	cbcmd.New6(func() *configdb.DB {
		if d.cb == nil {
			return nil
		}
		return d.cb.db6
	}, d.checkBackendObjects).Register(d.ctl)
}

// checkBackendObjects says why this server would refuse its running
// configuration with snap's objects merged in.
func (d *daemon) checkBackendObjects(snap *configdb.Snapshot) error {
	doc, err := snap.Merge(d.srv.Config().Raw)
	if err != nil {
		return err
	}
	_, err = config.Parse(doc)
	return err
}
