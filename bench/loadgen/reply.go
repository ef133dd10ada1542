package loadgen

import (
	"encoding/binary"

	"xdhcp/fastpath/dhcpview"
)

// replyView is what the engine needs from a reply, read in place by
// parseReply without allocating: the fast path's dhcpview walks the message,
// and the fields are copied out of it because fullCheck may replace them.
// Fields are meaningful only when parseReply returned parseOK.
type replyView struct {
	replyFields
	dv dhcpview.View
}

// replyFields are the values the engine acts on.
type replyFields struct {
	op      byte
	xid     uint32
	yiaddr  [4]byte
	giaddr  [4]byte
	chaddr  [6]byte
	msgType byte // option 53, 0 when absent
	// serverID (option 54), leaseTime (51) and t1 (58), when the has*
	// flags say they were present.
	serverID              [4]byte
	leaseTime, t1         uint32
	hasServerID, hasLease bool
	hasT1                 bool
	// circuit is sub-option 1 of option 82 (a view into the payload), nil
	// when absent; hasRAI tells whether option 82 was there at all.
	circuit []byte
	hasRAI  bool
	// odd marks a reply the cheap parser read but that has something
	// unusual for a server's reply (option overload, repeated options,
	// a hardware address that is not 6-byte Ethernet, no end option, a
	// fixed-length option of the wrong length): the engine then validates
	// it with the full decoder as well.
	odd bool
	// inPlace says the fields above were read from the message; it is
	// false for an odd reply the in-place view cannot represent (overload,
	// repeated options), whose fields all come from the full decoder.
	inPlace bool
}

// parseReply results.
const (
	parseOK        = iota
	parseShort     // shorter than the BOOTP header and cookie
	parseBadCookie // no DHCP magic cookie
	parseBadOption // an option runs past the end of the message
	parseNoType    // no option 53 (a BOOTP reply, not DHCP)
)

// parseReply reads the DHCP payload p into v. It checks every option's
// length against the end of p and never reads past it.
func parseReply(p []byte, v *replyView) int {
	dv := &v.dv
	err := dv.ParseNoFingerprint(p)
	// Zeroed, then set field by field: a composite literal would be built
	// on the stack and copied in, which showed in the per-reply profile.
	v.replyFields = replyFields{}
	switch err {
	case nil:
	case dhcpview.ErrShort:
		return parseShort
	case dhcpview.ErrCookie:
		return parseBadCookie
	case dhcpview.ErrDuplicate, dhcpview.ErrOverload:
		// Legal but unusual in a reply (RFC 3396 concatenation, options in
		// sname/file): the full decoder reads it.
		v.odd = true
		return parseOK
	default:
		return parseBadOption
	}
	v.inPlace = true
	v.op = dv.Op()
	v.xid = dv.Xid()
	v.yiaddr = dv.Yiaddr()
	v.giaddr = dv.Giaddr()
	v.chaddr = [6]byte(p[dhcpview.OffChaddr : dhcpview.OffChaddr+6])
	v.odd = dv.HType() != 1 || dv.HLen() != 6 || !dv.Ended()
	if b, ok := dv.Option(dhcpview.OptMessageType); ok {
		v.odd = v.odd || len(b) != 1
		if len(b) > 0 {
			v.msgType = b[0]
		}
	}
	if b, ok := v.option4(dhcpview.OptServerID); ok {
		v.serverID, v.hasServerID = [4]byte(b), true
	}
	if b, ok := v.option4(dhcpview.OptLeaseTime); ok {
		v.leaseTime, v.hasLease = binary.BigEndian.Uint32(b), true
	}
	if b, ok := v.option4(dhcpview.OptRenewalTime); ok {
		v.t1, v.hasT1 = binary.BigEndian.Uint32(b), true
	}
	if b, ok := dv.Option(dhcpview.OptRelayAgent); ok {
		v.hasRAI = true
		v.circuit = raiCircuit(b, &v.odd)
	}
	if v.msgType == 0 {
		return parseNoType
	}
	return parseOK
}

// option4 returns a four-byte option; another length marks the reply odd.
func (v *replyView) option4(code uint8) ([]byte, bool) {
	b, ok := v.dv.Option(code)
	if ok && len(b) != 4 {
		v.odd, ok = true, false
	}
	return b, ok
}

// raiCircuit returns sub-option 1 of an option 82 value, or nil; a
// sub-option running past the value marks the reply odd.
func raiCircuit(b []byte, odd *bool) []byte {
	for i := 0; i < len(b); {
		if i+1 >= len(b) || i+2+int(b[i+1]) > len(b) {
			*odd = true
			return nil
		}
		n := int(b[i+1])
		if b[i] == 1 {
			return b[i+2 : i+2+n]
		}
		i += 2 + n
	}
	return nil
}

// t1Seconds is the renewal time of an ACK: option 58, else half the lease
// time (RFC 2131 4.4.5), else 0.
func (v *replyView) t1Seconds() uint32 {
	switch {
	case v.hasT1:
		return v.t1
	case v.hasLease:
		return v.leaseTime / 2
	}
	return 0
}
