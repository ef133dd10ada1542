package main

// Real DHCP clients nobody here wrote: busybox udhcpc, ISC dhclient and
// Kea's perfdhcp, run in the client namespace against the daemon.

import (
	"bufio"
	"context"
	"io"
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
	// -d keeps dhclient in the foreground, where it stays after binding:
	// read its log until it binds, then stop it (by its PID).
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := e.cli.Command(ctx, dc, "-4", "-v", "-1", "-d", "-sf", "/bin/true", "-lf", lf, "-pf", pf, e2eClientIf)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := e.cli.Start(cmd); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() {
		waited <- cmd.Wait()
		pw.Close() // ends the scan below if dhclient exits or is killed
	}()
	bound := regexp.MustCompile(`bound to (\S+) -- renewal in`)
	var out strings.Builder
	var m []string
	sc := bufio.NewScanner(pr)
	for m == nil && sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		m = bound.FindStringSubmatch(sc.Text())
	}
	_ = cmd.Process.Kill()
	<-waited
	if m == nil {
		t.Fatalf("dhclient did not bind:\n%s", out.String())
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
	forModesSerial(t, func(t *testing.T, e *e2eEnv) { testE2EPerfdhcp(t, e, pd) })
}

func testE2EPerfdhcp(t *testing.T, e *e2eEnv, pd string) {
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
	// Every ACK is a lease of its own client: perfdhcp numbers its
	// clients' MACs sequentially from 00:0c:01:02:03:04, so with -R far
	// above the number of exchanges no client repeats.
	leases := d.leases()
	if len(leases) != ra.received {
		t.Errorf("lease4-get-all lists %d leases, perfdhcp received %d ACKs", len(leases), ra.received)
	}
	if cum := d.stat("cumulative-assigned-addresses"); cum != int64(len(leases)) {
		t.Errorf("cumulative-assigned-addresses %d, want %d", cum, len(leases))
	}
	if got := d.stat("subnet[1].assigned-addresses"); got != int64(len(leases)) {
		t.Errorf("subnet[1].assigned-addresses %d, want %d", got, len(leases))
	}
	// lease4-get-all must say what the lease file says, lease by lease.
	compareWithCSV(t, leases, liveCSV(readCSV(t, e.leasePath())))
}

// compareWithCSV checks that the leases a command returned are exactly the
// live rows of a lease file (address, MAC, client-id, lifetime, expiry,
// subnet, hostname, state), reporting the first few differences.
func compareWithCSV(t *testing.T, leases []leaseJSON, live map[string]csvRow) {
	t.Helper()
	if len(leases) != len(live) {
		t.Errorf("command lists %d leases, the lease file holds %d", len(leases), len(live))
	}
	bad := 0
	seen := map[string]bool{}
	for _, l := range leases {
		if seen[l.IPAddress] {
			t.Errorf("address %s listed twice", l.IPAddress)
		}
		seen[l.IPAddress] = true
		r, ok := live[l.IPAddress]
		switch {
		case !ok:
			t.Errorf("lease %+v is not in the lease file", l)
		case r.HWAddr != l.HWAddress || r.ClientID != l.ClientID || r.ValidLft != l.ValidLft ||
			r.Expire != l.CLTT+int64(l.ValidLft) || r.SubnetID != l.SubnetID || r.Hostname != l.Hostname ||
			r.State != l.State || r.FqdnFwd != l.FqdnFwd || r.FqdnRev != l.FqdnRev:
			t.Errorf("lease of %s: command says hw %s cid %s valid %d cltt %d subnet %d host %q state %d; "+
				"file says hw %s cid %s valid %d expire %d subnet %d host %q state %d",
				l.IPAddress, l.HWAddress, l.ClientID, l.ValidLft, l.CLTT, l.SubnetID, l.Hostname, l.State,
				r.HWAddr, r.ClientID, r.ValidLft, r.Expire, r.SubnetID, r.Hostname, r.State)
		default:
			continue
		}
		if bad++; bad >= 3 {
			t.Errorf("... stopping after %d differences", bad)
			return
		}
	}
}

func parseIP(s string) net.IP { return net.ParseIP(s) }
