package sqlhost

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"xdhcp/config"
	"xdhcp/host"
	"xdhcp/internal/dbtest"
)

var (
	pg    = dbtest.NewLazy(dbtest.Postgres, dbtest.Options{})
	maria = dbtest.NewLazy(dbtest.MySQL, dbtest.Options{})
)

func TestMain(m *testing.M) {
	code := m.Run()
	pg.Close()
	maria.Close()
	os.Exit(code)
}

// testConfig has a definition for a custom option, so that a formatted
// value written by SQL is encoded by the configuration's option-def, and
// subnet 1 for the reservations.
func testConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(`{"Dhcp4": {
		"option-def": [{"name": "site-motd", "code": 224, "type": "string"}],
		"subnet4": [{"id": 1, "subnet": "192.0.2.0/24", "pools": [{"pool": "192.0.2.100-192.0.2.200"}]}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// dbConfig is the hosts-database entry for db.
func dbConfig(db dbtest.DB) config.HostsDatabase {
	return config.HostsDatabase{Type: string(db.Server.Kind), Name: db.Name, Host: db.Host(), Port: db.Port(),
		User: db.User, Password: db.Password, ConnectTimeout: 5 * time.Second}
}

// hexExpr is SQL for the bytes of h in the database's dialect.
func hexExpr(kind dbtest.Kind, h string) string {
	if kind == dbtest.Postgres {
		return "decode('" + h + "', 'hex')"
	}
	return "UNHEX('" + h + "')"
}

func mustExec(t *testing.T, db dbtest.DB, sql string) {
	t.Helper()
	if out, err := db.Exec(sql); err != nil {
		t.Fatalf("%s: %v\n%s", sql, err, out)
	}
}

// shared holds one database per server for every test of the package
// (creating one costs seconds): the tests use identifiers and subnets of
// their own.
var shared sync.Map // server kind name -> dbtest.DB

func forEachDatabase(t *testing.T, fn func(t *testing.T, db dbtest.DB)) {
	for name, l := range map[string]*dbtest.Lazy{"postgresql": pg, "mysql": maria} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := l.Get(t)
			db, ok := shared.Load(name)
			if !ok {
				d, err := srv.CreateDB("hosts")
				if err != nil {
					t.Fatal(err)
				}
				db, _ = shared.LoadOrStore(name, d)
			}
			fn(t, db.(dbtest.DB))
		})
	}
}

// A reservation a provisioning system writes with SQL, the way Kea's
// documentation shows (identifier bytes, address as an integer, classes
// comma-separated, an option as formatted text and one in binary), reads
// back with every field as Kea applies it.
func TestReadsWhatSQLWrote(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, db dbtest.DB) {
		k := db.Server.Kind
		mustExec(t, db, `INSERT INTO hosts (dhcp_identifier, dhcp_identifier_type, dhcp4_subnet_id, ipv4_address, hostname,
 dhcp4_client_classes, dhcp4_next_server, dhcp4_server_hostname, dhcp4_boot_file_name)
 VALUES (`+hexExpr(k, "0a0b0c0d0e0f")+`, 0, 5, 3221225994, 'Printer', 'office, printers', 3221225985, 'tftp1', 'boot.efi')`)
		mustExec(t, db, `INSERT INTO dhcp4_options (code, value, formatted_value, space, persistent, host_id, scope_id)
 SELECT 6, NULL, '192.0.2.53,192.0.2.54', 'dhcp4', false, host_id, 3 FROM hosts WHERE dhcp4_subnet_id = 5`)
		mustExec(t, db, `INSERT INTO dhcp4_options (code, value, formatted_value, space, persistent, host_id, scope_id)
 SELECT 224, `+hexExpr(k, "68656c6c6f")+`, NULL, 'dhcp4', true, host_id, 3 FROM hosts WHERE dhcp4_subnet_id = 5`)
		h, err := Open(context.Background(), dbConfig(db), testConfig(t))
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		r, err := h.Get4(context.Background(), 5, host.HWAddr, []byte{10, 11, 12, 13, 14, 15})
		if err != nil || r == nil {
			t.Fatalf("Get4: %v, %v", r, err)
		}
		if r.IP != netip.MustParseAddr("192.0.2.10") || r.Hostname != "Printer" || r.NextServer != netip.MustParseAddr("192.0.2.1") ||
			r.ServerHostname != "tftp1" || r.BootFileName != "boot.efi" || !slices.Equal(r.ClientClasses, []string{"office", "printers"}) {
			t.Errorf("reservation %+v", r)
		}
		if len(r.Options) != 2 || r.Options[0].Code != 6 || !bytes.Equal(r.Options[0].Data, []byte{192, 0, 2, 53, 192, 0, 2, 54}) ||
			r.Options[1].Code != 224 || string(r.Options[1].Data) != "hello" || !r.Options[1].AlwaysSend || r.Options[0].AlwaysSend {
			t.Errorf("options %+v", r.Options)
		}
		// The same host in another subnet, or by another identifier kind, is not it.
		if r, err := h.Get4(context.Background(), 0, host.HWAddr, []byte{10, 11, 12, 13, 14, 15}); r != nil || err != nil {
			t.Errorf("global lookup found %v (%v)", r, err)
		}
		if r, err := h.Get4(context.Background(), 5, host.ClientID, []byte{10, 11, 12, 13, 14, 15}); r != nil || err != nil {
			t.Errorf("client-id lookup found %v (%v)", r, err)
		}
		hs, err := h.GetByAddr4(context.Background(), 5, netip.MustParseAddr("192.0.2.10"))
		if err != nil || len(hs) != 1 {
			t.Errorf("GetByAddr4: %v, %v", hs, err)
		}
		// Rows written after the first lookup are seen by the next one: no cache.
		mustExec(t, db, `UPDATE hosts SET hostname = 'renamed' WHERE dhcp4_subnet_id = 5`)
		if r, _ := h.Get4(context.Background(), 5, host.HWAddr, []byte{10, 11, 12, 13, 14, 15}); r == nil || r.Hostname != "renamed" {
			t.Errorf("after UPDATE: %+v", r)
		}
	})
}

// Add, the reads the commands make, and Del, on both databases.
func TestAddReadDelete(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, db dbtest.DB) {
		ctx := context.Background()
		cfg := testConfig(t)
		h, err := Open(ctx, dbConfig(db), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		res, uctx, err := cfg.ParseHostReservation([]byte(`{"subnet-id": 1, "hw-address": "1a:1b:1c:1d:1e:1f",
			"ip-address": "192.0.2.20", "hostname": "Lab-Host", "client-classes": ["a", "b"],
			"next-server": "192.0.2.2", "server-hostname": "srv", "boot-file-name": "/pxe",
			"option-data": [{"name": "domain-name-servers", "data": "10.1.1.202,10.1.1.203", "always-send": true}],
			"user-context": {"site": 7}}`))
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Add(ctx, host.Host{Res: res, UserContext: uctx}); err != nil {
			t.Fatal(err)
		}
		second, _, err := cfg.ParseHostReservation([]byte(`{"subnet-id": 0, "client-id": "01:aa:bb", "hostname": "lab-host"}`))
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Add(ctx, host.Host{Res: second}); err != nil {
			t.Fatal(err)
		}
		// The same identifier in the same subnet, or the same address, is refused.
		dupID, _, _ := cfg.ParseHostReservation([]byte(`{"subnet-id": 1, "hw-address": "1a:1b:1c:1d:1e:1f", "hostname": "dup"}`))
		dupIP, _, _ := cfg.ParseHostReservation([]byte(`{"subnet-id": 1, "hw-address": "02:02:02:02:02:02", "ip-address": "192.0.2.20"}`))
		for _, d := range []*config.Reservation{dupID, dupIP} {
			if err := h.Add(ctx, host.Host{Res: d}); !errors.Is(err, host.ErrExists) {
				t.Errorf("duplicate %+v: %v", d, err)
			}
		}
		got, err := h.Get4(ctx, 1, host.HWAddr, []byte{0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f})
		if err != nil || got == nil {
			t.Fatalf("Get4: %v %v", got, err)
		}
		if got.IP != res.IP || got.Hostname != "Lab-Host" || got.NextServer != res.NextServer || got.BootFileName != "/pxe" ||
			len(got.Options) != 1 || !bytes.Equal(got.Options[0].Data, res.Options[0].Data) || !got.Options[0].AlwaysSend {
			t.Errorf("read back %+v, wrote %+v", got, res)
		}
		byName, err := h.ByHostname4(ctx, "LAB-HOST", nil)
		if err != nil || len(byName) != 2 {
			t.Errorf("ByHostname4: %d hosts, %v", len(byName), err)
		}
		one := uint32(1)
		if hs, _ := h.ByHostname4(ctx, "lab-host", &one); len(hs) != 1 || string(hs[0].UserContext) != `{"site": 7}` && string(hs[0].UserContext) != `{"site":7}` {
			t.Errorf("ByHostname4 in subnet 1: %+v", hs)
		}
		if hs, _ := h.ByID(ctx, host.ClientID, []byte{1, 0xaa, 0xbb}); len(hs) != 1 || hs[0].Res.SubnetID != 0 {
			t.Errorf("ByID: %+v", hs)
		}
		// Pages of one host, by increasing ID, until an empty one: both
		// hosts come by, the first with its option.
		var from uint64
		seen := map[string]int{}
		for i := 0; i < 10; i++ {
			page, err := h.Page4(ctx, nil, from, 1)
			if err != nil || len(page) > 1 || len(page) == 1 && page[0].ID <= from {
				t.Fatalf("page from %d: %+v %v", from, page, err)
			}
			if len(page) == 0 {
				break
			}
			from = page[0].ID
			seen[strings.ToLower(page[0].Res.Hostname)] += len(page[0].Res.Options) + 1
		}
		if seen["lab-host"] != 3 {
			t.Errorf("paged hosts %v", seen)
		}
		if all, _ := h.All4(ctx, 0); len(all) != 1 {
			t.Errorf("All4(0): %+v", all)
		}
		if ok, err := h.DelByAddr4(ctx, 1, netip.MustParseAddr("192.0.2.20")); !ok || err != nil {
			t.Errorf("DelByAddr4: %v %v", ok, err)
		}
		if ok, err := h.Del4(ctx, 0, host.ClientID, []byte{1, 0xaa, 0xbb}); !ok || err != nil {
			t.Errorf("Del4: %v %v", ok, err)
		}
		if ok, _ := h.Del4(ctx, 0, host.ClientID, []byte{1, 0xaa, 0xbb}); ok {
			t.Error("deleted twice")
		}
		if out, _ := db.Exec("SELECT COUNT(*) FROM dhcp4_options WHERE host_id NOT IN (SELECT host_id FROM hosts)"); strings.TrimSpace(out) != "0" {
			t.Errorf("options left behind: %s", out)
		}
	})
}

// A database that is not Kea 2.2's schema is refused with a message that
// says so; a database that goes away fails lookups with an error, never
// a crash; a read-only one refuses writes.
func TestSchemaCheckAndFailures(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, db dbtest.DB) {
		ctx := context.Background()
		mustExec(t, db, "UPDATE schema_version SET version = 9")
		if _, err := Open(ctx, dbConfig(db), testConfig(t)); err == nil || !strings.Contains(err.Error(), "schema version 9.") {
			t.Errorf("old schema: %v", err)
		}
		mustExec(t, db, "UPDATE schema_version SET version = "+map[dbtest.Kind]string{dbtest.Postgres: "13", dbtest.MySQL: "14"}[db.Server.Kind])
		c := dbConfig(db)
		c.ReadOnly = true
		h, err := Open(ctx, c, testConfig(t))
		if err != nil {
			t.Fatal(err)
		}
		res, _, _ := testConfig(t).ParseHostReservation([]byte(`{"subnet-id": 1, "hw-address": "01:02:03:04:05:06", "hostname": "ro"}`))
		if err := h.Add(ctx, host.Host{Res: res}); err == nil {
			t.Error("a read-only database took a host")
		}
		h.Close()
		if _, err := h.Get4(ctx, 1, host.HWAddr, []byte{1, 2, 3, 4, 5, 6}); err == nil {
			t.Error("lookup on a closed database succeeded")
		}
		c.Password = "wrong"
		if _, err := Open(ctx, c, testConfig(t)); err == nil {
			t.Error("wrong password accepted")
		}
	})
}
