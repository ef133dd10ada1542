package slowpath6

import (
	"slices"

	"xdhcp/config"
	"xdhcp/dhcp6"
	"xdhcp/handoff"
	"xdhcp/lease"
)

// item is one top-level option of a reply, kept until the reply is
// written in code order (as kea-dhcp6 writes its options).
type item struct {
	code uint16
	data []byte
}

// compose writes the reply: the Relay-reply wrappers (one per relay, the
// relay's Interface-Id and Relay Source Port options echoed), then the
// message with its options in code order.
func (ex *exchange) compose() {
	if ex.reply == 0 {
		return
	}
	b := &ex.out
	b.Reset()
	var marks [dhcp6.HopCountLimit]int
	for i := range ex.p.NRelays {
		r := &ex.p.Relays[i]
		b.RelayHeader(dhcp6.RelayRepl, r.HopCount, r.LinkAddr, r.PeerAddr)
		if v, ok := r.Options.Get(dhcp6.OptInterfaceID); ok {
			b.Option(dhcp6.OptInterfaceID, v)
		}
		if v, ok := r.Options.Get(dhcp6.OptRelaySourcePort); ok {
			b.Option(dhcp6.OptRelaySourcePort, v)
		}
		marks[i] = b.Begin(dhcp6.OptRelayMsg)
	}
	b.Header(ex.reply, ex.p.Msg.TxID)

	items := ex.items[:0]
	if len(ex.duid) > 0 {
		items = append(items, item{dhcp6.OptClientID, ex.duid})
	}
	items = append(items, item{dhcp6.OptServerID, ex.s.duid})
	it := dhcp6.Options(ex.ias.B).Iter()
	for it.Next() {
		items = append(items, item{it.Code, it.Data})
	}
	if ex.rapid {
		items = append(items, item{dhcp6.OptRapidCommit, nil})
	}
	if ex.topStatus.text != "" {
		ex.statusBuf = append(ex.statusBuf[:0], byte(ex.topStatus.code>>8), byte(ex.topStatus.code))
		ex.statusBuf = append(ex.statusBuf, ex.topStatus.text...)
		items = append(items, item{dhcp6.OptStatusCode, ex.statusBuf})
	}
	if len(ex.fq.out) > 0 {
		items = append(items, item{dhcp6.OptClientFQDN, ex.fq.out})
	}
	items = ex.configured(items)
	slices.SortStableFunc(items, func(a, b item) int { return int(a.code) - int(b.code) })
	for _, o := range items {
		b.Option(o.code, o.data)
	}
	for i := ex.p.NRelays - 1; i >= 0; i-- {
		b.End(marks[i])
	}
	ex.items = items // read by fillCached; reused by the next compose
}

// configured appends the configured options the client asked for (its
// Option Request) and those marked always-send, the most specific level
// first: reservation, pool, subnet, shared network, global.
func (ex *exchange) configured(items []item) []item {
	oroData, _ := ex.p.Msg.Options.Get(dhcp6.OptORO)
	oro := dhcp6.ORO(oroData)
	levels := ex.optionLevels()
	for _, opts := range levels {
		for i := range opts {
			o := &opts[i]
			if o.VendorSpace || o.NeverSend || (!o.AlwaysSend && !oro.Has(o.Code)) {
				continue
			}
			if slices.ContainsFunc(items, func(x item) bool { return x.code == o.Code }) {
				continue
			}
			items = append(items, item{o.Code, o.Data})
		}
	}
	return items
}

func (ex *exchange) optionLevels() [][]config.Option6 {
	levels := ex.levels[:0] // the buffer of the previous exchange
	if ex.res != nil {
		levels = append(levels, ex.res.Options)
	}
	if sn := ex.sn; sn != nil {
		if len(ex.cached.IAs) > 0 {
			ia := ex.cached.IAs[0]
			typ := lease.TypeNA
			if ia.Type == dhcp6.OptIAPD {
				typ = lease.TypePD
			}
			if p := sn.poolOf(typ, addrOf(ia.Leases[0].Addr), ia.Leases[0].PrefixLen); p != nil {
				if p.addrs != nil {
					levels = append(levels, p.addrs.Options)
				} else {
					levels = append(levels, p.pd.Options)
				}
			}
		}
		levels = append(levels, sn.cfg.Options)
		if sn.cfg.SharedNetwork != nil {
			levels = append(levels, sn.cfg.SharedNetwork.Options)
		}
	}
	for _, c := range ex.rt.cfg.Classes {
		if len(c.Options) > 0 && ex.cls.has(c.Name) {
			levels = append(levels, c.Options)
		}
	}
	levels = append(levels, ex.rt.cfg.Options)
	ex.levels = levels
	return levels
}

// send hands the reply to the transport: to the relay that forwarded the
// request (port 547, or its source port when it asked for that with the
// Relay Source Port option), or to the client's address, port 546.
func (ex *exchange) send() {
	if ex.reply == 0 {
		return
	}
	s, pkt := ex.s, ex.pkt
	dst := &ex.dst // a field: the transport's interface would move a local to the heap
	*dst = handoff.Meta6{}
	dst.DstMAC, dst.SrcMAC = pkt.Meta.SrcMAC, pkt.IfMAC
	dst.NVLAN, dst.VLAN = pkt.Meta.NVLAN, pkt.Meta.VLAN
	dst.DstIP = pkt.Meta.SrcIP
	if !isMulticast(pkt.Meta.DstIP) {
		dst.SrcIP = pkt.Meta.DstIP
	}
	dst.SrcPort, dst.DstPort = 547, 546
	if ex.p.NRelays > 0 {
		dst.DstPort = 547
		if ex.p.Relays[0].Options.Has(dhcp6.OptRelaySourcePort) {
			dst.DstPort = pkt.Meta.SrcPort
		}
	}
	if err := pkt.Out.Send6(dst, ex.out.B); err != nil {
		s.st.sendFail.Inc()
		s.log.Debug("DHCPv6 reply not sent", "err", err)
		return
	}
	s.st.sent.Inc()
	if ex.reply == dhcp6.Advertise {
		s.st.advertiseSent.Inc()
	} else {
		s.st.replySent.Inc()
	}
}
