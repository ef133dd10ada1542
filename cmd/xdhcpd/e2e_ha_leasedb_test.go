package main

// HA with the leases in databases: each server of a pair on its own
// database, as Kea's HA is deployed, so lease updates and the start-up
// sync (lease4-get-page on the partner, then the leases applied locally)
// go through the database lease store.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"xdhcp/internal/dbtest"
)

// TestE2EHALeaseDatabase: a hot-standby pair of xdhcpd, each on its own
// PostgreSQL database. Leases already in the primary's database reach the
// standby's by the standby's sync when it starts; leases the primary
// gives reach the standby's database before the ACK; the standby's
// statistics count both.
func TestE2EHALeaseDatabase(t *testing.T) {
	pg := pgServer.Get(t)
	_, seg, s1, s2 := haPair(t)
	db1, db2 := pg.NewDB(t), pg.NewDB(t)
	// Leases the primary held before the pair formed: 10.99.1.100-119.
	if err := db1.InsertLeases4(10<<24|99<<16|1<<8|100, 20, 1, time.Now().Unix()+3600, 0, 9); err != nil {
		t.Fatal(err)
	}
	peers := []haPeer{{"server1", haURL("10.99.0.1"), "primary"}, {"server2", haURL("10.99.0.2"), "standby"}}
	subnets := []any{haSubnet(1, "10.99.0.0/16", []string{"10.99.1.1 - 10.99.1.250"}, nil)}
	for _, n := range []struct {
		node *haNode
		db   dbtest.DB
		ifc  string
	}{{s1, db1, "s1"}, {s2, db2, "s2"}} {
		cfg := n.node.xdhcpdConfig(haServerCfg{ifaces: []string{n.ifc}, subnets: subnets,
			rels: []any{haRel(n.node.name, "hot-standby", peers, nil)}})
		dbcfg, _ := n.node.env.databaseIn(pg, n.db)
		cfg["Dhcp4"].(map[string]any)["lease-database"] = dbcfg
		n.node.start(cfg)
	}
	took := waitPair(t, s1.d, s2.d, "hot-standby", 30*time.Second)
	t.Logf("pair in hot-standby %v after start", took.Round(time.Millisecond))

	// The sync wrote the primary's leases into the standby's database.
	if got := rowCount(t, db2, "hwaddr IS NOT NULL"); got != 20 {
		t.Errorf("standby's database holds %d leases after the sync, want the primary's 20", got)
	}
	if l, ok := s2.d.lease("10.99.1.105"); !ok || l.HWAddress != "02:72:09:00:00:05" {
		t.Errorf("standby's lease4-get 10.99.1.105 after the sync: found=%v %+v", ok, l)
	}

	// New leases from the primary are in the standby's database before
	// the client has its ACK.
	w := seg.wire()
	clients := haClients(7, 4)
	for i, o := range w.dora(clients, 0, 2*time.Second) {
		ip := o.addr()
		if ip == "" {
			t.Fatalf("client %s got no ACK", clients[i].mac)
		}
		hw := strings.ReplaceAll(clients[i].mac.String(), ":", "")
		where := fmt.Sprintf("hwaddr = decode('%s', 'hex')", hw)
		if got := rowCount(t, db2, where); got != 1 {
			t.Errorf("standby's database has %d rows for client %s (ACKed %s), want 1", got, clients[i].mac, ip)
		}
		if got := rowCount(t, db1, where); got != 1 {
			t.Errorf("primary's database has %d rows for client %s (ACKed %s), want 1", got, clients[i].mac, ip)
		}
	}
	if got := s2.d.stat("subnet[1].assigned-addresses"); got != 24 {
		t.Errorf("standby's subnet[1].assigned-addresses %d, want 24 (20 synced, 4 updated)", got)
	}
}

// rowCount counts db's lease4 rows matching where.
func rowCount(t *testing.T, db dbtest.DB, where string) int {
	t.Helper()
	out, err := db.Exec("SELECT count(*) FROM lease4 WHERE " + where)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if _, err := fmt.Sscan(strings.TrimSpace(out), &n); err != nil {
		t.Fatalf("count: %q: %v", out, err)
	}
	return n
}
