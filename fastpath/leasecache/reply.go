package leasecache

import (
	"encoding/binary"
	"errors"

	"xdhcp/fastpath/dhcpview"
	"xdhcp/fastpath/frame"
	"xdhcp/handoff"
)

// BuildACK errors. Sentinels, so that the worker counts them without
// formatting.
var (
	// ErrNoRoom: dst cannot hold the frame.
	ErrNoRoom = errors.New("leasecache: reply does not fit the buffer")
	// ErrNotAddressable: the request has neither giaddr nor ciaddr, so a
	// renewal reply has no destination (it is not a renewal).
	ErrNotAddressable = errors.New("leasecache: request has no giaddr or ciaddr")
	// ErrBadEntryOptions: the entry's options are too long; Put refuses
	// such entries, so this means an Entry that bypassed it.
	ErrBadEntryOptions = errors.New("leasecache: entry options too long")
)

// bootpMinLen is the BOOTP minimum message length (RFC 951): the reply is
// padded to it, since some relays drop shorter messages.
const bootpMinLen = 300

// ACKLen returns the length of the UDP payload BuildACK writes for e.
func ACKLen(e *Entry) int {
	n := dhcpview.MinLen +
		3 + // 53 message type
		6 + // 54 server identifier
		6 + // 51 lease time
		6 + 6 + // 58, 59 (at most)
		len(e.Options) +
		1 // End
	return max(n, bootpMinLen)
}

// BuildACK writes into dst a complete Ethernet frame carrying the DHCPACK
// that renews lease e for req, with lease time remaining (from Reusable),
// and returns the frame length.
//
// The message: op 2; htype, hlen (capped at 16), hops, xid, flags, ciaddr,
// giaddr and chaddr from the request; yiaddr e.Addr; siaddr e.Siaddr; secs,
// sname and file zero; options 53 = ACK, 54 = e.ServerID, 51 = remaining,
// 58 and 59 as Timers(e, remaining) decides, then e.Options, End, and zero
// padding to 300 bytes.
//
// Addressing (RFC 2131 section 4.1 for a renewal): a relayed request
// (giaddr set) is answered to giaddr port 67, any other to ciaddr port 68,
// always at the Ethernet source of the request (the relay or the client);
// the source is e.ServerID port 67 and srcMAC. VLAN tags are those of the
// request.
//
// BuildACK does not allocate. dst is overwritten up to the returned length.
func BuildACK(dst []byte, req *dhcpview.View, reqMeta *handoff.Meta, e *Entry, remaining uint32, srcMAC [6]byte) (int, error) {
	if len(e.Options) > MaxOptionsLen {
		return 0, ErrBadEntryOptions
	}
	m := handoff.Meta{
		SrcMAC:  srcMAC,
		DstMAC:  reqMeta.SrcMAC,
		NVLAN:   reqMeta.NVLAN,
		VLAN:    reqMeta.VLAN,
		SrcIP:   e.ServerID,
		SrcPort: dhcpview.ServerPort,
	}
	giaddr, ciaddr := req.Giaddr(), req.Ciaddr()
	switch {
	case giaddr != [4]byte{}:
		m.DstIP, m.DstPort = giaddr, dhcpview.ServerPort
	case ciaddr != [4]byte{}:
		m.DstIP, m.DstPort = ciaddr, dhcpview.ClientPort
	default:
		return 0, ErrNotAddressable
	}

	hl := frame.HeaderLen(&m)
	plen := ACKLen(e)
	if hl+plen > len(dst) { // plen ≥ 300: no Ethernet minimum padding
		return 0, ErrNoRoom
	}
	p := dst[hl : hl+plen]
	clear(p)

	chaddr := req.Chaddr()
	p[dhcpview.OffOp] = 2 // BOOTREPLY
	p[dhcpview.OffHType] = req.HType()
	p[dhcpview.OffHLen] = uint8(len(chaddr))
	p[dhcpview.OffHops] = req.Hops()
	binary.BigEndian.PutUint32(p[dhcpview.OffXid:], req.Xid())
	binary.BigEndian.PutUint16(p[dhcpview.OffFlags:], req.Flags())
	copy(p[dhcpview.OffCiaddr:], ciaddr[:])
	copy(p[dhcpview.OffYiaddr:], e.Addr[:])
	copy(p[dhcpview.OffSiaddr:], e.Siaddr[:])
	copy(p[dhcpview.OffGiaddr:], giaddr[:])
	copy(p[dhcpview.OffChaddr:dhcpview.OffChaddr+16], chaddr)
	binary.BigEndian.PutUint32(p[dhcpview.HeaderLen:], dhcpview.Magic)

	o := dhcpview.MinLen
	p[o], p[o+1], p[o+2] = dhcpview.OptMessageType, 1, dhcpview.MsgAck
	o += 3
	p[o], p[o+1] = dhcpview.OptServerID, 4
	copy(p[o+2:o+6], e.ServerID[:])
	o += 6
	o = putUint32Opt(p, o, dhcpview.OptLeaseTime, remaining)
	t1, t2 := Timers(e, remaining)
	if t1 != 0 {
		o = putUint32Opt(p, o, dhcpview.OptRenewalTime, t1)
	}
	if t2 != 0 {
		o = putUint32Opt(p, o, dhcpview.OptRebindingTime, t2)
	}
	o += copy(p[o:], e.Options)
	p[o] = dhcpview.OptEnd
	// The rest is already zero: pad options up to the BOOTP minimum.

	// p is dst[hl:]; Build copies it onto itself, then fills in the
	// headers and checksums.
	n, err := frame.Build(dst, &m, p)
	if err != nil {
		// Only ErrShort (caught above) or ErrBadHeader from a Meta
		// whose VLAN tags frame.Parse would not have produced.
		return 0, err
	}
	return n, nil
}

func putUint32Opt(p []byte, o int, code uint8, v uint32) int {
	p[o], p[o+1] = code, 4
	binary.BigEndian.PutUint32(p[o+2:], v)
	return o + 6
}
