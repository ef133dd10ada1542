package runscript

import (
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"xdhcp/hooks"
	"xdhcp/lease"
)

// relayedJob is the leases4_committed call of a relayed REQUEST with
// option 82 (circuit-id and remote-id).
func relayedJob(t testing.TB) *job {
	rai := dhcpv4.OptRelayAgentInfo(dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(1), []byte("eth0/1")),
		dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(2), []byte{0xca, 0xfe}))
	q, err := dhcpv4.New(dhcpv4.WithHwAddr(net.HardwareAddr{2, 0, 0, 0, 0, 7}), dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
		dhcpv4.WithGatewayIP(net.IPv4(10, 0, 0, 1)), dhcpv4.WithOption(rai))
	if err != nil {
		t.Fatal(err)
	}
	return &job{point: hooks.Leases4Committed, query: q.ToBytes(), iface: "eth1", ifIndex: 3, htype: 1,
		local: netip.MustParseAddrPort("10.0.0.2:67"), remote: netip.MustParseAddrPort("10.0.0.1:67"),
		leases: []lease.Lease{{Addr: netip.MustParseAddr("192.0.2.7"), HWAddr: []byte{2, 0, 0, 0, 0, 7},
			ClientID: []byte{1, 2, 0, 0, 0, 0, 7}, ValidLft: 3600, CLTT: 1_800_000_000, SubnetID: 1}}}
}

// The call message is the hook's name and the environment, each entry
// ended by a NUL byte; building it allocates nothing once its buffer is
// large enough.
func TestCallMessage(t *testing.T) {
	j := relayedJob(t)
	buf := encodeCall(nil, j.hook(), j)
	hook, env := decodeCall(buf)
	if hook != "leases4_committed" || !slices.Equal(env, j.env()) {
		t.Fatalf("decoded %q %q, want the job's %q", hook, env, j.env())
	}
	for _, want := range []string{"QUERY4_TYPE=DHCPREQUEST", "QUERY4_GIADDR=10.0.0.1", "QUERY4_RELAYED=true",
		"QUERY4_REMOTE_ADDR=10.0.0.1", "QUERY4_OPTION_82_SUB_OPTION_1=0x657468302F31", "QUERY4_OPTION_82_SUB_OPTION_2=0xCAFE",
		"LEASES4_SIZE=1", "LEASES4_AT0_ADDRESS=192.0.2.7", "LEASES4_AT0_HWADDR=02:00:00:00:00:07",
		"LEASES4_AT0_CLIENT_ID=01:02:00:00:00:00:07", "LEASES4_AT0_CLTT=1800000000", "DELETED_LEASES4_SIZE=0"} {
		if !slices.Contains(env, want) {
			t.Errorf("no %s in\n%s", want, strings.Join(env, "\n"))
		}
	}
	if n := testing.AllocsPerRun(100, func() { buf = encodeCall(buf[:0], j.hook(), j) }); n != 0 {
		t.Errorf("%v allocations per call message", n)
	}
}
