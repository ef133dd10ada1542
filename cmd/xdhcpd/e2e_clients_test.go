package main

// Real DHCP clients nobody here wrote: busybox udhcpc, ISC dhclient and
// Kea's perfdhcp, run in the client namespace against the daemon.

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// runIn runs a program in ns with a deadline and returns its combined
// output.
func (e *e2eEnv) runClient(timeout time.Duration, name string, args ...string) (string, error) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := e.cli.Command(ctx, name, args...).CombinedOutput()
	return string(out), err
}

// leaseOf asserts lease4-get-all lists ip for hw exactly once.
func leaseOf(t *testing.T, d *e2eDaemon, ip, hw string) {
	t.Helper()
	n := 0
	for _, l := range d.leases() {
		if l.IPAddress == ip {
			n++
			if l.HWAddress != hw || l.State != 0 {
				t.Errorf("lease4-get-all: %s = %+v, want hw %s state 0", ip, l, hw)
			}
		}
	}
	if n != 1 {
		t.Errorf("lease4-get-all lists %s %d times, want once", ip, n)
	}
}

func TestE2EUdhcpc(t *testing.T) {
	t.Parallel()
	bb := needBinary(t, "busybox")
	e := newEnv(t)
	d := e.startDaemon(e.baseConfig())
	// -q: quit once bound; -n: fail instead of backgrounding; the script
	// /bin/true keeps xc0 unconfigured (the address is read from the log).
	out, err := e.runClient(20*time.Second, bb, "udhcpc", "-i", e2eClientIf, "-f", "-q", "-n", "-t", "3", "-T", "1", "-s", "/bin/true")
	if err != nil {
		t.Fatalf("udhcpc: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`lease of (\S+) obtained from (\S+), lease time (\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("udhcpc did not report a lease:\n%s", out)
	}
	if !inPool(parseIP(m[1])) || strings.TrimSuffix(m[2], ",") != e2eServerIP || m[3] != "3600" {
		t.Errorf("udhcpc: lease of %s from %s for %s s, want a pool address from %s for 3600 s", m[1], m[2], m[3], e2eServerIP)
	}
	leaseOf(t, d, m[1], e.cMAC.String())
}

func TestE2EDhclient(t *testing.T) {
	t.Parallel()
	dc := needBinary(t, "dhclient")
	e := newEnv(t)
	d := e.startDaemon(e.baseConfig())
	lf := filepath.Join(e.dir, "dhclient.leases")
	pf := filepath.Join(e.dir, "dhclient.pid")
	out, err := e.runClient(30*time.Second, dc, "-4", "-v", "-1", "-d", "-sf", "/bin/true", "-lf", lf, "-pf", pf, e2eClientIf)
	if err != nil {
		t.Fatalf("dhclient: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`bound to (\S+) -- renewal in`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("dhclient did not bind:\n%s", out)
	}
	ip := m[1]
	if !inPool(parseIP(ip)) {
		t.Errorf("dhclient bound to %s, outside the pool", ip)
	}
	// What dhclient recorded: the address, the server and the options.
	b, err := os.ReadFile(lf)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"fixed-address " + ip + ";", "option dhcp-server-identifier " + e2eServerIP + ";",
		"option routers " + e2eServerIP + ";", "option dhcp-lease-time 3600;", "option subnet-mask 255.255.0.0;"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("dhclient lease file lacks %q:\n%s", want, b)
		}
	}
	leaseOf(t, d, ip, e.cMAC.String())
}

// perfdhcpStats is what perfdhcp reports per exchange type.
type perfdhcpStats struct {
	sent, received, drops, orphans int
}

// parsePerfdhcp reads the "***Statistics for: DISCOVER-OFFER***" and
// "REQUEST-ACK" blocks of perfdhcp's final report.
func parsePerfdhcp(t *testing.T, out string) map[string]perfdhcpStats {
	t.Helper()
	res := map[string]perfdhcpStats{}
	var cur string
	field := func(line, key string) (int, bool) {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), key)
		if !ok {
			return 0, false
		}
		v, err := strconv.Atoi(strings.TrimSpace(rest))
		return v, err == nil
	}
	for line := range strings.SplitSeq(out, "\n") {
		if i := strings.Index(line, "Statistics for: "); i >= 0 {
			cur = strings.Trim(line[i+len("Statistics for: "):], "* ")
			continue
		}
		if cur == "" {
			continue
		}
		s := res[cur]
		if v, ok := field(line, "sent packets:"); ok {
			s.sent = v
		} else if v, ok := field(line, "received packets:"); ok {
			s.received = v
		} else if v, ok := field(line, "drops:"); ok {
			s.drops = v
		} else if v, ok := field(line, "orphans:"); ok {
			s.orphans = v
		}
		res[cur] = s
	}
	if _, ok := res["REQUEST-ACK"]; !ok {
		t.Fatalf("perfdhcp printed no REQUEST-ACK statistics:\n%s", out)
	}
	return res
}

// bigPoolConfig is baseConfig with a pool large enough for perfdhcp.
func (e *e2eEnv) bigPoolConfig() map[string]any {
	cfg := e.baseConfig()
	subnet(cfg, 0)["pools"] = []any{map[string]any{"pool": "10.88.16.0 - 10.88.255.250"}}
	return cfg
}

func TestE2EPerfdhcp(t *testing.T) {
	pd := needBinary(t, "perfdhcp")
	e := newEnv(t)
	d := e.startDaemon(e.bigPoolConfig())
	// perfdhcp acts as a relay (giaddr = -l address) and talks to the
	// server's unicast address. -R: distinct clients; -u: perfdhcp checks
	// that no address is given to two clients.
	out, err := e.runClient(60*time.Second, pd, "-4", "-l", e2eClientIP, "-R", "100000", "-r", "200", "-p", "5",
		"-u", "-W", "2000000", e2eServerIP)
	t.Logf("perfdhcp:\n%s", out)
	if err != nil {
		// perfdhcp exits 3 when packets were dropped.
		t.Errorf("perfdhcp: %v", err)
	}
	st := parsePerfdhcp(t, out)
	do, ra := st["DISCOVER-OFFER"], st["REQUEST-ACK"]
	if do.drops != 0 || ra.drops != 0 || do.sent == 0 || ra.sent == 0 {
		t.Errorf("perfdhcp: DISCOVER-OFFER %+v, REQUEST-ACK %+v: want traffic and zero drops", do, ra)
	}
	if strings.Contains(out, "not unique") || strings.Contains(out, "non-unique") {
		t.Errorf("perfdhcp saw an address given twice")
	}
	acks := d.stat("pkt4-ack-sent")
	if acks != int64(ra.received) {
		t.Errorf("pkt4-ack-sent %d, perfdhcp received %d ACKs", acks, ra.received)
	}
	// Every ACK is a lease: a client may have been drawn twice by perfdhcp's
	// random MACs, then it renews its one lease; the server counts new
	// assignments in cumulative-assigned-addresses.
	leases := d.leases()
	seenIP, seenHW := map[string]bool{}, map[string]bool{}
	for _, l := range leases {
		if seenIP[l.IPAddress] || seenHW[l.HWAddress] {
			t.Errorf("lease4-get-all: duplicate address or MAC in %+v", l)
		}
		seenIP[l.IPAddress], seenHW[l.HWAddress] = true, true
	}
	cum := d.stat("cumulative-assigned-addresses")
	if int64(len(leases)) != cum || len(leases) > ra.received || len(leases) < ra.received*95/100 {
		t.Errorf("lease4-get-all lists %d leases; ACKs %d, cumulative-assigned-addresses %d", len(leases), ra.received, cum)
	}
	if got := d.stat("subnet[1].assigned-addresses"); got != int64(len(leases)) {
		t.Errorf("subnet[1].assigned-addresses %d, want %d", got, len(leases))
	}
	live := liveCSV(readCSV(t, e.leasePath()))
	if len(live) != len(leases) {
		t.Errorf("CSV holds %d live leases, lease4-get-all %d", len(live), len(leases))
	}
}

func parseIP(s string) net.IP { return net.ParseIP(s) }
