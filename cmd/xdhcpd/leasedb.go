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

// openDatabaseStore opens a postgresql or mysql lease-database. It
// returns the store and the reader the lease commands use (the database
// itself, whichever server wrote a lease).
func openDatabaseStore(ctx context.Context, cfg *config.Config, records memfile.RecordLog, onFault func(lease.FaultEvent),
	log *slog.Logger) (leaseStore, lease.Reader, error) {
	db := cfg.LeaseDatabase
	p := sqllease.Params{Host: db.Host, Port: db.Port, Name: db.Name, User: db.User, Password: db.Password,
		ConnectTimeout: db.ConnectTimeout, ReadTimeout: db.ReadTimeout, WriteTimeout: db.WriteTimeout,
		TCPUserTimeout: db.TCPUserTimeout, TrustAnchor: db.TrustAnchor, CertFile: db.CertFile, KeyFile: db.KeyFile,
		CipherList: db.CipherList, MaxConns: sqllease.DefaultWriters + 2, Lazy: db.RetryOnStartup}
	if p.ConnectTimeout == 0 {
		p.ConnectTimeout = dbConnectTimeout
	}
	octx, cancel := context.WithTimeout(ctx, p.ConnectTimeout+30*time.Second)
	defer cancel()
	var d sqllease.Dialect
	var err error
	switch db.Type {
	case "postgresql":
		d, err = pgsql.Open(octx, p)
	case "mysql":
		d, err = mysql.Open(octx, p)
	default:
		return nil, nil, fmt.Errorf("lease-database type %q", db.Type)
	}
	if err != nil {
		return nil, nil, err
	}
	port := ""
	if db.Port != 0 {
		port = strconv.Itoa(db.Port)
	}
	where := db.Type + " " + db.Host
	if port != "" {
		where = db.Type + " " + net.JoinHostPort(db.Host, port)
	}
	where += "/" + db.Name
	s, err := sqllease.Open(octx, sqllease.Options{
		Dialect:        d,
		Where:          where,
		RetryWait:      db.ReconnectWaitTime,
		RetryLimit:     db.MaxReconnectTries,
		OpTimeout:      opTimeout(db),
		RetryOnStartup: db.RetryOnStartup,
		OnFault:        onFault,
		Records:        records,
		Logger:         log,
	})
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
