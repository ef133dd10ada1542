package main

// DHCPv6 leases in a database shared with kea-dhcp6 2.2: the same lease6
// rows, read and written by both, over real PostgreSQL and MariaDB
// servers.

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"xdhcp/control/client"
	"xdhcp/internal/daemontest"
	"xdhcp/internal/dbtest"
)

// startKea6DB runs kea-dhcp6 with its leases in the database dbcfg,
// lease_cmds on a UNIX socket and the subnet of dhcp6Section, serving no
// interface: it answers its control channel only.
func (e *e2eEnv) startKea6DB(name string, dbcfg map[string]any) *kea {
	e.t.Helper()
	bin := needBinary(e.t, "kea-dhcp6")
	sock := filepath.Join(e.dir, name+".sock")
	v6 := e.dhcp6Section()
	v6["interfaces-config"] = map[string]any{"interfaces": []any{}}
	v6["lease-database"] = dbcfg
	v6["control-socket"] = map[string]any{"socket-type": "unix", "socket-name": sock}
	v6["hooks-libraries"] = []any{map[string]any{"library": keaLeaseCmds}}
	v6["data-directory"] = filepath.Join(e.dir, name)
	if err := os.MkdirAll(filepath.Join(e.dir, name), 0o755); err != nil {
		e.t.Fatal(err)
	}
	delete(v6["subnet6"].([]any)[0].(map[string]any), "interface")
	k := &kea{e: e, sock: sock}
	k.Process = daemontest.NewProcess(e.t, daemontest.ProcessOptions{
		Name: name,
		NS:   e.srv,
		Args: []string{bin, "-c", e.writeConfig(name+".json", map[string]any{"Dhcp6": v6})},
		Env:  []string{"KEA_PIDFILE_DIR=" + e.dir, "KEA_LOCKFILE_DIR=" + e.dir},
		Log:  filepath.Join(e.dir, name+".log"),
	})
	k.Launch()
	k.WaitUntil(30*time.Second, "started", func() error { return answers(k, "version-get") })
	return k
}

// lease6JSON is what the tests compare of a lease6-get answer.
type lease6JSON struct {
	Address   string `json:"ip-address"`
	DUID      string `json:"duid"`
	IAID      uint32 `json:"iaid"`
	Type      string `json:"type"`
	PrefixLen int    `json:"prefix-len"`
	ValidLft  uint32 `json:"valid-lft"`
	PrefLft   uint32 `json:"preferred-lft"`
	CLTT      int64  `json:"cltt"`
	SubnetID  uint32 `json:"subnet-id"`
	State     int    `json:"state"`
}

// lease6Via is lease6-get of addr (of type typ) over c's control channel.
func lease6Via(t *testing.T, c daemontest.Commander, addr, typ string) (lease6JSON, bool) {
	t.Helper()
	return getLease[lease6JSON](t, c, "lease6-get", map[string]any{"ip-address": addr, "type": typ})
}

// TestE2ELeaseDatabase6: xdhcpd serving DHCPv6 on a database: dhclient -6
// gets an address and a prefix, both stored as lease6 rows; kea-dhcp6 2.2
// on the same database reports them as xdhcpd does, and a lease kea-dhcp6
// adds is xdhcpd's lease6-get answer (and the reverse for a deletion).
func TestE2ELeaseDatabase6(t *testing.T) {
	forDatabases(t, func(t *testing.T, server *dbtest.Server) {
		e := newV6Env(t)
		db := server.NewDB(t)
		dbcfg, _ := e.databaseIn(server, db)
		cfg := e.baseConfig()
		v6 := e.dhcp6Section()
		v6["lease-database"] = dbcfg
		v6["hosts-database"] = dbcfg
		cfg["Dhcp6"] = v6
		d := e.startDaemon(cfg)

		addr, prefix := e.dhclient6(t)
		pfx, err := netip.ParsePrefix(prefix)
		if err != nil || pfx.Bits() != 56 || !netip.MustParsePrefix("2001:db8:100::/40").Contains(pfx.Addr()) {
			t.Fatalf("dhclient -6 got prefix %q, want a /56 of 2001:db8:100::/40", prefix)
		}
		rows, err := db.Exec("SELECT address, lease_type, prefix_len, state FROM lease6 ORDER BY lease_type")
		if want := addr + "\t0\t128\t0\n" + pfx.Addr().String() + "\t2\t56\t0"; err != nil || rows != want {
			t.Fatalf("lease6 rows after dhclient -6:\n%s (%v)\nwant:\n%s", rows, err, want)
		}

		k := e.startKea6DB("kea-dhcp6", dbcfg)
		for _, c := range []struct{ addr, typ string }{{addr, "IA_NA"}, {pfx.Addr().String(), "IA_PD"}} {
			fromX, ok := lease6Via(t, d, c.addr, c.typ)
			if !ok {
				t.Fatalf("xdhcpd's lease6-get %s: not found", c.addr)
			}
			fromKea, ok := lease6Via(t, k, c.addr, c.typ)
			if !ok || fromKea != fromX {
				t.Errorf("kea-dhcp6's lease6-get %s: found=%v\n%+v\nxdhcpd's:\n%+v", c.addr, ok, fromKea, fromX)
			}
		}
		// kea-dhcp6 adds a lease and a prefix; xdhcpd reads them back. Not
		// the ones dhclient got (its DUID is new each run, so its address
		// is any of the pool's).
		duid := "00:03:00:01:02:78:65:d6:00:07"
		added, addedPfx := "2001:db8:1::1f0", "2001:db8:1ff::"
		if addr == added {
			added = "2001:db8:1::1f1"
		}
		if pfx.Addr().String() == addedPfx {
			addedPfx = "2001:db8:1fe::"
		}
		k.ok("lease6-add", map[string]any{"ip-address": added, "duid": duid, "iaid": 7, "subnet-id": 1,
			"valid-lft": 1800, "preferred-lft": 900, "hostname": "added.by.kea", "hw-address": "02:78:65:d6:00:07"})
		k.ok("lease6-add", map[string]any{"ip-address": addedPfx, "prefix-len": 56, "type": "IA_PD",
			"duid": duid, "iaid": 0xfffffffe, "subnet-id": 1})
		for _, c := range []struct{ addr, typ string }{{added, "IA_NA"}, {addedPfx, "IA_PD"}} {
			fromKea, _ := lease6Via(t, k, c.addr, c.typ)
			if got, ok := lease6Via(t, d, c.addr, c.typ); !ok || got != fromKea || !strings.EqualFold(got.DUID, duid) {
				t.Errorf("xdhcpd's lease6-get of what kea-dhcp6 added (%s): found=%v\n%+v\nkea's:\n%+v", c.addr, ok, got, fromKea)
			}
		}
		// xdhcpd's lease6-del removes a lease from the database Kea reads.
		d.ok("lease6-del", map[string]any{"ip-address": added}, nil)
		if got, ok := lease6Via(t, k, added, "IA_NA"); ok {
			t.Errorf("kea-dhcp6 still finds the lease xdhcpd deleted: %+v", got)
		}

		// A reservation a provisioning system inserts by SQL (by the
		// client's hardware address: an address, a prefix and options, as
		// Kea keeps them: dns-servers as formatted text, domain-search as
		// its wire bytes) applies to the client's next Solicit, without a
		// reload.
		mac := e.clientMAC(t)
		unhex := func(b []byte) string {
			if db.Server.Kind == dbtest.MySQL {
				return "UNHEX('" + hex.EncodeToString(b) + "')"
			}
			return "decode('" + hex.EncodeToString(b) + "', 'hex')"
		}
		if _, err := db.Exec("INSERT INTO hosts (dhcp_identifier, dhcp_identifier_type, dhcp6_subnet_id, hostname) VALUES (" +
			unhex(mac) + ", 0, 1, 'reserved6');" +
			"INSERT INTO ipv6_reservations (address, prefix_len, type, host_id) VALUES " +
			"('2001:db8:1::5', 128, 0, (SELECT max(host_id) FROM hosts)), ('2001:db8:200::', 56, 2, (SELECT max(host_id) FROM hosts));" +
			"INSERT INTO dhcp6_options (code, value, formatted_value, space, persistent, host_id, scope_id) VALUES " +
			"(23, NULL, '2001:db8:1::53, 2001:db8:1::54', 'dhcp6', false, (SELECT max(host_id) FROM hosts), 3), " +
			"(24, " + unhex([]byte("\x04host\x07example\x00")) + ", NULL, 'dhcp6', false, (SELECT max(host_id) FROM hosts), 3)"); err != nil {
			t.Fatal(err)
		}
		// A fresh lease file: dhclient makes a new DUID, a new client
		// to the server but for its hardware address.
		if err := os.Remove(filepath.Join(e.dir, "dhclient6.leases")); err != nil {
			t.Fatal(err)
		}
		addr, prefix = e.dhclient6(t)
		if addr != "2001:db8:1::5" || prefix != "2001:db8:200::/56" {
			t.Errorf("with a reservation in the database dhclient -6 got %s and %s, want 2001:db8:1::5 and 2001:db8:200::/56",
				addr, prefix)
		}
		wantOpts := []string{"option dhcp6.name-servers 2001:db8:1::53,2001:db8:1::54;", `option dhcp6.domain-search "host.example.";`}
		checkOpts := func(server string) {
			t.Helper()
			lf, _ := os.ReadFile(filepath.Join(e.dir, "dhclient6.leases"))
			for _, want := range wantOpts {
				if !strings.Contains(string(lf), want) {
					t.Errorf("dhclient -6 did not get the reservation's option %q from %s:\n%s", want, server, lf)
				}
			}
		}
		checkOpts("xdhcpd")
		c6 := svcControl(t, filepath.Join(e.dir, "ctl6.sock"), client.ServiceDHCP6)
		checkReservationCommands6(t, c6, d)
		// The SQL host is replaced by the same one written by xdhcpd's
		// reservation-add, and the client's leases are freed: kea-dhcp6
		// 2.2 serving from the database then gives the next client the
		// address, prefix and options of the rows xdhcpd wrote.
		daemontest.OK(t, c6, "reservation-del", map[string]any{"subnet-id": 1, "identifier-type": "hw-address", "identifier": mac.String()}, nil)
		daemontest.OK(t, c6, "reservation-add", map[string]any{"reservation": map[string]any{"subnet-id": 1, "hw-address": mac.String(),
			"ip-addresses": []any{"2001:db8:1::5"}, "prefixes": []any{"2001:db8:200::/56"}, "hostname": "reserved6",
			"option-data": []any{map[string]any{"name": "dns-servers", "data": "2001:db8:1::53, 2001:db8:1::54"},
				map[string]any{"name": "domain-search", "data": "host.example."}}}}, nil)
		d.ok("lease6-del", map[string]any{"ip-address": "2001:db8:1::5"}, nil)
		d.ok("lease6-del", map[string]any{"ip-address": "2001:db8:200::", "type": "IA_PD"}, nil)
		if err := errors.Join(d.Stop(), k.Stop()); err != nil {
			t.Fatal(err)
		}
		v6["control-socket"] = map[string]any{"socket-type": "unix", "socket-name": filepath.Join(e.dir, "kea-serving.sock")}
		ks := daemontest.NewProcess(t, daemontest.ProcessOptions{Name: "kea-dhcp6-serving", NS: e.srv,
			Args: []string{needBinary(t, "kea-dhcp6"), "-c", e.writeConfig("kea-serving.json", map[string]any{"Dhcp6": v6})},
			Env:  []string{"KEA_PIDFILE_DIR=" + e.dir, "KEA_LOCKFILE_DIR=" + e.dir},
			Log:  filepath.Join(e.dir, "kea-serving.log")})
		ks.Launch()
		ks.WaitUntil(30*time.Second, "started", func() error {
			return answers(&kea{e: e, sock: filepath.Join(e.dir, "kea-serving.sock")}, "version-get")
		})
		if err := os.Remove(filepath.Join(e.dir, "dhclient6.leases")); err != nil {
			t.Fatal(err)
		}
		if addr, prefix := e.dhclient6(t); addr != "2001:db8:1::5" || prefix != "2001:db8:200::/56" {
			t.Errorf("kea-dhcp6 on the host xdhcpd's reservation-add wrote gave %s and %s, want 2001:db8:1::5 and 2001:db8:200::/56",
				addr, prefix)
		}
		checkOpts("kea-dhcp6")
	})
}

// clientMAC is the hardware address of the client namespace's interface.
func (e *e2eEnv) clientMAC(t *testing.T) net.HardwareAddr {
	t.Helper()
	var mac net.HardwareAddr
	if err := e.cli.Do(func() error {
		ifc, err := net.InterfaceByName(e2eClientIf)
		if err == nil {
			mac = ifc.HardwareAddr
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return mac
}

// TestE2ELeaseDatabase6ManyServers: two xdhcpd on one database, each with
// its own perfdhcp -6 clients (an address and a prefix each), drawing on
// pools barely larger than the clients: no address and no prefix is ever
// given to two clients, as the clients' own captures of the Replies show.
func TestE2ELeaseDatabase6ManyServers(t *testing.T) {
	pd := needBinary(t, "perfdhcp")
	// make test runs 2 × 80 clients on PostgreSQL for 256 addresses and
	// 256 prefixes; XDHCP_DB_LONG=1 runs 2 × 120 on both databases.
	perServer, kinds := 80, dbKinds[:1]
	if os.Getenv("XDHCP_DB_LONG") != "" {
		perServer, kinds = 120, dbKinds
	}
	forDatabasesOf(t, kinds, func(t *testing.T, server *dbtest.Server) {
		db := server.NewDB(t)
		envs := []*e2eEnv{newV6Env(t), newV6Env(t)}
		caps := make([]*ackCapture, len(envs))
		var daemons []*e2eDaemon
		for i, e := range envs {
			dbcfg, _ := e.databaseIn(server, db)
			cfg := e.baseConfig()
			v6 := e.dhcp6Section()
			v6["lease-database"] = dbcfg
			sn := v6["subnet6"].([]any)[0].(map[string]any)
			sn["pd-pools"] = []any{map[string]any{"prefix": "2001:db8:100::", "prefix-len": 48, "delegated-len": 56}}
			cfg["Dhcp6"] = v6
			daemons = append(daemons, e.startDaemon(cfg))
			caps[i] = e.capture("udp port 546 or udp port 547", "dhcpv6.msgtype == 7",
				"dhcpv6.duid.bytes", "dhcpv6.iaaddr.ip", "dhcpv6.iaprefix.pref_addr")
		}
		var wg sync.WaitGroup
		for i, e := range envs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Distinct DUIDs: the two client populations never share
				// a client.
				out, _ := e.runClient(60*time.Second, pd, "-6", "-l", e2eClientIf, "-e", "address-and-prefix",
					"-R", strconv.Itoa(perServer), "-n", strconv.Itoa(perServer), "-r", "100",
					"-b", fmt.Sprintf("duid=0001000100000000aabb%02x000000", i+1))
				var summary []string
				for line := range strings.SplitSeq(out, "\n") {
					if strings.Contains(line, "sent packets:") || strings.Contains(line, "received packets:") {
						summary = append(summary, strings.TrimSpace(line))
					}
				}
				t.Logf("server %d: perfdhcp -6 %s", i, strings.Join(summary, "; "))
			}()
		}
		wg.Wait()
		// A loaded server answers its queued requests after the clients
		// have given up: capture until the database stops changing.
		waitStable(db, "SELECT count(*) FROM lease6", 30)
		holder := map[string]string{}
		total := 0
		for i, c := range caps {
			c.halt()
			n := 0
			for _, client := range repliesByClient(c.rows()) {
				n++
				for _, a := range client.bound {
					if h, ok := holder[a]; ok && h != client.duid {
						t.Errorf("%s given to client %s and to client %s", a, h, client.duid)
					}
					holder[a] = client.duid
				}
			}
			t.Logf("server %d: Replies to %d clients; %d Replies withheld for a conflict", i, n, daemons[i].LogCount("reply withheld"))
			total += n
		}
		if total < perServer/2 {
			t.Fatalf("only %d clients got a Reply: too few to show anything", total)
		}
		out, err := db.Exec("SELECT count(*) FROM lease6")
		t.Logf("%d clients bound %d distinct addresses and prefixes; %s lease6 rows (%v)", total, len(holder), out, err)
	})
}

// boundClient is what one client's Replies gave it.
type boundClient struct {
	duid  string
	bound []string
}

// repliesByClient groups captured Replies (DUIDs, addresses, prefixes) by
// client. A Reply carries the server's DUID and the client's: the
// server's is the one every Reply carries.
func repliesByClient(rows [][]string) map[string]*boundClient {
	seen := map[string]int{}
	for _, r := range rows {
		for _, d := range strings.Split(r[0], ",") {
			seen[d]++
		}
	}
	out := map[string]*boundClient{}
	for _, r := range rows {
		client := ""
		for _, d := range strings.Split(r[0], ",") {
			if seen[d] < len(rows) || len(rows) == 1 {
				client = d
			}
		}
		c := out[client]
		if c == nil {
			c = &boundClient{duid: client}
			out[client] = c
		}
		for _, f := range r[1:] {
			c.bound = append(c.bound, strings.Split(f, ",")...)
		}
	}
	return out
}

// checkReservationCommands6 runs the reservation commands for the DHCPv6
// service (c6, "service": ["dhcp6"]) on a daemon whose Dhcp6 host
// database holds the host "reserved6" (hardware address, subnet 1), and
// checks Kea's answers; the same commands without "service" (d) are for
// DHCPv4.
func checkReservationCommands6(t *testing.T, c6 daemontest.Commander, d *e2eDaemon) {
	t.Helper()
	res := map[string]any{"subnet-id": 1, "duid": "01:02:03:04:05:06", "ip-addresses": []any{"2001:db8:1::77"},
		"prefixes": []any{"2001:db8:300::/56"}, "hostname": "added6",
		"option-data": []any{map[string]any{"name": "dns-servers", "data": "2001:db8::99"}}, "user-context": map[string]any{"by": "test"}}
	expect := func(cmd string, args any, result int, text string) daemontest.Answer {
		t.Helper()
		a := daemontest.Command(t, c6, cmd, args)
		if a.Result != result || a.Text != text {
			t.Errorf("%s %v: %d %q, want %d %q", cmd, args, a.Result, a.Text, result, text)
		}
		return a
	}
	expect("reservation-add", map[string]any{"reservation": res}, 0, "Host added.")
	expect("reservation-add", map[string]any{"reservation": res}, 1, "Database duplicate entry error")
	expect("reservation-add", map[string]any{"reservation": map[string]any{"subnet-id": 1, "duid": "0a:0b", "ip-addresses": []any{"2001:db9::1"}}},
		1, "specified reservation '2001:db9::1' is not matching the IPv6 subnet prefix '2001:db8:1::/64'")
	expect("reservation-add", map[string]any{"reservation": map[string]any{"subnet-id": 9, "duid": "0a:0b", "hostname": "x"}},
		1, "IPv6 subnet with ID of '9' is not configured")

	a := expect("reservation-get", map[string]any{"subnet-id": 1, "identifier-type": "duid", "identifier": "01:02:03:04:05:06"}, 0, "Host found.")
	want := `{"client-classes":[],"duid":"01:02:03:04:05:06","hostname":"added6","ip-addresses":["2001:db8:1::77"],` +
		`"option-data":[{"always-send":false,"code":23,"csv-format":false,"data":"20010DB8000000000000000000000099","name":"dns-servers","space":"dhcp6"}],` +
		`"prefixes":["2001:db8:300::/56"],"subnet-id":1,"user-context":{"by":"test"}}`
	var got, wantV any
	_ = json.Unmarshal(a.Arguments, &got)
	_ = json.Unmarshal([]byte(want), &wantV)
	if !reflect.DeepEqual(got, wantV) {
		t.Errorf("reservation-get of the added host:\n got %s\nwant %s", a.Arguments, want)
	}
	expect("reservation-get", map[string]any{"subnet-id": 1, "ip-address": "2001:db8:300::"}, 0, "Host found.")
	expect("reservation-get", map[string]any{"subnet-id": 1, "ip-address": "2001:db8:1::5"}, 0, "Host found.")
	expect("reservation-get-all", map[string]any{"subnet-id": 1}, 0, "2 IPv6 host(s) found.")
	expect("reservation-get-by-hostname", map[string]any{"hostname": "RESERVED6"}, 0, "1 IPv6 host(s) found.")
	expect("reservation-get-by-id", map[string]any{"identifier-type": "duid", "identifier": "01:02:03:04:05:06"}, 0, "1 IPv6 host(s) found.")
	// Paging from the configuration (no reservations) into the database.
	var names []string
	next := map[string]any{"limit": 1}
	for range 4 {
		a := daemontest.Command(t, c6, "reservation-get-page", next)
		if a.Result == 3 {
			break
		}
		var page struct {
			Hosts []struct {
				Hostname string `json:"hostname"`
			} `json:"hosts"`
			Next struct {
				Source int    `json:"source-index"`
				From   uint64 `json:"from"`
			} `json:"next"`
		}
		if err := json.Unmarshal(a.Arguments, &page); err != nil || len(page.Hosts) != 1 || page.Next.Source != 1 {
			t.Fatalf("reservation-get-page %v: %+v %s", next, a, a.Arguments)
		}
		names = append(names, page.Hosts[0].Hostname)
		next = map[string]any{"limit": 1, "source-index": page.Next.Source, "from": page.Next.From}
	}
	if !slices.Equal(names, []string{"reserved6", "added6"}) {
		t.Errorf("reservation-get-page gave %v", names)
	}
	// Without "service" the daemon, which serves Dhcp4 too, answers for
	// DHCPv4: its reservations are not these.
	if a := d.command("reservation-get-by-hostname", map[string]any{"hostname": "added6"}); a.Text != "0 IPv4 host(s) found." {
		t.Errorf("reservation-get-by-hostname for DHCPv4: %+v", a)
	}
	expect("reservation-del", map[string]any{"subnet-id": 1, "ip-address": "2001:db8:1::77"}, 0, "Host deleted.")
	expect("reservation-get", map[string]any{"subnet-id": 1, "identifier-type": "duid", "identifier": "01:02:03:04:05:06"}, 0, "Host not found.")
	expect("reservation-del", map[string]any{"subnet-id": 1, "identifier-type": "duid", "identifier": "01:02:03:04:05:06"}, 1, "Host not deleted (not found).")
}
