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
	"net"
	"net/netip"
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
	faultDuration = 7 * time.Second
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
	gap        time.Duration // longest wait of a served scope's first client
	acked      int           // leases acknowledged during the fault
	replicated int           // of those, on both servers after recovery
	duplicates int           // addresses acknowledged to two clients
	normal     time.Duration // fault end → pair in its normal state
}

func (r faultRow) String() string {
	return fmt.Sprintf("gap %.1f s | replicated %d/%d | duplicates %d | back to normal %.1f s",
		r.gap.Seconds(), r.replicated, r.acked, r.duplicates, r.normal.Seconds())
}

// TestE2EHAFaults runs every fault against an xdhcpd pair in
// load-balancing and in hot-standby.
func TestE2EHAFaults(t *testing.T) {
	needKeaHooks(t)
	if _, err := lookNft(); err != nil {
		t.Skipf("nft not installed (make deps installs nftables): %v", err)
	}
	var mu sync.Mutex
	table := map[string]string{}
	for _, mode := range []string{"load-balancing", "hot-standby"} {
		for _, f := range faultKinds {
			t.Run(mode+"/"+f.name, func(t *testing.T) {
				row := runFault(t, mode, f)
				mu.Lock()
				table[mode+" | "+f.name] = row.String()
				mu.Unlock()
				t.Logf("FIGURE HA fault xdhcp pair | %s | %s | %s", mode, f.name, row)
			})
		}
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range table {
			if !yield(k) {
				return
			}
		}
	})
	var b strings.Builder
	b.WriteString("FIGURE HA faults, xdhcp pair (mode | fault | figures):\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "  %s | %s\n", k, table[k])
	}
	t.Log(b.String())
}

// xdhcpdFaultPair starts two xdhcpd in mode with the fault tests' timers.
func xdhcpdFaultPair(t *testing.T, mode string) (*haSeg, *faultServer, *faultServer) {
	_, seg, n1, n2 := haPair(t)
	role2 := map[string]string{"load-balancing": "secondary", "hot-standby": "standby"}[mode]
	peers := []haPeer{{"server1", haURL("10.99.0.1"), "primary"}, {"server2", haURL("10.99.0.2"), role2}}
	pools := []string{"10.99.1.1 - 10.99.1.250"}
	if mode == "load-balancing" {
		pools = []string{"10.99.1.1 - 10.99.1.250|HA_server1", "10.99.2.1 - 10.99.2.250|HA_server2"}
	}
	subnets := []any{haSubnet(1, "10.99.0.0/16", pools, nil)}
	extra := map[string]any{
		"heartbeat-delay": faultHeartbeat.Milliseconds(), "max-response-delay": faultMaxResponse.Milliseconds(),
		"max-ack-delay": 1000, "max-unacked-clients": 10,
	}
	var out []*faultServer
	for _, n := range []*haNode{n1, n2} {
		ifc := map[*haNode]string{n1: "s1", n2: "s2"}[n]
		d := n.start(n.xdhcpdConfig(haServerCfg{ifaces: []string{ifc}, subnets: subnets,
			rels: []any{haRel(n.name, mode, peers, extra)}}))
		out = append(out, &faultServer{
			name: n.name, ns: n.ns, ip: netip.MustParseAddr(n.ip(ifc)), ctl: d,
			pid: d.PID, kill9: d.Kill9, restart: d.Restart,
		})
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

func runFault(t *testing.T, mode string, f faultKind) faultRow {
	seg, s1, s2 := xdhcpdFaultPair(t, mode)
	norm := mode
	waitPair(t, s1.ctl, s2.ctl, norm, 20*time.Second)
	w := seg.wire()
	acked := map[string]string{} // address → MAC, as the clients saw it
	var row faultRow
	record := func(res map[int]probeResult, cs []haClient) {
		for i, r := range res {
			if r.addr == "" {
				continue
			}
			mac := cs[i].mac.String()
			if prev, ok := acked[r.addr]; ok && prev != mac {
				row.duplicates++
				t.Errorf("%s acknowledged to %s and to %s", r.addr, prev, mac)
			}
			acked[r.addr] = mac
		}
	}

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
	gapRes := w.probe(t, gapClients, 15*time.Second)
	record(gapRes, gapClients)
	for i := range gapClients {
		r := gapRes[i]
		if r.addr == "" {
			t.Errorf("client %s of %s's scope: no lease %v after the fault began", gapClients[i], scopeOf(mode, gapClients[i]), 15*time.Second)
			row.gap = max(row.gap, 15*time.Second)
			continue
		}
		row.gap = max(row.gap, r.took)
	}
	// The bound of (c): a load-balancing server leaves a blackholed
	// partner for communication-recovery when a heartbeat times out (one
	// heartbeat period and the heartbeat timeout); a hot-standby primary
	// takes over when max-response-delay has passed without an answer.
	// One retransmission interval and a second for the machine's load on
	// top.
	bound := faultHeartbeat + faultHBTimeout + faultRetry + time.Second
	if mode == "hot-standby" {
		bound += faultMaxResponse
	}
	if row.gap > bound {
		t.Errorf("service gap %v, want at most %v", row.gap.Round(time.Millisecond), bound)
	}
	// The rest of the fault: more clients of the served scopes.
	during := faultClients(3, 6, mode, served...)
	if rest := faultDuration - time.Since(start); rest > 0 {
		time.Sleep(rest / 2)
	}
	res := w.probe(t, during, 6*time.Second)
	record(res, during)
	var faultLeases []string
	for _, r := range gapRes {
		if r.addr != "" {
			faultLeases = append(faultLeases, r.addr)
		}
	}
	for _, r := range res {
		if r.addr != "" {
			faultLeases = append(faultLeases, r.addr)
		}
	}
	if rest := faultDuration - time.Since(start); rest > 0 {
		time.Sleep(rest)
	}
	ended := time.Now()
	end()

	row.normal = waitPairWithin(t, s1.ctl, s2.ctl, norm, faultNormal, ended)
	// (b): every acknowledged lease on both servers.
	row.acked = len(faultLeases)
	deadline := time.Now().Add(faultCatchUp)
	for _, ip := range faultLeases {
		onBoth := true
		for _, s := range []*faultServer{s1, s2} {
			if !pollLease(s.ctl, ip, acked[ip], time.Until(deadline)) {
				onBoth = false
				t.Errorf("%s: no lease of %s for %s %v after the pair was back", s.name, ip, acked[ip], faultCatchUp)
			}
		}
		if onBoth {
			row.replicated++
		}
	}
	// After recovery: clients of both scopes answered again.
	after := faultClients(4, 2, mode, "server1", "server2")
	res = w.probe(t, after, 6*time.Second)
	for i := range after {
		if res[i].addr == "" {
			t.Errorf("client %s after recovery: no lease", after[i])
		}
	}
	record(res, after)
	// (a) from the databases too: they agree with the clients.
	haNoDoubleLease(t, acked, map[string]map[string]leaseJSON{
		"server1": leasesOf(t, s1.ctl), "server2": leasesOf(t, s2.ctl)})
	return row
}

// waitPairWithin is waitPair that measures from since and fails the test
// past timeout.
func waitPairWithin(t *testing.T, a, b daemontest.Commander, state string, timeout time.Duration, since time.Time) time.Duration {
	t.Helper()
	waitPair(t, a, b, state, timeout)
	return time.Since(since)
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
	addr string
	took time.Duration
}

// probe runs the clients as real clients do while a server is slow to
// answer: each sends DISCOVER, REQUESTs the first offer at once, and
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
			if last[i].MessageType() == dhcpv4.MessageTypeDiscover {
				send(i, cs[i].request(t, m))
			}
		case dhcpv4.MessageTypeAck:
			out[i] = probeResult{addr: m.YourIPAddr.String(), took: time.Since(start)}
		case dhcpv4.MessageTypeNak:
			last[i], sentAt[i] = nil, time.Time{}
		}
	}
	return out
}

func lookNft() (string, error) { return exec.LookPath("nft") }
