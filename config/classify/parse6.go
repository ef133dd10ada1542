package classify

import (
	"strconv"

	"xdhcp/config/optiondef"
)

// Resolver6 is what the configuration tells the compiler about its
// option-def entries of the dhcp6 space: the code of a name, and the
// definition of a code. Either may be nil.
type Resolver6 struct {
	Code func(name string) (code uint16, ok bool)
	Def  func(code uint16) *optiondef.Def6
}

// CompileWith6 compiles a test expression (asString false) or a string
// expression (asString true) for DHCPv6 packets: option[...] names and
// codes are those of the dhcp6 space, and pkt6.msgtype, pkt6.transid,
// relay6[n].option[code], relay6[n].peeraddr and relay6[n].linkaddr,
// vendor[...] (option 17) and vendor-class[...] (option 16) read the
// DHCPv6 message. Evaluate the result with a Packet6: on a packet that is
// not one, it does not match.
func CompileWith6(src string, r Resolver6, asString bool) (*Expr, error) {
	want := typeBool
	if asString {
		want = typeString
	}
	return compileWith(src, &parser{v6: true, names6: r.Code, defs6: r.Def}, want)
}

// parseWord6 parses the names whose meaning differs in DHCPv6; done is
// false for the ones parseWord handles the same way for both families.
func (p *parser) parseWord6(t token) (n *node, err error, done bool) {
	switch t.text {
	case "option":
		n, err = p.parseOption6(t)
	case "relay6":
		n, err = p.parseRelay6(t)
	case "pkt6":
		n, err = p.parsePkt6(t)
	case "vendor":
		n, err = p.parseVendor(t)
		if n != nil {
			n.op = opVendor6
		}
	case "vendor-class":
		n, err = p.parseVendorClass(t)
		if n != nil {
			n.op = opVendorClass6
		}
	case "relay4", "pkt4":
		return nil, errAt(t.pos, "%s can only be used in DHCPv4", t.text), true
	default:
		return nil, nil, false
	}
	return n, err, true
}

// bracketCode6 parses "[code]" where code is 0..65535 or, when names is
// set, a dhcp6 option name.
func (p *parser) bracketCode6(names bool, what string) (uint16, error) {
	var lookup func(string) (int, bool)
	if names {
		lookup = func(name string) (int, bool) {
			c, ok := p.optionCode6(name)
			return int(c), ok
		}
	}
	c, err := p.bracketNumber(lookup, 65535, what)
	return uint16(c), err
}

// optionCode6 resolves option[name] in the dhcp6 space: Kea's standard
// names first, then the configuration's option-def names.
func (p *parser) optionCode6(name string) (uint16, bool) {
	if d := optiondef.ByName6(name); d != nil {
		return d.Code, true
	}
	if p.names6 != nil {
		return p.names6(name)
	}
	return 0, false
}

// parseOption6 parses option[code].repr and option[code].option[sub].repr
// in the dhcp6 space.
func (p *parser) parseOption6(t token) (*node, error) {
	code, err := p.bracketCode6(true, "an option code or name")
	if err != nil {
		return nil, err
	}
	n := &node{op: opOption6, pos: t.pos, code6: code}
	if d := optiondef.ByCode6(code); d != nil {
		n.def6 = d
	} else if p.defs6 != nil {
		n.def6 = p.defs6(code)
	}
	r, err := p.dotName()
	if err != nil {
		return nil, err
	}
	if r.text == "option" {
		if n.sub6, err = p.bracketCode6(false, "a sub-option code"); err != nil {
			return nil, err
		}
		n.hasSub, n.def6 = true, nil
		if r, err = p.dotName(); err != nil {
			return nil, err
		}
	}
	return p.repr6(n, r)
}

// repr6 applies ".hex", ".text" or ".exists" to n.
func (p *parser) repr6(n *node, r token) (*node, error) {
	switch r.text {
	case "hex":
		n.repr = reprHex
	case "text":
		n.repr = reprText
	case "exists":
		n.typ = typeBool
	default:
		return nil, errAt(r.pos, "expected hex, text or exists but found '%s'", clip(r.text))
	}
	return n, nil
}

// parseRelay6 parses relay6[n].option[code].repr, relay6[n].peeraddr and
// relay6[n].linkaddr. n counts from the relay closest to the server (0);
// a negative n counts from the one closest to the client (-1).
func (p *parser) parseRelay6(t token) (*node, error) {
	if _, err := p.expect(tLBracket); err != nil {
		return nil, err
	}
	c, err := p.expect(tInt)
	if err != nil {
		return nil, err
	}
	level, perr := strconv.Atoi(c.text)
	if perr != nil || level < -32 || level > 31 {
		return nil, errAt(c.pos, "relay nesting level %s is out of range -32..31", clip(c.text))
	}
	if _, err := p.expect(tRBracket); err != nil {
		return nil, err
	}
	f, err := p.dotName()
	if err != nil {
		return nil, err
	}
	switch f.text {
	case "peeraddr", "linkaddr":
		return &node{op: opRelay6Addr, pos: t.pos, level: level, name: f.text}, nil
	case "option":
		code, err := p.bracketCode6(true, "an option code or name")
		if err != nil {
			return nil, err
		}
		n := &node{op: opRelay6Option, pos: t.pos, level: level, code6: code}
		r, err := p.dotName()
		if err != nil {
			return nil, err
		}
		return p.repr6(n, r)
	}
	return nil, errAt(f.pos, "expected option[...], peeraddr or linkaddr but found '%s'", clip(f.text))
}

func (p *parser) parsePkt6(t token) (*node, error) {
	f, err := p.dotName()
	if err != nil {
		return nil, err
	}
	switch f.text {
	case "msgtype", "transid":
		return &node{op: opPkt6, pos: t.pos, name: f.text}, nil
	}
	return nil, errAt(f.pos, "unknown packet field pkt6.%s (expected msgtype or transid)", clip(f.text))
}
