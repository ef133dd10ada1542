package main

// The configuration backend: xdhcpd reads its subnets and global
// parameters from Kea 2.2's configuration tables (config-control), the
// remote-* commands sent to one xdhcpd (A, which serves no interface)
// write them, and the change reaches the servers that poll the database:
// a second xdhcpd (B, serving the lab) within config-fetch-wait-time, and
// kea-dhcp4 2.2 with Kea's own reader (libdhcp_mysql_cb/libdhcp_pgsql_cb)
// on the same database, each serving a real client from the new subnet.

import (
	"fmt"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"path/filepath"
	"testing"
	"time"

	"xdhcp/internal/daemontest"
	"xdhcp/internal/dbtest"
)

func TestE2EConfigBackend(t *testing.T) {
	forDatabases(t, testConfigBackend)
}

func testConfigBackend(t *testing.T, srv *dbtest.Server) {
	db := srv.NewDB(t)
	e := newEnv(t)
	e.mode = "off"
	dbcfg, fw := e.databaseIn(srv, db)
	cc := map[string]any{"config-databases": []any{dbcfg}, "config-fetch-wait-time": 1}

	// The file has no subnet: everything served comes from the database.
	cfg := e.baseConfig()
	delete(dhcp4(cfg), "subnet4")
	dhcp4(cfg)["server-tag"] = "box-b"
	dhcp4(cfg)["config-control"] = cc
	d := e.startDaemon(cfg)

	// A: the box the operator sends the commands to.
	acfg := e.baseConfig()
	a4 := dhcp4(acfg)
	delete(a4, "subnet4")
	a4["server-tag"] = "box-a"
	a4["config-control"] = cc
	a4["interfaces-config"] = map[string]any{"interfaces": []any{}}
	a4["lease-database"] = map[string]any{"type": "memfile", "persist": false}
	a4["control-sockets"] = []any{map[string]any{"socket-type": "http", "socket-address": "127.0.0.1", "socket-port": 8001}}
	cmdA := &e2eDaemon{e: e, Daemon: daemontest.New(t, daemontest.Options{
		NS: e.srv, Binary: xdhcpd.Path(t), Config: e.writeConfig("xdhcpd-a.json", acfg),
		Log: filepath.Join(e.dir, "xdhcpd-a.log"), ControlURL: "http://127.0.0.1:8001/", ReadyOnControl: true,
	})}
	cmdA.Start()
	b := d
	d = cmdA

	if ack := unanswered(t, e, "02:cb:00:00:00:01"); ack != nil {
		t.Fatalf("served %s before any subnet was configured", ack.YourIPAddr)
	}

	d.ok("remote-server4-set", map[string]any{"servers": []any{map[string]any{"server-tag": "box-b", "description": "the lab's server"}}}, nil)
	d.ok("remote-global-parameter4-set", map[string]any{"server-tags": []any{"box-b"}, "parameters": map[string]any{"valid-lifetime": 1234}}, nil)
	var set struct {
		Subnets []map[string]any `json:"subnets"`
	}
	d.ok("remote-subnet4-set", map[string]any{"server-tags": []any{"all"}, "subnets": []any{map[string]any{
		"id": 1, "subnet": "10.88.0.0/16",
		"pools":       []any{map[string]any{"pool": e2ePoolStart + " - " + e2ePoolEnd}},
		"option-data": []any{map[string]any{"name": "routers", "data": e2eServerIP}, map[string]any{"name": "domain-name-servers", "data": "10.88.0.53"}},
	}}}, &set)
	if len(set.Subnets) != 1 || set.Subnets[0]["subnet"] != "10.88.0.0/16" {
		t.Errorf("remote-subnet4-set answered %v", set.Subnets)
	}
	d.ok("remote-class4-set", map[string]any{"server-tags": []any{"all"}, "client-classes": []any{map[string]any{
		"name": "cb-class", "test": "substring(pkt4.mac, 0, 1) == 0x02", "boot-file-name": "/cb.efi"}}}, nil)
	d.ok("remote-option-def4-set", map[string]any{"server-tags": []any{"all"}, "option-defs": []any{map[string]any{
		"name": "cb-note", "code": 222, "space": "dhcp4", "type": "record", "record-types": "uint8, string"}}}, nil)
	if a := d.command("remote-subnet4-set", map[string]any{"server-tags": []any{"nosuch"}, "subnets": []any{map[string]any{"id": 2, "subnet": "10.99.0.0/24"}}}); a.Result != 1 {
		t.Errorf("a subnet for a server that does not exist: %+v", a)
	}
	d.ok("remote-option4-global-set", map[string]any{"server-tags": []any{"all"}, "options": []any{map[string]any{
		"name": "domain-name", "data": "cb.example"}}}, nil)
	d.ok("remote-network4-set", map[string]any{"server-tags": []any{"all"}, "shared-networks": []any{map[string]any{
		"name": "cb-net", "interface": e2eServerIf}}}, nil)
	var list struct {
		Subnets  []map[string]any `json:"subnets"`
		Networks []map[string]any `json:"shared-networks"`
		Params   map[string]any   `json:"parameters"`
		Classes  []map[string]any `json:"client-classes"`
		Count    int              `json:"count"`
	}
	if a := d.ok("remote-subnet4-list", map[string]any{"server-tags": []any{"all"}}, &list); a.Text != "1 IPv4 subnet(s) found." ||
		list.Count != 1 || list.Subnets[0]["subnet"] != "10.88.0.0/16" {
		t.Errorf("remote-subnet4-list: %q %+v", a.Text, list)
	}
	if d.ok("remote-network4-list", map[string]any{"server-tags": []any{"all"}}, &list); list.Count != 1 || list.Networks[0]["name"] != "cb-net" {
		t.Errorf("remote-network4-list: %+v", list)
	}
	if d.ok("remote-global-parameter4-get", map[string]any{"server-tags": []any{"box-b"}, "parameters": []any{"valid-lifetime"}}, &list); fmtAny(list.Params["valid-lifetime"]) != "1234" {
		t.Errorf("remote-global-parameter4-get: %+v", list.Params)
	}
	if d.ok("remote-class4-get", map[string]any{"client-classes": []any{map[string]any{"name": "cb-class"}}}, &list); list.Count != 1 || list.Classes[0]["boot-file-name"] != "/cb.efi" {
		t.Errorf("remote-class4-get: %+v", list.Classes)
	}
	if a := d.command("remote-server4-get", map[string]any{"servers": []any{map[string]any{"server-tag": "nosuch"}}}); a.Result != 3 {
		t.Errorf("remote-server4-get of an unknown server: %+v", a)
	}
	d.ok("remote-network4-del", map[string]any{"shared-networks": []any{map[string]any{"name": "cb-net"}}}, nil)
	// A subnet the servers would refuse is refused by the command, as
	// Kea's commands parse what they store: in the database it would
	// block every later change.
	if a := d.command("remote-subnet4-set", map[string]any{"server-tags": []any{"all"}, "subnets": []any{map[string]any{
		"id": 3, "subnet": "10.77.0.0/24", "pools": []any{map[string]any{"pool": "10.78.0.1 - 10.78.0.9"}}}}}); a.Result != 1 {
		t.Errorf("a subnet with a pool outside it: %+v", a)
	}
	if a := d.command("remote-subnet4-get-by-id", map[string]any{"subnets": []any{map[string]any{"id": 3}}}); a.Result != 3 {
		t.Errorf("the refused subnet was stored: %+v", a)
	}
	var got struct {
		Subnets []map[string]any `json:"subnets"`
		Count   int              `json:"count"`
	}
	d.ok("remote-subnet4-get-by-id", map[string]any{"subnets": []any{map[string]any{"id": 1}}}, &got)
	if got.Count != 1 || got.Subnets[0]["subnet"] != "10.88.0.0/16" {
		t.Errorf("remote-subnet4-get-by-id: %+v", got)
	}

	// B's poll (every second) brings the subnet and the lifetime.
	deadline := time.Now().Add(6 * time.Second)
	served := false
	for time.Now().Before(deadline) && !served {
		if a := hostsDORA(t, e, "02:cb:00:00:00:02"); a != nil {
			served = true
			if lt := a.IPAddressLeaseTime(0); lt != 1234*time.Second {
				t.Errorf("xdhcpd: lease time %v, want the database's 1234s", lt)
			}
		}
	}
	if !served {
		t.Fatalf("xdhcpd B did not serve from the subnet set with remote-subnet4-set on A\n%s", b.Log())
	}

	// The database unreachable: the poll fails, is counted, and B keeps
	// serving its last good configuration.
	fw.Cut()
	errs0 := b.stat("xdhcp-config-backend-fetch-errors")
	waitFor(t, 6*time.Second, "a failed poll counted", func() bool { return b.stat("xdhcp-config-backend-fetch-errors") > errs0 })
	if b.stat("xdhcp-config-backend-failed") != 1 {
		t.Errorf("xdhcp-config-backend-failed is not 1 while the database is away")
	}
	if hostsDORA(t, e, "02:cb:00:00:00:04") == nil {
		t.Errorf("B stopped serving while its configuration database was away")
	}
	fw.Mend()

	// A row no valid configuration can hold (a pool outside its subnet,
	// written by SQL): the change is refused and counted, B keeps the
	// lifetime it had, and a corrected subnet is applied.
	bad := "UPDATE dhcp4_pool SET start_address = INET_ATON('10.99.0.1'), end_address = INET_ATON('10.99.0.9')"
	if srv.Kind == dbtest.Postgres {
		bad = "UPDATE dhcp4_pool SET start_address = '10.99.0.1', end_address = '10.99.0.9'"
	}
	if out, err := db.Exec(bad); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	errs1 := b.stat("xdhcp-config-backend-fetch-errors")
	d.ok("remote-global-parameter4-set", map[string]any{"server-tags": []any{"box-b"}, "parameters": map[string]any{"valid-lifetime": 999}}, nil)
	waitFor(t, 6*time.Second, "the invalid configuration refused and counted", func() bool { return b.stat("xdhcp-config-backend-fetch-errors") > errs1 })
	if a := hostsDORA(t, e, "02:cb:00:00:00:05"); a == nil || a.IPAddressLeaseTime(0) != 1234*time.Second {
		t.Errorf("B after a bad row: want the last good configuration (lease time 1234s), got %v (lease time %v)\n%s", a, leaseTimeOf(a), b.Log())
	}

	// A subnet deleted with a remote command stops being served.
	d.ok("remote-subnet4-del-by-id", map[string]any{"subnets": []any{map[string]any{"id": 1}}}, nil)
	gone := false
	for end := time.Now().Add(6 * time.Second); time.Now().Before(end) && !gone; {
		time.Sleep(500 * time.Millisecond)
		var c map[string]any
		b.ok("config-get", nil, &c)
		gone = c["Dhcp4"].(map[string]any)["subnet4"] == nil
	}
	if !gone {
		t.Errorf("subnet 1 still configured on B after remote-subnet4-del-by-id on A")
	}
	// Back for Kea.
	d.ok("remote-subnet4-set", map[string]any{"server-tags": []any{"all"}, "subnets": []any{map[string]any{
		"id": 1, "subnet": "10.88.0.0/16",
		"pools":       []any{map[string]any{"pool": e2ePoolStart + " - " + e2ePoolEnd}},
		"option-data": []any{map[string]any{"name": "routers", "data": e2eServerIP}},
	}}}, nil)
	// config-backend-pull applies it at once.
	b.ok("config-backend-pull", nil, nil)
	waitFor(t, 6*time.Second, "B serving again after the subnet was set back", func() bool { return hostsDORA(t, e, "02:cb:00:00:00:06") != nil })
	if err := b.Stop(); err != nil {
		t.Fatalf("xdhcpd B stop: %v", err)
	}

	// Kea 2.2 with its own configuration backend reader serves what
	// xdhcpd wrote: the subnet and the server's valid-lifetime.
	bin := needBinary(t, "kea-dhcp4")
	lib := keaHooksDir + "/libdhcp_mysql_cb.so"
	if srv.Kind == dbtest.Postgres {
		lib = keaHooksDir + "/libdhcp_pgsql_cb.so"
	}
	k := &kea{e: e, sock: filepath.Join(e.dir, "kea-cb.sock")}
	kcfg := e.keaConfig()
	k4 := dhcp4(kcfg)
	delete(k4, "subnet4")
	delete(k4, "control-sockets")
	k4["interfaces-config"] = map[string]any{"interfaces": []any{e2eServerIf}, "dhcp-socket-type": "raw"}
	k4["lease-database"] = map[string]any{"type": "memfile", "persist": false}
	k4["control-socket"] = map[string]any{"socket-type": "unix", "socket-name": k.sock}
	k4["server-tag"] = "box-b"
	k4["config-control"] = cc
	k4["hooks-libraries"] = []any{map[string]any{"library": lib}}
	k.Process = daemontest.NewProcess(t, daemontest.ProcessOptions{
		Name: "kea-dhcp4-cb", NS: e.srv,
		Args: []string{bin, "-c", e.writeConfig("kea-cb.json", kcfg)},
		Env:  []string{"KEA_PIDFILE_DIR=" + e.dir, "KEA_LOCKFILE_DIR=" + e.dir},
		Log:  filepath.Join(e.dir, "kea-dhcp4-cb.log"),
	})
	k.Launch()
	k.WaitUntil(20*time.Second, "started", func() error { return answers(k, "version-get") })
	a := hostsDORA(t, e, "02:cb:00:00:00:03")
	switch {
	case a == nil:
		t.Errorf("Kea 2.2 did not serve from the subnet xdhcpd wrote\n%s", k.Log())
	case a.IPAddressLeaseTime(0) != 999*time.Second:
		t.Errorf("Kea: lease time %v, want the 999s xdhcpd wrote", a.IPAddressLeaseTime(0))
	}
	var kc map[string]any
	daemontest.OK(t, k, "config-get", nil, &kc)
	classes, _ := kc["Dhcp4"].(map[string]any)["client-classes"].([]any)
	if len(classes) != 1 || classes[0].(map[string]any)["name"] != "cb-class" {
		t.Errorf("Kea's classes from the database: %v", classes)
	}
	opts, _ := kc["Dhcp4"].(map[string]any)["option-data"].([]any)
	if len(opts) != 1 || opts[0].(map[string]any)["data"] != "cb.example" {
		t.Errorf("Kea's global options from the database: %v", opts)
	}
	defs, _ := kc["Dhcp4"].(map[string]any)["option-def"].([]any)
	if len(defs) != 1 || defs[0].(map[string]any)["type"] != "record" || defs[0].(map[string]any)["record-types"] != "uint8, string" {
		t.Errorf("Kea's option definitions from the database: %v", defs)
	}
	k.stop()
}

// waitFor polls cond every 200 ms until it holds or limit passes.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(limit); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func leaseTimeOf(a *dhcpv4.DHCPv4) time.Duration {
	if a == nil {
		return 0
	}
	return a.IPAddressLeaseTime(0)
}

func fmtAny(v any) string { return fmt.Sprint(v) }
