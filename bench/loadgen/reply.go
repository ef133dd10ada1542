package loadgen

import "encoding/binary"

// replyView is what the engine needs from a reply, read in place by
// parseReply without allocating. Fields are meaningful only when parseReply
// returned parseOK.
type replyView struct {
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
	*v = replyView{}
	if len(p) < bootpLen+4 {
		return parseShort
	}
	if binary.BigEndian.Uint32(p[bootpLen:]) != magicCookie {
		return parseBadCookie
	}
	v.op = p[0]
	v.odd = p[1] != 1 || p[2] != 6
	v.xid = binary.BigEndian.Uint32(p[offXid:])
	v.yiaddr = [4]byte(p[16:20])
	v.giaddr = [4]byte(p[offGiaddr : offGiaddr+4])
	v.chaddr = [6]byte(p[offChaddr : offChaddr+6])
	// seen is a bitmap of the options we read, to spot repeats (which
	// RFC 3396 concatenates and the full decoder handles).
	var seen uint8
	const (
		sType = 1 << iota
		sSID
		sLease
		sT1
		sRAI
	)
	once := func(bit uint8) {
		if seen&bit != 0 {
			v.odd = true
		}
		seen |= bit
	}
	ended := false
	for o := bootpLen + 4; o < len(p); {
		code := p[o]
		if code == 0 { // pad
			o++
			continue
		}
		if code == 255 {
			ended = true
			break
		}
		if o+1 >= len(p) {
			return parseBadOption
		}
		n := int(p[o+1])
		val := o + 2
		if val+n > len(p) {
			return parseBadOption
		}
		b := p[val : val+n]
		switch code {
		case 53:
			once(sType)
			if n != 1 {
				v.odd = true
				if n == 0 {
					break
				}
			}
			v.msgType = b[0]
		case 54:
			once(sSID)
			if n != 4 {
				v.odd = true
				break
			}
			v.serverID, v.hasServerID = [4]byte(b), true
		case 51:
			once(sLease)
			if n != 4 {
				v.odd = true
				break
			}
			v.leaseTime, v.hasLease = binary.BigEndian.Uint32(b), true
		case 58:
			once(sT1)
			if n != 4 {
				v.odd = true
				break
			}
			v.t1, v.hasT1 = binary.BigEndian.Uint32(b), true
		case 52: // option overload: options continue in file/sname
			v.odd = true
		case 82:
			once(sRAI)
			v.hasRAI = true
			v.circuit = raiCircuit(b, &v.odd)
		}
		o = val + n
	}
	if !ended {
		v.odd = true
	}
	if v.msgType == 0 {
		return parseNoType
	}
	return parseOK
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
