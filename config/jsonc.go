package config

import (
	"bytes"
	"errors"
	"fmt"
)

// maxIncludeDepth bounds nested <?include?> directives; Kea has no limit,
// but a cycle would otherwise recurse forever.
const maxIncludeDepth = 8

// includeFunc returns the contents of a file named by an include directive.
// It is nil when includes are not available (Parse works on bytes only).
type includeFunc func(name string) ([]byte, error)

// preprocess applies Kea's lexer-level syntax to data: comments outside
// strings ("//" and "#" to end of line, "/* */" blocks) become spaces, and
// <?include "file"?> directives are replaced by the included text, itself
// preprocessed. Comment bytes are blanked rather than removed, with
// newlines kept, so that byte offsets in the result still point at the same
// line and column of the source when no include was expanded.
func preprocess(data []byte, include includeFunc, depth int) ([]byte, error) {
	out := make([]byte, 0, len(data))
	inString := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if inString {
			out = append(out, c)
			switch c {
			case '\\':
				if i+1 < len(data) {
					i++
					out = append(out, data[i])
				}
			case '"':
				inString = false
			}
			continue
		}
		switch {
		case c == '"':
			inString = true
			out = append(out, c)
		case c == '#' || (c == '/' && i+1 < len(data) && data[i+1] == '/'):
			for i < len(data) && data[i] != '\n' {
				out = append(out, ' ')
				i++
			}
			if i < len(data) {
				out = append(out, '\n')
			}
		case c == '/' && i+1 < len(data) && data[i+1] == '*':
			end := bytes.Index(data[i+2:], []byte("*/"))
			if end < 0 {
				line, col := position(data, i)
				return nil, fmt.Errorf("line %d col %d: unterminated /* comment", line, col)
			}
			for _, b := range data[i : i+2+end+2] {
				if b == '\n' {
					out = append(out, '\n')
				} else {
					out = append(out, ' ')
				}
			}
			i += 2 + end + 1
		case c == '<' && bytes.HasPrefix(data[i:], []byte("<?include")):
			name, n, err := parseInclude(data[i:])
			if err != nil {
				line, col := position(data, i)
				return nil, fmt.Errorf("line %d col %d: %w", line, col, err)
			}
			if include == nil {
				line, col := position(data, i)
				return nil, fmt.Errorf("line %d col %d: <?include %q?> is only supported when loading from a file", line, col, name)
			}
			if depth >= maxIncludeDepth {
				return nil, fmt.Errorf("include %s: nested more than %d deep (include cycle?)", name, maxIncludeDepth)
			}
			body, err := include(name)
			if err != nil {
				return nil, fmt.Errorf("include %s: %w", name, err)
			}
			body, err = preprocess(body, include, depth+1)
			if err != nil {
				return nil, fmt.Errorf("include %s: %w", name, err)
			}
			out = append(out, body...)
			i += n - 1
		default:
			out = append(out, c)
		}
	}
	return out, nil
}

// parseInclude parses `<?include "name"?>` at the start of b and returns the
// file name and the directive's length.
func parseInclude(b []byte) (string, int, error) {
	i := len("<?include")
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	if i >= len(b) || b[i] != '"' {
		return "", 0, errors.New(`<?include must be followed by a quoted file name`)
	}
	i++
	start := i
	for i < len(b) && b[i] != '"' && b[i] != '\n' {
		i++
	}
	if i >= len(b) || b[i] != '"' {
		return "", 0, errors.New("unterminated file name in <?include")
	}
	name := string(b[start:i])
	i++
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	if !bytes.HasPrefix(b[i:], []byte("?>")) {
		return "", 0, errors.New(`<?include "file" must end with ?>`)
	}
	if name == "" {
		return "", 0, errors.New("empty file name in <?include")
	}
	return name, i + 2, nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// position converts a byte offset into a 1-based line and column.
func position(data []byte, off int) (line, col int) {
	if off > len(data) {
		off = len(data)
	}
	line = 1 + bytes.Count(data[:off], []byte("\n"))
	col = off - bytes.LastIndexByte(data[:off], '\n')
	return line, col
}
