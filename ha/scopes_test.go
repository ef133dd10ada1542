package ha

import (
	"testing"
	"time"

	"xdhcp/slowpath"
)

func testRel(t *testing.T, body string, now func() time.Time) (*Service, *Relationship, *slowpath.NetworkState) {
	t.Helper()
	c, err := Parse([]byte(body), 1)
	if err != nil {
		t.Fatal(err)
	}
	net := slowpath.NewNetworkState(now)
	s, err := New(c, Deps{Leases: memLeases{}, Apply: nopApplier{}, Network: net, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, s.rels[0], net
}

const lbPair = `{"high-availability": [{"this-server-name": "server1", "mode": "load-balancing",
  "max-unacked-clients": 3, "max-ack-delay": 5000, "max-response-delay": 1000,
  "peers": [{"name": "server1", "url": "http://127.0.0.1:1/", "role": "primary"},
            {"name": "server2", "url": "http://127.0.0.1:2/", "role": "secondary"}]}]}`

// TestLoadBalancingVectors checks the split against vectors verified
// against a live Kea 2.2 pair.
func TestLoadBalancingVectors(t *testing.T) {
	now := func() time.Time { return time.Unix(1_800_000_000, 0) }
	_, r, _ := testRel(t, lbPair, now)
	r.mu.Lock()
	r.transitionLocked(StateLoadBalancing, "test")
	r.mu.Unlock()
	s2 := []byte{0x07, 0x0e, 0x0f, 0x10, 0x12, 0x14, 0x15, 0x16, 0x17}
	for last := byte(0x04); last <= 0x17; last++ {
		key := []byte{0x01, 0x00, 0x0c, 0x01, 0x02, 0x03, last}
		want := "server1"
		for _, b := range s2 {
			if b == last {
				want = "server2"
			}
		}
		scope, ok := r.ScopeOf(key)
		if !ok || scope != want {
			t.Errorf("client-id ...:%02x → %s, want %s", last, scope, want)
		}
		if r.InScope(key) != (want == "server1") {
			t.Errorf("InScope(...:%02x) wrong", last)
		}
		if cls := r.Class(key); cls != "HA_"+want {
			t.Errorf("class %s", cls)
		}
	}
	for _, v := range []struct {
		key  []byte
		want string
	}{
		{[]byte{0x00, 0x0c, 0x01, 0x02, 0x03, 0x04}, "server2"},
		{[]byte{0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}, "server2"},
		{[]byte{0x00}, "server2"},
	} {
		if got, _ := r.ScopeOf(v.key); got != v.want {
			t.Errorf("hw %x → %s, want %s", v.key, got, v.want)
		}
	}
	if _, ok := r.ScopeOf(nil); ok || r.InScope(nil) {
		t.Error("a key-less query is in no scope")
	}
	// Non-HA types are always accepted with the primary's class.
	if cls, ok := r.Accept(5 /* ACK */, []byte{0x00}); !ok || cls != "HA_server1" {
		t.Errorf("Accept(ACK) = %s %v", cls, ok)
	}
}

func TestScopesTableAndFailover(t *testing.T) {
	clock := time.Unix(1_800_000_000, 0)
	now := func() time.Time { return clock }
	s, r, net := testRel(t, lbPair, now)
	var got [256]bool
	calls := 0
	s.OnScopesChanged(func(t [256]bool) { got = t; calls++ })
	r.start()
	s.publishScopes()
	if net.Enabled() {
		t.Error("waiting must disable DHCP")
	}
	for h := range 256 {
		if got[h] {
			t.Fatalf("waiting serves hash %d", h)
		}
	}
	r.mu.Lock()
	r.transitionLocked(StateLoadBalancing, "test")
	r.mu.Unlock()
	s.publishScopes()
	if !net.Enabled() {
		t.Error("load-balancing must enable DHCP")
	}
	for h := range 256 {
		if got[h] != (h%2 == 0) {
			t.Fatalf("load-balancing: hash %d served=%v", h, got[h])
		}
	}
	r.mu.Lock()
	r.transitionLocked(StatePartnerDown, "test")
	r.mu.Unlock()
	s.publishScopes()
	for h := range 256 {
		if !got[h] {
			t.Fatalf("partner-down does not serve hash %d", h)
		}
	}
	if sc := r.Scopes(); len(sc) != 2 {
		t.Errorf("partner-down scopes %v", sc)
	}
	n := calls
	s.publishScopes()
	if calls != n {
		t.Error("callback called without a change")
	}
}

// TestUnackedClients checks failure detection with the secs quirk:
// 2560 is read as 10 s, and partner-down needs more than
// max-unacked-clients distinct unacked clients.
func TestUnackedClients(t *testing.T) {
	clock := time.Unix(1_800_000_000, 0)
	now := func() time.Time { return clock }
	_, r, _ := testRel(t, lbPair, now)
	r.start()
	r.mu.Lock()
	r.transitionLocked(StateLoadBalancing, "test")
	r.partnerState = StateUnavailable
	r.mu.Unlock()
	// Not interrupted yet: nothing is analysed.
	r.ObserveQuery(2560, []byte("c1"), msgDiscover)
	if r.analyzed != 0 {
		t.Fatal("analysed while not interrupted")
	}
	clock = clock.Add(2 * time.Second)                // > max-response-delay 1 s
	r.ObserveQuery(2560, []byte("c1"), msgDiscover)   // swapped: 10 s > 5 s
	r.ObserveQuery(4, []byte("c2"), msgDiscover)      // 4 s: connecting, not unacked
	r.ObserveQuery(0x0100, []byte("c3"), msgDiscover) // 256 (low byte 0) → swapped to 1 s: acked
	r.ObserveQuery(6, []byte("c1"), msgRequest)       // same client again
	r.ObserveQuery(60, []byte("c9"), 2 /* OFFER */)   // not an HA type
	if r.clients.unacked != 1 || r.clients.len() != 3 || r.analyzed != 4 {
		t.Fatalf("unacked %d connecting %d analysed %d", r.clients.unacked, r.clients.len(), r.analyzed)
	}
	r.mu.Lock()
	down := r.shouldPartnerDownLocked(now())
	r.mu.Unlock()
	if down {
		t.Fatal("partner-down with 1 unacked client of max 3")
	}
	for _, k := range []string{"c2", "c4", "c5"} {
		r.ObserveQuery(30, []byte(k), msgDiscover)
	}
	// 4 > 3 → partner-down, as a live Kea decides too.
	r.mu.Lock()
	down = r.shouldPartnerDownLocked(now())
	r.mu.Unlock()
	if r.clients.unacked != 4 || !down {
		t.Fatalf("unacked %d down %v", r.clients.unacked, down)
	}
	st := r.s.Status()[0]["ha-servers"].(map[string]any)["remote"].(map[string]any)
	if st["communication-interrupted"] != true || st["unacked-clients"] != 4 || st["unacked-clients-left"] != 0 {
		t.Errorf("status remote %v", st)
	}
}
