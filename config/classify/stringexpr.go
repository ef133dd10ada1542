package classify

// StringExpr is a compiled Kea string expression (the string top level of
// Kea's grammar, as the forensic log's request-parser-format uses it). It
// is immutable after CompileString and safe for concurrent use.
type StringExpr struct {
	src  string
	root *node
}

// CompileString parses and type-checks a Kea string expression. Errors
// are *SyntaxError values, as Compile's.
func CompileString(src string) (*StringExpr, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	root, err := p.parseExpr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, errAt(t.pos, "unexpected %s after the expression", t.describe())
	}
	if root.typ != typeString {
		return nil, errAt(root.pos, "expression is a boolean, not a string")
	}
	return &StringExpr{src: src, root: root}, nil
}

// Append evaluates e on p and appends the value to dst. As in Kea, a
// runtime error gives the empty string.
func (e *StringExpr) Append(dst []byte, p Packet) []byte {
	if e == nil || e.root == nil || p == nil {
		return dst
	}
	ev := evaluator{buf: make([]byte, 0, scratchSize)}
	v, ok := ev.str(p, e.root)
	if !ok {
		return dst
	}
	return append(dst, v...)
}

// String returns the source text.
func (e *StringExpr) String() string {
	if e == nil {
		return ""
	}
	return e.src
}
