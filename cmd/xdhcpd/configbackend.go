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
	// base is the configuration as the file (or config-set) gave it,
	// before the database's objects were merged in.
	base    *config.Config
	lastRev int64
	fetches *stats.Stat
	errors  *stats.Stat
	failed  *stats.Stat
	stop    context.CancelFunc
	done    chan struct{}
}

// cbFetchTimeout bounds one fetch of the database's configuration.
const cbFetchTimeout = 20 * time.Second

// openConfigBackend opens config-control's database when cfg has one and
// returns cfg with the database's configuration merged in. As Kea 2.2, a
// database that cannot be read at start is an error.
func (d *daemon) openConfigBackend(ctx context.Context, cfg *config.Config) (*config.Config, error) {
	d.cb = &configBackend{fetches: d.reg.Counter("xdhcp-config-backend-fetches"),
		errors: d.reg.Counter("xdhcp-config-backend-fetch-errors"), failed: d.reg.Gauge("xdhcp-config-backend-failed")}
	if cfg.ConfigControl == nil {
		d.cb.base = cfg
		return cfg, nil
	}
	spec := cfg.ConfigControl.Databases[0]
	octx, cancel := context.WithTimeout(ctx, cbFetchTimeout)
	defer cancel()
	db, err := configdb.Open(octx, spec)
	if err != nil {
		return nil, fmt.Errorf("config-control: %w", err)
	}
	d.cb.db, d.cb.spec = db, spec
	merged, rev, err := d.cb.merge(octx, cfg)
	if err != nil {
		db.Close()
		d.cb.db = nil
		return nil, fmt.Errorf("config-control: %w", err)
	}
	d.cb.base, d.cb.lastRev = cfg, rev
	d.log.Info("configuration backend read", "database", db.String(), "server-tag", cfg.ServerTag,
		"subnets", len(merged.Subnets), "audit-revision", rev)
	return merged, nil
}

// merge reads the database's configuration for base's server tag and
// returns base with it merged in, and the audit revision it reflects.
func (cb *configBackend) merge(ctx context.Context, base *config.Config) (*config.Config, int64, error) {
	cb.fetches.Inc()
	rev, err := cb.db.LastRevision(ctx)
	if err == nil {
		var snap *configdb.Snapshot
		if snap, err = cb.db.Fetch(ctx, base.ServerTag); err == nil {
			var doc []byte
			if doc, err = snap.Merge(base.Raw); err == nil {
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
	return nil, 0, err
}

// withBackend merges the backend's configuration into a configuration a
// reload brings (nil error and cfg itself without a backend).
func (d *daemon) withBackend(ctx context.Context, cfg *config.Config) (*config.Config, error) {
	cb := d.cb
	if cb == nil || cb.db == nil {
		if cfg.ConfigControl != nil {
			return nil, errors.New("config-control added: the configuration backend needs a restart; nothing was changed")
		}
		if cb != nil {
			cb.base = cfg
		}
		return cfg, nil
	}
	if cfg.ConfigControl == nil || !reflect.DeepEqual(cfg.ConfigControl.Databases[0], cb.spec) {
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

// startConfigPoll polls the audit tables every config-fetch-wait-time and
// applies what changed through the reload path config-set takes. A fetch
// that fails, or a merged configuration that is invalid, is logged and
// counted and the running configuration stays.
func (d *daemon) startConfigPoll(cfg *config.Config) {
	cb := d.cb
	if cb == nil || cb.db == nil || cfg.ConfigControl.FetchWait == 0 {
		return
	}
	ctx, cancel := context.WithCancel(d.ctx)
	cb.stop, cb.done = cancel, make(chan struct{})
	wait := cfg.ConfigControl.FetchWait
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
	rev, err := cb.db.LastRevision(fctx)
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
	if cb.db != nil {
		return cb.db.Close()
	}
	return nil
}

// registerConfigBackendCommands adds config-backend-pull and the
// remote-* commands.
func (d *daemon) registerConfigBackendCommands() {
	d.ctl.Handle("config-backend-pull", func(ctx context.Context, _ *control.Request) control.Answer {
		if d.cb == nil || d.cb.db == nil {
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
