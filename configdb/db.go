// Package configdb reads and writes Kea 2.2's configuration backend: the
// dhcp4_* (Open) or dhcp6_* (Open6) configuration tables of the schema
// kea-admin db-init creates on MySQL/MariaDB and PostgreSQL (servers,
// global parameters, option definitions, options, shared networks,
// subnets, pools and DHCPv6 prefix delegation pools, client classes),
// with the audit revisions Kea's own backends write, so that kea-dhcp4
// and kea-dhcp6 with libdhcp_mysql_cb/libdhcp_pgsql_cb and xdhcpd share
// one configuration database.
package configdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"xdhcp/config"
	"xdhcp/lease/sqllease"
)

// Schema major versions Kea 2.2's kea-admin creates.
const (
	pgSchemaMajor    = 13
	mysqlSchemaMajor = 14
)

// TagAll is the server tag of what every server reads.
const TagAll = "all"

// ErrNotFound is returned when a named server does not exist.
var ErrNotFound = errors.New("not found")

// DB is one configuration database.
type DB struct {
	db   *sql.DB
	pg   bool
	name string
	// v6 selects the dhcp6_* tables (Kea's Dhcp6 configuration) instead
	// of the dhcp4_* ones: the two families' tables have the same shape
	// apart from the network, class and pool columns.
	v6 bool
}

// String names the database for logs.
func (d *DB) String() string { return d.name }

// Close closes the connection pool.
func (d *DB) Close() error { return d.db.Close() }

// Open connects to the database c describes (the connection parameters
// of the lease and host databases) and checks Kea 2.2's schema version.
func Open(ctx context.Context, c config.HostsDatabase) (*DB, error) {
	return openFamily(ctx, c, false)
}

// Open6 is Open for the DHCPv6 configuration (the dhcp6_* tables).
func Open6(ctx context.Context, c config.HostsDatabase) (*DB, error) {
	return openFamily(ctx, c, true)
}

// V6 reports whether d holds the DHCPv6 configuration.
func (d *DB) V6() bool { return d.v6 }

func openFamily(ctx context.Context, c config.HostsDatabase, v6 bool) (*DB, error) {
	p := sqllease.Params{Host: c.Host, Port: c.Port, Name: c.Name, User: c.User, Password: c.Password,
		ConnectTimeout: c.ConnectTimeout, TrustAnchor: c.TrustAnchor, CertFile: c.CertFile, KeyFile: c.KeyFile,
		CipherList: c.CipherList}
	if p.ConnectTimeout == 0 {
		p.ConnectTimeout = 5 * time.Second
	}
	tlsc, err := p.TLSConfig()
	if err != nil {
		return nil, err
	}
	d := &DB{name: c.Type + " " + c.Name + "@" + c.Host, v6: v6}
	major := mysqlSchemaMajor
	switch c.Type {
	case "postgresql":
		d.pg, major = true, pgSchemaMajor
		host := p.Host
		if host == "" || host == "localhost" {
			host = "127.0.0.1"
		}
		port := p.Port
		if port == 0 {
			port = 5432
		}
		cc, err := pgx.ParseConfig("")
		if err != nil {
			return nil, err
		}
		cc.Host, cc.Port, cc.Database, cc.User, cc.Password = host, uint16(port), p.Name, p.User, p.Password
		cc.ConnectTimeout, cc.TLSConfig, cc.Fallbacks = p.ConnectTimeout, tlsc, nil
		cc.RuntimeParams = map[string]string{"application_name": "xdhcpd-config-backend"}
		d.db = stdlib.OpenDB(*cc)
	case "mysql":
		mc := mysql.NewConfig()
		mc.User, mc.Passwd, mc.DBName = p.User, p.Password, p.Name
		mc.Timeout, mc.TLS, mc.ParseTime = p.ConnectTimeout, tlsc, true
		port := p.Port
		if port == 0 {
			port = 3306
		}
		switch {
		case strings.HasPrefix(p.Host, "/"):
			mc.Net, mc.Addr = "unix", p.Host
		case (p.Host == "" || p.Host == "localhost") && p.Port == 0:
			mc.Net, mc.Addr = "unix", "/run/mysqld/mysqld.sock"
		default:
			mc.Net, mc.Addr = "tcp", net.JoinHostPort(p.Host, strconv.Itoa(port))
		}
		conn, err := mysql.NewConnector(mc)
		if err != nil {
			return nil, err
		}
		d.db = sql.OpenDB(conn)
	default:
		return nil, fmt.Errorf("config-databases type %q: mysql or postgresql", c.Type)
	}
	d.db.SetMaxOpenConns(4)
	d.db.SetMaxIdleConns(2)
	d.db.SetConnMaxIdleTime(5 * time.Minute)
	cctx, cancel := context.WithTimeout(ctx, p.ConnectTimeout+time.Second)
	defer cancel()
	var got, minor int
	if err := d.db.QueryRowContext(cctx, "SELECT version, minor FROM schema_version").Scan(&got, &minor); err != nil {
		d.db.Close()
		return nil, fmt.Errorf("configuration database %s: reading Kea's schema_version: %w", d.name, err)
	}
	if got != major {
		d.db.Close()
		return nil, fmt.Errorf("configuration database %s: schema version %d.%d, but Kea 2.2's is %d.x (kea-admin db-init or db-upgrade of Kea 2.2)",
			d.name, got, minor, major)
	}
	return d, nil
}

// q rewrites ? placeholders as $n for PostgreSQL, and the DHCPv4 table
// and procedure names (every statement is written with them) as the
// DHCPv6 ones for a DHCPv6 database.
func (d *DB) q(s string) string {
	if d.v6 {
		s = strings.NewReplacer("dhcp4_", "dhcp6_", "DHCP4", "DHCP6").Replace(s)
	}
	if !d.pg {
		return s
	}
	var b strings.Builder
	n := 0
	for _, c := range s {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// addrIn is the SQL that stores an address given as text: an IPv4 one
// as an unsigned integer in MySQL, inet in PostgreSQL; an IPv6 one as
// text in MySQL.
func (d *DB) addrIn() string {
	if d.v6 && !d.pg {
		return "?"
	}
	if d.pg {
		return "CAST(? AS inet)"
	}
	return "INET_ATON(?)"
}

// addrOut reads such a column back as text.
func (d *DB) addrOut(col string) string {
	if d.v6 && !d.pg {
		return col
	}
	if d.pg {
		return "host(" + col + ")"
	}
	return "INET_NTOA(" + col + ")"
}

// tx runs fn in a transaction that first opens an audit revision as Kea's
// backends do (the schema's triggers then write the audit entries the
// servers poll). cascade tells the option triggers that the options are
// part of a larger change.
func (d *DB) tx(ctx context.Context, tag, message string, cascade bool, fn func(*sql.Tx) error) error {
	err := d.tx1(ctx, tag, message, cascade, fn)
	if err != nil && connectionLost(err) && ctx.Err() == nil {
		// A pooled connection the database (or the path to it) dropped
		// fails its first use; the transaction rolled back, so it is
		// run again on a fresh connection.
		err = d.tx1(ctx, tag, message, cascade, fn)
	}
	return err
}

// connectionLost reports whether err is a failure of the connection
// rather than an answer of the database.
func connectionLost(err error) bool {
	var ne net.Error
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, mysql.ErrInvalidConn) || errors.As(err, &ne) || pgconn.SafeToRetry(err) ||
		strings.Contains(err.Error(), "conn closed") || strings.Contains(err.Error(), "unexpected EOF")
}

func (d *DB) tx1(ctx context.Context, tag, message string, cascade bool, fn func(*sql.Tx) error) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("configuration database %s: %w", d.name, err)
	}
	defer tx.Rollback()
	call := "CALL createAuditRevisionDHCP4(?, ?, ?, ?)"
	if d.pg {
		call = "SELECT createAuditRevisionDHCP4(?, ?, ?, ?)"
	}
	if _, err := tx.ExecContext(ctx, d.q(call), time.Now().UTC().Truncate(time.Second), tag, message, cascade); err != nil {
		return fmt.Errorf("configuration database %s: audit revision: %w", d.name, err)
	}
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("configuration database %s: commit: %w", d.name, err)
	}
	return nil
}

// serverIDs returns the ids of tags, refusing a tag no server has (as
// Kea's backends do: a server is created with remote-server4-set first).
func (d *DB) serverIDs(ctx context.Context, tx *sql.Tx, tags []string) ([]int64, error) {
	var ids []int64
	for _, t := range tags {
		var id int64
		err := tx.QueryRowContext(ctx, d.q("SELECT id FROM dhcp4_server WHERE tag = ?"), t).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("server '%s' does not exist", t)
		}
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// attach writes the association rows of an object with its servers.
func (d *DB) attach(ctx context.Context, tx *sql.Tx, table, col string, id any, tags []string) error {
	ids, err := d.serverIDs(ctx, tx, tags)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, d.q("DELETE FROM "+table+" WHERE "+col+" = ?"), id); err != nil {
		return err
	}
	now := time.Now().UTC().Truncate(time.Second)
	for _, sid := range ids {
		if _, err := tx.ExecContext(ctx, d.q("INSERT INTO "+table+" ("+col+", server_id, modification_ts) VALUES (?, ?, ?)"), id, sid, now); err != nil {
			return err
		}
	}
	return nil
}

// tagsOf returns the server tags an object is associated with.
func (d *DB) tagsOf(ctx context.Context, q queryer, table, col string, id any) ([]string, error) {
	rows, err := q.QueryContext(ctx, d.q("SELECT v.tag FROM "+table+" a JOIN dhcp4_server v ON v.id = a.server_id WHERE a."+col+" = ? ORDER BY v.tag"), id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	tags := []string{}
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		tags = append(tags, t)
	}
	return tags, rows.Err()
}

// queryer is a *sql.DB or a *sql.Tx.
type queryer interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}

// LastRevision returns the newest audit revision that has audit entries
// (0 for none): a server that saw a smaller one has changes to fetch.
func (d *DB) LastRevision(ctx context.Context) (int64, error) {
	var id sql.NullInt64
	err := d.db.QueryRowContext(ctx, d.q("SELECT MAX(a.revision_id) FROM dhcp4_audit a")).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("configuration database %s: audit: %w", d.name, err)
	}
	return id.Int64, nil
}

// Type is the database type as config-databases names it.
func (d *DB) Type() string {
	if d.pg {
		return "postgresql"
	}
	return "mysql"
}

// txCount is tx for a change that counts the rows it touched.
func (d *DB) txCount(ctx context.Context, tag, message string, cascade bool, fn func(*sql.Tx) (int64, error)) (int64, error) {
	var n int64
	err := d.tx(ctx, tag, message, cascade, func(tx *sql.Tx) (err error) {
		n, err = fn(tx)
		return err
	})
	return n, err
}

// affected is the row count of an Exec.
func affected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// Family is "DHCPv4" or "DHCPv6", as the commands' answers name it.
func (d *DB) Family() string {
	if d.v6 {
		return "DHCPv6"
	}
	return "DHCPv4"
}

// IPFamily is "IPv4" or "IPv6".
func (d *DB) IPFamily() string { return d.familyName() }

// IsFamily reports whether a is an address of d's family.
func (d *DB) IsFamily(a netip.Addr) bool { return d.is(a) }
