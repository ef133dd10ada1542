package classify

import "fmt"

// tokKind is the lexical class of a token. Keywords are not separate kinds:
// they are identifiers the parser recognises by text, because an option
// name inside option[...] may collide with a keyword (Kea's grammar resolves
// that by context as well).
type tokKind uint8

const (
	tEOF    tokKind = iota
	tString         // 'abc', text without the quotes
	tHex            // 0x0a0b, text including the 0x prefix
	tInt            // -?[0-9]+
	tIPv4           // 192.0.2.1
	tIdent          // [A-Za-z][-_A-Za-z0-9]*
	tLParen
	tRParen
	tLBracket
	tRBracket
	tDot
	tComma
	tEqual // ==
	tPlus
	tStar // '*', any enterprise in vendor[*]
)

func (k tokKind) String() string {
	switch k {
	case tEOF:
		return "end of expression"
	case tString:
		return "string"
	case tHex:
		return "hex string"
	case tInt:
		return "integer"
	case tIPv4:
		return "IPv4 address"
	case tIdent:
		return "name"
	case tLParen:
		return "'('"
	case tRParen:
		return "')'"
	case tLBracket:
		return "'['"
	case tRBracket:
		return "']'"
	case tDot:
		return "'.'"
	case tComma:
		return "','"
	case tEqual:
		return "'=='"
	case tPlus:
		return "'+'"
	case tStar:
		return "'*'"
	}
	return "token"
}

// token is one lexeme. pos is the 0-based byte offset into the source;
// errors report it as a 1-based column, as Kea's flex location does.
type token struct {
	kind tokKind
	pos  int
	text string
}

// describe renders a token for "unexpected ..." messages.
func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of expression"
	case tString:
		return fmt.Sprintf("string '%s'", clip(t.text))
	case tIdent, tInt, tHex, tIPv4:
		return fmt.Sprintf("'%s'", clip(t.text))
	}
	return t.kind.String()
}

// clip keeps error messages short when the offending token is huge.
func clip(s string) string {
	const max = 32
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

// SyntaxError is a compile error located at a 1-based byte column of the
// source expression.
type SyntaxError struct {
	Col int
	Msg string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("col %d: %s", e.Col, e.Msg) }

func errAt(pos int, format string, args ...any) *SyntaxError {
	return &SyntaxError{Col: pos + 1, Msg: fmt.Sprintf(format, args...)}
}

// lex splits src into tokens, ending with a tEOF token.
func lex(src string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case c == '\'':
			// Kea strings have no escapes: everything up to the next quote,
			// but not across a newline.
			j := i + 1
			for j < len(src) && src[j] != '\'' && src[j] != '\n' {
				j++
			}
			if j >= len(src) || src[j] != '\'' {
				return nil, errAt(i, "unterminated string")
			}
			toks = append(toks, token{tString, i, src[i+1 : j]})
			i = j + 1
		case c == '0' && i+2 < len(src) && (src[i+1] == 'x' || src[i+1] == 'X') && isHexDigit(src[i+2]):
			j := i + 2
			for j < len(src) && isHexDigit(src[j]) {
				j++
			}
			toks = append(toks, token{tHex, i, src[i:j]})
			i = j
		case isDigit(c) || (c == '-' && i+1 < len(src) && isDigit(src[i+1])):
			j := i + 1
			for j < len(src) && isDigit(src[j]) {
				j++
			}
			if c != '-' {
				// digits.digits.digits.digits is an IPv4 literal.
				if k, ok := scanIPv4(src, i); ok {
					toks = append(toks, token{tIPv4, i, src[i:k]})
					i = k
					continue
				}
			}
			toks = append(toks, token{tInt, i, src[i:j]})
			i = j
		case isAlpha(c):
			j := i + 1
			for j < len(src) && (isAlpha(src[j]) || isDigit(src[j]) || src[j] == '-' || src[j] == '_') {
				j++
			}
			toks = append(toks, token{tIdent, i, src[i:j]})
			i = j
		case c == '=' && i+1 < len(src) && src[i+1] == '=':
			toks = append(toks, token{tEqual, i, "=="})
			i += 2
		default:
			var k tokKind
			switch c {
			case '(':
				k = tLParen
			case ')':
				k = tRParen
			case '[':
				k = tLBracket
			case ']':
				k = tRBracket
			case '.':
				k = tDot
			case ',':
				k = tComma
			case '+':
				k = tPlus
			case '*':
				k = tStar
			default:
				if c < 0x20 || c >= 0x7f {
					return nil, errAt(i, "invalid character 0x%02x", c)
				}
				return nil, errAt(i, "invalid character %q", rune(c))
			}
			toks = append(toks, token{k, i, src[i : i+1]})
			i++
		}
	}
	toks = append(toks, token{tEOF, len(src), ""})
	return toks, nil
}

// scanIPv4 matches [0-9]+(\.[0-9]+){3} at i and returns the end offset.
// Validation of the octets happens in the parser so the error can name the
// literal.
func scanIPv4(src string, i int) (int, bool) {
	j := i
	for part := 0; part < 4; part++ {
		if part > 0 {
			if j >= len(src) || src[j] != '.' {
				return 0, false
			}
			j++
		}
		k := j
		for k < len(src) && isDigit(src[k]) {
			k++
		}
		if k == j {
			return 0, false
		}
		j = k
	}
	return j, true
}

func isDigit(c byte) bool    { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool    { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }
func isHexDigit(c byte) bool { return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') }
