package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// ParseDatabaseConnection reads a database's connection parameters from
// the JSON object raw, by the names of Kea's lease-database (name, host,
// port, user, password, the timeouts, TLS, max-reconnect-tries,
// reconnect-wait-time, retry-on-startup): what hooks libraries with a
// database output (the forensic log's "type": "mysql" or "postgresql")
// take beside their own parameters, which it leaves alone. path names
// raw in errors.
func ParseDatabaseConnection(path, typ string, raw json.RawMessage) (LeaseDatabase, error) {
	db := LeaseDatabase{Type: typ}
	if typ != "mysql" && typ != "postgresql" {
		return db, fmt.Errorf("%s: type %q is not a database (mysql or postgresql)", path, typ)
	}
	p := &parser{diag: &diag{}, defs: newDefTable(nil)}
	o := p.object(path, raw)
	if o == nil {
		return db, errors.Join(p.errs...)
	}
	p.databaseConnection(o, &db)
	db.MaxReconnectTries = intOr(p.integer(o, "max-reconnect-tries", 0, 1<<31-1), 0)
	if v := p.integer(o, "reconnect-wait-time", 0, 1<<31-1); v != nil {
		db.ReconnectWaitTime = time.Duration(*v) * time.Millisecond
	}
	db.Persist = false
	return db, errors.Join(p.errs...)
}
