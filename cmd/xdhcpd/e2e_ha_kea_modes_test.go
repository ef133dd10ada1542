package main

// Load-balancing and passive-backup with a real Kea 2.2 partner (kea-dhcp4
// behind kea-ctrl-agent, xdhcpd serving its own peer URL), in both roles.

import (
	"slices"
	"strings"
	"testing"
	"time"

	"xdhcp/internal/daemontest"
)

// keaRoles starts Kea and xdhcpd as server1 (10.99.0.1) and server2
// (10.99.0.2), Kea first when keaFirst, and returns them as server1,
// server2 with Kea's process.
func keaRoles(t *testing.T, bin string, keaFirst bool, pr keaPeering) (seg *haSeg, s1, s2 daemontest.Commander, k *keaProc, us *e2eDaemon) {
	_, seg, n1, n2 := haPair(t)
	keaNode, usNode, keaIf, usIf := n1, n2, "s1", "s2"
	if !keaFirst {
		keaNode, usNode, keaIf, usIf = n2, n1, "s2", "s1"
	}
	k = keaNode.startKeaHA(bin, keaIf, pr.rel(keaNode.name, "10.99.0.1", "10.99.0.2"), pr)
	us = usNode.startPeer(usIf, pr)
	if keaFirst {
		return seg, k, us, k, us
	}
	return seg, us, k, k, us
}

// TestE2EHAKeaLoadBalancing: xdhcpd and Kea 2.2 in load-balancing, each
// as server1 and as server2: every client is answered by the server the
// RFC 3074 split names, from that server's pool, and its lease reaches
// the partner; after kill -9 of server2, server1 serves every client, and
// server2 returns to load-balancing with every lease.
func TestE2EHAKeaLoadBalancing(t *testing.T) {
	t.Parallel()
	bin := needKeaAgent(t)
	for _, keaFirst := range []bool{true, false} {
		t.Run(map[bool]string{true: "kea-server1", false: "kea-server2"}[keaFirst], func(t *testing.T) {
			pr := keaPeering{mode: "load-balancing"}
			seg, s1, s2, k, us := keaRoles(t, bin, keaFirst, pr)
			took := waitPair(t, s1, s2, "load-balancing", 30*time.Second)
			t.Logf("FIGURE kea load-balancing: pair in load-balancing %v", took.Round(time.Millisecond))
			cs, want := haLBClients(t)
			w := seg.wire()
			srvIP := map[string]string{"server1": "10.99.0.1", "server2": "10.99.0.2"}
			pool := map[string]string{"server1": "10.99.1.", "server2": "10.99.2."}
			outs := w.discoverAll(cs, 0, 1500*time.Millisecond)
			for i, o := range outs {
				if got := o.servers(); !slices.Equal(got, []string{srvIP[want[i]]}) {
					t.Errorf("client %s: offers from %v, want exactly %s", cs[i], got, want[i])
				} else if a := o.offers[0].YourIPAddr.String(); !strings.HasPrefix(a, pool[want[i]]) {
					t.Errorf("client %s: offered %s, want an address of %s's pool", cs[i], a, want[i])
				}
			}
			w.requestAll(cs, outs, 0, 4*time.Second)
			view := map[string]string{}
			for i, o := range outs {
				if a := o.addr(); a != "" {
					view[a] = cs[i].mac.String()
				} else {
					t.Errorf("client %s: no ACK", cs[i])
				}
			}
			for ip, hw := range view {
				waitLease(t, s1, "server1", ip, hw, 3*time.Second)
				waitLease(t, s2, "server2", ip, hw, 3*time.Second)
			}
			if t.Failed() {
				return
			}
			// kill -9 server2: server1 serves everyone.
			killed := time.Now()
			killSide(!keaFirst, k, us)
			waitState(t, s1, 0, "partner-down", 15*time.Second)
			t.Logf("FIGURE kea load-balancing: server1 in partner-down %v after kill -9 of server2", time.Since(killed).Round(time.Millisecond))
			late := haClients(16, 6)
			for i, o := range w.dora(late, 5, 1500*time.Millisecond) {
				if got := o.servers(); !slices.Equal(got, []string{srvIP["server1"]}) || o.addr() == "" {
					t.Errorf("client %s during the outage: offers %v, ACK %q; want server1's", late[i], got, o.addr())
					continue
				}
				view[o.addr()] = late[i].mac.String()
			}
			back := time.Now()
			restartSide(!keaFirst, k, us)
			waitPair(t, s1, s2, "load-balancing", 30*time.Second)
			t.Logf("FIGURE kea load-balancing: back in load-balancing %v after server2 restarted", time.Since(back).Round(time.Millisecond))
			for ip, hw := range view {
				waitLease(t, s2, "returned server2", ip, hw, 3*time.Second)
			}
			haNoDoubleLease(t, view, map[string]map[string]leaseJSON{"server1": leasesOf(t, s1), "server2": leasesOf(t, s2)})
		})
	}
}

// TestE2EHAKeaPassiveBackup: xdhcpd and Kea 2.2 in passive-backup, each as
// the primary and as the backup: the primary answers, its leases reach the
// backup; with the backup killed (kill -9) the primary keeps answering, and
// the restarted backup receives the leases that follow.
func TestE2EHAKeaPassiveBackup(t *testing.T) {
	t.Parallel()
	bin := needKeaAgent(t)
	for _, keaPrimary := range []bool{true, false} {
		t.Run(map[bool]string{true: "kea-primary", false: "kea-backup"}[keaPrimary], func(t *testing.T) {
			pr := keaPeering{mode: "passive-backup"}
			seg, primary, backup, k, us := keaRoles(t, bin, keaPrimary, pr)
			waitState(t, primary, 0, "passive-backup", 20*time.Second)
			waitState(t, backup, 0, "backup", 20*time.Second)
			w := seg.wire()
			serve := func(cs []haClient) map[string]string {
				t.Helper()
				view := map[string]string{}
				for i, o := range w.dora(cs, 0, 1500*time.Millisecond) {
					if got := o.servers(); !slices.Equal(got, []string{"10.99.0.1"}) || o.addr() == "" {
						t.Errorf("client %s: offers %v, ACK %q; want the primary's only", cs[i], got, o.addr())
						continue
					}
					view[o.addr()] = cs[i].mac.String()
				}
				return view
			}
			for ip, hw := range serve(haClients(17, 6)) {
				waitLease(t, backup, "backup", ip, hw, 3*time.Second)
			}
			if t.Failed() {
				return
			}
			killSide(!keaPrimary, k, us)
			serve(haClients(18, 3)) // the primary does not wait for its backup
			restartSide(!keaPrimary, k, us)
			waitState(t, backup, 0, "backup", 20*time.Second)
			for ip, hw := range serve(haClients(19, 3)) {
				waitLease(t, backup, "restarted backup", ip, hw, 3*time.Second)
			}
		})
	}
}
