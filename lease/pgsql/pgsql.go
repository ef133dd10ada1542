// Package pgsql is the PostgreSQL dialect of the database lease store
// (lease/sqllease), on the lease4 and lease6 tables of Kea 2.2's schema
// (kea-admin db-init pgsql).
package pgsql

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"xdhcp/lease"
	"xdhcp/lease/sqllease"
)

// SchemaMajor and SchemaMinor are the schema version kea-admin db-init
// pgsql of Kea 2.2 creates: the one this dialect reads and writes.
const (
	SchemaMajor = 13
	SchemaMinor = 0
)

// Dialect is a connection pool to one PostgreSQL database.
type Dialect struct {
	sqllease.Reads
	sqllease.Reads6
	pool *pgxpool.Pool
}

var (
	_ sqllease.Dialect  = (*Dialect)(nil)
	_ sqllease.Dialect6 = (*Dialect)(nil)
)

// Open connects to the database p names.
func Open(ctx context.Context, p sqllease.Params) (*Dialect, error) {
	cfg, err := pgxpool.ParseConfig("")
	if err != nil {
		return nil, err
	}
	cc := cfg.ConnConfig
	cc.Host = p.Host
	if cc.Host == "" || cc.Host == "localhost" {
		cc.Host = "127.0.0.1"
	}
	cc.Port = 5432
	if p.Port != 0 {
		cc.Port = uint16(p.Port)
	}
	cc.Database, cc.User, cc.Password = p.Name, p.User, p.Password
	cc.ConnectTimeout = p.ConnectTimeout
	cc.Fallbacks = nil
	cc.RuntimeParams = map[string]string{"application_name": "xdhcpd"}
	tlsc, err := p.TLSConfig()
	if err != nil {
		return nil, err
	}
	cc.TLSConfig = tlsc
	cc.DialFunc = p.Dial()
	cfg.MaxConns = int32(max(p.MaxConns, 2))
	cfg.MinConns = 1
	cfg.HealthCheckPeriod = 5 * time.Second
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to postgresql %s:%d/%s: %w", cc.Host, cc.Port, p.Name, err)
	}
	if err := p.OpenPing(ctx, pool.Ping); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to postgresql %s:%d/%s: %w", cc.Host, cc.Port, p.Name, err)
	}
	dl := &Dialect{pool: pool}
	dl.Q, dl.Q6 = dl, dl
	return dl, nil
}

// Close closes the pool.
func (d *Dialect) Close() { d.pool.Close() }

// Ping checks a connection.
func (d *Dialect) Ping(ctx context.Context) error { return d.pool.Ping(ctx) }

// CheckSchema compares schema_version with what this dialect was
// written for.
func (d *Dialect) CheckSchema(ctx context.Context) error {
	return d.CheckVersion(ctx, "pgsql", SchemaMajor, SchemaMinor)
}

// Columns lists lease4's columns as sqllease.Row reads them.
func (d *Dialect) Columns() string {
	return `address, coalesce(hwaddr, ''::bytea), coalesce(client_id, ''::bytea), valid_lifetime::bigint,
	extract(epoch from expire)::bigint, subnet_id::bigint, coalesce(fqdn_fwd, false), coalesce(fqdn_rev, false),
	coalesce(hostname, ''), coalesce(state, 0)::bigint, coalesce(user_context, '')`
}

// Placeholder is $n.
func (d *Dialect) Placeholder(n int) string { return "$" + strconv.Itoa(n) }

// Query runs q on a pooled connection.
func (d *Dialect) Query(ctx context.Context, q string, args ...any) (sqllease.Rows, func(), error) {
	rows, err := d.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, nil, err
	}
	return rows, rows.Close, nil
}

// putSQL writes a lease unless the row holds another client's live lease
// the store did not know (see sqllease.Write); a reclamation (state 2)
// does not pass for the same client, whose lease another server may have
// renewed. $12 is now, $13-$15 what
// the store knew: whether it knew a lease, its expiry and hardware
// address.
const putSQL = `INSERT INTO lease4 (address, hwaddr, client_id, valid_lifetime, expire, subnet_id, fqdn_fwd, fqdn_rev,
	hostname, state, user_context) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (address) DO UPDATE SET hwaddr = EXCLUDED.hwaddr, client_id = EXCLUDED.client_id,
	valid_lifetime = EXCLUDED.valid_lifetime, expire = EXCLUDED.expire, subnet_id = EXCLUDED.subnet_id,
	fqdn_fwd = EXCLUDED.fqdn_fwd, fqdn_rev = EXCLUDED.fqdn_rev, hostname = EXCLUDED.hostname,
	state = EXCLUDED.state, user_context = EXCLUDED.user_context
WHERE lease4.state = 2 OR (lease4.expire <= $12 AND lease4.valid_lifetime <> 4294967295)
	OR (EXCLUDED.state <> 2 AND (lease4.hwaddr = EXCLUDED.hwaddr
		OR (length(lease4.client_id) > 0 AND lease4.client_id = EXCLUDED.client_id)))
	OR ($13 AND lease4.expire = $14 AND coalesce(lease4.hwaddr, ''::bytea) = $15)`

const deleteSQL = `DELETE FROM lease4 WHERE address = $1 AND (NOT $2 OR lease4.state = 2
	OR (lease4.expire <= $3 AND lease4.valid_lifetime <> 4294967295)
	OR (lease4.expire = $4 AND coalesce(lease4.hwaddr, ''::bytea) = $5))`

// Write applies ws in one transaction, pipelined: BEGIN, every statement
// and the outcome travel in two round trips.
func (d *Dialect) Write(ctx context.Context, ws []sqllease.Write, now time.Time) ([]int, error) {
	return d.pipeline(ctx, len(ws), func(b *pgx.Batch, i int) bool {
		w := ws[i]
		l := &w.Op.Lease
		known, kexp, khw := false, time.Unix(0, 0).UTC(), []byte{}
		if w.Known != nil {
			known, kexp, khw = true, sqllease.ExpireOf(w.Known), nonNil(w.Known.HWAddr)
		}
		if w.Op.Kind == lease.OpDelete {
			b.Queue(deleteSQL, sqllease.AddrNum(l.Addr), known, now.UTC(), kexp, khw)
			return false
		}
		b.Queue(putSQL, sqllease.AddrNum(l.Addr), nonNil(l.HWAddr), nonNil(l.ClientID), int64(l.ValidLft),
			sqllease.ExpireOf(l), int64(l.SubnetID), l.FqdnFwd, l.FqdnRev, l.Hostname, int64(l.State), l.UserContext,
			now.UTC(), known, kexp, khw)
		return true
	})
}

// pipeline runs n statements in one transaction, pipelined; queue adds
// the i-th and says whether it is a put, which conflicts when it touches
// no row. A conflict rolls the transaction back.
func (d *Dialect) pipeline(ctx context.Context, n int, queue func(b *pgx.Batch, i int) (put bool)) ([]int, error) {
	conn, err := d.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	puts := make([]bool, n)
	for i := range n {
		puts[i] = queue(b, i)
	}
	br := conn.SendBatch(ctx, b)
	var conflicts []int
	_, err = br.Exec()
	for i := 0; err == nil && i < n; i++ {
		tag, e := br.Exec()
		err = e
		if err == nil && puts[i] && tag.RowsAffected() == 0 {
			conflicts = append(conflicts, i)
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	end := "COMMIT"
	if err != nil || len(conflicts) > 0 {
		end = "ROLLBACK"
	}
	if _, eerr := conn.Exec(ctx, end); err == nil {
		err = eerr
	}
	if err != nil {
		// The connection's state is unknown: do not give it back.
		_ = conn.Conn().Close(context.Background())
		return nil, err
	}
	return conflicts, nil
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
