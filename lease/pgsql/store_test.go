package pgsql

import (
	"context"
	"testing"

	"xdhcp/internal/dbtest"
	"xdhcp/lease/sqllease"
	"xdhcp/lease/sqllease/sqltest"
)

var server = dbtest.NewLazy(dbtest.Postgres, dbtest.Options{TLS: true})

func TestMain(m *testing.M) { dbtest.Main(m, server) }

func TestStore(t *testing.T) {
	sqltest.Run(t, sqltest.Kind{
		Server:  server,
		Open:    func(ctx context.Context, p sqllease.Params) (sqllease.Dialect, error) { return Open(ctx, p) },
		Version: "13.0",
		Row:     "SELECT address, encode(hwaddr,'hex'), valid_lifetime, extract(epoch from expire)::bigint, hostname, state FROM lease4 ORDER BY address",
	})
}
