package bench

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"xdhcp/bench/loadgen"
)

func TestParseMetrics(t *testing.T) {
	in := `# HELP xdhcp_xdp_drop_mac_total frames dropped
# TYPE xdhcp_xdp_drop_mac_total counter
xdhcp_xdp_drop_mac_total{cpu="0"} 10
xdhcp_xdp_drop_mac_total{cpu="1",iface="a b"} 5.5
xdhcp_up 1
odd_line_without_value
xdhcp_bad{x="1"} notanumber
`
	m, err := parseMetrics(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if m["xdhcp_xdp_drop_mac_total"] != 15.5 || m["xdhcp_up"] != 1 || len(m) != 2 {
		t.Fatalf("%v", m)
	}
}

func TestRSSBounded(t *testing.T) {
	// 40 samples at 250 ms (10 s) from 20 MiB, shaped by f(i).
	mk := func(f func(i int) float64) []RSSSample {
		var s []RSSSample
		for i := range 40 {
			s = append(s, RSSSample{T: float64(i) / 4, MiB: 20 + f(i)})
		}
		return s
	}
	ramp := func(total float64) func(int) float64 { return func(i int) float64 { return total * float64(i) / 39 } }
	for _, c := range []struct {
		name   string
		ss     []RSSSample
		leases uint64
		want   bool
		growth float64
	}{
		// The hand-run S4: +245 MiB growing to the end, 184,197 leases
		// (allowance 360 MiB): the growth is the leases'.
		{"growth explained by leases", mk(ramp(245)), 184_197, true, 245},
		// 500 MiB more than 10,000 leases (20 MiB) explain: a queue or
		// packet buffers growing with the offered load.
		{"growth beyond leases", mk(ramp(520)), 10_000, false, 520},
		// Nothing bound, nothing grown.
		{"flat", mk(func(int) float64 { return 0 }), 0, true, 0},
		// Growth within the slack with no leases at all: fixed tables,
		// socket buffers.
		{"within the slack", mk(ramp(60)), 0, true, 60},
		// Just over: 1,000 leases (~2 MiB) + 64 MiB slack < 70 MiB.
		{"just over the slack", mk(ramp(70)), 1000, false, 70},
		// A spike freed before the last third is not growth.
		{"spike freed", mk(func(i int) float64 { return map[bool]float64{true: 400}[i > 10 && i < 20] }), 0, true, 0},
	} {
		v := rssBounded(c.ss, c.leases)
		if v.Bounded != c.want || math.Abs(v.GrowthMiB-c.growth) > 0.5 || v.Leases != c.leases {
			t.Errorf("%s: %+v, want bounded %v, growth %.0f", c.name, v, c.want, c.growth)
		}
		if !strings.Contains(v.Note, groupDigits(c.leases)+" leases bound") {
			t.Errorf("%s: note %q lacks the lease count", c.name, v.Note)
		}
	}
	// The settled start is the lowest of the first second, not a
	// start-up blip.
	ss := mk(func(int) float64 { return 10 })
	ss[0].MiB = 200
	if v := rssBounded(ss, 0); v.StartMiB != 30 || !v.Bounded {
		t.Errorf("start-up blip: %+v", v)
	}
	v := rssBounded(mk(ramp(245)), 184_197)
	if !strings.Contains(v.Note, "RSS +245 MiB over the run (20 → 265 MiB), 184,197 leases bound (allowance 360 MiB") || !strings.HasSuffix(v.Note, ": bounded") {
		t.Errorf("note %q", v.Note)
	}
	if v := rssBounded(mk(func(int) float64 { return 0 })[:5], 0); v.Bounded || !strings.Contains(v.Note, "only 5 RSS samples") {
		t.Errorf("five samples judged: %+v", v)
	}
	if v := rssBounded(nil, 100); v.Bounded {
		t.Errorf("no samples judged bounded: %+v", v)
	}
}

func TestGroupDigits(t *testing.T) {
	for n, want := range map[uint64]string{0: "0", 999: "999", 1000: "1,000", 184197: "184,197", 1234567: "1,234,567"} {
		if got := groupDigits(n); got != want {
			t.Errorf("%d: %q, want %q", n, got, want)
		}
	}
}

func TestLeasesBound(t *testing.T) {
	rep := &loadgen.Report{}
	rep.DORA.Completed = 164_197
	if n := leasesBound(rep); n != 164_197 {
		t.Errorf("no warm-up: %d", n)
	}
	rep.Warmup = &loadgen.ExchangeStats{Completed: 20_000}
	rep.Renew.Completed = 1e6 // renewals bind nothing new
	if n := leasesBound(rep); n != 184_197 {
		t.Errorf("with warm-up: %d", n)
	}
}

func TestStatValue(t *testing.T) {
	a := Answer{Arguments: json.RawMessage(`{"subnet[1].assigned-addresses": [[1000000, "2026-01-01 00:00:00.000"], [5, "x"]]}`)}
	v, err := statValue(a, "subnet[1].assigned-addresses")
	if err != nil || v != 1000000 {
		t.Fatalf("%v %v", v, err)
	}
	if _, err := statValue(Answer{Arguments: json.RawMessage(`{}`)}, "x"); err == nil {
		t.Error("missing statistic accepted")
	}
	if _, err := statValue(Answer{Result: 1, Text: "no"}, "x"); err == nil {
		t.Error("error answer accepted")
	}
}

func TestGenSaturation(t *testing.T) {
	rep := &loadgen.Report{OfferedRate: 1000}
	if v := genSaturation(rep, 1000); v.saturated {
		t.Errorf("idle generator judged saturated: %v", v.notes)
	}
	rep.Generator.CPUPct = 95
	rep.Generator.RxDropped = 3
	rep.Generator.TxDropped = 2
	rep.OfferedRate = 900
	v := genSaturation(rep, 1000)
	if !v.saturated || len(v.notes) != 4 {
		t.Errorf("%+v", v)
	}
	// Closed loop: no requested rate to fall short of.
	rep = &loadgen.Report{OfferedRate: 5}
	if v := genSaturation(rep, 0); v.saturated {
		t.Errorf("closed loop judged saturated: %v", v.notes)
	}
	// A sign only the generator itself knows is kept.
	rep.Generator.Saturated, rep.Generator.Notes = true, []string{"ring full"}
	if v := genSaturation(rep, 0); !v.saturated || v.notes[0] != "ring full" {
		t.Errorf("%+v", v)
	}
}

// sampleResults is a run of every scenario with made-up figures.
func sampleResults() *Results {
	pt := func(sc, srv, label, metric string, v float64, extra map[string]float64) Point {
		return Point{Scenario: sc, Server: srv, Driver: "xdhcp-bench", Label: label, Metric: metric, Median: v, Values: []float64{v * 0.9, v, v * 1.1}, Extra: extra}
	}
	r := &Results{Start: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC), Machine: map[string]string{"cpu": "test"},
		Settings: map[string]any{"quick": false}}
	r.Points = []Point{
		pt("S1", "xdhcp", kneeLabel, "leases/s", 50000, map[string]float64{"gen_cpu_pct": 40, "requested": 50000, "offered": 50000}),
		pt("S1", "kea", kneeLabel, "leases/s", 2000, map[string]float64{"gen_cpu_pct": 20, "requested": 2000, "offered": 2000}),
		pt("S2", "xdhcp", "x", "renewals/s", 150000, nil),
		pt("S3", "xdhcp", "idle", "legit p99 ms", 2, nil),
		pt("S3", "xdhcp", "DROP-class flood", "legit p99 ms", 3, map[string]float64{"xdp_absorbed_pct": 99, "flood_frames": 1e6}),
		pt("S4", "xdhcp", "x", "renew goodput %", 97, map[string]float64{"rss_bounded": 1, "rss_peak_mib": 265, "rss_growth_mib": 245,
			"leases_bound": 184197, "rss_allowance_mib": 359.76}),
		pt("S5", "xdhcp", kneeLabel, "leases/s", 1000, nil),
		pt("S5", "kea", kneeLabel, "leases/s", 2000, nil),
		pt("S7", "xdhcp", "x", "bytes/lease", 150, nil),
	}
	r.Points[2].GenSaturated, r.Points[2].GenNotes = true, []string{"generator CPU 99% of its core"}
	r.Knees = []*KneeSearch{
		{Scenario: "S1", Server: "xdhcp", Knee: 50000, Ended: "bracketed", Probes: []Probe{{Requested: 2000, Offered: 2000, Achieved: 2000, P99Ms: 1}, {Requested: 64000, Offered: 60000, Achieved: 40000, LossPct: 30, GenSaturated: true}}},
		{Scenario: "S1", Server: "kea", Knee: 2000, Ended: "bracketed", Probes: []Probe{{Requested: 2000, Offered: 2000, Achieved: 2000}}},
	}
	return r
}

func TestEvalTargets(t *testing.T) {
	r := sampleResults()
	got := map[string]Target{}
	for _, tg := range evalTargets(r) {
		got[tg.Scenario] = tg
	}
	want := map[string]string{"S1": statusMet, "S2": statusNotMet, "S3": statusMet, "S4": statusMet, "S5": statusMet, "S7": statusMet}
	for sc, st := range want {
		if got[sc].Status != st {
			t.Errorf("%s: %+v, want %s", sc, got[sc], st)
		}
	}
	if !strings.Contains(got["S1"].Measured, "25.00×") || !strings.Contains(got["S2"].Note, "generator-limited") {
		t.Errorf("S1 %+v S2 %+v", got["S1"], got["S2"])
	}
	// S4 is judged on the growth the leases do not explain: the sample's
	// point grew 245 MiB for 184,197 leases and is bounded (met); judged
	// unbounded it is not met; old results without the growth still read.
	if !strings.Contains(got["S4"].Measured, "RSS +245 MiB (peak 265 MiB) for 184,197 leases bound, allowance 360 MiB + 64 MiB slack: bounded") {
		t.Errorf("S4 %+v", got["S4"])
	}
	s4target := func() Target {
		for _, tg := range evalTargets(r) {
			if tg.Scenario == "S4" {
				return tg
			}
		}
		return Target{}
	}
	s4 := r.Points[5].Extra
	s4["rss_bounded"] = 0
	if tg := s4target(); tg.Status != statusNotMet || !strings.HasSuffix(tg.Measured, "NOT bounded") {
		t.Errorf("S4 unbounded: %+v", tg)
	}
	delete(s4, "rss_growth_mib")
	if tg := s4target(); !strings.HasSuffix(tg.Measured, "RSS peak 265 MiB (not bounded)") {
		t.Errorf("S4 old result: %+v", tg)
	}
	s4["rss_bounded"], s4["rss_growth_mib"] = 1, 245
	// An S5 correctness failure turns the replication row to not met; a
	// flood not absorbed in XDP fails S3; a missing scenario is reported.
	r.Failures = []string{"S5 pair 1000/s on kea: 3 of the 10 addresses ..."}
	r.Points[4].Extra["xdp_absorbed_pct"] = 50
	r.Points = r.Points[:len(r.Points)-1]
	got = map[string]Target{}
	for _, tg := range evalTargets(r) {
		got[tg.Scenario] = tg
	}
	if got["S5"].Status != statusNotMet || got["S3"].Status != statusNotMet || got["S7"].Status != statusNotMeasured {
		t.Errorf("S5 %+v S3 %+v S7 %+v", got["S5"], got["S3"], got["S7"])
	}
}

func TestMarkdownAndPlots(t *testing.T) {
	r := sampleResults()
	r.Targets = evalTargets(r)
	md := Markdown(r, []string{"s1-knee.svg"})
	for _, want := range []string{
		"## Targets", "| S1 | new leases/s at <1% loss ≥ 20× Kea's | 50000/s vs 2000/s = 25.00× | **met** |",
		"| S1 | xdhcp-bench | knee (<1% loss) | leases/s | 50000 | 2000 | 25.00× | 45000–55000 |",
		"## Knee searches", "64000 → 40000 (30.0% gen-sat)",
		"## Generator", "**yes**: generator CPU 99% of its core",
		"No correctness failures", "![s1-knee.svg](s1-knee.svg)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	svg := kneePlot(r.Knees, "S1", false)
	if !strings.Contains(svg, "xdhcp (knee 50000/s)") || !strings.Contains(svg, "kea (knee 2000/s)") || !strings.Contains(svg, "achieved = offered") {
		t.Errorf("knee plot:\n%s", svg)
	}
	if kneePlot(r.Knees, "S5", false) != "" {
		t.Error("plot for a scenario without searches")
	}
	r.Points[5].RSS = []RSSSample{{0, 10}, {1, 20}}
	if svg := rssPlot(r.Points, "S4"); !strings.Contains(svg, "xdhcp RSS (MiB)") {
		t.Errorf("rss plot:\n%s", svg)
	}
}

func TestMedianSample(t *testing.T) {
	rs := []sample{{v: 3, setting: 30}, {v: 1, setting: 10}, {v: 2, setting: 20}}
	if m := medianSample(rs); m.v != 2 || m.setting != 20 {
		t.Errorf("median %+v", m)
	}
	if rs[0].v != 3 || rs[1].v != 1 {
		t.Errorf("input reordered: %+v", rs)
	}
	if m := median([]float64{5, 1, 9, 7}); m != 7 {
		t.Errorf("median of four: %v", m)
	}
}

func TestNiceStep(t *testing.T) {
	for _, tt := range []struct{ raw, want float64 }{
		{35199.0 / 5, 10000}, {0.7, 1}, {1.2, 2}, {2.2, 2.5}, {3, 5}, {0.03, 0.05}, {180, 200}, {1, 1},
	} {
		if got := niceStep(tt.raw); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("niceStep(%v) = %v, want %v", tt.raw, got, tt.want)
		}
	}
}

// TestPlotLegendAboveData: legend rows sit above the plotting area.
func TestPlotLegendAboveData(t *testing.T) {
	svg := svgPlot("t", "x", "y", []line{{name: "a", color: "#000", xs: []float64{0, 35199}, ys: []float64{0, 26399}},
		{name: "b", color: "#111", xs: []float64{0, 10}, ys: []float64{0, 5}}})
	if !strings.Contains(svg, ">10000<") || strings.Contains(svg, ">8800<") {
		t.Errorf("ticks are not round numbers:\n%s", svg)
	}
	top := padT + 16*2
	for _, row := range []int{padT + 8, padT + 24} { // legend text baselines
		if row >= top {
			t.Errorf("legend row at y=%d is inside the plot area (top %d)", row, top)
		}
	}
	if !strings.Contains(svg, fmt.Sprintf(`y="%d" fill="#000">a<`, padT+8)) {
		t.Errorf("legend entry a not at its row:\n%s", svg)
	}
}
