package classify

import "errors"

// Expr is a compiled client-class test expression. It is immutable after
// Compile and safe for concurrent Eval by many goroutines.
type Expr struct {
	src  string
	refs []string
}

// Compile parses and type-checks a Kea test expression. Errors carry the
// 1-based column of the offending token, e.g. `col 17: expected ')'`.
func Compile(src string) (*Expr, error) {
	return nil, errors.New("classify: not implemented yet")
}

// Eval reports whether the packet matches. Runtime problems (missing
// options, out-of-range values) evaluate to false; Eval never panics.
func (e *Expr) Eval(p Packet) bool { return false }

// Refs returns the class names referenced by member('X'), in source order,
// without duplicates.
func (e *Expr) Refs() []string { return append([]string(nil), e.refs...) }

// String returns the source text.
func (e *Expr) String() string { return e.src }
