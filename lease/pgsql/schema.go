package pgsql

import (
	"context"
	_ "embed"
	"fmt"

	"xdhcp/lease/sqllease"
)

// schemaSQL creates Kea 2.2's PostgreSQL schema (leases, hosts,
// configuration backend, statistics, and their triggers and functions)
// in an empty database: the state kea-admin db-init pgsql leaves, as one
// script, so no Kea installation is needed to prepare a database.
// TestSchemaMatchesKeaAdmin holds it to what kea-admin makes; see the
// file's header for how it is regenerated.
//
//go:embed schema.pgsql
var schemaSQL string

// InitSchema creates Kea 2.2's schema in the database, which must hold
// no tables yet (as kea-admin db-init requires). The whole script runs in
// one transaction: a failure leaves the database empty.
func (d *Dialect) InitSchema(ctx context.Context) error {
	conn, err := d.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// The script sets session parameters (search_path): the connection
	// is not given back to the pool.
	defer func() { _ = conn.Conn().Close(context.Background()); conn.Release() }()
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()`).Scan(&n); err != nil {
		return fmt.Errorf("count the database's tables: %w", err)
	}
	if n > 0 {
		return fmt.Errorf("the database already holds %d tables: db-init needs an empty database (db-version tells an initialised one's version)", n)
	}
	// One simple-protocol query: the statements run as one implicit
	// transaction.
	if _, err := conn.Conn().PgConn().Exec(ctx, schemaSQL).ReadAll(); err != nil {
		return fmt.Errorf("create the schema: %w", err)
	}
	return nil
}

// SchemaVersion reads the schema_version row.
func (d *Dialect) SchemaVersion(ctx context.Context) (major, minor int, err error) {
	return sqllease.ReadVersion(ctx, d)
}
