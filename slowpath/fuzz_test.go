package slowpath

import (
	"net"
	"strings"
	"testing"

	"xdhcp/handoff"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// FuzzHandle feeds arbitrary payloads through the whole request path
// (decode, classify, select, allocate, reply). Whatever the bytes, the
// server must not panic, and every reply it sends must decode.
func FuzzHandle(f *testing.F) {
	f.Add(seedDiscover(f))
	r, _ := dhcpv4.New(dhcpv4.WithHwAddr(net.HardwareAddr{0, 1, 2, 3, 4, 6}), dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.ParseIP("192.0.2.150"))))
	f.Add(r.ToBytes())
	rel, _ := dhcpv4.New(dhcpv4.WithHwAddr(net.HardwareAddr{0, 1, 2, 3, 4, 6}), dhcpv4.WithMessageType(dhcpv4.MessageTypeRelease),
		dhcpv4.WithClientIP(net.ParseIP("192.0.2.150")), dhcpv4.WithGatewayIP(net.ParseIP("10.9.9.9")),
		dhcpv4.WithOption(dhcpv4.OptRelayAgentInfo(dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(1), []byte("x")))))
	f.Add(rel.ToBytes())
	f.Add([]byte{1, 1, 6, 0})
	named := discover("00:01:02:03:04:07", dhcpv4.WithOption(dhcpv4.OptHostName("Host_1.")))
	f.Add(named.ToBytes())
	f.Add(bootRequest("00:01:02:03:04:08").ToBytes())
	// Host name rules and BOOTP on, so that those paths see the bytes too.
	h := newHarness(&testing.T{}, strings.Replace(testConfig, `"authoritative": true,`, `"authoritative": true,
  "hooks-libraries": [ { "library": "libdhcp_bootp.so" } ],
  "ddns-replace-client-name": "when-not-present", "ddns-qualifying-suffix": "example.", "hostname-char-replacement": "-",`, 1))
	f.Fuzz(func(t *testing.T, b []byte) {
		h.t = t
		p := &handoff.Packet{IfName: "eth0", IfAddr: serverAddr, Data: b, Out: h.out}
		if r := h.srv.decode(p); r != nil {
			h.srv.process(r)
		}
		for _, s := range h.out.take() {
			if s.msg == nil {
				t.Fatal("undecodable reply")
			}
		}
	})
}

// seedDiscover is the fuzz corpus's typical DISCOVER: a client-id and a
// parameter request list, as most clients send.
func seedDiscover(t testing.TB) []byte {
	t.Helper()
	d, err := dhcpv4.NewDiscovery(net.HardwareAddr{0, 1, 2, 3, 4, 5},
		dhcpv4.WithOption(dhcpv4.OptClientIdentifier([]byte{1, 0, 1, 2, 3, 4, 5})),
		dhcpv4.WithRequestedOptions(dhcpv4.OptionRouter, dhcpv4.OptionHostName))
	if err != nil {
		t.Fatal(err)
	}
	return d.ToBytes()
}
