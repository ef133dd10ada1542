package main

// End-to-end harness: the xdhcpd binary runs in a server namespace of a
// throw-away lab, clients run in a client namespace joined to it by a veth
// pair, and tests look at the daemon the way an operator does: control
// commands, /metrics, and the CSV lease file.
//
// Topology of every lab (namespaces are per test, so tests may run in
// parallel):
//
//	server ns: xs0 10.88.0.1/16  <── veth ──>  client ns: xc0 10.88.0.2/16
//
// The client end has an address so that relays (perfdhcp -l, the option 82
// test) have a giaddr; raw clients (nclient4, udhcpc, dhclient) do not care.

import (
	"bufio"
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"

	"xdhcp/hooks/runscript"
	"xdhcp/internal/daemontest"
	"xdhcp/internal/lab"
)

const (
	e2eServerIP  = "10.88.0.1"
	e2eClientIP  = "10.88.0.2"
	e2eServerIf  = "xs0"
	e2eClientIf  = "xc0"
	e2eCtlPort   = 8000
	e2ePoolStart = "10.88.1.0"
	e2ePoolEnd   = "10.88.1.250"
)

// xdhcpd is the daemon under test: $XDHCP_BIN/xdhcpd, else one built
// once into a temporary directory that TestMain removes.
var xdhcpd = daemontest.NewBinary("xe-bin-")

func TestMain(m *testing.M) {
	// A daemon run in-process starts this binary as its run-script spawner.
	if runscript.IsSpawner() {
		os.Exit(runscript.ServeSpawner())
	}
	code := xdhcpd.RunTests(m)
	pgServer.Close()
	mysqlServer.Close()
	os.Exit(code)
}

// needBinary skips t when a real client program is not installed.
func needBinary(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed (make deps installs it): %v", name, err)
	}
	return p
}

// e2eEnv is one lab: a server and a client namespace and a scratch dir.
type e2eEnv struct {
	t    testing.TB
	lab  *lab.Lab
	srv  *lab.NS
	cli  *lab.NS
	dir  string
	cMAC net.HardwareAddr // MAC of xc0
	mode string           // xdhcp.xdp.mode for baseConfig; "" = the default
}

// e2eModes are the packet paths the protocol tests run over: socket mode
// (AF_PACKET, xdp mode "off") and the daemon's default (XDP when it can
// attach, as on veth here).
var e2eModes = []string{"off", "auto"}

// forModes runs fn as a parallel subtest per packet path.
func forModes(t *testing.T, fn func(t *testing.T, e *e2eEnv)) { runModes(t, true, fn) }

// forModesSerial runs fn per packet path one after the other (load tests,
// whose figures the other mode's load would disturb).
func forModesSerial(t *testing.T, fn func(t *testing.T, e *e2eEnv)) { runModes(t, false, fn) }

func runModes(t *testing.T, parallel bool, fn func(t *testing.T, e *e2eEnv)) {
	for _, m := range e2eModes {
		t.Run("xdp="+m, func(t *testing.T) {
			if parallel {
				t.Parallel()
			}
			e := newEnv(t)
			e.mode = m
			fn(t, e)
		})
	}
}

func newEnv(t testing.TB) *e2eEnv {
	t.Helper()
	l, p := lab.PairForTest(t, "xe", e2eServerIf, netip.MustParsePrefix(e2eServerIP+"/16"),
		e2eClientIf, netip.MustParsePrefix(e2eClientIP+"/16"))
	e := &e2eEnv{t: t, lab: l, srv: p.Server, cli: p.Client, dir: t.TempDir(), cMAC: p.ClientMAC[:]}
	// Registered before any daemon starts, so it runs after their cleanup.
	unpinAtEnd(t, e)
	return e
}

// addClientAddr adds an address to xc0 (for unicast from a leased address
// or a second relay address).
func (e *e2eEnv) addClientAddr(p netip.Prefix) {
	e.t.Helper()
	if err := e.cli.AddAddr(e2eClientIf, p); err != nil {
		e.t.Fatal(err)
	}
}

// baseConfig is the Kea Dhcp4 document the tests start from: socket mode
// on xs0, one /16 subnet with a small pool, a CSV lease file in the lab's
// directory without LFC, the HTTP control listener on port 8000 of the
// server namespace (unauthenticated: daemontest.InsecureControlKey), logs
// to stderr (which the harness keeps in a file).
func (e *e2eEnv) baseConfig() map[string]any {
	cfg := e.keaConfig()
	x := map[string]any{daemontest.InsecureControlKey: true}
	if e.mode != "" {
		x["xdp"] = map[string]any{"mode": e.mode}
	}
	dhcp4(cfg)["xdhcp"] = x
	return cfg
}

// keaConfig is baseConfig without the xdhcp section.
func (e *e2eEnv) keaConfig() map[string]any {
	return map[string]any{"Dhcp4": map[string]any{
		"interfaces-config": map[string]any{"interfaces": []any{e2eServerIf}},
		"lease-database": map[string]any{
			"type": "memfile", "persist": true, "lfc-interval": 0,
			"name": filepath.Join(e.dir, "leases4.csv"),
		},
		"valid-lifetime": 3600,
		"control-sockets": []any{map[string]any{
			"socket-type": "http", "socket-address": "127.0.0.1", "socket-port": e2eCtlPort,
		}},
		"subnet4": []any{map[string]any{
			"id":     1,
			"subnet": "10.88.0.0/16",
			"pools":  []any{map[string]any{"pool": e2ePoolStart + " - " + e2ePoolEnd}},
			"option-data": []any{
				map[string]any{"name": "routers", "data": e2eServerIP},
				map[string]any{"name": "domain-name-servers", "data": e2eServerIP},
			},
		}},
		"loggers": []any{map[string]any{
			"name": "kea-dhcp4", "severity": "INFO",
			"output_options": []any{map[string]any{"output": "stderr"}},
		}},
	}}
}

// dhcp4 returns the Dhcp4 map of a config built by baseConfig.
func dhcp4(cfg map[string]any) map[string]any { return cfg["Dhcp4"].(map[string]any) }

// subnet returns the i-th subnet4 entry of a config built by baseConfig.
func subnet(cfg map[string]any, i int) map[string]any {
	return dhcp4(cfg)["subnet4"].([]any)[i].(map[string]any)
}

// writeConfig writes cfg as JSON to name in the lab's directory.
func (e *e2eEnv) writeConfig(name string, cfg map[string]any) string {
	e.t.Helper()
	return daemontest.WriteConfig(e.t, filepath.Join(e.dir, name), cfg)
}

// e2eDaemon is one xdhcpd process (and its restarts) in the server
// namespace; daemontest.Daemon runs it and reaches its control listener at
// 127.0.0.1:8000 of the namespace.
type e2eDaemon struct {
	*daemontest.Daemon
	e *e2eEnv
}

// startDaemon writes cfg and runs xdhcpd on it until it is ready. The
// test's cleanup kills it if it still runs.
func (e *e2eEnv) startDaemon(cfg map[string]any) *e2eDaemon {
	e.t.Helper()
	d := e.newDaemon(cfg)
	d.Start()
	return d
}

// newDaemon prepares a daemon for cfg without starting it.
func (e *e2eEnv) newDaemon(cfg map[string]any) *e2eDaemon {
	e.t.Helper()
	return &e2eDaemon{e: e, Daemon: daemontest.New(e.t, daemontest.Options{
		NS:     e.srv,
		Binary: xdhcpd.Path(e.t),
		Config: e.writeConfig("xdhcpd.json", cfg),
		Log:    filepath.Join(e.dir, "xdhcpd.log"),
	})}
}

// command sends a command and fails the test on a transport error.
func (d *e2eDaemon) command(command string, args any) daemontest.Answer {
	d.e.t.Helper()
	return daemontest.Command(d.e.t, d, command, args)
}

// ok sends a command that must succeed (result 0) and decodes its
// arguments into out (when non-nil).
func (d *e2eDaemon) ok(command string, args any, out any) daemontest.Answer {
	d.e.t.Helper()
	return daemontest.OK(d.e.t, d, command, args, out)
}

// leaseJSON is Kea's Lease4 element as the lease commands return it.
type leaseJSON struct {
	IPAddress   string          `json:"ip-address"`
	HWAddress   string          `json:"hw-address"`
	ClientID    string          `json:"client-id"`
	SubnetID    uint32          `json:"subnet-id"`
	ValidLft    uint32          `json:"valid-lft"`
	CLTT        int64           `json:"cltt"`
	FqdnFwd     bool            `json:"fqdn-fwd"`
	FqdnRev     bool            `json:"fqdn-rev"`
	Hostname    string          `json:"hostname"`
	State       int             `json:"state"`
	UserContext json.RawMessage `json:"user-context"`
}

// leases returns lease4-get-all.
func (d *e2eDaemon) leases() []leaseJSON {
	d.e.t.Helper()
	return allLeases(d.e.t, d)
}

// allLeases returns lease4-get-all of c (an empty database answers
// result 3).
func allLeases(t testing.TB, c daemontest.Commander) []leaseJSON {
	t.Helper()
	a := daemontest.Command(t, c, "lease4-get-all", nil)
	if a.Result == 3 {
		return nil
	}
	if a.Result != 0 {
		t.Fatalf("lease4-get-all: result %d %q", a.Result, a.Text)
	}
	var out struct {
		Leases []leaseJSON `json:"leases"`
	}
	if err := json.Unmarshal(a.Arguments, &out); err != nil {
		t.Fatalf("lease4-get-all: %v: %s", err, a.Arguments)
	}
	return out.Leases
}

// lease returns lease4-get by address and whether it exists (result 3 =
// not found).
func (d *e2eDaemon) lease(ip string) (leaseJSON, bool) {
	d.e.t.Helper()
	a := d.command("lease4-get", map[string]any{"ip-address": ip})
	switch a.Result {
	case 0:
		var l leaseJSON
		if err := json.Unmarshal(a.Arguments, &l); err != nil {
			d.e.t.Fatalf("lease4-get %s: %v", ip, err)
		}
		return l, true
	case 3:
		return leaseJSON{}, false
	}
	d.e.t.Fatalf("lease4-get %s: result %d %q", ip, a.Result, a.Text)
	return leaseJSON{}, false
}

// stat returns the newest sample of a statistic (0 when it has none).
func (d *e2eDaemon) stat(name string) int64 {
	d.e.t.Helper()
	var args map[string][][2]any
	d.ok("statistic-get", map[string]any{"name": name}, &args)
	samples := args[name]
	if len(samples) == 0 {
		return 0
	}
	v, ok := samples[0][0].(float64)
	if !ok {
		d.e.t.Fatalf("statistic %s: sample %v is not a number", name, samples[0])
	}
	return int64(v)
}

// metrics scrapes GET /metrics.
func (d *e2eDaemon) metrics() string {
	d.e.t.Helper()
	text, err := d.Metrics()
	if err != nil {
		d.e.t.Fatal(err)
	}
	return text
}

// metricValue finds the sample of a series ("name" or "name{labels}").
func metricValue(text, series string) (float64, bool) {
	for line := range strings.SplitSeq(text, "\n") {
		rest, ok := strings.CutPrefix(line, series+" ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		return v, err == nil
	}
	return 0, false
}

// csvRow is one row of a Kea v4 lease file (schema 2.1), unescaped.
type csvRow struct {
	Address, HWAddr, ClientID string
	ValidLft                  uint32
	Expire                    int64
	SubnetID                  uint32
	FqdnFwd, FqdnRev          bool
	Hostname                  string
	State                     int
	UserContext               string
}

const keaCSVHeader = "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context"

// readCSV parses a lease file written by Kea or xdhcpd.
func readCSV(t testing.TB, path string) []csvRow {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open lease file: %v", err)
	}
	defer f.Close()
	var rows []csvRow
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	first := true
	for sc.Scan() {
		line := sc.Text()
		if first {
			first = false
			if line != keaCSVHeader {
				t.Fatalf("lease file %s header %q, want %q", path, line, keaCSVHeader)
			}
			continue
		}
		if line == "" {
			continue
		}
		c := strings.Split(line, ",")
		if len(c) != 11 {
			t.Fatalf("lease file %s: row %q has %d columns", path, line, len(c))
		}
		num := func(s string) int64 {
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				t.Fatalf("lease file %s: row %q: %v", path, line, err)
			}
			return v
		}
		rows = append(rows, csvRow{
			Address: c[0], HWAddr: c[1], ClientID: c[2],
			ValidLft: uint32(num(c[3])), Expire: num(c[4]), SubnetID: uint32(num(c[5])),
			FqdnFwd: c[6] == "1", FqdnRev: c[7] == "1",
			Hostname: keaUnescape(c[8]), State: int(num(c[9])), UserContext: keaUnescape(c[10]),
		})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// keaUnescape undoes Kea's CSV escaping: "&#x" followed by two hex digits.
func keaUnescape(s string) string {
	if !strings.Contains(s, "&#x") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if strings.HasPrefix(s[i:], "&#x") && i+5 <= len(s) {
			if v, err := strconv.ParseUint(s[i+3:i+5], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 4
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// liveCSV folds rows as Kea loads them: the last row per address wins and
// a row with valid lifetime 0 deletes the address.
func liveCSV(rows []csvRow) map[string]csvRow {
	m := map[string]csvRow{}
	for _, r := range rows {
		if r.ValidLft == 0 {
			delete(m, r.Address)
			continue
		}
		m[r.Address] = r
	}
	return m
}

// leasePath is the lease file of a config built by baseConfig.
func (e *e2eEnv) leasePath() string { return filepath.Join(e.dir, "leases4.csv") }

// nclient opens an nclient4 client on xc0 in the client namespace that
// sends with chaddr mac (several simulated clients share the veth).
func (e *e2eEnv) nclient(mac net.HardwareAddr, opts ...nclient4.ClientOpt) *nclient4.Client {
	e.t.Helper()
	return daemontest.NClient(e.t, e.cli, e2eClientIf, mac, opts...)
}

// rawConn opens a broadcast raw UDP conn on xc0 (port 68) for messages that
// get no answer (DECLINE) or must be sent exactly once.
func (e *e2eEnv) rawConn() net.PacketConn {
	e.t.Helper()
	return daemontest.RawConn(e.t, e.cli, e2eClientIf)
}

// udpConn opens an ordinary UDP socket in the client namespace.
func (e *e2eEnv) udpConn(addr string) *net.UDPConn {
	e.t.Helper()
	var c *net.UDPConn
	err := e.cli.Do(func() error {
		a, err := net.ResolveUDPAddr("udp4", addr)
		if err != nil {
			return err
		}
		c, err = net.ListenUDP("udp4", a)
		return err
	})
	if err != nil {
		e.t.Fatalf("listen udp %s in client ns: %v", addr, err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

// mac returns a locally administered test MAC ending in n.
func mac(prefix byte, n int) net.HardwareAddr {
	return net.HardwareAddr{0x02, 0x78, 0x65, prefix, byte(n >> 8), byte(n)}
}

// dora runs DISCOVER-OFFER-REQUEST-ACK and fails the test on error.
func dora(t testing.TB, c *nclient4.Client, mods ...dhcpv4.Modifier) *nclient4.Lease {
	t.Helper()
	return daemontest.DORA(t, c, mods...)
}

// poll retries cond until it holds or timeout passes.
func poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}
