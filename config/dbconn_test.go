package config

import (
	"encoding/json"
	"testing"
	"time"
)

func TestParseDatabaseConnection(t *testing.T) {
	db, err := ParseDatabaseConnection("legal", "postgresql", json.RawMessage(`{"type": "postgresql", "name": "kea", "host": "db1",
		"port": 5433, "user": "kea", "password": "secret", "connect-timeout": 5, "max-reconnect-tries": 3, "reconnect-wait-time": 2000,
		"path": "/ignored", "request-parser-format": "'x'"}`))
	if err != nil {
		t.Fatal(err)
	}
	if db.Name != "kea" || db.Host != "db1" || db.Port != 5433 || db.User != "kea" || db.Password != "secret" ||
		db.ConnectTimeout != 5*time.Second || db.MaxReconnectTries != 3 || db.ReconnectWaitTime != 2*time.Second {
		t.Errorf("parsed %+v", db)
	}
	for _, c := range []struct{ typ, js string }{
		{"postgresql", `{"host": "db1"}`},              // no name
		{"mysql", `{"name": "kea", "port": 70000}`},    // port out of range
		{"mysql", `{"name": "kea", "cert-file": "c"}`}, // cert without key
		{"logfile", `{"name": "kea"}`},
		{"mysql", `[]`},
	} {
		if _, err := ParseDatabaseConnection("legal", c.typ, json.RawMessage(c.js)); err == nil {
			t.Errorf("%s %s accepted", c.typ, c.js)
		}
	}
}
