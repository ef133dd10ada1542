package main

// Expired-lease reclamation with the leases in a database, as on the
// lease file: Kea's expired-leases-processing timers and limits, the rows
// the database is left with, and the statistics.

import (
	"strings"
	"testing"
	"time"

	"xdhcp/internal/dbtest"
)

// leaseStates counts db's lease4 rows by state ("0:10 2:19").
func leaseStates(t *testing.T, db dbtest.DB) string {
	t.Helper()
	out, err := db.Exec("SELECT state, count(*) FROM lease4 GROUP BY state ORDER BY state")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(strings.Fields(strings.ReplaceAll(out, "\t", ":")), " ")
}

// TestE2ELeaseDatabaseReclaim: leases expired in the database are
// reclaimed by xdhcpd's timer in cycles of max-reclaim-leases: the recent
// ones kept as expired-reclaimed for hold-reclaimed-time, those expired
// longer ago than that removed by the flush timer, the declined one
// removed at once; live leases stay; reclaimed-leases counts them and
// assigned-addresses falls to the live leases.
func TestE2ELeaseDatabaseReclaim(t *testing.T) {
	forDatabases(t, func(t *testing.T, server *dbtest.Server) {
		e := newEnv(t)
		db := server.NewDB(t)
		dbcfg, _ := e.databaseIn(server, db)
		now := time.Now().Unix()
		base := uint32(10)<<24 | 88<<16 | 20<<8 // 10.88.20.0
		for _, r := range []struct {
			off    uint32
			n      int
			expire int64
			state  int
		}{
			{0, 10, now + 3600, 0},  // live
			{20, 19, now - 60, 0},   // expired a minute ago
			{40, 20, now - 7200, 0}, // expired two hours ago
			{70, 1, now - 60, 1},    // declined, expired
		} {
			if err := db.InsertLeases4(base+r.off, r.n, 1, r.expire, r.state, byte(r.off)); err != nil {
				t.Fatal(err)
			}
		}
		if got := leaseStates(t, db); got != "0:49 1:1" {
			t.Fatalf("rows before: %s", got)
		}

		cfg := e.bigPoolConfig()
		d4 := cfg["Dhcp4"].(map[string]any)
		d4["lease-database"] = dbcfg
		d4["expired-leases-processing"] = map[string]any{"reclaim-timer-wait-time": 1, "max-reclaim-leases": 15,
			"max-reclaim-time": 0, "hold-reclaimed-time": 3600, "flush-reclaimed-timer-wait-time": 1}
		d := e.startDaemon(cfg)

		// Poll until all 40 are reclaimed; cycles of at most 15 show
		// values in between.
		var seen []int64
		deadline := time.Now().Add(30 * time.Second)
		for {
			n := d.stat("reclaimed-leases")
			if len(seen) == 0 || seen[len(seen)-1] != n {
				seen = append(seen, n)
			}
			if n >= 40 || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if seen[len(seen)-1] != 40 {
			t.Fatalf("reclaimed-leases went %v, want 40 at the end", seen)
		}
		between := false
		for _, v := range seen {
			between = between || (v > 0 && v < 40)
			if v%15 != 0 && v != 40 {
				t.Errorf("reclaimed-leases %d after a cycle: cycles of max-reclaim-leases 15 give multiples of 15 (%v)", v, seen)
			}
		}
		if !between {
			t.Errorf("reclaimed-leases went %v: all at once, not in cycles of max-reclaim-leases 15", seen)
		}
		for name, want := range map[string]int64{
			"subnet[1].reclaimed-leases": 40, "reclaimed-declined-addresses": 1, "subnet[1].reclaimed-declined-addresses": 1,
			"subnet[1].assigned-addresses": 10, "declined-addresses": 0,
		} {
			if got := d.stat(name); got != want {
				t.Errorf("%s = %d, want %d", name, got, want)
			}
		}
		// The flush timer removes the ones expired longer than
		// hold-reclaimed-time ago; the recent ones stay, reclaimed.
		want := "0:10 2:19"
		var got string
		for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
			if got = leaseStates(t, db); got == want {
				break
			}
		}
		if got != want {
			t.Errorf("rows after reclamation and flush: %s, want %s (10 live, 19 held reclaimed)", got, want)
		}
		// Kea's lease4-get through xdhcpd reads the database's state.
		if l, ok := d.lease("10.88.20.20"); !ok || l.State != 2 {
			t.Errorf("lease4-get of a reclaimed lease: found=%v state %d, want 2", ok, l.State)
		}
		if _, ok := d.lease("10.88.20.40"); ok {
			t.Error("lease4-get finds a lease the flush removed")
		}
	})
}
