package main

// High Availability with real daemons: two (or three) xdhcpd on a shared
// segment, clients that see every answer on the wire, and the operator's
// view (status-get, lease4-get-all, /metrics). See e2e_ha_lab_test.go for
// the lab. The Kea interop tests are in e2e_ha_kea_test.go.

import (
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"xdhcp/ha/lbhash"
)

// haPair builds the two-server lab of most tests: s1 10.99.0.1 and s2
// 10.99.0.2 on br0 with the clients.
func haPair(t *testing.T) (*haLab, *haSeg, *haNode, *haNode) {
	h := newHALab(t)
	seg := h.segment("br0", true)
	s1 := h.server("server1", haAttach{seg, "s1", "10.99.0.1/16"})
	s2 := h.server("server2", haAttach{seg, "s2", "10.99.0.2/16"})
	return h, seg, s1, s2
}

// haNoDoubleLease asserts that no address is leased to two clients: the
// lease databases given agree with each other and with what the clients
// were acknowledged, address by address.
func haNoDoubleLease(t *testing.T, clientView map[string]string, dbs map[string]map[string]leaseJSON) {
	t.Helper()
	owner := map[string]string{} // ip → hw
	who := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(dbs)) {
		for ip, l := range dbs[name] {
			if prev, ok := owner[ip]; ok && prev != l.HWAddress {
				t.Errorf("%s leased to %s on %s but to %s on %s", ip, l.HWAddress, name, prev, who[ip])
			}
			owner[ip], who[ip] = l.HWAddress, name
		}
	}
	byHW := map[string]string{}
	for ip, hw := range clientView {
		if o, ok := owner[ip]; ok && o != hw {
			t.Errorf("client %s was acknowledged %s, which %s holds for %s", hw, ip, who[ip], o)
		}
		if prev, ok := byHW[hw]; ok && prev != ip {
			// Not a double lease, but the test's clients never move.
			t.Errorf("client %s was acknowledged %s and %s", hw, prev, ip)
		}
		byHW[hw] = ip
	}
}

// TestE2EHAHotStandby: hot-standby failover when the primary dies, the
// unacked-clients rule (with Kea's secs byte-swap), then the primary's
// return, its resync from the standby and both back in hot-standby.
func TestE2EHAHotStandby(t *testing.T) {
	_, seg, s1, s2 := haPair(t)
	peers := []haPeer{{"server1", haURL("10.99.0.1"), "primary"}, {"server2", haURL("10.99.0.2"), "standby"}}
	extra := map[string]any{"max-unacked-clients": 2}
	subnets := []any{haSubnet(1, "10.99.0.0/16", []string{"10.99.1.1 - 10.99.1.250"}, nil)}
	s1.start(s1.xdhcpdConfig(haServerCfg{ifaces: []string{"s1"}, subnets: subnets,
		rels: []any{haRel("server1", "hot-standby", peers, extra)}}))
	s2.start(s2.xdhcpdConfig(haServerCfg{ifaces: []string{"s2"}, subnets: subnets,
		rels: []any{haRel("server2", "hot-standby", peers, extra)}}))
	took := waitPair(t, s1.d, s2.d, "hot-standby", 20*time.Second)
	t.Logf("pair in hot-standby %v after start", took.Round(time.Millisecond))
	if st := status(t, s2.d, 0); st.Servers.Local.Role != "standby" || len(st.Servers.Local.Scopes) != 0 ||
		!slices.Equal(st.Servers.Remote.LastScopes, []string{"server1"}) || st.Mode != "hot-standby" {
		t.Errorf("standby's status: %+v", st)
	}

	w := seg.wire()
	view := map[string]string{} // ip → hw the clients were acknowledged
	record := func(cs []haClient, outs []haOutcome) {
		for i, o := range outs {
			if a := o.addr(); a != "" {
				view[a] = cs[i].mac.String()
			}
		}
	}
	// Before the failure only the primary answers, and its leases reach
	// the standby before the ACK leaves.
	early := haClients(1, 4)
	outs := w.dora(early, 0, 700*time.Millisecond)
	for i, o := range outs {
		if got := o.servers(); !slices.Equal(got, []string{"10.99.0.1"}) || o.addr() == "" {
			t.Fatalf("client %s before failover: offers from %v, ACK %q; want one offer and ACK from the primary", early[i], got, o.addr())
		}
		noDelay := s2.d.command("lease4-get", map[string]any{"ip-address": o.addr()})
		if noDelay.Result != 0 {
			t.Errorf("standby lacks %s right after the ACK (result %d): the update must precede the reply", o.addr(), noDelay.Result)
		}
	}
	record(early, outs)
	earlyAddr := make([]string, len(early))
	for i, o := range outs {
		earlyAddr[i] = o.addr()
	}

	var killed time.Time
	var outage []haClient
	t.Run("failover", func(t *testing.T) {
		s1.d.Kill9()
		killed = time.Now()
		interrupted := waitHA(t, s2.d, "communication interrupted", 0, 10*time.Second, func(s haStatus) bool {
			return s.Servers.Remote.CommunicationInterrupted
		})
		t.Logf("standby saw communication interrupted %v after kill -9", interrupted.Round(time.Millisecond))
		// secs 0 and 1 (1000 ms is not above max-ack-delay): not unacked.
		quiet := haClients(2, 2)
		for i, secs := range []uint16{0, 1} {
			if o := w.dora(quiet[i:i+1], secs, 600*time.Millisecond); len(o[0].offers) != 0 {
				t.Errorf("standby answered %s (secs %d) before failover: %v", quiet[i], secs, o[0].servers())
			}
		}
		// Two unacked clients (secs 5 > 1 s), and one with secs 256: Kea
		// reads 0x0100 byte-swapped as 1 s, so it is not unacked.
		unacked := haClients(3, 4)
		for i, secs := range []uint16{5, 5, 256} {
			if o := w.dora(unacked[i:i+1], secs, 600*time.Millisecond); len(o[0].offers) != 0 {
				t.Errorf("standby answered %s (secs %d) with %d unacked clients: %v", unacked[i], secs, i+1, o[0].servers())
			}
		}
		st := status(t, s2.d, 0)
		if st.Servers.Local.State != "hot-standby" || st.Servers.Remote.UnackedClients != 2 ||
			st.Servers.Remote.UnackedClientsLeft != 1 || st.Servers.Remote.ConnectingClients != 5 {
			t.Errorf("standby after 5 clients (2 unacked): state %s, unacked %d, left %d, connecting %d; want hot-standby, 2, 1, 5",
				st.Servers.Local.State, st.Servers.Remote.UnackedClients, st.Servers.Remote.UnackedClientsLeft,
				st.Servers.Remote.ConnectingClients)
		}
		// The third unacked client (secs 2560 = 10 s little-endian) is one
		// more than max-unacked-clients: partner-down.
		trip := time.Now()
		w.dora(unacked[3:4], 2560, 300*time.Millisecond)
		waitState(t, s2.d, 0, "partner-down", 5*time.Second)
		t.Logf("FIGURE failover: interrupted %v after kill -9 (max-response-delay 2 s); partner-down %v after the 3rd unacked client (%v after kill -9, the test paced 5 probes of 0.6 s in between)",
			interrupted.Round(time.Millisecond), time.Since(trip).Round(time.Millisecond), time.Since(killed).Round(time.Millisecond))
		if st := status(t, s2.d, 0); !slices.Equal(st.Servers.Local.Scopes, []string{"server1"}) {
			t.Errorf("standby in partner-down serves scopes %v, want [server1]", st.Servers.Local.Scopes)
		}
		// Now the standby serves everyone: the waiting clients, and the
		// primary's clients keep their addresses (the standby had them).
		outage = append(append([]haClient{}, quiet...), unacked...)
		outs := w.dora(outage, 3, time.Second)
		for i, o := range outs {
			if got := o.servers(); !slices.Equal(got, []string{"10.99.0.2"}) || o.addr() == "" {
				t.Errorf("client %s after failover: offers %v, ACK %q; want the standby's", outage[i], got, o.addr())
			}
		}
		record(outage, outs)
		again := w.dora(early, 0, time.Second)
		for i, o := range again {
			if o.addr() != earlyAddr[i] || !slices.Equal(o.servers(), []string{"10.99.0.2"}) {
				t.Errorf("primary's client %s got %q from %v after failover, had %q", early[i], o.addr(), o.servers(), earlyAddr[i])
			}
		}
		haNoDoubleLease(t, view, map[string]map[string]leaseJSON{"standby": leasesOf(t, s2.d)})
		// The dead primary's lease file holds what it granted: none of it
		// may disagree with the standby.
		primaryFile := map[string]leaseJSON{}
		for ip, r := range liveCSV(readCSV(t, s1.env.leasePath())) {
			primaryFile[ip] = leaseJSON{IPAddress: ip, HWAddress: r.HWAddr}
		}
		haNoDoubleLease(t, view, map[string]map[string]leaseJSON{"standby": leasesOf(t, s2.d), "primary-csv": primaryFile})
	})
	if t.Failed() {
		return
	}

	t.Run("return-and-resync", func(t *testing.T) {
		back := time.Now()
		s1.d.Restart()
		took := waitPair(t, s1.d, s2.d, "hot-standby", 20*time.Second)
		t.Logf("FIGURE resync: pair back in hot-standby %v after the primary restarted (%v ready→paired)",
			time.Since(back).Round(time.Millisecond), took.Round(time.Millisecond))
		pages := haMetric(t, s1.d, `xdhcp_ha_sync_pages{server="server1",relationship="0"}`)
		recv := haMetric(t, s1.d, `xdhcp_ha_sync_leases_received{server="server1",relationship="0"}`)
		applied := haMetric(t, s1.d, `xdhcp_ha_sync_leases_applied{server="server1",relationship="0"}`)
		t.Logf("FIGURE resync: %v page(s), %v leases received, %v applied", pages, recv, applied)
		text := s1.d.metrics()
		checkPromtool(t, text)
		if v, ok := metricValue(text, `xdhcp_ha_state{server="server1",relationship="0",state="hot-standby"}`); !ok || v != 1 {
			t.Errorf("xdhcp_ha_state hot-standby = %v (present %v), want 1", v, ok)
		}
		if v, _ := metricValue(text, `xdhcp_ha_transitions_total{server="server1",relationship="0"}`); v < 1 {
			t.Errorf("xdhcp_ha_transitions_total = %v after a restart and resync, want ≥ 1", v)
		}
		n2 := len(leasesOf(t, s2.d))
		// Applied: every lease the standby wrote in the outage, the
		// primary's own clients' renewals included (newer cltt).
		if pages < 1 || int(recv) != n2 || int(applied) != len(outage)+len(early) {
			t.Errorf("primary's sync: %v pages, %v received, %v applied; want ≥1, %d (standby's leases), %d (written in the outage)",
				pages, recv, applied, n2, len(outage)+len(early))
		}
		for ip, hw := range view {
			waitLease(t, s1.d, "returned primary", ip, hw, time.Second)
		}
		haNoDoubleLease(t, view, map[string]map[string]leaseJSON{"primary": leasesOf(t, s1.d), "standby": leasesOf(t, s2.d)})
		// Back to normal: the primary answers, the standby does not.
		late := haClients(4, 3)
		for i, o := range w.dora(late, 10, 700*time.Millisecond) {
			if got := o.servers(); !slices.Equal(got, []string{"10.99.0.1"}) || o.addr() == "" {
				t.Errorf("client %s after return: offers %v, ACK %q; want the primary's only", late[i], got, o.addr())
			}
		}
		if st := status(t, s1.d, 0); !slices.Equal(st.Servers.Local.Scopes, []string{"server1"}) {
			t.Errorf("returned primary serves %v", st.Servers.Local.Scopes)
		}
		if st := status(t, s2.d, 0); len(st.Servers.Local.Scopes) != 0 {
			t.Errorf("standby still serves %v after the primary's return", st.Servers.Local.Scopes)
		}
	})
}

// haScopeVectors are load-balancing vectors checked against a live Kea 2.2
// pair: client-id payload → server, and hw-address keys computed from the
// RFC 3074 table.
var haScopeVectors = []struct {
	cid, hw string
	server  string
}{
	{cid: "01:00:0c:01:02:03:04", server: "server1"}, {cid: "01:00:0c:01:02:03:05", server: "server1"},
	{cid: "01:00:0c:01:02:03:06", server: "server1"}, {cid: "01:00:0c:01:02:03:07", server: "server2"},
	{cid: "01:00:0c:01:02:03:08", server: "server1"}, {cid: "01:00:0c:01:02:03:09", server: "server1"},
	{cid: "01:00:0c:01:02:03:0a", server: "server1"}, {cid: "01:00:0c:01:02:03:0b", server: "server1"},
	{cid: "01:00:0c:01:02:03:0c", server: "server1"}, {cid: "01:00:0c:01:02:03:0d", server: "server1"},
	{cid: "01:00:0c:01:02:03:0e", server: "server2"}, {cid: "01:00:0c:01:02:03:0f", server: "server2"},
	{cid: "01:00:0c:01:02:03:10", server: "server2"}, {cid: "01:00:0c:01:02:03:11", server: "server1"},
	{cid: "01:00:0c:01:02:03:12", server: "server2"}, {cid: "01:00:0c:01:02:03:13", server: "server1"},
	{cid: "01:00:0c:01:02:03:14", server: "server2"}, {cid: "01:00:0c:01:02:03:15", server: "server2"},
	{cid: "01:00:0c:01:02:03:16", server: "server2"}, {cid: "01:00:0c:01:02:03:17", server: "server2"},
	{hw: "00:0c:01:02:03:04", server: "server2"}, {hw: "aa:bb:cc:dd:ee:ff", server: "server2"},
}

// haLBClients are the reference vectors plus generated clients.
func haLBClients(t *testing.T) ([]haClient, []string) {
	var cs []haClient
	var want []string
	for i, v := range haScopeVectors {
		if v.hw != "" {
			m, err := net.ParseMAC(v.hw)
			if err != nil {
				t.Fatal(err)
			}
			cs = append(cs, haClient{mac: m})
		} else {
			cs = append(cs, haClient{mac: net.HardwareAddr{0x02, 0x71, 0xee, 0, 0, byte(i)}, cid: mustHex(t, v.cid)})
		}
		want = append(want, v.server)
	}
	gen := haClients(5, 40)
	for _, c := range gen {
		cs = append(cs, c)
		want = append(want, []string{"server1", "server2"}[lbhash.Sum(c.key())%2])
	}
	// The vectors must agree with the hash the daemon and XDP use.
	for i, v := range haScopeVectors {
		if got := []string{"server1", "server2"}[lbhash.Sum(cs[i].key())%2]; got != v.server {
			t.Fatalf("lbhash.Sum disagrees with the reference vector %+v: %s", v, got)
		}
	}
	return cs, want
}

func mustHex(t *testing.T, s string) []byte {
	var b []byte
	for i := 0; i < len(s); i += 3 {
		var v byte
		if _, err := fmt.Sscanf(s[i:i+2], "%02x", &v); err != nil {
			t.Fatalf("hex %q: %v", s, err)
		}
		b = append(b, v)
	}
	return b
}

// TestE2EHALoadBalancing: every client is answered by exactly the server
// Kea's RFC 3074 split names, gets an address from that server's
// HA_<server> pool, and its lease reaches the partner; in XDP mode the
// partner's queries die in the driver.
func TestE2EHALoadBalancing(t *testing.T) {
	for _, mode := range []string{"off", "native"} {
		t.Run("xdp="+mode, func(t *testing.T) {
			_, seg, s1, s2 := haPair(t)
			bpffs := ""
			if mode != "off" {
				bpffs = mountBPFFS(t)
			}
			peers := []haPeer{{"server1", haURL("10.99.0.1"), "primary"}, {"server2", haURL("10.99.0.2"), "secondary"}}
			subnets := []any{haSubnet(1, "10.99.0.0/16",
				[]string{"10.99.1.1 - 10.99.1.250|HA_server1", "10.99.2.1 - 10.99.2.250|HA_server2"}, nil)}
			for _, n := range []*haNode{s1, s2} {
				ifc := map[*haNode]string{s1: "s1", s2: "s2"}[n]
				n.start(n.xdhcpdConfig(haServerCfg{ifaces: []string{ifc}, subnets: subnets,
					rels: []any{haRel(n.name, "load-balancing", peers, nil)}, xdp: mode, bpffs: bpffs}))
			}
			waitPair(t, s1.d, s2.d, "load-balancing", 20*time.Second)
			if mode != "off" && !xqXDPAttached(s1.d) {
				t.Fatalf("xdhcpd did not attach XDP in mode %s; log:\n%s", mode, s1.d.Log())
			}
			cs, want := haLBClients(t)
			w := seg.wire()
			srvIP := map[string]string{"server1": "10.99.0.1", "server2": "10.99.0.2"}
			pool := map[string]string{"server1": "10.99.1.", "server2": "10.99.2."}
			per := map[string]int{}
			// Every DISCOVER at once: each client gets exactly one offer,
			// from the server the hash names, out of that server's
			// HA_<server> pool.
			outs := w.discoverAll(cs, 0, 1500*time.Millisecond)
			for i, o := range outs {
				got := o.servers()
				if !slices.Equal(got, []string{srvIP[want[i]]}) {
					t.Errorf("client %s (hash %d): offers from %v, want exactly %s", cs[i], lbhash.Sum(cs[i].key()), got, want[i])
					continue
				}
				if a := o.offers[0].YourIPAddr.String(); !strings.HasPrefix(a, pool[want[i]]) {
					t.Errorf("client %s: offered %s, want an address of %s's pool %s*", cs[i], a, want[i], pool[want[i]])
				}
				per[want[i]]++
			}
			t.Logf("FIGURE load-balancing split: server1 %d, server2 %d of %d clients (all as the RFC 3074 hash says: %v)",
				per["server1"], per["server2"], len(cs), !t.Failed())
			view := map[string]string{}
			acked := func(from, to int) int {
				n := 0
				for i := from; i < to; i++ {
					if a := outs[i].addr(); a != "" && len(outs[i].offers) > 0 && a == outs[i].offers[0].YourIPAddr.String() {
						view[a] = cs[i].mac.String()
						n++
					}
				}
				return n
			}
			// The reference's vectors one REQUEST at a time: only one
			// server works on a lease update at any moment.
			nv := len(haScopeVectors)
			for i := range nv {
				w.requestAll(cs[i:i+1], outs[i:i+1], 0, 3*time.Second)
			}
			if n := acked(0, nv); n != nv {
				t.Errorf("%d of %d clients REQUESTing one at a time got their ACK", n, nv)
			}
			// The rest at once, as a busy segment has it: both servers
			// update each other concurrently.
			start := time.Now()
			w.requestAll(cs[nv:], outs[nv:], 0, 4*time.Second)
			if n := acked(nv, len(cs)); n != len(cs)-nv {
				t.Errorf("only %d of %d concurrent REQUESTs got an ACK within 4 s (both servers sending lease4-update to each other at once; see the log's \"lease update to partner failed\")",
					n, len(cs)-nv)
			} else {
				t.Logf("FIGURE load-balancing: %d concurrent REQUESTs all ACKed in %v", n, time.Since(start).Round(time.Millisecond))
			}
			for ip, hw := range view {
				waitLease(t, s1.d, "server1", ip, hw, 2*time.Second)
				waitLease(t, s2.d, "server2", ip, hw, 2*time.Second)
			}
			haNoDoubleLease(t, view, map[string]map[string]leaseJSON{"server1": leasesOf(t, s1.d), "server2": leasesOf(t, s2.d)})
			if mode != "off" {
				// Each server dropped in XDP the partner's DISCOVER and
				// REQUEST of every partner client (the replies' broadcasts
				// are server messages, never HA-scoped).
				for _, n := range []*haNode{s1, s2} {
					other := map[string]string{"server1": "server2", "server2": "server1"}[n.name]
					drops := n.d.stat("xdp-drop-ha-out-of-scope")
					if drops != int64(2*per[other]) {
						t.Errorf("%s: xdp-drop-ha-out-of-scope %d, want %d (DISCOVER+REQUEST of %d %s clients)",
							n.name, drops, 2*per[other], per[other], other)
					}
				}
			}
		})
	}
}

// xqXDPAttached reports whether this incarnation of the daemon logged an
// XDP listener (it falls back to socket mode when it cannot attach).
func xqXDPAttached(d *e2eDaemon) bool {
	return strings.Contains(d.Log(), `mode=xdp`)
}
