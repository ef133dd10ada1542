package classify

import (
	"bytes"
	"net/netip"
	"strconv"
)

const (
	// scratchSize is the stack space Eval gives string functions before it
	// falls back to the heap; it covers concat/hexstring of typical option
	// payloads.
	scratchSize = 256
	// maxValueLen bounds every computed value. Kea has no such limit, but
	// nested hexstring() triples a value per level, and an expression must
	// not be able to exhaust memory; no real option or comparison comes
	// near it. Exceeding it is a runtime error (no match).
	maxValueLen = 64 << 10
)

// evaluator holds the per-call state of one Eval. It lives on the Eval
// stack frame; buf is an append-only arena, so values handed out earlier
// are never overwritten, and when it grows the old backing array simply
// stays referenced by those values.
type evaluator struct {
	p   Packet
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

// boolean evaluates a boolean node. ok is false on a runtime error.
func (ev *evaluator) boolean(n *node) (v, ok bool) {
	switch n.op {
	case opExists:
		_, present := ev.p.Option(n.code)
		return present, true
	case opRelayExists:
		_, present := ev.p.RelayOption(n.code)
		return present, true
	case opMember:
		return ev.p.Member(n.name), true
	case opEqual:
		a, ok := ev.str(n.kids[0])
		if !ok {
			return false, false
		}
		b, ok := ev.str(n.kids[1])
		if !ok {
			return false, false
		}
		return bytes.Equal(a, b), true
	case opNot:
		v, ok := ev.boolean(n.kids[0])
		return !v, ok
	case opAnd, opOr:
		// For and, the deciding value is false; for or, true.
		decide := n.op == opOr
		for i, k := range n.kids {
			v, ok := ev.boolean(k)
			if !ok {
				return false, false
			}
			if v == decide {
				return decide, ev.drain(n.kids[i+1:])
			}
		}
		return !decide, true
	}
	return false, false
}

// drain evaluates operands whose value no longer matters but which could
// still fail, because Kea evaluates them and fails the whole expression.
func (ev *evaluator) drain(kids []*node) bool {
	for _, k := range kids {
		if !ev.check(k) {
			return false
		}
	}
	return true
}

// check evaluates k only for its possible runtime error.
func (ev *evaluator) check(k *node) bool {
	if !k.mayFail {
		return true
	}
	var ok bool
	if k.typ == typeBool {
		_, ok = ev.boolean(k)
	} else {
		_, ok = ev.str(k)
	}
	return ok
}

// str evaluates a string node. The result must be treated as read-only: it
// may alias packet memory, a compiled literal or the arena.
func (ev *evaluator) str(n *node) ([]byte, bool) {
	switch n.op {
	case opLiteral:
		return n.lit, true
	case opOption:
		b, _ := ev.p.Option(n.code)
		return b, true
	case opRelay:
		b, _ := ev.p.RelayOption(n.code)
		return b, true
	case opMAC:
		return ev.p.MAC(), true
	case opField:
		b, _ := ev.p.Field(n.name)
		if n.pad4 && len(b) > 0 && len(b) < 4 {
			out := ev.alloc(4)
			clear(out)
			copy(out[4-len(b):], b)
			return out, true
		}
		return b, true
	case opIface:
		s := ev.p.Iface()
		out := ev.alloc(len(s))
		copy(out, s)
		return out, true
	case opSubstring:
		return ev.substring(n)
	case opSplit:
		return ev.split(n)
	case opConcat:
		return ev.concat(n)
	case opIfElse:
		c, ok := ev.boolean(n.kids[0])
		if !ok {
			return nil, false
		}
		taken, other := n.kids[1], n.kids[2]
		if !c {
			taken, other = other, taken
		}
		v, ok := ev.str(taken)
		if !ok || !ev.check(other) {
			return nil, false
		}
		return v, true
	case opHexString:
		return ev.hexString(n)
	case opLcase, opUcase:
		s, ok := ev.str(n.kids[0])
		if !ok {
			return nil, false
		}
		out := ev.alloc(len(s))
		for i, c := range s {
			if n.op == opLcase && c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			} else if n.op == opUcase && c >= 'a' && c <= 'z' {
				c -= 'a' - 'A'
			}
			out[i] = c
		}
		return out, true
	case opAddrToText:
		return ev.addrToText(n)
	case opIntToText:
		return ev.intToText(n)
	}
	return nil, false
}

// substring follows Kea's TokenSubstring: a negative start counts from the
// end, a negative length takes characters to the left of start, "all"
// takes the rest, and a start outside the string gives "".
func (ev *evaluator) substring(n *node) ([]byte, bool) {
	s, ok := ev.str(n.kids[0])
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

// split follows Kea's TokenSplit: every byte of the delimiter string is a
// separator, adjacent separators delimit empty fields, fields count from 1.
func (ev *evaluator) split(n *node) ([]byte, bool) {
	s, ok := ev.str(n.kids[0])
	if !ok {
		return nil, false
	}
	delim, ok := ev.str(n.kids[1])
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

func (ev *evaluator) concat(n *node) ([]byte, bool) {
	// Evaluate all parts first (they may use the arena themselves), keeping
	// a small fixed array of results so the common two-operand case does not
	// allocate.
	var fixed [4][]byte
	parts := fixed[:0]
	total := 0
	for _, k := range n.kids {
		v, ok := ev.str(k)
		if !ok {
			return nil, false
		}
		total += len(v)
		if total > maxValueLen {
			return nil, false
		}
		parts = append(parts, v)
	}
	out := ev.alloc(total)
	off := 0
	for _, v := range parts {
		off += copy(out[off:], v)
	}
	return out, true
}

// hexString follows Kea's TokenToHexString: lower-case hex digit pairs
// joined by the separator.
func (ev *evaluator) hexString(n *node) ([]byte, bool) {
	data, ok := ev.str(n.kids[0])
	if !ok {
		return nil, false
	}
	sep, ok := ev.str(n.kids[1])
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
	out := ev.alloc(size)[:0]
	for i, c := range data {
		if i > 0 {
			out = append(out, sep...)
		}
		out = append(out, digits[c>>4], digits[c&0x0f])
	}
	return out, true
}

// addrToText renders a 4- or 16-byte value as an address; an empty value
// stays empty and any other length is a runtime error, as in Kea.
func (ev *evaluator) addrToText(n *node) ([]byte, bool) {
	b, ok := ev.str(n.kids[0])
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
func (ev *evaluator) intToText(n *node) ([]byte, bool) {
	b, ok := ev.str(n.kids[0])
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
