package stats

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// metricPrefix namespaces every exported series.
const metricPrefix = "xdhcp_"

// series is one exported sample line.
type series struct {
	labels []label
	value  int64
}

type label struct{ name, value string }

// family is one metric name with its HELP/TYPE header.
type family struct {
	name   string
	kind   Kind
	help   string // the Kea name pattern, e.g. subnet[id].assigned-addresses
	series []series
}

// promName maps a Kea statistic name to a Prometheus metric name and labels.
// Indexed components such as "subnet[3]." become labels ("subnet_id"="3")
// and leave the component's word in the name: subnet[3].assigned-addresses
// → xdhcp_subnet_assigned_addresses{subnet_id="3"}. help is the name with
// every index replaced by "id".
func promName(statName string, kind Kind) (name string, labels []label, help string) {
	var b, h strings.Builder
	b.WriteString(metricPrefix)
	rest := statName
	for rest != "" {
		open := strings.IndexByte(rest, '[')
		if open < 0 {
			writeSanitized(&b, rest)
			h.WriteString(rest)
			break
		}
		closing := strings.IndexByte(rest[open:], ']')
		if closing < 0 || open == 0 {
			// Not a well-formed "word[index]": export verbatim (sanitized).
			writeSanitized(&b, rest)
			h.WriteString(rest)
			break
		}
		closing += open
		word := rest[:open]
		wordStart := strings.LastIndexByte(word, '.') + 1
		writeSanitized(&b, word)
		h.WriteString(word)
		h.WriteString("[id]")
		lname := sanitize(word[wordStart:]) + "_id"
		labels = append(labels, label{name: lname, value: rest[open+1 : closing]})
		rest = rest[closing+1:]
	}
	name = b.String()
	// Collapse the separators runs that '.' and '-' produce.
	for strings.Contains(name, "__") {
		name = strings.ReplaceAll(name, "__", "_")
	}
	name = strings.TrimRight(name, "_")
	if kind == KindCounter {
		name += "_total"
	}
	return name, labels, h.String()
}

// sanitize maps every character outside [a-zA-Z0-9_] to '_'.
func sanitize(s string) string {
	var b strings.Builder
	writeSanitized(&b, s)
	return b.String()
}

func writeSanitized(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
			b.WriteByte(c)
		default:
			b.WriteByte('_')
		}
	}
}

// escapeLabel escapes a label value per the Prometheus text format.
func escapeLabel(s string) string {
	if !strings.ContainsAny(s, "\\\"\n") {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return r.Replace(s)
}

// lessLabels orders series by label values, numerically where both values
// are numbers, so subnet 2 comes before subnet 10.
func lessLabels(a, b []label) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i].name != b[i].name {
			return a[i].name < b[i].name
		}
		if a[i].value == b[i].value {
			continue
		}
		x, errX := strconv.ParseInt(a[i].value, 10, 64)
		y, errY := strconv.ParseInt(b[i].value, 10, 64)
		if errX == nil && errY == nil {
			return x < y
		}
		return a[i].value < b[i].value
	}
	return len(a) < len(b)
}

// WritePrometheus writes every reported statistic in the Prometheus text
// exposition format, families sorted by name and series by label, so the
// output is deterministic. Counters get the _total suffix.
func (r *Registry) WritePrometheus(w io.Writer) error {
	fams := r.families()
	bw := bufio.NewWriter(w)
	for _, f := range fams {
		fmt.Fprintf(bw, "# HELP %s Statistic %s.\n", f.name, f.help)
		fmt.Fprintf(bw, "# TYPE %s %s\n", f.name, f.kind)
		for _, s := range f.series {
			bw.WriteString(f.name)
			if len(s.labels) > 0 {
				bw.WriteByte('{')
				for i, l := range s.labels {
					if i > 0 {
						bw.WriteByte(',')
					}
					fmt.Fprintf(bw, "%s=\"%s\"", l.name, escapeLabel(l.value))
				}
				bw.WriteByte('}')
			}
			bw.WriteByte(' ')
			bw.WriteString(strconv.FormatInt(s.value, 10))
			bw.WriteByte('\n')
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write prometheus metrics: %w", err)
	}
	return nil
}

// families groups the current values into metric families. Values are read
// under the lock; formatting happens outside it.
func (r *Registry) families() []*family {
	byName := make(map[string]*family)
	r.mu.Lock()
	for _, e := range r.entries {
		v := e.value()
		if e.hidden && v == 0 {
			continue
		}
		name, labels, help := promName(e.name, e.kind)
		f, ok := byName[name]
		if !ok {
			f = &family{name: name, kind: e.kind, help: help}
			byName[name] = f
		}
		f.series = append(f.series, series{labels: labels, value: v})
	}
	r.mu.Unlock()

	fams := make([]*family, 0, len(byName))
	for _, f := range byName {
		sort.Slice(f.series, func(i, j int) bool { return lessLabels(f.series[i].labels, f.series[j].labels) })
		fams = append(fams, f)
	}
	sort.Slice(fams, func(i, j int) bool { return fams[i].name < fams[j].name })
	return fams
}
