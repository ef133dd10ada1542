// Package mysql is the MySQL/MariaDB dialect of the database lease store
// (lease/sqllease), on the lease4 and lease6 tables of Kea 2.2's schema
// (kea-admin db-init mysql).
package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	driver "github.com/go-sql-driver/mysql"

	"xdhcp/lease"
	"xdhcp/lease/sqllease"
)

// SchemaMajor and SchemaMinor are the schema version kea-admin db-init
// mysql of Kea 2.2 creates: the one this dialect reads and writes.
const (
	SchemaMajor = 14
	SchemaMinor = 0
)

// defaultSocket is where Debian's MariaDB listens; Kea's "localhost"
// means this socket, as it does for the MySQL client library.
const defaultSocket = "/run/mysqld/mysqld.sock"

// Dialect is a connection pool to one MySQL database.
type Dialect struct {
	sqllease.Reads
	sqllease.Reads6
	db *sql.DB
}

var (
	_ sqllease.Dialect  = (*Dialect)(nil)
	_ sqllease.Dialect6 = (*Dialect)(nil)
)

// Open connects to the database p names.
func Open(ctx context.Context, p sqllease.Params) (*Dialect, error) {
	cfg := driver.NewConfig()
	cfg.User, cfg.Passwd, cfg.DBName = p.User, p.Password, p.Name
	port := p.Port
	if port == 0 {
		port = 3306
	}
	switch {
	case (p.Host == "" || p.Host == "localhost") && p.Port == 0 && socketExists(defaultSocket):
		cfg.Net, cfg.Addr = "unix", defaultSocket
	case p.Host == "" || p.Host == "localhost":
		cfg.Net, cfg.Addr = "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	default:
		cfg.Net, cfg.Addr = "tcp", net.JoinHostPort(p.Host, strconv.Itoa(port))
	}
	cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = p.ConnectTimeout, p.ReadTimeout, p.WriteTimeout
	cfg.DialFunc = p.Dial()
	// Statements are sent with their arguments in place: one round trip
	// each instead of prepare, execute and close.
	cfg.InterpolateParams = true
	tlsc, err := p.TLSConfig()
	if err != nil {
		return nil, err
	}
	cfg.TLS = tlsc
	conn, err := driver.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(conn)
	n := max(p.MaxConns, 2)
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := p.OpenPing(ctx, db.PingContext); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to mysql %s/%s: %w", cfg.Addr, p.Name, err)
	}
	d := &Dialect{db: db}
	d.Q, d.Q6 = d, d
	return d, nil
}

func socketExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode()&os.ModeSocket != 0
}

// Close closes the pool.
func (d *Dialect) Close() { d.db.Close() }

// Ping checks a connection.
func (d *Dialect) Ping(ctx context.Context) error { return d.db.PingContext(ctx) }

// CheckSchema compares schema_version with what this dialect was
// written for.
func (d *Dialect) CheckSchema(ctx context.Context) error {
	return d.CheckVersion(ctx, "mysql", SchemaMajor, SchemaMinor)
}

// Columns lists lease4's columns as sqllease.Row reads them.
func (d *Dialect) Columns() string {
	return `address, coalesce(hwaddr, ''), coalesce(client_id, ''), valid_lifetime, cast(unix_timestamp(expire) AS SIGNED),
	subnet_id, coalesce(fqdn_fwd, 0), coalesce(fqdn_rev, 0), coalesce(hostname, ''), coalesce(state, 0), coalesce(user_context, '')`
}

// Placeholder is ?.
func (d *Dialect) Placeholder(int) string { return "?" }

// Query runs q on a pooled connection.
func (d *Dialect) Query(ctx context.Context, q string, args ...any) (sqllease.Rows, func(), error) {
	rows, err := d.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, nil, err
	}
	return rows, func() { rows.Close() }, nil
}

// held is what the database holds for an address, locked for the
// transaction: the client's identity (hardware address and client
// identifier; DUID, IAID and type for lease6), expiry and state.
type held struct {
	hw, cid []byte
	iaid    uint32
	typ     int64
	valid   uint32
	expire  int64
	state   int64
}

// table is one lease table's side of write: its SQL and how a write's row
// compares with the row held.
type table interface {
	// key is the address column's value of write i.
	key(i int) any
	del(i int) bool
	// known reports whether write i's store knew a lease, and whether
	// that lease is h.
	known(i int, h held) (knew, same bool)
	// sameClient reports whether h is write i's client's lease; never for
	// a reclamation, since another server may have renewed that lease.
	sameClient(i int, h held) bool
	// lockSQL selects the rows of n addresses FOR UPDATE as held.
	lockSQL(n int) string
	scan(rows *sql.Rows) (key any, h held, err error)
	insertSQL(n int, tail string) string
	updateClause() string
	args(idx []int) []any
	name() string
}

// Write applies ws in one transaction (see write).
func (d *Dialect) Write(ctx context.Context, ws []sqllease.Write, now time.Time) ([]int, error) {
	return d.write(ctx, len(ws), lease4{ws}, now)
}

// write applies n writes to t in one transaction: the rows of the
// batch's addresses are read and locked (SELECT … FOR UPDATE), the
// conditions of sqllease.Write are checked here, and the inserts, updates
// and deletes go as one statement each. An insert that meets a row
// another server inserted meanwhile fails as a duplicate key: a conflict.
func (d *Dialect) write(ctx context.Context, n int, t table, now time.Time) ([]int, error) {
	// READ COMMITTED: the locking read takes the rows that exist and no
	// gap locks, so concurrent batches inserting new addresses do not
	// deadlock each other; an insert racing another server's is a
	// duplicate key, which is the conflict it is.
	tx, err := d.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	rows, err := lock(ctx, tx, n, t)
	if err != nil {
		return nil, err
	}
	var conflicts []int
	var ins, upd, del []int
	for i := range n {
		h, exists := rows[t.key(i)]
		knew, same := t.known(i, h)
		free := !exists || h.state == int64(lease.StateExpiredReclaimed) ||
			(h.valid != lease.Infinite && h.expire <= now.Unix()) || same
		switch {
		case t.del(i):
			if exists && (!knew || free) {
				del = append(del, i)
			}
		case !exists:
			ins = append(ins, i)
		case free || t.sameClient(i, h):
			upd = append(upd, i)
		default:
			conflicts = append(conflicts, i)
		}
	}
	if len(conflicts) > 0 {
		return conflicts, nil
	}
	if len(ins) > 0 {
		if _, err := tx.ExecContext(ctx, t.insertSQL(len(ins), ""), t.args(ins)...); err != nil {
			var me *driver.MySQLError
			if errors.As(err, &me) && me.Number == 1062 { // duplicate key: another server's insert
				return ins, nil
			}
			return nil, err
		}
	}
	if len(upd) > 0 {
		if _, err := tx.ExecContext(ctx, t.insertSQL(len(upd), t.updateClause()), t.args(upd)...); err != nil {
			return nil, err
		}
	}
	if len(del) > 0 {
		args := make([]any, len(del))
		for j, i := range del {
			args[j] = t.key(i)
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM "+t.name()+" WHERE address IN ("+marks(len(del))+")", args...); err != nil {
			return nil, err
		}
	}
	return nil, tx.Commit()
}

func lock(ctx context.Context, tx *sql.Tx, n int, t table) (map[any]held, error) {
	args := make([]any, n)
	for i := range n {
		args[i] = t.key(i)
	}
	rows, err := tx.QueryContext(ctx, t.lockSQL(n), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[any]held, n)
	for rows.Next() {
		k, h, err := t.scan(rows)
		if err != nil {
			return nil, err
		}
		out[k] = h
	}
	return out, rows.Err()
}

// lease4 is Kea's lease4 table.
type lease4 struct{ ws []sqllease.Write }

func (t lease4) name() string         { return "lease4" }
func (t lease4) key(i int) any        { return sqllease.AddrNum(t.ws[i].Op.Lease.Addr) }
func (t lease4) del(i int) bool       { return t.ws[i].Op.Kind == lease.OpDelete }
func (t lease4) updateClause() string { return updateClause }

func (t lease4) known(i int, h held) (bool, bool) {
	k := t.ws[i].Known
	return k != nil, k != nil && sqllease.ExpireOf(k).Unix() == h.expire && string(k.HWAddr) == string(h.hw)
}

func (t lease4) sameClient(i int, h held) bool {
	l := &t.ws[i].Op.Lease
	return l.State != lease.StateExpiredReclaimed &&
		(string(h.hw) == string(l.HWAddr) || (len(h.cid) > 0 && string(h.cid) == string(l.ClientID)))
}

func (t lease4) lockSQL(n int) string {
	return `SELECT address, coalesce(hwaddr, ''), coalesce(client_id, ''), valid_lifetime,
		unix_timestamp(expire), coalesce(state, 0) FROM lease4 WHERE address IN (` + marks(n) + `) FOR UPDATE`
}

func (t lease4) scan(rows *sql.Rows) (any, held, error) {
	var a int64
	var h held
	var expire float64
	err := rows.Scan(&a, &h.hw, &h.cid, &h.valid, &expire, &h.state)
	h.expire = int64(expire)
	return a, h, err
}

const leaseCols = "address, hwaddr, client_id, valid_lifetime, expire, subnet_id, fqdn_fwd, fqdn_rev, hostname, state, user_context"

const updateClause = ` ON DUPLICATE KEY UPDATE hwaddr = VALUES(hwaddr), client_id = VALUES(client_id),
	valid_lifetime = VALUES(valid_lifetime), expire = VALUES(expire), subnet_id = VALUES(subnet_id),
	fqdn_fwd = VALUES(fqdn_fwd), fqdn_rev = VALUES(fqdn_rev), hostname = VALUES(hostname), state = VALUES(state),
	user_context = VALUES(user_context)`

func (t lease4) insertSQL(n int, tail string) string {
	return insertSQL("lease4", leaseCols, "(?, ?, ?, ?, FROM_UNIXTIME(?), ?, ?, ?, ?, ?, ?)", n, tail)
}

// insertSQL inserts n rows of cols, each with the placeholders row.
func insertSQL(table, cols, row string, n int, tail string) string {
	var b strings.Builder
	b.WriteString("INSERT INTO " + table + " (" + cols + ") VALUES ")
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(row)
	}
	b.WriteString(tail)
	return b.String()
}

func (t lease4) args(idx []int) []any {
	args := make([]any, 0, 11*len(idx))
	for _, i := range idx {
		l := &t.ws[i].Op.Lease
		args = append(args, sqllease.AddrNum(l.Addr), nonNil(l.HWAddr), nonNil(l.ClientID), int64(l.ValidLft),
			sqllease.ExpireOf(l).Unix(), int64(l.SubnetID), l.FqdnFwd, l.FqdnRev, l.Hostname, int64(l.State),
			nullString(l.UserContext))
	}
	return args
}

// nullString is s, or NULL for "" (Kea's MySQL backend writes no user
// context as NULL).
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func marks(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
