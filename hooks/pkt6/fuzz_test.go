package pkt6

import (
	"net/netip"
	"testing"

	"xdhcp/dhcp6"
	"xdhcp/lease"
)

func FuzzPacket(f *testing.F) {
	var m dhcp6.Builder
	m.Header(dhcp6.Reply, [3]byte{1, 2, 3})
	m.Option(dhcp6.OptClientID, []byte{0, 3, 0, 1, 1, 2, 3, 4, 5, 6})
	mk := m.IA(dhcp6.OptIANA, 1, 0, 0)
	m.End(m.IAAddr(netip.MustParseAddr("2001:db8::1").As16(), 1, 2))
	m.End(mk)
	mk = m.IA(dhcp6.OptIAPD, 2, 0, 0)
	m.End(m.IAPrefix(netip.MustParseAddr("2001:db8:100::").As16(), 56, 1, 2))
	m.End(mk)
	f.Add(m.B)
	var r dhcp6.Builder
	r.RelayHeader(dhcp6.RelayForw, 0, [16]byte{}, [16]byte{})
	r.Option(dhcp6.OptRelayMsg, m.B)
	f.Add(r.B)
	f.Fuzz(func(t *testing.T, data []byte) {
		var p Packet
		if p.Parse(data, "eth0", netip.Addr{}, netip.Addr{}, nil) != nil {
			return
		}
		for _, l := range []lease.Lease6{
			{Addr: netip.MustParseAddr("2001:db8::1"), PrefixLen: 128, Type: lease.TypeNA, IAID: 1},
			{Addr: netip.MustParseAddr("2001:db8:100::"), PrefixLen: 56, Type: lease.TypePD, IAID: 2},
		} {
			p.ForLease(&l)
			p.Option6(dhcp6.OptIANA)
			p.Option6(dhcp6.OptIAPD)
		}
		for i := range p.Relays() {
			p.RelayAddrs(i)
			p.RelayOption(i, dhcp6.OptInterfaceID)
		}
		p.AnyRelayOption(dhcp6.OptRemoteID)
		MessageTypeName(p.MsgType())
		p.Field("len")
	})
}
