package classify

// Expr is a compiled client-class test expression. It is immutable after
// Compile and safe for concurrent Eval by many goroutines.
type Expr struct {
	src  string
	root *node
	refs []string
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
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks, names: names}
	root, err := p.parseExpr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, errAt(t.pos, "unexpected %s after the expression", t.describe())
	}
	if root.typ != typeBool {
		return nil, errAt(root.pos, "expression is a string, not a boolean (compare it with '==')")
	}
	return &Expr{src: src, root: root, refs: p.refs}, nil
}

// Eval reports whether the packet matches. As in Kea, a runtime error
// (for example uint8totext of a 2-byte value) makes the whole expression
// not match. Eval never panics on its own account and allocates only when
// string functions build values larger than its stack scratch space.
func (e *Expr) Eval(p Packet) bool {
	if e == nil || e.root == nil || p == nil {
		return false
	}
	var scratch [scratchSize]byte
	ev := evaluator{p: p, buf: scratch[:0]}
	v, ok := ev.boolean(e.root)
	return ok && v
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
