package main

import (
	"context"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"xdhcp/internal/daemontest"
	"xdhcp/internal/dbtest"
)

// TestE2EForensicLogDatabase: Kea's legal log configured with a database
// output ("type": "postgresql" or "mysql" and Kea's connection parameters)
// loads unchanged, and a client's lease and its renewal (answered from the
// fast path's cache where XDP runs) are rows of Kea's logs table: the
// address, and Kea's entry without its timestamp. The records are durable
// before the replies, so the rows are there when the client has its ACK.
func TestE2EForensicLogDatabase(t *testing.T) {
	forDatabases(t, func(t *testing.T, server *dbtest.Server) {
		e := newEnv(t)
		e.mode = "auto"
		db := server.NewDB(t)
		dbcfg, _ := e.databaseIn(server, db)
		params := map[string]any{}
		for k, v := range dbcfg {
			params[k] = v
		}
		cfg := e.baseConfig()
		dhcp4(cfg)["hooks-libraries"] = []any{
			map[string]any{"library": "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_legal_log.so", "parameters": params},
		}
		subnet(cfg, 0)["cache-threshold"] = 0.5
		d := e.startDaemon(cfg)
		m := mac(0x4d, 1)
		c := e.nclient(m)
		l := daemontest.DORA(t, c)
		ip := l.ACK.YourIPAddr.String()
		rows := func() []string {
			t.Helper()
			out, err := db.Exec("SELECT address, log FROM logs ORDER BY timestamp, log")
			if err != nil {
				t.Fatal(err)
			}
			if out == "" {
				return nil
			}
			return strings.Split(out, "\n")
		}
		want := ip + "\tAddress: " + ip + " has been assigned for 1 hrs 0 mins 0 secs to a device with hardware address: hwtype=1 " + m.String()
		got := rows()
		if len(got) != 1 || !strings.HasPrefix(got[0], want) {
			t.Fatalf("logs rows once the ACK is in:\n%s\nwant one beginning\n%s", strings.Join(got, "\n"), want)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if _, err := c.Renew(ctx, l); err != nil {
			t.Fatal(err)
		}
		if got := rows(); len(got) != 2 || !strings.HasPrefix(got[1], want) {
			t.Errorf("logs rows once the renewal's ACK is in:\n%s\nwant two beginning\n%s", strings.Join(got, "\n"), want)
		}
		st := daemontest.Stats(t, d)
		if st["fastpath-cache-hits"] != 1 {
			t.Logf("the renewal was not answered from the fast path's cache (hits %d): XDP unavailable?", st["fastpath-cache-hits"])
		}
		if st["xdhcp-legal-log-records"] != 2 || st["xdhcp-legal-log-write-errors"] != 0 {
			t.Errorf("forensic log counters: records %d, write errors %d; want 2 and 0",
				st["xdhcp-legal-log-records"], st["xdhcp-legal-log-write-errors"])
		}
	})
}

// TestE2EForensicLogDatabaseOutage: with the forensic log's database cut
// off, no lease is acknowledged without its row and the daemon keeps
// answering its control channel; once the database is back, leases are
// acknowledged again and every acknowledged lease has its row.
func TestE2EForensicLogDatabaseOutage(t *testing.T) {
	t.Parallel()
	server := pgServer.Get(t)
	e := newEnv(t)
	db := server.NewDB(t)
	dbcfg, fw := e.databaseIn(server, db)
	dbcfg["connect-timeout"] = 1
	cfg := e.baseConfig()
	dhcp4(cfg)["hooks-libraries"] = []any{map[string]any{"library": "libdhcp_legal_log.so", "parameters": dbcfg}}
	dhcp4(cfg)["lease-database"] = map[string]any{"type": "memfile", "name": filepath.Join(e.dir, "leases4.csv"),
		"on-fail": "serve-retry-continue"}
	d := e.startDaemon(cfg)
	rows := func() map[string]int {
		t.Helper()
		out, err := db.Exec("SELECT address FROM logs")
		if err != nil {
			t.Fatal(err)
		}
		n := map[string]int{}
		for _, a := range strings.Fields(out) {
			n[a]++
		}
		return n
	}
	acked := map[string]bool{}
	if ip, ok := tryDORA(e, mac(0x4e, 1)); !ok {
		t.Fatal("no lease before the outage")
	} else {
		acked[ip] = true
	}

	fw.Cut()
	for i := range 3 {
		if ip, ok := tryDORA(e, mac(0x4e, 2+i)); ok {
			acked[ip] = true
			t.Errorf("lease %s acknowledged with the forensic log's database cut off", ip)
		}
	}
	st := daemontest.Stats(t, d)
	if st["xdhcp-legal-log-write-errors"] == 0 {
		t.Errorf("no forensic log write error counted during the outage")
	}
	if _, err := d.Try("status-get", nil); err != nil {
		t.Fatalf("control channel during the outage: %v", err)
	}
	// The fault names the forensic log, and recovery waits for it: the
	// lease store does not resume (and fail again) while it is away.
	if d.LogCount("forensic log write failed") == 0 || d.LogCount("lease file recovered") != 0 {
		t.Errorf("outage log: %d \"forensic log write failed\" lines, %d \"lease file recovered\", want some and none:\n%s",
			d.LogCount("forensic log write failed"), d.LogCount("lease file recovered"), d.LogSince())
	}

	fw.Mend()
	var ok bool
	for deadline := time.Now().Add(30 * time.Second); !ok && time.Now().Before(deadline); {
		var ip string
		if ip, ok = tryDORA(e, mac(0x4e, 9)); ok {
			acked[ip] = true
		}
	}
	if !ok {
		t.Fatalf("no lease 30 s after the database came back; log:\n%s", d.LogSince())
	}
	got := rows()
	for ip := range acked {
		if got[ip] == 0 {
			t.Errorf("acknowledged lease %s has no row (rows %v)", ip, got)
		}
	}
}

// TestE2EForensicLogDatabase6: the Dhcp6 section's legal log with a
// database output: dhclient -6's address and delegated prefix are rows of
// the logs table, each named by its address (the prefix's), with Kea's
// DHCPv6 entry.
func TestE2EForensicLogDatabase6(t *testing.T) {
	t.Parallel()
	server := mysqlServer.Get(t)
	e := newV6Env(t)
	db := server.NewDB(t)
	dbcfg, _ := e.databaseIn(server, db)
	cfg := e.baseConfig()
	v6 := e.dhcp6Section()
	v6["hooks-libraries"] = []any{map[string]any{"library": "libdhcp_legal_log.so", "parameters": dbcfg}}
	cfg["Dhcp6"] = v6
	e.startDaemon(cfg)
	addr, prefix := e.dhclient6(t)
	pfx := netip.MustParsePrefix(prefix)
	out, err := db.Exec("SELECT address, log FROM logs ORDER BY address")
	if err != nil {
		t.Fatal(err)
	}
	rows := strings.Split(out, "\n")
	want := map[string]string{
		addr:                "Address: " + addr + " has been assigned for ",
		pfx.Addr().String(): "Prefix: " + prefix + " has been assigned for ",
	}
	if len(rows) != len(want) {
		t.Fatalf("logs rows after dhclient -6:\n%s\nwant one for %s and one for %s", out, addr, prefix)
	}
	for _, r := range rows {
		a, text, _ := strings.Cut(r, "\t")
		if w, ok := want[a]; !ok || !strings.HasPrefix(text, w) {
			t.Errorf("row %q, want the address %s or %s with Kea's entry", r, addr, pfx.Addr())
		}
	}
}
