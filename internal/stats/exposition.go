package stats

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Label is one Prometheus label of a series.
type Label struct{ Name, Value string }

// Exposition writes metric families in the Prometheus text exposition
// format (version 0.0.4): each family once, with its HELP and TYPE lines
// before its samples, which is what `promtool check metrics` and a
// Prometheus server expect. Errors are sticky and returned by Flush.
type Exposition struct {
	w    *bufio.Writer
	seen map[string]bool
	cur  string // family being written
	err  error
}

// NewExposition returns an Exposition writing to w.
func NewExposition(w io.Writer) *Exposition {
	return &Exposition{w: bufio.NewWriter(w), seen: make(map[string]bool)}
}

// Family starts the family name. It reports false, and the caller skips
// the family's samples, if name was already written: a scrape with one
// family twice is rejected by Prometheus.
func (e *Exposition) Family(name string, kind Kind, help string) bool {
	if e.seen[name] {
		e.setErr(fmt.Errorf("metric family %s written twice", name))
		return false
	}
	e.seen[name] = true
	e.cur = name
	e.w.WriteString("# HELP ")
	e.w.WriteString(name)
	e.w.WriteByte(' ')
	e.w.WriteString(escapeHelp(help))
	e.w.WriteString("\n# TYPE ")
	e.w.WriteString(name)
	e.w.WriteByte(' ')
	e.w.WriteString(kind.String())
	e.w.WriteByte('\n')
	return true
}

// Int writes one sample of the current family. suffix is appended to the
// family name ("", "_bucket", "_sum", "_count").
func (e *Exposition) Int(suffix string, labels []Label, v int64) {
	e.series(suffix, labels)
	e.w.WriteString(strconv.FormatInt(v, 10))
	e.w.WriteByte('\n')
}

// Float writes one sample of the current family; see Int.
func (e *Exposition) Float(suffix string, labels []Label, v float64) {
	e.series(suffix, labels)
	e.w.WriteString(formatFloat(v))
	e.w.WriteByte('\n')
}

// Samples copies sample lines written by another library (for example a
// VictoriaMetrics histogram set) after the current family's header. Every
// line must belong to the current family; anything else is an error, so
// that a stray series cannot slip into the scrape without metadata.
func (e *Exposition) Samples(text string) {
	for line := range strings.Lines(text) {
		name := line
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name = line[:i]
		}
		if name != e.cur && name != e.cur+"_bucket" && name != e.cur+"_sum" && name != e.cur+"_count" {
			e.setErr(fmt.Errorf("series %q outside family %s", strings.TrimSpace(line), e.cur))
			continue
		}
		e.w.WriteString(line)
		if !strings.HasSuffix(line, "\n") {
			e.w.WriteByte('\n')
		}
	}
}

// Flush writes out what is buffered and returns the first error.
func (e *Exposition) Flush() error {
	if err := e.w.Flush(); err != nil {
		e.setErr(fmt.Errorf("write metrics: %w", err))
	}
	return e.err
}

func (e *Exposition) setErr(err error) {
	if e.err == nil {
		e.err = err
	}
}

func (e *Exposition) series(suffix string, labels []Label) {
	e.w.WriteString(e.cur)
	e.w.WriteString(suffix)
	if len(labels) > 0 {
		e.w.WriteByte('{')
		for i, l := range labels {
			if i > 0 {
				e.w.WriteByte(',')
			}
			e.w.WriteString(l.Name)
			e.w.WriteString(`="`)
			e.w.WriteString(escapeLabel(l.Value))
			e.w.WriteByte('"')
		}
		e.w.WriteByte('}')
	}
	e.w.WriteByte(' ')
}

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// escapeHelp escapes a HELP text per the text format: backslash and
// newline only.
func escapeHelp(s string) string {
	if !strings.ContainsAny(s, "\\\n") {
		return s
	}
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s)
}

// escapeLabel escapes a label value per the text format.
func escapeLabel(s string) string {
	if !strings.ContainsAny(s, "\\\"\n") {
		return s
	}
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}
