package bench

import (
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"xdhcp/internal/lab"
)

// TestPairLabBroadcast: a broadcast from the client namespace reaches both
// servers of the pair lab (as a DHCPDISCOVER must), and the servers reach
// each other (for lease updates).
func TestPairLabBroadcast(t *testing.T) {
	lab.SkipIfUnavailable(t)
	pl, err := NewPairLab("bs-pair", suiteServer, suiteStandby, suiteClient)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := pl.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	if pl.PrimaryMAC == [6]byte{} {
		t.Error("no primary MAC")
	}
	listen := func(ns *lab.NS) *net.UDPConn {
		var c *net.UDPConn
		if err := ns.Do(func() error {
			var err error
			c, err = net.ListenUDP("udp4", &net.UDPAddr{Port: 6767})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	p, s := listen(pl.Primary), listen(pl.Standby)
	var tx *net.UDPConn
	if err := pl.Client.Do(func() error {
		var err error
		tx, err = net.ListenUDP("udp4", &net.UDPAddr{IP: suiteClient.Addr().AsSlice()})
		if err != nil {
			return err
		}
		rc, err := tx.SyscallConn()
		if err != nil {
			return err
		}
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_BROADCAST, 1)
		}); err != nil {
			return err
		}
		return serr
	}); err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	// recv sends until c reads want (earlier datagrams may still queue).
	recv := func(c *net.UDPConn, want string, send func()) bool {
		buf := make([]byte, 64)
		for range 20 {
			send()
			_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			for {
				n, _, err := c.ReadFromUDP(buf)
				if err != nil {
					break
				}
				if string(buf[:n]) == want {
					return true
				}
			}
		}
		return false
	}
	bcast := func() {
		if _, err := tx.WriteToUDP([]byte("discover"), &net.UDPAddr{IP: net.IPv4bcast, Port: 6767}); err != nil {
			t.Fatal(err)
		}
	}
	if !recv(p, "discover", bcast) {
		t.Error("the primary got no broadcast")
	}
	if !recv(s, "discover", bcast) {
		t.Error("the standby got no broadcast")
	}
	// Primary to standby, by address across the bridge.
	var ptx *net.UDPConn
	if err := pl.Primary.Do(func() error {
		var err error
		ptx, err = net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(suiteStandby.Addr(), 6767)))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ptx.Close()
	if !recv(s, "lease4-update", func() { _, _ = ptx.Write([]byte("lease4-update")) }) {
		t.Error("the standby got nothing from the primary")
	}
}

// TestHAConfigs: both servers get the same relationship under Kea's
// libdhcp_ha.so entry, after libdhcp_lease_cmds.so (Kea's HA needs it).
func TestHAConfigs(t *testing.T) {
	dir := t.TempDir()
	ha := haRelationship("server2")
	for name, b := range map[string][]byte{
		"xdhcp": xdhcpConfig(filepath.Join(dir, "l.csv"), ha, "/hooks", filepath.Join(dir, "pins")),
		"kea":   keaConfig(filepath.Join(dir, "l.csv"), filepath.Join(dir, "s"), filepath.Join(dir, "log"), ha, "/hooks"),
	} {
		var doc struct {
			Dhcp4 struct {
				Hooks []struct {
					Library    string `json:"library"`
					Parameters struct {
						HA []struct {
							This  string `json:"this-server-name"`
							Mode  string `json:"mode"`
							Peers []struct {
								Name, URL, Role string
							} `json:"peers"`
						} `json:"high-availability"`
					} `json:"parameters"`
				} `json:"hooks-libraries"`
			}
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		h := doc.Dhcp4.Hooks
		if len(h) != 2 || h[0].Library != "/hooks/libdhcp_lease_cmds.so" || h[1].Library != "/hooks/libdhcp_ha.so" {
			t.Fatalf("%s: hooks %+v", name, h)
		}
		rel := h[1].Parameters.HA
		if len(rel) != 1 || rel[0].This != "server2" || rel[0].Mode != "hot-standby" || len(rel[0].Peers) != 2 ||
			rel[0].Peers[0].URL != "http://10.0.0.1:8001/" || rel[0].Peers[1].Role != "standby" {
			t.Errorf("%s: relationship %+v", name, rel)
		}
	}
	// Without HA there is no hooks-libraries entry at all.
	var plain map[string]map[string]any
	if err := json.Unmarshal(keaConfig("l", "s", "g", nil, "/hooks"), &plain); err != nil {
		t.Fatal(err)
	}
	if _, ok := plain["Dhcp4"]["hooks-libraries"]; ok {
		t.Error("hooks-libraries without HA")
	}
}

func TestReadClientLeases(t *testing.T) {
	p := filepath.Join(t.TempDir(), "l.json")
	if err := os.WriteFile(p, []byte(`{"02:58:00:00:00:01":"10.1.0.1"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := readClientLeases(p)
	if err != nil || m["02:58:00:00:00:01"] != "10.1.0.1" {
		t.Fatalf("%v %v", m, err)
	}
	if _, err := readClientLeases(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("missing file accepted")
	}
}
