package main

// DHCPv6 High Availability with a real kea-dhcp6 2.2 partner: the pair
// reaches its normal state, the leases either server gives (perfdhcp -6,
// an address and a /56 each) reach the other through lease6-bulk-apply,
// a partner killed with kill -9 sends the survivor to partner-down and it
// serves every client, and the partner that returns resynchronizes
// (lease6-get-page) before the pair is back.
//
//	bridge ns: br0 ── p1 ── s1 (server1: 10.99.0.1/16, 2001:db8:1::1/64)
//	               ── p2 ── s2 (server2: 10.99.0.2/16, 2001:db8:1::2/64)
//	               ── pc ── xc0 (client ns, link-local only)

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"xdhcp/control/client"
	"xdhcp/internal/daemontest"
	"xdhcp/internal/lab"
)

// ha6Lab is the DHCPv6 HA lab: two server namespaces and a client
// namespace on one bridge.
type ha6Lab struct {
	t     *testing.T
	lab   *lab.Lab
	cli   *lab.NS
	nodes [2]*ha6Node
}

// ha6Node is one server of the pair: kea-dhcp6 or xdhcpd, restartable.
type ha6Node struct {
	name, ifname, ip4 string
	ns                *lab.NS
	dir               string
	kea               bool
	// dual: xdhcpd serves Dhcp4 too, with its own HA relationship
	// (hot-standby, peer URLs on port 8000), commanded through ctl4;
	// bpffs, when set, runs it in native XDP mode with pins there.
	dual  bool
	bpffs string
	// agent: kea-dhcp6 behind kea-ctrl-agent on port 8000 (the HA
	// quickstart's layout), commanded on its UNIX socket; the pair's
	// peer URLs are then on port 8000 without HA+MT listeners.
	agent     bool
	proc      *daemontest.Process
	ctl, ctl4 daemontest.Commander
}

// Try implements daemontest.Commander.
func (n *ha6Node) Try(command string, args any) (daemontest.Answer, error) {
	return n.ctl.Try(command, args)
}

func newHA6Lab(t *testing.T) *ha6Lab {
	t.Helper()
	l := lab.ForTest(t, "x6h")
	h := &ha6Lab{t: t, lab: l}
	br, err := l.NS("b")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Bridge(br, "br0", netip.Prefix{}); err != nil {
		t.Fatal(err)
	}
	// Without an MLD querier on the segment snooping could keep the
	// servers' multicast group from the clients' Solicits.
	if out, err := br.Command(context.Background(), "ip", "link", "set", "br0", "type", "bridge", "mcast_snooping", "0").CombinedOutput(); err != nil {
		t.Fatalf("mcast_snooping off: %v %s", err, out)
	}
	if h.cli, err = l.NS("c"); err != nil {
		t.Fatal(err)
	}
	if err := h.cli.EnableIPv6(); err != nil {
		t.Fatal(err)
	}
	if err := l.VethToBridge(br, "br0", "pc", h.cli, e2eClientIf, netip.Prefix{}); err != nil {
		t.Fatal(err)
	}
	for i := range h.nodes {
		n := &ha6Node{name: fmt.Sprintf("server%d", i+1), ifname: fmt.Sprintf("s%d", i+1),
			ip4: fmt.Sprintf("10.99.0.%d", i+1), dir: t.TempDir()}
		if n.ns, err = l.NS(n.ifname); err != nil {
			t.Fatal(err)
		}
		if err := n.ns.EnableIPv6(); err != nil {
			t.Fatal(err)
		}
		if err := l.VethToBridge(br, "br0", fmt.Sprintf("p%d", i+1), n.ns, n.ifname, netip.MustParsePrefix(n.ip4+"/16")); err != nil {
			t.Fatal(err)
		}
		if err := n.ns.AddAddr(n.ifname, netip.MustParsePrefix(fmt.Sprintf("2001:db8:1::%d/64", i+1))); err != nil {
			t.Fatal(err)
		}
		h.nodes[i] = n
	}
	waitLinkLocal(t, h.cli, e2eClientIf)
	for _, n := range h.nodes {
		waitLinkLocal(t, n.ns, n.ifname)
	}
	return h
}

// waitLinkLocal waits until ifc in ns has a usable link-local address.
func waitLinkLocal(t *testing.T, ns *lab.NS, ifc string) {
	t.Helper()
	if !poll(10*time.Second, func() bool {
		out, _ := ns.Command(context.Background(), "ip", "-6", "addr", "show", "dev", ifc, "scope", "link").CombinedOutput()
		return strings.Contains(string(out), "fe80::") && !strings.Contains(string(out), "tentative")
	}) {
		t.Fatalf("%s has no usable link-local address", ifc)
	}
}

// ha6Subnet is the subnet both servers serve: addresses of
// 2001:db8:1::/64 and /56 prefixes; in load-balancing each server's scope
// has its own pool and pd-pool (HA_server1 / HA_server2), so where a
// lease comes from says who gave it.
func ha6Subnet(mode, ifname string) map[string]any {
	sn := map[string]any{"id": 1, "subnet": "2001:db8:1::/64", "interface": ifname}
	if mode == "load-balancing" {
		sn["pools"] = []any{
			map[string]any{"pool": "2001:db8:1::1:0/112", "client-class": "HA_server1"},
			map[string]any{"pool": "2001:db8:1::2:0/112", "client-class": "HA_server2"}}
		sn["pd-pools"] = []any{
			map[string]any{"prefix": "2001:db8:100::", "prefix-len": 48, "delegated-len": 56, "client-class": "HA_server1"},
			map[string]any{"prefix": "2001:db8:200::", "prefix-len": 48, "delegated-len": 56, "client-class": "HA_server2"}}
		return sn
	}
	sn["pools"] = []any{map[string]any{"pool": "2001:db8:1::1:0/112"}}
	sn["pd-pools"] = []any{map[string]any{"prefix": "2001:db8:100::", "prefix-len": 40, "delegated-len": 56}}
	return sn
}

// dhcp6Config is the Dhcp6 section of a node (Kea's or xdhcpd's): the
// same on both but for paths, with HA relationship rel.
func (n *ha6Node) dhcp6Config(mode string, rel map[string]any) map[string]any {
	logName := "kea-dhcp6"
	out := "stderr"
	if n.kea {
		out = filepath.Join(n.dir, "kea.log")
	}
	return map[string]any{
		"interfaces-config": map[string]any{"interfaces": []any{n.ifname}},
		"data-directory":    n.dir,
		"lease-database": map[string]any{"type": "memfile", "persist": true, "lfc-interval": 0,
			"name": filepath.Join(n.dir, "leases6.csv")},
		"preferred-lifetime": 3000, "valid-lifetime": 4000,
		"subnet6":         []any{ha6Subnet(mode, n.ifname)},
		"multi-threading": map[string]any{"enable-multi-threading": true, "thread-pool-size": 2, "packet-queue-size": 16},
		"hooks-libraries": []any{
			map[string]any{"library": keaHooksDir + "/libdhcp_lease_cmds.so"},
			map[string]any{"library": keaHooksDir + "/libdhcp_ha.so",
				"parameters": map[string]any{"high-availability": []any{rel}}},
		},
		"loggers": []any{map[string]any{"name": logName, "severity": "INFO",
			"output_options": []any{map[string]any{"output": out}}}},
	}
}

// start runs the node's server (kea-dhcp6 when kea, else xdhcpd) with
// relationship rel and waits until it answers status-get: Kea on its HA+MT
// dedicated listener, xdhcpd on its UNIX control socket (the DHCPv6 HA's
// status, as the daemon serves no DHCPv4 HA).
func (n *ha6Node) start(t *testing.T, mode string, rel map[string]any) {
	t.Helper()
	d6 := n.dhcp6Config(mode, rel)
	env := []string{"KEA_PIDFILE_DIR=" + n.dir, "KEA_LOCKFILE_DIR=" + n.dir}
	var args []string
	if n.kea && n.agent {
		sock := shortSocket(t, "kea6")
		d6["control-socket"] = map[string]any{"socket-type": "unix", "socket-name": sock}
		delete(d6, "multi-threading")
		n.ctl = daemontest.NewUnixControl(sock, 5*time.Second)
		agent := daemontest.NewProcess(t, daemontest.ProcessOptions{Name: "kea-ctrl-agent of " + n.name, NS: n.ns,
			Args: []string{needBinary(t, "kea-ctrl-agent"), "-c", daemontest.WriteConfig(t, filepath.Join(n.dir, "kea-ctrl-agent.json"),
				map[string]any{"Control-agent": map[string]any{"http-host": n.ip4, "http-port": 8000,
					"control-sockets": map[string]any{"dhcp6": map[string]any{"socket-type": "unix", "socket-name": sock}}}})},
			Env: env, Log: filepath.Join(n.dir, "kea-ctrl-agent.out")})
		agent.Launch()
		args = []string{needBinary(t, "kea-dhcp6"), "-c", daemontest.WriteConfig(t, filepath.Join(n.dir, "kea-dhcp6.json"), map[string]any{"Dhcp6": d6})}
	} else if n.kea {
		n.ctl = daemontest.NewControl(n.ns, haURLPort(n.ip4, keaHAPort), 5*time.Second)
		args = []string{needBinary(t, "kea-dhcp6"), "-c", daemontest.WriteConfig(t, filepath.Join(n.dir, "kea-dhcp6.json"), map[string]any{"Dhcp6": d6})}
	} else {
		sock := shortSocket(t, "x6")
		d6["control-socket"] = map[string]any{"socket-type": "unix", "socket-name": sock}
		cfg := map[string]any{"Dhcp6": d6}
		n.ctl = daemontest.NewUnixControl(sock, 5*time.Second)
		if n.dual {
			// One control socket answers both families; "service" picks
			// the HA relationship a command is for.
			n.ctl, n.ctl4 = svcControl(t, sock, client.ServiceDHCP6), svcControl(t, sock, client.ServiceDHCP4)
			cfg["Dhcp4"] = map[string]any{
				"interfaces-config": map[string]any{"interfaces": []any{n.ifname}},
				"lease-database": map[string]any{"type": "memfile", "persist": true, "lfc-interval": 0,
					"name": filepath.Join(n.dir, "leases4.csv")},
				"valid-lifetime": 600,
				"subnet4":        []any{haSubnet(1, "10.99.0.0/16", []string{"10.99.1.1 - 10.99.1.250"}, nil)},
				"hooks-libraries": []any{
					map[string]any{"library": keaHooksDir + "/libdhcp_lease_cmds.so"},
					map[string]any{"library": keaHooksDir + "/libdhcp_ha.so", "parameters": map[string]any{
						"high-availability": []any{haRel(n.name, "hot-standby", []haPeer{
							{"server1", haURL("10.99.0.1"), "primary"}, {"server2", haURL("10.99.0.2"), "standby"}}, nil)}}},
				},
				"xdhcp": map[string]any{"xdp": map[string]any{"mode": "off"}},
			}
			if n.bpffs != "" {
				dhcp4(cfg)["xdhcp"] = map[string]any{"xdp": map[string]any{"mode": "native", "bpffs": n.bpffs}}
			}
		}
		args = []string{xdhcpd.Path(t), "-c", daemontest.WriteConfig(t, filepath.Join(n.dir, "xdhcpd.json"), cfg)}
	}
	what := map[bool]string{true: "kea-dhcp6", false: "xdhcpd"}[n.kea]
	n.proc = daemontest.NewProcess(t, daemontest.ProcessOptions{Name: what + " of " + n.name, NS: n.ns, Args: args,
		Env: env, Log: filepath.Join(n.dir, what+".out")})
	t.Cleanup(func() {
		if t.Failed() {
			log := n.proc.Log()
			if n.kea {
				b, _ := os.ReadFile(filepath.Join(n.dir, "kea.log"))
				log = string(b)
			}
			if len(log) > 8000 {
				log = log[len(log)-8000:]
			}
			t.Logf("%s (%s) log:\n%s", n.name, what, log)
		}
	})
	n.launch()
}

// launch (re)starts the node's process and waits for its control channel.
func (n *ha6Node) launch() {
	n.proc.Launch()
	n.proc.WaitUntil(20*time.Second, "answering status-get", func() error { return answers(n, "status-get") })
}

// serviceControl sends commands over a UNIX control socket with
// "service", as a Control Agent forwards them.
type serviceControl struct{ c *client.Client }

func svcControl(t *testing.T, sock, service string) serviceControl {
	t.Helper()
	c, err := client.New(client.Options{Socket: sock, Service: service, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return serviceControl{c}
}

// Try implements daemontest.Commander.
func (s serviceControl) Try(command string, args any) (daemontest.Answer, error) {
	return s.c.Do(context.Background(), command, args)
}

// lease6 is one lease of lease6-get-all.
type lease6 struct {
	Addr      string `json:"ip-address"`
	Type      string `json:"type"`
	PrefixLen int    `json:"prefix-len"`
	DUID      string `json:"duid"`
	IAID      uint32 `json:"iaid"`
	SubnetID  uint32 `json:"subnet-id"`
	ValidLft  uint32 `json:"valid-lft"`
	State     int    `json:"state"`
}

// leases6Of is lease6-get-all of c by address.
func leases6Of(t *testing.T, c daemontest.Commander) map[string]lease6 {
	t.Helper()
	a := daemontest.Command(t, c, "lease6-get-all", nil)
	out := map[string]lease6{}
	if a.Result == 3 {
		return out
	}
	if a.Result != 0 {
		t.Fatalf("lease6-get-all: result %d %q", a.Result, a.Text)
	}
	var args struct {
		Leases []lease6 `json:"leases"`
	}
	if err := json.Unmarshal(a.Arguments, &args); err != nil {
		t.Fatalf("lease6-get-all: %v", err)
	}
	for _, l := range args.Leases {
		out[l.Addr] = l
	}
	return out
}

// waitLeases6 waits until c holds every lease of want (same type, DUID
// and IAID), and fails the test naming the missing ones.
func waitLeases6(t *testing.T, c daemontest.Commander, who string, want map[string]lease6, timeout time.Duration) {
	t.Helper()
	var missing []string
	deadline := time.Now().Add(timeout)
	for {
		got := leases6Of(t, c)
		missing = missing[:0]
		for a, w := range want {
			if g, ok := got[a]; !ok || g.Type != w.Type || g.DUID != w.DUID || g.IAID != w.IAID {
				missing = append(missing, a+" ("+w.Type+")")
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s lacks %d of %d leases after %v: %v", who, len(missing), len(want), timeout, missing)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// perfdhcp6 runs perfdhcp -6 (an address and a prefix per client, n
// clients) on the client segment and returns its output; it asserts
// nothing, the servers' leases say what happened.
func (h *ha6Lab) perfdhcp6(n int) string {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	args := []string{"-6", "-l", e2eClientIf, "-e", "address-and-prefix", "-r", fmt.Sprint(4 * n), "-R", fmt.Sprint(n),
		"-n", fmt.Sprint(n), "-W", "1500000"}
	out, err := h.cli.Command(ctx, needBinary(h.t, "perfdhcp"), args...).CombinedOutput()
	if err != nil && !strings.Contains(string(out), "Statistics for") {
		h.t.Fatalf("perfdhcp %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// newLeases are the leases of now that were not in before.
func newLeases(before, now map[string]lease6) map[string]lease6 {
	out := map[string]lease6{}
	for a, l := range now {
		if _, ok := before[a]; !ok {
			out[a] = l
		}
	}
	return out
}

// ha6Rel is the HA relationship of server this, in mode: with HA+MT
// dedicated listeners (kea-dhcp6 needs one to be reached without a
// control agent) on port 8001, or with agent peer URLs on port 8000 that
// kea-ctrl-agent (and xdhcpd itself) serve.
func ha6Rel(this, mode string, agent bool) map[string]any {
	return keaPeering{mt: !agent, mode: mode}.rel(this, "10.99.0.1", "10.99.0.2")
}

// TestE2EHA6Kea pairs xdhcpd with kea-dhcp6 2.2: in hot-standby with
// xdhcpd as the standby and in load-balancing with xdhcpd as server1 (the
// primary); XDHCP_HA_FAULTS_ALL=1 runs every role in both modes.
func TestE2EHA6Kea(t *testing.T) {
	needBinary(t, "kea-dhcp6")
	needBinary(t, "perfdhcp")
	needKeaHooks(t)
	type pairCase struct {
		mode     string
		keaFirst bool // Kea is server1 (the primary)
		agent    bool // Kea behind kea-ctrl-agent, xdhcpd serving its own peer URL
	}
	cases := []pairCase{{"hot-standby", true, true}, {"load-balancing", false, false}}
	if os.Getenv("XDHCP_HA_FAULTS_ALL") != "" {
		cases = append(cases, pairCase{"hot-standby", false, false}, pairCase{"load-balancing", true, true})
	}
	for _, tc := range cases {
		name := tc.mode + "/xdhcpd-" + map[bool]string{true: "server2", false: "server1"}[tc.keaFirst] +
			map[bool]string{true: "/agent", false: "/dedicated"}[tc.agent]
		// Each pair has its own lab: they run side by side.
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testHA6Pair(t, tc.mode, tc.keaFirst, tc.agent)
		})
	}
}

// testHA6Pair runs one pair through pairing, lease updates, failover and
// resynchronization of each side in turn.
func testHA6Pair(t *testing.T, mode string, keaFirst, agent bool) {
	h := newHA6Lab(t)
	s1, s2 := h.nodes[0], h.nodes[1]
	kea, us := s1, s2
	if !keaFirst {
		kea, us = s2, s1
	}
	kea.kea, kea.agent = true, agent
	kea.start(t, mode, ha6Rel(kea.name, mode, agent))
	us.start(t, mode, ha6Rel(us.name, mode, agent))
	took := waitPair(t, s1, s2, mode, 30*time.Second)
	t.Logf("FIGURE ha6 %s: pair in %s %v", t.Name(), mode, took.Round(time.Millisecond))

	// Leases given by either reach the other.
	out := h.perfdhcp6(16)
	all := leases6Of(t, s1)
	for a, l := range leases6Of(t, s2) {
		all[a] = l
	}
	if len(all) < 8 {
		t.Fatalf("perfdhcp -6 got %d leases from the pair, want most of 16 clients' address and prefix:\n%s", len(all), out)
	}
	byServer := map[string]int{}
	for a := range all {
		switch {
		case strings.HasPrefix(a, "2001:db8:1::1:"), strings.HasPrefix(a, "2001:db8:100:"):
			byServer["server1"]++
		case strings.HasPrefix(a, "2001:db8:1::2:"), strings.HasPrefix(a, "2001:db8:200:"):
			byServer["server2"]++
		}
	}
	if mode == "load-balancing" && (byServer["server1"] == 0 || byServer["server2"] == 0) {
		t.Errorf("load-balancing: leases by scope %v, want both servers serving", byServer)
	}
	if mode == "hot-standby" && byServer["server2"] != 0 {
		t.Errorf("hot-standby: %d leases from the standby's side", byServer["server2"])
	}
	waitLeases6(t, s1, "server1", all, 3*time.Second)
	waitLeases6(t, s2, "server2", all, 3*time.Second)
	t.Logf("FIGURE ha6 %s: %d leases (by scope %v) on both servers", t.Name(), len(all), byServer)
	if t.Failed() {
		return
	}

	// Each side dies in turn: the survivor goes partner-down and serves
	// everyone; the returning server resynchronizes and the pair is back.
	for _, dead := range []*ha6Node{kea, us} {
		survivor := map[*ha6Node]*ha6Node{kea: us, us: kea}[dead]
		what := map[bool]string{true: "kea-dhcp6", false: "xdhcpd"}
		killed := time.Now()
		dead.proc.Kill9()
		waitState(t, survivor, 0, "partner-down", 15*time.Second)
		t.Logf("FIGURE ha6 %s: %s in partner-down %v after kill -9 of %s", t.Name(), what[survivor.kea],
			time.Since(killed).Round(time.Millisecond), what[dead.kea])
		before := leases6Of(t, survivor)
		h.perfdhcp6(12)
		served := newLeases(before, leases6Of(t, survivor))
		if len(served) < 6 {
			t.Fatalf("%s in partner-down gave %d new leases to 12 clients", what[survivor.kea], len(served))
		}
		back := time.Now()
		dead.launch()
		took := waitPair(t, s1, s2, mode, 30*time.Second)
		t.Logf("FIGURE ha6 %s: pair back in %s %v after %s restarted (%v after the heartbeats agreed)", t.Name(), mode,
			time.Since(back).Round(time.Millisecond), what[dead.kea], took.Round(time.Millisecond))
		waitLeases6(t, dead, "returned "+what[dead.kea], leases6Of(t, survivor), 5*time.Second)
		if t.Failed() {
			return
		}
	}
}

// TestE2EHA6Pair: two xdhcpd serving Dhcp4 and Dhcp6, each family in an
// HA relationship of its own (DHCPv4 hot-standby on port 8000, DHCPv6
// load-balancing on dedicated listeners on port 8001), as Kea runs
// kea-dhcp4 and kea-dhcp6 side by side: both relationships pair, each
// family's leases reach the partner, and a server killed with kill -9
// sends both relationships of the survivor to partner-down; back, it
// resynchronizes both families. XDHCP_HA6_XDP=1 runs the pair in native
// XDP mode, where the DHCPv6 scope table filters in the driver.
func TestE2EHA6Pair(t *testing.T) {
	needBinary(t, "perfdhcp")
	needKeaHooks(t)
	const mode = "load-balancing"
	h := newHA6Lab(t)
	s1, s2 := h.nodes[0], h.nodes[1]
	bpffs := ""
	if os.Getenv("XDHCP_HA6_XDP") != "" {
		bpffs = mountBPFFS(t)
	}
	for _, n := range h.nodes {
		n.dual, n.bpffs = true, bpffs
		n.start(t, mode, ha6Rel(n.name, mode, false))
	}
	took := waitPair(t, s1, s2, mode, 20*time.Second)
	waitPair(t, s1.ctl4, s2.ctl4, "hot-standby", 20*time.Second)
	t.Logf("FIGURE ha6 pair: DHCPv6 in %s and DHCPv4 in hot-standby %v", mode, took.Round(time.Millisecond))
	if st := status(t, s1, 0); st.Mode != mode {
		t.Errorf("status-get for dhcp6: HA mode %q, want %q", st.Mode, mode)
	}
	if st := status(t, s1.ctl4, 0); st.Mode != "hot-standby" {
		t.Errorf("status-get for dhcp4: HA mode %q, want hot-standby", st.Mode)
	}
	// The admin commands reach the relationship their "service" names,
	// and only it.
	daemontest.OK(t, s1, "ha-maintenance-start", nil, nil)
	waitState(t, s2, 0, "in-maintenance", 5*time.Second)
	if st := status(t, s1, 0).Servers.Local.State; st != "partner-in-maintenance" {
		t.Errorf("DHCPv6 after ha-maintenance-start for dhcp6: %s", st)
	}
	if st := status(t, s1.ctl4, 0).Servers.Local.State; st != "hot-standby" {
		t.Errorf("DHCPv4 after ha-maintenance-start for dhcp6: %s, want hot-standby", st)
	}
	daemontest.OK(t, s1, "ha-maintenance-cancel", nil, nil)
	waitPair(t, s1, s2, mode, 10*time.Second)
	daemontest.OK(t, s1, "ha-scopes", map[string]any{"scopes": []string{"server1", "server2"}}, nil)
	if sc := status(t, s1, 0).Servers.Local.Scopes; len(sc) != 2 {
		t.Errorf("DHCPv6 scopes after ha-scopes: %v", sc)
	}
	if sc := status(t, s1.ctl4, 0).Servers.Local.Scopes; len(sc) != 1 {
		t.Errorf("DHCPv4 scopes after ha-scopes for dhcp6: %v", sc)
	}
	daemontest.OK(t, s1, "ha-scopes", map[string]any{"scopes": []string{"server1"}}, nil)
	if a := daemontest.OK(t, s1, "ha-continue", nil, nil); a.Text != "HA state machine is not paused." {
		t.Errorf("ha-continue: %q", a.Text)
	}

	h.perfdhcp6(12)
	all := leases6Of(t, s1)
	for a, l := range leases6Of(t, s2) {
		all[a] = l
	}
	if len(all) < 6 {
		t.Fatalf("perfdhcp -6 got %d leases from the pair", len(all))
	}
	waitLeases6(t, s1, "server1", all, 3*time.Second)
	waitLeases6(t, s2, "server2", all, 3*time.Second)
	if bpffs != "" {
		// In XDP mode the partner's DHCPv6 clients die in the driver,
		// by the DHCPv6 relationship's scope table.
		for _, n := range h.nodes {
			if d := daemontest.Stats(t, n.ctl4)["xdp-drop-ha-out-of-scope6"]; d == 0 {
				t.Errorf("%s: xdp-drop-ha-out-of-scope6 is 0 after load-balanced DHCPv6 traffic", n.name)
			}
		}
	}
	if a := daemontest.OK(t, s2, "ha-sync", map[string]any{"server-name": "server1"}, nil); a.Text != "Lease database synchronization complete." {
		t.Errorf("ha-sync: %q", a.Text)
	}
	mac := net.HardwareAddr{0x02, 0x66, 0, 0, 0, 1}
	l4 := daemontest.DORA(t, daemontest.NClient(t, h.cli, e2eClientIf, mac))
	ip4 := l4.ACK.YourIPAddr.String()
	waitLease(t, s2.ctl4, "DHCPv4 standby", ip4, mac.String(), 3*time.Second)
	if t.Failed() {
		return
	}

	// kill -9 server2: both of server1's relationships go partner-down,
	// it serves both families alone; server2 returns with both.
	s2.proc.Kill9()
	waitState(t, s1, 0, "partner-down", 15*time.Second)
	waitState(t, s1.ctl4, 0, "partner-down", 15*time.Second)
	before := leases6Of(t, s1)
	h.perfdhcp6(8)
	served := newLeases(before, leases6Of(t, s1))
	if len(served) < 4 {
		t.Fatalf("server1 in partner-down gave %d new DHCPv6 leases to 8 clients", len(served))
	}
	mac2 := net.HardwareAddr{0x02, 0x66, 0, 0, 0, 2}
	ip42 := daemontest.DORA(t, daemontest.NClient(t, h.cli, e2eClientIf, mac2)).ACK.YourIPAddr.String()
	s2.launch()
	waitPair(t, s1, s2, mode, 30*time.Second)
	waitPair(t, s1.ctl4, s2.ctl4, "hot-standby", 30*time.Second)
	waitLeases6(t, s2, "returned server2", leases6Of(t, s1), 5*time.Second)
	waitLease(t, s2.ctl4, "returned DHCPv4 standby", ip42, mac2.String(), 5*time.Second)
}
