package config

import (
	"strings"
	"testing"
	"time"
)

// TestLeaseDatabaseOnFail parses the lease backend's fault policy keys
// with Kea's names; they are no longer "not supported".
func TestLeaseDatabaseOnFail(t *testing.T) {
	c := mustParse(t, dhcp4(`"lease-database": {"type": "memfile", "name": "/tmp/l.csv",
		"on-fail": "serve-retry-continue", "max-reconnect-tries": 7, "reconnect-wait-time": 1500}`))
	db := c.LeaseDatabase
	if db.OnFail != "serve-retry-continue" || db.MaxReconnectTries != 7 || db.ReconnectWaitTime != 1500*time.Millisecond {
		t.Errorf("lease db %+v", db)
	}
	for _, w := range c.Warnings {
		if strings.Contains(w, "reconnect") {
			t.Errorf("warning for a supported key: %s", w)
		}
	}
	d := mustParse(t, dhcp4(`"lease-database": {"type": "memfile"}`)).LeaseDatabase
	if d.OnFail != "stop-retry-exit" || d.MaxReconnectTries != 0 || d.ReconnectWaitTime != 0 {
		t.Errorf("defaults %+v", d)
	}
	for _, c := range []struct{ body, want string }{
		{`"on-fail": "retry"`, `Dhcp4.lease-database.on-fail`},
		{`"max-reconnect-tries": -1`, `Dhcp4.lease-database.max-reconnect-tries: -1 is out of range`},
		{`"reconnect-wait-time": "1s"`, `Dhcp4.lease-database.reconnect-wait-time: expected an integer`},
	} {
		_, err := Parse(dhcp4(`"lease-database": {"type": "memfile", ` + c.body + `}`))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.body, err, c.want)
		}
	}
}

// TestLeaseDatabaseConnection parses a database lease-database with every
// parameter Kea 2.2 takes for it; the memfile keys are accepted and do not
// apply.
func TestLeaseDatabaseConnection(t *testing.T) {
	c := mustParse(t, dhcp4(`"lease-database": {"type": "postgresql", "name": "kea", "host": "db.example",
		"port": 5433, "user": "kea", "password": "secret", "connect-timeout": 7, "trust-anchor": "/etc/ca.pem",
		"cert-file": "/etc/c.pem", "key-file": "/etc/k.pem", "cipher-list": "ECDHE-RSA-AES128-GCM-SHA256",
		"max-reconnect-tries": 5, "reconnect-wait-time": 2000, "on-fail": "serve-retry-exit", "lfc-interval": 10}`))
	want := LeaseDatabase{Type: "postgresql", Persist: true, Name: "kea", Host: "db.example", Port: 5433, User: "kea",
		Password: "secret", ConnectTimeout: 7 * time.Second, TrustAnchor: "/etc/ca.pem", CertFile: "/etc/c.pem",
		KeyFile: "/etc/k.pem", CipherList: "ECDHE-RSA-AES128-GCM-SHA256", MaxReconnectTries: 5,
		ReconnectWaitTime: 2 * time.Second, OnFail: "serve-retry-exit"}
	if c.LeaseDatabase != want {
		t.Errorf("lease db\n%+v\nwant\n%+v", c.LeaseDatabase, want)
	}
	for _, w := range c.Warnings {
		if strings.Contains(w, "lease-database") {
			t.Errorf("warning: %s", w)
		}
	}
	d := mustParse(t, dhcp4(`"lease-database": {"type": "mysql", "name": "kea"}`)).LeaseDatabase
	if d.Host != "localhost" || d.Port != 0 || d.OnFail != "stop-retry-exit" {
		t.Errorf("defaults %+v", d)
	}
	// Later Kea versions' read-, write- and tcp-user-timeout and
	// retry-on-startup (Kea 2.2 refuses them) are taken, in seconds.
	e := mustParse(t, dhcp4(`"lease-database": {"type": "mysql", "name": "kea", "read-timeout": 3, "write-timeout": 4,
		"tcp-user-timeout": 5, "retry-on-startup": true}`)).LeaseDatabase
	if e.ReadTimeout != 3*time.Second || e.WriteTimeout != 4*time.Second || e.TCPUserTimeout != 5*time.Second || !e.RetryOnStartup {
		t.Errorf("timeouts %+v", e)
	}
	if _, err := Parse(dhcp4(`"lease-database": {"type": "mysql", "name": "kea", "read-timeout": -1}`)); err == nil {
		t.Error("a negative read-timeout was accepted")
	}
}

// A Dhcp6 lease-database may be a database too, with the same
// parameters.
func TestLeaseDatabase6(t *testing.T) {
	c := mustParse6(t, `{"Dhcp6": {"lease-database": {"type": "mysql", "name": "kea6", "user": "kea",
		"password": "pw", "on-fail": "serve-retry-continue", "max-reconnect-tries": 3, "reconnect-wait-time": 500}}}`)
	want := LeaseDatabase{Type: "mysql", Persist: true, Name: "kea6", Host: "localhost", User: "kea", Password: "pw",
		OnFail: "serve-retry-continue", MaxReconnectTries: 3, ReconnectWaitTime: 500 * time.Millisecond,
		ConnectTimeout: c.LeaseDatabase.ConnectTimeout, LFCInterval: c.LeaseDatabase.LFCInterval}
	if c.LeaseDatabase != want {
		t.Errorf("Dhcp6 lease db\n%+v\nwant\n%+v", c.LeaseDatabase, want)
	}
	if _, err := Parse([]byte(`{"Dhcp6": {"lease-database": {"type": "postgresql"}}}`)); err == nil ||
		!strings.Contains(err.Error(), "needs the database name") {
		t.Errorf("postgresql without a name: %v", err)
	}
}
