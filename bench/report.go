package bench

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// write saves results.json, results.md and the SVG plots, and prints the
// Markdown table to out.
func (s *suite) write(out io.Writer) error {
	b, err := json.MarshalIndent(&s.res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(s.dir, "results.json"), b, 0o644); err != nil {
		return fmt.Errorf("write results.json: %w", err)
	}
	var plots []string
	for _, driver := range []string{"xdhcp-bench", "perfdhcp"} {
		name := "s1-" + driver + ".svg"
		if svg := s1Plot(s.res.Points, driver); svg != "" {
			if err := os.WriteFile(filepath.Join(s.dir, name), []byte(svg), 0o644); err != nil {
				return err
			}
			plots = append(plots, name)
		}
	}
	for _, sc := range []string{"S3", "S4"} {
		name := strings.ToLower(sc) + "-series.svg"
		if svg := seriesPlot(s.res.Points, sc); svg != "" {
			if err := os.WriteFile(filepath.Join(s.dir, name), []byte(svg), 0o644); err != nil {
				return err
			}
			plots = append(plots, name)
		}
	}
	md := Markdown(&s.res, plots)
	if err := os.WriteFile(filepath.Join(s.dir, "results.md"), []byte(md), 0o644); err != nil {
		return fmt.Errorf("write results.md: %w", err)
	}
	fmt.Fprint(out, md)
	fmt.Fprintf(out, "\nresults in %s\n", s.dir)
	return nil
}

// Markdown renders the results as a table of xdhcp against Kea per point,
// with the ratio and the spread (min–max of the repeats).
func Markdown(r *Results, plots []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# xdhcp benchmark, %s\n\n", r.Start.Format("2006-01-02 15:04"))
	keys := make([]string, 0, len(r.Machine))
	for k := range r.Machine {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "- %s: %s\n", k, r.Machine[k])
	}
	fmt.Fprintf(&b, "- settings: %v\n\n", r.Settings)
	b.WriteString("| scenario | driver | setting | metric | xdhcp | Kea | xdhcp/Kea | xdhcp spread | Kea spread | xdhcp notes |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	type key struct {
		sc, drv string
		set     float64
	}
	var order []key
	by := map[key]map[string]Point{}
	for _, p := range r.Points {
		k := key{p.Scenario, p.Driver, p.Setting}
		if by[k] == nil {
			by[k] = map[string]Point{}
			order = append(order, k)
		}
		by[k][p.Server] = p
	}
	for _, k := range order {
		x, hx := by[k]["xdhcp"]
		ke, hk := by[k]["kea"]
		metric := x.Metric
		if !hx {
			metric = ke.Metric
		}
		cell := func(p Point, ok bool) string {
			if !ok {
				return "–"
			}
			return fmtNum(p.Median)
		}
		ratio := "–"
		if hx && hk && ke.Median != 0 {
			ratio = fmt.Sprintf("%.2f×", x.Median/ke.Median)
		}
		notes := ""
		if hx {
			notes = pointNotes(x)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", k.sc, k.drv, fmtNum(k.set), metric,
			cell(x, hx), cell(ke, hk), ratio, spread(x, hx), spread(ke, hk), notes)
	}
	if len(r.Skipped) > 0 {
		b.WriteString("\nSkipped:\n")
		for _, s := range r.Skipped {
			fmt.Fprintf(&b, "- %s\n", s)
		}
	}
	if len(r.Failures) > 0 {
		b.WriteString("\nCorrectness failures:\n")
		for _, f := range r.Failures {
			fmt.Fprintf(&b, "- %s\n", strings.ReplaceAll(f, "\n", " / "))
		}
	} else {
		b.WriteString("\nNo correctness failures.\n")
	}
	for _, p := range plots {
		fmt.Fprintf(&b, "\n![%s](%s)\n", p, p)
	}
	return b.String()
}

func pointNotes(p Point) string {
	var n []string
	if v, ok := p.Extra["loss_pct"]; ok {
		n = append(n, fmt.Sprintf("loss %.2f%%", v))
	}
	if v, ok := p.Extra["dora_p99_ms"]; ok && v > 0 {
		n = append(n, fmt.Sprintf("DORA p99 %.2f ms", v))
	}
	if v, ok := p.Extra["flood_rate"]; ok && v > 0 {
		n = append(n, fmt.Sprintf("flood %.0f/s", v))
	}
	if v, ok := p.Extra["rss_mib"]; ok {
		n = append(n, fmt.Sprintf("RSS %.0f MiB", v))
	}
	if v, ok := p.Extra["rss_1m_mib"]; ok {
		n = append(n, fmt.Sprintf("RSS %.0f→%.0f MiB", p.Extra["rss_empty_mib"], v))
	}
	if v := p.Extra["warmup_lost"]; v > 0 {
		n = append(n, fmt.Sprintf("%.0f lost in warm-up", v))
	}
	if v, ok := p.Extra["gen_cpu_pct"]; ok {
		n = append(n, fmt.Sprintf("gen CPU %.0f%%", v))
	}
	if p.Extra["gen_saturated"] == 1 {
		n = append(n, "**generator saturated**")
	}
	return strings.Join(n, ", ")
}

func spread(p Point, ok bool) string {
	if !ok || len(p.Values) < 2 {
		return "–"
	}
	lo, hi := slices.Min(p.Values), slices.Max(p.Values)
	return fmtNum(lo) + "–" + fmtNum(hi)
}

func fmtNum(v float64) string {
	switch {
	case v == math.Trunc(v) && math.Abs(v) < 1e9:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

// svg plot geometry.
const (
	plotW, plotH             = 640, 360
	padL, padR, padT, padB   = 70, 20, 30, 50
	innerW, innerH           = plotW - padL - padR, plotH - padT - padB
	colorXdhcp, colorKea     = "#1f77b4", "#d62728"
	colorLatency, colorOther = "#2ca02c", "#ff7f0e"
)

// line is one polyline of a plot.
type line struct {
	name   string
	color  string
	dashed bool
	xs, ys []float64
}

// svgPlot renders lines on linear axes starting at zero.
func svgPlot(title, xlabel, ylabel string, lines []line) string {
	var maxX, maxY float64
	for _, l := range lines {
		for i := range l.xs {
			maxX, maxY = max(maxX, l.xs[i]), max(maxY, l.ys[i])
		}
	}
	if maxX == 0 || maxY == 0 {
		return ""
	}
	maxY *= 1.1
	px := func(x float64) float64 { return padL + x/maxX*innerW }
	py := func(y float64) float64 { return padT + innerH - y/maxY*innerH }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", plotW, plotH)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/><text x="%d" y="18" font-size="14">%s</text>`+"\n", padL, html.EscapeString(title))
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/><line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n",
		padL, padT+innerH, padL+innerW, padT+innerH, padL, padT, padL, padT+innerH)
	for i := 0; i <= 4; i++ {
		x, y := maxX*float64(i)/4, maxY*float64(i)/4
		fmt.Fprintf(&b, `<text x="%.0f" y="%d" text-anchor="middle">%s</text>`, px(x), padT+innerH+16, fmtNum(x))
		fmt.Fprintf(&b, `<text x="%d" y="%.0f" text-anchor="end">%s</text>`, padL-4, py(y)+4, fmtNum(y))
		fmt.Fprintf(&b, `<line x1="%d" y1="%.0f" x2="%d" y2="%.0f" stroke="#ddd"/>`+"\n", padL, py(y), padL+innerW, py(y))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">%s</text>`, padL+innerW/2, plotH-8, html.EscapeString(xlabel))
	fmt.Fprintf(&b, `<text x="14" y="%d" transform="rotate(-90 14 %d)" text-anchor="middle">%s</text>`+"\n", padT+innerH/2, padT+innerH/2, html.EscapeString(ylabel))
	for i, l := range lines {
		var pts []string
		for j := range l.xs {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(l.xs[j]), py(l.ys[j])))
		}
		dash := ""
		if l.dashed {
			dash = ` stroke-dasharray="5,4"`
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`+"\n", l.color, dash, strings.Join(pts, " "))
		for _, p := range pts {
			xy := strings.Split(p, ",")
			fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="3" fill="%s"/>`, xy[0], xy[1], l.color)
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="%s">%s</text>`+"\n", padL+10, padT+14+16*i, l.color, html.EscapeString(l.name))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// s1Plot draws achieved rate against offered rate for S1 of one driver,
// per server.
func s1Plot(pts []Point, driver string) string {
	var lines []line
	for _, srv := range []string{"xdhcp", "kea"} {
		l := line{name: srv + " achieved leases/s", color: colorXdhcp}
		if srv == "kea" {
			l.color = colorKea
		}
		for _, p := range pts {
			if p.Scenario == "S1" && p.Driver == driver && p.Server == srv {
				l.xs, l.ys = append(l.xs, p.Setting), append(l.ys, p.Median)
			}
		}
		if len(l.xs) > 0 {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return ""
	}
	// The ideal: achieved = offered.
	var maxX float64
	for _, l := range lines {
		maxX = max(maxX, slices.Max(l.xs))
	}
	lines = append(lines, line{name: "offered", color: "#999", dashed: true, xs: []float64{0, maxX}, ys: []float64{0, maxX}})
	return svgPlot("S1 new leases/s ("+driver+")", "offered leases/s", "achieved leases/s", lines)
}

// seriesPlot draws the per-second completions and p99 of the last setting
// of a scenario, per server.
func seriesPlot(pts []Point, scenario string) string {
	var lines []line
	for _, p := range pts {
		if p.Scenario != scenario || len(p.Series) == 0 {
			continue
		}
		c := colorXdhcp
		if p.Server == "kea" {
			c = colorKea
		}
		l := line{name: fmt.Sprintf("%s %s=%s: exchanges/s", p.Server, scenario, fmtNum(p.Setting)), color: c}
		for _, s := range p.Series {
			l.xs = append(l.xs, float64(s.T))
			l.ys = append(l.ys, float64(s.DORA+s.Renew+s.Rebind))
		}
		l.dashed = p.Setting == 0
		lines = append(lines, l)
	}
	if len(lines) == 0 {
		return ""
	}
	return svgPlot(scenario+" time series", "second", "completed exchanges per second", lines)
}
