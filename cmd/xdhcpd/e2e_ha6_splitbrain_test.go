package main

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"xdhcp/internal/daemontest"
	"xdhcp/internal/lab"
)

// TestE2EHA6SplitBrain is the DHCPv6 split brain: an xdhcpd pair in
// hot-standby whose HA link is cut both ways (failure detection by
// heartbeats alone), both servers in partner-down, and new perfdhcp -6
// clients, each asking for an address and a prefix: first while only
// server1 reaches the segment (its allocator moves on, server2's does
// not), then on the segment both serve. Each server takes new addresses
// and prefixes only from its own half of the pool and pd-pool, so none
// goes to two clients; with the whole pool each, server2 gives the
// clients that take its offers what server1 gave the first ones.
func TestE2EHA6SplitBrain(t *testing.T) {
	needFaultTools(t)
	needBinary(t, "perfdhcp")
	const mode = "hot-standby"
	h := newHA6Lab(t)
	s1, s2 := h.nodes[0], h.nodes[1]
	for _, n := range h.nodes {
		rel := ha6Rel(n.name, mode, false)
		rel["max-unacked-clients"] = 0
		n.dual = true // DHCPv4 beside it: status-get must tell the services apart
		n.start(t, mode, rel)
	}
	waitPair(t, s1, s2, mode, 20*time.Second)
	// status-get's dhcp-state is the state of the service it is for.
	enabled := func(c daemontest.Commander) bool {
		var st struct {
			State struct {
				Enabled bool `json:"enabled"`
			} `json:"dhcp-state"`
		}
		daemontest.OK(t, c, "status-get", nil, &st)
		return st.State.Enabled
	}
	daemontest.OK(t, s1, "dhcp-disable", map[string]any{"origin": "user"}, nil)
	if enabled(s1) || !enabled(s1.ctl4) {
		t.Errorf("status-get after dhcp-disable for dhcp6: dhcp-state enabled %v for dhcp6, %v for dhcp4; want false, true",
			enabled(s1), enabled(s1.ctl4))
	}
	daemontest.OK(t, s1, "dhcp-enable", map[string]any{"origin": "user"}, nil)
	if !enabled(s1) {
		t.Error("status-get for dhcp6: dhcp-state disabled after dhcp-enable")
	}
	if err := s2.ns.InjectFault(lab.Fault{Peer: netip.MustParseAddr(s1.ip4), Port: keaHAPort, Dir: lab.Both}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s2.ns.ClearFaults(); err != nil {
			t.Error(err)
		}
	}()
	cut := time.Now()
	for _, n := range h.nodes {
		waitState(t, n, 0, "partner-down", 15*time.Second)
	}
	t.Logf("both in partner-down %v after the cut", time.Since(cut).Round(100*time.Millisecond))
	for _, n := range h.nodes {
		if g := daemontest.Stats(t, n)["xdhcp-pkt6-ha-partner-part-drop"]; g != 0 {
			t.Errorf("%s: xdhcp-pkt6-ha-partner-part-drop %d before any hint", n.name, g)
		}
	}

	link := func(state string) {
		t.Helper()
		if out, err := s2.ns.Command(context.Background(), "ip", "link", "set", s2.ifname, state).CombinedOutput(); err != nil {
			t.Fatalf("ip link set %s %s: %v %s", s2.ifname, state, err, out)
		}
	}
	link("down")
	h.perfdhcp6(15)
	link("up")
	h.perfdhcp6(30)
	l1, l2 := leases6Of(t, s1), leases6Of(t, s2)
	if len(l1) == 0 || len(l2) == 0 {
		t.Fatalf("during the split server1 leased %d, server2 %d: not both, so this did not test a split brain", len(l1), len(l2))
	}
	dups := 0
	for a, l := range l1 {
		if o, ok := l2[a]; ok {
			dups++
			t.Errorf("%s (%s) leased by both servers: to %s and to %s", a, l.Type, l.DUID, o.DUID)
		}
	}
	// The halves: addresses of 2001:db8:1::1:0/112 below ::1:8000 and
	// /56s of 2001:db8:100::/40 below 2001:db8:180::/56 are the
	// primary's, the rest the standby's.
	lower := func(l lease6) bool {
		a := netip.MustParseAddr(l.Addr)
		if l.Type == "IA_PD" {
			return a.Less(netip.MustParseAddr("2001:db8:180::"))
		}
		return a.Less(netip.MustParseAddr("2001:db8:1::1:8000"))
	}
	for i, ls := range []map[string]lease6{l1, l2} {
		for a, l := range ls {
			if lower(l) != (i == 0) {
				t.Errorf("server%d leased %s (%s), outside its half", i+1, a, l.Type)
			}
		}
	}
	t.Logf("FIGURE HA6 split brain | xdhcpd pair | %s | leases: server1 %d, server2 %d | duplicates %d", mode, len(l1), len(l2), dups)
}
