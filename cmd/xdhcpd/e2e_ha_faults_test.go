package main

// HA under network and process faults: one-way and two-way cuts of the HA
// port, random loss on it, a flapping link, a hung partner (SIGSTOP) and a
// partner killed with kill -9 and restarted, for an xdhcpd pair in
// hot-standby and in load-balancing. Each case checks, from what the
// clients received and from both servers' lease databases:
//
//	(a) no address acknowledged to two clients;
//	(b) every acknowledged lease on both servers soon after the fault ends;
//	(c) the scopes of the servers still alive served within the failure
//	    detection bound (the service gap);
//	(d) the pair back in its normal state soon after the fault ends;
//
// and prints one FIGURE row per fault × mode.

import (
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"

	"xdhcp/ha/lbhash"
	"xdhcp/internal/daemontest"
	"xdhcp/internal/lab"
)

// The fault tests' HA timers: the measured setup of the cut that once
// held xdhcpd's first reply for nine seconds.
const (
	faultHeartbeat   = time.Second
	faultMaxResponse = 3 * time.Second
	// faultHBTimeout is how long a heartbeat to a blackholed partner
	// takes to fail (twice heartbeat-delay).
	faultHBTimeout = 2 * faultHeartbeat
	// faultDuration is how long each fault lasts.
	faultDuration = 6 * time.Second
	// faultGapLimit is how long the first clients after a fault try.
	faultGapLimit = 12 * time.Second
	// faultRetry is the clients' retransmission interval.
	faultRetry = time.Second
	// faultCatchUp bounds (b): every acknowledged lease on both servers
	// after the pair is back.
	faultCatchUp = 10 * time.Second
	// faultNormal bounds (d): the pair back in its normal state after the
	// fault ends.
	faultNormal = 20 * time.Second
)

// faultServer is one server of a fault test, whatever runs it.
type faultServer struct {
	name    string
	ns      *lab.NS
	ip      netip.Addr
	ctl     daemontest.Commander
	pid     func() int
	kill9   func()
	restart func()
	kea     bool // Kea 2.2: its results are recorded, not asserted
}

// faultKind is one fault, injected on server2 (the secondary or standby):
// its network namespace or its process. It returns the fault's end.
type faultKind struct {
	name string
	// process: the fault stops server2 itself; only server1's scope is
	// expected to be served during it.
	process bool
	inject  func(t *testing.T, s1, s2 *faultServer) (end func())
}

// haPort is the port both servers' peer listeners use.
const haPort = e2eCtlPort

func netFault(t *testing.T, s2 *faultServer, f lab.Fault) func() {
	t.Helper()
	if err := s2.ns.InjectFault(f); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := s2.ns.ClearFaults(); err != nil {
			t.Error(err)
		}
	}
}

var faultKinds = []faultKind{
	{name: "one-way-cut", inject: func(t *testing.T, s1, s2 *faultServer) func() {
		// server2's requests to server1 are dropped; server1's to
		// server2 pass.
		return netFault(t, s2, lab.Fault{Peer: s1.ip, Port: haPort, Dir: lab.ToPeer})
	}},
	{name: "two-way-cut", inject: func(t *testing.T, s1, s2 *faultServer) func() {
		return netFault(t, s2, lab.Fault{Peer: s1.ip, Port: haPort, Dir: lab.Both})
	}},
	{name: "loss-30%", inject: func(t *testing.T, s1, s2 *faultServer) func() {
		return netFault(t, s2, lab.Fault{Peer: s1.ip, Port: haPort, Dir: lab.Both, LossPercent: 30})
	}},
	{name: "flapping", inject: func(t *testing.T, s1, s2 *faultServer) func() {
		fl, err := s2.ns.Flap(lab.Fault{Peer: s1.ip, Port: haPort, Dir: lab.Both}, 1500*time.Millisecond, 1500*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		return func() {
			if _, err := fl.Stop(); err != nil {
				t.Error(err)
			}
		}
	}},
	{name: "sigstop", process: true, inject: func(t *testing.T, s1, s2 *faultServer) func() {
		resume, err := lab.Hang(s2.pid())
		if err != nil {
			t.Fatal(err)
		}
		return func() {
			if err := resume(); err != nil {
				t.Error(err)
			}
		}
	}},
	{name: "kill-9", process: true, inject: func(t *testing.T, s1, s2 *faultServer) func() {
		s2.kill9()
		return s2.restart
	}},
}

// faultRow is one line of the FIGURE table.
type faultRow struct {
	gap        map[string]time.Duration // per served scope, its first clients' longest wait
	during     string                   // the servers' states in the middle of the fault
	acked      int                      // leases acknowledged during the fault
	replicated int                      // of those, on both servers after recovery
	duplicates int                      // addresses acknowledged to two clients
	normal     time.Duration            // fault end → pair in its normal state (<0: not within faultNormal)
}

func (r faultRow) String() string {
	normal := fmt.Sprintf("%.1f s", r.normal.Seconds())
	if r.normal < 0 {
		normal = fmt.Sprintf("not within %v", faultNormal)
	}
	var gaps []string
	for _, sc := range slices.Sorted(maps.Keys(r.gap)) {
		gaps = append(gaps, fmt.Sprintf("%s %.1f s", sc, r.gap[sc].Seconds()))
	}
	return fmt.Sprintf("gap %s | replicated %d/%d | duplicates %d | back to normal %s | during: %s",
		strings.Join(gaps, ", "), r.replicated, r.acked, r.duplicates, normal, r.during)
}

// faultTable collects the FIGURE rows of a test and prints them as one
// table at its end.
type faultTable struct {
	mu   sync.Mutex
	rows map[string]string
}

func (ft *faultTable) add(t *testing.T, key string, r faultRow) {
	t.Logf("FIGURE HA fault | %s | %s", key, r)
	ft.mu.Lock()
	defer ft.mu.Unlock()
	if ft.rows == nil {
		ft.rows = map[string]string{}
	}
	ft.rows[key] = r.String()
}

func (ft *faultTable) log(t *testing.T, title string) {
	var b strings.Builder
	fmt.Fprintf(&b, "FIGURE %s (pairing | mode | fault | figures):\n", title)
	for _, k := range slices.Sorted(maps.Keys(ft.rows)) {
		fmt.Fprintf(&b, "  %s | %s\n", k, ft.rows[k])
	}
	t.Log(b.String())
}

func needFaultTools(t *testing.T) {
	t.Helper()
	needKeaHooks(t)
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skipf("nft not installed (make deps installs nftables): %v", err)
	}
}

// TestE2EHAFaults runs every fault against an xdhcpd pair in
// load-balancing and in hot-standby, asserting the four invariants.
func TestE2EHAFaults(t *testing.T) {
	t.Parallel()
	needFaultTools(t)
	var ft faultTable
	for _, mode := range []string{"load-balancing", "hot-standby"} {
		for _, f := range faultKinds {
			t.Run(mode+"/"+f.name, func(t *testing.T) {
				ft.add(t, xdhcpPair.name+" | "+mode+" | "+f.name, runFault(t, mode, f, xdhcpPair))
			})
		}
	}
	ft.log(t, "HA faults, xdhcp pair")
}

// keaFaults are the faults the Kea pairings run by default, in
// load-balancing (every fault in both modes with XDHCP_HA_FAULTS_ALL=1):
// the cuts, where failure detection and communication-recovery decide
// (kill -9 with a Kea partner has its own tests).
var keaFaults = []string{"one-way-cut", "two-way-cut"}

// TestE2EHAFaultsKea runs the faults with a Kea 2.2 partner in each role
// (asserting what depends only on xdhcpd) and, with XDHCP_HA_FAULTS_ALL,
// against a Kea pair (recorded, never failing on Kea's results).
func TestE2EHAFaultsKea(t *testing.T) {
	t.Parallel()
	needFaultTools(t)
	for _, b := range faultKeaBinDeps {
		needBinary(t, b)
	}
	all := os.Getenv("XDHCP_HA_FAULTS_ALL") != ""
	var ft faultTable
	pairings := []faultPairing{keaServer1, keaServer2}
	if all {
		// A Kea pair asserts nothing about xdhcpd: its rows are only
		// there to compare with, so they cost time only when asked for.
		pairings = append(pairings, keaPair)
	}
	for _, p := range pairings {
		for _, mode := range []string{"load-balancing", "hot-standby"} {
			if mode == "hot-standby" && !all {
				continue
			}
			for _, f := range faultKinds {
				if !all && !slices.Contains(keaFaults, f.name) {
					continue
				}
				t.Run(strings.ReplaceAll(p.name, " ", "_")+"/"+mode+"/"+f.name, func(t *testing.T) {
					ft.add(t, p.name+" | "+mode+" | "+f.name, runFault(t, mode, f, p))
				})
			}
		}
	}
	ft.log(t, "HA faults with Kea 2.2")
}

// faultPairing says which servers of a pair are Kea 2.2 (kea-dhcp4 behind
// kea-ctrl-agent); the others are xdhcpd.
type faultPairing struct {
	name       string
	kea1, kea2 bool
}

func (p faultPairing) kea(server string) bool {
	if server == "server1" {
		return p.kea1
	}
	return p.kea2
}

var (
	xdhcpPair       = faultPairing{name: "xdhcp pair"}
	keaServer1      = faultPairing{name: "kea server1 + xdhcp server2", kea1: true}
	keaServer2      = faultPairing{name: "xdhcp server1 + kea server2", kea2: true}
	keaPair         = faultPairing{name: "kea pair", kea1: true, kea2: true}
	faultKeaBinDeps = []string{"kea-dhcp4", "kea-ctrl-agent"}
)

// faultPair starts the pair in mode with the fault tests' timers: peer
// URLs on port 8000 (xdhcpd serves its own, kea-ctrl-agent Kea's), split
// pools in load-balancing. tweaks edit each server's HA relationship.
func faultPair(t *testing.T, mode string, p faultPairing, tweaks ...func(rel map[string]any)) (*haSeg, *faultServer, *faultServer) {
	_, seg, n1, n2 := haPair(t)
	pr := keaPeering{mode: mode}
	var out []*faultServer
	for _, n := range []*haNode{n1, n2} {
		ifc := map[*haNode]string{n1: "s1", n2: "s2"}[n]
		rel := pr.rel(n.name, "10.99.0.1", "10.99.0.2")
		rel["heartbeat-delay"] = faultHeartbeat.Milliseconds()
		rel["max-response-delay"] = faultMaxResponse.Milliseconds()
		rel["max-unacked-clients"] = 10
		for _, tw := range tweaks {
			tw(rel)
		}
		fs := &faultServer{name: n.name, ns: n.ns, ip: netip.MustParseAddr(n.ip(ifc)), kea: p.kea(n.name)}
		if fs.kea {
			k := n.startKeaHA(needBinary(t, "kea-dhcp4"), ifc, rel, pr)
			fs.ctl, fs.pid, fs.kill9, fs.restart = k, k.PID, k.Kill9, k.start
		} else {
			d := n.start(n.xdhcpdConfig(haServerCfg{ifaces: []string{ifc}, subnets: []any{pr.subnet()}, rels: []any{rel}}))
			fs.ctl, fs.pid, fs.kill9, fs.restart = d, d.PID, d.Kill9, d.Restart
		}
		out = append(out, fs)
	}
	return seg, out[0], out[1]
}

// faultClients returns n clients whose scope (the server the load-balancing
// hash names) is in scopes; in hot-standby every client is server1's.
func faultClients(tag byte, n int, mode string, scopes ...string) []haClient {
	var out []haClient
	for _, c := range haClients(tag, 4*n+8) {
		if len(out) == n {
			break
		}
		if slices.Contains(scopes, scopeOf(mode, c)) {
			out = append(out, c)
		}
	}
	return out
}

// scopeOf is the server whose scope c is in the pair's normal state.
func scopeOf(mode string, c haClient) string {
	if mode != "load-balancing" {
		return "server1"
	}
	return []string{"server1", "server2"}[lbhash.Sum(c.key())%2]
}

func runFault(t *testing.T, mode string, f faultKind, p faultPairing) faultRow {
	seg, s1, s2 := faultPair(t, mode, p)
	byIP := map[string]*faultServer{s1.ip.String(): s1, s2.ip.String(): s2}
	norm := mode
	waitPair(t, s1.ctl, s2.ctl, norm, 30*time.Second)
	w := seg.wire()
	acks := newAckLog()
	acked := acks.mac
	ackedBy := func(ip string) *faultServer { return byIP[acks.by[ip]] }
	row := faultRow{gap: map[string]time.Duration{}}
	// Kea's results are recorded; what xdhcpd does is asserted.
	strict := func(s *faultServer) bool { return s != nil && !s.kea }
	record := func(res map[int]probeResult, cs []haClient) {
		for _, d := range acks.add(res, cs) {
			row.duplicates++
			if !p.kea1 && !p.kea2 {
				t.Error(d)
			}
		}
	}
	serverOf := func(name string) *faultServer { return map[string]*faultServer{"server1": s1, "server2": s2}[name] }

	// Before the fault: one client per scope, answered at once.
	before := faultClients(1, 2, mode, "server1", "server2")
	record(w.probe(t, before, 5*time.Second), before)

	// The fault: the first clients after it measure the service gap of
	// every scope that must stay served (both servers' own scopes for a
	// network fault in load-balancing; server1's otherwise).
	served := []string{"server1"}
	if mode == "load-balancing" && !f.process {
		served = append(served, "server2")
	}
	gapClients := faultClients(2, 2*len(served), mode, served...)
	start := time.Now()
	end := f.inject(t, s1, s2)
	gapRes := w.probe(t, gapClients, faultGapLimit)
	record(gapRes, gapClients)
	// The bound of (c): a load-balancing server leaves a blackholed
	// partner for communication-recovery when an update or a heartbeat
	// times out (the heartbeat timeout, after up to one heartbeat period);
	// a hot-standby primary takes over when max-response-delay has passed
	// without an answer. One retransmission interval and a second for the
	// machine's load on top.
	bound := faultHeartbeat + faultHBTimeout + faultRetry + time.Second
	if mode == "hot-standby" {
		bound += faultMaxResponse
	}
	for i, c := range gapClients {
		r, owner := gapRes[i], serverOf(scopeOf(mode, c))
		took := r.took
		if r.addr == "" {
			took = faultGapLimit
		}
		row.gap[owner.name] = max(row.gap[owner.name], took)
		if strict(owner) && took > bound {
			t.Errorf("client %s of %s's scope: service gap %v (lease %q), want at most %v", c, owner.name, took.Round(time.Millisecond), r.addr, bound)
		}
	}
	row.during = faultStates(s1, s2, f.process)
	// The rest of the fault: more clients of the served scopes.
	during := faultClients(3, 6, mode, served...)
	if rest := faultDuration - time.Since(start); rest > 0 {
		time.Sleep(rest / 2)
	}
	res := w.probe(t, during, 5*time.Second)
	record(res, during)
	var faultLeases []string
	for _, m := range []map[int]probeResult{gapRes, res} {
		for _, r := range m {
			if r.addr != "" {
				faultLeases = append(faultLeases, r.addr)
			}
		}
	}
	if rest := faultDuration - time.Since(start); rest > 0 {
		time.Sleep(rest)
	}
	ended := time.Now()
	end()

	// (d): the pair back in its normal state.
	row.normal = -1
	if pollPair(s1.ctl, s2.ctl, norm, faultNormal) {
		row.normal = time.Since(ended)
	} else if strict(s1) && strict(s2) {
		t.Errorf("the pair is not back in %s %v after the fault ended: %s", norm, faultNormal, faultStates(s1, s2, false))
	}
	// (b): every acknowledged lease on both servers.
	row.acked = len(faultLeases)
	deadline := time.Now().Add(faultCatchUp)
	for _, ip := range faultLeases {
		onBoth := true
		for _, s := range []*faultServer{s1, s2} {
			if !pollLease(s.ctl, ip, acked[ip], time.Until(deadline)) {
				onBoth = false
				if strict(ackedBy(ip)) {
					t.Errorf("%s: no lease of %s for %s (acknowledged by %s) %v after the pair was back", s.name, ip, acked[ip], ackedBy(ip).name, faultCatchUp)
				}
			}
		}
		if onBoth {
			row.replicated++
		}
	}
	// After recovery: clients of both scopes answered again.
	after := faultClients(4, 2, mode, "server1", "server2")
	res = w.probe(t, after, 6*time.Second)
	for i, c := range after {
		if owner := serverOf(scopeOf(mode, c)); res[i].addr == "" && strict(owner) {
			t.Errorf("client %s of %s's scope after recovery: no lease", c, owner.name)
		}
	}
	record(res, after)
	// (a) from the databases too: they agree with the clients.
	if !p.kea1 && !p.kea2 {
		haNoDoubleLease(t, acked, map[string]map[string]leaseJSON{
			"server1": leasesOf(t, s1.ctl), "server2": leasesOf(t, s2.ctl)})
	}
	return row
}

// ackLog is what a test's clients were acknowledged: by address, the
// client's MAC and the server identifier of the ACK.
type ackLog struct{ mac, by map[string]string }

func newAckLog() *ackLog { return &ackLog{mac: map[string]string{}, by: map[string]string{}} }

// add records the leases of a probe of cs and describes each address now
// acknowledged to two clients.
func (a *ackLog) add(res map[int]probeResult, cs []haClient) (dups []string) {
	for i, r := range res {
		if r.addr == "" {
			continue
		}
		mac := cs[i].mac.String()
		if prev, ok := a.mac[r.addr]; ok && prev != mac {
			dups = append(dups, fmt.Sprintf("%s acknowledged to %s and to %s (by %s)", r.addr, prev, mac, r.server))
		}
		a.mac[r.addr], a.by[r.addr] = mac, r.server
	}
	return dups
}

// faultStates is the servers' states as status-get reports them (server2
// not asked while it is the process the fault stopped).
func faultStates(s1, s2 *faultServer, process bool) string {
	var out []string
	for _, s := range []*faultServer{s1, s2} {
		if s == s2 && process {
			out = append(out, s.name+" down")
			continue
		}
		out = append(out, s.name+" "+localState(s.ctl))
	}
	return strings.Join(out, ", ")
}

// localState is the server's HA state as status-get reports it ("?" when
// it does not answer).
func localState(c daemontest.Commander) string {
	if a, err := c.Try("status-get", nil); err == nil {
		if hs, err := haStatusOf(a); err == nil && len(hs) > 0 {
			return hs[0].Servers.Local.State
		}
	}
	return "?"
}

// pollPair reports whether both servers are in state and see each other
// in it within timeout.
func pollPair(a, b daemontest.Commander, state string, timeout time.Duration) bool {
	return poll(timeout, func() bool {
		for _, c := range []daemontest.Commander{a, b} {
			r, err := c.Try("status-get", nil)
			if err != nil {
				return false
			}
			hs, err := haStatusOf(r)
			if err != nil || len(hs) == 0 || hs[0].Servers.Local.State != state || hs[0].Servers.Remote.LastState != state {
				return false
			}
		}
		return true
	})
}

// pollLease reports whether lease4-get on c finds ip for hw within timeout.
func pollLease(c daemontest.Commander, ip, hw string, timeout time.Duration) bool {
	return poll(max(timeout, 100*time.Millisecond), func() bool {
		a, err := c.Try("lease4-get", map[string]any{"ip-address": ip})
		if err != nil || a.Result != 0 {
			return false
		}
		var l leaseJSON
		return json.Unmarshal(a.Arguments, &l) == nil && l.HWAddress == hw
	})
}

// probeResult is what one client of a probe got: its address and how long
// after the probe began its ACK came ("" when none came).
type probeResult struct {
	addr   string
	server string // the ACK's server identifier
	took   time.Duration
}

// probe runs the clients as real clients do while a server is slow to
// answer: each sends DISCOVER, REQUESTs the first offer (the first one
// w.takes, when set) at once, and
// retransmits what it last sent (same transaction) every faultRetry until
// it has an ACK; a NAK sends it back to DISCOVER. It returns, per client
// index, the ACK's address and when it came after the probe began
// (a zero result when none came within limit).
func (w *dhcpWire) probe(t *testing.T, cs []haClient, limit time.Duration) map[int]probeResult {
	t.Helper()
	start := time.Now()
	out := map[int]probeResult{}
	last := map[int]*dhcpv4.DHCPv4{} // what each client sent last
	sentAt := map[int]time.Time{}
	of := map[dhcpv4.TransactionID]int{}
	dst := &net.UDPAddr{IP: net.IPv4bcast, Port: nclient4.ServerPort}
	send := func(i int, q *dhcpv4.DHCPv4) {
		last[i], sentAt[i], of[q.TransactionID] = q, time.Now(), i
		if _, err := w.pc.WriteTo(q.ToBytes(), dst); err != nil {
			t.Fatalf("send %s: %v", q.MessageType(), err)
		}
	}
	buf := make([]byte, 1500)
	for len(out) < len(cs) && time.Since(start) < limit {
		for i, c := range cs {
			if _, done := out[i]; done || time.Since(sentAt[i]) < faultRetry {
				continue
			}
			q := last[i]
			if q == nil {
				q = c.discover(t, 0)
			}
			send(i, q)
		}
		_ = w.pc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		n, _, err := w.pc.ReadFrom(buf)
		if err != nil {
			continue
		}
		m, err := dhcpv4.FromBytes(buf[:n])
		if err != nil || m.OpCode != dhcpv4.OpcodeBootReply {
			continue
		}
		i, ok := of[m.TransactionID]
		if _, done := out[i]; !ok || done {
			continue
		}
		switch m.MessageType() {
		case dhcpv4.MessageTypeOffer:
			if last[i].MessageType() == dhcpv4.MessageTypeDiscover && (w.takes == nil || w.takes(i, m)) {
				send(i, cs[i].request(t, m))
			}
		case dhcpv4.MessageTypeAck:
			out[i] = probeResult{addr: m.YourIPAddr.String(), server: m.ServerIdentifier().String(), took: time.Since(start)}
		case dhcpv4.MessageTypeNak:
			last[i], sentAt[i] = nil, time.Time{}
		}
	}
	return out
}
