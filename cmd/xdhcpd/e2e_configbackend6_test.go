package main

// The configuration backend for DHCPv6: the Dhcp6 section's config-control
// reads Kea 2.2's dhcp6_* tables. The remote-*6 commands sent to xdhcpd
// write a subnet with an address pool and a prefix delegation pool; the
// poll applies it and a real DHCPv6 client (dhclient -6) gets an address
// and a prefix from it; kea-dhcp6 2.2 with Kea's own reader
// (libdhcp_mysql_cb/libdhcp_pgsql_cb) reads the same subnet.

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"xdhcp/internal/daemontest"
	"xdhcp/internal/dbtest"
)

func TestE2EConfigBackend6(t *testing.T) {
	forDatabases(t, testConfigBackend6)
}

func testConfigBackend6(t *testing.T, srv *dbtest.Server) {
	db := srv.NewDB(t)
	e := newV6Env(t)
	dbcfg, _ := e.databaseIn(srv, db)
	cc := map[string]any{"config-databases": []any{dbcfg}, "config-fetch-wait-time": 1}

	// The file has no subnet: what is served comes from the database.
	sec := e.dhcp6Section()
	delete(sec, "subnet6")
	sec["server-tag"] = "box6"
	sec["config-control"] = cc
	ctlPath := filepath.Join(e.dir, "ctl6.sock")
	p := daemontest.NewProcess(t, daemontest.ProcessOptions{Name: "xdhcpd", NS: e.srv,
		Args: []string{xdhcpd.Path(t), "-c", e.writeConfig("xdhcpd6.json", map[string]any{"Dhcp6": sec})},
		Log:  filepath.Join(e.dir, "xdhcpd.log")})
	p.Launch()
	c6 := daemontest.NewUnixControl(ctlPath, 5*time.Second)
	p.WaitUntil(15*time.Second, "control socket", func() error { _, err := c6.Try("version-get", nil); return err })

	daemontest.OK(t, c6, "remote-server6-set", map[string]any{"servers": []any{map[string]any{"server-tag": "box6"}}}, nil)
	daemontest.OK(t, c6, "remote-global-parameter6-set", map[string]any{"server-tags": []any{"box6"},
		"parameters": map[string]any{"preferred-lifetime": 2345}}, nil)
	subnet := map[string]any{
		"id": 1, "subnet": "2001:db8:1::/64", "interface": e2eServerIf,
		"pools":    []any{map[string]any{"pool": "2001:db8:1::100 - 2001:db8:1::1ff"}},
		"pd-pools": []any{map[string]any{"prefix": "2001:db8:100::", "prefix-len": 40, "delegated-len": 56}},
	}
	daemontest.OK(t, c6, "remote-subnet6-set", map[string]any{"server-tags": []any{"all"}, "subnets": []any{subnet}}, nil)
	if a := daemontest.Command(t, c6, "remote-subnet6-set", map[string]any{"server-tags": []any{"all"},
		"subnets": []any{map[string]any{"id": 2, "subnet": "10.2.0.0/24"}}}); a.Result != 1 {
		t.Errorf("an IPv4 subnet through remote-subnet6-set: %+v", a)
	}
	daemontest.OK(t, c6, "remote-option6-pd-pool-set", map[string]any{"pd-pools": []any{map[string]any{"prefix": "2001:db8:100::", "prefix-len": 40}},
		"options": []any{map[string]any{"name": "dns-servers", "data": "2001:db8::53"}}}, nil)
	var list struct {
		Subnets []map[string]any `json:"subnets"`
		Count   int              `json:"count"`
	}
	if a := daemontest.OK(t, c6, "remote-subnet6-get-by-prefix", map[string]any{"subnets": []any{map[string]any{"subnet": "2001:db8:1::/64"}}}, &list); a.Text != "IPv6 subnet 2001:db8:1::/64 found." ||
		list.Count != 1 || fmtAny(list.Subnets[0]["pd-pools"]) != "[map[delegated-len:56 option-data:[map[always-send:false code:23 csv-format:true data:2001:db8::53 name:dns-servers space:dhcp6]] prefix:2001:db8:100:: prefix-len:40]]" {
		t.Errorf("remote-subnet6-get-by-prefix: %q %+v", a.Text, list)
	}

	// The poll (config-fetch-wait-time 1 s) applies it.
	waitFor(t, 6*time.Second, "the subnet from the database applied", func() bool {
		var cfg map[string]map[string]any
		daemontest.OK(t, c6, "config-get", nil, &cfg)
		return fmtAny(cfg["Dhcp6"]["preferred-lifetime"]) == "2345"
	})
	addr, prefix := e.dhclient6(t)
	e.checkV6Binding(t, addr, prefix)
	if err := p.Stop(); err != nil {
		t.Fatalf("xdhcpd stop: %v", err)
	}

	// Kea 2.2 reads the subnet xdhcpd wrote with its own reader. Kea
	// 2.2.0's PostgreSQL reader for DHCPv6 does not start on any
	// database: it fails to prepare its own UPDATE_SUBNET6 statement
	// (a missing space before WHERE), so Kea reads it from MySQL only.
	if srv.Kind == dbtest.Postgres {
		return
	}
	bin := needBinary(t, "kea-dhcp6")
	lib := keaHooksDir + "/libdhcp_mysql_cb.so"
	k := &kea{e: e, sock: filepath.Join(e.dir, "kea6-cb.sock")}
	kcfg := map[string]any{"Dhcp6": map[string]any{
		"interfaces-config": map[string]any{"interfaces": []any{}},
		"data-directory":    e.dir,
		"lease-database":    map[string]any{"type": "memfile", "persist": false},
		"control-socket":    map[string]any{"socket-type": "unix", "socket-name": k.sock},
		"server-tag":        "box6", "config-control": cc,
		"hooks-libraries": []any{map[string]any{"library": lib}},
	}}
	k.Process = daemontest.NewProcess(t, daemontest.ProcessOptions{
		Name: "kea-dhcp6-cb", NS: e.srv,
		Args: []string{bin, "-c", e.writeConfig("kea6-cb.json", kcfg)},
		Env:  []string{"KEA_PIDFILE_DIR=" + e.dir, "KEA_LOCKFILE_DIR=" + e.dir},
		Log:  filepath.Join(e.dir, "kea-dhcp6-cb.log"),
	})
	k.Launch()
	k.WaitUntil(20*time.Second, "started", func() error { return answers(k, "version-get") })
	var kc map[string]map[string]any
	daemontest.OK(t, k, "config-get", nil, &kc)
	subs, _ := kc["Dhcp6"]["subnet6"].([]any)
	if len(subs) != 1 {
		t.Fatalf("Kea's subnets from the database: %v\n%s", subs, k.Log())
	}
	s := subs[0].(map[string]any)
	pools, _ := s["pools"].([]any)
	pd, _ := s["pd-pools"].([]any)
	if s["subnet"] != "2001:db8:1::/64" || len(pools) != 1 || len(pd) != 1 ||
		fmtAny(pd[0].(map[string]any)["prefix"]) != "2001:db8:100::" || fmtAny(pd[0].(map[string]any)["delegated-len"]) != "56" ||
		!strings.Contains(fmtAny(pd[0].(map[string]any)["option-data"]), "2001:db8::53") {
		t.Errorf("Kea's subnet from the database: %v", s)
	}
	if got := fmtAny(kc["Dhcp6"]["preferred-lifetime"]); got != "2345" {
		t.Errorf("Kea's preferred-lifetime from the database: %s, want 2345", got)
	}
	k.stop()
}
