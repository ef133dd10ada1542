package main

// Leases in a database shared with Kea 2.2: the same lease4 rows, read
// and written by both, over real PostgreSQL and MariaDB servers.

import (
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"testing"
	"time"

	"xdhcp/internal/daemontest"
	"xdhcp/internal/dbtest"
)

// The database servers of this test binary, started by the first test
// that needs one; TestMain stops them.
var (
	pgServer    = dbtest.NewLazy(dbtest.Postgres, dbtest.Options{})
	mysqlServer = dbtest.NewLazy(dbtest.MySQL, dbtest.Options{})
)

// dbKinds are the lease-database types with their servers.
var dbKinds = []struct {
	typ    string
	server *dbtest.Lazy
}{{"postgresql", pgServer}, {"mysql", mysqlServer}}

// forDatabases runs fn as a parallel subtest per database type.
func forDatabases(t *testing.T, fn func(t *testing.T, server *dbtest.Server)) {
	for _, k := range dbKinds {
		t.Run(k.typ, func(t *testing.T) {
			t.Parallel()
			fn(t, k.server.Get(t))
		})
	}
}

// databaseIn makes the database reachable from inside the lab's server
// namespace (a forwarder on its loopback) and returns the lease-database
// map for Kea and xdhcpd there.
func (e *e2eEnv) databaseIn(server *dbtest.Server, db dbtest.DB) (map[string]any, *dbtest.Forwarder) {
	e.t.Helper()
	var l net.Listener
	if err := e.srv.Do(func() (err error) { l, err = net.Listen("tcp", "127.0.0.1:0"); return err }); err != nil {
		e.t.Fatal(err)
	}
	fw := server.Forward(l)
	e.t.Cleanup(fw.Close)
	return db.KeaConfig(map[string]any{"host": "127.0.0.1", "port": fw.Port}), fw
}

// startKeaDB runs kea-dhcp4 with leases in the database dbcfg and
// lease_cmds on a UNIX socket; with serve false it opens no interface
// and answers only its control channel.
func (e *e2eEnv) startKeaDB(name string, dbcfg map[string]any, serve bool) *kea {
	e.t.Helper()
	bin := needBinary(e.t, "kea-dhcp4")
	k := &kea{e: e, sock: filepath.Join(e.dir, name+".sock")}
	ifaces := []any{}
	if serve {
		ifaces = []any{e2eServerIf}
	}
	cfg := keaLeaseCmdsConfig(ifaces, dbcfg, k.sock)
	k.Process = daemontest.NewProcess(e.t, daemontest.ProcessOptions{
		Name: name,
		NS:   e.srv,
		Args: []string{bin, "-c", e.writeConfig(name+".json", cfg)},
		Env:  []string{"KEA_PIDFILE_DIR=" + e.dir, "KEA_LOCKFILE_DIR=" + e.dir},
		Log:  filepath.Join(e.dir, name+".log"),
	})
	k.Launch()
	k.WaitUntil(30*time.Second, "started", func() error { return answers(k, "version-get") })
	return k
}

// leaseVia is lease4-get of ip over c's control channel.
func leaseVia(t *testing.T, c daemontest.Commander, ip string) (leaseJSON, bool) {
	t.Helper()
	a := daemontest.Command(t, c, "lease4-get", map[string]any{"ip-address": ip})
	if a.Result == 3 {
		return leaseJSON{}, false
	}
	if a.Result != 0 {
		t.Fatalf("lease4-get %s: result %d %q", ip, a.Result, a.Text)
	}
	var l leaseJSON
	if err := json.Unmarshal(a.Arguments, &l); err != nil {
		t.Fatal(err)
	}
	return l, true
}

// sameLease compares what two servers say of one lease.
func sameLease(a, b leaseJSON) error {
	if a.IPAddress != b.IPAddress || a.HWAddress != b.HWAddress || a.ClientID != b.ClientID || a.ValidLft != b.ValidLft ||
		a.CLTT != b.CLTT || a.SubnetID != b.SubnetID || a.Hostname != b.Hostname || a.State != b.State {
		return fmt.Errorf("%+v\n  vs %+v", a, b)
	}
	return nil
}

// TestE2ELeaseDatabaseKea: Kea 2.2 and xdhcpd on one database see each
// other's leases: a lease Kea gave is served on by xdhcpd (its client
// keeps the address) and a lease xdhcpd gave is Kea's lease4-get answer.
func TestE2ELeaseDatabaseKea(t *testing.T) {
	forDatabases(t, func(t *testing.T, server *dbtest.Server) {
		e := newEnv(t)
		db := server.NewDB(t)
		dbcfg, _ := e.databaseIn(server, db)

		// Kea gives client A a lease.
		k := e.startKeaDB("kea-dhcp4", dbcfg, true)
		macA, macB := mac(0xd1, 1), mac(0xd1, 2)
		ipA := daemontest.DORA(t, e.nclient(macA)).ACK.YourIPAddr.String()
		fromKea, ok := leaseVia(t, k, ipA)
		if !ok || fromKea.HWAddress != macA.String() {
			t.Fatalf("Kea's own lease4-get %s: %v %+v", ipA, ok, fromKea)
		}
		k.stop()

		// xdhcpd takes over the database: it reports Kea's lease as Kea
		// did, and the client keeps its address.
		cfg := e.bigPoolConfig()
		cfg["Dhcp4"].(map[string]any)["lease-database"] = dbcfg
		d := e.startDaemon(cfg)
		if got, ok := d.lease(ipA); !ok || sameLease(got, fromKea) != nil {
			t.Fatalf("xdhcpd's lease4-get %s: found=%v, %v", ipA, ok, sameLease(got, fromKea))
		}
		if again := daemontest.DORA(t, e.nclient(macA)).ACK.YourIPAddr.String(); again != ipA {
			t.Errorf("client A got %s from xdhcpd, its lease from Kea is %s", again, ipA)
		}
		ipB := daemontest.DORA(t, e.nclient(macB)).ACK.YourIPAddr.String()
		if ipB == ipA {
			t.Fatalf("xdhcpd gave client B %s, client A's address", ipB)
		}

		// Kea, beside the running xdhcpd on the same database, sees the
		// lease xdhcpd gave; a lease Kea adds is xdhcpd's lease4-get answer.
		k2 := e.startKeaDB("kea-dhcp4-ctl", dbcfg, false)
		fromX, _ := d.lease(ipB)
		if got, ok := leaseVia(t, k2, ipB); !ok || sameLease(got, fromX) != nil {
			t.Errorf("Kea's lease4-get %s (given by xdhcpd): found=%v, %v", ipB, ok, sameLease(got, fromX))
		}
		k2.ok("lease4-add", map[string]any{"ip-address": "10.88.200.7", "hw-address": "02:78:65:d1:00:07",
			"valid-lft": 1800, "hostname": "added.by.kea"})
		if got, ok := d.lease("10.88.200.7"); !ok || got.HWAddress != "02:78:65:d1:00:07" || got.ValidLft != 1800 ||
			got.Hostname != "added.by.kea" {
			t.Errorf("xdhcpd's lease4-get of the lease Kea added: found=%v %+v", ok, got)
		}
	})
}
