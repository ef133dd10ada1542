package fastpath

import (
	"encoding/binary"
	"net/netip"
	"time"

	"xdhcp/dhcp6"
	"xdhcp/fastpath/leasecache"
	"xdhcp/handoff"
	"xdhcp/hooks"
	"xdhcp/lease"
)

// cachedEvent6 is a worker's reusable event of a cached DHCPv6 renewal.
type cachedEvent6 struct {
	hooks.Event6
	reply  dhcp6.Packet
	leases [leasecache.MaxIAs6 * leasecache.MaxLeases6]lease.Lease6
	one    [1]lease.Lease6
	hw     [6]byte
}

// tellCached6 tells the listeners of a Renew or Rebind (payload) the
// worker answered from lease cache entry e, as kea-dhcp6 tells of a lease
// it reuses: lease6_renew or lease6_rebind for each lease the Reply
// extends (the lease as stored: its CLTT and lifetimes), then
// leases6_committed, marked Cached (no lease was written: there each
// lease is told as granted from now for the lifetimes the Reply gives,
// which is what its forensic line says). The
// hardware address is what the engine would have found: the frame's
// source for a direct client, else a DUID-LL or DUID-LLT's.
func (w *Worker) tellCached6(payload []byte, meta *handoff.Meta6, e *leasecache.Entry6, now int64) {
	ev := &w.v6.ev
	reply := w.v6.reply.Message()
	if ev.reply.Parse(reply) != nil {
		return
	}
	var hw []byte
	var hwType uint16
	var hwSource uint32
	if ev.reply.NRelays == 0 && meta.SrcMAC != ([6]byte{}) {
		ev.hw = meta.SrcMAC
		hw, hwType, hwSource = ev.hw[:], 1, lease.HWAddrSourceRaw
	} else if d := e.DUID; len(d) > 4 {
		switch binary.BigEndian.Uint16(d) {
		case 1: // DUID-LLT
			if len(d) > 8 {
				hw, hwType, hwSource = d[8:], binary.BigEndian.Uint16(d[2:]), lease.HWAddrSourceDUID
			}
		case 3: // DUID-LL
			hw, hwType, hwSource = d[4:], binary.BigEndian.Uint16(d[2:]), lease.HWAddrSourceDUID
		}
	}
	n := 0
	var subnet uint32
	for it := ev.reply.Msg.Options.Iter(); it.Next() && n < len(ev.leases); {
		if it.Code != dhcp6.OptIANA && it.Code != dhcp6.OptIAPD {
			continue
		}
		ia, err := dhcp6.ParseIA(it.Code, it.Data)
		if err != nil {
			continue
		}
		sid := subnetOf(e, it.Code, ia.IAID)
		subnet = sid
		for in := ia.Options.Iter(); in.Next() && n < len(ev.leases); {
			l := lease.Lease6{DUID: e.DUID, IAID: ia.IAID, CLTT: now, SubnetID: sid,
				HWAddr: hw, HWType: hwType, HWAddrSource: hwSource}
			switch {
			case it.Code == dhcp6.OptIANA && in.Code == dhcp6.OptIAAddr:
				a, err := dhcp6.ParseIAAddr(in.Data)
				if err != nil || a.Valid == 0 {
					continue
				}
				l.Addr, l.PrefixLen, l.Type, l.PreferredLft, l.ValidLft = netip.AddrFrom16(a.Addr), 128, lease.TypeNA, a.Preferred, a.Valid
			case it.Code == dhcp6.OptIAPD && in.Code == dhcp6.OptIAPrefix:
				p, err := dhcp6.ParseIAPrefix(in.Data)
				if err != nil || p.Valid == 0 {
					continue
				}
				l.Addr, l.PrefixLen, l.Type, l.PreferredLft, l.ValidLft = netip.AddrFrom16(p.Prefix), p.Len, lease.TypePD, p.Preferred, p.Valid
			default:
				continue
			}
			ev.leases[n] = l
			n++
		}
	}
	if n == 0 {
		return
	}
	per := hooks.Lease6Renew
	if len(payload) > 0 && dhcp6.MsgType(payload[0]) == dhcp6.RelayForw {
		if q, ok := innerType(payload); ok && q == dhcp6.Rebind {
			per = hooks.Lease6Rebind
		}
	} else if len(payload) > 0 && dhcp6.MsgType(payload[0]) == dhcp6.Rebind {
		per = hooks.Lease6Rebind
	}
	ev.Event6 = hooks.Event6{
		Time:     time.Unix(now, 0),
		Query:    payload,
		Response: reply,
		Iface:    w.cfg.IfName,
		IfIndex:  w.cfg.IfIndex,
		Local:    netip.AddrPortFrom(netip.AddrFrom16(meta.DstIP), meta.DstPort),
		Remote:   netip.AddrPortFrom(netip.AddrFrom16(meta.SrcIP), meta.SrcPort),
		RemoteHW: meta.SrcMAC,
		Subnet:   hooks.Subnet{ID: subnet},
		Cached:   true,
	}
	for i := range n {
		stored := ev.leases[i]
		if c, ok := cachedLease(e, &stored); ok {
			stored.CLTT, stored.ValidLft, stored.PreferredLft = c.CLTT, c.ValidLft, c.PreferredLft
		}
		ev.Point = per
		ev.one[0] = stored
		ev.Leases = ev.one[:]
		code := uint16(dhcp6.OptIANA)
		if ev.leases[i].Type == lease.TypePD {
			code = dhcp6.OptIAPD
		}
		ev.IA = hooks.IA6{Code: code, IAID: ev.leases[i].IAID}
		ev.Subnet.ID = ev.leases[i].SubnetID
		w.cfg.Events6.LeaseEvent6(&ev.Event6)
	}
	ev.Point, ev.Leases, ev.IA = hooks.Leases6Committed, ev.leases[:n], hooks.IA6{}
	w.cfg.Events6.LeaseEvent6(&ev.Event6)
}

// cachedLease is the cache entry's lease of l's address or prefix.
func cachedLease(e *leasecache.Entry6, l *lease.Lease6) (*handoff.CachedLease6Addr, bool) {
	for i := range e.IAs {
		for j := range e.IAs[i].Leases {
			c := &e.IAs[i].Leases[j]
			if netip.AddrFrom16(c.Addr) == l.Addr && c.PrefixLen == l.PrefixLen {
				return c, true
			}
		}
	}
	return nil, false
}

// subnetOf is the subnet of the cached IA (code, iaid).
func subnetOf(e *leasecache.Entry6, code uint16, iaid uint32) uint32 {
	for i := range e.IAs {
		if e.IAs[i].Type == code && e.IAs[i].IAID == iaid {
			return e.IAs[i].SubnetID
		}
	}
	return 0
}

// innerType is the message type inside a relayed datagram.
func innerType(b []byte) (dhcp6.MsgType, bool) {
	var p dhcp6.Packet
	if p.Parse(b) != nil {
		return 0, false
	}
	return p.Msg.Type, true
}
