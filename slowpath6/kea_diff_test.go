package slowpath6_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"xdhcp/config"
	"xdhcp/dhcp6"
	"xdhcp/fastpath"
	"xdhcp/internal/daemontest"
	"xdhcp/internal/lab"
	"xdhcp/internal/stats"
	"xdhcp/lease/memfile"
	"xdhcp/slowpath6"
)

const keaDhcp6 = "/usr/sbin/kea-dhcp6"

// The lab both servers get: "s0" on the server's link 2001:db8:1::/64; the
// client namespace's "c0" holds the relay's address 2001:db8:1::2.
var (
	serverGlobal = netip.MustParseAddr("2001:db8:1::1")
	relayAddr    = netip.MustParseAddr("2001:db8:1::2")
	serverDUID   = []byte{0, 1, 0, 1, 0, 0, 3, 0xe8, 2, 0, 0, 0, 0, 1}
)

// diffConfig is the Dhcp6 section both servers run: one subnet on the
// server's interface (addresses, /56 prefixes out of a /40, rapid commit),
// one reached through relays by link-address, one by interface-id.
func diffConfig(dir string) map[string]any {
	return map[string]any{"Dhcp6": map[string]any{
		"interfaces-config": map[string]any{"interfaces": []string{"s0/" + serverGlobal.String()}},
		// The DUID comes from the server-id file in the data directory,
		// written by slowpath6.ServerDUID's format (see startKea).
		"server-id":          map[string]any{"type": "LLT", "persist": true},
		"data-directory":     dir,
		"lease-database":     map[string]any{"type": "memfile", "name": filepath.Join(dir, "leases6.csv"), "lfc-interval": 0},
		"control-socket":     map[string]any{"socket-type": "unix", "socket-name": filepath.Join(dir, "control.sock")},
		"preferred-lifetime": 3000, "valid-lifetime": 4000, "renew-timer": 1000, "rebind-timer": 2000,
		"store-extended-info": true,
		"option-data":         []any{map[string]any{"name": "dns-servers", "data": "2001:db8::53"}},
		"client-classes": []any{
			map[string]any{"name": "DROP", "test": "option[1].hex == 0x000300010a00000000dd"},
			map[string]any{"name": "vip", "test": "option[1].hex == 0x000300010a00000000ee",
				"option-data": []any{map[string]any{"name": "sntp-servers", "data": "2001:db8::123"}},
				// Class lifetimes: the reserved client's come from here.
				"valid-lifetime": 5000, "preferred-lifetime": 3500},
		},
		"subnet6": []any{
			map[string]any{"id": 1, "subnet": "2001:db8:1::/64", "interface": "s0", "rapid-commit": true,
				"reservations": []any{map[string]any{"duid": "00:03:00:01:0a:00:00:00:00:ee",
					"ip-addresses": []any{"2001:db8:1::5"}, "prefixes": []any{"2001:db8:100:ff00::/56"}},
					// A flex-id reservation: without the flex_id hook (not
					// in Debian's Kea) kea-dhcp6 matches no client to it,
					// but keeps its address and prefix from the others.
					map[string]any{"flex-id": "'cpe-1'", "ip-addresses": []any{"2001:db8:1::100"}, "prefixes": []any{"2001:db8:100::/56"}}},
				"pools":    []any{map[string]any{"pool": "2001:db8:1::100-2001:db8:1::1ff"}},
				"pd-pools": []any{map[string]any{"prefix": "2001:db8:100::", "prefix-len": 40, "delegated-len": 56}}},
			map[string]any{"id": 2, "subnet": "2001:db8:2::/64",
				"pools":    []any{map[string]any{"pool": "2001:db8:2::100-2001:db8:2::1ff"}},
				"pd-pools": []any{map[string]any{"prefix": "2001:db8:200::", "prefix-len": 48, "delegated-len": 64}}},
			map[string]any{"id": 3, "subnet": "2001:db8:3::/64", "interface-id": "port-3",
				"pools": []any{map[string]any{"pool": "2001:db8:3::100-2001:db8:3::1ff"}}},
			// Prefixes only: an IA_NA gets nothing here.
			map[string]any{"id": 6, "subnet": "2001:db8:6::/64", "interface-id": "port-6",
				"pd-pools": []any{map[string]any{"prefix": "2001:db8:600::", "prefix-len": 48, "delegated-len": 64}}},
		},
		"shared-networks": []any{map[string]any{"name": "two-subnets", "relay": map[string]any{"ip-addresses": []any{"2001:db8:4::1"}},
			"subnet6": []any{
				map[string]any{"id": 4, "subnet": "2001:db8:4::/64", "pools": []any{map[string]any{"pool": "2001:db8:4::100-2001:db8:4::100"}}},
				map[string]any{"id": 5, "subnet": "2001:db8:5::/64", "pools": []any{map[string]any{"pool": "2001:db8:5::100-2001:db8:5::1ff"}}},
			}}},
		"loggers": []any{map[string]any{"name": "kea-dhcp6", "severity": "WARN",
			"output_options": []any{map[string]any{"output": "stdout"}}}},
	}}
}

// side is one server in its lab and a client socket in front of it.
type side struct {
	name           string
	srv, cli       *lab.NS
	direct, relay  *net.UDPConn
	dir            string
	kea            *daemontest.Process
	statsOf        func() map[string]int64
	ctl            *daemontest.Control // kea-dhcp6's command channel
	store          *memfile.Store6     // the engine's lease store
	serverLinkAddr netip.Addr
}

func newSide(t *testing.T, name string) *side {
	t.Helper()
	l := lab.ForTest(t, "v6d"+name)
	s := &side{name: name, dir: t.TempDir()}
	var err error
	if s.srv, err = l.NS("srv"); err != nil {
		t.Fatal(err)
	}
	if s.cli, err = l.NS("cli"); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []*lab.NS{s.srv, s.cli} {
		if err := ns.EnableIPv6(); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Veth(s.srv, "s0", netip.PrefixFrom(serverGlobal, 64), s.cli, "c0", netip.PrefixFrom(relayAddr, 64)); err != nil {
		t.Fatal(err)
	}
	// Routes back to the relayed links, through the relay.
	for _, p := range []string{"2001:db8:2::/64", "2001:db8:3::/64"} {
		cmd := s.srv.Command(context.Background(), "ip", "-6", "route", "add", p, "via", relayAddr.String(), "dev", "s0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("route: %v %s", err, out)
		}
	}
	waitLinkLocal(t, s.cli, "c0")
	waitLinkLocal(t, s.srv, "s0")
	if err := s.cli.Do(func() error {
		s.direct, err = listenUDP6("c0", "[::]:546")
		if err != nil {
			return err
		}
		s.relay, err = listenUDP6("", net.JoinHostPort(relayAddr.String(), "547"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.direct.Close(); s.relay.Close() })
	return s
}

func listenUDP6(dev, addr string) (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			if dev != "" {
				serr = unix.BindToDevice(int(fd), dev)
			}
		})
		return errors.Join(err, serr)
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp6", addr)
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}

func waitLinkLocal(t *testing.T, ns *lab.NS, ifname string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		out, _ := ns.Command(context.Background(), "ip", "-6", "addr", "show", "dev", ifname, "scope", "link").CombinedOutput()
		if strings.Contains(string(out), "fe80::") && !strings.Contains(string(out), "tentative") {
			return
		}
	}
	t.Fatalf("%s in %s has no usable link-local address", ifname, ns.Name())
}

func (s *side) startKea(t *testing.T) { s.startKeaWith(t, diffConfig(s.dir)) }

// startKeaWith runs kea-dhcp6 in the side's lab with the configuration
// conf (a whole file, its Dhcp6 section using the side's directory).
func (s *side) startKeaWith(t *testing.T, conf map[string]any) {
	t.Helper()
	// Kea finds its DUID in a server-id file written as xdhcp writes it.
	idFile := filepath.Join(s.dir, "kea-dhcp6-serverid")
	if _, err := slowpath6.ServerDUID(config.ServerID{Type: "LLT", Persist: true, File: idFile, HType: 1,
		Identifier: serverDUID[8:], Time: 1000}, time.Now()); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(s.dir, "kea.json")
	b, _ := json.MarshalIndent(conf, "", " ")
	if err := os.WriteFile(cfg, b, 0o644); err != nil {
		t.Fatal(err)
	}
	s.kea = daemontest.NewProcess(t, daemontest.ProcessOptions{Name: "kea-dhcp6", NS: s.srv,
		Args: []string{keaDhcp6, "-c", cfg}, Env: []string{"KEA_PIDFILE_DIR=" + s.dir, "KEA_LOCKFILE_DIR=" + s.dir},
		Log: filepath.Join(s.dir, "kea.log")})
	s.kea.Launch()
	ctl := daemontest.NewUnixControl(filepath.Join(s.dir, "control.sock"), 5*time.Second)
	s.kea.WaitUntil(20*time.Second, "kea-dhcp6 control socket", func() error {
		_, err := ctl.Try("version-get", nil)
		return err
	})
	s.statsOf = func() map[string]int64 { return daemontest.Stats(t, ctl) }
	s.ctl = ctl
	t.Cleanup(func() {
		// And xdhcp reads the file Kea kept.
		d, err := slowpath6.ServerDUID(config.ServerID{Type: "LLT", Persist: true, File: idFile}, time.Now())
		if err != nil || !bytes.Equal(d, serverDUID) {
			t.Errorf("server-id file after kea-dhcp6: %x, %v; want %x", d, err, serverDUID)
		}
	})
}

func (s *side) startEngine(t *testing.T, cfg6 func(dir string) *config.Config6) {
	t.Helper()
	reg := stats.New(0, 0)
	store, err := memfile.Open6(memfile.Options{Path: filepath.Join(s.dir, "leases6.csv"), Persist: true})
	if err != nil {
		t.Fatal(err)
	}
	s.store = store
	srv, err := slowpath6.New(cfg6(s.dir), slowpath6.Deps{Store: store, Stats: reg, ServerDUID: serverDUID})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv.Start(ctx)
	var l *fastpath.UDP6Listener
	if err := s.srv.Do(func() (err error) {
		l, err = fastpath.ListenUDP6("s0", []netip.Addr{serverGlobal}, srv, nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		srv.Close()
		store.Close()
	})
	s.statsOf = func() map[string]int64 {
		out := map[string]int64{}
		for name, samples := range reg.All() {
			if len(samples) > 0 {
				out[name] = samples[0].Value
			}
		}
		return out
	}
}

// exchange sends msg (relayed: wrapped by the caller) and returns the
// answer, or nil when none comes within the wait.
func (s *side) exchange(msg []byte, how route) []byte {
	c := s.direct
	var to *net.UDPAddr
	switch how {
	case viaMulticast:
		to = &net.UDPAddr{IP: net.ParseIP("ff02::1:2"), Port: 547, Zone: "c0"}
	case viaUnicast:
		to = &net.UDPAddr{IP: serverGlobal.AsSlice(), Port: 547}
	case viaRelay:
		c = s.relay
		to = &net.UDPAddr{IP: serverGlobal.AsSlice(), Port: 547}
	}
	drain(c)
	if _, err := c.WriteToUDP(msg, to); err != nil {
		return nil
	}
	buf := make([]byte, 4096)
	c.SetReadDeadline(time.Now().Add(replyWait))
	for {
		n, _, err := c.ReadFromUDP(buf)
		if err != nil {
			return nil
		}
		if n >= 4 && (bytes.Equal(buf[1:4], msg[1:4]) || buf[0] == byte(dhcp6.RelayRepl)) {
			return append([]byte(nil), buf[:n]...)
		}
	}
}

func drain(c *net.UDPConn) {
	buf := make([]byte, 4096)
	c.SetReadDeadline(time.Now())
	for {
		if _, _, err := c.ReadFromUDP(buf); err != nil {
			return
		}
	}
}

type route int

const (
	viaMulticast route = iota
	viaUnicast
	viaRelay
)

var replyWait = 700 * time.Millisecond

func TestKeaDiff(t *testing.T) {
	if _, err := exec.LookPath(keaDhcp6); err != nil {
		t.Skipf("kea-dhcp6 is not installed: %v", err)
	}
	kea, xd := newSide(t, "k"), newSide(t, "x")
	kea.startKea(t)
	xd.startEngine(t, diffEngineConfig)
	diffs := runScenarios(t, kea, xd, scenarios())
	diffs = append(diffs, compareStats(kea, xd, "pkt6-received", "pkt6-solicit-received", "pkt6-request-received", "pkt6-renew-received",
		"pkt6-rebind-received", "pkt6-release-received", "pkt6-decline-received", "pkt6-infrequest-received",
		"pkt6-advertise-sent", "pkt6-reply-sent", "pkt6-receive-drop", "pkt6-parse-failed", "pkt6-sent",
		"subnet[1].assigned-nas", "subnet[1].assigned-pds", "subnet[1].total-nas", "subnet[1].total-pds",
		"subnet[2].assigned-nas", "subnet[3].assigned-nas", "declined-addresses", "subnet[1].declined-addresses",
		"cumulative-assigned-nas", "cumulative-assigned-pds", "v6-allocation-fail", "v6-allocation-fail-subnet",
		"v6-allocation-fail-no-pools", "v6-allocation-fail-classes", "v6-allocation-fail-shared-network",
		"subnet[3].v6-allocation-fail", "subnet[3].v6-allocation-fail-no-pools", "subnet[6].v6-allocation-fail-no-pools",
		"subnet[6].assigned-pds", "pkt6-unknown-received")...)
	diffs = append(diffs, compareLeaseFiles(filepath.Join(kea.dir, "leases6.csv"), filepath.Join(xd.dir, "leases6.csv"))...)
	for _, d := range diffs {
		t.Error(d)
	}
}

// runScenarios runs each scenario against kea and xd in turn and returns
// how their answers differ.
func runScenarios(t *testing.T, kea, xd *side, scs []scenario) []string {
	var diffs []string
	for _, sc := range scs {
		var got [2]*answer
		for i, sd := range []*side{kea, xd} {
			got[i] = sc.run(sd)
		}
		for _, d := range compareAnswers(got[0], got[1]) {
			diffs = append(diffs, sc.name+": "+d)
		}
		t.Logf("%-34s kea: %s", sc.name, got[0])
		t.Logf("%-34s xd:  %s", "", got[1])
	}
	return diffs
}

// compareStats returns the statistics of names that differ between kea
// and xd.
func compareStats(kea, xd *side, names ...string) []string {
	var diffs []string
	ks, xs := kea.statsOf(), xd.statsOf()
	for _, name := range names {
		if k, x := ks[name], xs[name]; k != x {
			diffs = append(diffs, fmt.Sprintf("statistic %s: kea %d, xdhcp %d", name, k, x))
		}
	}
	return diffs
}

// compareLeaseFiles compares the last row per address of two lease6 files
// (what each server holds now), every column but the expiry and the
// lifetimes' clock.
func compareLeaseFiles(keaPath, xdPath string) []string {
	read := func(p string) (map[string]map[string]string, error) {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		cols := strings.Split(lines[0], ",")
		out := map[string]map[string]string{}
		for _, l := range lines[1:] {
			f := strings.Split(l, ",")
			row := map[string]string{}
			for i, c := range cols {
				if i < len(f) {
					row[c] = f[i]
				}
			}
			out[row["address"]+"/"+row["duid"]] = row
		}
		return out, nil
	}
	k, err := read(keaPath)
	if err != nil {
		return []string{err.Error()}
	}
	x, err := read(xdPath)
	if err != nil {
		return []string{err.Error()}
	}
	var diffs []string
	for key, kr := range k {
		xr, ok := x[key]
		if !ok {
			diffs = append(diffs, "lease file: xdhcp has no row for "+key)
			continue
		}
		for c, v := range kr {
			if c == "expire" {
				continue
			}
			if xr[c] != v {
				diffs = append(diffs, fmt.Sprintf("lease file %s: %s kea %q, xdhcp %q", key, c, v, xr[c]))
			}
		}
	}
	for key := range x {
		if _, ok := k[key]; !ok {
			diffs = append(diffs, "lease file: kea has no row for "+key)
		}
	}
	return diffs
}
