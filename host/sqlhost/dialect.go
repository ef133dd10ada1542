package sqlhost

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver

	"xdhcp/config"
)

// dialect is what differs between the two databases.
type dialect struct {
	name string
	// schemaMajor is the schema_version.version Kea 2.2's kea-admin
	// creates.
	schemaMajor int
	dsn         func(config.HostsDatabase) (driver, dsn string, err error)
	// dollar: placeholders are $1, $2, ... instead of ?.
	dollar    bool
	insertID  func(ctx context.Context, tx *sql.Tx, q string, args []any) (int64, error)
	duplicate func(error) bool
}

const insertHostSQL = `INSERT INTO hosts (dhcp_identifier, dhcp_identifier_type, dhcp4_subnet_id, ipv4_address, hostname,
 dhcp4_client_classes, dhcp4_next_server, dhcp4_server_hostname, dhcp4_boot_file_name, user_context)
 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

func (d dialect) insertHost(ctx context.Context, tx *sql.Tx, args []any) (int64, error) {
	return d.insertID(ctx, tx, d.rebind(insertHostSQL), args)
}

// rebind turns ? placeholders into $n for PostgreSQL.
func (d dialect) rebind(q string) string {
	if !d.dollar {
		return q
	}
	var b strings.Builder
	n := 0
	for _, c := range q {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

func dialectFor(typ string) (dialect, error) {
	switch typ {
	case "postgresql":
		return dialect{name: "PostgreSQL", schemaMajor: 13, dsn: pgDSN, dollar: true,
			insertID: func(ctx context.Context, tx *sql.Tx, q string, args []any) (int64, error) {
				var id int64
				err := tx.QueryRowContext(ctx, q+" RETURNING host_id", args...).Scan(&id)
				return id, err
			},
			duplicate: func(err error) bool {
				var pe *pgconn.PgError
				return errors.As(err, &pe) && pe.Code == "23505"
			}}, nil
	case "mysql":
		return dialect{name: "MySQL", schemaMajor: 14, dsn: mysqlDSN,
			insertID: func(ctx context.Context, tx *sql.Tx, q string, args []any) (int64, error) {
				res, err := tx.ExecContext(ctx, q, args...)
				if err != nil {
					return 0, err
				}
				return res.LastInsertId()
			},
			duplicate: func(err error) bool {
				var me *mysql.MySQLError
				return errors.As(err, &me) && me.Number == 1062
			}}, nil
	}
	return dialect{}, errUnknownType
}

// pgDSN is a libpq connection string, as Kea builds one from the same
// parameters: host may be a socket directory.
func pgDSN(c config.HostsDatabase) (string, string, error) {
	kv := []string{"dbname=" + quotePG(c.Name), "host=" + quotePG(c.Host)}
	if c.Port != 0 {
		kv = append(kv, "port="+strconv.Itoa(c.Port))
	}
	if c.User != "" {
		kv = append(kv, "user="+quotePG(c.User))
	}
	if c.Password != "" {
		kv = append(kv, "password="+quotePG(c.Password))
	}
	kv = append(kv, "connect_timeout="+strconv.Itoa(int(c.ConnectTimeout.Seconds())))
	switch {
	case c.TrustAnchor != "":
		kv = append(kv, "sslmode=verify-full", "sslrootcert="+quotePG(c.TrustAnchor))
	case c.CertFile != "":
		kv = append(kv, "sslmode=require")
	default:
		kv = append(kv, "sslmode=disable")
	}
	if c.CertFile != "" {
		kv = append(kv, "sslcert="+quotePG(c.CertFile), "sslkey="+quotePG(c.KeyFile))
	}
	return "pgx", strings.Join(kv, " "), nil
}

func quotePG(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// mysqlDSN is the MySQL driver's configuration: "localhost" or a path is
// the server's unix socket, as for the C client library Kea uses.
func mysqlDSN(c config.HostsDatabase) (string, string, error) {
	mc := mysql.NewConfig()
	mc.User, mc.Passwd, mc.DBName = c.User, c.Password, c.Name
	mc.Timeout = c.ConnectTimeout
	switch {
	case strings.HasPrefix(c.Host, "/"):
		mc.Net, mc.Addr = "unix", c.Host
	case c.Host == "localhost" && c.Port == 0:
		mc.Net, mc.Addr = "unix", "/run/mysqld/mysqld.sock"
	default:
		port := c.Port
		if port == 0 {
			port = 3306
		}
		mc.Net, mc.Addr = "tcp", net.JoinHostPort(c.Host, strconv.Itoa(port))
	}
	if c.TrustAnchor != "" || c.CertFile != "" {
		tc := &tls.Config{ServerName: c.Host, MinVersion: tls.VersionTLS12}
		if c.TrustAnchor != "" {
			pem, err := os.ReadFile(c.TrustAnchor)
			if err != nil {
				return "", "", fmt.Errorf("trust-anchor: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return "", "", fmt.Errorf("trust-anchor %s: no PEM certificate", c.TrustAnchor)
			}
			tc.RootCAs = pool
		} else {
			tc.InsecureSkipVerify = true // as Kea without a trust anchor: encrypted, not verified
		}
		if c.CertFile != "" {
			cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
			if err != nil {
				return "", "", fmt.Errorf("cert-file/key-file: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		name := "xdhcp-hosts-" + url.QueryEscape(c.Name+"@"+c.Host)
		if err := mysql.RegisterTLSConfig(name, tc); err != nil {
			return "", "", err
		}
		mc.TLSConfig = name
	}
	return "mysql", mc.FormatDSN(), nil
}
