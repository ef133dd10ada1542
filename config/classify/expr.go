package classify

import (
	"sync"

	"xdhcp/config/optiondef"
)

// Expr is a compiled client-class test expression. It is immutable after
// Compile and safe for concurrent Eval by many goroutines.
//
// An Expr must not be copied after first use (it holds a sync.Pool).
type Expr struct {
	src  string
	root *node
	refs []string
	// arena says some node builds new values (concat, hexstring, ...);
	// only then does Eval need scratch memory, recycled through pool so
	// that steady-state evaluation does not allocate.
	arena bool
	// v6 says the expression reads DHCPv6 packets: it matches only a
	// Packet6.
	v6   bool
	pool sync.Pool // of *evaluator
}

// Compile parses and type-checks a Kea test expression (the boolean
// top level of Kea's grammar). Option names are Kea's standard DHCPv4
// names. Errors are *SyntaxError values carrying the 1-based column of the
// offending token, e.g. `col 17: expected ')' but found end of expression`.
func Compile(src string) (*Expr, error) {
	return CompileWithNames(src, nil)
}

// CompileWithNames is Compile with an extra resolver for option[name],
// consulted after the standard names; the configuration passes its
// option-def names through it. names may be nil.
func CompileWithNames(src string, names func(name string) (code uint8, ok bool)) (*Expr, error) {
	return compile(src, Resolver{Code: names}, typeBool)
}

// Resolver is what the configuration tells the compiler about its
// option-def entries: the code of a name, and the definition of a code
// (which decides what .text gives for that option). Either may be nil.
type Resolver struct {
	Code func(name string) (code uint8, ok bool)
	Def  func(code uint8) *optiondef.Def
}

// CompileWith compiles a test expression (asString false) or a string
// expression (asString true) with the configuration's option definitions.
func CompileWith(src string, r Resolver, asString bool) (*Expr, error) {
	if asString {
		return compile(src, r, typeString)
	}
	return compile(src, r, typeBool)
}

func compile(src string, r Resolver, want valueType) (*Expr, error) {
	return compileWith(src, &parser{names: r.Code, defs: r.Def}, want)
}

// compileWith parses src with p (set up for a family) into an Expr of
// type want.
func compileWith(src string, p *parser, want valueType) (*Expr, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p.toks = toks
	root, err := p.parseExpr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, errAt(t.pos, "unexpected %s after the expression", t.describe())
	}
	if root.typ != want {
		if want == typeString {
			return nil, errAt(root.pos, "expression is a boolean, not a string")
		}
		return nil, errAt(root.pos, "expression is a string, not a boolean (compare it with '==')")
	}
	return &Expr{src: src, root: root, refs: p.refs, arena: needsArena(root), v6: p.v6}, nil
}

// EvalString evaluates a string expression (see CompileWith) and returns
// a copy of its value; ok is false on a runtime error, as in Kea, and for
// an expression compiled as a boolean.
func (e *Expr) EvalString(p Packet) (v []byte, ok bool) {
	if e == nil || e.root == nil || p == nil || e.root.typ != typeString || !e.fits(p) {
		return nil, false
	}
	ev := evaluator{buf: make([]byte, 0, scratchSize)}
	v, ok = ev.str(p, e.root)
	if !ok {
		return nil, false
	}
	return append([]byte(nil), v...), true
}

// Eval reports whether the packet matches. As in Kea, a runtime error
// (for example uint8totext of a 2-byte value) makes the whole expression
// not match. Eval never panics on its own account; in steady state it
// allocates only when string functions build values larger than the
// pooled scratch space.
func (e *Expr) Eval(p Packet) bool {
	if e == nil || e.root == nil || p == nil || !e.fits(p) {
		return false
	}
	if !e.arena {
		var ev evaluator
		v, ok := ev.boolean(p, e.root)
		return ok && v
	}
	// A stack array would be cheaper, but escape analysis cannot prove the
	// recursive evaluator keeps it local, so scratch memory is pooled.
	ev, _ := e.pool.Get().(*evaluator)
	if ev == nil {
		ev = &evaluator{buf: make([]byte, 0, scratchSize)}
	}
	v, ok := ev.boolean(p, e.root)
	// Values from this call are dead now (only a bool leaves Eval), so the
	// arena can be reused from the start. Oversized arenas are dropped.
	if cap(ev.buf) <= maxPooledArena {
		ev.buf = ev.buf[:0]
		e.pool.Put(ev)
	}
	return ok && v
}

// fits reports whether p is a packet of the family e was compiled for (a
// DHCPv6 expression needs a Packet6).
func (e *Expr) fits(p Packet) bool {
	if !e.v6 {
		return true
	}
	_, ok := p.(Packet6)
	return ok
}

// IsV6 reports whether e was compiled for DHCPv6 packets (CompileWith6).
func (e *Expr) IsV6() bool { return e != nil && e.v6 }

// needsArena reports whether evaluating n can call evaluator.alloc.
func needsArena(n *node) bool {
	switch n.op {
	case opIface, opConcat, opHexString, opAddrToText, opIntToText, opPkt6, opRelay6Addr:
		return true
	case opOption6, opRelay6Option:
		return n.repr == reprText
	case opVendor6, opVendorClass6:
		return n.typ != typeBool
	case opOption:
		// .text builds Kea's text; .hex repacks options with sub-options.
		return n.repr == reprText || n.code == codeRelayAgent || n.code == codeVendorOpts
	case opVendor, opVendorClass:
		return n.typ != typeBool
	case opField:
		if n.pad4 {
			return true
		}
	}
	for _, k := range n.kids {
		if needsArena(k) {
			return true
		}
	}
	return false
}

// Refs returns the class names referenced by member('X'), in source order,
// without duplicates. Built-in names (KNOWN, UNKNOWN, ALL, HA_*) are
// included: the caller decides which names must be defined earlier and
// which mean the class has to be evaluated after host reservation lookup.
func (e *Expr) Refs() []string {
	if e == nil || len(e.refs) == 0 {
		return nil
	}
	return append([]string(nil), e.refs...)
}

// String returns the source text.
func (e *Expr) String() string {
	if e == nil {
		return ""
	}
	return e.src
}
