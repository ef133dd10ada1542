package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const minimalHA = `{"high-availability": [{
  "this-server-name": "server1", "mode": "hot-standby",
  "peers": [
    {"name": "server1", "url": "http://127.0.0.1:8001/", "role": "primary"},
    {"name": "server2", "url": "http://[::1]:8002/", "role": "standby", "auto-failover": false},
    {"name": "server3", "url": "http://127.0.0.3:8003/", "role": "backup"}
  ]}]}`

func TestParseHADefaults(t *testing.T) {
	c, err := ParseHA([]byte(minimalHA), 4)
	if err != nil {
		t.Fatal(err)
	}
	r := c.Relationships[0]
	checks := []struct {
		name string
		got  any
		want any
	}{
		{"heartbeat-delay", r.HeartbeatDelay, 10 * time.Second},
		{"max-response-delay", r.MaxResponseDelay, 60 * time.Second},
		{"max-ack-delay", r.MaxAckDelay, 10 * time.Second},
		{"max-unacked-clients", r.MaxUnackedClients, 10},
		{"max-rejected-lease-updates", r.MaxRejectedLeaseUpdates, 10},
		{"delayed-updates-limit (hot-standby)", r.DelayedUpdatesLimit, 0},
		{"sync-timeout", r.SyncTimeout, 60 * time.Second},
		{"sync-page-limit", r.SyncPageLimit, 10000},
		{"send-lease-updates", r.SendLeaseUpdates, true},
		{"sync-leases", r.SyncLeases, true},
		{"wait-backup-ack", r.WaitBackupAck, false},
		{"require-client-certs", r.RequireClientCerts, true},
		{"http-client-threads (0 → DHCP threads)", r.MultiThreading.HTTPClientThreads, 4},
		{"auto-failover default", r.This().AutoFailover, true},
		{"auto-failover set", r.Peers[1].AutoFailover, false},
		{"partner", r.Partner().Name, "server2"},
		{"IPv6 peer addr", r.Peers[1].Addr(), "[::1]:8002"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	lb := strings.Replace(strings.Replace(minimalHA, "hot-standby", "load-balancing", 1), `"standby"`, `"secondary"`, 1)
	c, err = ParseHA([]byte(lb), 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Relationships[0].DelayedUpdatesLimit; got != 100 {
		t.Errorf("delayed-updates-limit in load-balancing = %d, want 100", got)
	}
}

func TestParseHAErrors(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	peers := `"peers": [{"name": "a", "url": "http://127.0.0.1:1/", "role": "primary"}, {"name": "b", "url": "http://127.0.0.2:1/", "role": "standby"}]`
	tests := []struct {
		name, body, want string
	}{
		{"no mode", `{"this-server-name": "a", ` + peers + `}`, "mode: missing"},
		{"bad mode", `{"this-server-name": "a", "mode": "active", ` + peers + `}`, `unsupported value "active"`},
		{"unknown server", `{"this-server-name": "z", "mode": "hot-standby", ` + peers + `}`, `"z" is not the name of any peer`},
		{"host name url", `{"this-server-name": "a", "mode": "hot-standby", "peers": [{"name": "a", "url": "http://server-a:1/", "role": "primary"}, {"name": "b", "url": "http://127.0.0.2:1/", "role": "standby"}]}`, "not an IPv4 or IPv6 address literal"},
		{"https without tls", `{"this-server-name": "a", "mode": "hot-standby", "peers": [{"name": "a", "url": "https://127.0.0.1:1/", "role": "primary"}, {"name": "b", "url": "http://127.0.0.2:1/", "role": "standby"}]}`, "https requires"},
		{"partial tls", `{"this-server-name": "a", "mode": "hot-standby", "cert-file": "/x", ` + peers + `}`, "all together"},
		{"lb with standby", `{"this-server-name": "a", "mode": "load-balancing", ` + peers + `}`, "load-balancing needs"},
		{"wait-backup-ack outside passive-backup", `{"this-server-name": "a", "mode": "hot-standby", "wait-backup-ack": true, ` + peers + `}`, "only in passive-backup"},
		{"delayed updates in hot-standby", `{"this-server-name": "a", "mode": "hot-standby", "delayed-updates-limit": 5, ` + peers + `}`, "only in load-balancing"},
		{"page limit 0", `{"this-server-name": "a", "mode": "hot-standby", "sync-page-limit": 0, ` + peers + `}`, "out of range"},
		{"unknown key", `{"this-server-name": "a", "mode": "hot-standby", "heartbeat-dealy": 5, ` + peers + `}`, "heartbeat-dealy: unknown parameter"},
		{"negative delay", `{"this-server-name": "a", "mode": "hot-standby", "heartbeat-delay": -1, ` + peers + `}`, "out of range"},
		{"bad pause", `{"this-server-name": "a", "mode": "hot-standby", "state-machine": {"states": [{"state": "waiting", "pause": "sometimes"}]}, ` + peers + `}`, `"sometimes"`},
		{"duplicate names", `{"this-server-name": "a", "mode": "hot-standby", "peers": [{"name": "a", "url": "http://127.0.0.1:1/", "role": "primary"}, {"name": "a", "url": "http://127.0.0.2:1/", "role": "standby"}]}`, "used twice"},
		{"password and file", `{"this-server-name": "a", "mode": "hot-standby", "peers": [{"name": "a", "url": "http://127.0.0.1:1/", "role": "primary"}, {"name": "b", "url": "http://127.0.0.2:1/", "role": "standby", "basic-auth-user": "u", "basic-auth-password": "p", "basic-auth-password-file": "` + pw + `"}]}`, "mutually exclusive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseHA([]byte(`{"high-availability": [`+tt.body+`]}`), 1)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if !strings.Contains(err.Error(), "high-availability[0]") {
				t.Errorf("error %q does not name its JSON path", err)
			}
		})
	}
	// The password file is read (and its newline dropped).
	c, err := ParseHA([]byte(`{"high-availability": [{"this-server-name": "a", "mode": "hot-standby", "peers": [{"name": "a", "url": "http://127.0.0.1:1/", "role": "primary"}, {"name": "b", "url": "http://127.0.0.2:1/", "role": "standby", "basic-auth-user": "u", "basic-auth-password-file": "`+pw+`"}]}]}`), 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Relationships[0].Peers[1].BasicAuthPassword; got != "s3cret" {
		t.Errorf("password from file = %q", got)
	}
}

func TestHAHubAndSpoke(t *testing.T) {
	doc := `{"Dhcp4": {
  "lease-database": {"type": "memfile", "persist": false},
  "subnet4": [
    {"id": 1, "subnet": "192.0.2.0/24", "user-context": {"ha-server-name": "p1"}},
    {"id": 2, "subnet": "198.51.100.0/24", "user-context": {"ha-server-name": "p2"}},
    {"id": 3, "subnet": "203.0.113.0/24"}
  ],
  "hooks-libraries": [
    {"library": "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_lease_cmds.so"},
    {"library": "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_ha.so", "parameters": {"high-availability": [
      {"this-server-name": "hub", "mode": "hot-standby", "peers": [
        {"name": "p1", "url": "http://127.0.0.1:8001/", "role": "primary"},
        {"name": "hub", "url": "http://127.0.0.3:8003/", "role": "standby"}]},
      {"this-server-name": "hub", "mode": "hot-standby", "peers": [
        {"name": "p2", "url": "http://127.0.0.2:8002/", "role": "primary"},
        {"name": "hub", "url": "http://127.0.0.3:8003/", "role": "standby"}]}
    ]}}
  ]
}}`
	cfg, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.HA
	if len(c.Relationships) != 2 {
		t.Fatalf("%d relationships", len(c.Relationships))
	}
	if got := c.Relationships[0].Subnets; len(got) != 1 || got[0] != 1 {
		t.Errorf("relationship p1 subnets = %v", got)
	}
	if got := c.Relationships[1].Subnets; len(got) != 1 || got[0] != 2 {
		t.Errorf("relationship p2 subnets = %v", got)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "subnet 3") {
		t.Errorf("warnings = %v", c.Warnings)
	}
	none, err := Parse([]byte(`{"Dhcp4": {"lease-database": {"type": "memfile", "persist": false}}}`))
	if err != nil || none.HA != nil {
		t.Errorf("no hook: %v, %v", none.HA, err)
	}
	// A subnet naming no peer is an error at load time, with its path.
	bad := strings.Replace(doc, `"ha-server-name": "p2"`, `"ha-server-name": "p9"`, 1)
	if _, err := Parse([]byte(bad)); err == nil || !strings.Contains(err.Error(),
		`Dhcp4.hooks-libraries[1].parameters.high-availability: subnet 2: ha-server-name "p9" names no relationship's peer`) {
		t.Errorf("unknown ha-server-name: %v", err)
	}
}

// HA errors are configuration errors: Parse (and so xdhcpd -t) reports
// them with their JSON path, unknown keys included.
func TestParseReportsHAErrors(t *testing.T) {
	doc := `{"Dhcp4": {
  "lease-database": {"type": "memfile", "persist": false},
  "hooks-libraries": [{"library": "/usr/lib/kea/hooks/libdhcp_ha.so", "parameters": {"high-availability": [
    {"this-server-name": "a", "mode": "hot-standby", "heartbeat-dealy": 5, "peers": [
      {"name": "a", "url": "http://127.0.0.1:8001/", "role": "primary"},
      {"name": "b", "url": "http://server-b:8001/", "role": "standby"}]}]}}]
}}`
	_, err := Parse([]byte(doc))
	for _, want := range []string{
		"Dhcp4.hooks-libraries[0].parameters.high-availability[0].heartbeat-dealy: unknown parameter",
		`Dhcp4.hooks-libraries[0].parameters.high-availability[0].peers[1].url: host "server-b" is not an IPv4 or IPv6 address literal`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to contain %q", err, want)
		}
	}
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Errorf("HA error %v is not a *FieldError", err)
	}
	twice := strings.Replace(doc, `"hooks-libraries": [`, `"hooks-libraries": [{"library": "libdhcp_ha.so", "parameters": {"high-availability": []}}, `, 1)
	if _, err := Parse([]byte(twice)); err == nil || !strings.Contains(err.Error(), "Dhcp4.hooks-libraries[0].parameters.high-availability: empty list") ||
		!strings.Contains(err.Error(), "Dhcp4.hooks-libraries[1].library: libdhcp_ha.so configured twice") {
		t.Errorf("second HA hook: %v", err)
	}
}

func FuzzParseHA(f *testing.F) {
	f.Add([]byte(minimalHA))
	f.Add([]byte(`{"high-availability": [{"mode": "load-balancing", "peers": [{}]}]}`))
	f.Add([]byte(`{"high-availability": [{"state-machine": {"states": [{"state": "waiting"}]}}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseHA(b, 1)
		if err == nil {
			for _, r := range c.Relationships {
				if r.This() == nil {
					t.Fatal("accepted a relationship without this server")
				}
			}
		}
	})
}
