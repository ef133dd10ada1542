package slowpath6_test

import (
	"bufio"
	"context"
	"encoding/hex"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"xdhcp/fastpath"
	"xdhcp/internal/lab"
	"xdhcp/internal/stats"
	"xdhcp/lease"
	"xdhcp/lease/memfile"
	"xdhcp/slowpath6"
)

// clientLab is the engine, with the memfile store, serving "s0" of a
// lab whose client namespace has clientIf with the relay address
// 2001:db8:1::2 (for relayed traffic; the clients use its link-local).
type clientLab struct {
	srv, cli *lab.NS
	store    *memfile.Store6
	reg      *stats.Registry
	dir      string
}

func newClientLab(t *testing.T) *clientLab {
	t.Helper()
	l := lab.ForTest(t, "v6cl")
	c := &clientLab{dir: t.TempDir(), reg: stats.New(0, 0)}
	var err error
	if c.srv, err = l.NS("srv"); err != nil {
		t.Fatal(err)
	}
	if c.cli, err = l.NS("cli"); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []*lab.NS{c.srv, c.cli} {
		if err := ns.EnableIPv6(); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Veth(c.srv, "s0", netip.PrefixFrom(serverGlobal, 64), c.cli, clientIf, netip.PrefixFrom(relayAddr, 64)); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"2001:db8:2::/64", "2001:db8:3::/64"} {
		if out, err := c.srv.Command(context.Background(), "ip", "-6", "route", "add", p, "via", relayAddr.String(), "dev", "s0").CombinedOutput(); err != nil {
			t.Fatalf("route: %v %s", err, out)
		}
	}
	waitLinkLocal(t, c.cli, clientIf)
	waitLinkLocal(t, c.srv, "s0")
	c.store, err = memfile.Open6(memfile.Options{Path: filepath.Join(c.dir, "leases6.csv"), Persist: true, Sync: false})
	if err != nil {
		t.Fatal(err)
	}
	cfg := engineConfig(c.dir)
	// Room for perfdhcp's hundreds of clients.
	subnet1(cfg).Pools[0].Last = netip.MustParseAddr("2001:db8:1::ffff")
	srv, err := slowpath6.New(cfg, slowpath6.Deps{Store: c.store, Stats: c.reg, ServerDUID: serverDUID})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv.Start(ctx)
	var ul *fastpath.UDP6Listener
	if err := c.srv.Do(func() (err error) {
		ul, err = fastpath.ListenUDP6("s0", []netip.Addr{serverGlobal}, srv, nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- ul.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		srv.Close()
		c.store.Close()
	})
	return c
}

// clientIf is the clients' interface: a name of its own, as dhcpcd keeps
// its lease in /var/lib/dhcpcd/<interface>.lease6 whatever the namespace.
const clientIf = "x6cli0"

func needBin(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed", name)
	}
	return p
}

// follow runs cmd in ns, reads its output until match finds a line, then
// kills it; it returns the match and the output.
func follow(t *testing.T, ns *lab.NS, timeout time.Duration, match *regexp.Regexp, name string, args ...string) ([]string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := ns.Command(ctx, name, args...)
	// Its own process group: a client forking helpers (dhcpcd's privilege
	// separation) is stopped whole, and its pipe closes.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := ns.Start(cmd); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() {
		waited <- cmd.Wait()
		pw.Close()
	}()
	var out strings.Builder
	var m []string
	sc := bufio.NewScanner(pr)
	for m == nil && sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		m = match.FindStringSubmatch(sc.Text())
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	go io.Copy(io.Discard, pr)
	<-waited
	return m, out.String()
}

// leaseIn asserts the store holds a live lease of type typ at a.
func (c *clientLab) leaseIn(t *testing.T, typ lease.Type, a netip.Addr, plen int) {
	t.Helper()
	l, ok := c.store.Get(a)
	if !ok || l.Type != typ || int(l.PrefixLen) != plen || l.State != lease.StateDefault {
		t.Errorf("store: lease of %s/%d = %+v (found %v), want a %v lease", a, plen, l, ok, typ)
	}
}

func TestDhclient6(t *testing.T) {
	dc := needBin(t, "dhclient")
	c := newClientLab(t)
	lf := filepath.Join(c.dir, "dhclient6.leases")
	// -N and -P together: one IA_NA and one IA_PD in one exchange.
	// dhclient logs "Bound to lease" before it runs its script and writes
	// its lease file; the renewal it schedules next comes after both.
	bound := regexp.MustCompile(`Renewal event scheduled`)
	m, out := follow(t, c.cli, 30*time.Second, bound, dc, "-6", "-N", "-P", "-v", "-1", "-d", "-sf", "/bin/true",
		"-lf", lf, "-pf", filepath.Join(c.dir, "dhclient6.pid"), clientIf)
	if m == nil {
		t.Fatalf("dhclient -6 did not bind:\n%s", out)
	}
	b, err := os.ReadFile(lf)
	if err != nil {
		t.Fatal(err)
	}
	addr := regexp.MustCompile(`iaaddr (\S+) \{`).FindStringSubmatch(string(b))
	pfx := regexp.MustCompile(`iaprefix (\S+)/(\d+) \{`).FindStringSubmatch(string(b))
	if addr == nil || pfx == nil {
		t.Fatalf("dhclient lease file lacks an address or a prefix:\n%s", b)
	}
	a := netip.MustParseAddr(addr[1])
	p := netip.MustParseAddr(pfx[1])
	plen, _ := strconv.Atoi(pfx[2])
	if !netip.MustParsePrefix("2001:db8:1::/64").Contains(a) || plen != 56 || !netip.MustParsePrefix("2001:db8:100::/40").Contains(p) {
		t.Errorf("dhclient bound %s and %s/%d; want an address of 2001:db8:1::/64 and a /56 of 2001:db8:100::/40", a, p, plen)
	}
	c.leaseIn(t, lease.TypeNA, a, 128)
	c.leaseIn(t, lease.TypePD, p, 56)
}

func TestDhcpcd6(t *testing.T) {
	dc := needBin(t, "dhcpcd")
	c := newClientLab(t)
	conf := filepath.Join(c.dir, "dhcpcd.conf")
	// DHCPv6 at once (no router advertisement on a lab link), one IA_NA and
	// one IA_PD; the script leaves c0 as it is.
	if err := os.WriteFile(conf, []byte("ipv6only\nnoipv6rs\nia_na 1\nia_pd 2\nscript /bin/true\nnohook resolv.conf\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove("/var/lib/dhcpcd/" + clientIf + ".lease6") })
	// Bound once it says when it renews; the address and the delegated
	// prefix are logged before that.
	done := regexp.MustCompile(clientIf + `: renew in`)
	m, out := follow(t, c.cli, 30*time.Second, done, dc, "-f", conf, "-6", "-B", "-d", "-1", "-t", "20", clientIf)
	if m == nil {
		t.Fatalf("dhcpcd did not bind:\n%s", out)
	}
	addr := regexp.MustCompile(clientIf + `: adding address (\S+)/128`).FindStringSubmatch(out)
	duid := regexp.MustCompile(`DUID ([0-9a-f:]+)`).FindStringSubmatch(out)
	if addr == nil || duid == nil {
		t.Fatalf("dhcpcd did not take an address:\n%s", out)
	}
	a := netip.MustParseAddr(addr[1])
	if !netip.MustParsePrefix("2001:db8:1::/64").Contains(a) {
		t.Errorf("dhcpcd bound %s, outside 2001:db8:1::/64", a)
	}
	c.leaseIn(t, lease.TypeNA, a, 128)
	// dhcpcd logs a delegated prefix only when it assigns it to a
	// downstream interface; the binding is in the store.
	raw, _ := hex.DecodeString(strings.ReplaceAll(duid[1], ":", ""))
	var pd []lease.Lease6
	for _, l := range c.store.ByDUID(raw) {
		if l.Type == lease.TypePD {
			pd = append(pd, l)
		}
	}
	if len(pd) != 1 || pd[0].PrefixLen != 56 || pd[0].IAID != 2 || !netip.MustParsePrefix("2001:db8:100::/40").Contains(pd[0].Addr) {
		t.Errorf("dhcpcd's prefix bindings: %+v; want one /56 of 2001:db8:100::/40 for IAID 2", pd)
	}
}

func TestPerfdhcp6(t *testing.T) {
	pd := needBin(t, "perfdhcp")
	c := newClientLab(t)
	for _, tc := range []struct {
		name  string
		extra []string
	}{
		{"direct", nil},
		// -A1: every message inside one Relay-forw, as a relay would send.
		{"relayed", []string{"-A1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
			defer cancel()
			args := append([]string{"-6", "-l", clientIf, "-e", "address-and-prefix", "-r", "100", "-R", "300",
				"-p", "3", "-W", "1000000"}, tc.extra...)
			out, err := c.cli.Command(ctx, pd, args...).CombinedOutput()
			// perfdhcp exits 3 when it saw drops; the counts below say
			// which.
			if err != nil && !strings.Contains(string(out), "Statistics for") {
				t.Fatalf("perfdhcp %v: %v\n%s", args, err, out)
			}
			if err != nil {
				t.Errorf("perfdhcp %v: %v", args, err)
			}
			st := perfStats(string(out))
			for _, ex := range []string{"SOLICIT-ADVERTISE", "REQUEST-REPLY"} {
				s, ok := st[ex]
				if !ok || s["sent packets"] == 0 {
					t.Fatalf("perfdhcp: no %s exchanges:\n%s", ex, out)
				}
				if s["received packets"] != s["sent packets"] || s["drops"] != 0 || s["orphans"] != 0 || s["rejected leases"] != 0 {
					t.Errorf("perfdhcp %s: %v (want every packet answered, no drops or orphans)", ex, s)
				}
			}
			t.Logf("perfdhcp %s: %v", tc.name, st)
		})
	}
	if n := c.reg.Counter("pkt6-parse-failed").Load(); n != 0 {
		t.Errorf("pkt6-parse-failed = %d", n)
	}
}

// perfStats reads perfdhcp's "***Statistics for: X***" blocks.
func perfStats(out string) map[string]map[string]int {
	res := map[string]map[string]int{}
	var cur map[string]int
	hdr := regexp.MustCompile(`Statistics for: ([A-Z-]+)`)
	kv := regexp.MustCompile(`^([a-z ]+?)(?:\s*\(.*\))?:\s*(\d+)\s*$`)
	for line := range strings.SplitSeq(out, "\n") {
		if m := hdr.FindStringSubmatch(line); m != nil {
			cur = map[string]int{}
			res[m[1]] = cur
			continue
		}
		if m := kv.FindStringSubmatch(strings.TrimSpace(line)); m != nil && cur != nil {
			v, _ := strconv.Atoi(m[2])
			cur[m[1]] = v
		}
	}
	return res
}
