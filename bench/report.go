package bench

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// write saves results.json, results.md and the SVG plots, and prints the
// Markdown report to out.
func (s *suite) write(out io.Writer) error {
	b, err := json.MarshalIndent(&s.res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(s.dir, "results.json"), b, 0o644); err != nil {
		return fmt.Errorf("write results.json: %w", err)
	}
	plots := map[string]string{}
	for _, sc := range []string{"S1", "S5"} {
		plots[strings.ToLower(sc)+"-knee.svg"] = kneePlot(s.res.Knees, sc, false)
		plots[strings.ToLower(sc)+"-latency.svg"] = kneePlot(s.res.Knees, sc, true)
	}
	for _, sc := range []string{"S3", "S4"} {
		plots[strings.ToLower(sc)+"-series.svg"] = seriesPlot(s.res.Points, sc)
	}
	plots["s4-rss.svg"] = rssPlot(s.res.Points, "S4")
	var names []string
	for _, name := range slices.Sorted(maps.Keys(plots)) {
		if plots[name] == "" {
			continue
		}
		if err := os.WriteFile(filepath.Join(s.dir, name), []byte(plots[name]), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
		names = append(names, name)
	}
	md := Markdown(&s.res, names)
	if err := os.WriteFile(filepath.Join(s.dir, "results.md"), []byte(md), 0o644); err != nil {
		return fmt.Errorf("write results.md: %w", err)
	}
	fmt.Fprint(out, md)
	fmt.Fprintf(out, "\nresults in %s\n", s.dir)
	return nil
}

// rowKey identifies a table row: points of both servers share it.
type rowKey struct{ sc, drv, label string }

// rows groups the points by row, in the order the rows first appear.
func rows(r *Results) ([]rowKey, map[rowKey]map[string]Point) {
	var order []rowKey
	by := map[rowKey]map[string]Point{}
	for _, p := range r.Points {
		k := rowKey{p.Scenario, p.Driver, p.Label}
		if by[k] == nil {
			by[k] = map[string]Point{}
			order = append(order, k)
		}
		by[k][p.Server] = p
	}
	return order, by
}

// Markdown renders the results: the machine and settings, the targets,
// the table of xdhcp against Kea per row (ratio, spread of the repeats),
// the knee searches, the generator's own figures, and the plots.
func Markdown(r *Results, plots []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# xdhcp benchmark, %s\n\n", r.Start.Format("2006-01-02 15:04"))
	if r.Command != "" {
		fmt.Fprintf(&b, "- command: `%s`\n", r.Command)
	}
	for _, k := range slices.Sorted(maps.Keys(r.Machine)) {
		fmt.Fprintf(&b, "- %s: %s\n", k, r.Machine[k])
	}
	if r.Elapsed > 0 {
		fmt.Fprintf(&b, "- elapsed: %.0f s\n", r.Elapsed)
	}
	var set []string
	for _, k := range slices.Sorted(maps.Keys(r.Settings)) {
		set = append(set, fmt.Sprintf("%s=%v", k, r.Settings[k]))
	}
	fmt.Fprintf(&b, "- settings: %s\n", strings.Join(set, ", "))

	if len(r.Targets) > 0 {
		b.WriteString("\n## Targets (reported, never failed on)\n\n| scenario | target | measured (xdhcp) | status | note |\n|---|---|---|---|---|\n")
		for _, t := range r.Targets {
			fmt.Fprintf(&b, "| %s | %s | %s | **%s** | %s |\n", t.Scenario, t.Target, orDash(t.Measured), t.Status, cellText(t.Note))
		}
	}

	b.WriteString("\n## Results\n\n| scenario | driver | row | metric | xdhcp | Kea | xdhcp/Kea | xdhcp spread | Kea spread | notes |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	order, by := rows(r)
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
		var notes []string
		for _, p := range []struct {
			p  Point
			ok bool
		}{{x, hx}, {ke, hk}} {
			if n := pointNotes(p.p); p.ok && n != "" {
				notes = append(notes, p.p.Server+": "+n)
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", k.sc, k.drv, k.label, metric,
			cell(x, hx), cell(ke, hk), ratio, spread(x, hx), spread(ke, hk), cellText(strings.Join(notes, "; ")))
	}

	b.WriteString(hooksTable(order, by))

	if len(r.Knees) > 0 {
		b.WriteString("\n## Knee searches (doubling, then bisection; one run per probe)\n\n| scenario | server | knee | probes: requested → achieved/s (loss) | ended | seconds |\n|---|---|---|---|---|---|\n")
		for _, ks := range r.Knees {
			var ps []string
			for _, p := range ks.Probes {
				mark := ""
				if p.GenSaturated {
					mark = " gen-sat"
				}
				ps = append(ps, fmt.Sprintf("%s → %s (%.1f%%%s)", fmtNum(p.Requested), fmtNum(p.Achieved), p.LossPct, mark))
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %.0f |\n", ks.Scenario, ks.label(), fmtNum(ks.Knee), strings.Join(ps, ", "), cellText(ks.Ended), ks.Elapsed)
		}
	}

	b.WriteString("\n## Generator (is it the bottleneck?)\n\n")
	b.WriteString("Saturated means: its CPU at ≥ 90% of its core, replies dropped before it read them, frames it could not send, or an open-loop offered rate under 95% of the requested one. Knee-search probes are marked gen-sat above.\n\n")
	b.WriteString("| scenario | driver | row | server | requested/s | offered/s | generator CPU | rx drops | frames not sent | saturated |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, p := range r.Points {
		if _, ok := p.Extra["gen_cpu_pct"]; !ok && !p.GenSaturated {
			continue // not a generator run (S6, S7)
		}
		sat := "no"
		if p.GenSaturated {
			sat = "**yes**: " + strings.Join(p.GenNotes, "; ")
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %.0f%% | %s | %s | %s |\n", p.Scenario, p.Driver, p.Label, p.Server,
			extraCell(p, "requested"), extraCell(p, "offered"), p.Extra["gen_cpu_pct"], extraCell(p, "gen_rx_drops"), extraCell(p, "gen_tx_errors"), cellText(sat))
	}

	if len(r.Skipped) > 0 {
		b.WriteString("\nSkipped:\n")
		for _, s := range r.Skipped {
			fmt.Fprintf(&b, "- %s\n", s)
		}
	}
	if len(r.Failures) > 0 {
		b.WriteString("\n**Correctness failures:**\n")
		for _, f := range r.Failures {
			fmt.Fprintf(&b, "- %s\n", strings.ReplaceAll(f, "\n", " / "))
		}
	} else {
		b.WriteString("\nNo correctness failures (no wrong or malformed reply, no crash, every run served, both servers of every HA pair held every acknowledged lease).\n")
	}
	for _, p := range plots {
		fmt.Fprintf(&b, "\n![%s](%s)\n", p, p)
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// cellText makes s safe inside a Markdown table cell.
func cellText(s string) string {
	return strings.NewReplacer("|", "\\|", "\n", " / ").Replace(s)
}

func extraCell(p Point, key string) string {
	v, ok := p.Extra[key]
	if !ok || (key == "requested" && v == 0) {
		return "–"
	}
	return fmtNum(v)
}

func pointNotes(p Point) string {
	var n []string
	if p.Label == kneeLabel || p.Driver == "perfdhcp" {
		n = append(n, fmt.Sprintf("at %s/s", fmtNum(p.Setting)))
	}
	if v, ok := p.Extra["loss_pct"]; ok {
		n = append(n, fmt.Sprintf("loss %.2f%%", v))
	}
	if v, ok := p.Extra["dora_p99_ms"]; ok && v > 0 && p.Metric != "legit p99 ms" {
		n = append(n, fmt.Sprintf("DORA p99 %.2f ms", v))
	}
	if v, ok := p.Extra["flood_rate"]; ok && v > 0 {
		n = append(n, fmt.Sprintf("flood %.0f frames/s", v))
	}
	if v, ok := p.Extra["xdp_absorbed_pct"]; ok {
		n = append(n, fmt.Sprintf("%.1f%% of it dropped in XDP", v))
	}
	if v, ok := p.Extra["rss_peak_mib"]; ok {
		n = append(n, fmt.Sprintf("RSS peak %.0f MiB", v))
	}
	if v, ok := p.Extra["rss_1m_mib"]; ok {
		n = append(n, fmt.Sprintf("RSS %.0f→%.0f MiB", p.Extra["rss_empty_mib"], v))
	}
	if v := p.Extra["warmup_lost"]; v > 0 {
		n = append(n, fmt.Sprintf("%.0f lost in warm-up", v))
	}
	if p.GenSaturated {
		n = append(n, "**generator saturated**")
	}
	n = append(n, p.Notes...)
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

// svgPlot renders lines on linear axes starting at zero, with ticks at
// round numbers and the legend above the plotting area, where it cannot
// hide data.
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
	xStep, yStep := niceStep(maxX/5), niceStep(maxY/5)
	maxX, maxY = math.Ceil(maxX/xStep)*xStep, math.Ceil(maxY/yStep)*yStep
	top := padT + 16*len(lines) // legend rows between title and plot
	h := plotH + 16*len(lines)
	px := func(x float64) float64 { return padL + x/maxX*innerW }
	py := func(y float64) float64 { return float64(top) + innerH - y/maxY*innerH }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", plotW, h)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/><text x="%d" y="18" font-size="14">%s</text>`+"\n", padL, html.EscapeString(title))
	for i, l := range lines {
		y := padT + 16*i + 4
		dash := ""
		if l.dashed {
			dash = ` stroke-dasharray="5,4"`
		}
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"%s/><text x="%d" y="%d" fill="%s">%s</text>`+"\n",
			padL, y, padL+24, y, l.color, dash, padL+30, y+4, l.color, html.EscapeString(l.name))
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/><line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n",
		padL, top+innerH, padL+innerW, top+innerH, padL, top, padL, top+innerH)
	for x := 0.0; x <= maxX+xStep/2; x += xStep {
		fmt.Fprintf(&b, `<text x="%.0f" y="%d" text-anchor="middle">%s</text>`, px(x), top+innerH+16, fmtNum(x))
		fmt.Fprintf(&b, `<line x1="%.0f" y1="%d" x2="%.0f" y2="%d" stroke="black"/>`+"\n", px(x), top+innerH, px(x), top+innerH+4)
	}
	for y := 0.0; y <= maxY+yStep/2; y += yStep {
		fmt.Fprintf(&b, `<text x="%d" y="%.0f" text-anchor="end">%s</text>`, padL-4, py(y)+4, fmtNum(y))
		fmt.Fprintf(&b, `<line x1="%d" y1="%.0f" x2="%d" y2="%.0f" stroke="#ddd"/>`+"\n", padL, py(y), padL+innerW, py(y))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">%s</text>`, padL+innerW/2, h-8, html.EscapeString(xlabel))
	fmt.Fprintf(&b, `<text x="14" y="%d" transform="rotate(-90 14 %d)" text-anchor="middle">%s</text>`+"\n", top+innerH/2, top+innerH/2, html.EscapeString(ylabel))
	for _, l := range lines {
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
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// niceStep rounds a raw tick interval up to 1, 2, 2.5 or 5 times a power
// of ten, so that tick labels read 0, 5000, 10000 rather than 0, 8799.75.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if raw <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// kneePlot draws a knee search's probes for both servers: achieved
// leases/s against the offered rate with the ideal diagonal, or (latency)
// the DORA p99 against the offered rate.
func kneePlot(ks []*KneeSearch, scenario string, latency bool) string {
	var lines []line
	var maxX float64
	for _, k := range ks {
		if k.Scenario != scenario || len(k.Probes) == 0 {
			continue
		}
		ps := slices.Clone(k.Probes)
		slices.SortFunc(ps, func(a, b Probe) int { return cmpF(a.Offered, b.Offered) })
		l := line{name: fmt.Sprintf("%s (knee %s/s)", k.label(), fmtNum(k.Knee)), color: serverColor(k.Server)}
		for _, p := range ps {
			y := p.Achieved
			if latency {
				y = p.P99Ms
			}
			l.xs, l.ys = append(l.xs, p.Offered), append(l.ys, y)
			maxX = max(maxX, p.Offered)
		}
		lines = append(lines, l)
	}
	if len(lines) == 0 {
		return ""
	}
	if latency {
		return svgPlot(scenario+" DORA p99 latency against offered rate", "offered new clients/s", "DORA p99 (ms)", lines)
	}
	lines = append(lines, line{name: "achieved = offered", color: "#999", dashed: true, xs: []float64{0, maxX}, ys: []float64{0, maxX}})
	return svgPlot(scenario+" new leases/s: achieved against offered", "offered new clients/s", "achieved leases/s", lines)
}

func serverColor(server string) string {
	if strings.HasPrefix(server, "kea") {
		return colorKea
	}
	return colorXdhcp
}

// rssPlot draws the servers' RSS over a scenario's median run.
func rssPlot(pts []Point, scenario string) string {
	var lines []line
	for _, p := range pts {
		if p.Scenario != scenario || len(p.RSS) == 0 {
			continue
		}
		l := line{name: p.Server + " RSS (MiB)", color: serverColor(p.Server)}
		for _, s := range p.RSS {
			l.xs, l.ys = append(l.xs, s.T), append(l.ys, s.MiB)
		}
		lines = append(lines, l)
	}
	if len(lines) == 0 {
		return ""
	}
	return svgPlot(scenario+" server RSS during the run (warm-up included)", "second", "RSS (MiB)", lines)
}

// seriesPlot draws the per-second completions and p99 of the last setting
// of a scenario, per server.
func seriesPlot(pts []Point, scenario string) string {
	var lines []line
	for _, p := range pts {
		if p.Scenario != scenario || len(p.Series) == 0 {
			continue
		}
		l := line{name: fmt.Sprintf("%s %s: exchanges/s", p.Server, p.Label), color: serverColor(p.Server)}
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

// hooksTable renders, for the rows measured with the lease event hooks on
// and off in the same invocation, each server's figure with them off, on,
// and on as a share of off; "" when no row has both.
func hooksTable(order []rowKey, by map[rowKey]map[string]Point) string {
	var b strings.Builder
	for _, k := range order {
		for _, srv := range []string{"xdhcp", "kea"} {
			off, ok1 := by[k][srv]
			on, ok2 := by[k][srv+HooksSuffix]
			if !ok1 || !ok2 {
				continue
			}
			if b.Len() == 0 {
				b.WriteString("\n## Lease event hooks: off against on, same invocation\n\n")
				b.WriteString("Server CPU per exchange is the server process's CPU time (scripts it starts not included) over the exchanges answered in the median run (S2's include binding its clients first): it moves less with the machine's load than the rates do. Scripts' CPU is that of the scripts the server started and reaped in the median run with the hooks on, per exchange; scripts run / dropped are xdhcpd's run-script counts in that run (calls that found its queue full are dropped and counted; Kea drops none and has no such count).\n\n")
				b.WriteString("| scenario | driver | row | metric | server | off | on | on/off | off spread | on spread | server CPU µs/exchange off → on | scripts' CPU µs/exchange | scripts run / dropped |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
			}
			ratio := "–"
			if off.Median != 0 {
				ratio = fmt.Sprintf("%.0f%%", 100*on.Median/off.Median)
			}
			cpu := "–"
			if a, ok := off.Extra["server_cpu_us_per_op"]; ok {
				if c, ok := on.Extra["server_cpu_us_per_op"]; ok {
					cpu = fmt.Sprintf("%.1f → %.1f", a, c)
				}
			}
			kids, scripts := "–", "–"
			if c, ok := on.Extra["child_cpu_us_per_op"]; ok {
				kids = fmt.Sprintf("%.1f", c)
			}
			if r, ok := on.Extra["scripts_run"]; ok {
				scripts = fmtNum(r) + " / " + fmtNum(on.Extra["scripts_dropped"])
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", k.sc, k.drv, k.label, off.Metric, srv,
				fmtNum(off.Median), fmtNum(on.Median), ratio, spread(off, true), spread(on, true), cpu, kids, scripts)
		}
	}
	return b.String()
}
