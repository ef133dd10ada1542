package main

// Expired-lease reclamation with the leases in a database, as on the
// lease file: Kea's expired-leases-processing timers and limits, the rows
// the database is left with, and the statistics.

import (
	"encoding/json"
	"strconv"
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

		// The same daemon then answers the lease commands from the
		// database: 10 live and 19 reclaimed rows so far.
		leaseCommandsOnDatabase(t, d, db)
	})
}

// leaseCommandsOnDatabase runs Kea's lease commands against d, whose
// lease database db holds 10 live leases (10.88.20.0-9) and 19 reclaimed
// ones (10.88.20.20-38) of subnet 1, and checks their answers, the rows
// they leave and the statistics.
func leaseCommandsOnDatabase(t *testing.T, d *e2eDaemon, db dbtest.DB) {
	t.Helper()
	rows := func() int {
		out, err := db.Exec("SELECT count(*) FROM lease4")
		if err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.Atoi(strings.TrimSpace(out))
		return n
	}
	if n := len(d.leases()); n != 29 || rows() != 29 {
		t.Fatalf("lease4-get-all: %d leases, database %d rows, want 29", n, rows())
	}
	d.ok("lease4-add", map[string]any{"ip-address": "10.88.30.1", "hw-address": "02:aa:00:00:00:01",
		"client-id": "01:02:aa:00:00:00:01", "hostname": "one.example.org", "valid-lft": 1800}, nil)
	d.ok("lease4-add", map[string]any{"ip-address": "10.88.30.2", "hw-address": "02:aa:00:00:00:02"}, nil)
	if got := d.stat("subnet[1].assigned-addresses"); got != 12 {
		t.Errorf("assigned-addresses after two lease4-add: %d, want 12", got)
	}
	for cmd, args := range map[string]map[string]any{
		"lease4-get-by-hw-address": {"hw-address": "02:aa:00:00:00:01"},
		"lease4-get-by-client-id":  {"client-id": "01:02:aa:00:00:00:01"},
		"lease4-get-by-hostname":   {"hostname": "ONE.example.org"},
	} {
		var out struct {
			Leases []leaseJSON `json:"leases"`
		}
		d.ok(cmd, args, &out)
		if len(out.Leases) != 1 || out.Leases[0].IPAddress != "10.88.30.1" {
			t.Errorf("%s: %+v, want 10.88.30.1", cmd, out.Leases)
		}
	}
	d.ok("lease4-update", map[string]any{"ip-address": "10.88.30.2", "hw-address": "02:aa:00:00:00:02", "hostname": "two.example.org"}, nil)
	if out, err := db.Exec("SELECT hostname FROM lease4 WHERE address = " + strconv.Itoa(10<<24|88<<16|30<<8|2)); err != nil ||
		strings.TrimSpace(out) != "two.example.org" {
		t.Errorf("hostname in the database after lease4-update: %q %v", out, err)
	}
	// A row another server writes is in the next page.
	if err := db.InsertLeases4(10<<24|88<<16|30<<8|3, 1, 1, time.Now().Unix()+600, 0, 0xee); err != nil {
		t.Fatal(err)
	}
	var seen []string
	from := "start"
	for range 20 {
		var page struct {
			Leases []leaseJSON `json:"leases"`
			Count  int         `json:"count"`
		}
		a := d.command("lease4-get-page", map[string]any{"from": from, "limit": 10})
		if a.Result == 3 {
			break
		}
		if a.Result != 0 {
			t.Fatalf("lease4-get-page from %s: %d %s", from, a.Result, a.Text)
		}
		if err := json.Unmarshal(a.Arguments, &page); err != nil || page.Count != len(page.Leases) || page.Count > 10 {
			t.Fatalf("lease4-get-page: %v %s", err, a.Arguments)
		}
		for _, l := range page.Leases {
			seen = append(seen, l.IPAddress)
		}
		from = page.Leases[len(page.Leases)-1].IPAddress
	}
	if len(seen) != 32 || seen[len(seen)-1] != "10.88.30.3" {
		t.Errorf("lease4-get-page walked %d leases ending at %v, want 32 ending at 10.88.30.3", len(seen), seen[len(seen)-1:])
	}
	d.ok("lease4-del", map[string]any{"ip-address": "10.88.30.1"}, nil)
	if got := d.stat("subnet[1].assigned-addresses"); got != 11 {
		t.Errorf("assigned-addresses after lease4-del: %d, want 11", got)
	}
	d.ok("lease4-wipe", map[string]any{"subnet-id": 1}, nil)
	if n := rows(); n != 0 {
		t.Errorf("%d rows left in the database after lease4-wipe", n)
	}
	if got := d.stat("subnet[1].assigned-addresses"); got != 0 {
		t.Errorf("assigned-addresses after lease4-wipe: %d, want 0", got)
	}
}
