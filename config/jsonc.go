package config

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file reads Kea's configuration syntax: JSON with comments ("#" and
// "//" to the end of the line, "/* */" blocks), <?include "file"?>
// directives, extraneous commas (accepted with a warning), and Kea's number
// forms (".5", "5.", "+1.0" are floating point numbers; "010" and "-0" are
// integers). What Kea's lexer and parser refuse is refused here too, with
// the position and the JSON path of the offending token. The result is
// plain JSON, which the decoder reads; an integer and a floating point
// number stay apart in it (a float always has a '.' or an exponent), as
// Kea's grammar tells them apart.

// maxIncludeDepth bounds nested <?include?> directives as Kea does ("Too
// many nested include."), which also stops an include cycle.
const maxIncludeDepth = 10

// includeFunc returns the contents of a file named by an include directive.
// It is nil when includes are not available (Parse works on bytes only).
type includeFunc func(name string) ([]byte, error)

// srcPos is a position in a source file: 1-based line and column (bytes).
type srcPos struct {
	file      string
	line, col int
}

// String prints the position the way Kea does: file:line.col.
func (p srcPos) String() string {
	if p.file == "" {
		return fmt.Sprintf("line %d col %d", p.line, p.col)
	}
	return fmt.Sprintf("%s:%d.%d", p.file, p.line, p.col)
}

// SyntaxError is a configuration the lexer or parser could not read, with
// where it happened and, once known, the JSON path of the enclosing value.
type SyntaxError struct {
	Pos  string // file:line.col
	Path string // JSON path of the value being read, "" at the top
	Msg  string
}

func (e *SyntaxError) Error() string {
	if e.Path == "" {
		return e.Pos + ": " + e.Msg
	}
	return e.Path + ": " + e.Pos + ": " + e.Msg
}

type tokKind uint8

const (
	tEOF tokKind = iota
	tLBrace
	tRBrace
	tLBracket
	tRBracket
	tComma
	tColon
	tString
	tInt
	tFloat
	tTrue
	tFalse
	tNull
)

var tokNames = [...]string{
	tEOF: "end of file", tLBrace: "{", tRBrace: "}", tLBracket: "[", tRBracket: "]",
	tComma: `","`, tColon: `":"`, tString: "constant string", tInt: "integer",
	tFloat: "floating point", tTrue: "boolean", tFalse: "boolean", tNull: "null",
}

func (k tokKind) String() string { return tokNames[k] }

// token is one lexical token. text is the decoded string of a tString and
// the source text of a number.
type token struct {
	kind tokKind
	pos  srcPos
	text string
}

// lexer turns one or more source files (includes are spliced in place, as
// Kea's lexer does, so no token spans two files) into tokens.
type lexer struct {
	include includeFunc
	toks    []token
}

func (lx *lexer) errorf(pos srcPos, format string, args ...any) error {
	return &SyntaxError{Pos: pos.String(), Msg: fmt.Sprintf(format, args...)}
}

// lexFile appends the tokens of data (named file) to lx.toks.
func (lx *lexer) lexFile(data []byte, file string, depth int) error {
	s := &scanner{data: data, pos: srcPos{file: file, line: 1, col: 1}}
	for {
		s.skipBlanks()
		if s.eof() {
			return nil
		}
		start := s.pos
		c := s.peek()
		switch {
		case c == '#' || s.hasPrefix("//"):
			s.skipLine()
		case s.hasPrefix("/*"):
			s.advance(2)
			end := bytes.Index(s.data[s.off:], []byte("*/"))
			if end < 0 {
				return &SyntaxError{Pos: start.String(), Msg: fmt.Sprintf("Comment not closed. (/* in line %d)", start.line)}
			}
			s.advance(end + 2)
		case s.hasPrefix("<?"):
			if err := lx.directive(s, start, depth); err != nil {
				return err
			}
		case c == '"':
			str, err := s.str()
			if err != nil {
				return lx.errorf(start, "%v", err)
			}
			lx.toks = append(lx.toks, token{kind: tString, pos: start, text: str})
		case strings.IndexByte("{}[],:", c) >= 0:
			s.advance(1)
			lx.toks = append(lx.toks, token{kind: punct(c), pos: start})
		default:
			tok, err := s.word()
			if err != nil {
				return lx.errorf(start, "%v", err)
			}
			tok.pos = start
			lx.toks = append(lx.toks, tok)
		}
	}
}

func punct(c byte) tokKind {
	switch c {
	case '{':
		return tLBrace
	case '}':
		return tRBrace
	case '[':
		return tLBracket
	case ']':
		return tRBracket
	case ',':
		return tComma
	default:
		return tColon
	}
}

// directive reads <?include "file"?> at s (which starts with "<?") and
// lexes the named file in its place.
func (lx *lexer) directive(s *scanner, start srcPos, depth int) error {
	s.advance(2)
	s.skipBlanks()
	if !s.hasPrefix("include") {
		if s.eof() {
			return lx.errorf(start, "Directive not closed.")
		}
		return lx.errorf(s.pos, "Invalid character: %s", s.char())
	}
	s.advance(len("include"))
	s.skipBlanks()
	if s.eof() {
		return lx.errorf(start, "Directive not closed.")
	}
	if s.peek() != '"' {
		return lx.errorf(s.pos, "Invalid character: %s", s.char())
	}
	end := bytes.IndexAny(s.data[s.off+1:], "\"\n")
	if end <= 0 || s.data[s.off+1+end] != '"' {
		return lx.errorf(s.pos, "Invalid character: %s", s.char())
	}
	name := string(s.data[s.off+1 : s.off+1+end])
	s.advance(end + 2)
	if lx.include == nil {
		return lx.errorf(start, "<?include %q?> is only supported when loading from a file", name)
	}
	if depth >= maxIncludeDepth {
		return lx.errorf(start, "Too many nested include (more than %d deep).", maxIncludeDepth)
	}
	body, err := lx.include(name)
	if err != nil {
		return lx.errorf(start, "Can't open include file %s: %v", name, err)
	}
	if err := lx.lexFile(body, name, depth+1); err != nil {
		return err
	}
	s.skipBlanks()
	if !s.hasPrefix("?>") {
		if s.eof() {
			return lx.errorf(start, "Directive not closed.")
		}
		return lx.errorf(s.pos, "Invalid character: %s", s.char())
	}
	s.advance(2)
	return nil
}

// scanner walks the bytes of one file, keeping the position.
type scanner struct {
	data []byte
	off  int
	pos  srcPos
}

func (s *scanner) eof() bool                 { return s.off >= len(s.data) }
func (s *scanner) peek() byte                { return s.data[s.off] }
func (s *scanner) hasPrefix(p string) bool   { return bytes.HasPrefix(s.data[s.off:], []byte(p)) }
func (s *scanner) byteAt(i int) (byte, bool) { return byteAt(s.data, i) }

func byteAt(b []byte, i int) (byte, bool) {
	if i < len(b) {
		return b[i], true
	}
	return 0, false
}

// char quotes the character at s for an error message.
func (s *scanner) char() string {
	r, _ := utf8.DecodeRune(s.data[s.off:])
	if r == utf8.RuneError || r < 0x20 {
		return fmt.Sprintf("0x%02x", s.data[s.off])
	}
	return string(r)
}

func (s *scanner) advance(n int) {
	for _, c := range s.data[s.off : s.off+n] {
		if c == '\n' {
			s.pos.line++
			s.pos.col = 1
		} else {
			s.pos.col++
		}
	}
	s.off += n
}

// skipBlanks skips what Kea counts as blank: space, tab, CR and newline.
func (s *scanner) skipBlanks() {
	for !s.eof() {
		switch s.peek() {
		case ' ', '\t', '\r', '\n':
			s.advance(1)
		default:
			return
		}
	}
}

func (s *scanner) skipLine() {
	end := bytes.IndexByte(s.data[s.off:], '\n')
	if end < 0 {
		end = len(s.data) - s.off
	}
	s.advance(end)
}

// str reads a JSON string at s. Kea accepts the escapes \" \\ \/ \b \f \n
// \r \t and \u00XX only (one byte), and no control character inside.
func (s *scanner) str() (string, error) {
	var sb strings.Builder
	i := s.off + 1
	for {
		c, ok := s.byteAt(i)
		switch {
		case !ok:
			return "", errors.New(`Invalid character: " (string not closed)`)
		case c == '"':
			s.advance(i + 1 - s.off)
			return sb.String(), nil
		case c < 0x20:
			return "", fmt.Errorf("Invalid control in %s", s.quoteUntil(i))
		case c != '\\':
			sb.WriteByte(c)
			i++
			continue
		}
		e, ok := s.byteAt(i + 1)
		if !ok {
			return "", fmt.Errorf("Overflow escape in %s", s.quoteUntil(i))
		}
		switch e {
		case '"', '\\', '/':
			sb.WriteByte(e)
		case 'b':
			sb.WriteByte('\b')
		case 'f':
			sb.WriteByte('\f')
		case 'n':
			sb.WriteByte('\n')
		case 'r':
			sb.WriteByte('\r')
		case 't':
			sb.WriteByte('\t')
		case 'u':
			hex := s.data[i+2 : min(i+6, len(s.data))]
			v, err := strconv.ParseUint(string(hex), 16, 16)
			switch {
			case len(hex) < 4 || err != nil || strings.ContainsAny(string(hex), "+-_xX"):
				return "", fmt.Errorf("Bad escape in %s", s.quoteUntil(i))
			case v > 0xff:
				return "", fmt.Errorf("Unsupported unicode escape in %s (only \\u0000 to \\u00ff)", s.quoteUntil(i+6))
			}
			sb.WriteRune(rune(v))
			i += 6
			continue
		default:
			return "", fmt.Errorf("Bad escape in %s", s.quoteUntil(i+2))
		}
		i += 2
	}
}

// quoteUntil returns the string being read, from its opening quote up to
// the closing quote on the same line (or to i), for an error message.
func (s *scanner) quoteUntil(i int) string {
	rest := s.data[s.off:]
	end := bytes.IndexAny(rest[1:], "\"\n")
	if end >= 0 && rest[1+end] == '"' && s.off+1+end >= i {
		return string(rest[:end+2])
	}
	return string(s.data[s.off:min(i, len(s.data))])
}

// word reads a number, true, false or null. Like Kea's lexer it takes the
// longest match of an integer (-?[0-9]+) and of a floating point number
// ([-+]?[0-9]*\.?[0-9]*([eE][-+]?[0-9]+)?), the integer on a tie.
func (s *scanner) word() (token, error) {
	rest := s.data[s.off:]
	intLen, floatLen := intPrefix(rest), floatPrefix(rest)
	if n := max(intLen, floatLen); n > 0 {
		text := string(rest[:n])
		s.advance(n)
		if intLen >= floatLen {
			v, err := strconv.ParseInt(text, 10, 64)
			if err != nil {
				return token{}, fmt.Errorf("Failed to convert %s to an integer.", text)
			}
			return token{kind: tInt, text: strconv.FormatInt(v, 10)}, nil
		}
		f, err := strconv.ParseFloat(text, 64)
		if err != nil || !hasDigit(text) {
			return token{}, fmt.Errorf("Failed to convert %s to a floating point.", text)
		}
		return token{kind: tFloat, text: formatFloat(f)}, nil
	}
	n := 0
	for n < len(rest) && isLetter(rest[n]) {
		n++
	}
	w := string(rest[:n])
	for _, lit := range []struct {
		word string
		kind tokKind
	}{{"true", tTrue}, {"false", tFalse}, {"null", tNull}} {
		if strings.HasPrefix(w, lit.word) {
			s.advance(len(lit.word))
			return token{kind: lit.kind, text: lit.word}, nil
		}
		if len(w) >= len(lit.word) && strings.EqualFold(w[:len(lit.word)], lit.word) {
			return token{}, fmt.Errorf("JSON %s reserved keyword is lower case only", lit.word)
		}
	}
	return token{}, fmt.Errorf("Invalid character: %s", s.char())
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }

func hasDigit(s string) bool {
	mant, _, _ := strings.Cut(strings.ToLower(s), "e")
	return strings.ContainsAny(mant, "0123456789")
}

func digits(b []byte, i int) int {
	n := i
	for n < len(b) && isDigit(b[n]) {
		n++
	}
	return n
}

func intPrefix(b []byte) int {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	if n := digits(b, i); n > i {
		return n
	}
	return 0
}

func floatPrefix(b []byte) int {
	i := 0
	if i < len(b) && (b[i] == '-' || b[i] == '+') {
		i++
	}
	i = digits(b, i)
	if i < len(b) && b[i] == '.' {
		i++
	}
	i = digits(b, i)
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		j := i + 1
		if j < len(b) && (b[j] == '-' || b[j] == '+') {
			j++
		}
		if n := digits(b, j); n > j {
			i = n
		}
	}
	return i
}

// formatFloat prints f so that it reads back as a float: with a '.' or an
// exponent, never as an integer.
func formatFloat(f float64) string {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eE") {
		s += ".0"
	}
	return s
}

// isFloatLiteral reports whether a JSON number (as written by formatFloat
// or by a client) is a floating point number in Kea's sense.
func isFloatLiteral(n string) bool { return strings.ContainsAny(n, ".eE") }

// syntax is the parser: it reads the tokens into plain JSON, reporting
// extraneous commas as warnings and duplicate keys as errors.
type syntax struct {
	toks  []token
	i     int
	out   bytes.Buffer
	warns []string
}

// keaJSON reads a document in Kea's syntax. It returns plain JSON, the
// syntax warnings (each "path: position: text") and the first error.
func keaJSON(data []byte, file string, include includeFunc) (json []byte, warns []string, err error) {
	lx := &lexer{include: include}
	if err := lx.lexFile(data, file, 0); err != nil {
		return nil, nil, err
	}
	line, col := position(data, len(data))
	lx.toks = append(lx.toks, token{kind: tEOF, pos: srcPos{file: file, line: line, col: col}})
	p := &syntax{toks: lx.toks}
	if p.peek().kind != tLBrace {
		return nil, nil, p.unexpected("", "{")
	}
	if err := p.value(""); err != nil {
		return nil, nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, nil, p.unexpected("", "end of file")
	}
	return p.out.Bytes(), p.warns, nil
}

func (p *syntax) peek() token { return p.toks[p.i] }
func (p *syntax) next() token { t := p.toks[p.i]; p.i++; return t }

func (p *syntax) unexpected(path, expecting string) error {
	t := p.peek()
	msg := "syntax error, unexpected " + t.kind.String()
	if expecting != "" {
		msg += ", expecting " + expecting
	}
	return &SyntaxError{Pos: t.pos.String(), Path: path, Msg: msg}
}

func (p *syntax) value(path string) error {
	t := p.next()
	switch t.kind {
	case tLBrace:
		return p.object(path)
	case tLBracket:
		return p.array(path)
	case tString:
		writeJSONString(&p.out, t.text)
	case tInt, tFloat, tTrue, tFalse, tNull:
		p.out.WriteString(t.text)
	default:
		p.i--
		return p.unexpected(path, "")
	}
	return nil
}

func (p *syntax) object(path string) error {
	p.out.WriteByte('{')
	if p.peek().kind == tRBrace {
		p.i++
		p.out.WriteByte('}')
		return nil
	}
	seen := map[string]srcPos{}
	for {
		t := p.peek()
		if t.kind != tString {
			return p.unexpected(path, "constant string")
		}
		p.i++
		key, child := t.text, childPath(path, t.text)
		if prev, dup := seen[key]; dup {
			return &SyntaxError{Pos: t.pos.String(), Path: child, Msg: fmt.Sprintf("duplicate %s entries (previous at %s)", key, prev)}
		}
		if len(seen) > 0 {
			p.out.WriteByte(',')
		}
		seen[key] = t.pos
		if p.peek().kind != tColon {
			return p.unexpected(child, `":"`)
		}
		p.i++
		writeJSONString(&p.out, key)
		p.out.WriteByte(':')
		if err := p.value(child); err != nil {
			return err
		}
		if done, err := p.separator(path, tRBrace, "}"); done || err != nil {
			if err == nil {
				p.out.WriteByte('}')
			}
			return err
		}
	}
}

func (p *syntax) array(path string) error {
	p.out.WriteByte('[')
	if p.peek().kind == tRBracket {
		p.i++
		p.out.WriteByte(']')
		return nil
	}
	for n := 0; ; n++ {
		if n > 0 {
			p.out.WriteByte(',')
		}
		if err := p.value(fmt.Sprintf("%s[%d]", path, n)); err != nil {
			return err
		}
		if done, err := p.separator(path, tRBracket, "]"); done || err != nil {
			if err == nil {
				p.out.WriteByte(']')
			}
			return err
		}
	}
}

// separator reads what follows a member of a map or list: the closing
// bracket (done), or one comma before the next member. Commas with no
// member after them are extraneous: Kea warns about each and goes on.
func (p *syntax) separator(path string, closing tokKind, name string) (done bool, err error) {
	t := p.next()
	switch t.kind {
	case closing:
		return true, nil
	case tComma:
	default:
		p.i--
		return false, p.unexpected(path, `"," or `+name)
	}
	for {
		if k := p.peek().kind; k != tComma && k != closing {
			return false, nil
		}
		p.extraneous(path, t.pos)
		t = p.next()
		if t.kind == closing {
			return true, nil
		}
	}
}

// extraneous records Kea's warning for a comma at pos with no member after it.
func (p *syntax) extraneous(path string, pos srcPos) {
	where := path
	if where == "" {
		where = "(top level)"
	}
	p.warns = append(p.warns, where+": "+pos.String()+": Extraneous comma. A piece of configuration may have been omitted.")
}

func childPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// writeJSONString writes s as a JSON string. Kea takes any byte from 0x80
// up in a string; a byte that is not valid UTF-8 is written as the
// character of the same number, so the result stays valid JSON.
func writeJSONString(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			r = rune(s[i])
		}
		i += size
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte(hex[r>>4])
			b.WriteByte(hex[r&0xf])
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}

// position converts a byte offset into a 1-based line and column.
func position(data []byte, off int) (line, col int) {
	off = min(off, len(data))
	line = 1 + bytes.Count(data[:off], []byte("\n"))
	col = off - bytes.LastIndexByte(data[:off], '\n')
	return line, col
}
