package slowpath

import (
	"net"
	"net/netip"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"xdhcp/lease"
)

// identifiersConfig reserves different addresses for one client by each of
// its identifiers; host-reservation-identifiers decides which one wins.
func identifiersConfig(order string) string {
	return `{"Dhcp4": {
 "interfaces-config": {"interfaces": ["eth0"]},
 ` + order + `
 "hooks-libraries": [{"library": "libdhcp_flex_id.so",
   "parameters": {"identifier-expression": "substring(relay4[2].hex, 0, 4)", "replace-client-id": true}}],
 "subnet4": [{"id": 1, "subnet": "192.0.2.0/24", "interface": "eth0", "relay": {"ip-addresses": ["192.0.2.254"]},
   "pools": [{"pool": "192.0.2.100 - 192.0.2.200"}],
   "reservations": [
     {"hw-address": "00:11:22:33:44:55", "ip-address": "192.0.2.11"},
     {"circuit-id": "'port7'", "ip-address": "192.0.2.12"},
     {"client-id": "ff:00:00:00:01:00:01:02:03", "ip-address": "192.0.2.13"},
     {"duid": "00:01:02:03", "ip-address": "192.0.2.14"},
     {"flex-id": "'sw-1'", "ip-address": "192.0.2.15"}]}]
}}`
}

func TestIdentifierOrderAndFlexID(t *testing.T) {
	rai := dhcpv4.OptRelayAgentInfo(dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(1), []byte("port7")),
		dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(2), []byte("sw-1-uplink")))
	mods := []dhcpv4.Modifier{dhcpv4.WithGatewayIP(net.ParseIP("192.0.2.254")), dhcpv4.WithOption(rai),
		dhcpv4.WithOption(dhcpv4.OptClientIdentifier([]byte{0xff, 0, 0, 0, 1, 0, 1, 2, 3}))}
	for _, tt := range []struct{ order, want string }{
		{``, "192.0.2.11"}, // Kea's default: hw-address, duid, circuit-id, client-id
		{`"host-reservation-identifiers": ["duid", "hw-address"],`, "192.0.2.14"},
		{`"host-reservation-identifiers": ["circuit-id", "duid"],`, "192.0.2.12"},
		{`"host-reservation-identifiers": ["client-id", "circuit-id"],`, "192.0.2.13"},
		{`"host-reservation-identifiers": ["flex-id", "hw-address"],`, "192.0.2.15"},
	} {
		h := newHarness(t, identifiersConfig(tt.order))
		ack := h.dora("00:11:22:33:44:55", mods...)
		if got := ack.YourIPAddr.String(); got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.order, got, tt.want)
		}
	}
	// replace-client-id: the lease records 0x00 and the flex-id.
	h := newHarness(t, identifiersConfig(`"host-reservation-identifiers": ["flex-id"],`))
	ack := h.dora("00:11:22:33:44:55", mods...)
	l, ok := h.store.Get(ipOf(ack.YourIPAddr))
	if !ok || string(l.ClientID) != "\x00sw-1" || l.State != lease.StateDefault {
		t.Errorf("lease %+v, want client-id 00 's' 'w' '-' '1'", l)
	}
	// Without the flex-id in the lookup order the hook is not consulted.
	h = newHarness(t, identifiersConfig(`"host-reservation-identifiers": ["circuit-id"],`))
	ack = h.dora("00:11:22:33:44:55", mods...)
	if l, _ := h.store.Get(ipOf(ack.YourIPAddr)); string(l.ClientID) != "\xff\x00\x00\x00\x01\x00\x01\x02\x03" {
		t.Errorf("client-id replaced although flex-id is not looked up: %x", l.ClientID)
	}
}

func ipOf(ip net.IP) netip.Addr { return netip.MustParseAddr(ip.String()) }

func ipOf4(s string) net.IP { return net.ParseIP(s).To4() }
