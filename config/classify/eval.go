package classify

import (
	"bytes"
	"net/netip"
	"strconv"

	"xdhcp/config/optiondef"
)

const (
	// scratchSize is the initial arena for string functions; it covers
	// concat/hexstring of typical option payloads.
	scratchSize = 256
	// maxPooledArena caps the arena kept between evaluations, so one huge
	// value does not pin memory for the life of the Expr.
	maxPooledArena = 16 << 10
	// maxValueLen bounds every computed value. Kea has no such limit, but
	// nested hexstring() triples a value per level, and an expression must
	// not be able to exhaust memory; no real option or comparison comes
	// near it. Exceeding it is a runtime error (no match).
	maxValueLen = 64 << 10
)

// evaluator holds the per-call state of one Eval. buf is an append-only
// arena while an Eval runs: values handed out earlier are never
// overwritten, and when it grows the old backing array simply stays
// referenced by those values. The packet is passed to each method rather
// than stored, which keeps the struct to what is recycled between calls.
type evaluator struct {
	buf []byte
}

// alloc returns n fresh bytes from the arena.
func (ev *evaluator) alloc(n int) []byte {
	start := len(ev.buf)
	if cap(ev.buf)-start < n {
		ev.buf = make([]byte, 0, max(2*cap(ev.buf), n))
		start = 0
	}
	ev.buf = ev.buf[:start+n]
	return ev.buf[start : start+n : start+n]
}

// tail is the free end of the arena, for values built by appending.
func (ev *evaluator) tail() []byte { return ev.buf[len(ev.buf):len(ev.buf)] }

// keep takes out, appended to tail(), into the arena. When appending
// outgrew the arena, out lives in memory of its own and the arena is left
// as it was.
func (ev *evaluator) keep(out []byte) []byte {
	if len(out) == 0 {
		return nil
	}
	n := len(ev.buf)
	if n < cap(ev.buf) && &ev.buf[:n+1][n] == &out[0] {
		ev.buf = ev.buf[:n+len(out)]
	}
	return out[:len(out):len(out)]
}

// optionPayload returns what option n reads: option n.code, or its
// sub-option n.sub. Only option 82 holds sub-options when Kea evaluates
// classes (option 43 is parsed later, once the classes are known).
func optionPayload(p Packet, n *node) (sp space, code uint8, b []byte, ok bool) {
	b, ok = p.Option(n.code)
	if !ok {
		return 0, 0, nil, false
	}
	if !n.hasSub {
		return spaceDHCP4, n.code, b, true
	}
	if n.code != codeRelayAgent || !ValidSubOptions(b) {
		return 0, 0, nil, false
	}
	v, ok := SubOption(b, n.sub)
	return spaceAgent, n.sub, v, ok
}

// render gives an option's value as .hex (Kea's packed bytes: sub-options
// in code order) or .text (see text.go).
func (ev *evaluator) render(sp space, code uint8, b []byte, r repr, d *optiondef.Def) []byte {
	if r == reprText {
		if d != nil {
			// An option of the configuration's option-def entries.
			if d.Type == optiondef.String && !d.Array {
				return b
			}
			return ev.keep(appendDefText(ev.tail(), d, code, b, 0))
		}
		if isStringOption(sp, code) {
			return b
		}
		return ev.keep(appendOptionText(ev.tail(), sp, code, b, 0))
	}
	if sp != spaceDHCP4 {
		return b
	}
	switch code {
	case codeRelayAgent:
		if ValidSubOptions(b) {
			return ev.keep(AppendSorted(ev.tail(), b))
		}
	case codeVendorOpts:
		if _, subs, ok := vendorBlock(b); ok && len(subs)+5 == len(b) {
			return ev.keep(AppendSorted(append(ev.tail(), b[:5]...), subs))
		}
	}
	return b
}

// vendor evaluates vendor[...] (option 125) and vendor-class[...] (124).
// found is false when the option is absent, unparsable or of another
// enterprise: Kea then pushes "" (or false for .exists).
func (ev *evaluator) vendor(p Packet, n *node) (v []byte, found bool) {
	var ent uint32
	var subs, b []byte
	var chunks int
	ok := false
	if n.op == opVendor {
		if b, ok = p.Option(codeVendorOpts); ok {
			ent, subs, ok = vendorBlock(b)
		}
	} else if b, ok = p.Option(codeVendorClass); ok {
		ent, chunks, ok = vendorClass(b)
	}
	if !ok || (n.enterprise != 0 && ent != n.enterprise) {
		return nil, false
	}
	switch n.vfield {
	case vendorEnterprise:
		out := ev.alloc(4)
		out[0], out[1], out[2], out[3] = byte(ent>>24), byte(ent>>16), byte(ent>>8), byte(ent)
		return out, true
	case vendorSub:
		sv, ok := SubOption(subs, n.sub)
		if !ok {
			return nil, false
		}
		if n.typ == typeBool {
			return nil, true
		}
		return ev.render(vendorSpace(ent), n.sub, sv, n.repr, nil), true
	case vendorData:
		if n.index >= chunks {
			return nil, true
		}
		return vendorClassData(b, n.index), true
	}
	return nil, true // vendorExists
}

// boolean evaluates a boolean node. ok is false on a runtime error.
func (ev *evaluator) boolean(p Packet, n *node) (v, ok bool) {
	switch n.op {
	case opOption6, opRelay6Option, opVendor6, opVendorClass6:
		return ev.bool6(p, n)
	case opExists:
		_, _, _, present := optionPayload(p, n)
		return present, true
	case opVendor, opVendorClass:
		_, found := ev.vendor(p, n)
		return found, true
	case opMember:
		return p.Member(n.name), true
	case opEqual:
		a, b, ok := ev.strPair(p, n)
		if !ok {
			return false, false
		}
		return bytes.Equal(a, b), true
	case opNot:
		v, ok := ev.boolean(p, n.kids[0])
		return !v, ok
	case opAnd, opOr:
		// For and, the deciding value is false; for or, true.
		decide := n.op == opOr
		for i, k := range n.kids {
			v, ok := ev.boolean(p, k)
			if !ok {
				return false, false
			}
			if v == decide {
				return decide, ev.drain(p, n.kids[i+1:])
			}
		}
		return !decide, true
	}
	return false, false
}

// drain evaluates operands whose value no longer matters but which could
// still fail, because Kea evaluates them and fails the whole expression.
func (ev *evaluator) drain(p Packet, kids []*node) bool {
	for _, k := range kids {
		if !ev.check(p, k) {
			return false
		}
	}
	return true
}

// check evaluates k only for its possible runtime error.
func (ev *evaluator) check(p Packet, k *node) bool {
	if !k.mayFail {
		return true
	}
	if k.typ == typeBool {
		_, ok := ev.boolean(p, k)
		return ok
	}
	_, ok := ev.str(p, k)
	return ok
}

// str evaluates a string node. The result must be treated as read-only: it
// may alias packet memory, a compiled literal or the arena.
func (ev *evaluator) str(p Packet, n *node) ([]byte, bool) {
	switch n.op {
	case opOption6, opRelay6Option, opVendor6, opVendorClass6, opPkt6, opRelay6Addr:
		return ev.str6(p, n)
	case opLiteral:
		return n.lit, true
	case opOption:
		sp, code, b, ok := optionPayload(p, n)
		if !ok {
			return nil, true
		}
		var d *optiondef.Def
		if !n.hasSub {
			d = n.def
		}
		return ev.render(sp, code, b, n.repr, d), true
	case opVendor, opVendorClass:
		v, _ := ev.vendor(p, n)
		return v, true
	case opMAC:
		return p.MAC(), true
	case opField:
		b, _ := p.Field(n.name)
		if n.pad4 && len(b) > 0 && len(b) < 4 {
			out := ev.alloc(4)
			clear(out)
			copy(out[4-len(b):], b)
			return out, true
		}
		return b, true
	case opIface:
		s := p.Iface()
		out := ev.alloc(len(s))
		copy(out, s)
		return out, true
	case opSubstring:
		return ev.substring(p, n)
	case opSplit:
		return ev.split(p, n)
	case opConcat:
		return ev.concat(p, n)
	case opIfElse:
		c, ok := ev.boolean(p, n.kids[0])
		if !ok {
			return nil, false
		}
		taken, other := n.kids[1], n.kids[2]
		if !c {
			taken, other = other, taken
		}
		v, ok := ev.str(p, taken)
		if !ok || !ev.check(p, other) {
			return nil, false
		}
		return v, true
	case opHexString:
		return ev.hexString(p, n)
	case opAddrToText:
		return ev.addrToText(p, n)
	case opIntToText:
		return ev.intToText(p, n)
	}
	return nil, false
}

// substring follows Kea's TokenSubstring: a negative start counts from the
// end, a negative length takes characters to the left of start, "all"
// takes the rest, and a start outside the string gives "".
func (ev *evaluator) substring(p Packet, n *node) ([]byte, bool) {
	s, ok := ev.str(p, n.kids[0])
	if !ok {
		return nil, false
	}
	if len(s) == 0 {
		return nil, true // Kea checks for an empty string before the integers
	}
	if n.badInt {
		return nil, false
	}
	slen := len(s)
	start, length := n.start, n.length
	if n.lenAll {
		length = slen
	}
	if start < -slen || start >= slen {
		return nil, true
	}
	if start < 0 {
		start += slen
	}
	if length < 0 {
		length = -length
		if length <= start {
			start -= length
		} else {
			length = start
			start = 0
		}
	}
	end := min(start+length, slen)
	return s[start:end], true
}

// strPair evaluates the two string operands of n, left first.
func (ev *evaluator) strPair(p Packet, n *node) (a, b []byte, ok bool) {
	if a, ok = ev.str(p, n.kids[0]); !ok {
		return nil, nil, false
	}
	if b, ok = ev.str(p, n.kids[1]); !ok {
		return nil, nil, false
	}
	return a, b, true
}

// split follows Kea's TokenSplit: every byte of the delimiter string is a
// separator, adjacent separators delimit empty fields, fields count from 1.
func (ev *evaluator) split(p Packet, n *node) ([]byte, bool) {
	s, delim, ok := ev.strPair(p, n)
	if !ok {
		return nil, false
	}
	if len(s) == 0 {
		return nil, true
	}
	if n.badInt {
		return nil, false
	}
	if len(delim) == 0 {
		return s, true
	}
	field := 1
	begin := 0
	for i, c := range s {
		if bytes.IndexByte(delim, c) < 0 {
			continue
		}
		if field == n.field {
			return s[begin:i], true
		}
		field++
		begin = i + 1
	}
	if field == n.field {
		return s[begin:], true
	}
	return nil, true
}

func (ev *evaluator) concat(p Packet, n *node) ([]byte, bool) {
	// Operands are evaluated into a fixed array (they may use the arena
	// themselves) and joined in chunks, so long '+' chains need no slice
	// of results; storing them in an appended slice would also make every
	// value escape to the heap.
	var parts [8][]byte
	var acc []byte
	kids := n.kids
	for first := true; len(kids) > 0; first = false {
		np := 0
		if !first {
			parts[0] = acc
			np = 1
		}
		for np < len(parts) && len(kids) > 0 {
			v, ok := ev.str(p, kids[0])
			if !ok {
				return nil, false
			}
			parts[np] = v
			np++
			kids = kids[1:]
		}
		total := 0
		for _, v := range parts[:np] {
			total += len(v)
		}
		if total > maxValueLen {
			return nil, false
		}
		acc = ev.alloc(total)
		off := 0
		for _, v := range parts[:np] {
			off += copy(acc[off:], v)
		}
	}
	return acc, true
}

// hexString follows Kea's TokenToHexString: lower-case hex digit pairs
// joined by the separator.
func (ev *evaluator) hexString(p Packet, n *node) ([]byte, bool) {
	data, sep, ok := ev.strPair(p, n)
	if !ok {
		return nil, false
	}
	if len(data) == 0 {
		return nil, true
	}
	size := 2*len(data) + (len(data)-1)*len(sep)
	if size > maxValueLen || size < 0 {
		return nil, false
	}
	const digits = "0123456789abcdef"
	out := ev.alloc(size)
	off := 0
	for i, c := range data {
		if i > 0 {
			off += copy(out[off:], sep)
		}
		out[off], out[off+1] = digits[c>>4], digits[c&0x0f]
		off += 2
	}
	return out, true
}

// addrToText renders a 4- or 16-byte value as an address; an empty value
// stays empty and any other length is a runtime error, as in Kea.
func (ev *evaluator) addrToText(p Packet, n *node) ([]byte, bool) {
	b, ok := ev.str(p, n.kids[0])
	if !ok {
		return nil, false
	}
	var a netip.Addr
	switch len(b) {
	case 0:
		return nil, true
	case 4:
		a = netip.AddrFrom4([4]byte(b))
	case 16:
		a = netip.AddrFrom16([16]byte(b))
	default:
		return nil, false
	}
	return a.AppendTo(ev.alloc(64)[:0]), true
}

// intToText renders a big-endian integer of exactly n.width bytes in
// decimal; an empty value stays empty, any other length is an error.
func (ev *evaluator) intToText(p Packet, n *node) ([]byte, bool) {
	b, ok := ev.str(p, n.kids[0])
	if !ok {
		return nil, false
	}
	if len(b) == 0 {
		return nil, true
	}
	if len(b) != n.width {
		return nil, false
	}
	var u uint64
	for _, c := range b {
		u = u<<8 | uint64(c)
	}
	out := ev.alloc(12)[:0]
	if !n.signed {
		return strconv.AppendUint(out, u, 10), true
	}
	shift := 64 - 8*n.width
	return strconv.AppendInt(out, int64(u<<shift)>>shift, 10), true
}
