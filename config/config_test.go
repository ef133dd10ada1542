package config

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// dhcp4 wraps the members of a Dhcp4 object into a whole document.
func dhcp4(body string) []byte {
	return []byte(`{"Dhcp4": {` + body + `}}`)
}

// mustParse parses data and fails the test on error.
func mustParse(t *testing.T, data []byte) *Config {
	t.Helper()
	c, err := Parse(data)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

func hasWarning(c *Config, substr string) bool {
	return slices.ContainsFunc(c.Warnings, func(w string) bool { return strings.Contains(w, substr) })
}

func TestKeaExamples(t *testing.T) {
	tests := []struct {
		file    string
		wantErr []string // substrings that must all appear in the error
		check   func(t *testing.T, c *Config)
	}{
		{file: "single-subnet.json", check: func(t *testing.T, c *Config) {
			if len(c.Subnets) != 1 || c.Subnets[0].ID != 1 || c.Subnets[0].Prefix != netip.MustParsePrefix("192.0.2.0/24") {
				t.Fatalf("subnets = %+v", c.Subnets)
			}
			s := c.Subnets[0]
			if s.Lifetimes != (Lifetimes{4000, 4000, 4000}) || s.Interface != "eth0" {
				t.Errorf("lifetimes %+v interface %q", s.Lifetimes, s.Interface)
			}
			if len(s.Pools) != 1 || s.Pools[0].First != netip.MustParseAddr("192.0.2.1") || s.Pools[0].Last != netip.MustParseAddr("192.0.2.200") {
				t.Errorf("pools %+v", s.Pools)
			}
			if len(c.Loggers) != 1 || c.Loggers[0].Name != "kea-dhcp4" || !slices.Equal(c.Loggers[0].Outputs, []string{"stdout"}) {
				t.Errorf("loggers %+v", c.Loggers)
			}
			if c.LeaseDatabase.LFCInterval != time.Hour || c.LeaseDatabase.Name != defaultLeaseFile {
				t.Errorf("lease db %+v", c.LeaseDatabase)
			}
			if len(c.Warnings) != 0 {
				t.Errorf("warnings %q", c.Warnings)
			}
		}},
		{file: "several-subnets.json", check: func(t *testing.T, c *Config) {
			for i, s := range c.Subnets {
				if s.ID != uint32(i+1) {
					t.Errorf("subnet %d id %d", i, s.ID)
				}
				if *s.Timers.RenewTimer != 1000 || *s.Timers.RebindTimer != 2000 {
					t.Errorf("timers %+v", s.Timers)
				}
			}
			if !hasWarning(c, "Dhcp4.subnet4[2]: no id given, assigned 3") {
				t.Errorf("warnings %q", c.Warnings)
			}
		}},
		{file: "multiple-options.json", check: func(t *testing.T, c *Config) {
			opts := c.Subnets[0].Options
			want := []Option{
				{Code: 6, Name: "domain-name-servers", Data: []byte{192, 0, 2, 1, 192, 0, 2, 2}},
				{Code: 3, Name: "routers", Data: []byte{192, 0, 2, 1}},
				{Code: 15, Name: "domain-name", Data: []byte("example.org")},
			}
			// Kea 2.2's example goes on with more options; the last is sent
			// always.
			if len(opts) != 8 || opts[7].Code != 60 || !opts[7].AlwaysSend {
				t.Fatalf("options %+v", opts)
			}
			for i := range want {
				if opts[i].Code != want[i].Code || opts[i].Name != want[i].Name || !bytes.Equal(opts[i].Data, want[i].Data) {
					t.Errorf("option %d = %+v, want %+v", i, opts[i], want[i])
				}
			}
		}},
		{file: "classify2.json", check: func(t *testing.T, c *Config) {
			if len(c.Classes) != 5 {
				t.Fatalf("classes %d", len(c.Classes))
			}
			if cl := c.Class("second_subnet"); cl == nil || !cl.OnlyIfRequired || cl.Test == nil || len(cl.Options) != 1 {
				t.Errorf("second_subnet = %+v", cl)
			}
			if cl := c.Class("VoIP"); cl == nil || cl.NextServer != netip.MustParseAddr("192.0.2.254") || cl.ServerHostname != "hal9000" || cl.BootFileName != "/dev/null" {
				t.Errorf("VoIP = %+v", cl)
			}
			s2 := c.SubnetByID(2)
			if s2 == nil || !slices.Equal(s2.RequireClientClasses, []string{"second_subnet"}) || len(s2.Reservations) != 1 ||
				!slices.Equal(s2.Reservations[0].ClientClasses, []string{"VoIP"}) || s2.Reservations[0].SubnetID != 2 {
				t.Errorf("subnet 2 = %+v", s2)
			}
			if s4 := c.SubnetByID(4); s4 == nil || s4.Pools[0].ClientClass != "UNKNOWN" || len(s4.Reservations) != 4 {
				t.Errorf("subnet 4 = %+v", s4)
			}
			if c.SubnetByID(1).ClientClass != "VoIP" {
				t.Errorf("subnet 1 class %q", c.SubnetByID(1).ClientClass)
			}
		}},
		// Kea 2.2 refuses this example too: "invalid host identifier value
		// 's0mEVaLue'" (a flex-id is hex or 'quoted text').
		{file: "reservations.json", wantErr: []string{`Dhcp4.subnet4[0].reservations[5].flex-id: "s0mEVaLue"`}},
		{file: "shared-network.json", check: func(t *testing.T, c *Config) {
			if len(c.SharedNetworks) != 1 || len(c.SharedNetworks[0].Subnets) != 2 || len(c.Subnets) != 3 {
				t.Fatalf("shared %+v subnets %d", c.SharedNetworks, len(c.Subnets))
			}
			s1 := c.SubnetByID(1)
			if s1.SharedNetwork != c.SharedNetworks[0] || s1.Interface != "eth1" || !s1.Authoritative || !s1.MatchClientID ||
				s1.Lifetimes.Valid != 30 || *s1.Timers.RenewTimer != 10 || len(s1.RelayAddrs) != 0 {
				t.Errorf("subnet 1 %+v", s1)
			}
			if s3 := c.SubnetByID(3); s3.SharedNetwork != nil || s3.Authoritative || s3.Interface != "eth0" || s3.Lifetimes.Valid != defaultValidLifetime {
				t.Errorf("subnet 3 %+v", s3)
			}
		}},
		{file: "ha-load-balancing-server1-mt-with-tls.json", check: func(t *testing.T, c *Config) {
			if len(c.Hooks) != 2 || filepath.Base(c.Hooks[1].Library) != "libdhcp_ha.so" {
				t.Fatalf("hooks %+v", c.Hooks)
			}
			var ha struct {
				HA []struct {
					ThisServer string `json:"this-server-name"`
					Mode       string `json:"mode"`
				} `json:"high-availability"`
			}
			if err := json.Unmarshal(c.Hooks[1].Parameters, &ha); err != nil || len(ha.HA) != 1 || ha.HA[0].ThisServer != "server1" || ha.HA[0].Mode != "load-balancing" {
				t.Errorf("HA parameters %s: %v", c.Hooks[1].Parameters, err)
			}
			if hasWarning(c, "hooks-libraries") {
				t.Errorf("known hooks warned: %q", c.Warnings)
			}
			if c.MultiThreading != (MultiThreading{Enable: true, ThreadPoolSize: 4, PacketQueueSize: 64}) {
				t.Errorf("mt %+v", c.MultiThreading)
			}
			if len(c.ControlSockets) != 1 || c.ControlSockets[0].Type != "unix" || c.ControlSockets[0].SocketName != "/tmp/kea4-ctrl-socket" {
				t.Errorf("control %+v", c.ControlSockets)
			}
			if s := c.Subnets[0]; len(s.Pools) != 4 || s.Pools[3].ClientClass != "laptops_server2" || !slices.Equal(s.RelayAddrs, []netip.Addr{netip.MustParseAddr("192.168.56.1")}) {
				t.Errorf("subnet %+v", s)
			}
			if len(c.Loggers) != 2 || c.Loggers[1].DebugLevel != 99 {
				t.Errorf("loggers %+v", c.Loggers)
			}
		}},
		{file: "advanced.json", check: func(t *testing.T, c *Config) {
			if c.DHCPSocketType != "udp" || c.EchoClientID || len(c.Subnets) != 4 || c.Subnets[1].MatchClientID || !c.Subnets[0].MatchClientID {
				t.Errorf("config %+v", c)
			}
		}},
		{file: "hooks.json", wantErr: []string{`Dhcp4.subnet4[0].pools[0].pool: "192.0.2.1 - 19.2.0.2.200": last address: not an IPv4 address`}},
		{file: "mysql-reservations.json", check: func(t *testing.T, c *Config) {
			// The host database is read with every parameter Kea's example sets.
			want := HostsDatabase{Type: "mysql", Name: "keatest", User: "keatest", Password: "keatest", Host: "localhost", Port: 3306,
				ConnectTimeout: 5 * time.Second, MaxReconnectTries: 3, ReconnectWaitTime: 3 * time.Second, OnFail: "stop-retry-exit",
				TrustAnchor: "my-ca", CertFile: "my-cert", KeyFile: "my-key", CipherList: "AES"}
			if len(c.HostsDatabases) != 1 || c.HostsDatabases[0] != want || len(c.Subnets) != 1 {
				t.Errorf("hosts databases %+v, subnets %d", c.HostsDatabases, len(c.Subnets))
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			c, err := Load(filepath.Join("testdata", "kea", tt.file))
			if tt.wantErr != nil {
				if err == nil {
					t.Fatal("no error")
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

// With its typo fixed, hooks.json parses and both unknown libraries are
// named in warnings.
func TestUnknownHooksWarned(t *testing.T) {
	data, err := os.ReadFile("testdata/kea/hooks.json")
	if err != nil {
		t.Fatal(err)
	}
	c := mustParse(t, bytes.Replace(data, []byte("19.2.0.2.200"), []byte("192.0.2.200"), 1))
	for _, w := range []string{
		"Dhcp4.hooks-libraries[0].library: /opt/lib/security.so: hook library not supported by xdhcp, ignored",
		"Dhcp4.hooks-libraries[1].library: /opt/lib/charging.so: hook library not supported by xdhcp, ignored",
	} {
		if !hasWarning(c, w) {
			t.Errorf("missing %q in %q", w, c.Warnings)
		}
	}
	if len(c.Hooks) != 2 {
		t.Errorf("hooks %+v", c.Hooks)
	}
}

func TestDefault(t *testing.T) {
	c := mustParse(t, Default())
	if len(c.Warnings) != 0 {
		t.Errorf("warnings %q", c.Warnings)
	}
	s := c.SubnetByID(1)
	if s == nil || s.Prefix != netip.MustParsePrefix("10.77.0.0/16") || s.Lifetimes.Valid != 3600 || s.CacheThreshold == nil || *s.CacheThreshold != 0.25 {
		t.Fatalf("subnet %+v", s)
	}
	if len(s.Reservations) != 2 || !slices.Equal(s.Reservations[1].ClientClasses, []string{"DROP"}) || s.Reservations[0].Hostname != "reserved-host" {
		t.Errorf("reservations %+v", s.Reservations)
	}
	if c.Class("DROP") == nil || c.Class("pxe") == nil || c.Class("pxe").Test == nil || c.Class("pxe").BootFileName == "" {
		t.Errorf("classes %+v", c.Classes)
	}
	if c.LeaseDatabase.Name != "/var/lib/xdhcp/leases4.csv" || !c.MultiThreading.Enable {
		t.Errorf("lease db %+v mt %+v", c.LeaseDatabase, c.MultiThreading)
	}
	if len(c.ControlSockets) != 1 || c.ControlSockets[0].Type != "unix" || c.ControlSockets[0].SocketName != "/run/xdhcp/xdhcp4-ctrl-socket" {
		t.Errorf("control %+v", c.ControlSockets)
	}
	if c.XDHCP.XDP.Mode != "auto" || c.XDHCP.Durability != "fsync" || c.XDHCP.CommitBatch != 1024 {
		t.Errorf("xdhcp %+v", c.XDHCP)
	}
	// Default returns a copy.
	d := Default()
	d[0] = 'X'
	if Default()[0] == 'X' {
		t.Error("Default shares its buffer")
	}
}

func TestGlobalDefaults(t *testing.T) {
	c := mustParse(t, dhcp4(`"subnet4": [{"id": 5, "subnet": "10.0.0.0/24"}]`))
	s := c.Subnets[0]
	if s.Lifetimes != (Lifetimes{7200, 7200, 7200}) || !s.MatchClientID || s.Authoritative || s.Timers.CalculateTeeTimes ||
		s.Timers.T1Percent != 0.5 || s.Timers.T2Percent != 0.875 || s.Timers.RenewTimer != nil || s.CacheThreshold != nil || s.CacheMaxAge != nil ||
		s.ReservationsGlobal || !s.ReservationsInSubnet || s.ReservationsOutOfPool {
		t.Errorf("subnet %+v", s)
	}
	if c.DeclineProbationPeriod != 86400*time.Second || c.ParkedPacketLimit != 256 || c.StatisticDefaultSampleCount != 20 ||
		!c.IPReservationsUnique || !c.EchoClientID || c.DHCPSocketType != "raw" {
		t.Errorf("globals %+v", c)
	}
	if c.LeaseDatabase != (LeaseDatabase{Type: "memfile", Persist: true, Name: "/var/lib/kea/kea-leases4.csv", LFCInterval: time.Hour, OnFail: "stop-retry-exit"}) {
		t.Errorf("lease db %+v", c.LeaseDatabase)
	}
	if c.MultiThreading != (MultiThreading{Enable: true, PacketQueueSize: 64}) {
		t.Errorf("mt %+v", c.MultiThreading)
	}
	if c.ExpiredLeases.ReclaimTimerWaitTime != 10*time.Second || c.ExpiredLeases.MaxReclaimTime != 250*time.Millisecond || c.ExpiredLeases.MaxReclaimLeases != 100 {
		t.Errorf("expired %+v", c.ExpiredLeases)
	}
	x := c.XDHCP
	if x.XDP.Mode != "auto" || x.XDP.BPFFS != "/sys/fs/bpf/xdhcp" || x.OverloadHigh != 0.75 || x.OverloadLow != 0.25 || x.Durability != "fsync" || x.CommitBatch != 1024 {
		t.Errorf("xdhcp %+v", x)
	}
	// Kea 2.2's multi-threading default (false) is accepted when explicit.
	c = mustParse(t, dhcp4(`"multi-threading": {"enable-multi-threading": false}`))
	if c.MultiThreading.Enable {
		t.Error("explicit false ignored")
	}
}
