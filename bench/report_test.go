package bench

import (
	"encoding/json"
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
	mk := func(f func(i int) float64) []RSSSample {
		var s []RSSSample
		for i := range 30 {
			s = append(s, RSSSample{T: float64(i) / 4, MiB: f(i)})
		}
		return s
	}
	// Start-up growth, then flat: bounded.
	if ok, why := rssBounded(mk(func(i int) float64 { return min(100, float64(10+10*i)) })); !ok {
		t.Errorf("levelled off judged unbounded: %s", why)
	}
	// Growing all along by 10 MiB a sample: not bounded.
	if ok, why := rssBounded(mk(func(i int) float64 { return float64(50 + 10*i) })); ok {
		t.Errorf("growing judged bounded: %s", why)
	}
	if ok, _ := rssBounded(mk(func(int) float64 { return 1 })[:3]); ok {
		t.Error("three samples judged bounded")
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
		pt("S4", "xdhcp", "x", "renew goodput %", 97, map[string]float64{"rss_bounded": 0, "rss_peak_mib": 80}),
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
	want := map[string]string{"S1": statusMet, "S2": statusNotMet, "S3": statusMet, "S4": statusNotMet, "S5": statusMet, "S7": statusMet}
	for sc, st := range want {
		if got[sc].Status != st {
			t.Errorf("%s: %+v, want %s", sc, got[sc], st)
		}
	}
	if !strings.Contains(got["S1"].Measured, "25.00×") || !strings.Contains(got["S2"].Note, "generator-limited") {
		t.Errorf("S1 %+v S2 %+v", got["S1"], got["S2"])
	}
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
