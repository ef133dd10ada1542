package configdb

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"xdhcp/internal/dbtest"
)

// TestRoundTrip6 writes DHCPv6 objects (subnets with pools and prefix
// delegation pools, a shared network, global parameters and options) into
// the dhcp6_* tables, reads back what a server with a tag would, and
// merges it into a Dhcp6 section the configuration parser accepts; the
// DHCPv4 tables are left alone.
func TestRoundTrip6(t *testing.T) {
	for _, l := range []*dbtest.Lazy{pg, maria} {
		l := l
		t.Run(string(map[*dbtest.Lazy]dbtest.Kind{pg: dbtest.Postgres, maria: dbtest.MySQL}[l]), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, _ := openFam(t, l, true)
			rev0, err := db.LastRevision(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.SetServer(ctx, "b1", "second box"); err != nil {
				t.Fatal(err)
			}
			if _, _, err := db.SetSubnet(ctx, []string{"all"}, obj(t, `{"id": 9, "subnet": "10.9.0.0/24"}`)); err == nil {
				t.Error("an IPv4 subnet was stored in the DHCPv6 tables")
			}
			if _, _, err := db.SetSubnet(ctx, []string{"all"}, obj(t, `{"id": 9, "subnet": "2001:db8:9::/64",
				"pd-pools": [{"prefix": "2001:db8:9:1::", "prefix-len": 48, "delegated-len": 56}]}`)); err == nil {
				t.Error("a pd-pool with host bits set was stored")
			}
			if _, err := db.SetNetwork(ctx, []string{"all"}, obj(t, `{"name": "net6", "rapid-commit": true, "preferred-lifetime": 2000}`)); err != nil {
				t.Fatal(err)
			}
			if _, _, err := db.SetSubnet(ctx, []string{"all"}, obj(t, `{"id": 7, "subnet": "2001:db8:7::/64", "valid-lifetime": 6000,
				"preferred-lifetime": 4000, "rapid-commit": false, "t1-percent": 0.5,
				"pools": [{"pool": "2001:db8:7::100 - 2001:db8:7::1ff", "option-data": [{"name": "dns-servers", "data": "2001:db8::53"}]}],
				"pd-pools": [{"prefix": "2001:db8:700::", "prefix-len": 40, "delegated-len": 56, "excluded-prefix": "2001:db8:700::", "excluded-prefix-len": 64,
					"option-data": [{"code": 21, "data": "pd.example"}]}],
				"interface-id": "olt-7", "option-data": [{"name": "domain-search", "data": "v6.example"}]}`)); err != nil {
				t.Fatal(err)
			}
			if _, _, err := db.SetSubnet(ctx, []string{"b1"}, obj(t, `{"id": 8, "subnet": "2001:db8:8::/64", "shared-network-name": "net6",
				"pools": [{"pool": "2001:db8:8::/120"}], "pd-pools": [{"prefix": "2001:db8:800::", "prefix-len": 40, "delegated-len": 48}]}`)); err != nil {
				t.Fatal(err)
			}
			// Replaced: the pd-pools are the new ones.
			if _, _, err := db.SetSubnet(ctx, []string{"b1"}, obj(t, `{"id": 8, "subnet": "2001:db8:8::/64", "shared-network-name": "net6",
				"pools": [{"pool": "2001:db8:8::/120"}], "pd-pools": [{"prefix": "2001:db8:900::", "prefix-len": 40, "delegated-len": 48}]}`)); err != nil {
				t.Fatal(err)
			}
			if err := db.SetGlobals(ctx, "all", obj(t, `{"preferred-lifetime": 1800, "valid-lifetime": 3600}`)); err != nil {
				t.Fatal(err)
			}
			if err := db.SetGlobals(ctx, "b1", obj(t, `{"valid-lifetime": 3700}`)); err != nil {
				t.Fatal(err)
			}
			if err := db.SetGlobalOption(ctx, []string{"all"}, obj(t, `{"name": "sntp-servers", "data": "2001:db8::123"}`)); err != nil {
				t.Fatal(err)
			}
			if _, err := db.SetClass(ctx, []string{"all"}, obj(t, `{"name": "c6", "test": "member('ALL')", "preferred-lifetime": 900}`), ""); err != nil {
				t.Fatal(err)
			}
			if err := db.SetScopedOption(ctx, "pd-pool", "2001:db8:700::/40", obj(t, `{"name": "sip-server-addr", "data": "2001:db8::5060"}`)); err != nil {
				t.Fatal(err)
			}
			if err := db.SetScopedOption(ctx, "pd-pool", "2001:db8:701::/40", obj(t, `{"code": 22, "data": "2001:db8::5060"}`)); err == nil {
				t.Error("an option of a pd-pool that does not exist was stored")
			}
			rev1, err := db.LastRevision(ctx)
			if err != nil || rev1 <= rev0 {
				t.Fatalf("audit revision %d after %d (%v)", rev1, rev0, err)
			}
			if n, _ := dbtestCount(ctx, db, "SELECT COUNT(*) FROM dhcp4_subnet"); n != "0" {
				t.Errorf("%s DHCPv4 subnets written", n)
			}

			s7, err := db.GetSubnet(ctx, 0, "2001:db8:7::/64")
			if err != nil || s7 == nil {
				t.Fatalf("subnet 7: %v %v", s7, err)
			}
			want := map[string]string{"valid-lifetime": "6000", "interface-id": "olt-7", "preferred-lifetime": "4000", "rapid-commit": "false", "t1-percent": "0.5",
				"pools":    "[map[option-data:[map[always-send:false code:23 csv-format:true data:2001:db8::53 name:dns-servers space:dhcp6]] pool:2001:db8:7::100 - 2001:db8:7::1ff]]",
				"pd-pools": "[map[delegated-len:56 excluded-prefix:2001:db8:700:: excluded-prefix-len:64 option-data:[map[always-send:false code:21 csv-format:true data:pd.example name:sip-server-dns space:dhcp6] map[always-send:false code:22 csv-format:true data:2001:db8::5060 name:sip-server-addr space:dhcp6]] prefix:2001:db8:700:: prefix-len:40]]"}
			for k, v := range want {
				if got := fmtv(s7[k]); got != v {
					t.Errorf("subnet 7 %s = %s, want %s", k, got, v)
				}
			}
			if opts := fmtv(s7["option-data"]); !strings.Contains(opts, "name:domain-search") {
				t.Errorf("subnet 7 options %s", opts)
			}
			s8, _ := db.GetSubnet(ctx, 8, "")
			if got := fmtv(s8["pd-pools"]); got != "[map[delegated-len:48 prefix:2001:db8:900:: prefix-len:40]]" {
				t.Errorf("subnet 8 pd-pools after replace: %s", got)
			}

			doc := []byte(`{"Dhcp6": {"valid-lifetime": 100, "interfaces-config": {"interfaces": []},
				"subnet6": [{"id": 7, "subnet": "2001:db8:77::/64"}, {"id": 1, "subnet": "2001:db8:1::/64"}]}}`)
			for _, tc := range []struct {
				tag     string
				subnets int
				valid   string
			}{{"b1", 3, "3700"}, {"b2", 2, "3600"}} {
				cfg, merged := fetchMerged(t, db, tc.tag, doc)
				if len(cfg.Dhcp6.Subnets) != tc.subnets {
					t.Errorf("%s: %d subnets, want %d\n%s", tc.tag, len(cfg.Dhcp6.Subnets), tc.subnets, merged)
				}
				var m map[string]map[string]any
				json.Unmarshal(merged, &m)
				if got := fmtv(m["Dhcp6"]["valid-lifetime"]); got != tc.valid {
					t.Errorf("%s: valid-lifetime %s, want %s", tc.tag, got, tc.valid)
				}
				for _, s := range cfg.Dhcp6.Subnets {
					if s.ID == 7 && (s.Prefix.String() != "2001:db8:7::/64" || len(s.PDPools) != 1) {
						t.Errorf("%s: subnet 7 is %s with %d pd-pools: the database's should replace the file's", tc.tag, s.Prefix, len(s.PDPools))
					}
				}
			}

			n, err := db.DelSubnet(ctx, 7, "")
			if err != nil || n != 1 {
				t.Fatalf("delete subnet 7: %d %v", n, err)
			}
			if pd, err := dbtestCount(ctx, db, "SELECT COUNT(*) FROM dhcp6_pd_pool WHERE subnet_id = 7"); err != nil || pd != "0" {
				t.Errorf("pd-pools of a deleted subnet: %s %v", pd, err)
			}
			if rev2, _ := db.LastRevision(ctx); rev2 <= rev1 {
				t.Errorf("no audit revision for the delete (%d, %d)", rev1, rev2)
			}
		})
	}
}
