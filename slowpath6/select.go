package slowpath6

import (
	"bytes"
	"net/netip"

	"xdhcp/dhcp6"
	"xdhcp/handoff"
)

// selectSubnet picks the client's subnet as kea-dhcp6 2.2 does. A message
// whose innermost relay gave a link-address is relayed: the relay's
// Interface-Id picks the subnet (or shared network) configured with it,
// else the link-address picks the one listing it in relay.ip-addresses,
// else the one whose prefix holds it. Otherwise (direct, or a relay that
// left the link-address unspecified) the receiving interface picks the
// subnet configured on it, else the sender's address the one holding it.
func (rt *live) selectSubnet(pkt *handoff.Packet6, p *dhcp6.Packet, in member) *subnet {
	var link [16]byte
	if r := p.Innermost(); r != nil {
		link = r.LinkAddr
	}
	if link == ([16]byte{}) {
		if pkt.IfName != "" {
			for _, sn := range rt.subnets {
				if sn.usable(in) && sn.cfg.Interface == pkt.IfName {
					return sn
				}
			}
		}
		src := addrOf(pkt.Meta.SrcIP)
		if !src.IsUnspecified() {
			return rt.inRange(src, in)
		}
		return nil
	}
	if p.NRelays > 0 {
		if id, ok := p.Relays[0].InterfaceID(); ok {
			for _, sn := range rt.subnets {
				if sn.usable(in) && sn.cfg.InterfaceID != nil && bytes.Equal(sn.cfg.InterfaceID, id) {
					return sn
				}
			}
		}
	}
	la := addrOf(link)
	for _, sn := range rt.subnets {
		if !sn.usable(in) {
			continue
		}
		for _, r := range sn.cfg.RelayAddrs {
			if r == la {
				return sn
			}
		}
	}
	return rt.inRange(la, in)
}

func (rt *live) inRange(a netip.Addr, in member) *subnet {
	for _, sn := range rt.subnets {
		if sn.usable(in) && sn.cfg.Prefix.Contains(a) {
			return sn
		}
	}
	return nil
}

// member reports whether the client is in a class.
type member func(class string) bool

// usable reports whether the client may use the subnet: one guarded by a
// class (its own or its shared network's) is for the members of that
// class.
func (sn *subnet) usable(in member) bool {
	ok := func(c string) bool { return c == "" || in(c) }
	if !ok(sn.cfg.ClientClass) {
		return false
	}
	return sn.cfg.SharedNetwork == nil || ok(sn.cfg.SharedNetwork.ClientClass)
}

// siblings are the subnets allocation may use after sn: the others of its
// shared network, in configuration order.
func (rt *live) siblings(sn *subnet, in member) []*subnet {
	if sn.cfg.SharedNetwork == nil && len(sn.alone) == 1 {
		return sn.alone[:1:1] // capacity 1: a caller's append copies
	}
	out := []*subnet{sn}
	if sn.cfg.SharedNetwork == nil {
		return out
	}
	for _, c := range sn.cfg.SharedNetwork.Subnets {
		if o := rt.byID[c.ID]; o != nil && o != sn && o.usable(in) {
			out = append(out, o)
		}
	}
	return out
}
