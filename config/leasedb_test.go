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
