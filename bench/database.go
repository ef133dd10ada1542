package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"time"

	"xdhcp/bench/loadgen"
	"xdhcp/internal/dbtest"
)

// S8: new leases/s at < 1% loss with the leases in a database, PostgreSQL
// then MySQL (MariaDB), xdhcpd and Kea 2.2 in turn on the same database
// server, each run on a database freshly initialised by kea-admin. The
// database server keeps its flush at each commit (a production setting):
// an ACK of either server then waits for a durable row.

// s8 runs the S8 knee searches, one per database.
func (s *suite) s8(ctx context.Context) error { return onDatabases(ctx, s.s8On) }

// onDatabases runs fn on PostgreSQL, then MySQL, and joins their errors.
func onDatabases(ctx context.Context, fn func(context.Context, dbtest.Kind) error) error {
	var errs []string
	for _, kind := range []dbtest.Kind{dbtest.Postgres, dbtest.MySQL} {
		if err := fn(ctx, kind); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", kind, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

func (s *suite) s8On(ctx context.Context, kind dbtest.Kind) error {
	srv, err := dbtest.Start(kind, dbtest.Options{Durable: true})
	if err != nil {
		s.res.Skipped = append(s.res.Skipped, fmt.Sprintf("S8 on %s: %v", kind, err))
		return nil
	}
	defer srv.Stop()
	scenario := "S8 " + string(kind)
	return s.kneeScenario(ctx, scenario, 500, func(ctx context.Context, server string, rate float64, dur time.Duration) (*loadgen.Report, []string, error) {
		in, _, drop, err := s.startOnDatabase(ctx, server, srv, nil, 0)
		if err != nil {
			return nil, nil, err
		}
		defer drop()
		rep, err := s.gen(ctx, in, doraArgs(rate, dur)...)
		if err != nil {
			s.closeChecked(scenario, in)
			return nil, nil, err
		}
		s.check(fmt.Sprintf("%s %.0f/s", scenario, rate), in, rep)
		s.closeChecked(scenario, in)
		return rep, nil, nil
	})
}

// startOnDatabase starts server in a fresh lab with its leases in a fresh
// database on srv, reached through a forwarder on the lab's server
// namespace loopback; prepare, if set, runs on the database before the
// server starts. drop removes the database (after the instance is
// closed).
func (s *suite) startOnDatabase(ctx context.Context, server string, srv *dbtest.Server, prepare func(dbtest.DB) error,
	readyTimeout time.Duration) (*instance, dbtest.DB, func(), error) {
	db, err := srv.CreateDB(fmt.Sprintf("s8_%s_%d", server, s.run))
	if err != nil {
		return nil, db, nil, err
	}
	if prepare != nil {
		if err := prepare(db); err != nil {
			_ = srv.DropDB(db)
			return nil, db, nil, err
		}
	}
	b, err := NewLab("xd-suite", suiteServer, suiteClient)
	if err != nil {
		_ = srv.DropDB(db)
		return nil, db, nil, err
	}
	var l net.Listener
	if err := b.Server.Do(func() (err error) { l, err = net.Listen("tcp", "127.0.0.1:0"); return err }); err != nil {
		b.Close()
		_ = srv.DropDB(db)
		return nil, db, nil, err
	}
	fw := srv.Forward(l)
	drop := func() {
		fw.Close()
		_ = srv.DropDB(db)
	}
	s.leaseDB = db.KeaConfig(map[string]any{"host": "127.0.0.1", "port": fw.Port})
	in := &instance{lab: b.Lab, cliNS: b.Client, cliIf: b.ClientIf, srvMAC: b.ServerMAC}
	in.srv, err = s.startServer(ctx, server, b.Server, "", nil, readyTimeout)
	s.leaseDB = nil
	if err != nil {
		b.Close()
		drop()
		return nil, db, nil, err
	}
	return in, db, drop, nil
}

// S8r: lease reclamation on a database. A freshly initialised database
// gets reclaimLeases leases that expired a minute ago, written straight
// into lease4; the server starts on it with the reclamation timer at
// 1 s and no limit per cycle (max-reclaim-leases 0, max-reclaim-time 0:
// one cycle takes them all) and holds reclaimed leases (hold-reclaimed-
// time and the flush timer at an hour: with the flush timer off Kea
// deletes them instead), so each lease becomes an expired-reclaimed row.
// Measured from the server's readiness (its leases loaded) until no row
// is left in the default state, polled every 100 ms, or reclaimLimit
// passes; the figure is leases reclaimed per second over that time. Both
// servers wait the same first timer period, up to 1 s of it.
const (
	reclaimLeases = 100_000
	reclaimLimit  = 6 * time.Minute
)

// reclaimSettings are S8r's expired-leases-processing, the same for both
// servers.
var reclaimSettings = map[string]any{"reclaim-timer-wait-time": 1, "max-reclaim-leases": 0, "max-reclaim-time": 0,
	"hold-reclaimed-time": 3600, "flush-reclaimed-timer-wait-time": 3600, "unwarned-reclaim-cycles": 5}

// s8r runs S8r on PostgreSQL, then MySQL.
func (s *suite) s8r(ctx context.Context) error { return onDatabases(ctx, s.s8rOn) }

func (s *suite) s8rOn(ctx context.Context, kind dbtest.Kind) error {
	srv, err := dbtest.Start(kind, dbtest.Options{Durable: true})
	if err != nil {
		s.res.Skipped = append(s.res.Skipped, fmt.Sprintf("S8r on %s: %v", kind, err))
		return nil
	}
	defer srv.Stop()
	scenario := "S8r " + string(kind)
	_, err = s.measure(ctx, scenario, "reclaim", "reclaimed leases/s", "100,000 expired leases", func(ctx context.Context, server string) (sample, error) {
		first := uint32(10)<<24 | 1<<16 // 10.1.0.0, the start of the suite's pool
		prepare := func(db dbtest.DB) error {
			return db.InsertLeases4(first, reclaimLeases, 1, time.Now().Unix()-60, 0, 0)
		}
		s.dhcp4Extra = map[string]any{"expired-leases-processing": reclaimSettings}
		in, db, drop, err := s.startOnDatabase(ctx, server, srv, prepare, 5*time.Minute)
		s.dhcp4Extra = nil
		if err != nil {
			return sample{}, err
		}
		defer drop()
		defer s.closeChecked(scenario, in)
		start := time.Now()
		left, err := waitReclaimed(ctx, db, reclaimLimit)
		took := time.Since(start)
		if err != nil {
			return sample{}, err
		}
		held, err := db.Exec("SELECT count(*) FROM lease4 WHERE state = 2")
		if err != nil {
			return sample{}, err
		}
		done := reclaimLeases - left
		// A server still reclaiming (the limit passed) has held more by
		// now than when it was timed.
		if left == 0 && strings.TrimSpace(held) != fmt.Sprint(reclaimLeases) {
			s.fail("%s: %s left %s expired-reclaimed rows, want %d", scenario, server, held, reclaimLeases)
		}
		s.check(scenario, in, nil)
		var notes []string
		if left > 0 {
			notes = append(notes, fmt.Sprintf("%d of %d leases reclaimed when the %v limit passed", done, reclaimLeases, reclaimLimit))
		}
		return sample{v: float64(done) / took.Seconds(), setting: reclaimLeases, notes: notes,
			extra: map[string]float64{"seconds": took.Seconds(), "left": float64(left), "ready_s": in.srv.Ready.Seconds()}}, nil
	})
	return err
}

// waitReclaimed polls db until no lease4 row is in the default state or
// limit passes, and returns how many are left.
func waitReclaimed(ctx context.Context, db dbtest.DB, limit time.Duration) (int, error) {
	end := time.Now().Add(limit)
	for {
		out, err := db.Exec("SELECT count(*) FROM lease4 WHERE state = 0")
		if err != nil {
			return 0, err
		}
		var left int
		if _, err := fmt.Sscan(strings.TrimSpace(out), &left); err != nil {
			return 0, fmt.Errorf("count unreclaimed leases: %q: %w", out, err)
		}
		if left == 0 || time.Now().After(end) {
			return left, nil
		}
		select {
		case <-ctx.Done():
			return left, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// withLeaseDatabase replaces cfg's lease-database with db and sets the
// Dhcp4 parameters of extra.
func withLeaseDatabase(cfg []byte, db map[string]any, extra map[string]any) ([]byte, error) {
	var doc map[string]map[string]any
	if err := json.Unmarshal(cfg, &doc); err != nil {
		return nil, err
	}
	doc["Dhcp4"]["lease-database"] = db
	for k, v := range extra {
		doc["Dhcp4"][k] = v
	}
	return json.MarshalIndent(doc, "", "  ")
}
