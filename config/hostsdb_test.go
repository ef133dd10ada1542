package config

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestHostsDatabases(t *testing.T) {
	c := mustParse(t, dhcp4(`"hosts-databases": [
		{"type": "postgresql", "name": "a", "host": "/run/pg", "user": "u", "password": "p", "readonly": true},
		{"type": "mysql", "name": "b", "port": 3307, "connect-timeout": 9, "reconnect-wait-time": 500, "max-reconnect-tries": 4, "on-fail": "serve-retry-continue"}]`))
	want := []HostsDatabase{
		{Type: "postgresql", Name: "a", Host: "/run/pg", User: "u", Password: "p", ReadOnly: true, ConnectTimeout: 5 * time.Second, OnFail: "stop-retry-exit"},
		{Type: "mysql", Name: "b", Host: "localhost", Port: 3307, ConnectTimeout: 9 * time.Second, ReconnectWaitTime: 500 * time.Millisecond,
			MaxReconnectTries: 4, OnFail: "serve-retry-continue"},
	}
	if len(c.HostsDatabases) != 2 || c.HostsDatabases[0] != want[0] || c.HostsDatabases[1] != want[1] {
		t.Errorf("got %+v", c.HostsDatabases)
	}
	for _, tc := range []struct{ body, want string }{
		{`"hosts-database": {"type": "memfile", "name": "x"}`, `Dhcp4.hosts-database.type: "memfile": host reservations are kept in "mysql" or "postgresql"`},
		{`"hosts-database": {"type": "mysql"}`, `Dhcp4.hosts-database.name: missing`},
		{`"hosts-database": {"type": "mysql", "name": "x", "lfc-interval": 5}`, `Dhcp4.hosts-database.lfc-interval: applies to the memfile lease database`},
		{`"hosts-database": {"type": "mysql", "name": "x"}, "hosts-databases": []`, `Dhcp4.hosts-databases: hosts-database and hosts-databases cannot both be set`},
	} {
		_, err := Parse(dhcp4(tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.body, err, tc.want)
		}
	}
}

// A reservation a command carries is parsed with the configuration's own
// option definitions; a database's option rows are encoded by them.
func TestHostReservationAndOptions(t *testing.T) {
	c := mustParse(t, dhcp4(`"option-def": [{"name": "motd", "code": 224, "type": "string"}],
		"subnet4": [{"id": 1, "subnet": "192.0.2.0/24"}]`))
	r, uctx, err := c.ParseHostReservation([]byte(`{"subnet-id": 1, "flex-id": "'abc'", "ip-address": "192.0.2.9",
		"option-data": [{"name": "motd", "data": "hi"}], "user-context": {"k": 1}}`))
	if err != nil || r.SubnetID != 1 || string(r.FlexID) != "abc" || len(r.Options) != 1 || string(r.Options[0].Data) != "hi" || string(uctx) != `{"k": 1}` {
		t.Fatalf("%+v %s %v", r, uctx, err)
	}
	for _, bad := range []string{`{"hw-address": "01:02:03:04:05:06"}`, `{"subnet-id": -1, "hw-address": "01"}`,
		`{"subnet-id": 1, "hw-address": "01", "ip-addresses": ["2001:db8::1"]}`, `{"subnet-id": 1}`, `[1]`} {
		if _, _, err := c.ParseHostReservation([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	o, err := c.HostOption("dhcp4", 6, "192.0.2.1, 192.0.2.2", nil, true)
	if err != nil || !bytes.Equal(o.Data, []byte{192, 0, 2, 1, 192, 0, 2, 2}) || !o.AlwaysSend || o.Name != "domain-name-servers" {
		t.Errorf("formatted: %+v %v", o, err)
	}
	if o, err := c.HostOption("", 224, "", []byte("raw"), false); err != nil || string(o.Data) != "raw" {
		t.Errorf("binary: %+v %v", o, err)
	}
	if o, err := c.HostOption("vendor-4491", 2, "", []byte{1}, false); err != nil || !o.VendorSpace || o.Vendor != 4491 || o.OptionSpace() != "vendor-4491" {
		t.Errorf("vendor: %+v %v", o, err)
	}
	for _, bad := range [][2]string{{"dhcp4", "x"}, {"my-space", ""}} {
		code := uint8(250)
		if _, err := c.HostOption(bad[0], code, bad[1], []byte{1}, false); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// FuzzHostOption feeds the option rows of a host database (written by
// anyone with SQL access) through the decoder: an option or an error,
// never a panic.
func FuzzHostOption(f *testing.F) {
	c, err := Parse(dhcp4(`"option-def": [{"name": "rec", "code": 224, "type": "record", "record-types": "uint8,ipv4-address,string"}]`))
	if err != nil {
		f.Fatal(err)
	}
	f.Add("dhcp4", uint8(6), "192.0.2.1,192.0.2.2", []byte(nil))
	f.Add("dhcp4", uint8(224), "7, 10.0.0.1, text\\, more", []byte(nil))
	f.Add("vendor-4491", uint8(2), "", []byte{1, 2, 3})
	f.Add("", uint8(121), "", []byte{24, 10, 0, 0, 10, 0, 0, 1})
	f.Fuzz(func(t *testing.T, space string, code uint8, formatted string, value []byte) {
		o, err := c.HostOption(space, code, formatted, value, false)
		if err == nil && o.Code != code {
			t.Fatalf("option %d came back as %d", code, o.Code)
		}
	})
}
