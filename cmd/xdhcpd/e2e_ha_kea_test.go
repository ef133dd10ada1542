package main

// HA with a real Kea 2.2 as the partner, in both roles, so that an
// operator can migrate a Kea pair one box at a time: the same HA block on
// both servers (HA+MT dedicated listeners, as Kea 2.2 needs for a direct
// HTTP listener), heartbeats that agree on states, lease updates both
// ways, failover when the primary dies and resync when it returns.

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"xdhcp/internal/daemontest"
)

// keaHAPort is the port of both servers' HA+MT dedicated listeners.
const keaHAPort = 8001

// keaProc is a kea-dhcp4 in a server namespace, restartable.
type keaProc struct {
	*daemontest.Process
	ctl *daemontest.Control
}

// keaHARel is the HA block both servers of an HA+MT interop pair share.
func keaHARel(this string, primary, standby string) map[string]any {
	return keaPeering{mt: true}.rel(this, primary, standby)
}

// startKeaHA runs kea-dhcp4 on the node's interface ifname with raw
// sockets, a persistent memfile, lease_cmds and HA relationship rel. With
// an HA+MT dedicated listener, the test commands it there; otherwise
// kea-ctrl-agent serves the peer URL as pr describes (the HA quickstart's
// layout), kea-dhcp4 listens on a UNIX control socket, and the test
// commands it through that socket.
func (n *haNode) startKeaHA(bin, ifname string, rel map[string]any, pr keaPeering) *keaProc {
	t := n.h.t
	t.Helper()
	dir := n.env.dir
	d4 := map[string]any{
		"interfaces-config": map[string]any{"interfaces": []any{ifname}, "dhcp-socket-type": "raw"},
		"lease-database": map[string]any{"type": "memfile", "persist": true, "lfc-interval": 0,
			"name": filepath.Join(dir, "kea-leases4.csv")},
		"valid-lifetime": 600,
		"subnet4":        []any{pr.subnet()},
		"hooks-libraries": []any{
			map[string]any{"library": keaHooksDir + "/libdhcp_lease_cmds.so"},
			map[string]any{"library": keaHooksDir + "/libdhcp_ha.so",
				"parameters": map[string]any{"high-availability": []any{rel}}},
		},
		"loggers": []any{map[string]any{"name": "kea-dhcp4", "severity": "INFO",
			"output_options": []any{map[string]any{"output": filepath.Join(dir, "kea.log")}}}},
	}
	if pr.mt {
		d4["multi-threading"] = map[string]any{"enable-multi-threading": true, "thread-pool-size": 2, "packet-queue-size": 16}
	}
	env := append([]string{"KEA_PIDFILE_DIR=" + dir, "KEA_LOCKFILE_DIR=" + dir}, pr.keaEnv...)
	var ctl *daemontest.Control
	if pr.mt {
		ctl = daemontest.NewControl(n.ns, haURLPort(n.ip(ifname), keaHAPort), 5*time.Second)
	} else {
		sock := shortSocket(t, "kea4")
		d4["control-socket"] = map[string]any{"socket-type": "unix", "socket-name": sock}
		ctl = daemontest.NewUnixControl(sock, 5*time.Second)
		agent := daemontest.NewProcess(t, daemontest.ProcessOptions{
			Name: "kea-ctrl-agent of " + n.name,
			NS:   n.ns,
			Args: []string{needBinary(t, "kea-ctrl-agent"), "-c", n.env.writeConfig("kea-ctrl-agent.json",
				map[string]any{"Control-agent": pr.agent(n.ip(ifname), sock, n.name)})},
			Env: env,
			Log: filepath.Join(dir, "kea-ctrl-agent.out"),
		})
		agent.Launch()
	}
	k := &keaProc{ctl: ctl, Process: daemontest.NewProcess(t, daemontest.ProcessOptions{
		Name: "kea-dhcp4 of " + n.name,
		NS:   n.ns,
		Args: []string{bin, "-c", n.env.writeConfig("kea-dhcp4.json", map[string]any{"Dhcp4": d4})},
		Env:  env,
		Log:  filepath.Join(dir, "kea.out"),
	})}
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "kea.log"))
			if len(b) > 6000 {
				b = b[len(b)-6000:]
			}
			t.Logf("%s kea.log:\n%s", n.name, b)
		}
	})
	k.start()
	return k
}

// killSide kills Kea (kea) or xdhcpd with kill -9.
func killSide(kea bool, k *keaProc, us *e2eDaemon) {
	if kea {
		k.Kill9()
	} else {
		us.Kill9()
	}
}

// restartSide starts the killed Kea (kea) or xdhcpd again.
func restartSide(kea bool, k *keaProc, us *e2eDaemon) {
	if kea {
		k.start()
	} else {
		us.Restart()
	}
}

// startPeer runs xdhcpd on the node's interface ifname as the partner of
// a Kea server reached as pr says.
func (n *haNode) startPeer(ifname string, pr keaPeering) *e2eDaemon {
	t := n.h.t
	t.Helper()
	cfg := n.xdhcpdConfig(haServerCfg{ifaces: []string{ifname}, subnets: []any{pr.subnet()},
		rels: []any{pr.rel(n.name, "10.99.0.1", "10.99.0.2")}})
	if pr.mt {
		dhcp4(cfg)["multi-threading"] = map[string]any{"enable-multi-threading": true, "thread-pool-size": 2, "packet-queue-size": 16}
	} else {
		// The quickstart's control socket; with authentication, the same
		// Control-agent section as Kea's agent (xdhcpd is its own agent).
		sock := shortSocket(t, "x4")
		dhcp4(cfg)["control-socket"] = map[string]any{"socket-type": "unix", "socket-name": sock}
		if pr.auth {
			cfg["Control-agent"] = pr.agent(n.ip(ifname), sock, n.name)
		}
	}
	return n.start(cfg)
}

func haURLPort(ip string, port int) string { return "http://" + ip + ":" + strconv.Itoa(port) + "/" }

// start runs Kea and waits until its HA listener answers status-get.
func (k *keaProc) start() {
	k.Launch()
	k.WaitUntil(20*time.Second, "answering status-get on its HA listener", func() error { return answers(k, "status-get") })
}

// Try implements daemontest.Commander.
func (k *keaProc) Try(command string, args any) (daemontest.Answer, error) {
	return k.ctl.Try(command, args)
}

// TestE2EHAKeaInterop pairs xdhcpd with kea-dhcp4 2.2 in hot-standby, Kea
// as the primary and then as the standby.
func TestE2EHAKeaInterop(t *testing.T) {
	t.Parallel()
	bin := needBinary(t, "kea-dhcp4")
	needKeaHooks(t)
	t.Run("kea-primary", func(t *testing.T) { testKeaPair(t, bin, true, keaPeering{mt: true}) })
	t.Run("kea-standby", func(t *testing.T) { testKeaPair(t, bin, false, keaPeering{mt: true}) })
}

// testKeaPair: server1 (10.99.0.1) is the primary, server2 the standby;
// Kea is server1 when keaPrimary; pr says how they reach each other. With
// the quickstart's timers as written only the pairing and the lease
// updates are checked; otherwise also failover after kill -9 of the
// primary and resync when it returns, then the same for the standby.
func testKeaPair(t *testing.T, bin string, keaPrimary bool, pr keaPeering) {
	_, seg, s1, s2 := haPair(t)
	keaNode, usNode := s1, s2
	if !keaPrimary {
		keaNode, usNode = s2, s1
	}
	keaIf, usIf := map[*haNode]string{s1: "s1", s2: "s2"}[keaNode], map[*haNode]string{s1: "s1", s2: "s2"}[usNode]
	k := keaNode.startKeaHA(bin, keaIf, pr.rel(keaNode.name, "10.99.0.1", "10.99.0.2"), pr)
	us := usNode.startPeer(usIf, pr)
	var primary, standby daemontest.Commander = k, us
	var pNode, sNode *haNode = keaNode, usNode
	if !keaPrimary {
		primary, standby, pNode, sNode = us, k, usNode, keaNode
	}
	pairWait := 30 * time.Second
	if pr.asWritten {
		pairWait = 120 * time.Second // heartbeats every 10 s
	}
	took := waitPair(t, primary, standby, "hot-standby", pairWait)
	t.Logf("FIGURE kea interop: pair in hot-standby %v (heartbeats agree)", took.Round(time.Millisecond))
	for _, c := range []daemontest.Commander{primary, standby} {
		st := status(t, c, 0)
		if st.Mode != "hot-standby" || !slices.Equal(st.Servers.Remote.LastScopes, map[bool][]string{true: {}, false: {"server1"}}[c == primary]) {
			t.Errorf("status: %+v", st)
		}
	}
	pIP, sIP := pNode.ip(map[*haNode]string{s1: "s1", s2: "s2"}[pNode]), sNode.ip(map[*haNode]string{s1: "s1", s2: "s2"}[sNode])

	w := seg.wire()
	view := map[string]string{}
	serve := func(cs []haClient, from string, secs uint16) {
		t.Helper()
		for i, o := range w.dora(cs, secs, 1500*time.Millisecond) {
			if got := o.servers(); !slices.Equal(got, []string{from}) || o.addr() == "" {
				t.Errorf("client %s: offers %v, ACK %q; want only %s's", cs[i], got, o.addr(), from)
				continue
			}
			if prev, ok := view[o.addr()]; ok && prev != cs[i].mac.String() {
				t.Errorf("%s acknowledged to %s, already %s's", o.addr(), cs[i], prev)
			}
			view[o.addr()] = cs[i].mac.String()
		}
	}
	before := haClients(12, 4)
	serve(before, pIP, 0)
	for ip, hw := range view {
		waitLease(t, standby, "standby "+sNode.name, ip, hw, 2*time.Second)
	}
	probePeerURL(t, pr, seg, keaNode, keaNode.name, usNode.name, usNode.ip(usIf))
	if warned := strings.Contains(us.Log(), "authenticates partners by source address only"); warned != (!pr.auth && pr.tls == nil) {
		t.Errorf("start-up warning about address-only authentication: logged %v, want %v", warned, !warned)
	}
	if t.Failed() || pr.asWritten {
		return
	}

	server := map[bool]string{true: "Kea", false: "xdhcpd"}
	// failover kills Kea or xdhcpd with kill -9 and waits until the
	// survivor is in partner-down; restart brings it back.
	failover := func(kea bool, survivor daemontest.Commander, killed, left string) {
		t.Helper()
		start := time.Now()
		killSide(kea, k, us)
		waitState(t, survivor, 0, "partner-down", 15*time.Second)
		t.Logf("FIGURE kea interop: %s (%s) in partner-down %v after kill -9 of the %s (max-response-delay 3 s)",
			left, server[!kea], time.Since(start).Round(time.Millisecond), killed)
	}
	restart := func(kea bool) { restartSide(kea, k, us) }

	// Failover: kill -9 the primary.
	failover(keaPrimary, standby, "primary", "standby")
	outage := haClients(13, 4)
	serve(outage, sIP, 5)
	serve(before, sIP, 5) // the primary's clients keep their addresses
	if len(view) != len(before)+len(outage) {
		t.Errorf("%d addresses for %d clients: a client moved during the failover", len(view), len(before)+len(outage))
	}

	// Return: the primary restarts, resyncs from the standby, pair again.
	back := time.Now()
	restart(keaPrimary)
	took = waitPair(t, primary, standby, "hot-standby", 30*time.Second)
	t.Logf("FIGURE kea interop: pair back in hot-standby %v after the primary restarted", time.Since(back).Round(time.Millisecond))
	for ip, hw := range view {
		waitLease(t, primary, "returned primary "+pNode.name, ip, hw, 2*time.Second)
	}
	if !keaPrimary {
		recv := haMetric(t, us, `xdhcp_ha_sync_leases_received{server="server1",relationship="0"}`)
		applied := haMetric(t, us, `xdhcp_ha_sync_leases_applied{server="server1",relationship="0"}`)
		t.Logf("FIGURE kea interop: xdhcpd primary synced %v leases from Kea, applied %v", recv, applied)
		if int(recv) != len(view) || int(applied) != len(view) {
			t.Errorf("xdhcpd's sync from Kea: %v received, %v applied; want %d and %d", recv, applied, len(view), len(view))
		}
	}
	haNoDoubleLease(t, view, map[string]map[string]leaseJSON{"primary": leasesOf(t, primary), "standby": leasesOf(t, standby)})
	after := haClients(14, 2)
	serve(after, pIP, 0)
	for _, c := range after {
		for ip, hw := range view {
			if hw == c.mac.String() {
				waitLease(t, standby, "standby after the return", ip, hw, 2*time.Second)
			}
		}
	}
	if t.Failed() {
		return
	}

	// The other side: kill -9 the standby. The primary goes partner-down
	// and keeps serving; the standby returns, resyncs and holds every
	// lease.
	failover(!keaPrimary, primary, "standby", "primary")
	serve(haClients(15, 3), pIP, 0)
	back = time.Now()
	restart(!keaPrimary)
	waitPair(t, primary, standby, "hot-standby", 30*time.Second)
	t.Logf("FIGURE kea interop: pair back in hot-standby %v after the standby restarted", time.Since(back).Round(time.Millisecond))
	for ip, hw := range view {
		waitLease(t, standby, "returned standby "+sNode.name, ip, hw, 2*time.Second)
	}
	haNoDoubleLease(t, view, map[string]map[string]leaseJSON{"primary": leasesOf(t, primary), "standby": leasesOf(t, standby)})
}
