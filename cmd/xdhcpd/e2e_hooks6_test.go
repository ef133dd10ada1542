package main

// Forensic logging and run-script for DHCPv6, against what kea-dhcp6 2.2
// does with the same hooks-libraries entries.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	w6 "xdhcp/dhcp6"
	"xdhcp/internal/daemontest"
)

// client6 is a DHCPv6 client of the test's own in the lab's client
// namespace: direct (link-local, port 546) or through a relay of its own
// (link-local, port 547) that adds interface-id and remote-id.
type client6 struct {
	t             *testing.T
	direct, relay *net.UDPConn
	ll            net.IP
	serverID      []byte
}

func newClient6(t *testing.T, e *e2eEnv) *client6 {
	t.Helper()
	c := &client6{t: t}
	if err := e.cli.Do(func() error {
		ifc, err := net.InterfaceByName(e2eClientIf)
		if err != nil {
			return err
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			return err
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.IsLinkLocalUnicast() && n.IP.To4() == nil {
				c.ll = n.IP
				if c.direct, err = net.ListenUDP("udp6", &net.UDPAddr{IP: n.IP, Port: 546, Zone: e2eClientIf}); err != nil {
					return err
				}
				c.relay, err = net.ListenUDP("udp6", &net.UDPAddr{IP: n.IP, Port: 547, Zone: e2eClientIf})
				return err
			}
		}
		return net.InvalidAddrError("no link-local address")
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.close)
	return c
}

// close closes the client's sockets (again: a no-op).
func (c *client6) close() { c.direct.Close(); c.relay.Close() }

// binding6 is what a Reply gave: an address and a prefix.
type binding6 struct {
	addr, prefix netip.Addr
	plen         uint8
}

// msg6 builds a client message for duid with an IA_NA (IAID 1) and an
// IA_PD (IAID 2) naming b's bindings (none when b is nil); declined names
// the address in an IA_NA only.
func (c *client6) msg6(typ w6.MsgType, txid byte, duid []byte, b *binding6) []byte {
	var m w6.Builder
	m.Header(typ, [3]byte{0x61, txid, byte(typ)})
	m.Option(w6.OptClientID, duid)
	if typ != w6.Solicit && typ != w6.Rebind {
		m.Option(w6.OptServerID, c.serverID)
	}
	m.OptionU16(w6.OptElapsedTime, 0)
	mk := m.IA(w6.OptIANA, 1, 0, 0)
	if b != nil {
		m.End(m.IAAddr(b.addr.As16(), 0, 0))
	}
	m.End(mk)
	if typ == w6.Decline {
		return m.B
	}
	mk = m.IA(w6.OptIAPD, 2, 0, 0)
	if b != nil {
		m.End(m.IAPrefix(b.prefix.As16(), b.plen, 0, 0))
	}
	m.End(mk)
	return m.B
}

// exchange sends msg (relayed when relayed is set) and returns the
// client's message of the answer; a Decline's answer is not waited for
// long.
func (c *client6) exchange(msg []byte, relayed bool) *w6.Packet {
	c.t.Helper()
	conn, out := c.direct, msg
	if relayed {
		var r w6.Builder
		r.RelayHeader(w6.RelayForw, 0, netip.MustParseAddr("2001:db8:1::2").As16(), [16]byte(c.ll.To16()))
		r.Option(w6.OptInterfaceID, []byte("port-7"))
		r.Option(w6.OptRemoteID, []byte{0, 0, 0x0d, 0xe9, 'c', 'p', 'e', '-', '4', '2'})
		r.Option(w6.OptRelayMsg, msg)
		conn, out = c.relay, r.B
	}
	if _, err := conn.WriteToUDP(out, &net.UDPAddr{IP: net.ParseIP("ff02::1:2"), Port: 547, Zone: e2eClientIf}); err != nil {
		c.t.Fatal(err)
	}
	buf := make([]byte, 4096)
	conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	for {
		n, _, err := conn.ReadFromUDP(buf)
		if err != nil {
			c.t.Fatalf("no answer to message type %d: %v", msg[0], err)
		}
		var p w6.Packet
		if p.Parse(append([]byte(nil), buf[:n]...)) == nil && bytes.Equal(p.Msg.TxID[:], msg[1:4]) {
			return &p
		}
	}
}

// bindingOf reads the address and prefix of a Reply.
func bindingOf(t *testing.T, p *w6.Packet) *binding6 {
	t.Helper()
	b := &binding6{}
	for it := p.Msg.Options.Iter(); it.Next(); {
		if it.Code != w6.OptIANA && it.Code != w6.OptIAPD {
			continue
		}
		ia, err := w6.ParseIA(it.Code, it.Data)
		if err != nil {
			t.Fatal(err)
		}
		for in := ia.Options.Iter(); in.Next(); {
			switch in.Code {
			case w6.OptIAAddr:
				a, _ := w6.ParseIAAddr(in.Data)
				b.addr = netip.AddrFrom16(a.Addr)
			case w6.OptIAPrefix:
				pf, _ := w6.ParseIAPrefix(in.Data)
				b.prefix, b.plen = netip.AddrFrom16(pf.Prefix), pf.Len
			}
		}
	}
	if !b.addr.IsValid() || !b.prefix.IsValid() {
		t.Fatalf("Reply without an address and a prefix")
	}
	return b
}

// sortCalls6 orders the calls of one exchange, whose scripts run
// concurrently: by hook point, then by the lease's type.
func sortCalls6(calls []scriptCall) []scriptCall {
	sort.SliceStable(calls, func(i, j int) bool {
		if calls[i].arg != calls[j].arg {
			return calls[i].arg < calls[j].arg
		}
		return calls[i].vars["LEASE6_TYPE"] < calls[j].vars["LEASE6_TYPE"]
	})
	return calls
}

// runScriptEnv6 is a v6 lab for kea-dhcp6 beside xdhcpd and a maker of
// their Dhcp6 section, whose run-script records its calls into the
// folder given (see writeCallScript). It skips t without Kea's run_script
// library.
func runScriptEnv6(t *testing.T) (*e2eEnv, func(dir string) map[string]any) {
	t.Helper()
	needBinary(t, "kea-dhcp6")
	if _, err := os.Stat(keaRunScript); err != nil {
		t.Skipf("Kea's run_script hook is not installed: %v", err)
	}
	e := newV6Env(t)
	script := filepath.Join(e.dir, "lease-hook.sh")
	return e, func(dir string) map[string]any {
		writeCallScript(t, script, dir)
		s := e.dhcp6Section()
		s["hooks-libraries"] = []any{map[string]any{"library": keaRunScript, "parameters": map[string]any{"name": script, "sync": false}}}
		return s
	}
}

// hookSteps6 drives the same DHCPv6 exchanges against whichever server
// runs and returns the script calls of each step, sorted by hook point.
func hookSteps6(t *testing.T, e *e2eEnv, dir string) [][]scriptCall {
	c := newClient6(t, e)
	var steps [][]scriptCall
	step := func(name string, want int, fn func()) {
		t.Helper()
		fn()
		calls := settledCalls(t, dir, want)
		steps = append(steps, sortCalls6(calls))
	}
	duidA := []byte{0, 3, 0, 1, 2, 0, 0, 0, 0x61, 1}
	var ba *binding6
	step("Solicit, Request", 1, func() {
		adv := c.exchange(c.msg6(w6.Solicit, 1, duidA, nil), false)
		c.serverID, _ = adv.Msg.Options.Get(w6.OptServerID)
		ba = bindingOf(t, c.exchange(c.msg6(w6.Request, 2, duidA, nil), false))
	})
	step("Renew", 3, func() { c.exchange(c.msg6(w6.Renew, 3, duidA, ba), false) })
	step("Rebind", 3, func() { c.exchange(c.msg6(w6.Rebind, 4, duidA, ba), false) })
	step("Release", 3, func() { c.exchange(c.msg6(w6.Release, 5, duidA, ba), false) })
	duidB := []byte{0, 3, 0, 1, 2, 0, 0, 0, 0x61, 2}
	var bb *binding6
	step("relayed Solicit, Request", 1, func() {
		c.exchange(c.msg6(w6.Solicit, 6, duidB, nil), true)
		bb = bindingOf(t, c.exchange(c.msg6(w6.Request, 7, duidB, nil), true))
	})
	step("relayed Renew", 3, func() { c.exchange(c.msg6(w6.Renew, 8, duidB, bb), true) })
	step("Decline", 2, func() { c.exchange(c.msg6(w6.Decline, 9, duidB, bb), true) })
	// ISC dhclient -6 for an address and a prefix, from a lease file that
	// holds only its DUID (the same for both servers: a DUID-LL).
	c.close() // dhclient takes port 546
	if err := os.WriteFile(filepath.Join(e.dir, "dhclient6.leases"),
		[]byte(`default-duid "\000\003\000\001\002\000\000\000\142\003";`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	step("dhclient -6", 1, func() { e.dhclient6(t) })
	return steps
}

// TestE2EHooks6RunScriptMatchesKea: kea-dhcp6 2.2 with Debian's
// run_script library and xdhcpd (socket mode) with the same Dhcp6 section
// and script, driven by the same client (direct and relayed: Solicit,
// Request, Renew, Rebind, Release, Decline), make the same calls with the
// same arguments and variables, but for the leases' addresses and times.
func TestE2EHooks6RunScriptMatchesKea(t *testing.T) {
	needBinary(t, "kea-dhcp6")
	if _, err := os.Stat(keaRunScript); err != nil {
		t.Skipf("Kea's run_script hook is not installed: %v", err)
	}
	e := newV6Env(t)
	script := filepath.Join(e.dir, "lease-hook.sh")
	// xdhcpd keeps a forensic log besides (Debian's Kea has no such
	// library to compare with): its lines are checked below.
	logDir := filepath.Join(e.dir, "legal")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	section := func(dir string, legal bool) map[string]any {
		writeCallScript(t, script, dir)
		s := e.dhcp6Section()
		libs := []any{map[string]any{"library": keaRunScript, "parameters": map[string]any{"name": script, "sync": false}}}
		if legal {
			libs = append(libs, map[string]any{"library": "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_legal_log.so",
				"parameters": map[string]any{"path": logDir, "base-name": "kea-legal6"}})
		}
		s["hooks-libraries"] = libs
		s["multi-threading"] = map[string]any{"enable-multi-threading": true, "thread-pool-size": 3, "packet-queue-size": 17}
		return s
	}
	keaSteps, xSteps, status := runPair6(t, e, section, hookSteps6)
	compareSteps(t, keaSteps, xSteps, leaseAddrs6)
	// What the comparison rests on: Kea's own calls are the ones expected.
	want := [][]string{{"leases6_committed"}, {"lease6_renew", "lease6_renew", "leases6_committed"},
		{"lease6_rebind", "lease6_rebind", "leases6_committed"}, {"lease6_release", "lease6_release", "leases6_committed"},
		{"leases6_committed"}, {"lease6_renew", "lease6_renew", "leases6_committed"}, {"lease6_decline", "leases6_committed"},
		{"leases6_committed"}}
	for i := range want {
		if i >= len(keaSteps) || !slices.Equal(callArgs(keaSteps[i]), want[i]) {
			t.Fatalf("kea-dhcp6's calls of step %d: %v, want %v", i, keaSteps, want[i])
		}
	}
	if v := keaSteps[5][2].vars["QUERY6_REMOTE_PORT"]; v != "547" {
		t.Errorf("kea-dhcp6's relayed query: QUERY6_REMOTE_PORT %q", v)
	}
	checkForensic6(t, logDir, xSteps)
	for k, v := range status["kea-dhcp6"] {
		switch k {
		case "pid", "uptime", "reload", "packet-queue-statistics": // values of the moment
			if _, ok := status["xdhcpd"][k]; !ok {
				t.Errorf("xdhcpd's status-get lacks %s", k)
			}
		default:
			if x := status["xdhcpd"][k]; fmt.Sprint(x) != fmt.Sprint(v) {
				t.Errorf("status-get %s: kea-dhcp6 %v, xdhcpd %v", k, v, x)
			}
		}
	}
}

// runPair6 runs kea-dhcp6 and then xdhcpd in e's lab, each on the Dhcp6
// section section(dir, server is xdhcpd) whose run-script records its calls
// into dir, drives steps against each and returns each server's calls and
// status-get answers (keyed "kea-dhcp6" and "xdhcpd").
func runPair6(t *testing.T, e *e2eEnv, section func(dir string, xdhcp bool) map[string]any,
	steps func(t *testing.T, e *e2eEnv, dir string) [][]scriptCall) (keaSteps, xSteps [][]scriptCall, status map[string]map[string]any) {
	t.Helper()
	keaBin := needBinary(t, "kea-dhcp6")
	status = map[string]map[string]any{}
	run := func(name string, args func(cfg string) []string, dir string) [][]scriptCall {
		os.Remove(filepath.Join(e.dir, "leases6.csv"))
		p := daemontest.NewProcess(t, daemontest.ProcessOptions{Name: name, NS: e.srv,
			Args: args(e.writeConfig(name+".json", map[string]any{"Dhcp6": section(dir, name == "xdhcpd")})),
			Env:  []string{"KEA_PIDFILE_DIR=" + e.dir, "KEA_LOCKFILE_DIR=" + e.dir},
			Log:  filepath.Join(e.dir, name+".log")})
		p.Launch()
		ctl := daemontest.NewUnixControl(filepath.Join(e.dir, "ctl6.sock"), 5*time.Second)
		p.WaitUntil(15*time.Second, name+" control socket", func() error { _, err := ctl.Try("version-get", nil); return err })
		got := steps(t, e, dir)
		// status-get answers for the Dhcp6 section, the only one.
		var st map[string]any
		if a, err := ctl.Try("status-get", nil); err != nil || a.Result != 0 || json.Unmarshal(a.Arguments, &st) != nil {
			t.Errorf("%s status-get: %v %+v", name, err, a)
		}
		status[name] = st
		p.Stop()
		return got
	}
	// Kea is the reference only where it made every call the steps cause
	// (see compareWithKea): a run that came short is run again.
	keaDir := filepath.Join(e.dir, keaCallsDir)
	for attempt := 1; ; attempt++ {
		keaSteps = run("kea-dhcp6", func(cfg string) []string { return []string{keaBin, "-c", cfg} }, keaDir)
		missing := shortfall(keaDir)
		if missing == "" || attempt == 3 {
			break
		}
		t.Logf("kea-dhcp6 made fewer script calls than the steps cause (%s): running it again", missing)
		if err := os.RemoveAll(keaDir); err != nil {
			t.Fatal(err)
		}
	}
	xSteps = run("xdhcpd", func(cfg string) []string { return []string{xdhcpd.Path(t), "-c", cfg} }, filepath.Join(e.dir, xdhcpCallsDir))
	return keaSteps, xSteps, status
}

// TestE2EHooks6RunScriptExpiryMatchesKea: an address and a prefix that
// expire, and a declined address whose probation ends, get the same
// lease6_expire and lease6_recover calls, with the same variables, from
// kea-dhcp6 2.2 and xdhcpd.
func TestE2EHooks6RunScriptExpiryMatchesKea(t *testing.T) {
	e, scripted := runScriptEnv6(t)
	section := func(dir string, _ bool) map[string]any {
		s := scripted(dir)
		s["preferred-lifetime"], s["valid-lifetime"] = 1, 2
		s["decline-probation-period"] = 1
		s["expired-leases-processing"] = map[string]any{"reclaim-timer-wait-time": 1, "hold-reclaimed-time": 3600}
		return s
	}
	// stats are each server's statistics at the end, by its calls' folder.
	stats := map[string]map[string]int64{}
	steps := func(t *testing.T, e *e2eEnv, dir string) [][]scriptCall {
		c := newClient6(t, e)
		defer c.close()
		sorted := func(n int) []scriptCall {
			calls := settledCalls(t, dir, n)
			sort.SliceStable(calls, func(i, j int) bool {
				if calls[i].arg != calls[j].arg {
					return calls[i].arg < calls[j].arg
				}
				if calls[i].vars["QUERY6_TYPE"] != calls[j].vars["QUERY6_TYPE"] {
					return calls[i].vars["QUERY6_TYPE"] > calls[j].vars["QUERY6_TYPE"] // REQUEST before DECLINE
				}
				return calls[i].vars["LEASE6_TYPE"] < calls[j].vars["LEASE6_TYPE"]
			})
			return calls
		}
		duidA := []byte{0, 3, 0, 1, 2, 0, 0, 0, 0x65, 1}
		adv := c.exchange(c.msg6(w6.Solicit, 1, duidA, nil), false)
		c.serverID, _ = adv.Msg.Options.Get(w6.OptServerID)
		c.exchange(c.msg6(w6.Request, 2, duidA, nil), false)
		// The Reply, then the expiry of the address and the prefix: 2 s of
		// lifetime, reclaimed within 1 s.
		time.Sleep(4 * time.Second)
		expired := sorted(3)
		duidB := []byte{0, 3, 0, 1, 2, 0, 0, 0, 0x65, 2}
		c.exchange(c.msg6(w6.Solicit, 3, duidB, nil), false)
		bb := bindingOf(t, c.exchange(c.msg6(w6.Request, 4, duidB, nil), false))
		c.exchange(c.msg6(w6.Decline, 5, duidB, bb), false)
		// Then the declined address reclaimed after its probation (1 s):
		// lease6_expire, then lease6_recover, as kea-dhcp6 reclaims a
		// declined lease; and the prefix expired. One step with the
		// decline's calls: on a loaded machine a server may still be
		// running the decline's scripts when the probation ends.
		time.Sleep(4 * time.Second)
		declinedRecovered := sorted(6)
		stats[dir] = daemontest.Stats(t, daemontest.NewUnixControl(filepath.Join(e.dir, "ctl6.sock"), 5*time.Second))
		return [][]scriptCall{expired, declinedRecovered}
	}
	keaSteps, xSteps, _ := runPair6(t, e, section, steps)
	compareSteps(t, keaSteps, xSteps, leaseAddrs6)
	// And the same lease statistics afterwards.
	kst, xst := stats[filepath.Join(e.dir, keaCallsDir)], stats[filepath.Join(e.dir, xdhcpCallsDir)]
	for _, name := range []string{"declined-addresses", "reclaimed-declined-addresses", "reclaimed-leases",
		"subnet[1].assigned-nas", "subnet[1].assigned-pds", "subnet[1].declined-addresses",
		"subnet[1].reclaimed-declined-addresses", "subnet[1].reclaimed-leases"} {
		if kst[name] != xst[name] {
			t.Errorf("%s: kea-dhcp6 %d, xdhcpd %d", name, kst[name], xst[name])
		}
	}
	if !slices.Contains(callArgs(keaSteps[0]), "lease6_expire") {
		t.Errorf("kea-dhcp6 made no lease6_expire call: %v", callArgs(keaSteps[0]))
	}
	if !slices.Contains(callArgs(keaSteps[1]), "lease6_recover") {
		t.Errorf("kea-dhcp6 made no lease6_recover call: %v", callArgs(keaSteps[1]))
	}
}

// checkForensic6 checks xdhcpd's DHCPv6 forensic lines of hookSteps6's
// exchanges (steps: its script calls, which name the leases): Kea's
// default DHCPv6 entries, one per lease and exchange, the relayed ones
// with the relay's identifiers.
func checkForensic6(t *testing.T, dir string, steps [][]scriptCall) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "kea-legal6.*.txt"))
	if len(files) != 1 || !regexp.MustCompile(`/kea-legal6\.\d{8}\.txt$`).MatchString(files[0]) {
		t.Fatalf("forensic log files %v, want one named as Kea names it", files)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	committed := steps[0][0].vars
	addr, prefix := committed["LEASES6_AT0_ADDRESS"], committed["LEASES6_AT1_ADDRESS"]+"/56"
	relayed := steps[4][0].vars
	raddr, rprefix := relayed["LEASES6_AT0_ADDRESS"], relayed["LEASES6_AT1_ADDRESS"]+"/56"
	const stamp = `^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+ `
	devA := " a device with DUID: 00:03:00:01:02:00:00:00:61:01 and hardware address: hwtype=1 02:00:00:00:61:01 (from DUID)"
	devB := " a device with DUID: 00:03:00:01:02:00:00:00:61:02 and hardware address: hwtype=1 02:00:00:00:61:02 (from DUID)" +
		" connected via relay at address: " + relayed["QUERY6_REMOTE_ADDR"] + " for client on link address: 2001:db8:1::2, hop count: 0," +
		" identified by remote-id: 00:00:0d:e9:63:70:65:2d:34:32, connected at location interface-id: 70:6f:72:74:2d:37 (port-7)"
	assigned := func(what, dev string) string { return what + " has been assigned for 1 hrs 6 mins 40 secs to" + dev }
	released := func(what, dev string) string { return what + " has been released from" + dev }
	want := []string{
		assigned("Address: "+addr, devA), assigned("Prefix: "+prefix, devA), // Request
		assigned("Address: "+addr, devA), assigned("Prefix: "+prefix, devA), // Renew
		assigned("Address: "+addr, devA), assigned("Prefix: "+prefix, devA), // Rebind
		released("Address: "+addr, devA), released("Prefix: "+prefix, devA), // Release
		assigned("Address: "+raddr, devB), assigned("Prefix: "+rprefix, devB), // relayed Request
		assigned("Address: "+raddr, devB), assigned("Prefix: "+rprefix, devB), // relayed Renew
		released("Address: "+raddr, devB), // Decline
	}
	// Then dhclient's address and prefix.
	want = append(want, `Address: 2001:db8:1::\S+ has been assigned for 1 hrs 6 mins 40 secs to a device with DUID: \S+ and hardware address: hwtype=1 \S+ \(from \S+`,
		`Prefix: 2001:db8:1\S+/56 has been assigned for 1 hrs 6 mins 40 secs to a device with DUID: `)
	if len(lines) != len(want) {
		t.Fatalf("forensic log has %d lines, want %d:\n%s", len(lines), len(want), b)
	}
	for i, l := range lines[:len(want)-2] {
		if !regexp.MustCompile(stamp + regexp.QuoteMeta(want[i]) + "$").MatchString(l) {
			t.Errorf("forensic line %d:\n got %s\nwant %s", i, l, want[i])
		}
	}
	for i := len(want) - 2; i < len(want); i++ {
		if !regexp.MustCompile(stamp + want[i]).MatchString(lines[i]) {
			t.Errorf("dhclient's forensic line %d: %s", i, lines[i])
		}
	}
}

// leaseAddrs6 are the addresses and prefixes a DHCPv6 call names.
func leaseAddrs6(c scriptCall) []string {
	var out []string
	for k, v := range c.vars {
		if strings.HasSuffix(k, "_ADDRESS") && v != "" {
			out = append(out, v)
		}
	}
	return out
}

func callArgs(cs []scriptCall) []string {
	var a []string
	for _, c := range cs {
		a = append(a, c.arg)
	}
	return a
}

// compareSteps fails t where two servers' calls, their arguments or their
// variables differ beyond the addresses leased (as addrs finds them in a
// call), the lease times and transaction ids.
func compareSteps(t *testing.T, keaSteps, xSteps [][]scriptCall, addrs func(scriptCall) []string) {
	t.Helper()
	if len(keaSteps) != len(xSteps) {
		t.Fatalf("steps: kea %d, xdhcpd %d", len(keaSteps), len(xSteps))
	}
	for i := range keaSteps {
		ks, xs := keaSteps[i], xSteps[i]
		if !slices.Equal(callArgs(ks), callArgs(xs)) {
			t.Errorf("step %d: kea called %v, xdhcpd %v", i, callArgs(ks), callArgs(xs))
			continue
		}
		for j := range ks {
			kv, xv := normalize6(ks[j], addrs(ks[j])), normalize6(xs[j], addrs(xs[j]))
			for _, name := range unionKeys(kv, xv) {
				kval, kok := kv[name]
				xval, xok := xv[name]
				if kok != xok || kval != xval {
					t.Errorf("step %d %s: %s: kea %s, xdhcpd %s", i, ks[j].arg, name, show(kval, kok), show(xval, xok))
				}
			}
		}
	}
}

// normalize6 replaces what differs between two servers for the same
// client: the addresses leased, times, transaction ids and the client's
// link-local address (each server's lab has its own).
func normalize6(c scriptCall, addrs []string) map[string]string {
	out := map[string]string{}
	for k, v := range c.vars {
		switch {
		case strings.HasSuffix(k, "_CLTT"), strings.HasSuffix(k, "_TXID"):
			v = "<varies>"
		case slices.Contains(addrs, v):
			v = "<lease address>"
		}
		out[k] = v
	}
	return out
}

// TestE2EHooks6CachedRenewal: with XDP on, a DHCPv6 Renew answered by a
// worker from the lease cache (cache-threshold) still gets its
// lease6_renew calls (one per lease, the lease as stored) and its
// leases6_committed (with no leases, as kea-dhcp6 calls it for leases it
// reuses), and its forensic lines, written before the Reply left.
func TestE2EHooks6CachedRenewal(t *testing.T) {
	e := newV6Env(t)
	e.mode = "native"
	script := filepath.Join(e.dir, "lease-hook.sh")
	calls := filepath.Join(e.dir, "calls")
	writeCallScript(t, script, calls)
	logDir := filepath.Join(e.dir, "legal")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := e.baseConfig()
	s6 := e.dhcp6Section()
	s6["cache-threshold"] = 0.5
	s6["hooks-libraries"] = []any{
		map[string]any{"library": "/usr/lib/kea/hooks/libdhcp_run_script.so", "parameters": map[string]any{"name": script}},
		map[string]any{"library": "/usr/lib/kea/hooks/libdhcp_legal_log.so", "parameters": map[string]any{"path": logDir, "base-name": "legal6"}},
	}
	cfg["Dhcp6"] = s6
	d := e.startDaemon(cfg)
	c := newClient6(t, e)
	duid := []byte{0, 3, 0, 1, 2, 0, 0, 0, 0x62, 1}
	adv := c.exchange(c.msg6(w6.Solicit, 1, duid, nil), false)
	c.serverID, _ = adv.Msg.Options.Get(w6.OptServerID)
	b := bindingOf(t, c.exchange(c.msg6(w6.Request, 2, duid, nil), false))
	if got := settledCalls(t, calls, 1); len(got) != 1 || got[0].arg != "leases6_committed" {
		t.Fatalf("calls after the Request: %v", got)
	}
	hits := d.stat("fastpath-cache-hits6")
	c.exchange(c.msg6(w6.Renew, 3, duid, b), false)
	if got := d.stat("fastpath-cache-hits6"); got != hits+1 {
		t.Fatalf("fastpath-cache-hits6 %d, want %d: the Renew was not answered from the cache", got, hits+1)
	}
	// The forensic lines are written before the Reply (to the log's
	// stage) and reach the file by the next sync.
	files, _ := filepath.Glob(filepath.Join(logDir, "legal6.*.txt"))
	if len(files) != 1 {
		t.Fatalf("forensic log files %v", files)
	}
	whats := []string{"Address: " + b.addr.String(), fmt.Sprintf("Prefix: %s/%d", b.prefix, b.plen)}
	var text []byte
	poll(3*time.Second, func() bool {
		text, _ = os.ReadFile(files[0])
		for _, what := range whats {
			if strings.Count(string(text), what+" has been assigned for ") != 2 {
				return false
			}
		}
		return true
	})
	for _, what := range whats {
		if n := strings.Count(string(text), what+" has been assigned for "); n != 2 {
			t.Errorf("%d forensic lines assign %s, want 2 (Request, cached Renew):\n%s", n, what, text)
		}
	}
	got := settledCalls(t, calls, 3)
	sort.SliceStable(got, func(i, j int) bool {
		if got[i].arg != got[j].arg {
			return got[i].arg < got[j].arg
		}
		return got[i].vars["LEASE6_TYPE"] < got[j].vars["LEASE6_TYPE"]
	})
	if !slices.Equal(callArgs(got), []string{"lease6_renew", "lease6_renew", "leases6_committed"}) {
		t.Fatalf("calls after the cached Renew: %v", callArgs(got))
	}
	for k, want := range map[string]string{
		"LEASE6_ADDRESS": b.addr.String(), "LEASE6_TYPE": "IA_NA", "LEASE6_IAID": "1", "PKT6_IA_IA_TYPE": "3",
		"LEASE6_DUID": "00:03:00:01:02:00:00:00:62:01", "QUERY6_TYPE": "RENEW", "QUERY6_IFACE_NAME": e2eServerIf,
		"LEASE6_VALID_LIFETIME": "4000", "LEASE6_PREFERRED_LIFETIME": "3000",
	} {
		if v := got[0].vars[k]; v != want {
			t.Errorf("cached lease6_renew: %s=%q, want %q", k, v, want)
		}
	}
	if v := got[1].vars["LEASE6_ADDRESS"]; v != b.prefix.String() {
		t.Errorf("cached lease6_renew of the prefix: LEASE6_ADDRESS=%q, want %s", v, b.prefix)
	}
	if v := got[2].vars["LEASES6_SIZE"]; v != "0" {
		t.Errorf("cached leases6_committed: LEASES6_SIZE=%q, want 0", v)
	}
	checkLeaseCommands6Logged(t, d, files[0])
}

// checkLeaseCommands6Logged sends the lease6 commands that change leases
// to d and checks the forensic lines they add to file: Kea's
// "Administrator ..." entries, one per lease changed, none for a command
// that failed; lease6-bulk-apply's leases as updates, its deletions
// named by address as deletions.
func checkLeaseCommands6Logged(t *testing.T, d *e2eDaemon, file string) {
	t.Helper()
	before, _ := os.ReadFile(file)
	const duid = "1a:1b:1c:1d:1e:1f:20:21:22:23:24"
	na := map[string]any{"ip-address": "2001:db8:1::500", "duid": duid, "iaid": 1234, "subnet-id": 1,
		"valid-lft": 3600, "hw-address": "1a:1b:1c:1d:1e:1f", "user-context": map[string]any{"site": "lab"}}
	pd := map[string]any{"type": "IA_PD", "ip-address": "2001:db8:1ff::", "prefix-len": 56, "duid": duid,
		"iaid": 5678, "subnet-id": 1, "valid-lft": 86400}
	d.ok("lease6-add", na, nil)
	d.ok("lease6-add", pd, nil)
	if a := d.command("lease6-add", na); a.Result != 1 {
		t.Errorf("second lease6-add of the same address: %+v, want an error", a)
	}
	na["valid-lft"] = 7200
	d.ok("lease6-update", na, nil)
	d.ok("lease6-del", map[string]any{"ip-address": "2001:db8:1::500"}, nil)
	d.ok("lease6-del", map[string]any{"type": "IA_PD", "subnet-id": 1, "iaid": 5678, "identifier-type": "duid", "identifier": duid}, nil)
	bulk := map[string]any{"ip-address": "2001:db8:1::501", "duid": "01:02:03:04", "iaid": 1, "subnet-id": 1, "valid-lft": 60}
	d.ok("lease6-bulk-apply", map[string]any{"leases": []any{bulk}}, nil)
	d.ok("lease6-bulk-apply", map[string]any{"deleted-leases": []any{map[string]any{"ip-address": "2001:db8:1::501"}}}, nil)

	want := []string{
		"Administrator added a lease of address: 2001:db8:1::500 to a device with DUID: " + duid +
			", hardware address: 1a:1b:1c:1d:1e:1f for 1 hrs 0 mins 0 secs, context: {\"site\":\"lab\"}",
		"Administrator added a lease of prefix: 2001:db8:1ff::/56 to a device with DUID: " + duid + " for 1 days 0 hrs 0 mins 0 secs",
		"Administrator updated information on the lease of address: 2001:db8:1::500 to a device with DUID: " + duid +
			", hardware address: 1a:1b:1c:1d:1e:1f for 2 hrs 0 mins 0 secs, context: {\"site\":\"lab\"}",
		"Administrator deleted the lease for address: 2001:db8:1::500",
		"Administrator deleted a lease for a device identified by: duid of " + duid,
		"Administrator updated information on the lease of address: 2001:db8:1::501 to a device with DUID: 01:02:03:04 for 0 hrs 1 mins 0 secs",
		"Administrator deleted the lease for address: 2001:db8:1::501",
	}
	// A lease command's record is durable when the command answers, and
	// reaches the file moments later, moved there off the commit's path.
	var after []byte
	poll(5*time.Second, func() bool {
		after, _ = os.ReadFile(file)
		return bytes.Count(after[min(len(before), len(after)):], []byte("\n")) >= len(want)
	})
	if !bytes.HasPrefix(after, before) {
		t.Fatalf("the forensic log changed before its end")
	}
	got := strings.Split(strings.TrimSpace(string(after[len(before):])), "\n")
	if len(got) != len(want) {
		t.Fatalf("the lease6 commands wrote %d forensic lines, want %d:\n%s", len(got), len(want), after[len(before):])
	}
	stamp := regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+ `)
	for i := range want {
		if !stamp.MatchString(got[i]) || stamp.ReplaceAllString(got[i], "") != want[i] {
			t.Errorf("forensic line of lease6 command %d:\n got %s\nwant <timestamp> %s", i, got[i], want[i])
		}
	}
}
