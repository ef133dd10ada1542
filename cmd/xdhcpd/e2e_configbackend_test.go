package main

// The configuration backend: xdhcpd reads its subnets and global
// parameters from Kea 2.2's configuration tables (config-control), the
// remote-* commands write them, and the change reaches the servers that
// poll the database: xdhcpd itself within config-fetch-wait-time, and
// kea-dhcp4 2.2 with Kea's own reader (libdhcp_mysql_cb/libdhcp_pgsql_cb)
// on the same database, each serving a real client from the new subnet.

import (
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
	dbcfg, _ := e.databaseIn(srv, db)
	cc := map[string]any{"config-databases": []any{dbcfg}, "config-fetch-wait-time": 1}

	// The file has no subnet: everything served comes from the database.
	cfg := e.baseConfig()
	delete(dhcp4(cfg), "subnet4")
	dhcp4(cfg)["server-tag"] = "box-b"
	dhcp4(cfg)["config-control"] = cc
	d := e.startDaemon(cfg)
	if ack := unanswered(t, e, "02:cb:00:00:00:01"); ack != nil {
		t.Fatalf("served %s before any subnet was configured", ack.YourIPAddr)
	}

	d.ok("remote-server4-set", map[string]any{"servers": []any{map[string]any{"server-tag": "box-b", "description": "the lab's server"}}}, nil)
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
	d.ok("remote-global-parameter4-set", map[string]any{"server-tags": []any{"box-b"}, "parameters": map[string]any{"valid-lifetime": 1234}}, nil)
	d.ok("remote-class4-set", map[string]any{"server-tags": []any{"all"}, "client-classes": []any{map[string]any{
		"name": "cb-class", "test": "substring(pkt4.mac, 0, 1) == 0x02", "boot-file-name": "/cb.efi"}}}, nil)
	if a := d.command("remote-subnet4-set", map[string]any{"server-tags": []any{"nosuch"}, "subnets": []any{map[string]any{"id": 2, "subnet": "10.99.0.0/24"}}}); a.Result != 1 {
		t.Errorf("a subnet for a server that does not exist: %+v", a)
	}
	var got struct {
		Subnets []map[string]any `json:"subnets"`
		Count   int              `json:"count"`
	}
	d.ok("remote-subnet4-get-by-id", map[string]any{"subnets": []any{map[string]any{"id": 1}}}, &got)
	if got.Count != 1 || got.Subnets[0]["subnet"] != "10.88.0.0/16" {
		t.Errorf("remote-subnet4-get-by-id: %+v", got)
	}

	// The poll (every second) brings the subnet and the lifetime.
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
		t.Fatalf("xdhcpd did not serve from the subnet set with remote-subnet4-set\n%s", d.Log())
	}

	// A subnet deleted with a remote command stops being served.
	d.ok("remote-subnet4-del-by-id", map[string]any{"subnets": []any{map[string]any{"id": 1}}}, nil)
	gone := false
	for end := time.Now().Add(6 * time.Second); time.Now().Before(end) && !gone; {
		time.Sleep(500 * time.Millisecond)
		var c map[string]any
		d.ok("config-get", nil, &c)
		gone = c["Dhcp4"].(map[string]any)["subnet4"] == nil
	}
	if !gone {
		t.Errorf("subnet 1 still configured after remote-subnet4-del-by-id")
	}
	// Back for Kea.
	d.ok("remote-subnet4-set", map[string]any{"server-tags": []any{"all"}, "subnets": []any{map[string]any{
		"id": 1, "subnet": "10.88.0.0/16",
		"pools":       []any{map[string]any{"pool": e2ePoolStart + " - " + e2ePoolEnd}},
		"option-data": []any{map[string]any{"name": "routers", "data": e2eServerIP}},
	}}}, nil)
	if err := d.Stop(); err != nil {
		t.Fatalf("xdhcpd stop: %v", err)
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
	case a.IPAddressLeaseTime(0) != 1234*time.Second:
		t.Errorf("Kea: lease time %v, want the 1234s xdhcpd wrote", a.IPAddressLeaseTime(0))
	}
	var kc map[string]any
	daemontest.OK(t, k, "config-get", nil, &kc)
	classes, _ := kc["Dhcp4"].(map[string]any)["client-classes"].([]any)
	if len(classes) != 1 || classes[0].(map[string]any)["name"] != "cb-class" {
		t.Errorf("Kea's classes from the database: %v", classes)
	}
	k.stop()
}
