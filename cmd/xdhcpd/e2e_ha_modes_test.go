package main

// HA modes beyond the failover pair: communication-recovery with its
// backlog, passive-backup, and hub-and-spoke (one standby for two
// primaries).

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"xdhcp/ha/lbhash"
)

// TestE2EHACommunicationRecovery cuts only the link between the servers
// (their HA traffic runs over a dedicated segment) while the clients still
// reach both: each server keeps serving its own scope and queues the lease
// updates; when the link returns the backlog reaches the partner and both
// go back to load-balancing.
func TestE2EHACommunicationRecovery(t *testing.T) {
	h := newHALab(t)
	seg := h.segment("br0", true)
	link := h.segment("hl", false)
	s1 := h.server("server1", haAttach{seg, "s1", "10.99.0.1/16"}, haAttach{link, "h1", "10.98.0.1/24"})
	s2 := h.server("server2", haAttach{seg, "s2", "10.99.0.2/16"}, haAttach{link, "h2", "10.98.0.2/24"})
	peers := []haPeer{{"server1", haURL("10.98.0.1"), "primary"}, {"server2", haURL("10.98.0.2"), "secondary"}}
	// Kea's default max-unacked-clients: the clients here (secs 0) are
	// never unacked, so the cut is not taken for a dead partner.
	extra := map[string]any{"max-unacked-clients": 10, "delayed-updates-limit": 100}
	subnets := []any{haSubnet(1, "10.99.0.0/16",
		[]string{"10.99.1.1 - 10.99.1.250|HA_server1", "10.99.2.1 - 10.99.2.250|HA_server2"}, nil)}
	for _, n := range []*haNode{s1, s2} {
		dif := map[*haNode]string{s1: "s1", s2: "s2"}[n]
		n.start(n.xdhcpdConfig(haServerCfg{ifaces: []string{dif}, subnets: subnets,
			rels: []any{haRel(n.name, "load-balancing", peers, extra)}}))
	}
	waitPair(t, s1.d, s2.d, "load-balancing", 20*time.Second)

	cut := time.Now()
	s1.setLink("h1", false)
	s2.setLink("h2", false)
	for _, n := range []*haNode{s1, s2} {
		waitState(t, n.d, 0, "communication-recovery", 20*time.Second)
	}
	t.Logf("FIGURE communication-recovery: both servers in it %v after the cut", time.Since(cut).Round(time.Millisecond))

	cs := haClients(6, 12)
	w := seg.wire()
	outs := w.dora(cs, 0, 1500*time.Millisecond)
	srvIP := map[string]string{"server1": "10.99.0.1", "server2": "10.99.0.2"}
	mine := map[string][]string{} // server → addresses it granted
	view := map[string]string{}
	for i, o := range outs {
		want := []string{"server1", "server2"}[lbhash.Sum(cs[i].key())%2]
		if got := o.servers(); !slices.Equal(got, []string{srvIP[want]}) || o.addr() == "" {
			t.Errorf("client %s during the cut: offers %v, ACK %q; want exactly %s's", cs[i], got, o.addr(), want)
			continue
		}
		mine[want] = append(mine[want], o.addr())
		view[o.addr()] = cs[i].mac.String()
	}
	for _, n := range []*haNode{s1, s2} {
		other := map[*haNode]*haNode{s1: s2, s2: s1}[n]
		for _, ip := range mine[n.name] {
			noLease(t, other.d, other.name+" during the cut", ip)
		}
		backlog := haMetric(t, n.d, fmt.Sprintf(`xdhcp_ha_backlog_updates{server=%q,relationship="0"}`, n.name))
		if int(backlog) != len(mine[n.name]) {
			t.Errorf("%s: backlog %v updates, want %d (its leases of the cut)", n.name, backlog, len(mine[n.name]))
		}
		if st := status(t, n.d, 0); !slices.Equal(st.Servers.Local.Scopes, []string{n.name}) {
			t.Errorf("%s in communication-recovery serves %v, want its own scope only", n.name, st.Servers.Local.Scopes)
		}
	}
	t.Logf("FIGURE communication-recovery: backlogs server1 %d, server2 %d", len(mine["server1"]), len(mine["server2"]))

	restored := time.Now()
	s1.setLink("h1", true)
	s2.setLink("h2", true)
	took := waitPair(t, s1.d, s2.d, "load-balancing", 30*time.Second)
	t.Logf("FIGURE communication-recovery: back in load-balancing %v after the link returned (%v)",
		time.Since(restored).Round(time.Millisecond), took.Round(time.Millisecond))
	for ip, hw := range view {
		waitLease(t, s1.d, "server1 after recovery", ip, hw, 2*time.Second)
		waitLease(t, s2.d, "server2 after recovery", ip, hw, 2*time.Second)
	}
	for _, n := range []*haNode{s1, s2} {
		if b := haMetric(t, n.d, fmt.Sprintf(`xdhcp_ha_backlog_updates{server=%q,relationship="0"}`, n.name)); b != 0 {
			t.Errorf("%s: backlog %v after recovery, want 0", n.name, b)
		}
	}
	haNoDoubleLease(t, view, map[string]map[string]leaseJSON{"server1": leasesOf(t, s1.d), "server2": leasesOf(t, s2.d)})
}

// TestE2EHAPassiveBackup: the primary serves alone and its leases reach
// the backup, which never answers a client.
func TestE2EHAPassiveBackup(t *testing.T) {
	_, seg, s1, s2 := haPair(t)
	peers := []haPeer{{"server1", haURL("10.99.0.1"), "primary"}, {"server2", haURL("10.99.0.2"), "backup"}}
	subnets := []any{haSubnet(1, "10.99.0.0/16", []string{"10.99.1.1 - 10.99.1.250"}, nil)}
	s1.start(s1.xdhcpdConfig(haServerCfg{ifaces: []string{"s1"}, subnets: subnets,
		rels: []any{haRel("server1", "passive-backup", peers, nil)}}))
	s2.start(s2.xdhcpdConfig(haServerCfg{ifaces: []string{"s2"}, subnets: subnets,
		rels: []any{haRel("server2", "passive-backup", peers, nil)}}))
	waitState(t, s1.d, 0, "passive-backup", 10*time.Second)
	waitState(t, s2.d, 0, "backup", 10*time.Second)
	if st := status(t, s1.d, 0); st.Mode != "passive-backup" || st.Servers.Local.Role != "primary" ||
		!slices.Equal(st.Servers.Local.Scopes, []string{"server1"}) {
		t.Errorf("primary's status %+v", st)
	}
	cs := haClients(7, 8)
	w := seg.wire()
	view := map[string]string{}
	for i, o := range w.dora(cs, 0, time.Second) {
		if got := o.servers(); !slices.Equal(got, []string{"10.99.0.1"}) || o.addr() == "" {
			t.Errorf("client %s: offers %v, ACK %q; want the primary's only", cs[i], got, o.addr())
			continue
		}
		view[o.addr()] = cs[i].mac.String()
	}
	for ip, hw := range view {
		waitLease(t, s2.d, "backup", ip, hw, 3*time.Second)
	}
	haNoDoubleLease(t, view, map[string]map[string]leaseJSON{"primary": leasesOf(t, s1.d), "backup": leasesOf(t, s2.d)})
	if got, want := len(leasesOf(t, s2.d)), len(cs); got != want {
		t.Errorf("backup holds %d leases, want %d", got, want)
	}
}

// TestE2EHAHubAndSpoke: server3 stands by for two primaries, each on its
// own segment and subnet (mapped to a relationship by user-context
// ha-server-name). Both primaries' leases reach the hub; when server1
// dies the hub serves server1's subnet and stays silent on server2's.
// The hub has one name in both relationships (as later Kea's hub-and-spoke
// has it), or one name per relationship.
func TestE2EHAHubAndSpoke(t *testing.T) {
	t.Parallel()
	t.Run("one-hub-name", func(t *testing.T) { testHubAndSpoke(t, "server3", "server3") })
	t.Run("hub-name-per-relationship", func(t *testing.T) { testHubAndSpoke(t, "server3a", "server3b") })
}

func testHubAndSpoke(t *testing.T, hubA, hubB string) {
	h := newHALab(t)
	segA := h.segment("bra", true)
	segB := h.segment("brb", true)
	s1 := h.server("server1", haAttach{segA, "s1", "10.99.0.1/16"})
	s2 := h.server("server2", haAttach{segB, "s2", "10.97.0.2/16"})
	hub := h.server("server3", haAttach{segA, "a3", "10.99.0.3/16"}, haAttach{segB, "b3", "10.97.0.3/16"})
	subA := func(tag bool) map[string]any {
		var uc map[string]any
		if tag {
			uc = map[string]any{"user-context": map[string]any{"ha-server-name": "server1"}}
		}
		return haSubnet(1, "10.99.0.0/16", []string{"10.99.1.1 - 10.99.1.250"}, uc)
	}
	subB := func(tag bool) map[string]any {
		var uc map[string]any
		if tag {
			uc = map[string]any{"user-context": map[string]any{"ha-server-name": "server2"}}
		}
		return haSubnet(2, "10.97.0.0/16", []string{"10.97.1.1 - 10.97.1.250"}, uc)
	}
	peersA := []haPeer{{"server1", haURL("10.99.0.1"), "primary"}, {hubA, haURL("10.99.0.3"), "standby"}}
	peersB := []haPeer{{"server2", haURL("10.97.0.2"), "primary"}, {hubB, haURL("10.97.0.3"), "standby"}}
	s1.start(s1.xdhcpdConfig(haServerCfg{ifaces: []string{"s1"},
		subnets: []any{subA(false)}, rels: []any{haRel("server1", "hot-standby", peersA, nil)}}))
	s2.start(s2.xdhcpdConfig(haServerCfg{ifaces: []string{"s2"},
		subnets: []any{subB(false)}, rels: []any{haRel("server2", "hot-standby", peersB, nil)}}))
	hub.start(hub.xdhcpdConfig(haServerCfg{ifaces: []string{"a3", "b3"},
		subnets: []any{subA(true), subB(true)},
		rels:    []any{haRel(hubA, "hot-standby", peersA, nil), haRel(hubB, "hot-standby", peersB, nil)}}))
	for rel, p := range []*haNode{s1, s2} {
		waitState(t, p.d, 0, "hot-standby", 20*time.Second)
		waitHA(t, hub.d, fmt.Sprintf("hub relationship %d with %s", rel, p.name), rel, 20*time.Second, func(s haStatus) bool {
			return s.Servers.Local.State == "hot-standby" && s.Servers.Remote.LastState == "hot-standby"
		})
	}
	wA, wB := segA.wire(), segB.wire()
	serve := func(w *dhcpWire, cs []haClient, from, prefix string) map[string]string {
		t.Helper()
		view := map[string]string{}
		for i, o := range w.dora(cs, 0, time.Second) {
			if got := o.servers(); !slices.Equal(got, []string{from}) || !strings.HasPrefix(o.addr(), prefix) {
				t.Errorf("client %s: offers %v, ACK %q; want only %s's, in %s*", cs[i], got, o.addr(), from, prefix)
				continue
			}
			view[o.addr()] = cs[i].mac.String()
		}
		return view
	}
	viewA := serve(wA, haClients(8, 4), "10.99.0.1", "10.99.1.")
	viewB := serve(wB, haClients(9, 4), "10.97.0.2", "10.97.1.")
	for ip, hw := range viewA {
		waitLease(t, hub.d, "hub (from server1)", ip, hw, 2*time.Second)
	}
	for ip, hw := range viewB {
		waitLease(t, hub.d, "hub (from server2)", ip, hw, 2*time.Second)
	}
	for ip, l := range leasesOf(t, hub.d) {
		if want := map[bool]uint32{true: 1, false: 2}[strings.HasPrefix(ip, "10.99.")]; l.SubnetID != want {
			t.Errorf("hub's lease %s in subnet %d, want %d", ip, l.SubnetID, want)
		}
	}

	killed := time.Now()
	s1.d.Kill9()
	waitState(t, hub.d, 0, "partner-down", 10*time.Second)
	t.Logf("FIGURE hub-and-spoke: hub's relationship with server1 in partner-down %v after kill -9", time.Since(killed).Round(time.Millisecond))
	if st := status(t, hub.d, 1); st.Servers.Local.State != "hot-standby" || len(st.Servers.Local.Scopes) != 0 {
		t.Errorf("hub's relationship with the live server2: %s serving %v, want hot-standby serving nothing",
			st.Servers.Local.State, st.Servers.Local.Scopes)
	}
	afterA := serve(wA, haClients(10, 3), "10.99.0.3", "10.99.1.")
	afterB := serve(wB, haClients(11, 3), "10.97.0.2", "10.97.1.")
	// Server1's old clients keep their addresses at the hub.
	old := haClients(8, 4)
	for i, o := range wA.dora(old, 0, time.Second) {
		if a := o.addr(); viewA[a] != old[i].mac.String() || !slices.Equal(o.servers(), []string{"10.99.0.3"}) {
			t.Errorf("server1's client %s after failover: %q from %v", old[i], a, o.servers())
		}
	}
	for ip, hw := range afterB {
		waitLease(t, hub.d, "hub (from server2, after the failover)", ip, hw, 2*time.Second)
	}
	all := map[string]string{}
	for _, v := range []map[string]string{viewA, viewB, afterA, afterB} {
		for ip, hw := range v {
			all[ip] = hw
		}
	}
	haNoDoubleLease(t, all, map[string]map[string]leaseJSON{"hub": leasesOf(t, hub.d), "server2": leasesOf(t, s2.d)})
}
