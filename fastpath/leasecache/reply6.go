package leasecache

import (
	"bytes"
	"errors"

	"xdhcp/dhcp6"
	"xdhcp/fastpath/frame"
	"xdhcp/handoff"
)

// Why AnswerRenew6 did not answer: sentinels, so that the worker counts
// them without formatting.
var (
	// ErrNotCached6: the message is not a Renew or Rebind the entry can
	// answer (another DUID, server or fingerprint, an IA or address the
	// entry does not hold, a lease no longer reusable, ...). The engine
	// answers it.
	ErrNotCached6 = errors.New("leasecache: not answerable from the cached bindings")
)

// Reply6 holds a worker's scratch for AnswerRenew6: the Reply is built in
// it, then framed into the TX frame. The zero value is ready; it grows
// once to the largest Reply and is reused.
type Reply6 struct {
	b   dhcp6.Builder
	pkt dhcp6.Packet
}

// ClientDUID6 parses msg (a DHCPv6 datagram, relayed or not) into r and
// returns the client message's DUID when it is a Renew or Rebind: the key
// to look up before AnswerRenew6. It does not allocate.
func ClientDUID6(r *Reply6, msg []byte) ([]byte, bool) {
	if r.pkt.Parse(msg) != nil || (r.pkt.Msg.Type != dhcp6.Renew && r.pkt.Msg.Type != dhcp6.Rebind) {
		return nil, false
	}
	return r.pkt.Msg.Options.Get(dhcp6.OptClientID)
}

// multicast reports whether a is an IPv6 multicast address.
func multicast(a [16]byte) bool { return a[0] == 0xff }

// AnswerRenew6 writes into dst the Ethernet frame carrying the Reply that
// renews (or rebinds) the client's bindings of entry e, for the Renew or
// Rebind msg (the UDP payload: the client's message, or the Relay-forw
// carrying it) received with headers reqMeta at unix time now, and returns
// the frame length. It answers, or returns ErrNotCached6, as
// handoff.CachedLease6 describes: the DUID, the server DUID of a Renew (a
// Rebind must name none), Fingerprint6 (which covers the relays), the
// receiving interface, and every IA of the client's message an IA_NA or
// IA_PD of e listing exactly its leases, each reusable (Reusable6, with the
// IAADDR / IAPREFIX lifetimes as hints). A client message sent straight to
// the server by unicast goes to the engine, which decides whether the
// client may do that.
//
// The Reply: type 7, the message's transaction id, client-id, server-id,
// then per IA of the message, in its order, the IA with Timers6 of its
// shortest preferred lifetime, its leases with the lifetimes Reusable6
// returned and their options, and the IA's options, then e.Options;
// wrapped in e.Relays' Relay-reply messages when relayed. A direct Reply
// goes from srcIP (the interface's link-local address) port 547 to the
// client's address, port 546; a relayed one from the address the relay
// sent to (srcIP when that was multicast) to the relay's address, port 547
// (or the relay's source port when the outermost relay asked for it with
// the Relay Source Port option). Both go from srcMAC to the Ethernet
// source of the request, with its VLAN tags. ifIndex is the receiving
// interface. It does not allocate once r has grown.
func AnswerRenew6(dst []byte, r *Reply6, msg []byte, reqMeta *handoff.Meta6, ifIndex int, e *Entry6,
	now int64, srcMAC [6]byte, srcIP [16]byte) (int, error) {
	if r.pkt.Parse(msg) != nil {
		return 0, ErrNotCached6
	}
	p := &r.pkt
	m := p.Msg
	if (m.Type != dhcp6.Renew && m.Type != dhcp6.Rebind) || p.NRelays != len(e.Relays) ||
		p.NRelays == 0 && !multicast(reqMeta.DstIP) {
		return 0, ErrNotCached6
	}
	if e.IfIndex != 0 && e.IfIndex != ifIndex {
		return 0, ErrNotCached6
	}
	if cid, ok := m.Options.Get(dhcp6.OptClientID); !ok || !bytes.Equal(cid, e.DUID) || m.Options.Count(dhcp6.OptClientID) != 1 {
		return 0, ErrNotCached6
	}
	sid, hasSID := m.Options.Get(dhcp6.OptServerID)
	if m.Type == dhcp6.Renew && (!hasSID || !bytes.Equal(sid, e.ServerDUID) || m.Options.Count(dhcp6.OptServerID) != 1) ||
		m.Type == dhcp6.Rebind && hasSID {
		return 0, ErrNotCached6
	}
	if fp, ok := handoff.Fingerprint6(msg); !ok || fp != e.Fingerprint {
		return 0, ErrNotCached6
	}
	if m.Options.Has(dhcp6.OptIATA) {
		return 0, ErrNotCached6
	}

	b := &r.b
	b.Reset()
	var marks [MaxRelays6]int
	for i := range e.Relays {
		rl := &e.Relays[i]
		b.RelayHeader(dhcp6.RelayRepl, rl.HopCount, rl.LinkAddr, rl.PeerAddr)
		b.Bytes(rl.Options)
		marks[i] = b.Begin(dhcp6.OptRelayMsg)
	}
	b.Header(dhcp6.Reply, m.TxID)
	b.Option(dhcp6.OptClientID, e.DUID)
	b.Option(dhcp6.OptServerID, e.ServerDUID)
	nIAs := 0
	for it := m.Options.Iter(); it.Next(); {
		if it.Code != dhcp6.OptIANA && it.Code != dhcp6.OptIAPD {
			continue
		}
		nIAs++
		if !answerIA(b, e, it.Code, it.Data, now) {
			return 0, ErrNotCached6
		}
	}
	if nIAs == 0 || m.Options.Count(dhcp6.OptIANA)+m.Options.Count(dhcp6.OptIAPD) != nIAs {
		return 0, ErrNotCached6 // no IA, or one whose framing broke the walk
	}
	b.Bytes(e.Options)
	for i := len(e.Relays) - 1; i >= 0; i-- {
		b.End(marks[i])
	}

	rm := handoff.Meta6{
		SrcMAC:  srcMAC,
		DstMAC:  reqMeta.SrcMAC,
		NVLAN:   reqMeta.NVLAN,
		VLAN:    reqMeta.VLAN,
		SrcIP:   srcIP,
		DstIP:   reqMeta.SrcIP,
		SrcPort: 547,
		DstPort: 546,
	}
	if p.NRelays > 0 {
		rm.DstPort = 547
		if p.Relays[0].Options.Has(dhcp6.OptRelaySourcePort) {
			rm.DstPort = reqMeta.SrcPort
		}
		if !multicast(reqMeta.DstIP) {
			rm.SrcIP = reqMeta.DstIP
		}
	}
	n, err := frame.Build6(dst, &rm, b.B)
	if err != nil {
		return 0, err
	}
	return n, nil
}

// answerIA appends the Reply's IA for the request's IA option (code, data),
// or returns false when e cannot answer it.
func answerIA(b *dhcp6.Builder, e *Entry6, code uint16, data []byte, now int64) bool {
	ia, err := dhcp6.ParseIA(code, data)
	if err != nil {
		return false
	}
	var cia *handoff.CachedIA6
	for i := range e.IAs {
		if e.IAs[i].Type == code && e.IAs[i].IAID == ia.IAID {
			cia = &e.IAs[i]
			break
		}
	}
	if cia == nil {
		return false
	}
	// The lifetimes to send, per cached lease, found by walking the
	// request's addresses or prefixes: each must be one of the IA's,
	// once, and every one of the IA's must be there.
	var pref, valid [MaxLeases6]uint32
	var seen [MaxLeases6]bool
	n := 0
	for it := ia.Options.Iter(); it.Next(); {
		var addr [16]byte
		var plen uint8
		var hp, hv uint32
		switch {
		case code == dhcp6.OptIANA && it.Code == dhcp6.OptIAAddr:
			a, err := dhcp6.ParseIAAddr(it.Data)
			if err != nil {
				return false
			}
			addr, plen, hp, hv = a.Addr, 128, a.Preferred, a.Valid
		case code == dhcp6.OptIAPD && it.Code == dhcp6.OptIAPrefix:
			p, err := dhcp6.ParseIAPrefix(it.Data)
			if err != nil {
				return false
			}
			addr, plen, hp, hv = p.Prefix, p.Len, p.Preferred, p.Valid
		default:
			continue
		}
		j := leaseIndex(cia, addr, plen)
		if j < 0 || seen[j] {
			return false
		}
		p, v, ok := Reusable6(e, &cia.Leases[j], hp, hv, now)
		if !ok {
			return false
		}
		seen[j], pref[j], valid[j] = true, p, v
		n++
	}
	if n != len(cia.Leases) {
		return false
	}
	minPref := uint32(Infinite)
	for j := range cia.Leases {
		minPref = min(minPref, pref[j])
	}
	t1, t2 := Timers6(cia, minPref)
	mark := b.IA(code, cia.IAID, t1, t2)
	for j := range cia.Leases {
		l := &cia.Leases[j]
		var lm int
		if code == dhcp6.OptIANA {
			lm = b.IAAddr(l.Addr, pref[j], valid[j])
		} else {
			lm = b.IAPrefix(l.Addr, l.PrefixLen, pref[j], valid[j])
		}
		b.Bytes(l.Options)
		b.End(lm)
	}
	b.Bytes(cia.Options)
	b.End(mark)
	return true
}

// leaseIndex returns the index of the lease (addr, plen) in ia, or -1.
func leaseIndex(ia *handoff.CachedIA6, addr [16]byte, plen uint8) int {
	for j := range ia.Leases {
		if ia.Leases[j].Addr == addr && ia.Leases[j].PrefixLen == plen {
			return j
		}
	}
	return -1
}

// Message is the DHCPv6 message (with its Relay-reply wrappers) of the
// last Reply AnswerRenew6 built with r, valid until r is used again.
func (r *Reply6) Message() []byte { return r.b.B }
