package loadgen

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"

	"xdhcp/dhcp6"
	"xdhcp/fastpath/frame"
	"xdhcp/handoff"
)

// DHCPv6 clients (Config.V6) run on the same engine as the DHCPv4 ones:
// the same pacing, timeouts, retransmissions, phases, per-second series
// and report; only the messages differ. A client's exchange of new-client
// kind is Solicit, Advertise, Request, Reply, asking for one IA_NA and one
// IA_PD; a renewal is a Renew (or Rebind) of both, which must come back
// with the same address and prefix and lifetimes. Every client is a DUID
// (DUID-LL of its MAC, which tells the replies apart) sending from the
// interface's own MAC and link-local address, as perfdhcp -6 does: the
// server answers one neighbour, whatever the number of clients.

// IA identifiers the clients use.
const (
	iaidNA = 1
	iaidPD = 2
)

// DHCPv6 multicast destination (All_DHCP_Relay_Agents_and_Servers) and its
// Ethernet address.
var (
	allServers6    = netip.MustParseAddr("ff02::1:2").As16()
	allServersMAC6 = [6]byte{0x33, 0x33, 0, 1, 0, 2}
)

// v6Status is the number of status codes counted one by one: RFC 8415's
// 0 (Success) to 6 (NoPrefixAvail); any other code is counted as "other".
const v6Status = 7

var statusNames = [v6Status + 1]string{"Success", "UnspecFail", "NoAddrsAvail", "NoBinding", "NotOnLink",
	"UseMulticast", "NoPrefixAvail", "other"}

// view6 is what the engine reads of a DHCPv6 reply, in place.
type view6 struct {
	typ      dhcp6.MsgType
	xid      uint32
	clientID []byte
	serverID []byte
	// status is the message's Status Code (-1: none).
	status int
	na, pd ia6
}

// ia6 is the first IA_NA or IA_PD of a reply with its first address or
// prefix.
type ia6 struct {
	present          bool
	t1               uint32
	status           int // -1: none
	has              bool
	addr             [16]byte
	plen             uint8
	preferred, valid uint32
}

// parseReply6 reads a DHCPv6 reply into v with the project's codec, which
// reads in place and does not allocate. It reports false for a message
// whose framing is broken.
func parseReply6(p []byte, v *view6) bool {
	msg, err := dhcp6.ParseMessage(p)
	if err != nil {
		return false
	}
	*v = view6{typ: msg.Type, xid: uint32(msg.TxID[0])<<16 | uint32(msg.TxID[1])<<8 | uint32(msg.TxID[2]), status: -1}
	v.na.status, v.pd.status = -1, -1
	it := msg.Options.Iter()
	for it.Next() {
		switch it.Code {
		case dhcp6.OptClientID:
			v.clientID = it.Data
		case dhcp6.OptServerID:
			v.serverID = it.Data
		case dhcp6.OptStatusCode:
			c, _, err := dhcp6.ParseStatus(it.Data)
			if err != nil {
				return false
			}
			v.status = int(c)
		case dhcp6.OptIANA, dhcp6.OptIAPD:
			dst := &v.na
			if it.Code == dhcp6.OptIAPD {
				dst = &v.pd
			}
			if dst.present {
				continue // the clients ask for one of each
			}
			if !parseIA6(it.Code, it.Data, dst) {
				return false
			}
		}
	}
	return true
}

func parseIA6(code uint16, data []byte, dst *ia6) bool {
	ia, err := dhcp6.ParseIA(code, data)
	if err != nil {
		return false
	}
	dst.present, dst.t1 = true, ia.T1
	it := ia.Options.Iter()
	for it.Next() {
		switch it.Code {
		case dhcp6.OptStatusCode:
			c, _, err := dhcp6.ParseStatus(it.Data)
			if err != nil {
				return false
			}
			dst.status = int(c)
		case dhcp6.OptIAAddr:
			if dst.has || code != dhcp6.OptIANA {
				continue
			}
			a, err := dhcp6.ParseIAAddr(it.Data)
			if err != nil {
				return false
			}
			dst.has, dst.addr, dst.plen, dst.preferred, dst.valid = true, a.Addr, 128, a.Preferred, a.Valid
		case dhcp6.OptIAPrefix:
			if dst.has || code != dhcp6.OptIAPD {
				continue
			}
			pf, err := dhcp6.ParseIAPrefix(it.Data)
			if err != nil {
				return false
			}
			dst.has, dst.addr, dst.plen, dst.preferred, dst.valid = true, pf.Prefix, pf.Len, pf.Preferred, pf.Valid
		}
	}
	return true
}

// duid6 writes client idx's DUID (DUID-LL, Ethernet, its MAC) into g.duid.
func (g *Generator) duid6(idx uint32) []byte {
	mac := g.MAC(int(idx))
	g.duid = [10]byte{0, 3, 0, 1, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]}
	return g.duid[:]
}

// clientOf6 returns the client a reply's Client Identifier names.
func (g *Generator) clientOf6(cid []byte) (uint32, bool) {
	p := g.cfg.MACPrefix
	if len(cid) != 10 || cid[0] != 0 || cid[1] != 3 || cid[2] != 0 || cid[3] != 1 || cid[4] != p[0] || cid[5] != p[1] {
		return 0, false
	}
	idx := binary.BigEndian.Uint32(cid[6:10])
	return idx, int64(idx) < int64(len(g.clients))
}

// elapsed6 is the Elapsed Time option's value: hundredths of a second
// since the exchange began.
func elapsed6(c *client, now int64) uint16 {
	return uint16(min((now-c.start)/int64(10*time.Millisecond), 0xffff))
}

// send6 queues a message of client idx (payload6) to the servers'
// multicast address.
func (g *Generator) send6(idx uint32, now int64, typ dhcp6.MsgType) {
	payload := g.payload6(idx, now, typ)
	meta := handoff.Meta6{SrcMAC: g.tr.MAC(), DstMAC: allServersMAC6, SrcIP: g.ll6, DstIP: allServers6,
		SrcPort: dhcp6ClientPort, DstPort: dhcp6ServerPort, HopLimit: 1}
	slot, ok := g.txSlot()
	if !ok {
		return
	}
	n, err := frame.Build6(g.txBufs[slot], &meta, payload)
	if err != nil {
		// The messages are far below a frame; a failure is a bug in the
		// generator, counted as a frame not sent.
		g.st.sent.TxErrors++
		return
	}
	g.txQueued(slot, n)
}

// payload6 builds a message of client idx in g's scratch space: Solicit
// asks for an address and a prefix; the others carry the server's
// identifier (not Rebind) and the client's address and prefix (c.a6,
// c.p6).
func (g *Generator) payload6(idx uint32, now int64, typ dhcp6.MsgType) []byte {
	c := &g.clients[idx]
	b := &g.b6
	b.B = g.scratch6[:0]
	b.Header(typ, [3]byte{byte(c.xid >> 16), byte(c.xid >> 8), byte(c.xid)})
	b.Option(dhcp6.OptClientID, g.duid6(idx))
	if typ == dhcp6.Request || typ == dhcp6.Renew {
		b.Option(dhcp6.OptServerID, g.sid[:g.sidLen])
	}
	b.OptionU16(dhcp6.OptElapsedTime, elapsed6(c, now))
	m := b.IA(dhcp6.OptIANA, iaidNA, 0, 0)
	if typ != dhcp6.Solicit {
		b.End(b.IAAddr(c.a6, 0, 0))
	}
	b.End(m)
	m = b.IA(dhcp6.OptIAPD, iaidPD, 0, 0)
	if typ != dhcp6.Solicit {
		var pfx [16]byte
		copy(pfx[:8], c.p6[:])
		b.End(b.IAPrefix(pfx, c.plen, 0, 0))
	}
	b.End(m)
	return b.B
}

// DHCPv6 ports.
const (
	dhcp6ClientPort = 546
	dhcp6ServerPort = 547
)

// handle6 validates one received DHCPv6 frame and advances its client.
// Replies are read in place (parseReply6); the first FullCheckFirst and
// every FullCheckEvery-th are also decoded with insomniacslk/dhcp's
// dhcpv6 and must agree.
func (g *Generator) handle6(b []byte, at int64, ph phase) {
	st := g.st
	st.received++
	var m handoff.Meta6
	payload, err := frame.Parse6(b, &m)
	if err != nil {
		st.malformed++
		return
	}
	v := &g.view6
	if !parseReply6(payload, v) {
		st.malformed++
		return
	}
	st.cheap++
	if st.cheap <= uint64(g.cfg.FullCheckFirst) || st.cheap%uint64(g.cfg.FullCheckEvery) == 0 {
		if !g.fullCheck6(payload, v) {
			return
		}
	}
	if v.typ != dhcp6.Advertise && v.typ != dhcp6.Reply {
		g.wrong(wrNotReply)
		return
	}
	idx, ok := g.clientOf6(v.clientID)
	if !ok {
		g.wrong(wrForeignClient)
		return
	}
	c := &g.clients[idx]
	if v.xid != c.xid {
		if v.xid == c.prevXid {
			st.late++
		} else {
			g.wrong(wrUnknownXid)
		}
		return
	}
	for _, s := range [3]int{v.status, v.na.status, v.pd.status} {
		if s >= 0 {
			st.status6[min(s, v6Status)]++
		}
	}
	if len(v.serverID) == 0 || len(v.serverID) > len(g.sid) {
		g.wrong(wrNoServerID)
		return
	}
	if g.sidLen == 0 {
		g.sidLen = copy(g.sid[:], v.serverID)
	} else if !bytes.Equal(v.serverID, g.sid[:g.sidLen]) {
		g.wrong(wrServerIDDiffers)
		return
	}
	if v.typ == dhcp6.Advertise {
		st.offers++
	} else {
		st.acks++
	}
	switch c.state {
	case stSelecting:
		if v.typ != dhcp6.Advertise {
			g.wrong(wrUnexpectedType)
			return
		}
		if g.refused6(idx, kDORA, v) {
			return
		}
		if !g.checkIAs6(v) {
			return
		}
		st.do.Record(time.Duration(at - c.sent))
		c.a6, c.p6, c.plen = v.na.addr, [8]byte(v.pd.addr[:8]), v.pd.plen
		c.state, c.tries = stRequesting, 0
		g.sendRequest(idx, g.now())
	case stRequesting:
		if v.typ == dhcp6.Advertise {
			st.dup++ // a retransmitted Solicit answered twice
			return
		}
		g.bound6(idx, kDORA, v, at, ph)
	case stRenewing, stRebinding:
		if v.typ != dhcp6.Reply {
			g.wrong(wrUnexpectedType)
			return
		}
		kind := kRenew
		if c.state == stRebinding {
			kind = kRebind
		}
		g.bound6(idx, kind, v, at, ph)
	default:
		st.dup++
	}
}

// bound6 handles the Reply that binds (Request) or extends (Renew, Rebind)
// client idx's address and prefix: both must be the ones it asked for.
func (g *Generator) bound6(idx uint32, kind uint8, v *view6, at int64, ph phase) {
	c := &g.clients[idx]
	if g.refused6(idx, kind, v) || !g.checkIAs6(v) {
		return
	}
	if v.na.addr != c.a6 || [8]byte(v.pd.addr[:8]) != c.p6 || v.pd.plen != c.plen {
		g.wrong(wrAckMismatch)
		return
	}
	if kind == kDORA && (!g.claim6(g.owner6a, idx, lo64(c.a6)) || !g.claim6(g.owner6p, idx, hi64(v.pd.addr))) {
		return
	}
	c.t1 = v.na.t1
	g.complete(idx, kind, at)
	g.afterBound(idx, kind, g.now(), ph)
}

// refused6 ends client idx's exchange when the server said no: a Status
// Code other than Success for the message or an IA that has no binding
// in it. The client starts over from nothing (a refused renewal loses its
// binding).
func (g *Generator) refused6(idx uint32, kind uint8, v *view6) bool {
	no := v.status > 0 || (!v.na.has && v.na.status > 0) || (!v.pd.has && v.pd.status > 0)
	if !no {
		return false
	}
	c := &g.clients[idx]
	g.st.kNak[kind]++
	g.st.naks++
	c.gen++
	g.inflight--
	g.newXid(c)
	c.a6, c.p6, c.plen = [16]byte{}, [8]byte{}, 0
	c.state = stFree
	g.free.push(idx)
	return true
}

// checkIAs6 checks that a reply holds an address in the subnet and a
// prefix in the delegated range, each with a valid lifetime and a
// preferred one no longer than it.
func (g *Generator) checkIAs6(v *view6) bool {
	if !v.na.has || !v.pd.has || v.pd.plen < 1 || v.pd.plen > 64 {
		g.wrong(wrNoIA)
		return false
	}
	if v.na.valid == 0 || v.pd.valid == 0 || v.na.preferred > v.na.valid || v.pd.preferred > v.pd.valid {
		g.wrong(wrLifetimes)
		return false
	}
	a := netip.AddrFrom16(v.na.addr)
	if g.cfg.Subnet.IsValid() && !g.cfg.Subnet.Contains(a) {
		g.wrong(wrOutsideSubnet)
		return false
	}
	if p := g.cfg.Delegated; p.IsValid() && (int(v.pd.plen) < p.Bits() || !p.Contains(netip.AddrFrom16(v.pd.addr))) {
		g.wrong(wrOutsideDelegated)
		return false
	}
	return true
}

// claim6 records in owner that client idx holds key (an address's low 64
// bits or a prefix's high 64); it fails (wrong) if another bound client
// holds the same.
func (g *Generator) claim6(owner map[uint64]uint32, idx uint32, key uint64) bool {
	if o, ok := owner[key]; ok && o != idx {
		other := &g.clients[o]
		switch other.state {
		case stBound, stScheduled, stRenewing, stRebinding:
			if lo64(other.a6) == key || binary.BigEndian.Uint64(other.p6[:]) == key {
				g.wrong(wrDoubleAssign)
				return false
			}
		}
	}
	owner[key] = idx
	return true
}

func lo64(a [16]byte) uint64 { return binary.BigEndian.Uint64(a[8:]) }
func hi64(a [16]byte) uint64 { return binary.BigEndian.Uint64(a[:8]) }

// fullCheck6 decodes payload with insomniacslk/dhcp's dhcpv6 and compares
// it with the in-place reading v; a disagreement is a wrong reply.
func (g *Generator) fullCheck6(payload []byte, v *view6) bool {
	st := g.st
	st.full++
	d, err := dhcpv6.MessageFromBytes(payload)
	if err != nil {
		st.malformed++
		return false
	}
	same := byte(d.MessageType) == byte(v.typ) && d.TransactionID == [3]byte{byte(v.xid >> 16), byte(v.xid >> 8), byte(v.xid)}
	if na := d.Options.OneIANA(); same && na != nil && v.na.has {
		as := na.Options.Addresses()
		same = len(as) > 0 && netip.AddrFrom16([16]byte(as[0].IPv6Addr.To16())) == netip.AddrFrom16(v.na.addr) &&
			uint32(as[0].ValidLifetime/time.Second) == v.na.valid
	} else if same {
		same = (na == nil) == !v.na.present
	}
	if pd := d.Options.OneIAPD(); same && pd != nil && v.pd.has {
		ps := pd.Options.Prefixes()
		if same = len(ps) > 0 && ps[0].Prefix != nil; same {
			ones, _ := ps[0].Prefix.Mask.Size()
			same = netip.AddrFrom16([16]byte(ps[0].Prefix.IP.To16())) == netip.AddrFrom16(v.pd.addr) && ones == int(v.pd.plen)
		}
	} else if same {
		same = (pd == nil) == !v.pd.present
	}
	if !same {
		g.wrong(wrDecoderMismatch)
		return false
	}
	return true
}

// LinkLocal6 is the EUI-64 link-local address of mac, the generator's
// source address when Config.LinkLocal is not set.
func LinkLocal6(mac [6]byte) netip.Addr {
	return netip.AddrFrom16([16]byte{0xfe, 0x80, 8: mac[0] ^ 2, mac[1], mac[2], 0xff, 0xfe, mac[3], mac[4], mac[5]})
}
