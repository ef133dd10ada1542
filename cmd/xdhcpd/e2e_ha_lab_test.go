package main

// Lab and helpers of the High Availability end-to-end tests: several
// xdhcpd (and kea-dhcp4) servers in their own namespaces, joined by Linux
// bridges in a bridge namespace to client namespaces, so that every server
// of a pair sees the same broadcast DHCP traffic, exactly as on a real
// shared segment.
//
//	bridge ns: br0 ── p1 ── s1 (server ns 1, 10.99.0.1/16)
//	               ── p2 ── s2 (server ns 2, 10.99.0.2/16)
//	               ── pc ── xc0 (client ns, no address)
//
// Tests add segments (a second bridge for a second subnet, or a dedicated
// server-to-server link that can be cut) as they need them.

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"

	"xdhcp/internal/daemontest"
	"xdhcp/internal/lab"
)

// keaHooksDir is Debian's directory of Kea's hook libraries.
const keaHooksDir = "/usr/lib/x86_64-linux-gnu/kea/hooks"

// haLab is one HA lab: a bridge namespace and the segments and servers
// attached to it.
type haLab struct {
	t   *testing.T
	lab *lab.Lab
	br  *lab.NS
	n   int // interfaces created in the bridge namespace (port names)
}

// haSeg is one L2 segment: a bridge and, unless it is a server-to-server
// link, a client namespace whose xc0 is a port of it.
type haSeg struct {
	h      *haLab
	bridge string
	cli    *lab.NS // nil for a link without clients
	env    *e2eEnv // the client side (nclient, rawConn); nil without clients
}

// haNode is one server namespace and the daemon run in it.
type haNode struct {
	h    *haLab
	name string // HA server name
	ns   *lab.NS
	env  *e2eEnv
	d    *e2eDaemon
	ifs  map[string]netip.Prefix // interface → address
}

func newHALab(t *testing.T) *haLab {
	t.Helper()
	l := lab.ForTest(t, "xq")
	br, err := l.NS("b")
	if err != nil {
		t.Fatal(err)
	}
	return &haLab{t: t, lab: l, br: br}
}

// segment creates bridge name in the bridge namespace and, with clients, a
// client namespace attached to it by xc0.
func (h *haLab) segment(name string, clients bool) *haSeg {
	h.t.Helper()
	if err := h.lab.Bridge(h.br, name, netip.Prefix{}); err != nil {
		h.t.Fatal(err)
	}
	s := &haSeg{h: h, bridge: name}
	if !clients {
		return s
	}
	cli, err := h.lab.NS("c" + name)
	if err != nil {
		h.t.Fatal(err)
	}
	h.n++
	if err := h.lab.VethToBridge(h.br, name, fmt.Sprintf("p%d", h.n), cli, e2eClientIf, netip.Prefix{}); err != nil {
		h.t.Fatal(err)
	}
	s.cli = cli
	s.env = &e2eEnv{t: h.t, lab: h.lab, cli: cli, dir: h.t.TempDir()}
	return s
}

// haAttach is one interface of a server on a segment.
type haAttach struct {
	seg    *haSeg
	ifname string
	addr   string // prefix, e.g. 10.99.0.1/16
}

// server creates a server namespace for HA server name with its interfaces.
// Its daemon is started later (start / startKea).
func (h *haLab) server(name string, ifs ...haAttach) *haNode {
	h.t.Helper()
	ns, err := h.lab.NS(name)
	if err != nil {
		h.t.Fatal(err)
	}
	n := &haNode{h: h, name: name, ns: ns, ifs: map[string]netip.Prefix{}}
	for _, a := range ifs {
		h.n++
		p := netip.MustParsePrefix(a.addr)
		if err := h.lab.VethToBridge(h.br, a.seg.bridge, fmt.Sprintf("p%d", h.n), ns, a.ifname, p); err != nil {
			h.t.Fatal(err)
		}
		n.ifs[a.ifname] = p
	}
	n.env = &e2eEnv{t: h.t, lab: h.lab, srv: ns, dir: h.t.TempDir()}
	if len(ifs) > 0 {
		n.env.cli = ifs[0].seg.cli
	}
	return n
}

// ip is the address of one of the node's interfaces.
func (n *haNode) ip(ifname string) string { return n.ifs[ifname].Addr().String() }

// setLink brings one of the node's interfaces up or down. Bringing a link
// up restores its connected route, so nothing else needs redoing.
func (n *haNode) setLink(ifname string, up bool) {
	n.h.t.Helper()
	if err := n.ns.SetLink(ifname, up); err != nil {
		n.h.t.Fatalf("%s: %v", n.name, err)
	}
}

// haServerCfg is what varies between the daemons' configurations.
type haServerCfg struct {
	ifaces  []string
	subnets []any
	rels    []any  // high-availability list
	xdp     string // xdhcp.xdp.mode ("off" when empty)
	bpffs   string
}

// xdhcpdConfig is the Dhcp4 document of one xdhcpd of a pair: Kea's
// layout, with HA in the libdhcp_ha.so entry.
func (n *haNode) xdhcpdConfig(c haServerCfg) map[string]any {
	ifaces := make([]any, len(c.ifaces))
	for i, s := range c.ifaces {
		ifaces[i] = s
	}
	// The harness's commands use 127.0.0.1; the partners reach the peer
	// URL, which xdhcpd serves itself (partner commands only).
	sockets := []any{map[string]any{"socket-type": "http", "socket-address": "127.0.0.1", "socket-port": e2eCtlPort}}
	xdp := map[string]any{"mode": "off"}
	if c.xdp != "" {
		xdp["mode"] = c.xdp
	}
	if c.bpffs != "" {
		xdp["bpffs"] = c.bpffs
	}
	return map[string]any{"Dhcp4": map[string]any{
		"interfaces-config": map[string]any{"interfaces": ifaces},
		"lease-database": map[string]any{
			"type": "memfile", "persist": true, "lfc-interval": 0,
			"name": filepath.Join(n.env.dir, "leases4.csv"),
		},
		"valid-lifetime":  600,
		"control-sockets": sockets,
		"hooks-libraries": []any{
			map[string]any{"library": keaHooksDir + "/libdhcp_lease_cmds.so"},
			map[string]any{"library": keaHooksDir + "/libdhcp_ha.so",
				"parameters": map[string]any{"high-availability": c.rels}},
		},
		"subnet4": c.subnets,
		"loggers": []any{map[string]any{
			"name": "kea-dhcp4", "severity": "INFO",
			"output_options": []any{map[string]any{"output": "stderr"}},
		}},
		"xdhcp": map[string]any{"xdp": xdp, daemontest.InsecureControlKey: true},
	}}
}

// start runs xdhcpd on cfg in the node's namespace until it is ready.
func (n *haNode) start(cfg map[string]any) *e2eDaemon {
	n.h.t.Helper()
	n.d = n.env.startDaemon(cfg)
	return n.d
}

// haPeer is one peers[] entry.
type haPeer struct{ name, url, role string }

// haRel is one high-availability relationship with the tests' fast timers
// (a heartbeat every 500 ms, interrupted after 2 s, clients unacked after
// 1 s) and extra settings merged in.
func haRel(this, mode string, peers []haPeer, extra map[string]any) map[string]any {
	ps := make([]any, len(peers))
	for i, p := range peers {
		ps[i] = map[string]any{"name": p.name, "url": p.url, "role": p.role}
	}
	r := map[string]any{
		"this-server-name": this, "mode": mode,
		"heartbeat-delay": 500, "max-response-delay": 2000, "max-ack-delay": 1000,
		"max-unacked-clients": 0, "peers": ps,
	}
	for k, v := range extra {
		r[k] = v
	}
	return r
}

// haURL is a peer URL on the control port.
func haURL(ip string) string { return fmt.Sprintf("http://%s:%d/", ip, e2eCtlPort) }

// haSubnet is a subnet4 entry; pools are "a - b" ranges, optionally
// guarded by a client class after a '|' ("10.99.1.1 - 10.99.1.9|HA_server1").
func haSubnet(id int, prefix string, pools []string, extra map[string]any) map[string]any {
	ps := make([]any, len(pools))
	for i, p := range pools {
		rng, class, _ := strings.Cut(p, "|")
		m := map[string]any{"pool": rng}
		if class != "" {
			m["client-class"] = class
		}
		ps[i] = m
	}
	s := map[string]any{"id": id, "subnet": prefix, "pools": ps}
	for k, v := range extra {
		s[k] = v
	}
	return s
}

// haStatus is one element of status-get's "high-availability" list, as
// both xdhcpd and Kea 2.2 report it.
type haStatus struct {
	Mode    string `json:"ha-mode"`
	Servers struct {
		Local struct {
			Role   string   `json:"role"`
			Scopes []string `json:"scopes"`
			State  string   `json:"state"`
		} `json:"local"`
		Remote struct {
			Age                      float64  `json:"age"`
			AnalyzedPackets          int      `json:"analyzed-packets"`
			CommunicationInterrupted bool     `json:"communication-interrupted"`
			ConnectingClients        int      `json:"connecting-clients"`
			InTouch                  bool     `json:"in-touch"`
			LastScopes               []string `json:"last-scopes"`
			LastState                string   `json:"last-state"`
			Role                     string   `json:"role"`
			UnackedClients           int      `json:"unacked-clients"`
			UnackedClientsLeft       int      `json:"unacked-clients-left"`
		} `json:"remote"`
	} `json:"ha-servers"`
}

// haStatusOf decodes the HA part of a status-get answer.
func haStatusOf(a daemontest.Answer) ([]haStatus, error) {
	if a.Result != 0 {
		return nil, fmt.Errorf("status-get: result %d %q", a.Result, a.Text)
	}
	var args struct {
		HA []haStatus `json:"high-availability"`
	}
	if err := json.Unmarshal(a.Arguments, &args); err != nil {
		return nil, fmt.Errorf("status-get: %w: %s", err, a.Arguments)
	}
	return args.HA, nil
}

// status returns relationship rel of status-get (fails the test).
func status(t *testing.T, c daemontest.Commander, rel int) haStatus {
	t.Helper()
	a, err := c.Try("status-get", nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := haStatusOf(a)
	if err != nil {
		t.Fatal(err)
	}
	if rel >= len(st) {
		t.Fatalf("status-get lists %d relationships, want > %d: %s", len(st), rel, a.Arguments)
	}
	return st[rel]
}

// waitHA polls status-get until cond holds for relationship rel, and
// returns how long that took. It fails the test after timeout, showing
// the last status.
func waitHA(t *testing.T, c daemontest.Commander, what string, rel int, timeout time.Duration, cond func(haStatus) bool) time.Duration {
	t.Helper()
	start := time.Now()
	var last haStatus
	var lastErr error
	for {
		a, err := c.Try("status-get", nil)
		if err == nil {
			var st []haStatus
			if st, err = haStatusOf(a); err == nil && rel < len(st) {
				last = st[rel]
				if cond(last) {
					return time.Since(start)
				}
			}
		}
		lastErr = err
		if time.Since(start) > timeout {
			t.Fatalf("%s: not reached after %v (last status %+v, err %v)", what, timeout, last, lastErr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitState waits until the local state of relationship rel is state.
func waitState(t *testing.T, c daemontest.Commander, rel int, state string, timeout time.Duration) time.Duration {
	t.Helper()
	return waitHA(t, c, "state "+state, rel, timeout, func(s haStatus) bool { return s.Servers.Local.State == state })
}

// waitPair waits until both servers are in state and each sees the other
// in it (heartbeats agree).
func waitPair(t *testing.T, a, b daemontest.Commander, state string, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for _, c := range []daemontest.Commander{a, b} {
		waitHA(t, c, "pair in "+state, 0, timeout, func(s haStatus) bool {
			return s.Servers.Local.State == state && s.Servers.Remote.LastState == state
		})
	}
	return time.Since(start)
}

// leasesOf returns lease4-get-all by address (fails the test on errors).
func leasesOf(t *testing.T, c daemontest.Commander) map[string]leaseJSON {
	t.Helper()
	out := map[string]leaseJSON{}
	for _, l := range allLeases(t, c) {
		if _, dup := out[l.IPAddress]; dup {
			t.Errorf("lease4-get-all lists %s twice", l.IPAddress)
		}
		out[l.IPAddress] = l
	}
	return out
}

// waitLease waits until lease4-get on c finds ip for hw.
func waitLease(t *testing.T, c daemontest.Commander, who, ip, hw string, timeout time.Duration) {
	t.Helper()
	var last daemontest.Answer
	ok := poll(timeout, func() bool {
		a, err := c.Try("lease4-get", map[string]any{"ip-address": ip})
		if err != nil {
			return false
		}
		last = a
		var l leaseJSON
		return a.Result == 0 && json.Unmarshal(a.Arguments, &l) == nil && l.HWAddress == hw
	})
	if !ok {
		t.Errorf("%s has no lease of %s for %s after %v (last: %d %q %s)", who, ip, hw, timeout, last.Result, last.Text, last.Arguments)
	}
}

// noLease asserts lease4-get on c does not find ip.
func noLease(t *testing.T, c daemontest.Commander, who, ip string) {
	t.Helper()
	a, err := c.Try("lease4-get", map[string]any{"ip-address": ip})
	if err != nil {
		t.Fatal(err)
	}
	if a.Result != 3 {
		t.Errorf("%s: lease4-get %s = result %d %s, want none", who, ip, a.Result, a.Arguments)
	}
}

// haClient is one simulated DHCP client: its chaddr and optional client
// identifier (option 61 payload).
type haClient struct {
	mac net.HardwareAddr
	cid []byte
	// asks is the address its DISCOVER asks for (option 50), if any: a
	// returning client's old address.
	asks net.IP
}

// key is what Kea's load balancing hashes: the client identifier when
// present, else chaddr.
func (c haClient) key() []byte {
	if len(c.cid) > 0 {
		return c.cid
	}
	return c.mac
}

func (c haClient) String() string {
	if len(c.cid) > 0 {
		return fmt.Sprintf("%s/cid %x", c.mac, c.cid)
	}
	return c.mac.String()
}

// dhcpWire is a raw DHCP client socket on xc0 of a segment's client
// namespace: it sends broadcast queries and collects every reply in a
// window, so a test sees each server that answered, not just the first.
type dhcpWire struct {
	t  *testing.T
	pc net.PacketConn
	// takes, when set, says whether client i of a probe takes this offer
	// (a client that prefers one server); otherwise it takes the first.
	takes func(i int, offer *dhcpv4.DHCPv4) bool
}

func (s *haSeg) wire() *dhcpWire {
	s.h.t.Helper()
	return &dhcpWire{t: s.h.t, pc: daemontest.RawConn(s.h.t, s.cli, e2eClientIf)}
}

// discover builds a broadcast DHCPDISCOVER of c with the given secs.
func (c haClient) discover(t *testing.T, secs uint16) *dhcpv4.DHCPv4 {
	t.Helper()
	m, err := dhcpv4.NewDiscovery(c.mac, dhcpv4.WithBroadcast(true))
	if err != nil {
		t.Fatal(err)
	}
	m.NumSeconds = secs
	if len(c.cid) > 0 {
		m.UpdateOption(dhcpv4.OptClientIdentifier(c.cid))
	}
	if c.asks != nil {
		m.UpdateOption(dhcpv4.OptRequestedIPAddress(c.asks))
	}
	return m
}

// request builds the broadcast DHCPREQUEST (SELECTING) for an offer.
func (c haClient) request(t *testing.T, offer *dhcpv4.DHCPv4) *dhcpv4.DHCPv4 {
	t.Helper()
	m, err := dhcpv4.NewRequestFromOffer(offer, dhcpv4.WithBroadcast(true))
	if err != nil {
		t.Fatal(err)
	}
	m.ClientHWAddr = c.mac
	if len(c.cid) > 0 {
		m.UpdateOption(dhcpv4.OptClientIdentifier(c.cid))
	}
	return m
}

// exchange sends the queries and returns, per transaction ID, every reply
// received within wait.
func (w *dhcpWire) exchange(queries []*dhcpv4.DHCPv4, wait time.Duration) map[dhcpv4.TransactionID][]*dhcpv4.DHCPv4 {
	return w.exchangeUntil(queries, wait, false)
}

// exchangeUntil is exchange that, with first, returns as soon as every
// query has a reply (for REQUESTs, which name their server anyway).
func (w *dhcpWire) exchangeUntil(queries []*dhcpv4.DHCPv4, wait time.Duration, first bool) map[dhcpv4.TransactionID][]*dhcpv4.DHCPv4 {
	w.t.Helper()
	want := map[dhcpv4.TransactionID]bool{}
	dst := &net.UDPAddr{IP: net.IPv4bcast, Port: nclient4.ServerPort}
	// Drain replies left from an earlier exchange.
	_ = w.pc.SetReadDeadline(time.Now())
	buf := make([]byte, 1500)
	for {
		if _, _, err := w.pc.ReadFrom(buf); err != nil {
			break
		}
	}
	for _, q := range queries {
		want[q.TransactionID] = true
		if _, err := w.pc.WriteTo(q.ToBytes(), dst); err != nil {
			w.t.Fatalf("send %s: %v", q.MessageType(), err)
		}
	}
	out := map[dhcpv4.TransactionID][]*dhcpv4.DHCPv4{}
	deadline := time.Now().Add(wait)
	for {
		_ = w.pc.SetReadDeadline(deadline)
		n, _, err := w.pc.ReadFrom(buf)
		if err != nil {
			return out
		}
		m, err := dhcpv4.FromBytes(buf[:n])
		if err != nil || m.OpCode != dhcpv4.OpcodeBootReply || !want[m.TransactionID] {
			continue
		}
		out[m.TransactionID] = append(out[m.TransactionID], m)
		if first && len(out) == len(want) {
			return out
		}
	}
}

// haOutcome is what one client got from a DORA over the wire.
type haOutcome struct {
	offers []*dhcpv4.DHCPv4
	acks   []*dhcpv4.DHCPv4
}

// servers lists the server identifiers of the offers.
func (o haOutcome) servers() []string {
	var s []string
	for _, m := range o.offers {
		s = append(s, m.ServerIdentifier().String())
	}
	slices.Sort(s)
	return s
}

// addr is the acknowledged address ("" when no single ACK came).
func (o haOutcome) addr() string {
	if len(o.acks) != 1 || o.acks[0].MessageType() != dhcpv4.MessageTypeAck {
		return ""
	}
	return o.acks[0].YourIPAddr.String()
}

// dora runs DISCOVER → OFFERs → REQUEST (to the first offer's server) →
// ACKs for every client at once, waiting wait for each round.
func (w *dhcpWire) dora(clients []haClient, secs uint16, wait time.Duration) []haOutcome {
	w.t.Helper()
	out := w.discoverAll(clients, secs, wait)
	w.requestAll(clients, out, secs, wait)
	return out
}

// discoverAll sends every client's DISCOVER at once and collects the
// offers of every server within wait.
func (w *dhcpWire) discoverAll(clients []haClient, secs uint16, wait time.Duration) []haOutcome {
	w.t.Helper()
	disc := make([]*dhcpv4.DHCPv4, len(clients))
	for i, c := range clients {
		disc[i] = c.discover(w.t, secs)
	}
	offers := w.exchange(disc, wait)
	out := make([]haOutcome, len(clients))
	for i, d := range disc {
		for _, m := range offers[d.TransactionID] {
			if m.MessageType() == dhcpv4.MessageTypeOffer {
				out[i].offers = append(out[i].offers, m)
			}
		}
	}
	return out
}

// requestAll sends, at once, the REQUEST of every client that has an
// offer (to the first offer's server) and collects the answers until each
// has one or wait passes.
func (w *dhcpWire) requestAll(clients []haClient, out []haOutcome, secs uint16, wait time.Duration) {
	w.t.Helper()
	var reqs []*dhcpv4.DHCPv4
	reqOf := map[dhcpv4.TransactionID]int{}
	for i := range out {
		if len(out[i].offers) > 0 {
			r := clients[i].request(w.t, out[i].offers[0])
			r.NumSeconds = secs
			reqs = append(reqs, r)
			reqOf[r.TransactionID] = i
		}
	}
	if len(reqs) == 0 {
		return
	}
	for xid, ms := range w.exchangeUntil(reqs, wait, true) {
		out[reqOf[xid]].acks = ms
	}
}

// haClients makes n clients with MACs 02:71:<tag>:00:<i>; every odd one
// also sends a client identifier (01 + MAC, as most clients do), so the
// split covers both keys.
func haClients(tag byte, n int) []haClient {
	out := make([]haClient, n)
	for i := range n {
		m := net.HardwareAddr{0x02, 0x71, tag, 0, byte(i >> 8), byte(i)}
		out[i] = haClient{mac: m}
		if i%2 == 1 {
			out[i].cid = append([]byte{1}, m...)
		}
	}
	return out
}

// mountBPFFS mounts a private bpffs (unmounted at cleanup) so that XDP
// pins of the daemons stay out of the host's; without one the test skips.
func mountBPFFS(t *testing.T) string {
	t.Helper()
	dir, err := lab.MountBPFFS(t)
	if err != nil {
		t.Skipf("cannot mount a bpffs for XDP pins: %v", err)
	}
	return dir
}

// haMetric reads one series of xdhcpd's /metrics.
func haMetric(t *testing.T, d *e2eDaemon, series string) float64 {
	t.Helper()
	v, ok := metricValue(d.metrics(), series)
	if !ok {
		t.Fatalf("/metrics has no %s", series)
	}
	return v
}

// needKeaHooks skips t unless the HA tests' Kea files are installed (the
// daemon only recognises the hook entries, but the tests use Kea's paths
// so the same configuration would load in Kea).
func needKeaHooks(t *testing.T) {
	t.Helper()
	for _, h := range []string{"libdhcp_ha.so", "libdhcp_lease_cmds.so"} {
		if _, err := os.Stat(filepath.Join(keaHooksDir, h)); err != nil {
			t.Skipf("Kea hook %s not installed (make deps installs kea-dhcp4-server): %v", h, err)
		}
	}
}
