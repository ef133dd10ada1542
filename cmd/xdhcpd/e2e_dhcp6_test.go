package main

// DHCPv6 from the daemon: one xdhcpd serving a file with both Dhcp4 and
// Dhcp6, and one with Dhcp6 alone, to real clients in a lab with IPv6.

import (
	"bufio"
	"context"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"xdhcp/control/client"
	"xdhcp/internal/daemontest"
	"xdhcp/internal/lab"
)

// v6Env is a lab like newEnv's with IPv6 on (no DAD) and the server's
// global address 2001:db8:1::1/64 on xs0.
func newV6Env(t *testing.T) *e2eEnv {
	t.Helper()
	l := lab.ForTest(t, "xe6")
	e := &e2eEnv{t: t, lab: l, dir: t.TempDir(), mode: "off"}
	var err error
	if e.srv, err = l.NS("srv"); err != nil {
		t.Fatal(err)
	}
	if e.cli, err = l.NS("cli"); err != nil {
		t.Fatal(err)
	}
	unpinAtEnd(t, e)
	for _, ns := range []*lab.NS{e.srv, e.cli} {
		if err := ns.EnableIPv6(); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Veth(e.srv, e2eServerIf, netip.MustParsePrefix(e2eServerIP+"/16"), e.cli, e2eClientIf,
		netip.MustParsePrefix(e2eClientIP+"/16")); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.AddAddr(e2eServerIf, netip.MustParsePrefix("2001:db8:1::1/64")); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []*lab.NS{e.srv, e.cli} {
		ifc := e2eServerIf
		if ns == e.cli {
			ifc = e2eClientIf
		}
		ok := poll(10*time.Second, func() bool {
			out, _ := ns.Command(context.Background(), "ip", "-6", "addr", "show", "dev", ifc, "scope", "link").CombinedOutput()
			return strings.Contains(string(out), "fe80::") && !strings.Contains(string(out), "tentative")
		})
		if !ok {
			t.Fatalf("%s has no usable link-local address", ifc)
		}
	}
	return e
}

// dhcp6Section is the Dhcp6 section the tests serve: xs0, addresses of
// 2001:db8:1::/64 and /56 prefixes out of 2001:db8:100::/40, the server-id
// and lease files in the lab's directory, a UNIX control socket.
func (e *e2eEnv) dhcp6Section() map[string]any {
	return map[string]any{
		"interfaces-config":  map[string]any{"interfaces": []any{e2eServerIf}},
		"data-directory":     e.dir,
		"lease-database":     map[string]any{"type": "memfile", "name": filepath.Join(e.dir, "leases6.csv"), "lfc-interval": 0},
		"control-socket":     map[string]any{"socket-type": "unix", "socket-name": filepath.Join(e.dir, "ctl6.sock")},
		"preferred-lifetime": 3000, "valid-lifetime": 4000,
		"subnet6": []any{map[string]any{
			"id": 1, "subnet": "2001:db8:1::/64", "interface": e2eServerIf,
			"pools":    []any{map[string]any{"pool": "2001:db8:1::100-2001:db8:1::1ff"}},
			"pd-pools": []any{map[string]any{"prefix": "2001:db8:100::", "prefix-len": 40, "delegated-len": 56}},
		}},
	}
}

// dhclient6 runs ISC dhclient -6 for an address and a prefix until it
// binds, and returns what its lease file says it got; args go before
// the interface (a configuration file, say).
func (e *e2eEnv) dhclient6(t *testing.T, args ...string) (addr, prefix string) {
	t.Helper()
	dc := needBinary(t, "dhclient")
	lf := filepath.Join(e.dir, "dhclient6.leases")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	argv := append([]string{"-6", "-N", "-P", "-v", "-1", "-d", "-sf", "/bin/true", "-lf", lf,
		"-pf", filepath.Join(e.dir, "dhclient6.pid")}, args...)
	cmd := e.cli.Command(ctx, dc, append(argv, e2eClientIf)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 2 * time.Second
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := e.cli.Start(cmd); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait(); pw.Close() }()
	var out strings.Builder
	bound := false
	sc := bufio.NewScanner(pr)
	for !bound && sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		bound = strings.Contains(sc.Text(), "Bound to lease")
	}
	// dhclient logs the binding before it writes its lease file: wait for
	// the file before stopping it.
	if bound {
		poll(5*time.Second, func() bool {
			b, _ := os.ReadFile(lf)
			return strings.Contains(string(b), "iaprefix") && strings.Contains(string(b), "iaaddr")
		})
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	go io.Copy(io.Discard, pr)
	<-waited
	if !bound {
		t.Fatalf("dhclient -6 did not bind:\n%s", out.String())
	}
	b, err := os.ReadFile(lf)
	if err != nil {
		t.Fatal(err)
	}
	a := regexp.MustCompile(`iaaddr (\S+) \{`).FindStringSubmatch(string(b))
	p := regexp.MustCompile(`iaprefix (\S+) \{`).FindStringSubmatch(string(b))
	if a == nil || p == nil {
		t.Fatalf("dhclient -6 lease file lacks an address or a prefix:\n%s", b)
	}
	return a[1], p[1]
}

// checkV6Binding asserts the v6 client got an address of the pool and a
// /56 of the pd-pool, and the daemon's lease file holds both.
func (e *e2eEnv) checkV6Binding(t *testing.T, addr, prefix string) {
	t.Helper()
	a, err := netip.ParseAddr(addr)
	if err != nil || a.Less(netip.MustParseAddr("2001:db8:1::100")) || netip.MustParseAddr("2001:db8:1::1ff").Less(a) {
		t.Errorf("dhclient -6 got address %s, outside the pool", addr)
	}
	p, err := netip.ParsePrefix(prefix)
	if err != nil || p.Bits() != 56 || !netip.MustParsePrefix("2001:db8:100::/40").Contains(p.Addr()) {
		t.Errorf("dhclient -6 got prefix %s, want a /56 of 2001:db8:100::/40", prefix)
	}
	ok := poll(5*time.Second, func() bool {
		b, _ := os.ReadFile(filepath.Join(e.dir, "leases6.csv"))
		return strings.Contains(string(b), addr+",") && strings.Contains(string(b), p.Addr().String()+",")
	})
	if !ok {
		b, _ := os.ReadFile(filepath.Join(e.dir, "leases6.csv"))
		t.Errorf("leases6.csv lacks %s or %s:\n%s", addr, prefix, b)
	}
}

// TestE2EDualStack: one xdhcpd, one file with Dhcp4 and Dhcp6: a DHCPv4
// client and a DHCPv6 client (address and prefix) are both served, and
// both families' statistics come from the one control channel.
func TestE2EDualStack(t *testing.T) {
	e := newV6Env(t)
	cfg := e.baseConfig()
	cfg["Dhcp6"] = e.dhcp6Section()
	d := e.startDaemon(cfg)
	addr, prefix := e.dhclient6(t)
	e.checkV6Binding(t, addr, prefix)
	lease := dora(t, e.nclient(e.cMAC))
	if ip := lease.ACK.YourIPAddr; !inPool(ip) {
		t.Errorf("DHCPv4 client got %s, outside the pool", ip)
	}
	if n := d.stat("pkt6-reply-sent"); n < 1 {
		t.Errorf("pkt6-reply-sent = %d on the shared control channel", n)
	}
	if n := d.stat("subnet[1].assigned-pds"); n != 1 {
		t.Errorf("subnet[1].assigned-pds = %d, want 1", n)
	}
	if n := d.stat("pkt4-ack-sent"); n < 1 {
		t.Errorf("pkt4-ack-sent = %d", n)
	}
	// lease6 commands on the same channel list both bindings.
	var got struct {
		Leases []struct {
			Address string `json:"ip-address"`
			Type    string `json:"type"`
			Len     int    `json:"prefix-len"`
		} `json:"leases"`
	}
	d.ok("lease6-get-all", nil, &got)
	types := map[string]string{}
	for _, l := range got.Leases {
		types[l.Type] = l.Address
	}
	if len(got.Leases) != 2 || types["IA_NA"] != addr || types["IA_PD"]+"/56" != prefix {
		t.Errorf("lease6-get-all: %+v; want %s (IA_NA) and %s (IA_PD)", got.Leases, addr, prefix)
	}
	// The v6 section's own control socket answers too.
	c6 := daemontest.NewUnixControl(filepath.Join(e.dir, "ctl6.sock"), 5*time.Second)
	if st := daemontest.Stats(t, c6); st["pkt4-ack-sent"] < 1 || st["pkt6-reply-sent"] < 1 {
		t.Errorf("statistics on the Dhcp6 control socket: pkt4-ack-sent %d, pkt6-reply-sent %d", st["pkt4-ack-sent"], st["pkt6-reply-sent"])
	}
}

// TestE2EDhcp6Only: a file with Dhcp6 alone serves DHCPv6 and answers on
// the section's control socket.
func TestE2EDhcp6Only(t *testing.T) {
	e := newV6Env(t)
	cfg := map[string]any{"Dhcp6": e.dhcp6Section()}
	ctlPath := filepath.Join(e.dir, "ctl6.sock")
	p := daemontest.NewProcess(t, daemontest.ProcessOptions{Name: "xdhcpd", NS: e.srv,
		Args: []string{xdhcpd.Path(t), "-c", e.writeConfig("xdhcpd6.json", cfg)}, Log: filepath.Join(e.dir, "xdhcpd.log")})
	p.Launch()
	c6 := daemontest.NewUnixControl(ctlPath, 5*time.Second)
	p.WaitUntil(15*time.Second, "control socket", func() error { _, err := c6.Try("version-get", nil); return err })
	addr, prefix := e.dhclient6(t)
	e.checkV6Binding(t, addr, prefix)
	if st := daemontest.Stats(t, c6); st["subnet[1].assigned-nas"] != 1 || st["pkt6-reply-sent"] < 1 {
		t.Errorf("statistics: subnet[1].assigned-nas %d, pkt6-reply-sent %d", st["subnet[1].assigned-nas"], st["pkt6-reply-sent"])
	}
	// A Control Agent forwards with "service": the daemon answers for
	// dhcp6, and refuses dhcp4 (it serves no DHCPv4) as a CA does.
	forward := func(service string) client.Answer {
		c, err := client.New(client.Options{Socket: ctlPath, Service: service, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		a, err := c.Do(context.Background(), "lease6-get-all", nil)
		if err != nil {
			t.Fatalf("lease6-get-all for service %s: %v", service, err)
		}
		return a
	}
	if a := forward(client.ServiceDHCP6); a.Result != 0 || !strings.Contains(string(a.Arguments), addr) {
		t.Errorf("lease6-get-all for service dhcp6: %d %q %s", a.Result, a.Text, a.Arguments)
	}
	if a, want := forward(client.ServiceDHCP4), "forwarding socket is not configured for the server type dhcp4"; a.Result != 1 || a.Text != want {
		t.Errorf("lease6-get-all for service dhcp4 on a DHCPv6-only daemon: %d %q, want 1 %q", a.Result, a.Text, want)
	}
	// The reservation commands of a DHCPv6-only daemon are DHCPv6's.
	if a := daemontest.Command(t, c6, "reservation-get-all", map[string]any{"subnet-id": 1}); a.Result != 3 || a.Text != "0 IPv6 host(s) found." {
		t.Errorf("reservation-get-all on a DHCPv6-only daemon: %d %q", a.Result, a.Text)
	}
}

// TestE2EDhcp6UnicastAddressMissing: a Dhcp6 unicast address that its
// interface does not have is refused at start-up and by config-set, as
// xdhcpd -t (and kea-dhcp6) refuse it, rather than served without.
func TestE2EDhcp6UnicastAddressMissing(t *testing.T) {
	e := newV6Env(t)
	cfg := e.baseConfig()
	v6 := e.dhcp6Section()
	v6["interfaces-config"] = map[string]any{"interfaces": []any{e2eServerIf + "/2001:db8:1::99"}}
	cfg["Dhcp6"] = v6
	path := e.writeConfig("xdhcpd-unicast.json", cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const want = `does not have address 2001:db8:1::99`
	out, err := e.srv.Command(ctx, xdhcpd.Path(t), "-c", path).CombinedOutput()
	if err == nil || !strings.Contains(string(out), want) {
		t.Errorf("xdhcpd with a missing unicast address: %v, output lacks %q:\n%s", err, want, out)
	}
	// A running daemon refuses it on reload and keeps its sockets.
	v6["interfaces-config"] = map[string]any{"interfaces": []any{e2eServerIf + "/2001:db8:1::1"}}
	d := e.startDaemon(cfg)
	v6["interfaces-config"] = map[string]any{"interfaces": []any{e2eServerIf + "/2001:db8:1::99"}}
	if a := d.command("config-set", cfg); a.Result != 1 || !strings.Contains(a.Text, want) {
		t.Errorf("config-set with a missing unicast address: %d %q", a.Result, a.Text)
	}
}
