package slowpath

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// TestSubnetSelectionByClass: Kea picks the first subnet, in configuration
// order, that holds the locating address and allows the client's classes;
// when none does, the request has no subnet (it is not moved to another
// subnet of the shared network at selection).
func TestSubnetSelectionByClass(t *testing.T) {
	h := newHarness(t, `{"Dhcp4": {
 "interfaces-config": {"interfaces": ["eth0"]},
 "client-classes": [{"name": "phone", "test": "option[60].text == 'phone'"}, {"name": "pc", "test": "not member('phone')"}],
 "subnet4": [
   {"id": 1, "subnet": "192.0.2.0/24", "client-class": "phone", "pools": [{"pool": "192.0.2.100 - 192.0.2.110"}]},
   {"id": 2, "subnet": "192.0.2.0/25", "client-class": "pc", "pools": [{"pool": "192.0.2.20 - 192.0.2.30"}]}],
 "shared-networks": [{"name": "net", "subnet4": [
   {"id": 3, "subnet": "198.51.100.0/24", "client-class": "phone", "relay": {"ip-addresses": ["10.9.9.9"]}, "pools": [{"pool": "198.51.100.10 - 198.51.100.20"}]},
   {"id": 4, "subnet": "203.0.113.0/24", "pools": [{"pool": "203.0.113.10 - 203.0.113.20"}]}]}]
}}`)
	in := func(m *dhcpv4.DHCPv4, p string) bool {
		return netip.MustParsePrefix(p).Contains(ipOf(m.YourIPAddr))
	}
	phone := dhcpv4.WithOption(dhcpv4.OptClassIdentifier("phone"))
	if o := h.one(discover("00:11:22:33:44:01", phone)); !in(o.msg, "192.0.2.96/28") {
		t.Errorf("phone got %s, want subnet 1", o.msg.YourIPAddr)
	}
	if o := h.one(discover("00:11:22:33:44:02")); !in(o.msg, "192.0.2.16/28") {
		t.Errorf("pc got %s, want subnet 2 (the first the classes allow)", o.msg.YourIPAddr)
	}
	// Relayed by 10.9.9.9 (the relay of subnet 3 only): a phone is served
	// there; a pc is not allowed in subnet 3 and no other subnet names the
	// relay or holds its address, so it gets nothing.
	gi := dhcpv4.WithGatewayIP(ipOf4("10.9.9.9"))
	if o := h.one(discover("00:11:22:33:44:03", gi, phone)); !in(o.msg, "198.51.100.0/24") {
		t.Errorf("relayed phone got %s, want subnet 3", o.msg.YourIPAddr)
	}
	if out := h.exchange(discover("00:11:22:33:44:04", gi)); len(out) != 0 {
		t.Errorf("relayed pc got %s, want no answer", out[0].msg.YourIPAddr)
	}
}

// TestSubnetSelectionOptions: what kea-dhcp4 2.2 answered in the lab to a
// relayed DISCOVER (giaddr in subnet 1) naming subnet 2's address 10.99.0.5:
// by the link-selection sub-option, subnet 2; by option 118, subnet 2, also
// when option 82 has no link-selection; a link-selection address in no
// subnet: no answer.
func TestSubnetSelectionOptions(t *testing.T) {
	h := newHarness(t, `{"Dhcp4": {"interfaces-config": {"interfaces": ["eth0"]},
 "subnet4": [{"id": 1, "subnet": "10.77.0.0/24", "pools": [{"pool": "10.77.0.100 - 10.77.0.200"}]},
             {"id": 2, "subnet": "10.99.0.0/24", "pools": [{"pool": "10.99.0.100 - 10.99.0.200"}]}]}}`)
	gi := dhcpv4.WithGatewayIP(ipOf4("10.77.0.2"))
	rai := func(subs ...byte) dhcpv4.Modifier {
		return dhcpv4.WithGeneric(dhcpv4.OptionRelayAgentInformation, subs)
	}
	sel := dhcpv4.WithGeneric(dhcpv4.OptionSubnetSelection, []byte{10, 99, 0, 5})
	for i, tt := range []struct {
		name string
		mods []dhcpv4.Modifier
		want string // prefix, "" for no answer
	}{
		{"link-selection", []dhcpv4.Modifier{gi, rai(1, 1, 'p', 5, 4, 10, 99, 0, 5)}, "10.99.0.0/24"},
		{"option 118", []dhcpv4.Modifier{gi, sel}, "10.99.0.0/24"},
		{"82 and 118", []dhcpv4.Modifier{gi, rai(1, 1, 'p'), sel}, "10.99.0.0/24"},
		{"link-selection outside", []dhcpv4.Modifier{gi, rai(5, 4, 10, 200, 0, 5)}, ""},
		{"giaddr", []dhcpv4.Modifier{gi}, "10.77.0.0/24"},
	} {
		out := h.exchange(discover(fmt.Sprintf("0a:00:00:00:00:%02x", i), tt.mods...))
		switch {
		case tt.want == "" && len(out) != 0:
			t.Errorf("%s: answered %s, want nothing", tt.name, out[0].msg.YourIPAddr)
		case tt.want != "" && (len(out) != 1 || !netip.MustParsePrefix(tt.want).Contains(ipOf(out[0].msg.YourIPAddr))):
			t.Errorf("%s: %d answers, want one from %s", tt.name, len(out), tt.want)
		}
	}
}
