package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"xdhcp/internal/cli"
	"xdhcp/lease/mysql"
	"xdhcp/lease/pgsql"
	"xdhcp/lease/sqllease"
)

const dbUsageText = `usage: xdhcpctl db-init pgsql|mysql -name DB -user U [-password-file F] [-host H] [-port P] [TLS flags]
       xdhcpctl db-version pgsql|mysql -name DB -user U [-password-file F] [-host H] [-port P] [TLS flags]

db-init creates Kea 2.2's schema (leases, hosts, configuration backend:
version 13.0 on PostgreSQL, 14.0 on MySQL/MariaDB) in an empty database, the
same schema kea-admin db-init creates, so xdhcpd and Kea 2.2 can share the
database. It needs no Kea installation: the schema is part of xdhcpctl.
The database and its user must exist (CREATE DATABASE, CREATE USER and
GRANT, as for kea-admin); db-init refuses a database that holds tables.
db-version prints the schema version of an initialised database.

Upgrading a schema made by an older Kea is kea-admin db-upgrade's job.

The password comes from -password-file (a file holding it), else the
XDHCPCTL_DB_PASSWORD variable; -password works but ps shows it.

flags:
`

// dbCommand reports whether name is one of the database commands.
func dbCommand(name string) bool { return name == "db-init" || name == "db-version" }

// dbSession is an open database of either kind, as the commands use it.
type dbSession interface {
	InitSchema(ctx context.Context) error
	SchemaVersion(ctx context.Context) (int, int, error)
	Close()
}

// runDB runs db-init or db-version; args start with the command name.
func runDB(ctx context.Context, env environment, args []string, stdout, stderr io.Writer) error {
	cmd := args[0]
	fs := flag.NewFlagSet("xdhcpctl "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), dbUsageText)
		fs.PrintDefaults()
	}
	var p sqllease.Params
	var password, passwordFile string
	fs.StringVar(&p.Host, "host", "localhost", "database server host (localhost: MySQL's default socket when -port is not given)")
	fs.IntVar(&p.Port, "port", 0, "database server port (default 5432 PostgreSQL, 3306 MySQL)")
	fs.StringVar(&p.Name, "name", "", "database name")
	fs.StringVar(&p.User, "user", "", "database user")
	fs.StringVar(&password, "password", "", "password (visible in ps: use -password-file)")
	fs.StringVar(&passwordFile, "password-file", "", "file holding the password")
	fs.StringVar(&p.TrustAnchor, "ca", "", "CA file or directory to verify the server (TLS)")
	fs.StringVar(&p.CertFile, "cert", "", "client certificate file (TLS)")
	fs.StringVar(&p.KeyFile, "key", "", "client key file (TLS)")
	timeout := fs.Duration("timeout", 2*time.Minute, "time limit for the whole command")
	if len(args) < 2 || strings.HasPrefix(args[1], "-") {
		if help, err := cli.Parse(fs, args[1:], stdout, stderr); help || err != nil {
			if err != nil {
				return &usageError{msg: err.Error()}
			}
			return nil
		}
		fs.Usage()
		return usagef("%s: name the backend: pgsql or mysql", cmd)
	}
	backend := args[1]
	if help, err := cli.Parse(fs, args[2:], stdout, stderr); help || err != nil {
		if err != nil {
			return &usageError{msg: err.Error()}
		}
		return nil
	}
	if fs.NArg() > 0 {
		return usagef("%s: unexpected %q", cmd, fs.Arg(0))
	}
	if p.Name == "" || p.User == "" {
		return usagef("%s: -name and -user are required", cmd)
	}
	switch {
	case passwordFile != "":
		b, err := os.ReadFile(passwordFile)
		if err != nil {
			return fmt.Errorf("password file: %w", err)
		}
		p.Password = strings.TrimRight(string(b), "\r\n")
	case password != "":
		p.Password = password
	default:
		p.Password = env.getenv("XDHCPCTL_DB_PASSWORD")
	}
	p.ConnectTimeout, p.MaxConns = 10*time.Second, 2
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	db, want, err := openDB(ctx, backend, p)
	if err != nil {
		return err
	}
	defer db.Close()
	where := fmt.Sprintf("%s database %s", backend, p.Name)
	if cmd == "db-version" {
		major, minor, err := db.SchemaVersion(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		_, err = fmt.Fprintf(stdout, "%d.%d\n", major, minor)
		return err
	}
	if err := db.InitSchema(ctx); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	_, err = fmt.Fprintf(stdout, "%s: schema %s created\n", where, want)
	return err
}

// openDB connects to the database of backend and returns the schema
// version db-init creates there.
func openDB(ctx context.Context, backend string, p sqllease.Params) (dbSession, string, error) {
	switch backend {
	case "pgsql", "postgresql":
		d, err := pgsql.Open(ctx, p)
		return d, fmt.Sprintf("%d.%d", pgsql.SchemaMajor, pgsql.SchemaMinor), err
	case "mysql":
		d, err := mysql.Open(ctx, p)
		return d, fmt.Sprintf("%d.%d", mysql.SchemaMajor, mysql.SchemaMinor), err
	}
	return nil, "", usagef("unknown backend %q: want pgsql or mysql", backend)
}
