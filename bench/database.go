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
func (s *suite) s8(ctx context.Context) error {
	var errs []string
	for _, kind := range []dbtest.Kind{dbtest.Postgres, dbtest.MySQL} {
		if err := s.s8On(ctx, kind); err != nil {
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
		in, drop, err := s.startOnDatabase(ctx, server, srv)
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
// namespace loopback. drop removes the database (after the instance is
// closed).
func (s *suite) startOnDatabase(ctx context.Context, server string, srv *dbtest.Server) (*instance, func(), error) {
	db, err := srv.CreateDB(fmt.Sprintf("s8_%s_%d", server, s.run))
	if err != nil {
		return nil, nil, err
	}
	b, err := NewLab("xd-suite", suiteServer, suiteClient)
	if err != nil {
		_ = srv.DropDB(db)
		return nil, nil, err
	}
	var l net.Listener
	if err := b.Server.Do(func() (err error) { l, err = net.Listen("tcp", "127.0.0.1:0"); return err }); err != nil {
		b.Close()
		_ = srv.DropDB(db)
		return nil, nil, err
	}
	fw := srv.Forward(l)
	drop := func() {
		fw.Close()
		_ = srv.DropDB(db)
	}
	s.leaseDB = db.KeaConfig(map[string]any{"host": "127.0.0.1", "port": fw.Port})
	in := &instance{lab: b.Lab, cliNS: b.Client, cliIf: b.ClientIf, srvMAC: b.ServerMAC}
	in.srv, err = s.startServer(ctx, server, b.Server, "", nil, 0)
	s.leaseDB = nil
	if err != nil {
		b.Close()
		drop()
		return nil, nil, err
	}
	return in, drop, nil
}

// withLeaseDatabase replaces cfg's lease-database with db.
func withLeaseDatabase(cfg []byte, db map[string]any) ([]byte, error) {
	var doc map[string]map[string]any
	if err := json.Unmarshal(cfg, &doc); err != nil {
		return nil, err
	}
	doc["Dhcp4"]["lease-database"] = db
	return json.MarshalIndent(doc, "", "  ")
}
