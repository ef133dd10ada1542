package mysql

import (
	"context"
	"testing"

	"xdhcp/internal/dbtest"
	"xdhcp/lease/sqllease"
	"xdhcp/lease/sqllease/sqltest"
)

var server = dbtest.NewLazy(dbtest.MySQL, dbtest.Options{TLS: true})

func TestMain(m *testing.M) { dbtest.Main(m, server) }

func TestStore(t *testing.T) {
	sqltest.Run(t, sqltest.Kind{
		Server:     server,
		Open:       func(ctx context.Context, p sqllease.Params) (sqllease.Dialect, error) { return Open(ctx, p) },
		Version:    "14.0",
		Row:        "SELECT address, lower(hex(hwaddr)), valid_lifetime, unix_timestamp(expire), hostname, state FROM lease4 ORDER BY address",
		Open6:      func(ctx context.Context, p sqllease.Params) (sqllease.Dialect6, error) { return Open(ctx, p) },
		Row6:       "SELECT address, lower(hex(duid)), valid_lifetime, unix_timestamp(expire), pref_lifetime, lease_type, prefix_len, coalesce(lower(hex(hwaddr)), ''), coalesce(hwtype, 0), coalesce(hwaddr_source, 0), hostname, state, coalesce(user_context, '') FROM lease6 ORDER BY address",
		IAIDColumn: "4294967294",
	})
}
