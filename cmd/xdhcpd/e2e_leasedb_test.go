package main

// Leases in a database shared with Kea 2.2: the same lease4 rows, read
// and written by both, over real PostgreSQL and MariaDB servers.

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"

	"xdhcp/internal/daemontest"
	"xdhcp/internal/dbtest"
)

// The database servers of this test binary, started by the first test
// that needs one; TestMain stops them.
var (
	pgServer    = dbtest.NewLazy(dbtest.Postgres, dbtest.Options{TLS: true}) // TLS offered, required only of NewTLSDB accounts
	mysqlServer = dbtest.NewLazy(dbtest.MySQL, dbtest.Options{})
)

// dbKind is a lease-database type with its server.
type dbKind struct {
	typ    string
	server *dbtest.Lazy
}

// dbKinds are the lease-database types the tests run on.
var dbKinds = []dbKind{{"postgresql", pgServer}, {"mysql", mysqlServer}}

// forDatabases runs fn as a parallel subtest per database type.
func forDatabases(t *testing.T, fn func(t *testing.T, server *dbtest.Server)) {
	forDatabasesOf(t, dbKinds, fn)
}

func forDatabasesOf(t *testing.T, kinds []dbKind, fn func(t *testing.T, server *dbtest.Server)) {
	for _, k := range kinds {
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
	ifaces := []any{}
	if serve {
		ifaces = []any{e2eServerIf}
	}
	return e.startKeaFrom(name, keaLeaseCmdsConfig(ifaces, dbcfg, filepath.Join(e.dir, name+".sock")))
}

// startKeaFrom runs kea-dhcp4 on cfg (made by keaLeaseCmdsConfig).
func (e *e2eEnv) startKeaFrom(name string, cfg map[string]any) *kea {
	e.t.Helper()
	bin := needBinary(e.t, "kea-dhcp4")
	k := &kea{e: e, sock: dhcp4(cfg)["control-socket"].(map[string]any)["socket-name"].(string)}
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
	return getLease[leaseJSON](t, c, "lease4-get", map[string]any{"ip-address": ip})
}

// getLease sends a lease4-get or lease6-get and decodes its lease; false
// when there is none.
func getLease[L any](t *testing.T, c daemontest.Commander, command string, args map[string]any) (L, bool) {
	t.Helper()
	var l L
	a := daemontest.Command(t, c, command, args)
	if a.Result == 3 {
		return l, false
	}
	if a.Result != 0 {
		t.Fatalf("%s %v: result %d %q", command, args, a.Result, a.Text)
	}
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
		// The statistics count the lease loaded from the database too.
		if got := d.stat("subnet[1].assigned-addresses"); got != 2 {
			t.Errorf("subnet[1].assigned-addresses %d, want 2 (Kea's lease and xdhcpd's)", got)
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
		// xdhcpd's lease4-del removes it from the database Kea reads.
		d.ok("lease4-del", map[string]any{"ip-address": "10.88.200.7"}, nil)
		if got, ok := leaseVia(t, k2, "10.88.200.7"); ok {
			t.Errorf("Kea still finds the lease xdhcpd deleted: %+v", got)
		}
	})
}

// ackCapture records the ACKs clients receive on a client namespace's
// link: tshark, started before the clients.
type ackCapture struct {
	cmd  *exec.Cmd
	out  *bytes.Buffer
	done chan error
}

func (e *e2eEnv) captureACKs() *ackCapture {
	e.t.Helper()
	return e.capture("udp port 67 or udp port 68", "dhcp.option.dhcp == 5", "dhcp.hw.mac_addr", "dhcp.ip.your")
}

// capture records fields of the packets of the client namespace's link
// that pass filter (capture) and display (tshark's display filter).
func (e *e2eEnv) capture(filter, display string, fields ...string) *ackCapture {
	e.t.Helper()
	ts := needBinary(e.t, "tshark")
	c := &ackCapture{out: &bytes.Buffer{}, done: make(chan error, 1)}
	args := []string{"-i", e2eClientIf, "-n", "-l", "-Q", "-f", filter, "-Y", display, "-T", "fields"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	c.cmd = e.cli.Command(context.Background(), ts, args...)
	c.cmd.Stdout = c.out
	stderr, err := c.cmd.StderrPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.cli.Start(c.cmd); err != nil {
		e.t.Fatal(err)
	}
	// tshark says nothing with -Q until it stops: wait for its socket.
	go func() { _, _ = io.Copy(io.Discard, stderr); c.done <- c.cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for !capturing(c.cmd.Process.Pid) {
		if time.Now().After(deadline) {
			e.t.Fatal("tshark did not start capturing within 30 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	return c
}

// capturing reports whether the namespace of process pid (the client
// namespace, where nothing else opens one) holds a packet socket: tshark's
// capture has begun.
func capturing(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/packet", pid))
	return err == nil && bytes.Count(b, []byte("\n")) > 1
}

// stop ends the capture and returns the (mac, address) of every ACK.
func (c *ackCapture) stop(t *testing.T) [][2]string {
	t.Helper()
	c.halt()
	var acks [][2]string
	for _, f := range c.rows() {
		if len(f) == 2 {
			acks = append(acks, [2]string{f[0], f[1]})
		}
	}
	return acks
}

// halt ends the capture.
func (c *ackCapture) halt() {
	time.Sleep(500 * time.Millisecond) // the last ACKs on their way through dumpcap
	_ = c.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-c.done:
	case <-time.After(20 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// rows are the captured packets' fields, once the capture stopped.
func (c *ackCapture) rows() [][]string {
	var out [][]string
	for line := range strings.SplitSeq(c.out.String(), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			out = append(out, f)
		}
	}
	return out
}

// TestE2ELeaseDatabaseManyServers: two xdhcpd and a Kea 2.2 on one
// database, each with its own clients, all drawing on one pool barely
// larger than the clients: no address is ever acknowledged to two
// clients, as the clients' own captures show.
func TestE2ELeaseDatabaseManyServers(t *testing.T) {
	pd := needBinary(t, "perfdhcp")
	// make test runs 3 × 200 clients on PostgreSQL; XDHCP_DB_LONG=1 runs
	// 3 × 650 on both databases.
	perServer, pool, kinds := 200, "10.88.16.0 - 10.88.18.127", dbKinds[:1] // 640 addresses for 600 clients
	if os.Getenv("XDHCP_DB_LONG") != "" {
		perServer, pool, kinds = 650, "10.88.16.0 - 10.88.23.255", dbKinds // 2,048 addresses for 1,950 clients
	}
	forDatabasesOf(t, kinds, func(t *testing.T, server *dbtest.Server) {
		db := server.NewDB(t)
		envs := []*e2eEnv{newEnv(t), newEnv(t), newEnv(t)}
		for i, e := range envs {
			dbcfg, _ := e.databaseIn(server, db)
			if i == 2 {
				cfg := keaLeaseCmdsConfig([]any{e2eServerIf}, dbcfg, filepath.Join(e.dir, "kea.sock"))
				subnet(cfg, 0)["pools"] = []any{map[string]any{"pool": pool}}
				e.startKeaFrom("kea-dhcp4", cfg)
				continue
			}
			cfg := e.baseConfig()
			dhcp4(cfg)["lease-database"] = dbcfg
			subnet(cfg, 0)["pools"] = []any{map[string]any{"pool": pool}}
			e.startDaemon(cfg)
		}
		caps := make([]*ackCapture, len(envs))
		for i, e := range envs {
			caps[i] = e.captureACKs()
		}
		var wg sync.WaitGroup
		for i, e := range envs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Distinct base MACs: the three client populations never
				// share a client.
				out, _ := e.runClient(90*time.Second, pd, "-4", "-l", e2eClientIP, "-R", strconv.Itoa(perServer),
					"-n", strconv.Itoa(perServer), "-r", "100", "-b", fmt.Sprintf("mac=02:aa:%02x:00:00:00", i+1), e2eServerIP)
				st := parsePerfdhcp(t, out)
				t.Logf("server %d: DISCOVER-OFFER %+v REQUEST-ACK %+v", i, st["DISCOVER-OFFER"], st["REQUEST-ACK"])
			}()
		}
		wg.Wait()
		// A loaded server answers its queued requests after the clients
		// have given up: capture until the database stops changing.
		q := "SELECT count(*), coalesce(max(expire)::text, '') FROM lease4"
		if db.Server.Kind == dbtest.MySQL {
			q = "SELECT count(*), coalesce(max(expire), '') FROM lease4"
		}
		waitStable(db, q, 40)
		holder := map[string]string{}
		total := 0
		for i, c := range caps {
			acks := c.stop(t)
			t.Logf("server %d: %d ACKs captured", i, len(acks))
			total += len(acks)
			for _, a := range acks {
				if h, ok := holder[a[1]]; ok && h != a[0] {
					t.Errorf("address %s acknowledged to %s and to %s", a[1], h, a[0])
				}
				holder[a[1]] = a[0]
			}
		}
		// Losses are expected (a loaded machine, servers racing for one
		// pool); what matters is that enough leases were given to collide.
		if total < perServer/3 {
			t.Fatalf("only %d ACKs in all: too few to show anything", total)
		}
		out, err := db.Exec("SELECT count(*) FROM lease4")
		t.Logf("%d ACKs to %d distinct addresses; %s leases in the database (%v)", total, len(holder), out, err)
	})
}

// dbHolders returns the database's leases as address → hardware address.
func dbHolders(t *testing.T, db dbtest.DB) map[string]string {
	t.Helper()
	q := "SELECT address, encode(hwaddr, 'hex') FROM lease4"
	if db.Server.Kind == dbtest.MySQL {
		q = "SELECT address, lower(hex(hwaddr)) FROM lease4"
	}
	out, err := db.Exec(q)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for line := range strings.SplitSeq(out, "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		n, _ := strconv.ParseUint(f[0], 10, 32)
		hw, _ := hex.DecodeString(f[1])
		m[netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}).String()] = net.HardwareAddr(hw).String()
	}
	return m
}

// daemonOnDatabase starts xdhcpd in a new lab on a fresh database of
// server with the on-fail policy onFail, tries reconnect attempts 200 ms
// apart.
func daemonOnDatabase(t *testing.T, server *dbtest.Server, onFail string, tries int) (*e2eEnv, dbtest.DB, *dbtest.Forwarder, *e2eDaemon) {
	t.Helper()
	db := server.NewDB(t)
	e := newEnv(t)
	dbcfg, fw := e.databaseIn(server, db)
	dbcfg["on-fail"], dbcfg["max-reconnect-tries"], dbcfg["reconnect-wait-time"] = onFail, tries, 200
	cfg := e.bigPoolConfig()
	dhcp4(cfg)["lease-database"] = dbcfg
	return e, db, fw, e.startDaemon(cfg)
}

// TestE2ELeaseDatabaseOnFail: the database server is stopped under load
// and started again. With serve-retry-continue xdhcpd serves on, refuses
// to acknowledge while the database is away, and every lease a client
// was acknowledged is in the database afterwards. With stop-retry-exit
// and serve-retry-exit a cut network path to the database ends the
// daemon once its reconnect attempts are spent, answering nothing or
// offers meanwhile.
func TestE2ELeaseDatabaseOnFail(t *testing.T) {
	t.Run("restart/serve-retry-continue", func(t *testing.T) {
		t.Parallel()
		// A server of its own: stopping it must not disturb other tests.
		server, err := dbtest.Start(dbtest.Postgres, dbtest.Options{})
		if err != nil {
			t.Skipf("no PostgreSQL: %v", err)
		}
		defer server.Stop()
		onFailRestart(t, server, "serve-retry-continue")
	})
	// A cut network path: stop-retry-exit on PostgreSQL stops answering
	// at once; serve-retry-exit on MariaDB still offers addresses; both
	// exit once their reconnect attempts (25 × 200 ms) are spent.
	// XDHCP_DB_LONG=1 adds each policy on the other database.
	type cutCase struct {
		policy string
		server *dbtest.Lazy
		offers bool
	}
	cuts := []cutCase{{"stop-retry-exit", pgServer, false}, {"serve-retry-exit", mysqlServer, true}}
	if os.Getenv("XDHCP_DB_LONG") != "" {
		cuts = append(cuts, cutCase{"stop-retry-exit", mysqlServer, false}, cutCase{"serve-retry-exit", pgServer, true})
	}
	for i, c := range cuts {
		name := "cut/" + c.policy
		if i >= 2 {
			name += "/other-database"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e, _, fw, d := daemonOnDatabase(t, c.server.Get(t), c.policy, 25)
			daemontest.DORA(t, e.nclient(mac(0xd3, 1)))
			fw.Cut()
			// The next lease write meets the cut path; the client gets no ACK.
			cl := e.nclient(mac(0xd3, 2), nclient4.WithTimeout(time.Second), nclient4.WithRetry(1))
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err := cl.Request(ctx)
			cancel()
			if err == nil {
				t.Errorf("a lease was acknowledged with the database unreachable")
			}
			// While the database is away: an OFFER or silence, by policy.
			ctx, cancel = context.WithTimeout(context.Background(), 2*time.Second)
			_, err = e.nclient(mac(0xd3, 3), nclient4.WithTimeout(time.Second), nclient4.WithRetry(1)).DiscoverOffer(ctx)
			cancel()
			if !d.Running() {
				t.Fatalf("xdhcpd exited before its reconnect attempts were spent: %v", d.Err())
			}
			if offered := err == nil; offered != c.offers {
				t.Errorf("%s with the database away: offered %v, want %v (%v)", c.policy, offered, c.offers, err)
			}
			err = d.Wait(30 * time.Second)
			if err == nil || d.Running() {
				t.Fatalf("xdhcpd under %s: exit %v, running %v; log:\n%s", c.policy, err, d.Running(), d.LogSince())
			}
			if !strings.Contains(d.Log(), "recovery attempts") {
				t.Errorf("the exit does not say why; log:\n%s", d.LogSince())
			}
		})
	}
}

// waitStable runs query every second, up to tries times, until its answer
// stops changing.
func waitStable(db dbtest.DB, query string, tries int) {
	last := ""
	for range tries {
		out, err := db.Exec(query)
		if err == nil && out == last {
			return
		}
		last = out
		time.Sleep(time.Second)
	}
}
