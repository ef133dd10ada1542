package classify

import "xdhcp/config/optiondef"

// The evaluation of the DHCPv6 operations. Each needs a Packet6; on
// another Packet it is a runtime error (the expression does not match).

// packet6 returns p as a Packet6.
func packet6(p Packet) (Packet6, bool) {
	p6, ok := p.(Packet6)
	return p6, ok
}

// option6 reads what an opOption6 or opRelay6Option node reads: the
// option (or its sub-option), and whether it is there. ok is false on a
// runtime error.
func option6(p Packet, n *node) (b []byte, present, ok bool) {
	p6, ok := packet6(p)
	if !ok {
		return nil, false, false
	}
	if n.op == opRelay6Option {
		level, has := relayLevel(p6, n.level)
		if !has {
			return nil, false, true
		}
		b, present = p6.RelayOption(level, n.code6)
		return b, present, true
	}
	b, present = p6.Option6(n.code6)
	if present && n.hasSub {
		skip := subOptionsAt6(n.code6)
		if len(b) < skip {
			return nil, false, true
		}
		b, present = Option6At(b[skip:], n.sub6)
	}
	return b, present, true
}

// subOptionsAt6 is where the options an option of code encapsulates begin
// (after its fixed fields), as Kea's definitions of the standard DHCPv6
// options place them: IA_NA and IA_PD after IAID, T1 and T2; IA_TA after
// its IAID; an IA Address after the address and lifetimes; an IA Prefix
// after the lifetimes, length and prefix.
func subOptionsAt6(code uint16) int {
	switch code {
	case 3, 25:
		return 12
	case 4:
		return 4
	case 5:
		return 24
	case 26:
		return 25
	}
	return 0
}

// bool6 evaluates the boolean DHCPv6 nodes (the .exists forms).
func (ev *evaluator) bool6(p Packet, n *node) (v, ok bool) {
	switch n.op {
	case opOption6, opRelay6Option:
		_, present, ok := option6(p, n)
		return present, ok
	case opVendor6, opVendorClass6:
		_, found, ok := ev.vendor6(p, n)
		return found, ok
	}
	return false, false
}

// str6 evaluates the string DHCPv6 nodes.
func (ev *evaluator) str6(p Packet, n *node) ([]byte, bool) {
	switch n.op {
	case opOption6, opRelay6Option:
		b, present, ok := option6(p, n)
		if !ok || !present {
			return nil, ok
		}
		if n.repr == reprText {
			return ev.text6(n, b), true
		}
		return b, true
	case opVendor6, opVendorClass6:
		v, _, ok := ev.vendor6(p, n)
		return v, ok
	case opPkt6:
		p6, ok := packet6(p)
		if !ok {
			return nil, false
		}
		v := p6.TransID()
		if n.name == "msgtype" {
			v = uint32(p6.MsgType())
		}
		out := ev.alloc(4)
		out[0], out[1], out[2], out[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
		return out, true
	case opRelay6Addr:
		p6, ok := packet6(p)
		if !ok {
			return nil, false
		}
		level, has := relayLevel(p6, n.level)
		if !has {
			return nil, true
		}
		link, peer := p6.RelayAddrs(level)
		a := link
		if n.name == "peeraddr" {
			a = peer
		}
		if !a.Is6() {
			return nil, true
		}
		out := ev.alloc(16)
		b := a.As16()
		copy(out, b[:])
		return out, true
	}
	return nil, false
}

// text6 renders a DHCPv6 option as .text: a string option's own text,
// otherwise Kea's generic form, "type=CCCCC, len=LLLLL: " then the
// payload in colon-separated hex.
func (ev *evaluator) text6(n *node, b []byte) []byte {
	if d := n.def6; d != nil && d.Type == optiondef.String && !d.Array {
		return b
	}
	code := n.code6
	if n.hasSub {
		code = n.sub6
	}
	out := append(ev.tail(), "type="...)
	out = appendPad(out, int(code), 5)
	out = append(out, ", len="...)
	out = appendPad(out, len(b), 5)
	out = append(out, ": "...)
	return ev.keep(appendHexColon(out, b))
}

// appendPad appends v in decimal, zero-padded to width digits.
func appendPad(dst []byte, v, width int) []byte {
	var digits [20]byte
	i := len(digits)
	for v > 0 || i == len(digits) {
		i--
		digits[i] = byte('0' + v%10)
		v /= 10
	}
	for k := len(digits) - i; k < width; k++ {
		dst = append(dst, '0')
	}
	return append(dst, digits[i:]...)
}

// vendor6 evaluates vendor[...] (option 17) and vendor-class[...] (16)
// for DHCPv6, as vendor does for DHCPv4.
func (ev *evaluator) vendor6(p Packet, n *node) (v []byte, found, ok bool) {
	p6, ok := packet6(p)
	if !ok {
		return nil, false, false
	}
	var ent uint32
	var chunks int
	var b []byte
	has := false
	if n.op == opVendor6 {
		if b, has = p6.Option6(codeVendorOpts6); has && len(b) < 4 {
			has = false
		}
		if has {
			ent = uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		}
	} else if b, has = p6.Option6(codeVendorClass6); has {
		ent, chunks, has = vendorClass6(b)
	}
	if !has || (n.enterprise != 0 && ent != n.enterprise) {
		return nil, false, true
	}
	switch n.vfield {
	case vendorEnterprise:
		out := ev.alloc(4)
		out[0], out[1], out[2], out[3] = byte(ent>>24), byte(ent>>16), byte(ent>>8), byte(ent)
		return out, true, true
	case vendorSub:
		sv, present := Option6At(b[4:], n.sub6)
		if !present {
			return nil, false, true
		}
		if n.typ == typeBool {
			return nil, true, true
		}
		if n.repr == reprText {
			return ev.text6(&node{code6: n.sub6}, sv), true, true
		}
		return sv, true, true
	case vendorData:
		if n.index >= chunks {
			return nil, true, true
		}
		return vendorClass6Data(b, n.index), true, true
	}
	return nil, true, true // vendorExists
}
