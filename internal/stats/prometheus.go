package stats

import (
	"io"
	"sort"
	"strconv"
	"strings"
)

// metricPrefix namespaces every exported series.
const metricPrefix = "xdhcp_"

// ownPrefix starts the statistics Kea does not have ("xdhcp-lease-file-
// syncs"); it is not repeated after metricPrefix.
const ownPrefix = "xdhcp-"

// series is one exported sample line.
type series struct {
	labels []Label
	value  int64
}

// family is one metric name with its HELP/TYPE header.
type family struct {
	name   string
	kind   Kind
	help   string
	series []series
}

// labeledSeries is one interface's or queue's share of a statistic,
// exported to Prometheus only (see SetLabeled).
type labeledSeries struct {
	labels []Label
	fn     func() int64
}

// SetLabeled replaces the Prometheus-only series of the statistic name:
// one per interface, queue or other split, each with its labels. The Kea
// view (statistic-get and friends) keeps the sum under name; /metrics
// shows the labelled series instead of the sum, which PromQL's sum()
// gives back. An empty list removes them. fn runs under the registry lock
// and must be cheap and not call the registry.
func (r *Registry) SetLabeled(name string, kind Kind, ss []LabeledFunc) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(ss) == 0 {
		delete(r.labeled, name)
		return
	}
	out := make([]labeledSeries, 0, len(ss))
	for _, s := range ss {
		if s.Fn != nil {
			out = append(out, labeledSeries{labels: s.Labels, fn: s.Fn})
		}
	}
	r.labeled[name] = labeledFamily{kind: kind, series: out}
}

// LabeledFunc is one labelled series for SetLabeled.
type LabeledFunc struct {
	Labels []Label
	Fn     func() int64
}

type labeledFamily struct {
	kind   Kind
	series []labeledSeries
}

// promName maps a Kea statistic name to a Prometheus metric name and labels.
// Indexed components such as "subnet[3]." become labels ("subnet_id"="3")
// and leave the component's word in the name: subnet[3].assigned-addresses
// → xdhcp_subnet_assigned_addresses{subnet_id="3"}. pattern is the name
// with every index replaced by "id", the key of the statistic's HELP text.
func promName(statName string, kind Kind) (name string, labels []Label, pattern string) {
	var b, h strings.Builder
	b.WriteString(metricPrefix)
	rest := statName
	if strings.HasPrefix(rest, ownPrefix) {
		h.WriteString(ownPrefix)
		rest = rest[len(ownPrefix):]
	}
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
		labels = append(labels, Label{Name: lname, Value: rest[open+1 : closing]})
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

// lessLabels orders series by label values, numerically where both values
// are numbers, so subnet 2 comes before subnet 10.
func lessLabels(a, b []Label) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i].Name != b[i].Name {
			return a[i].Name < b[i].Name
		}
		if a[i].Value == b[i].Value {
			continue
		}
		x, errX := strconv.ParseInt(a[i].Value, 10, 64)
		y, errY := strconv.ParseInt(b[i].Value, 10, 64)
		if errX == nil && errY == nil {
			return x < y
		}
		return a[i].Value < b[i].Value
	}
	return len(a) < len(b)
}

// WritePrometheus writes every reported statistic in the Prometheus text
// exposition format; see WriteTo.
func (r *Registry) WritePrometheus(w io.Writer) error {
	e := NewExposition(w)
	r.WriteTo(e)
	return e.Flush()
}

// WriteTo writes every reported statistic to e, families sorted by name
// and series by label, so the output is deterministic. Counters get the
// _total suffix; a statistic with labelled series (SetLabeled) is written
// as those series.
func (r *Registry) WriteTo(e *Exposition) {
	for _, f := range r.families() {
		if e.Family(f.name, f.kind, f.help) {
			for _, s := range f.series {
				e.Int("", s.labels, s.value)
			}
		}
	}
}

// families groups the current values into metric families. Values are read
// under the lock; formatting happens outside it.
func (r *Registry) families() []*family {
	byName := make(map[string]*family)
	add := func(statName string, kind Kind, labels []Label, v int64) {
		name, idx, pattern := promName(statName, kind)
		f, ok := byName[name]
		if !ok {
			f = &family{name: name, kind: kind, help: helpFor(pattern)}
			byName[name] = f
		}
		f.series = append(f.series, series{labels: append(idx, labels...), value: v})
	}
	r.mu.Lock()
	for _, e := range r.entries {
		if _, split := r.labeled[e.name]; split {
			continue
		}
		v := e.value()
		if e.hidden && v == 0 {
			continue
		}
		add(e.name, e.kind, nil, v)
	}
	for name, lf := range r.labeled {
		for _, s := range lf.series {
			add(name, lf.kind, s.labels, s.fn())
		}
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
