package main

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"

	"xdhcp/internal/dbtest"
	"xdhcp/lease/mysql"
	"xdhcp/lease/pgsql"
	"xdhcp/lease/sqllease"
)

// The database servers of this test binary, started by the first test
// that needs one; TestMain stops them.
var (
	pgServer    = dbtest.NewLazy(dbtest.Postgres, dbtest.Options{})
	mysqlServer = dbtest.NewLazy(dbtest.MySQL, dbtest.Options{})
)

// TestDBInit: xdhcpctl db-init on a fresh database makes one xdhcpd's
// lease store opens (the schema version checked), db-version reports the
// version, and a second db-init is refused without touching the schema.
// That the schema equals kea-admin's is the dialects' test, which runs
// db-init on both databases; here PostgreSQL stands for both (MySQL with
// XDHCP_DB_ALL set), as a second server costs seconds.
func TestDBInit(t *testing.T) {
	for _, c := range []struct {
		backend, version string
		server           *dbtest.Lazy
		open             func(context.Context, sqllease.Params) (sqllease.Dialect, error)
	}{
		{"pgsql", "13.0", pgServer, func(ctx context.Context, p sqllease.Params) (sqllease.Dialect, error) { return pgsql.Open(ctx, p) }},
		{"mysql", "14.0", mysqlServer, func(ctx context.Context, p sqllease.Params) (sqllease.Dialect, error) { return mysql.Open(ctx, p) }},
	} {
		t.Run(c.backend, func(t *testing.T) {
			if c.backend == "mysql" && os.Getenv("XDHCP_DB_ALL") == "" {
				t.Skip("XDHCP_DB_ALL not set")
			}
			t.Parallel()
			db := c.server.Get(t).NewEmptyDB(t)
			env := envOf(map[string]string{"XDHCPCTL_DB_PASSWORD": db.Password}, "", "", false)
			args := []string{c.backend, "-host", db.Host(), "-port", strconv.Itoa(db.Port()), "-name", db.Name, "-user", db.User}
			if _, _, err := ctlIn(t, env, append([]string{"db-version"}, args...)...); err == nil {
				t.Error("db-version of an empty database succeeded")
			}
			out, stderr, err := ctlIn(t, env, append([]string{"db-init"}, args...)...)
			if err != nil || !strings.Contains(out, "schema "+c.version+" created") {
				t.Fatalf("db-init: %v %q %q", err, out, stderr)
			}
			out, _, err = ctlIn(t, env, append([]string{"db-version"}, args...)...)
			if err != nil || strings.TrimSpace(out) != c.version {
				t.Errorf("db-version: %v %q, want %s", err, out, c.version)
			}
			if _, _, err := ctlIn(t, env, append([]string{"db-init"}, args...)...); err == nil || !strings.Contains(err.Error(), "empty database") {
				t.Errorf("second db-init: %v", err)
			}
			ctx := context.Background()
			d, err := c.open(ctx, sqllease.Params{Host: db.Host(), Port: db.Port(), Name: db.Name, User: db.User, Password: db.Password})
			if err != nil {
				t.Fatal(err)
			}
			s, err := sqllease.Open(ctx, sqllease.Options{Dialect: d, Where: c.backend})
			if err != nil {
				t.Fatalf("the lease store refuses the database db-init made: %v", err)
			}
			s.Close()
		})
	}
	if _, _, err := ctl(t, "db-init", "oracle", "-name", "x", "-user", "y"); err == nil || exitCode(err) != 2 {
		t.Errorf("db-init of an unknown backend: %v", err)
	}
}
