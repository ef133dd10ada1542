package configdb

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"xdhcp/config"
	"xdhcp/internal/dbtest"
)

var (
	pg    = dbtest.NewLazy(dbtest.Postgres, dbtest.Options{})
	maria = dbtest.NewLazy(dbtest.MySQL, dbtest.Options{})
)

func TestMain(m *testing.M) { dbtest.Main(m, pg, maria) }

func obj(t *testing.T, s string) Object {
	t.Helper()
	var o Object
	if err := decode([]byte(s), &o); err != nil {
		t.Fatal(err)
	}
	return o
}

func open(t *testing.T, l *dbtest.Lazy) (*DB, dbtest.DB) { return openFam(t, l, false) }

// openFam opens a fresh database of the DHCPv4 (or, v6, the DHCPv6)
// configuration.
func openFam(t *testing.T, l *dbtest.Lazy, v6 bool) (*DB, dbtest.DB) {
	srv := l.Get(t)
	d := srv.NewDB(t)
	db, err := openFamily(context.Background(), config.HostsDatabase{Type: string(srv.Kind), Name: d.Name, Host: d.Host(),
		Port: d.Port(), User: d.User, Password: d.Password, ConnectTimeout: 5 * time.Second}, v6)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, d
}

// TestRoundTrip writes every kind of object as the remote-* commands do,
// reads back what a server with a tag would, and merges it into a file's
// configuration that the configuration parser accepts; the audit tables
// the servers poll move with every change.
func TestRoundTrip(t *testing.T) {
	for _, l := range []*dbtest.Lazy{pg, maria} {
		l := l
		t.Run(string(map[*dbtest.Lazy]dbtest.Kind{pg: dbtest.Postgres, maria: dbtest.MySQL}[l]), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, tdb := open(t, l)
			rev0, err := db.LastRevision(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.SetServer(ctx, "b1", "second box"); err != nil {
				t.Fatal(err)
			}
			if _, _, err := db.SetSubnet(ctx, []string{"nosuch"}, obj(t, `{"id": 9, "subnet": "10.9.0.0/24"}`)); err == nil || !strings.Contains(err.Error(), "does not exist") {
				t.Fatalf("subnet for an unknown server: %v", err)
			}
			if _, err := db.SetNetwork(ctx, []string{"all"}, obj(t, `{"name": "net1", "relay": {"ip-addresses": ["10.0.0.1"]},
				"option-data": [{"name": "domain-name", "data": "net.example"}]}`)); err != nil {
				t.Fatal(err)
			}
			if _, _, err := db.SetSubnet(ctx, []string{"all"}, obj(t, `{"id": 7, "subnet": "10.7.0.0/24", "valid-lifetime": 600,
				"ddns-replace-client-name": "when-present", "t1-percent": 0.5, "match-client-id": false, "next-server": "10.7.0.2",
				"require-client-classes": ["c1"], "user-context": {"site": "x"},
				"pools": [{"pool": "10.7.0.10 - 10.7.0.20", "option-data": [{"code": 3, "data": "10.7.0.1"}]}],
				"option-data": [{"name": "domain-name-servers", "data": "10.7.0.53, 10.7.0.54"}, {"code": 15, "csv-format": false, "data": "6578616D706C65"}]}`)); err != nil {
				t.Fatal(err)
			}
			// Replaced: the pools and options are the new ones.
			if _, _, err := db.SetSubnet(ctx, []string{"b1"}, obj(t, `{"id": 8, "subnet": "10.8.0.0/24", "shared-network-name": "net1",
				"pools": [{"pool": "10.8.0.0/28"}]}`)); err != nil {
				t.Fatal(err)
			}
			if _, _, err := db.SetSubnet(ctx, []string{"b1"}, obj(t, `{"id": 8, "subnet": "10.8.0.0/24", "shared-network-name": "net1",
				"pools": [{"pool": "10.8.0.100 - 10.8.0.110"}]}`)); err != nil {
				t.Fatal(err)
			}
			if err := db.SetGlobals(ctx, "all", obj(t, `{"valid-lifetime": 1200, "boot-file-name": "/pxe", "authoritative": true}`)); err != nil {
				t.Fatal(err)
			}
			if err := db.SetGlobals(ctx, "b1", obj(t, `{"valid-lifetime": 1300}`)); err != nil {
				t.Fatal(err)
			}
			if err := db.SetGlobalOption(ctx, []string{"all"}, obj(t, `{"name": "domain-name", "data": "cb.example"}`)); err != nil {
				t.Fatal(err)
			}
			if _, err := db.SetClass(ctx, []string{"all"}, obj(t, `{"name": "c1", "test": "option[60].text == 'pxe'", "next-server": "10.7.0.3",
				"option-data": [{"code": 66, "data": "tftp.example"}]}`), ""); err != nil {
				t.Fatal(err)
			}
			if _, _, err := db.SetOptionDef(ctx, "all", obj(t, `{"name": "cb-opt", "code": 222, "space": "dhcp4", "type": "record", "record-types": "uint8, string"}`)); err != nil {
				t.Fatal(err)
			}
			if err := db.SetGlobalOption(ctx, []string{"b1"}, obj(t, `{"code": 222, "data": "7, hello"}`)); err != nil {
				t.Fatal(err)
			}
			if err := db.SetScopedOption(ctx, "subnet", 7, obj(t, `{"code": 42, "data": "10.7.0.123"}`)); err != nil {
				t.Fatal(err)
			}
			if err := db.SetScopedOption(ctx, "pool", "10.7.0.10 - 10.7.0.20", obj(t, `{"code": 3, "data": "10.7.0.254"}`)); err != nil {
				t.Fatal(err)
			}
			if err := db.SetScopedOption(ctx, "network", "nosuch", obj(t, `{"code": 3, "data": "10.7.0.254"}`)); err == nil {
				t.Error("an option of a shared network that does not exist was stored")
			}
			if _, _, err := db.SetSubnet(ctx, []string{"all"}, obj(t, `{"id": 7, "subnet": "10.7.0.0/24", "reservations": []}`)); err == nil {
				t.Fatal("a subnet with reservations was stored: the backend has no place for them")
			}
			rev1, err := db.LastRevision(ctx)
			if err != nil || rev1 <= rev0 {
				t.Fatalf("audit revision %d after %d (%v)", rev1, rev0, err)
			}

			s7, err := db.GetSubnet(ctx, 7, "")
			if err != nil || s7 == nil {
				t.Fatalf("subnet 7: %v %v", s7, err)
			}
			want := map[string]any{"valid-lifetime": "600", "ddns-replace-client-name": "when-present", "t1-percent": "0.5",
				"match-client-id": "false", "next-server": "10.7.0.2", "require-client-classes": "[c1]", "user-context": "map[site:x]",
				"pools":    "[map[option-data:[map[always-send:false code:3 csv-format:true data:10.7.0.254 name:routers space:dhcp4]] pool:10.7.0.10 - 10.7.0.20]]",
				"metadata": "map[server-tags:[all]]"}
			for k, v := range want {
				if got := fmtv(s7[k]); got != v {
					t.Errorf("subnet 7 %s = %s, want %s", k, got, v)
				}
			}
			if opts := fmtv(s7["option-data"]); !strings.Contains(opts, "10.7.0.53, 10.7.0.54") || !strings.Contains(opts, "6578616D706C65") {
				t.Errorf("subnet 7 options %s", opts)
			}
			if opts := fmtv(s7["option-data"]); !strings.Contains(opts, "10.7.0.123") {
				t.Errorf("subnet 7 options lack the one set alone: %s", opts)
			}
			if n, err := db.DelScopedOption(ctx, "subnet", 7, 42, "dhcp4"); err != nil || n != 1 {
				t.Errorf("delete subnet 7's option 42: %d %v", n, err)
			}
			s8, _ := db.GetSubnet(ctx, 8, "")
			if got := fmtv(s8["pools"]); got != "[map[pool:10.8.0.100 - 10.8.0.110]]" {
				t.Errorf("subnet 8 pools after replace: %s", got)
			}

			// Server "b2" sees subnet 7 (all) but not 8 (b1); b1 sees both,
			// inside net1, and its own valid-lifetime.
			doc := []byte(`{"Dhcp4": {"server-tag": "b1", "valid-lifetime": 100, "interfaces-config": {"interfaces": []},
				"subnet4": [{"id": 7, "subnet": "10.77.0.0/24"}, {"id": 1, "subnet": "10.1.0.0/24"}]}}`)
			for _, tc := range []struct {
				tag     string
				subnets int
				valid   string
			}{{"b1", 3, "1300"}, {"b2", 2, "1200"}} {
				cfg, merged := fetchMerged(t, db, tc.tag, doc)
				if len(cfg.Subnets) != tc.subnets {
					t.Errorf("%s: %d subnets, want %d\n%s", tc.tag, len(cfg.Subnets), tc.subnets, merged)
				}
				var m map[string]map[string]any
				json.Unmarshal(merged, &m)
				if got := fmtv(m["Dhcp4"]["valid-lifetime"]); got != tc.valid {
					t.Errorf("%s: valid-lifetime %s, want %s", tc.tag, got, tc.valid)
				}
				for _, s := range cfg.Subnets {
					if s.ID == 7 && s.Prefix.String() != "10.7.0.0/24" {
						t.Errorf("%s: subnet 7 is %s: the database's should replace the file's", tc.tag, s.Prefix)
					}
				}
			}

			// Rows another writer inserts with SQL through the schema's own
			// audit procedure, as Kea's backends do, are read.
			sql := "CALL createAuditRevisionDHCP4(NOW(), 'all', 'by sql', 0); " +
				"INSERT INTO dhcp4_subnet (subnet_id, subnet_prefix, modification_ts, valid_lifetime) VALUES (60, '10.60.0.0/24', NOW(), 300); " +
				"INSERT INTO dhcp4_subnet_server (subnet_id, server_id, modification_ts) VALUES (60, 1, NOW());"
			if db.pg {
				sql = "SELECT createAuditRevisionDHCP4(now(), 'all', 'by sql', false); " +
					"INSERT INTO dhcp4_subnet (subnet_id, subnet_prefix, modification_ts, valid_lifetime) VALUES (60, '10.60.0.0/24', now(), 300); " +
					"INSERT INTO dhcp4_subnet_server (subnet_id, server_id, modification_ts) VALUES (60, 1, now());"
			}
			if out, err := tdb.Exec(sql); err != nil {
				t.Fatalf("SQL insert: %v %s", err, out)
			}
			if rev, _ := db.LastRevision(ctx); rev <= rev1 {
				t.Errorf("the SQL insert made no audit revision (%d after %d)", rev, rev1)
			}
			snap, err := db.Fetch(ctx, "b2")
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, s := range snap.Subnets {
				if fmtv(s["id"]) == "60" && fmtv(s["valid-lifetime"]) == "300" {
					found = true
				}
			}
			if !found {
				t.Errorf("subnet 60 inserted by SQL not read: %v", snap.Subnets)
			}
			rev1, _ = db.LastRevision(ctx)

			n, err := db.DelSubnet(ctx, 7, "")
			if err != nil || n != 1 {
				t.Fatalf("delete subnet 7: %d %v", n, err)
			}
			var pools string
			if pools, err = dbtestCount(ctx, db, "SELECT COUNT(*) FROM dhcp4_pool WHERE subnet_id = 7"); err != nil || pools != "0" {
				t.Errorf("pools of a deleted subnet: %s %v", pools, err)
			}
			rev2, _ := db.LastRevision(ctx)
			if rev2 <= rev1 {
				t.Errorf("no audit revision for the delete (%d, %d)", rev1, rev2)
			}
		})
	}
}

func dbtestCount(ctx context.Context, db *DB, q string) (string, error) {
	var n int
	err := db.db.QueryRowContext(ctx, q).Scan(&n)
	return fmtv(n), err
}

func fmtv(v any) string {
	switch x := v.(type) {
	case nil:
		return "<nil>"
	case string:
		return x
	}
	b := strings.Builder{}
	b.WriteString(strings.TrimSpace(strings.ReplaceAll(sprint(v), "\n", " ")))
	return b.String()
}

func sprint(v any) string { return fmtSprint(v) }

var fmtSprint = fmt.Sprint

// fetchMerged merges what the server tagged tag reads into doc, and
// parses it.
func fetchMerged(t *testing.T, db *DB, tag string, doc []byte) (*config.Config, []byte) {
	t.Helper()
	snap, err := db.Fetch(context.Background(), tag)
	if err != nil {
		t.Fatal(err)
	}
	merged, err := snap.Merge(doc)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(merged)
	if err != nil {
		t.Fatalf("%s: merged configuration refused: %v\n%s", tag, err, merged)
	}
	return cfg, merged
}
