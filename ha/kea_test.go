package ha

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/vishvananda/netlink"

	"xdhcp/internal/lab"
	"xdhcp/lease"
)

const keaHooks = "/usr/lib/x86_64-linux-gnu/kea/hooks"

// keaNetnsEnv marks the re-executed test process that runs inside its own
// network namespace (unshare -n), so Kea's sockets never touch the host's.
const keaNetnsEnv = "XH_KEA_NETNS"

// TestKeaInterop pairs our service with a real kea-dhcp4 2.2 (HA+MT
// dedicated listener) in hot-standby, Kea primary and us standby: Kea's
// lease database syncs to us, heartbeats agree on states, our lease4-update
// is accepted by Kea, and Kea's lease4-update (from a DHCPREQUEST it
// serves) is accepted by our handler.
func TestKeaInterop(t *testing.T) {
	kea, err := exec.LookPath("kea-dhcp4")
	if err != nil {
		t.Skip("kea-dhcp4 not installed")
	}
	for _, h := range []string{"libdhcp_ha.so", "libdhcp_lease_cmds.so"} {
		if _, err := os.Stat(filepath.Join(keaHooks, h)); err != nil {
			t.Skipf("Kea hook %s not installed", h)
		}
	}
	if os.Getenv(keaNetnsEnv) == "" {
		reexecInNetns(t)
		return
	}
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		t.Fatal(err)
	}
	t.Run("kea-primary", func(t *testing.T) { keaPair(t, kea, true) })
	t.Run("kea-standby", func(t *testing.T) { keaPair(t, kea, false) })
}

// keaPair runs one pairing: server1 is the primary, server2 the standby,
// and Kea is server1 when keaPrimary.
func keaPair(t *testing.T, kea string, keaPrimary bool) {

	lnUs := listen(t)
	keaPort := freePort(t)
	dhcpPort := freeUDPPort(t)
	usAddr := lnUs.Addr().String()
	keaAddr := fmt.Sprintf("127.0.0.1:%d", keaPort)
	keaName, usName := "server1", "server2"
	url1, url2 := keaAddr, usAddr
	if !keaPrimary {
		keaName, usName = usName, keaName
		url1, url2 = usAddr, keaAddr
	}
	dir := t.TempDir()
	cfg := fmt.Sprintf(`{"Dhcp4": {
  "interfaces-config": {"interfaces": ["lo"], "dhcp-socket-type": "udp"},
  "lease-database": {"type": "memfile", "persist": false},
  "multi-threading": {"enable-multi-threading": true, "thread-pool-size": 2, "packet-queue-size": 16},
  "valid-lifetime": 3600,
  "subnet4": [{"id": 1, "subnet": "10.0.0.0/20", "pools": [{"pool": "10.0.0.10 - 10.0.15.250"}],
    "relay": {"ip-addresses": ["127.0.0.1"]},
    "option-data": [{"name": "dhcp-server-identifier", "data": "127.0.0.1"}]}],
  "hooks-libraries": [
    {"library": "%[1]s/libdhcp_lease_cmds.so"},
    {"library": "%[1]s/libdhcp_ha.so", "parameters": {"high-availability": [{
      "this-server-name": "%[5]s", "mode": "hot-standby",
      "heartbeat-delay": 500, "max-response-delay": 2000, "max-ack-delay": 1000, "max-unacked-clients": 0,
      "multi-threading": {"enable-multi-threading": true, "http-dedicated-listener": true,
        "http-listener-threads": 2, "http-client-threads": 2},
      "peers": [{"name": "server1", "url": "http://%[2]s/", "role": "primary"},
                {"name": "server2", "url": "http://%[3]s/", "role": "standby"}]}]}}
  ],
  "loggers": [{"name": "kea-dhcp4", "output_options": [{"output": "%[4]s"}], "severity": "INFO"}]
}}`, keaHooks, url1, url2, filepath.Join(dir, "kea.log"), keaName)
	cfgPath := filepath.Join(dir, "kea.json")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(kea, "-c", cfgPath, "-p", fmt.Sprint(dhcpPort), "-P", fmt.Sprint(dhcpPort+1))
	cmd.Env = append(os.Environ(), "KEA_PIDFILE_DIR="+dir, "KEA_LOCKFILE_DIR="+dir)
	out, err := os.Create(filepath.Join(dir, "kea.out"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			for _, f := range []string{"kea.out", "kea.log"} {
				b, _ := os.ReadFile(filepath.Join(dir, f))
				t.Logf("%s:\n%s", f, tail(string(b), 4000))
			}
		}
	})
	keaC := keaClient(t, keaAddr)
	// Wait for Kea's dedicated listener.
	deadline := time.Now().Add(15 * time.Second)
	for {
		a, err := keaC.do(context.Background(), "status-get", nil, time.Second)
		if err == nil && a.Result == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kea did not start: %v %+v", err, a)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// A lease that exists only on Kea: our sync must bring it over.
	a, err := keaC.do(context.Background(), "lease4-add", map[string]any{
		"ip-address": "10.0.0.20", "hw-address": "aa:00:00:00:00:20", "subnet-id": 1, "valid-lft": 3600,
		"hostname": "kea-only.example.", "fqdn-fwd": true}, time.Second)
	if err != nil || a.Result != 0 {
		t.Fatalf("lease4-add on Kea: %v %+v", err, a)
	}

	us := newNode(t, "xdhcp", lnUs, fmt.Sprintf(`{"high-availability": [{"this-server-name": %q, "mode": "hot-standby",
  "heartbeat-delay": 200, "max-response-delay": 2000, "max-ack-delay": 1000, "max-unacked-clients": 0,
  "peers": [{"name": "server1", "url": "http://%s/", "role": "primary"},
            {"name": "server2", "url": "http://%s/", "role": "standby"}]}]}`, usName, url1, url2), nil)
	waitState(t, us, StateHotStandby, 20*time.Second)
	// Kea follows one heartbeat later.
	for deadline := time.Now().Add(5 * time.Second); us.rel().PartnerState() != StateHotStandby; {
		if time.Now().After(deadline) {
			t.Fatalf("Kea's state as we see it: %s", us.rel().PartnerState())
		}
		time.Sleep(50 * time.Millisecond)
	}
	l, ok := us.store.Get(netip.MustParseAddr("10.0.0.20"))
	if !ok || l.Hostname != "kea-only.example." || !l.FqdnFwd {
		t.Errorf("lease synced from Kea: %+v %v", l, ok)
	}
	// Kea agrees on our state.
	deadline = time.Now().Add(5 * time.Second)
	for {
		a, err = keaC.do(context.Background(), "status-get", nil, time.Second)
		if err == nil && strings.Contains(string(a.Arguments), `"last-state": "hot-standby"`) ||
			strings.Contains(string(a.Arguments), `"last-state":"hot-standby"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Kea's view of us: %v %s", err, a.Arguments)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Our lease4-update is accepted by Kea.
	mine := lease.Lease{Addr: netip.MustParseAddr("10.0.0.30"), HWAddr: []byte{0xbb, 0, 0, 0, 0, 0x30},
		ClientID: []byte{1, 0xbb, 0, 0, 0, 0, 0x30}, ValidLft: 3600, CLTT: time.Now().Unix(), SubnetID: 1}
	if err := us.svc.Replicate(context.Background(), []lease.Op{{Kind: lease.OpPut, Lease: mine}}); err != nil {
		t.Fatalf("replicate to Kea: %v", err)
	}
	a, err = keaC.do(context.Background(), "lease4-get", map[string]any{"ip-address": "10.0.0.30"}, time.Second)
	if err != nil || a.Result != 0 || !strings.Contains(string(a.Arguments), `"01:bb:00:00:00:00:30"`) {
		t.Fatalf("lease4-get on Kea: %v %+v %s", err, a, a.Arguments)
	}
	var kl struct {
		CLTT int64 `json:"cltt"`
	}
	_ = json.Unmarshal(a.Arguments, &kl)
	if kl.CLTT != mine.CLTT {
		t.Errorf("Kea's cltt %d, ours %d", kl.CLTT, mine.CLTT)
	}
	if err := us.svc.Replicate(context.Background(), []lease.Op{{Kind: lease.OpDelete, Lease: mine}}); err != nil {
		t.Fatalf("lease4-del to Kea: %v", err)
	}
	if a, _ := keaC.do(context.Background(), "lease4-get", map[string]any{"ip-address": "10.0.0.30"}, time.Second); a.Result != 3 {
		t.Errorf("lease still on Kea after lease4-del: %+v", a)
	}

	if !keaPrimary {
		// A standby serves no scope in hot-standby: have Kea serve the
		// primary's, as an operator would with ha-scopes.
		a, err := keaC.do(context.Background(), "ha-scopes", map[string]any{"scopes": []string{"server1"}}, time.Second)
		if err != nil || a.Result != 0 {
			t.Fatalf("ha-scopes on Kea: %v %+v", err, a)
		}
	}
	// Kea serves a DHCPREQUEST and sends us a lease4-update before its ACK.
	sendRequest(t, dhcpPort, netip.MustParseAddr("10.0.0.50"), []byte{0xcc, 0, 0, 0, 0, 0x50})
	deadline = time.Now().Add(5 * time.Second)
	for {
		if l, ok := us.store.Get(netip.MustParseAddr("10.0.0.50")); ok {
			if string(l.HWAddr) != string([]byte{0xcc, 0, 0, 0, 0, 0x50}) || l.SubnetID != 1 {
				t.Errorf("lease from Kea %+v", l)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Kea's lease4-update did not arrive")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// reexecInNetns runs this test again in a new network namespace.
func reexecInNetns(t *testing.T) {
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("unshare not installed: cannot isolate Kea in a network namespace")
	}
	lab.SkipIfUnavailable(t)
	args := []string{"-n", "--", os.Args[0], "-test.run=^TestKeaInterop$", "-test.count=1"}
	if testing.Verbose() {
		args = append(args, "-test.v")
	}
	cmd := exec.Command(unshare, args...)
	cmd.Env = append(os.Environ(), keaNetnsEnv+"=1")
	out, err := cmd.CombinedOutput()
	t.Logf("netns run:\n%s", tail(string(out), 6000))
	if err != nil {
		t.Fatalf("netns run failed: %v", err)
	}
	if strings.Contains(string(out), "--- SKIP") {
		t.Skip("skipped in the netns run")
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

func keaClient(t *testing.T, addr string) *client {
	t.Helper()
	c, err := Parse([]byte(fmt.Sprintf(`{"high-availability": [{"this-server-name": "x", "mode": "passive-backup",
  "peers": [{"name": "x", "url": "http://%s/", "role": "primary"}]}]}`, addr)), 1)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := newClient(&c.Relationships[0].Peers[0], 1, FamilyV4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.close)
	return cl
}

func freePort(t *testing.T) int {
	ln := listen(t)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func freeUDPPort(t *testing.T) int {
	for {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := c.LocalAddr().(*net.UDPAddr).Port
		c.Close()
		if p < 65535 {
			return p
		}
	}
}

// sendRequest sends a relayed DHCPREQUEST (SELECTING, server-id
// 127.0.0.1) for addr to Kea's DHCP port.
func sendRequest(t *testing.T, port int, addr netip.Addr, mac []byte) {
	t.Helper()
	m, err := dhcpv4.New(
		dhcpv4.WithHwAddr(net.HardwareAddr(mac)),
		dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IP(addr.AsSlice()))),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(127, 0, 0, 1))),
		dhcpv4.WithGatewayIP(net.IPv4(127, 0, 0, 1)),
	)
	if err != nil {
		t.Fatal(err)
	}
	m.HopCount = 1
	c, err := net.Dial("udp4", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Kea may not have its DHCP socket open yet on a slow start: send a
	// few times; a repeated REQUEST renews the same lease.
	for range 3 {
		if _, err := c.Write(m.ToBytes()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
	}
}
