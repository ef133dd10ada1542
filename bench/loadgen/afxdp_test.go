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

	"xdhcp/fastpath/frame"
	"xdhcp/handoff"
	"xdhcp/internal/daemontest"
	"xdhcp/internal/lab"
)

// The generator's XDP program under prog.Run: replies to our port are
// sent to the XSKMAP (whose empty slot falls back to the program's
// fallback, XDP_DROP here, to tell it from a pass), everything else
// passes.
func TestRxProgramVerdicts(t *testing.T) {
	lab.SkipIfUnavailable(t)
	rp, err := newRxProgram(1, 68, xdpDrop)
	if err != nil {
		if errors.Is(err, ebpf.ErrNotSupported) || errors.Is(err, os.ErrPermission) {
			t.Skipf("cannot load XDP programs: %v", err)
		}
		t.Fatal(err)
	}
	defer rp.close()
	payload := make([]byte, 300)
	mk := func(m handoff.Meta) []byte {
		b := make([]byte, 1500)
		n, err := frame.Build(b, &m, payload)
		if err != nil {
			t.Fatal(err)
		}
		return b[:n]
	}
	reply := handoff.Meta{SrcMAC: [6]byte{2, 0, 0, 0, 0, 1}, DstMAC: [6]byte{2, 0x58, 0, 0, 0, 1}, SrcIP: [4]byte{10, 0, 0, 1},
		DstIP: [4]byte{255, 255, 255, 255}, SrcPort: 67, DstPort: 68}
	relayed := reply
	relayed.DstPort = 67
	other := reply
	other.DstPort = 53
	withOpts := mk(reply)
	// The same reply with 4 bytes of IPv4 options (IHL 6): the program
	// must find the UDP header after them.
	withOpts = append(append(append([]byte(nil), withOpts[:34]...), 1, 1, 1, 0), withOpts[34:]...)
	withOpts[14] = 0x46
	frag := mk(reply)
	frag[14+6] = 0x20 // more fragments
	arp := mk(reply)
	arp[12], arp[13] = 0x08, 0x06
	vlan := mk(reply)
	vlan = append(append(append([]byte(nil), vlan[:12]...), 0x81, 0, 0, 5), vlan[12:]...)
	for _, tc := range []struct {
		name string
		pkt  []byte
		want uint32
	}{
		{"reply to port 68", mk(reply), xdpDrop},
		{"reply with IP options", withOpts, xdpDrop},
		{"to port 67", mk(relayed), xdpPass},
		{"other UDP", mk(other), xdpPass},
		{"fragment", frag, xdpPass},
		{"ARP", arp, xdpPass},
		{"VLAN-tagged", vlan, xdpPass},
		{"truncated in IPv4", mk(reply)[:30], xdpPass},
		{"truncated in UDP", mk(reply)[:38], xdpPass},
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

// xdhcpdPath returns $XDHCP_BIN/xdhcpd or skips.
func xdhcpdPath(t *testing.T) string {
	d := os.Getenv("XDHCP_BIN")
	if d == "" {
		t.Skip("XDHCP_BIN not set: no xdhcpd to test against")
	}
	p := filepath.Join(d, "xdhcpd")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("XDHCP_BIN: %v", err)
	}
	return p
}

// The AF_XDP transport completes DORA and renewals against a real xdhcpd
// (XDP mode) in a namespace lab, and the run reports it.
func TestAFXDPAgainstXdhcpd(t *testing.T) {
	bin := xdhcpdPath(t)
	lab.SkipIfUnavailable(t)
	_, p := lab.PairForTest(t, "lg-x", "lgs0", netip.MustParsePrefix("10.98.0.1/16"), "lgc0", netip.MustParsePrefix("10.98.0.2/16"))
	srv, cli := p.Server, p.Client
	dir := t.TempDir()
	cfg, _ := json.Marshal(map[string]any{"Dhcp4": map[string]any{
		"interfaces-config": map[string]any{"interfaces": []string{"lgs0"}},
		"lease-database":    map[string]any{"type": "memfile", "persist": true, "name": filepath.Join(dir, "leases4.csv"), "lfc-interval": 0},
		"valid-lifetime":    3600, "renew-timer": 900, "rebind-timer": 1800, "cache-threshold": 0.5,
		"subnet4": []any{map[string]any{"id": 1, "subnet": "10.98.0.0/16", "pools": []any{map[string]any{"pool": "10.98.1.0 - 10.98.9.255"}}}},
		"loggers": []any{map[string]any{"name": "kea-dhcp4", "output_options": []any{map[string]any{"output": "stdout"}}, "severity": "INFO"}},
		"xdhcp":   map[string]any{"xdp": map[string]any{"mode": "auto"}},
	}})
	cfgPath := filepath.Join(dir, "xdhcpd.json")
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	// The configuration has no control socket: the daemon is ready when
	// it logs that it serves.
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
		tr, err = OpenTransport("lgc0", TransportOptions{Kind: TransportAFXDP})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	g, rep := runGenerator(t, tr, Config{Mode: Closed, Outstanding: 16, Clients: 64, Count: 64, Duration: 10 * time.Second,
		Renewals: 2, RenewAfter: 20 * time.Millisecond, Subnet: netip.MustParsePrefix("10.98.0.0/16"),
		Timeout: 500 * time.Millisecond, Retries: 3, FullCheckEvery: 2})
	if err := rep.Failed(); err != nil {
		t.Fatalf("%v; report %+v", err, rep)
	}
	if rep.DORA.Completed != 64 || rep.Renew.Completed != 128 {
		t.Fatalf("DORA %d/64, renewals %d/128 (lost %d); server log:\n%s", rep.DORA.Completed, rep.Renew.Completed, rep.Lost, d.Log())
	}
	gs := rep.Generator
	if !strings.HasPrefix(gs.Transport, "af_xdp") || gs.XDP == nil || gs.TxSent == 0 || gs.TxSent != gs.TxAttempted {
		t.Fatalf("generator stats %+v", gs)
	}
	// Every reply was checked in place, at least half in full.
	if v := rep.Validation; v.Cheap != rep.Received || v.Full*2 < v.Cheap {
		t.Fatalf("validation %+v of %d received", v, rep.Received)
	}
	if n := len(g.Leases()); n != 64 {
		t.Fatalf("%d clients bound, want 64", n)
	}
}
