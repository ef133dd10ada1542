package legallog

import (
	"encoding/json"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"xdhcp/dhcp6"
	"xdhcp/hooks"
	"xdhcp/hooks/pkt6"
	"xdhcp/lease"
)

var (
	addr6   = netip.MustParseAddr("2001:db8:1::100")
	prefix6 = netip.MustParseAddr("2001:db8:100:ff00::")
	duid6   = []byte{0x17, 0x34, 0xe2, 0xff, 0x09, 0x92, 0x54}
)

// relayedReply6 is a Reply relayed once (peer fe80::abcd, link 3001::1,
// hop count 1, interface-id "eth7", remote-id and subscriber-id), giving
// an address in IA_NA 1 and a prefix in IA_PD 2.
func relayedReply6(typ dhcp6.MsgType) []byte {
	var m dhcp6.Builder
	m.Header(typ, [3]byte{1, 2, 3})
	m.Option(dhcp6.OptClientID, duid6)
	mk := m.IA(dhcp6.OptIANA, 1, 1000, 2000)
	m.End(m.IAAddr(addr6.As16(), 3000, 4000))
	m.End(mk)
	mk = m.IA(dhcp6.OptIAPD, 2, 1000, 2000)
	m.End(m.IAPrefix(prefix6.As16(), 56, 3000, 4000))
	m.End(mk)
	var r dhcp6.Builder
	r.RelayHeader(dhcp6.RelayForw, 1, netip.MustParseAddr("3001::1").As16(), netip.MustParseAddr("fe80::abcd").As16())
	r.Option(dhcp6.OptInterfaceID, []byte("eth7"))
	r.Option(dhcp6.OptRemoteID, []byte{1, 2, 3, 4, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f})
	r.Option(dhcp6.OptSubscriberID, []byte{0x1a, 0x2b, 0x3c, 0x4d, 0x5e, 0x6f})
	r.Option(dhcp6.OptRelayMsg, m.B)
	return r.B
}

func testLeases6() (na, pd lease.Lease6) {
	na = lease.Lease6{Addr: addr6, PrefixLen: 128, Type: lease.TypeNA, DUID: duid6, IAID: 1, ValidLft: 713,
		PreferredLft: 500, SubnetID: 1, HWAddr: []byte{0x08, 0, 0x2b, 2, 0x3f, 0x4e}, HWType: 1, HWAddrSource: lease.HWAddrSourceRaw}
	pd = na
	pd.Addr, pd.PrefixLen, pd.Type, pd.IAID, pd.HWAddr = prefix6, 56, lease.TypePD, 2, nil
	return na, pd
}

// TestDefaultEntry6IsKeas: Kea's documented DHCPv6 entry, relay
// identifiers and location included.
func TestDefaultEntry6IsKeas(t *testing.T) {
	na, pd := testLeases6()
	var q pkt6.Packet
	if err := q.Parse(relayedReply6(dhcp6.Request), "eth0", netip.Addr{}, netip.Addr{}, nil); err != nil {
		t.Fatal(err)
	}
	got := string(AppendDefault6(nil, &na, &q, false))
	want := "Address: 2001:db8:1::100 has been assigned for 0 hrs 11 mins 53 secs to a device with DUID: 17:34:e2:ff:09:92:54" +
		" and hardware address: hwtype=1 08:00:2b:02:3f:4e (from Raw Socket) connected via relay at address: fe80::abcd" +
		" for client on link address: 3001::1, hop count: 1, identified by remote-id: 01:02:03:04:0a:0b:0c:0d:0e:0f" +
		" and subscriber-id: 1a:2b:3c:4d:5e:6f, connected at location interface-id: 65:74:68:37 (eth7)"
	if got != want {
		t.Errorf("entry\n got %s\nwant %s", got, want)
	}
	got = string(AppendDefault6(nil, &pd, nil, true))
	want = "Prefix: 2001:db8:100:ff00::/56 has been released from a device with DUID: 17:34:e2:ff:09:92:54"
	if got != want {
		t.Errorf("release entry\n got %s\nwant %s", got, want)
	}
}

// TestCustomEntries6: request- and response-parser-format with pkt6 and
// relay6 expressions, each lease's line reading its own IA (Kea's
// option[3].option[5] and option[25].option[26] of the current lease).
func TestCustomEntries6(t *testing.T) {
	dir := t.TempDir()
	raw, _ := json.Marshal(map[string]any{"path": dir, "base-name": "l6",
		"request-parser-format": "'msg ' + uint32totext(pkt6.msgtype) + ' via ' + addrtotext(relay6[0].peeraddr) + ' iface ' + relay6[0].option[18].hex + ' '",
		"response-parser-format": "ifelse(option[3].option[5].exists, 'addr ' + addrtotext(substring(option[3].option[5].hex, 0, 16)), '') +" +
			" ifelse(option[25].option[26].exists, 'prefix ' + addrtotext(substring(option[25].option[26].hex, 9, 16)) + '/' + uint8totext(substring(option[25].option[26].hex, 8, 1)), '')"})
	p, err := ParseParams6(raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseParams(raw); err == nil {
		t.Error("a DHCPv6 expression compiles for DHCPv4")
	}
	l, err := Open6(p, nil, func() time.Time { return time.Unix(1700000000, 0) })
	if err != nil {
		t.Fatal(err)
	}
	if !l.WaitsForReply6() {
		t.Error("with response-parser-format the log does not hold the reply")
	}
	na, pd := testLeases6()
	e := &hooks.Event6{Point: hooks.Leases6Committed, Time: time.Unix(1700000000, 0), Query: relayedReply6(dhcp6.Request),
		Response: relayedReply6(dhcp6.Reply), Leases: []lease.Lease6{na, pd}}
	if b := l.AppendRecord6(nil, e); len(b) != 0 {
		t.Errorf("a record that needs the reply is formatted before the commit: %q", b)
	}
	l.LeaseEvent6(e)
	name := l.FileName()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	want := []string{"msg 3 via fe80::abcd iface eth7 addr 2001:db8:1::100", "msg 3 via fe80::abcd iface eth7 prefix 2001:db8:100:ff00::/56"}
	if len(lines) != 2 {
		t.Fatalf("lines %q, want 2", lines)
	}
	for i, w := range want {
		if !strings.HasSuffix(lines[i], " "+w) {
			t.Errorf("line %d %q, want it to end with %q", i, lines[i], w)
		}
	}
}

// TestDeclineEntry6: a Decline is recorded as the address released from
// the client that had it, not as assigned to the declined lease's nobody.
func TestDeclineEntry6(t *testing.T) {
	l, err := Open6(Params6{Params: Params{Path: t.TempDir(), BaseName: "l6", TimestampFormat: DefaultTimestampFormat}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	na, _ := testLeases6()
	declined := na
	declined.DUID, declined.HWAddr, declined.State = lease.EmptyDUID, nil, lease.StateDeclined
	b := l.AppendRecord6(nil, &hooks.Event6{Point: hooks.Lease6Decline, Leases: []lease.Lease6{na}})
	b = l.AppendRecord6(b, &hooks.Event6{Point: hooks.Leases6Committed, Leases: []lease.Lease6{declined}})
	if s := string(b); strings.Count(s, "\n") != 1 || !strings.Contains(s, "Address: 2001:db8:1::100 has been released from a device with DUID: 17:34") {
		t.Errorf("records of a Decline: %q", s)
	}
}
