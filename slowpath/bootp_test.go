package slowpath

import (
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"xdhcp/lease"
)

// bootRequest is an RFC 951 BOOTREQUEST: no message type.
func bootRequest(hw string, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	m := &dhcpv4.DHCPv4{OpCode: dhcpv4.OpcodeBootRequest, HWType: 1, ClientHWAddr: mac(hw),
		TransactionID: dhcpv4.TransactionID{1, 2, 3, 4}, Options: dhcpv4.Options{}}
	for _, mod := range mods {
		mod(m)
	}
	return m
}

// TestBOOTP: with libdhcp_bootp.so configured, a BOOTP client gets its
// address at once, for ever, in a BOOTREPLY without DHCP's own options
// (as Kea's hook sends it), its reservation when it has one; without the
// hook it gets nothing.
func TestBOOTP(t *testing.T) {
	off := newHarness(t, testConfig)
	if out := off.exchange(bootRequest("00:11:22:33:44:b0")); len(out) != 0 {
		t.Fatalf("BOOTP answered without the hook: %v", out[0].msg)
	}

	cfg := strings.Replace(testConfig, `"authoritative": true,`,
		`"authoritative": true, "hooks-libraries": [ { "library": "/opt/kea/lib/kea/hooks/libdhcp_bootp.so" } ],`, 1)
	h := newHarness(t, cfg)
	for _, tc := range []struct {
		desc, hw string
		mods     []dhcpv4.Modifier
		want     string // "": any address of the pool
	}{
		{"direct", "00:11:22:33:44:b1", nil, ""},
		{"reserved", "aa:bb:cc:00:00:01", nil, "192.0.2.10"},
		{"relayed", "00:11:22:33:44:b2", []dhcpv4.Modifier{dhcpv4.WithGatewayIP(net.ParseIP("198.51.100.1"))}, ""},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			r := h.one(bootRequest(tc.hw, tc.mods...))
			m := r.msg
			yiaddr, _ := netip.AddrFromSlice(m.YourIPAddr.To4())
			if m.OpCode != dhcpv4.OpcodeBootReply || !yiaddr.IsValid() || yiaddr.IsUnspecified() ||
				(tc.want != "" && yiaddr.String() != tc.want) {
				t.Fatalf("BOOTREPLY op %v yiaddr %s, want %q", m.OpCode, yiaddr, tc.want)
			}
			for _, c := range dhcpOnly {
				if m.Options.Has(dhcpv4.GenericOptionCode(c)) {
					t.Errorf("option %d in a BOOTREPLY", c)
				}
			}
			if !m.Options.Has(dhcpv4.OptionSubnetMask) || len(m.Router()) != 1 {
				t.Errorf("BOOTREPLY options %v, want the mask and the router", m.Options)
			}
			l, ok := h.store.Get(yiaddr)
			if !ok || l.ValidLft != lease.Infinite || net.HardwareAddr(l.HWAddr).String() != tc.hw {
				t.Errorf("lease %+v (%v), want an infinite one for %s", l, ok, tc.hw)
			}
			// Asked again, the client gets the same address.
			if again := h.one(bootRequest(tc.hw, tc.mods...)); !again.msg.YourIPAddr.Equal(m.YourIPAddr) {
				t.Errorf("second BOOTREPLY %s, first %s", again.msg.YourIPAddr, m.YourIPAddr)
			}
		})
	}
}
