package slowpath

import (
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"xdhcp/handoff"
)

// from runs m through the server as if it arrived with the given IP
// source and destination (255.255.255.255: a broadcast frame).
func (h *harness) from(m *dhcpv4.DHCPv4, src, dst string) []sent {
	h.t.Helper()
	p := &handoff.Packet{IfIndex: 2, IfName: "eth0", IfAddr: serverAddr, IfMAC: [6]byte{2, 0, 0, 0, 0, 1},
		Meta: handoff.Meta{SrcMAC: [6]byte(m.ClientHWAddr), SrcPort: 68, DstPort: 67,
			SrcIP: netip.MustParseAddr(src).As4(), DstIP: netip.MustParseAddr(dst).As4()},
		Data: m.ToBytes(), Out: h.out}
	if p.Meta.DstIP == limitedBroadcast {
		p.Meta.DstMAC = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	}
	if r := h.srv.decode(p); r != nil {
		h.srv.process(r)
	}
	return h.out.take()
}

const untrusted = "xdhcp-pkt4-untrusted-relay-drop"

// TestRelayTrust: a relayed request is served only when a relay sent it.
// The spoofed cases are what a subscriber on eth0 (192.0.2.0/24) can send:
// before the check, each got an OFFER from the other subnet.
func TestRelayTrust(t *testing.T) {
	const bcast = "255.255.255.255"
	for _, tc := range []struct {
		name, giaddr, src, dst string
		served                 bool
	}{
		{"unicast from giaddr", "198.51.100.1", "198.51.100.1", "192.0.2.1", true},
		{"unicast from a listed relay address", "203.0.113.1", "10.9.9.9", "192.0.2.1", true},
		{"broadcast by a relay on the server's link", "192.0.2.254", "192.0.2.254", bcast, true},
		{"broadcast, on-link giaddr, other source", "192.0.2.254", "0.0.0.0", bcast, true},
		{"subscriber broadcasts another subnet's giaddr", "198.51.100.1", "0.0.0.0", bcast, false},
		{"subscriber broadcasts it from giaddr itself", "198.51.100.1", "198.51.100.1", bcast, false},
		{"subscriber unicasts another subnet's giaddr", "198.51.100.1", "192.0.2.77", "192.0.2.1", false},
		{"unlisted relay of a relay-listed subnet", "203.0.113.1", "10.9.9.8", "192.0.2.1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, testConfig)
			giaddr := dhcpv4.WithGatewayIP(net.ParseIP(tc.giaddr))
			before := h.stat(untrusted)
			out := h.from(discover("00:11:22:33:44:55", giaddr), tc.src, tc.dst)
			if tc.served {
				if len(out) != 1 || out[0].msg.MessageType() != dhcpv4.MessageTypeOffer {
					t.Fatalf("%d replies, want an OFFER", len(out))
				}
				if h.stat(untrusted) != before {
					t.Error("untrusted-relay counter moved for a relay")
				}
				return
			}
			if len(out) != 0 {
				t.Fatalf("answered a spoofed relay: %s", out[0].msg.MessageType())
			}
			if d := h.stat(untrusted) - before; d != 1 {
				t.Errorf("%s moved by %d, want 1", untrusted, d)
			}
			// A REQUEST the same way commits nothing.
			sel, _ := dhcpv4.New(dhcpv4.WithHwAddr(mac("00:11:22:33:44:55")), dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest), giaddr,
				dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IP(serverAddr.AsSlice()))),
				dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.ParseIP("198.51.100.10"))))
			if out := h.from(sel, tc.src, tc.dst); len(out) != 0 {
				t.Fatalf("answered a spoofed REQUEST: %s", out[0].msg.MessageType())
			}
			if n := h.store.count(); n != 0 {
				t.Errorf("%d commits for spoofed requests", n)
			}
		})
	}
}

// TestRelayCheckOff: relay-source-check false serves any giaddr, as Kea.
func TestRelayCheckOff(t *testing.T) {
	cfg := strings.Replace(testConfig, `"authoritative": true,`, `"authoritative": true, "xdhcp": { "relay-source-check": false },`, 1)
	h := newHarness(t, cfg)
	out := h.from(discover("00:11:22:33:44:55", dhcpv4.WithGatewayIP(net.ParseIP("198.51.100.1"))), "0.0.0.0", "255.255.255.255")
	if len(out) != 1 {
		t.Fatalf("%d replies, want 1", len(out))
	}
}

// circuitConfig reserves 192.0.2.20 for circuit-id "port7" and classes
// clients by it.
func circuitConfig(trusted string) string {
	cfg := strings.Replace(testConfig, `{ "hw-address": "aa:bb:cc:00:00:01",`,
		`{ "circuit-id": "'port7'", "ip-address": "192.0.2.20" }, { "hw-address": "aa:bb:cc:00:00:01",`, 1)
	if trusted != "" {
		cfg = strings.Replace(cfg, `"authoritative": true,`, `"authoritative": true, "xdhcp": { "trusted-interfaces": [ "`+trusted+`" ] },`, 1)
	}
	return cfg
}

// TestUntrustedOption82: a client that inserts option 82 itself (giaddr 0)
// does not get the reservation of the circuit it names, nor is its option
// echoed, unless its interface is trusted.
func TestUntrustedOption82(t *testing.T) {
	rai := dhcpv4.WithOption(dhcpv4.OptRelayAgentInfo(dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(1), []byte("port7"))))
	for _, tc := range []struct {
		trusted string
		want    string
	}{
		{"", ""},     // default: not trusted
		{"eth1", ""}, // another interface trusted
		{"eth0", "192.0.2.20"},
		{"*", "192.0.2.20"},
	} {
		t.Run("trusted="+tc.trusted, func(t *testing.T) {
			h := newHarness(t, circuitConfig(tc.trusted))
			offer := h.one(discover("00:11:22:33:44:57", rai))
			got := offer.msg.YourIPAddr.String()
			echoed := offer.msg.Options.Has(dhcpv4.OptionRelayAgentInformation)
			if tc.want != "" {
				if got != tc.want || !echoed {
					t.Fatalf("trusted interface: offered %s (option 82 echoed %v), want the reservation %s, echoed", got, echoed, tc.want)
				}
				return
			}
			if got == "192.0.2.20" || echoed {
				t.Fatalf("untrusted option 82 used: offered %s, echoed %v", got, echoed)
			}
		})
	}
	// Through a relay the option is always believed.
	h := newHarness(t, circuitConfig(""))
	offer := h.one(discover("00:11:22:33:44:58", rai, dhcpv4.WithGatewayIP(net.ParseIP("192.0.2.254"))))
	if got := offer.msg.YourIPAddr.String(); got != "192.0.2.20" {
		t.Fatalf("relayed circuit-id: offered %s, want 192.0.2.20", got)
	}
}

// TestDropListInEngine: the engine enforces the drop list itself, by
// hardware address and by client identifier however it is split.
func TestDropListInEngine(t *testing.T) {
	h := newHarness(t, testConfig)
	cid := []byte{1, 0xde, 0xad, 0xbe, 0xef, 0, 2}
	h.srv.Drops().Set(false, cid, true)
	h.srv.Drops().Set(true, mac("00:11:22:33:44:66"), true)
	before := h.stat("xdhcp-pkt4-drop-list-drop")
	if out := h.exchange(discover("00:11:22:33:44:66")); len(out) != 0 {
		t.Fatal("answered a listed hardware address")
	}
	// Option 61 in two pieces: rawMsg(53 DISCOVER, 61 in 3 + 4 bytes).
	split := rawMsg(53, 1, 1, 61, 3, cid[0], cid[1], cid[2], 61, 4, cid[3], cid[4], cid[5], cid[6], 255)
	if out := h.raw(split); len(out) != 0 {
		t.Fatal("answered a listed client identifier split in two")
	}
	if d := h.stat("xdhcp-pkt4-drop-list-drop") - before; d != 2 {
		t.Errorf("drop-list counter moved by %d, want 2", d)
	}
	h.srv.Drops().Set(false, cid, false)
	if out := h.raw(split); len(out) != 1 {
		t.Fatalf("%d replies after removal, want 1", len(out))
	}
	hws, cids := h.srv.Drops().List()
	if len(hws) != 1 || len(cids) != 0 {
		t.Errorf("List = %x, %x", hws, cids)
	}
}
