package main

// Host reservations in a database: PostgreSQL and MariaDB servers started
// for the tests (internal/dbtest, Kea's schema from kea-admin), xdhcpd with
// a hosts-database on one, real DHCP clients in a lab, and kea-dhcp4 2.2
// on the same database.

import (
	"context"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"maps"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"

	"xdhcp/internal/daemontest"
	"xdhcp/internal/dbtest"
)

// hexSQL is SQL for the bytes of hex in the database's dialect.
func hexSQL(kind dbtest.Kind, hex string) string {
	if kind == dbtest.Postgres {
		return "decode('" + hex + "', 'hex')"
	}
	return "UNHEX('" + hex + "')"
}

// hostsDORA runs DORA for mac and returns the ACK (nil when no server
// answered within a few seconds).
func hostsDORA(t *testing.T, e *e2eEnv, mac string) *dhcpv4.DHCPv4 {
	t.Helper()
	return doraWithin(t, e, mac, 4*time.Second)
}

// unanswered sends one exchange for mac that is expected to get no answer,
// and returns the ACK if one came all the same.
func unanswered(t *testing.T, e *e2eEnv, mac string) *dhcpv4.DHCPv4 {
	t.Helper()
	return doraWithin(t, e, mac, 1500*time.Millisecond)
}

func doraWithin(t *testing.T, e *e2eEnv, mac string, limit time.Duration) *dhcpv4.DHCPv4 {
	t.Helper()
	hw, _ := net.ParseMAC(mac)
	c := daemontest.NClient(t, e.cli, e2eClientIf, hw, nclient4.WithRetry(2))
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	l, err := c.Request(ctx, dhcpv4.WithRequestedOptions(dhcpv4.OptionDomainNameServer))
	if err != nil {
		return nil
	}
	return l.ACK
}

// expectLease checks the ACK mac gets: address ip and, when dns is not
// empty, that name server.
func expectLease(t *testing.T, who string, ack *dhcpv4.DHCPv4, ip, dns string) {
	t.Helper()
	switch {
	case ack == nil:
		t.Errorf("%s: no lease", who)
	case ack.YourIPAddr.String() != ip:
		t.Errorf("%s: leased %s, want the reserved %s", who, ack.YourIPAddr, ip)
	case dns != "" && (len(ack.DNS()) != 1 || ack.DNS()[0].String() != dns):
		t.Errorf("%s: name servers %v, want the reservation's %s", who, ack.DNS(), dns)
	}
}

func TestE2EHostsDatabase(t *testing.T) {
	forDatabases(t, testHostsDatabase)
}

func testHostsDatabase(t *testing.T, srv *dbtest.Server) {
	keaBin, keaErr := exec.LookPath("kea-dhcp4")
	db := srv.NewDB(t)
	e := newEnv(t)
	e.mode = "off"
	// The database as processes in the lab reach it: a forwarder on the
	// namespace's loopback, which the test can cut.
	dbcfg, fw := e.databaseIn(srv, db)
	hostsDBConfig := func(dbtest.DB) map[string]any { return maps.Clone(dbcfg) }
	cfg := e.baseConfig()
	d := e.startDaemon(cfg)

	// Without a hosts-database, reservation-add fails as in Kea 2.2; a
	// reload that adds one opens it.
	if a := d.command("reservation-add", map[string]any{"reservation": map[string]any{
		"subnet-id": 1, "hw-address": "02:dd:00:00:00:02", "ip-address": "10.88.6.6"}}); a.Result != 1 || a.Text != "Host database not available, cannot add host." {
		t.Errorf("reservation-add without a hosts-database: %+v", a)
	}
	dhcp4(cfg)["hosts-database"] = hostsDBConfig(db)
	e.writeConfig("xdhcpd.json", cfg)
	d.ok("config-reload", nil, nil)

	// A provisioning system writes a reservation with SQL while xdhcpd
	// runs: the next DISCOVER gets it, with its option, no reload.
	if out, err := db.Exec(`INSERT INTO hosts (dhcp_identifier, dhcp_identifier_type, dhcp4_subnet_id, ipv4_address, hostname)
 VALUES (` + hexSQL(srv.Kind, "02dd00000001") + `, 0, 1, 173540613, 'sql-host');
INSERT INTO dhcp4_options (code, formatted_value, space, persistent, host_id, scope_id)
 SELECT 6, '10.88.0.53', 'dhcp4', false, host_id, 3 FROM hosts;`); err != nil {
		t.Fatalf("SQL insert: %v %s", err, out)
	}
	expectLease(t, "xdhcpd, host written by SQL", hostsDORA(t, e, "02:dd:00:00:00:01"), "10.88.5.5", "10.88.0.53")

	// reservation-add, then a client gets the reserved address.
	add := func(mac, ip string) {
		d.ok("reservation-add", map[string]any{"reservation": map[string]any{
			"subnet-id": 1, "hw-address": mac, "ip-address": ip, "hostname": "Added-" + ip,
			"option-data": []any{map[string]any{"name": "domain-name-servers", "data": "10.88.0.54"}},
		}}, nil)
	}
	add("02:dd:00:00:00:02", "10.88.6.6")
	add("02:dd:00:00:00:04", "10.88.6.8") // for Kea, below
	expectLease(t, "xdhcpd, host added by command", hostsDORA(t, e, "02:dd:00:00:00:02"), "10.88.6.6", "10.88.0.54")
	if a := d.command("reservation-add", map[string]any{"reservation": map[string]any{
		"subnet-id": 1, "hw-address": "02:dd:00:00:00:09", "ip-address": "10.88.6.6"}}); a.Result != 1 {
		t.Errorf("a second reservation of 10.88.6.6: %+v", a)
	}
	if a := d.command("reservation-add", map[string]any{"reservation": map[string]any{
		"subnet-id": 1, "hw-address": "02:dd:00:00:00:09", "ip-address": "10.99.0.1"}}); a.Result != 1 ||
		a.Text != "specified reservation '10.99.0.1' is not matching the IPv4 subnet prefix '10.88.0.0/16'" {
		t.Errorf("an address outside the subnet: %+v", a)
	}

	// The reads.
	var got map[string]any
	a := d.ok("reservation-get", map[string]any{"subnet-id": 1, "identifier-type": "hw-address", "identifier": "02:dd:00:00:00:02"}, &got)
	if a.Text != "Host found." || got["ip-address"] != "10.88.6.6" || got["hostname"] != "Added-10.88.6.6" {
		t.Errorf("reservation-get: %q %v", a.Text, got)
	}
	var hosts struct {
		Hosts []map[string]any `json:"hosts"`
		Count int              `json:"count"`
		Next  map[string]any   `json:"next"`
	}
	d.ok("reservation-get-by-hostname", map[string]any{"hostname": "SQL-HOST"}, &hosts)
	if len(hosts.Hosts) != 1 || hosts.Hosts[0]["ip-address"] != "10.88.5.5" {
		t.Errorf("reservation-get-by-hostname: %+v", hosts)
	}
	d.ok("reservation-get-all", map[string]any{"subnet-id": 1}, &hosts)
	if len(hosts.Hosts) != 3 {
		t.Errorf("reservation-get-all: %d hosts", len(hosts.Hosts))
	}
	d.ok("reservation-get-page", map[string]any{"limit": 2}, &hosts)
	if hosts.Count != 2 || hosts.Next["source-index"] != 1.0 {
		t.Errorf("reservation-get-page: %+v", hosts)
	}
	d.ok("reservation-get-page", map[string]any{"limit": 2, "source-index": 1, "from": hosts.Next["from"]}, &hosts)
	if hosts.Count != 1 {
		t.Errorf("reservation-get-page, second page: %+v", hosts)
	}
	d.ok("reservation-get-by-id", map[string]any{"identifier-type": "hw-address", "identifier": "02:dd:00:00:00:04"}, &hosts)
	if len(hosts.Hosts) != 1 || hosts.Hosts[0]["subnet-id"] != 1.0 {
		t.Errorf("reservation-get-by-id: %+v", hosts)
	}
	if a := d.ok("reservation-del", map[string]any{"subnet-id": 1, "ip-address": "10.88.6.6"}, nil); a.Text != "Host deleted." {
		t.Errorf("reservation-del: %+v", a)
	}
	if a := d.command("reservation-get", map[string]any{"subnet-id": 1, "ip-address": "10.88.6.6"}); a.Text != "Host not found." {
		t.Errorf("after reservation-del: %+v", a)
	}
	if out, _ := db.Exec("SELECT COUNT(*) FROM hosts"); strings.TrimSpace(out) != "2" {
		t.Errorf("hosts rows: %s", out)
	}

	// Kea 2.2 on the same database serves the host xdhcpd added and the
	// one written by SQL exactly as xdhcpd did.
	if err := d.Stop(); err != nil {
		t.Fatalf("xdhcpd stop: %v", err)
	}
	if keaErr != nil {
		t.Logf("kea-dhcp4 is not installed, the comparison with Kea is skipped: %v", keaErr)
	} else {
		k := &kea{e: e, sock: filepath.Join(e.dir, "kea.sock")}
		kcfg := e.keaConfig()
		dhcp4(kcfg)["interfaces-config"] = map[string]any{"interfaces": []any{e2eServerIf}, "dhcp-socket-type": "raw"}
		dhcp4(kcfg)["lease-database"] = map[string]any{"type": "memfile", "persist": false}
		dhcp4(kcfg)["hosts-database"] = hostsDBConfig(db)
		delete(dhcp4(kcfg), "control-sockets")
		dhcp4(kcfg)["control-socket"] = map[string]any{"socket-type": "unix", "socket-name": k.sock}
		k.Process = daemontest.NewProcess(t, daemontest.ProcessOptions{
			Name: "kea-dhcp4", NS: e.srv,
			Args: []string{keaBin, "-c", e.writeConfig("kea-hostsdb.json", kcfg)},
			Env:  []string{"KEA_PIDFILE_DIR=" + e.dir, "KEA_LOCKFILE_DIR=" + e.dir},
			Log:  filepath.Join(e.dir, "kea-dhcp4.log"),
		})
		k.Launch()
		k.WaitUntil(15*time.Second, "started", func() error { return answers(k, "version-get") })
		expectLease(t, "Kea, host added by xdhcpd", hostsDORA(t, e, "02:dd:00:00:00:04"), "10.88.6.8", "10.88.0.54")
		expectLease(t, "Kea, host written by SQL", hostsDORA(t, e, "02:dd:00:00:00:01"), "10.88.5.5", "10.88.0.53")
		k.stop()
	}

	// The database goes away under xdhcpd with on-fail serve-retry-continue:
	// a client needing a lookup is dropped and counted, the daemon keeps
	// answering commands, and serves reservations again once the database
	// is back.
	hdb := hostsDBConfig(db)
	hdb["on-fail"], hdb["max-reconnect-tries"], hdb["reconnect-wait-time"] = "serve-retry-continue", 100, 100
	dhcp4(cfg)["hosts-database"] = hdb
	e.writeConfig("xdhcpd.json", cfg)
	d.Restart()
	expectLease(t, "xdhcpd after restart", hostsDORA(t, e, "02:dd:00:00:00:04"), "10.88.6.8", "10.88.0.54")
	fw.Cut()
	before := d.stat("pkt4-receive-drop")
	if ack := unanswered(t, e, "02:dd:00:00:00:05"); ack != nil {
		t.Errorf("with the host database down a client got %s", ack.YourIPAddr)
	}
	if n := d.stat("xdhcp-host-lookup-errors"); n == 0 || d.stat("pkt4-receive-drop") <= before || d.stat("xdhcp-host-database-connection-lost") != 1 {
		t.Errorf("host lookup errors %d, connection losses %d, drops %d (before %d)", n,
			d.stat("xdhcp-host-database-connection-lost"), d.stat("pkt4-receive-drop"), before)
	}
	fw.Mend()
	expectLease(t, "xdhcpd once the database is back", hostsDORA(t, e, "02:dd:00:00:00:01"), "10.88.5.5", "10.88.0.53")

	// stop-retry-exit with reconnection: DHCP is disabled (origin
	// hosts-database) while the database is away, and enabled again once
	// a retry reaches it.
	hdb["on-fail"] = "stop-retry-exit"
	e.writeConfig("xdhcpd.json", cfg)
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	d.Restart()
	fw.Cut()
	unanswered(t, e, "02:dd:00:00:00:07")
	dhcpState := func() (bool, []any) {
		var st struct {
			State struct {
				Enabled    bool  `json:"enabled"`
				DisabledBy []any `json:"disabled-by"`
			} `json:"dhcp-state"`
		}
		d.ok("status-get", nil, &st)
		return st.State.Enabled, st.State.DisabledBy
	}
	if on, by := dhcpState(); on || len(by) != 1 || by[0] != "hosts-database" {
		t.Errorf("database away under stop-retry-exit: enabled %v, disabled by %v", on, by)
	}
	fw.Mend()
	deadline := time.Now().Add(5 * time.Second)
	for on, _ := dhcpState(); !on && time.Now().Before(deadline); on, _ = dhcpState() {
		time.Sleep(50 * time.Millisecond)
	}
	expectLease(t, "xdhcpd after the database came back (stop-retry-exit)", hostsDORA(t, e, "02:dd:00:00:00:01"), "10.88.5.5", "10.88.0.53")

	// With Kea's defaults (no reconnection, stop-retry-exit) a lost
	// connection stops the daemon, as it stops Kea 2.2.
	dhcp4(cfg)["hosts-database"] = hostsDBConfig(db)
	e.writeConfig("xdhcpd.json", cfg)
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	fw.Mend()
	d.Restart()
	fw.Cut()
	unanswered(t, e, "02:dd:00:00:00:06")
	if err := d.Wait(10 * time.Second); err == nil || !strings.Contains(d.Log(), "reconnection is disabled") {
		t.Errorf("xdhcpd with the host database lost: exit %v", err)
	}
}
