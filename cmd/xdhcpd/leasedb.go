package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"xdhcp/config"
	"xdhcp/lease"
	"xdhcp/lease/memfile"
	"xdhcp/lease/mysql"
	"xdhcp/lease/pgsql"
	"xdhcp/lease/sqllease"
)

// leaseStore is what the daemon holds of its lease store.
type leaseStore interface {
	lease.Store
	Close() error
}

// dbConnectTimeout bounds connecting when connect-timeout is not given.
const dbConnectTimeout = 10 * time.Second

// leaseStore6 is what the daemon holds of its DHCPv6 lease store.
type leaseStore6 interface {
	lease.Store6
	Close() error
}

// dbParams are a lease-database's connection parameters.
func dbParams(db config.LeaseDatabase) sqllease.Params {
	p := sqllease.Params{Host: db.Host, Port: db.Port, Name: db.Name, User: db.User, Password: db.Password,
		ConnectTimeout: db.ConnectTimeout, ReadTimeout: db.ReadTimeout, WriteTimeout: db.WriteTimeout,
		TCPUserTimeout: db.TCPUserTimeout, TrustAnchor: db.TrustAnchor, CertFile: db.CertFile, KeyFile: db.KeyFile,
		CipherList: db.CipherList, MaxConns: sqllease.DefaultWriters + 2, Lazy: db.RetryOnStartup}
	if p.ConnectTimeout == 0 {
		p.ConnectTimeout = dbConnectTimeout
	}
	return p
}

// dbWhere names a lease-database in logs ("postgresql 127.0.0.1:5432/kea").
func dbWhere(db config.LeaseDatabase) string {
	where := db.Type + " " + db.Host
	if db.Port != 0 {
		where = db.Type + " " + net.JoinHostPort(db.Host, strconv.Itoa(db.Port))
	}
	return where + "/" + db.Name
}

// sqlDialect is a lease database's connection pool: both dialects serve
// the lease4 and the lease6 table.
type sqlDialect interface {
	sqllease.Dialect
	sqllease.Dialect6
}

// openDialect connects to the lease-database db within ctx.
func openDialect(ctx context.Context, db config.LeaseDatabase) (sqlDialect, error) {
	switch db.Type {
	case "postgresql":
		return pgsql.Open(ctx, dbParams(db))
	case "mysql":
		return mysql.Open(ctx, dbParams(db))
	}
	return nil, fmt.Errorf("lease-database type %q", db.Type)
}

// storeOptions are a database store's options for db.
func storeOptions(db config.LeaseDatabase, onFault func(lease.FaultEvent), log *slog.Logger) sqllease.Options {
	return sqllease.Options{Where: dbWhere(db), RetryWait: db.ReconnectWaitTime, RetryLimit: db.MaxReconnectTries,
		OpTimeout: opTimeout(db), RetryOnStartup: db.RetryOnStartup, OnFault: onFault, Logger: log}
}

// openDatabaseStore6 opens a postgresql or mysql Dhcp6 lease-database (Kea's
// lease6 table). It returns the store and the reader of the lease6
// commands, as openDatabaseStore does.
func openDatabaseStore6(ctx context.Context, db config.LeaseDatabase, records memfile.RecordLog, onFault func(lease.FaultEvent),
	log *slog.Logger) (leaseStore6, lease.Reader6, error) {
	octx, cancel := context.WithTimeout(ctx, dbParams(db).ConnectTimeout+30*time.Second)
	defer cancel()
	d, err := openDialect(octx, db)
	if err != nil {
		return nil, nil, err
	}
	opts := storeOptions(db, onFault, log)
	opts.Records = records
	s, err := sqllease.Open6(octx, d, opts)
	if err != nil {
		d.Close()
		return nil, nil, err
	}
	return s, s.Database6(), nil
}

// openDatabaseStore opens a postgresql or mysql lease-database. It
// returns the store and the reader the lease commands use (the database
// itself, whichever server wrote a lease).
func openDatabaseStore(ctx context.Context, cfg *config.Config, records memfile.RecordLog, onFault func(lease.FaultEvent),
	log *slog.Logger) (leaseStore, lease.Reader, error) {
	db := cfg.LeaseDatabase
	octx, cancel := context.WithTimeout(ctx, dbParams(db).ConnectTimeout+30*time.Second)
	defer cancel()
	d, err := openDialect(octx, db)
	if err != nil {
		return nil, nil, err
	}
	opts := storeOptions(db, onFault, log)
	opts.Dialect, opts.Records = d, records
	s, err := sqllease.Open(octx, opts)
	if err != nil {
		d.Close()
		return nil, nil, err
	}
	return s, s.Database(), nil
}

// opTimeout bounds one operation on the database: on PostgreSQL, whose
// driver has no read or write timeout of its own, read-timeout plus
// write-timeout (a transaction is pipelined: it writes, then reads its
// outcome); MySQL's driver bounds each read and write itself, and the
// store keeps its default.
func opTimeout(db config.LeaseDatabase) time.Duration {
	if db.Type == "postgresql" {
		return db.ReadTimeout + db.WriteTimeout
	}
	return 0
}
