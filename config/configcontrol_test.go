package config

import (
	"strings"
	"testing"
	"time"
)

func TestConfigControl(t *testing.T) {
	c, err := Parse([]byte(`{"Dhcp4": {"server-tag": "a", "config-control": {"config-fetch-wait-time": 7,
		"config-databases": [{"type": "mysql", "name": "kea", "host": "db", "user": "u", "password": "p"}]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	cc := c.ConfigControl
	if cc == nil || cc.FetchWait != 7*time.Second || len(cc.Databases) != 1 || cc.Databases[0].Host != "db" || cc.Databases[0].Type != "mysql" {
		t.Fatalf("config-control: %+v", cc)
	}
	c, err = Parse([]byte(`{"Dhcp4": {"config-control": {"config-databases": [{"type": "postgresql", "name": "a"}, {"type": "mysql", "name": "b"}]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.ConfigControl.FetchWait != 30*time.Second {
		t.Errorf("default config-fetch-wait-time %v, want Kea's 30 s", c.ConfigControl.FetchWait)
	}
	if !strings.Contains(strings.Join(c.Warnings, "\n"), "only the first configuration database is read") {
		t.Errorf("no warning for a second configuration database: %v", c.Warnings)
	}
	// The Dhcp6 section has its own, with its own server tag.
	c, err = Parse([]byte(`{"Dhcp6": {"server-tag": "b", "config-control": {"config-fetch-wait-time": 3,
		"config-databases": [{"type": "postgresql", "name": "kea6"}]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if cc := c.Dhcp6.ConfigControl; cc == nil || cc.FetchWait != 3*time.Second || cc.Databases[0].Name != "kea6" || c.Dhcp6.ServerTag != "b" || c.ConfigControl != nil {
		t.Errorf("Dhcp6 config-control: %+v (Dhcp4's %+v)", cc, c.ConfigControl)
	}
	// Refused as in a host database: no type, memfile, a bad wait.
	for _, bad := range []string{
		`{"config-databases": [{"name": "a"}]}`,
		`{"config-databases": [{"type": "memfile", "name": "a"}]}`,
		`{"config-databases": [{"type": "mysql", "name": "a"}], "config-fetch-wait-time": -1}`,
	} {
		if _, err := Parse([]byte(`{"Dhcp4": {"config-control": ` + bad + `}}`)); err == nil {
			t.Errorf("accepted config-control %s", bad)
		}
	}
}
