package slowpath

import (
	"net"
	"strings"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// TestStoreExtendedInfo: with store-extended-info, the lease keeps the
// relay agent information as kea-dhcp4 2.2 wrote it in the lab for the same
// option 82 (sub-options 1 "eth0/1" and 2 aa:bb:cc):
//
//	{ "ISC": { "relay-agent-info": "0x0106657468302F310203AABBCC" } }
func TestStoreExtendedInfo(t *testing.T) {
	const want = `{ "ISC": { "relay-agent-info": "0x0106657468302F310203AABBCC" } }`
	cfg := func(store bool) string {
		s := "false"
		if store {
			s = "true"
		}
		return `{"Dhcp4": {"interfaces-config": {"interfaces": ["eth0"]}, "store-extended-info": ` + s + `,
 "subnet4": [{"id": 1, "subnet": "192.0.2.0/24", "relay": {"ip-addresses": ["192.0.2.254"]},
   "pools": [{"pool": "192.0.2.100 - 192.0.2.200"}]}]}}`
	}
	// The relay sends sub-option 2 first; Kea keeps them in code order.
	rai := dhcpv4.OptRelayAgentInfo(dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(2), []byte{0xaa, 0xbb, 0xcc}),
		dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(1), []byte("eth0/1")))
	relayed := []dhcpv4.Modifier{dhcpv4.WithGatewayIP(net.ParseIP("192.0.2.254")), dhcpv4.WithOption(rai)}

	h := newHarness(t, cfg(true))
	ack := h.dora("00:11:22:33:44:55", relayed...)
	if l, _ := h.store.Get(ipOf(ack.YourIPAddr)); l.UserContext != want {
		t.Errorf("user context %q, want %q", l.UserContext, want)
	}
	// A context set by an operator is kept; the relay information is
	// added to it.
	if got := extendedInfo(h.srv.Config().Subnets[0], &request{relay: rai.Value.ToBytes()}, `{"note": "x"}`); !strings.Contains(got, `"note":"x"`) ||
		!strings.Contains(got, `"relay-agent-info":"0x0106657468302F310203AABBCC"`) {
		t.Errorf("merged context %s", got)
	}
	// Not relayed: nothing stored.
	ack = h.dora("00:11:22:33:44:66")
	if l, _ := h.store.Get(ipOf(ack.YourIPAddr)); l.UserContext != "" {
		t.Errorf("context %q without option 82", l.UserContext)
	}
	// Switched off: nothing stored.
	h = newHarness(t, cfg(false))
	ack = h.dora("00:11:22:33:44:55", relayed...)
	if l, _ := h.store.Get(ipOf(ack.YourIPAddr)); l.UserContext != "" {
		t.Errorf("context %q with store-extended-info false", l.UserContext)
	}
}
