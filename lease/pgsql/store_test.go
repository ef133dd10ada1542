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
		Server:     server,
		Open:       func(ctx context.Context, p sqllease.Params) (sqllease.Dialect, error) { return Open(ctx, p) },
		Version:    "13.0",
		Row:        "SELECT address, encode(hwaddr,'hex'), valid_lifetime, extract(epoch from expire)::bigint, hostname, state FROM lease4 ORDER BY address",
		Open6:      func(ctx context.Context, p sqllease.Params) (sqllease.Dialect6, error) { return Open(ctx, p) },
		Row6:       "SELECT address, encode(duid,'hex'), valid_lifetime, extract(epoch from expire)::bigint, pref_lifetime, lease_type, prefix_len, encode(hwaddr,'hex'), hwtype, hwaddr_source, hostname, state, user_context FROM lease6 ORDER BY address",
		IAIDColumn: "-2",
	})
}
