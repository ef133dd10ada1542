package loadgen

import (
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"xdhcp/dhcp6"
	"xdhcp/fastpath/frame"
	"xdhcp/handoff"
	"xdhcp/internal/daemontest"
	"xdhcp/internal/lab"
)

// The XDP program takes DHCPv6 replies (IPv6/UDP to the port) like DHCPv4
// ones, and leaves other IPv6 traffic to the kernel.
func TestRxProgramVerdictsIPv6(t *testing.T) {
	lab.SkipIfUnavailable(t)
	rp, err := newRxProgram(1, 546, xdpDrop)
	if err != nil {
		if errors.Is(err, ebpf.ErrNotSupported) || errors.Is(err, os.ErrPermission) {
			t.Skipf("cannot load XDP programs: %v", err)
		}
		t.Fatal(err)
	}
	defer rp.close()
	mk := func(port uint16) []byte {
		m := handoff.Meta6{SrcMAC: [6]byte{2, 0, 0, 0, 0, 1}, DstMAC: [6]byte{2, 0, 0, 0, 0, 2},
			SrcIP: netip.MustParseAddr("fe80::1").As16(), DstIP: netip.MustParseAddr("fe80::2").As16(), SrcPort: 547, DstPort: port}
		b := make([]byte, 1500)
		n, err := frame.Build6(b, &m, make([]byte, 100))
		if err != nil {
			t.Fatal(err)
		}
		return b[:n]
	}
	icmp := mk(546)
	icmp[14+6] = 58
	for _, tc := range []struct {
		name string
		pkt  []byte
		want uint32
	}{
		{"reply to port 546", mk(546), xdpDrop},
		{"other UDP", mk(53), xdpPass},
		{"ICMPv6", icmp, xdpPass},
		{"truncated in UDP", mk(546)[:60], xdpPass},
	} {
		got, err := rp.prog.Run(&ebpf.RunOptions{Data: tc.pkt})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got != tc.want {
			t.Errorf("%s: verdict %d, want %d", tc.name, got, tc.want)
		}
	}
}

// parseReply6 reads what a server puts in a Reply: the client's DUID, the
// server's, the IA_NA's address and T1, the IA_PD's prefix, and status
// codes at message and IA level; a broken option frame is refused.
func TestParseReply6(t *testing.T) {
	var b dhcp6.Builder
	b.Header(dhcp6.Reply, [3]byte{1, 2, 3})
	b.Option(dhcp6.OptClientID, []byte{0, 3, 0, 1, 2, 0x58, 0, 0, 0, 7})
	b.Option(dhcp6.OptServerID, []byte{0, 1, 0, 1, 9, 9})
	m := b.IA(dhcp6.OptIANA, iaidNA, 1000, 1600)
	b.End(b.IAAddr(netip.MustParseAddr("2001:db8:1::42").As16(), 3000, 4000))
	b.End(m)
	m = b.IA(dhcp6.OptIAPD, iaidPD, 1000, 1600)
	b.Status(dhcp6.StatusSuccess, "")
	b.End(b.IAPrefix(netip.MustParseAddr("2001:db8:100:300::").As16(), 56, 3000, 4000))
	b.End(m)
	var v view6
	if !parseReply6(b.B, &v) {
		t.Fatal("refused")
	}
	if v.typ != dhcp6.Reply || v.xid != 0x010203 || len(v.clientID) != 10 || len(v.serverID) != 6 || v.status != -1 {
		t.Fatalf("header: %+v", v)
	}
	if !v.na.has || netip.AddrFrom16(v.na.addr).String() != "2001:db8:1::42" || v.na.t1 != 1000 || v.na.valid != 4000 || v.na.preferred != 3000 {
		t.Fatalf("IA_NA: %+v", v.na)
	}
	if !v.pd.has || v.pd.plen != 56 || netip.AddrFrom16(v.pd.addr).String() != "2001:db8:100:300::" || v.pd.status != 0 {
		t.Fatalf("IA_PD: %+v", v.pd)
	}
	g := &Generator{cfg: Config{MACPrefix: [2]byte{2, 0x58}}, clients: make([]client, 8)}
	if idx, ok := g.clientOf6(v.clientID); !ok || idx != 7 {
		t.Fatalf("client %d %v, want 7", idx, ok)
	}
	if _, ok := g.clientOf6([]byte{0, 3, 0, 1, 2, 0x58, 0, 0, 0, 8}); ok {
		t.Fatal("a DUID past the clients was taken")
	}
	if parseReply6(b.B[:len(b.B)-1], &v) { // the IA_PD runs past the end
		t.Fatal("a broken option frame was read")
	}
}

// The generator's DHCPv6 clients against a real xdhcpd serving DHCPv6
// through XDP: each binds an address and a /56 (Solicit, Advertise,
// Request, Reply), renews both twice and rebinds, and every reply passes
// the checks.
func TestAFXDPv6AgainstXdhcpd(t *testing.T) {
	bin := xdhcpdPath(t)
	lab.SkipIfUnavailable(t)
	_, p := lab.PairForTest(t, "lg-6", "lgs6", netip.MustParsePrefix("10.97.0.1/16"), "lgc6", netip.MustParsePrefix("10.97.0.2/16"))
	srv, cli := p.Server, p.Client
	for _, x := range []struct {
		ns  *lab.NS
		ifc string
	}{{srv, "lgs6"}, {cli, "lgc6"}} {
		// Links made before IPv6 was on get their link-local address by
		// going down and up.
		if err := x.ns.EnableIPv6(); err != nil {
			t.Fatal(err)
		}
		if err := x.ns.SetLink(x.ifc, false); err != nil {
			t.Fatal(err)
		}
		if err := x.ns.SetLink(x.ifc, true); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.AddAddr("lgs6", netip.MustParsePrefix("2001:db8:1::1/64")); err != nil {
		t.Fatal(err)
	}
	var ll netip.Addr
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		err := cli.Do(func() error {
			var err error
			ll, err = InterfaceLinkLocal("lgc6")
			return err
		})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	cfg, _ := json.Marshal(map[string]any{
		"Dhcp4": map[string]any{
			"interfaces-config": map[string]any{"interfaces": []string{"lgs6"}},
			"lease-database":    map[string]any{"type": "memfile", "persist": false},
			"xdhcp":             map[string]any{"xdp": map[string]any{"mode": "auto"}},
		},
		"Dhcp6": map[string]any{
			"interfaces-config":  map[string]any{"interfaces": []string{"lgs6"}},
			"data-directory":     dir,
			"lease-database":     map[string]any{"type": "memfile", "name": filepath.Join(dir, "leases6.csv"), "lfc-interval": 0},
			"preferred-lifetime": 3000, "valid-lifetime": 4000, "cache-threshold": 0.5,
			"subnet6": []any{map[string]any{"id": 1, "subnet": "2001:db8:1::/64", "interface": "lgs6",
				"pools":    []any{map[string]any{"pool": "2001:db8:1::/80"}},
				"pd-pools": []any{map[string]any{"prefix": "2001:db8:100::", "prefix-len": 40, "delegated-len": 56}}}},
		},
	})
	cfgPath := filepath.Join(dir, "xdhcpd.json")
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	d := daemontest.NewProcess(t, daemontest.ProcessOptions{
		Name: "xdhcpd", NS: srv, Args: []string{bin, "-c", cfgPath}, Log: filepath.Join(dir, "xdhcpd.log"),
	})
	d.Launch()
	d.WaitUntil(20*time.Second, "serving", func() error {
		if !strings.Contains(d.LogSince(), "xdhcpd serving") {
			return errors.New("serving not logged yet")
		}
		return nil
	})
	var tr Transport
	if err := cli.Do(func() error {
		var err error
		tr, err = OpenTransport("lgc6", TransportOptions{Kind: TransportAFXDP, ListenPort: 546})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	const n = 200
	_, rep := runGenerator(t, tr, Config{V6: true, LinkLocal: ll, Mode: Closed, Outstanding: 32, Clients: n, Count: n,
		Duration: 10 * time.Second, Renewals: 2, Rebind: true, RenewAfter: 20 * time.Millisecond,
		Subnet: netip.MustParsePrefix("2001:db8:1::/64"), Delegated: netip.MustParsePrefix("2001:db8:100::/40"),
		Timeout: 500 * time.Millisecond, Retries: 3, FullCheckEvery: 2})
	if err := rep.Failed(); err != nil {
		t.Fatalf("%v; report %+v", err, rep)
	}
	if rep.DORA.Completed != n || rep.Renew.Completed != 2*n || rep.Rebind.Completed != n {
		t.Fatalf("Solicit..Reply %d/%d, Renews %d/%d, Rebinds %d/%d (lost %d, refused %d); server log:\n%s",
			rep.DORA.Completed, n, rep.Renew.Completed, 2*n, rep.Rebind.Completed, n, rep.Lost, rep.Naks, d.Log())
	}
	for code := range rep.StatusCodes {
		if code != "Success" {
			t.Errorf("status codes %v", rep.StatusCodes)
		}
	}
	if v := rep.Validation; v.Cheap != rep.Received || v.Full*2 < v.Cheap {
		t.Fatalf("validation %+v of %d received", v, rep.Received)
	}
	if rep.Offers != n || rep.Acks != 4*n {
		t.Errorf("%d Advertises, %d Replies; want %d and %d", rep.Offers, rep.Acks, n, 4*n)
	}
}

// The generator's own cost per DHCPv6 renewal: read a Reply in place and
// build the next Renew frame.
func BenchmarkRenew6(b *testing.B) {
	var bd dhcp6.Builder
	bd.Header(dhcp6.Reply, [3]byte{1, 2, 3})
	bd.Option(dhcp6.OptClientID, []byte{0, 3, 0, 1, 2, 0x58, 0, 0, 0, 7})
	bd.Option(dhcp6.OptServerID, []byte{0, 1, 0, 1, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9})
	m := bd.IA(dhcp6.OptIANA, iaidNA, 1000, 1600)
	bd.End(bd.IAAddr(netip.MustParseAddr("2001:db8:1::42").As16(), 3000, 4000))
	bd.End(m)
	m = bd.IA(dhcp6.OptIAPD, iaidPD, 1000, 1600)
	bd.End(bd.IAPrefix(netip.MustParseAddr("2001:db8:100:300::").As16(), 56, 3000, 4000))
	bd.End(m)
	fr := make([]byte, 2048)
	meta := handoff.Meta6{SrcPort: 547, DstPort: 546}
	n, _ := frame.Build6(fr, &meta, bd.B)
	g := &Generator{cfg: Config{MACPrefix: [2]byte{2, 0x58}, V6: true}, clients: make([]client, 8), txBufs: make([][]byte, 1), txLens: make([]int, 1)}
	g.sidLen = 14
	out := make([]byte, FrameBufLen)
	b.ReportAllocs()
	for b.Loop() {
		var m6 handoff.Meta6
		p, _ := frame.Parse6(fr[:n], &m6)
		if !parseReply6(p, &g.view6) {
			b.Fatal("refused")
		}
		if _, err := frame.Build6(out, &meta, g.payload6(7, 0, dhcp6.Renew)); err != nil {
			b.Fatal(err)
		}
	}
}
