package classify

import (
	"encoding/hex"
	"math"
	"net/netip"
	"strconv"

	"xdhcp/config/optiondef"
)

// maxDepth bounds nesting (parentheses, not, function calls) so that a
// hostile or broken configuration cannot exhaust the stack at Compile or
// Eval. Real classification expressions nest a handful of levels deep.
const maxDepth = 64

// valueType is the static type of an expression. Kea's grammar keeps
// bool_expr and string_expr apart; we check the same split after parsing
// each operand so errors can say which side is wrong.
type valueType uint8

const (
	typeString valueType = iota
	typeBool
)

func (t valueType) String() string {
	if t == typeBool {
		return "boolean"
	}
	return "string"
}

// opcode selects what a node computes.
type opcode uint8

const (
	// String-valued.
	opLiteral     opcode = iota // lit
	opOption                    // code[, sub]; repr says .hex or .text
	opVendor                    // option 125: enterprise (0 any), vfield, sub, repr
	opVendorClass               // option 124: enterprise (0 any), vfield, index
	opMAC                       // pkt4.mac
	opField                     // pkt4.<name> or pkt.src/dst/len; pad4 widens 1-byte integers to Kea's 4
	opIface                     // pkt.iface
	opSubstring                 // kids[0], start, length (lenAll), badInt
	opSplit                     // kids[0] string, kids[1] delimiters, field, badInt
	opConcat                    // kids..., n-ary
	opIfElse                    // kids[0] bool, kids[1], kids[2]
	opHexString                 // kids[0] data, kids[1] separator
	opAddrToText                // kids[0]
	opIntToText                 // kids[0]; width bytes, signed
	// DHCPv6 only (see parse6.go). Each is a boolean .exists when typ is
	// typeBool.
	opOption6      // code6[, sub6]; repr
	opRelay6Option // level, code6; repr
	opRelay6Addr   // level, name (linkaddr or peeraddr)
	opPkt6         // name (msgtype or transid)
	opVendor6      // option 17: as opVendor, sub6
	opVendorClass6 // option 16: as opVendorClass
	// Boolean-valued.
	opExists // code[, sub]
	opMember // name
	opEqual  // kids[0] == kids[1]
	opNot    // kids[0]
	opAnd    // kids..., n-ary
	opOr     // kids..., n-ary
)

// repr is how an option is rendered: .hex (Kea's packed bytes) or .text
// (Kea's toString, see text.go).
type repr uint8

const (
	reprHex repr = iota
	reprText
)

// vendorField is what vendor[...] and vendor-class[...] read.
type vendorField uint8

const (
	vendorExists     vendorField = iota // vendor[X].exists
	vendorEnterprise                    // vendor.enterprise: 4 bytes
	vendorSub                           // vendor[X].option[Y].hex/.text/.exists
	vendorData                          // vendor-class[X].data[i]
)

// node is one compiled operation. Nodes are immutable after Compile.
type node struct {
	op   opcode
	typ  valueType
	pos  int // byte offset of the node's first token, for type errors
	code uint8
	// sub is the sub-option code when hasSub (option[X].option[sub],
	// relay4[sub], vendor[X].option[sub]).
	sub        uint8
	hasSub     bool
	repr       repr
	enterprise uint32 // vendor[...] and vendor-class[...]; 0 is '*' (any)
	vfield     vendorField
	index      int // vendor-class[...].data[index]
	// def is the configuration's definition of option code (option-def),
	// nil for the standard ones; it decides what .text gives.
	def *optiondef.Def
	// code6, sub6, level and def6 are code, sub, the relay6[level]
	// nesting and def for the DHCPv6 operations.
	code6, sub6 uint16
	level       int
	def6        *optiondef.Def6
	pad4        bool
	lenAll      bool
	// badInt marks a substring/split integer argument that Kea's
	// lexical_cast<int> would reject at evaluation time: Kea still loads
	// such a class and evaluates it to an error (the class does not match).
	badInt bool
	signed bool
	width  int
	start  int
	length int
	field  int
	name   string
	lit    []byte
	kids   []*node
	// mayFail says evaluation of this subtree can hit a runtime error.
	// Kea evaluates every operand (its token list is postfix), so an error
	// anywhere voids the whole expression; we short-circuit only past
	// operands that cannot fail.
	mayFail bool
}

// parser is a recursive-descent parser over the token slice. Precedence,
// loosest first: or, and, not, ==, +.
type parser struct {
	toks  []token
	i     int
	depth int
	names func(string) (uint8, bool)
	defs  func(uint8) *optiondef.Def
	refs  []string
	// v6 compiles for DHCPv6 packets, with names6 and defs6 resolving
	// the configuration's option-def entries of the dhcp6 space.
	v6     bool
	names6 func(string) (uint16, bool)
	defs6  func(uint16) *optiondef.Def6
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) isIdent(word string) bool {
	t := p.peek()
	return t.kind == tIdent && t.text == word
}

func (p *parser) expect(k tokKind) (token, error) {
	t := p.next()
	if t.kind != k {
		return t, errAt(t.pos, "expected %s but found %s", k, t.describe())
	}
	return t, nil
}

func (p *parser) enter(pos int) error {
	p.depth++
	if p.depth > maxDepth {
		return errAt(pos, "expression nested deeper than %d levels", maxDepth)
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

// parseExpr parses a full expression of either type.
func (p *parser) parseExpr() (*node, error) { return p.parseOr() }

func (p *parser) parseOr() (*node, error) {
	return p.parseLogical("or", opOr, p.parseAnd)
}

func (p *parser) parseAnd() (*node, error) {
	return p.parseLogical("and", opAnd, p.parseNot)
}

// parseLogical parses operand (word operand)* into one n-ary node, so a
// long chain stays shallow for Eval.
func (p *parser) parseLogical(word string, op opcode, operand func() (*node, error)) (*node, error) {
	first, err := operand()
	if err != nil {
		return nil, err
	}
	if !p.isIdent(word) {
		return first, nil
	}
	n := &node{op: op, typ: typeBool, pos: first.pos, kids: []*node{first}}
	k := first
	for {
		// Check each operand as soon as it is complete, so the error points
		// at the first offending one.
		if k.typ != typeBool {
			return nil, errAt(k.pos, "operand of '%s' is a string, not a boolean (compare it with '==')", word)
		}
		n.mayFail = n.mayFail || k.mayFail
		if !p.isIdent(word) {
			break
		}
		p.next()
		var err error
		if k, err = operand(); err != nil {
			return nil, err
		}
		n.kids = append(n.kids, k)
	}
	return n, nil
}

func (p *parser) parseNot() (*node, error) {
	if !p.isIdent("not") {
		return p.parseEqual()
	}
	t := p.next()
	if err := p.enter(t.pos); err != nil {
		return nil, err
	}
	defer p.leave()
	k, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	if k.typ != typeBool {
		return nil, errAt(k.pos, "operand of 'not' is a string, not a boolean (compare it with '==')")
	}
	return &node{op: opNot, typ: typeBool, pos: t.pos, kids: []*node{k}, mayFail: k.mayFail}, nil
}

func (p *parser) parseEqual() (*node, error) {
	left, err := p.parseConcat()
	if err != nil {
		return nil, err
	}
	if p.peek().kind != tEqual {
		return left, nil
	}
	p.next()
	right, err := p.parseConcat()
	if err != nil {
		return nil, err
	}
	for _, k := range []*node{left, right} {
		if k.typ != typeString {
			return nil, errAt(k.pos, "operand of '==' is a boolean; '==' compares strings")
		}
	}
	if t := p.peek(); t.kind == tEqual {
		return nil, errAt(t.pos, "'==' cannot be chained: its left side would be a boolean")
	}
	return &node{op: opEqual, typ: typeBool, pos: left.pos, kids: []*node{left, right},
		mayFail: left.mayFail || right.mayFail}, nil
}

func (p *parser) parseConcat() (*node, error) {
	first, err := p.parsePrimary()
	if err != nil {
		return nil, err
	}
	if p.peek().kind != tPlus {
		return first, nil
	}
	n := &node{op: opConcat, typ: typeString, pos: first.pos, kids: []*node{first}}
	for p.peek().kind == tPlus {
		p.next()
		k, err := p.parsePrimary()
		if err != nil {
			return nil, err
		}
		n.kids = append(n.kids, k)
	}
	for _, k := range n.kids {
		if k.typ != typeString {
			return nil, errAt(k.pos, "operand of '+' is a boolean; '+' concatenates strings")
		}
		n.mayFail = n.mayFail || k.mayFail
	}
	return n, nil
}

func (p *parser) parsePrimary() (*node, error) {
	t := p.next()
	switch t.kind {
	case tLParen:
		if err := p.enter(t.pos); err != nil {
			return nil, err
		}
		defer p.leave()
		n, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tRParen); err != nil {
			return nil, err
		}
		return n, nil
	case tString:
		return &node{op: opLiteral, pos: t.pos, lit: []byte(t.text)}, nil
	case tHex:
		digits := t.text[2:]
		if len(digits)%2 != 0 {
			digits = "0" + digits // Kea: an odd digit count gets a leading 0
		}
		b, err := hex.DecodeString(digits)
		if err != nil {
			return nil, errAt(t.pos, "invalid hex string %s", clip(t.text))
		}
		return &node{op: opLiteral, pos: t.pos, lit: b}, nil
	case tIPv4:
		a, err := netip.ParseAddr(t.text)
		if err != nil || !a.Is4() {
			return nil, errAt(t.pos, "invalid IPv4 address %s", clip(t.text))
		}
		b := a.As4()
		return &node{op: opLiteral, pos: t.pos, lit: b[:]}, nil
	case tInt:
		// An integer used as a string is Kea's TokenInteger: the value as
		// 4 bytes in network order (comparable with pkt4.msgtype etc.).
		v, err := strconv.ParseUint(t.text, 10, 32)
		if err != nil {
			return nil, errAt(t.pos, "integer %s is not an unsigned 32-bit value", clip(t.text))
		}
		u := uint32(v)
		return &node{op: opLiteral, pos: t.pos, lit: []byte{byte(u >> 24), byte(u >> 16), byte(u >> 8), byte(u)}}, nil
	case tIdent:
		return p.parseWord(t)
	}
	return nil, errAt(t.pos, "unexpected %s", t.describe())
}

// parseWord handles everything that starts with a name: packet accessors,
// functions and member().
func (p *parser) parseWord(t token) (*node, error) {
	if p.v6 {
		if n, err, done := p.parseWord6(t); done {
			return n, err
		}
	}
	switch t.text {
	case "option":
		return p.parseOption(t)
	case "relay4":
		return p.parseRelay4(t)
	case "vendor":
		return p.parseVendor(t)
	case "vendor-class":
		return p.parseVendorClass(t)
	case "pkt4":
		return p.parsePkt4(t)
	case "pkt":
		f, err := p.dotName()
		if err != nil {
			return nil, err
		}
		switch f.text {
		case "iface":
			return &node{op: opIface, pos: t.pos}, nil
		case "src", "dst", "len":
			return &node{op: opField, pos: t.pos, name: f.text}, nil
		}
		return nil, errAt(f.pos, "unknown packet field pkt.%s (expected iface, src, dst or len)", clip(f.text))
	case "member":
		return p.parseMember(t)
	case "substring", "split", "concat", "ifelse", "hexstring",
		"addrtotext", "int8totext", "int16totext", "int32totext",
		"uint8totext", "uint16totext", "uint32totext":
		if err := p.enter(t.pos); err != nil {
			return nil, err
		}
		defer p.leave()
		return p.parseCall(t)
	case "relay6", "pkt6":
		return nil, errAt(t.pos, "%s can only be used in DHCPv6", t.text)
	case "not", "and", "or", "all", "hex", "text", "exists", "data", "enterprise":
		return nil, errAt(t.pos, "unexpected '%s'", t.text)
	}
	return nil, errAt(t.pos, "unknown name '%s'", clip(t.text))
}

// optionCode resolves option[name]: Kea's standard DHCPv4 names first,
// then the configuration's option-def names (through CompileWithNames).
func (p *parser) optionCode(name string) (uint8, bool) {
	if d := optiondef.ByName(name); d != nil {
		return d.Code, true
	}
	if p.names != nil {
		return p.names(name)
	}
	return 0, false
}

// bracketCode parses "[code]" where code is a number 0..255, or when
// names is set also an option name.
func (p *parser) bracketCode(names bool, what string) (uint8, error) {
	var lookup func(string) (int, bool)
	if names {
		lookup = func(name string) (int, bool) {
			c, ok := p.optionCode(name)
			return int(c), ok
		}
	}
	c, err := p.bracketNumber(lookup, 255, what)
	return uint8(c), err
}

// bracketNumber parses "[code]" where code is a number 0..max or, when
// lookup is set, a name it knows.
func (p *parser) bracketNumber(lookup func(string) (int, bool), max int, what string) (int, error) {
	if _, err := p.expect(tLBracket); err != nil {
		return 0, err
	}
	c := p.next()
	var code int
	switch {
	case c.kind == tInt:
		v, err := strconv.Atoi(c.text)
		if err != nil || v < 0 || v > max {
			return 0, errAt(c.pos, "option code %s is out of range 0..%d", clip(c.text), max)
		}
		code = v
	case c.kind == tIdent && lookup != nil:
		v, ok := lookup(c.text)
		if !ok {
			return 0, errAt(c.pos, "option '%s' is not defined", clip(c.text))
		}
		code = v
	default:
		return 0, errAt(c.pos, "expected %s but found %s", what, c.describe())
	}
	if _, err := p.expect(tRBracket); err != nil {
		return 0, err
	}
	return code, nil
}

// optionTail parses what follows an option reference: ".hex", ".text",
// ".exists" or, when subOK, ".option[code]" and then one of the three.
// It fills n's repr, sub and type.
func (p *parser) optionTail(n *node, subOK bool) (*node, error) {
	r, err := p.dotName()
	if err != nil {
		return nil, err
	}
	if r.text == "option" && subOK {
		sub, err := p.bracketCode(false, "a sub-option code")
		if err != nil {
			return nil, err
		}
		n.sub, n.hasSub = sub, true
		return p.optionTail(n, false)
	}
	switch r.text {
	case "hex":
		n.repr = reprHex
	case "text":
		n.repr = reprText
	case "exists":
		n.typ = typeBool
		if n.op == opOption {
			n.op = opExists
		}
	default:
		if subOK {
			return nil, errAt(r.pos, "expected hex, text, exists or option[...] but found '%s'", clip(r.text))
		}
		return nil, errAt(r.pos, "expected hex, text or exists but found '%s'", clip(r.text))
	}
	return n, nil
}

// parseOption parses option[code].repr and option[code].option[sub].repr.
func (p *parser) parseOption(t token) (*node, error) {
	code, err := p.bracketCode(true, "an option code or name")
	if err != nil {
		return nil, err
	}
	n := &node{op: opOption, pos: t.pos, code: code}
	if p.defs != nil && optiondef.ByCode(code) == nil {
		n.def = p.defs(code)
	}
	return p.optionTail(n, true)
}

// parseRelay4 parses relay4[sub].repr: Kea's shorthand for
// option[82].option[sub].
func (p *parser) parseRelay4(t token) (*node, error) {
	sub, err := p.bracketCode(false, "a sub-option code")
	if err != nil {
		return nil, err
	}
	n := &node{op: opOption, pos: t.pos, code: codeRelayAgent, sub: sub, hasSub: true}
	return p.optionTail(n, false)
}

// enterpriseID parses "[number]" or "[*]" (any enterprise, 0).
func (p *parser) enterpriseID() (uint32, error) {
	if _, err := p.expect(tLBracket); err != nil {
		return 0, err
	}
	c := p.next()
	var v uint64
	switch c.kind {
	case tStar:
	case tInt:
		var err error
		if v, err = strconv.ParseUint(c.text, 10, 32); err != nil {
			return 0, errAt(c.pos, "enterprise id %s is not an unsigned 32-bit value", clip(c.text))
		}
	default:
		return 0, errAt(c.pos, "expected an enterprise id or '*' but found %s", c.describe())
	}
	if _, err := p.expect(tRBracket); err != nil {
		return 0, err
	}
	return uint32(v), nil
}

// vendorHead parses what vendor and vendor-class share: ".enterprise"
// (done is then true), or "[enterprise]." and the name after the dot.
func (p *parser) vendorHead(n *node) (f token, done bool, err error) {
	if p.peek().kind == tDot {
		f, err := p.dotName()
		if err != nil {
			return f, false, err
		}
		if f.text != "enterprise" {
			return f, false, errAt(f.pos, "expected enterprise but found '%s'", clip(f.text))
		}
		n.vfield = vendorEnterprise
		return f, true, nil
	}
	if n.enterprise, err = p.enterpriseID(); err != nil {
		return f, false, err
	}
	f, err = p.dotName()
	if err == nil && f.text == "exists" {
		n.vfield, n.typ = vendorExists, typeBool
		return f, true, nil
	}
	return f, false, err
}

// parseVendor parses vendor.enterprise, vendor[X].exists and
// vendor[X].option[Y].hex/.text/.exists (option 125).
func (p *parser) parseVendor(t token) (*node, error) {
	n := &node{op: opVendor, pos: t.pos}
	f, done, err := p.vendorHead(n)
	if err != nil || done {
		return n, err
	}
	if f.text != "option" {
		return nil, errAt(f.pos, "expected exists or option[...] but found '%s'", clip(f.text))
	}
	if p.v6 {
		// DHCPv6 vendor options have 16-bit codes.
		n.sub6, err = p.bracketCode6(false, "a sub-option code")
	} else {
		n.sub, err = p.bracketCode(false, "a sub-option code")
	}
	if err != nil {
		return nil, err
	}
	n.vfield, n.hasSub = vendorSub, true
	return p.optionTail(n, false)
}

// parseVendorClass parses vendor-class.enterprise, vendor-class[X].exists
// and vendor-class[X].data, .data[i] (option 124).
func (p *parser) parseVendorClass(t token) (*node, error) {
	n := &node{op: opVendorClass, pos: t.pos}
	f, done, err := p.vendorHead(n)
	if err != nil || done {
		return n, err
	}
	if f.text != "data" {
		return nil, errAt(f.pos, "expected exists or data but found '%s'", clip(f.text))
	}
	n.vfield = vendorData
	if p.peek().kind != tLBracket {
		return n, nil
	}
	p.next()
	i, err := p.expect(tInt)
	if err != nil {
		return nil, err
	}
	v, perr := strconv.Atoi(i.text)
	if perr != nil || v < 0 || v > 255 {
		return nil, errAt(i.pos, "data index %s is out of range 0..255", clip(i.text))
	}
	n.index = v
	if _, err := p.expect(tRBracket); err != nil {
		return nil, err
	}
	return n, nil
}

// dotName parses the ".name" that follows pkt, pkt4 and option[...].
func (p *parser) dotName() (token, error) {
	if _, err := p.expect(tDot); err != nil {
		return token{}, err
	}
	return p.expect(tIdent)
}

func (p *parser) parsePkt4(t token) (*node, error) {
	f, err := p.dotName()
	if err != nil {
		return nil, err
	}
	switch f.text {
	case "mac":
		return &node{op: opMAC, pos: t.pos}, nil
	case "ciaddr", "giaddr", "yiaddr", "siaddr", "transid":
		return &node{op: opField, pos: t.pos, name: f.text}, nil
	case "hlen", "htype", "msgtype":
		// Kea widens these 8-bit fields to a 4-byte integer.
		return &node{op: opField, pos: t.pos, name: f.text, pad4: true}, nil
	}
	return nil, errAt(f.pos, "unknown packet field pkt4.%s", clip(f.text))
}

func (p *parser) parseMember(t token) (*node, error) {
	if _, err := p.expect(tLParen); err != nil {
		return nil, err
	}
	s, err := p.expect(tString)
	if err != nil {
		return nil, err
	}
	if s.text == "" {
		return nil, errAt(s.pos, "member() needs a class name")
	}
	if _, err := p.expect(tRParen); err != nil {
		return nil, err
	}
	dup := false
	for _, r := range p.refs {
		if r == s.text {
			dup = true
			break
		}
	}
	if !dup {
		p.refs = append(p.refs, s.text)
	}
	return &node{op: opMember, typ: typeBool, pos: t.pos, name: s.text}, nil
}

// arg parses one function argument of the wanted type.
func (p *parser) arg(fn string, want valueType) (*node, error) {
	n, err := p.parseExpr()
	if err != nil {
		return nil, err
	}
	if n.typ != want {
		return nil, errAt(n.pos, "argument of %s() must be a %s, not a %s", fn, want, n.typ)
	}
	return n, nil
}

// intArg parses a literal integer argument (Kea's start_expr/int_expr) and
// reports whether it fits Kea's int.
func (p *parser) intArg(fn string) (v int, bad bool, err error) {
	t := p.next()
	if t.kind != tInt {
		return 0, false, errAt(t.pos, "argument of %s() must be an integer, found %s", fn, t.describe())
	}
	i, perr := strconv.ParseInt(t.text, 10, 64)
	if perr != nil || i < math.MinInt32 || i > math.MaxInt32 {
		return 0, true, nil
	}
	return int(i), false, nil
}

func (p *parser) comma() error {
	_, err := p.expect(tComma)
	return err
}

// args parses comma-separated function arguments of the wanted types.
func (p *parser) args(fn string, want ...valueType) ([]*node, error) {
	kids := make([]*node, len(want))
	for i, w := range want {
		if i > 0 {
			if err := p.comma(); err != nil {
				return nil, err
			}
		}
		n, err := p.arg(fn, w)
		if err != nil {
			return nil, err
		}
		kids[i] = n
	}
	return kids, nil
}

// commaIntArg parses a comma and then a literal integer argument (intArg).
func (p *parser) commaIntArg(fn string) (v int, bad bool, err error) {
	if err := p.comma(); err != nil {
		return 0, false, err
	}
	return p.intArg(fn)
}

// parseCall parses name(args...) for the string functions.
func (p *parser) parseCall(t token) (*node, error) {
	fn := t.text
	if _, err := p.expect(tLParen); err != nil {
		return nil, err
	}
	n := &node{pos: t.pos}
	var err error
	switch fn {
	case "substring":
		if n.kids, err = p.args(fn, typeString); err != nil {
			return nil, err
		}
		var bad1, bad2 bool
		if n.start, bad1, err = p.commaIntArg(fn); err != nil {
			return nil, err
		}
		if err = p.comma(); err != nil {
			return nil, err
		}
		if p.isIdent("all") {
			p.next()
			n.lenAll = true
		} else if n.length, bad2, err = p.intArg(fn); err != nil {
			return nil, err
		}
		n.op, n.badInt = opSubstring, bad1 || bad2
	case "split":
		if n.kids, err = p.args(fn, typeString, typeString); err != nil {
			return nil, err
		}
		if n.field, n.badInt, err = p.commaIntArg(fn); err != nil {
			return nil, err
		}
		n.op = opSplit
	case "concat", "hexstring":
		if n.kids, err = p.args(fn, typeString, typeString); err != nil {
			return nil, err
		}
		n.op = opConcat
		if fn == "hexstring" {
			n.op = opHexString
		}
	case "ifelse":
		if n.kids, err = p.args(fn, typeBool, typeString, typeString); err != nil {
			return nil, err
		}
		n.op = opIfElse
	default: // one-argument conversions
		if n.kids, err = p.args(fn, typeString); err != nil {
			return nil, err
		}
		switch fn {
		case "addrtotext":
			n.op, n.mayFail = opAddrToText, true
		default: // [u]int{8,16,32}totext
			n.op, n.mayFail = opIntToText, true
			switch fn {
			case "int8totext":
				n.width, n.signed = 1, true
			case "int16totext":
				n.width, n.signed = 2, true
			case "int32totext":
				n.width, n.signed = 4, true
			case "uint8totext":
				n.width = 1
			case "uint16totext":
				n.width = 2
			default:
				n.width = 4
			}
		}
	}
	if _, err := p.expect(tRParen); err != nil {
		return nil, err
	}
	n.typ = typeString
	n.mayFail = n.mayFail || n.badInt
	for _, k := range n.kids {
		n.mayFail = n.mayFail || k.mayFail
	}
	return n, nil
}
