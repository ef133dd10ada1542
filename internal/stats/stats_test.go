package stats

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"
)

var update = flag.Bool("update", false, "rewrite golden files")

// fakeClock returns a registry whose read-time clock is controlled by the test.
func newTestRegistry(count int, age time.Duration) (*Registry, *time.Time) {
	r := New(count, age)
	now := time.Date(2026, 11, 21, 19, 21, 48, 858027000, time.Local)
	r.now = func() time.Time { return now }
	return r, &now
}

func values(s []Sample) []int64 {
	out := make([]int64, len(s))
	for i, x := range s {
		out[i] = x.Value
	}
	return out
}

func TestStatPadding(t *testing.T) {
	// The atomic must not share a cache line with anything another Stat writes.
	var s Stat
	off := unsafe.Offsetof(s.v)
	if off < cacheLine-8 || unsafe.Sizeof(s)-off-8 < cacheLine-8 {
		t.Fatalf("value at offset %d of %d bytes: not padded to a cache line", off, unsafe.Sizeof(s))
	}
}

func TestSampleJSON(t *testing.T) {
	ts := time.Date(2026, 11, 21, 19, 21, 48, 858027000, time.Local)
	b, err := json.Marshal([]Sample{{Value: 7, Time: ts}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `[[7,"2026-11-21 19:21:48.858027"]]`; got != want {
		t.Fatalf("marshal = %s, want %s", got, want)
	}
	var back []Sample
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back[0].Value != 7 || !back[0].Time.Equal(ts) {
		t.Fatalf("round trip = %+v", back[0])
	}
	for _, bad := range []string{`[1]`, `["x", "2026-11-21 19:21:48.858027"]`, `[1, "yesterday"]`, `{}`} {
		var s Sample
		if err := json.Unmarshal([]byte(bad), &s); err == nil {
			t.Errorf("unmarshal %s: want error", bad)
		}
	}
}

func TestSnapshotRecordsChangesOnly(t *testing.T) {
	r, now := newTestRegistry(20, 0)
	c := r.Counter("pkt4-received")
	t0 := *now
	r.Snapshot(t0)
	r.Snapshot(t0.Add(time.Second)) // unchanged: no new sample
	c.Add(3)
	r.Snapshot(t0.Add(2 * time.Second))
	c.Inc()
	// Changed since the last snapshot: Get must show the current value.
	*now = t0.Add(2500 * time.Millisecond)
	got, ok := r.Get("pkt4-received")
	if !ok {
		t.Fatal("Get: not found")
	}
	if want := []int64{4, 3, 0}; !reflect.DeepEqual(values(got), want) {
		t.Fatalf("values = %v, want %v", values(got), want)
	}
	if !got[0].Time.Equal(*now) || !got[1].Time.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("times = %v", got)
	}
	if _, ok := r.Get("nope"); ok {
		t.Fatal("Get of unknown statistic succeeded")
	}
}

func TestSampleCountAndAgeLimits(t *testing.T) {
	r, now := newTestRegistry(3, 0)
	g := r.Gauge("subnet[1].assigned-addresses")
	t0 := *now
	for i := int64(1); i <= 5; i++ {
		g.Set(i)
		r.Snapshot(t0.Add(time.Duration(i) * time.Second))
	}
	got, _ := r.Get(g.Name())
	if want := []int64{5, 4, 3}; !reflect.DeepEqual(values(got), want) {
		t.Fatalf("count-limited = %v, want %v", values(got), want)
	}
	if err := r.SetSampleCount(2); err != nil {
		t.Fatal(err)
	}
	got, _ = r.Get(g.Name())
	if want := []int64{5, 4}; !reflect.DeepEqual(values(got), want) {
		t.Fatalf("after SetSampleCount(2) = %v, want %v", values(got), want)
	}
	if err := r.SetSampleCount(0); err == nil {
		t.Fatal("SetSampleCount(0): want error")
	}
	// Age mode: keep samples within 2s of the newest.
	if err := r.SetSampleAge(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	for i := int64(6); i <= 9; i++ {
		g.Set(i)
		r.Snapshot(t0.Add(time.Duration(i) * time.Second))
	}
	got, _ = r.Get(g.Name())
	if want := []int64{9, 8, 7}; !reflect.DeepEqual(values(got), want) {
		t.Fatalf("age-limited = %v, want %v", values(got), want)
	}
	// A statistic created after SetSampleAge gets the new default.
	c := r.Counter("late")
	for i := int64(1); i <= 5; i++ {
		c.Inc()
		r.Snapshot(t0.Add(time.Duration(10+i) * time.Second))
	}
	got, _ = r.Get("late")
	if want := []int64{5, 4, 3}; !reflect.DeepEqual(values(got), want) {
		t.Fatalf("late stat = %v, want %v", values(got), want)
	}
	// Per-statistic limit.
	if ok, err := r.SetStatSampleCount("late", 1); !ok || err != nil {
		t.Fatalf("SetStatSampleCount = %v, %v", ok, err)
	}
	got, _ = r.Get("late")
	if want := []int64{5}; !reflect.DeepEqual(values(got), want) {
		t.Fatalf("late stat after per-stat limit = %v, want %v", values(got), want)
	}
	if ok, _ := r.SetStatSampleAge("missing", time.Second); ok {
		t.Fatal("SetStatSampleAge on unknown statistic reported ok")
	}
}

func TestResetAndRemove(t *testing.T) {
	r, _ := newTestRegistry(20, 0)
	c := r.Counter("pkt4-received")
	c.Add(5)
	var bpf int64 = 100
	r.Func("xdp-drop", KindCounter, func() int64 { return bpf })

	if !r.Reset("pkt4-received") || !r.Reset("xdp-drop") {
		t.Fatal("Reset of existing statistic returned false")
	}
	if r.Reset("nope") {
		t.Fatal("Reset of unknown statistic returned true")
	}
	if got, _ := r.Get("pkt4-received"); !reflect.DeepEqual(values(got), []int64{0}) {
		t.Fatalf("after reset = %v, want [0]", values(got))
	}
	bpf = 130 // computed stats count from the reset point
	if got, _ := r.Get("xdp-drop"); got[0].Value != 30 {
		t.Fatalf("computed after reset = %v, want 30 newest", values(got))
	}

	c.Add(2)
	if !r.Remove("pkt4-received") {
		t.Fatal("Remove returned false")
	}
	if _, ok := r.Get("pkt4-received"); ok {
		t.Fatal("removed statistic still reported")
	}
	if r.Remove("pkt4-received") {
		t.Fatal("second Remove returned true")
	}
	if _, ok := r.All()["pkt4-received"]; ok {
		t.Fatal("removed statistic in All")
	}
	// The next update brings it back, counting from zero as in Kea.
	c.Inc()
	got, ok := r.Get("pkt4-received")
	if !ok || !reflect.DeepEqual(values(got), []int64{1}) {
		t.Fatalf("re-created = %v, %v; want [1]", values(got), ok)
	}

	r.RemoveAll()
	if n := len(r.All()); n != 0 {
		t.Fatalf("after RemoveAll: %d statistics", n)
	}
	c.Add(4)
	r.ResetAll() // only visible statistics are reset
	if got := r.All(); len(got) != 1 || got["pkt4-received"][0].Value != 0 {
		t.Fatalf("after ResetAll = %v", got)
	}
}

func TestSameNameSameStat(t *testing.T) {
	r := New(0, 0)
	a, b := r.Counter("x"), r.Gauge("x")
	if a != b {
		t.Fatal("same name returned different *Stat")
	}
	r.Func("x", KindGauge, func() int64 { return 42 })
	a.Add(1) // detached now
	if got, _ := r.Get("x"); got[0].Value != 42 {
		t.Fatalf("Func did not replace the stat: %v", got)
	}
	if r.Counter("x") == a {
		t.Fatal("Counter after Func returned the detached stat")
	}
	r.Func("nil", KindCounter, nil)
	if _, ok := r.Get("nil"); ok {
		t.Fatal("nil Func registered")
	}
}

func TestConcurrentWritersAndReaders(t *testing.T) {
	r := New(5, 0)
	c := r.Counter("pkt4-received")
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 10000 {
				c.Inc()
			}
		})
	}
	wg.Go(func() {
		for i := range 200 {
			r.Snapshot(time.Unix(int64(i), 0))
			r.All()
			_ = r.WritePrometheus(&bytes.Buffer{})
		}
	})
	wg.Wait()
	if got, _ := r.Get("pkt4-received"); got[0].Value != 40000 {
		t.Fatalf("final = %d, want 40000", got[0].Value)
	}
}

func TestPromName(t *testing.T) {
	tests := []struct {
		in     string
		kind   Kind
		name   string
		labels []Label
	}{
		{"pkt4-received", KindCounter, "xdhcp_pkt4_received_total", nil},
		{"subnet[3].assigned-addresses", KindGauge, "xdhcp_subnet_assigned_addresses", []Label{{"subnet_id", "3"}}},
		// Nested indices each become a label (Kea 2.4+ pool statistics).
		{"subnet[3].pool[0].assigned-addresses", KindGauge, "xdhcp_subnet_pool_assigned_addresses",
			[]Label{{"subnet_id", "3"}, {"pool_id", "0"}}},
		// Malformed brackets are not labels; odd characters are sanitized.
		{"weird[name", KindGauge, "xdhcp_weird_name", nil},
		{"[1].x", KindCounter, "xdhcp_1_x_total", nil},
		// xdhcp's own statistics do not repeat the prefix.
		{"xdhcp-lease-file-syncs", KindCounter, "xdhcp_lease_file_syncs_total", nil},
	}
	for _, tt := range tests {
		name, labels, _ := promName(tt.in, tt.kind)
		if name != tt.name || !reflect.DeepEqual(labels, tt.labels) {
			t.Errorf("promName(%q) = %q %v, want %q %v", tt.in, name, labels, tt.name, tt.labels)
		}
	}
}

func TestWritePrometheusGolden(t *testing.T) {
	r := New(20, 0)
	r.Counter("pkt4-received").Add(7)
	r.Counter("pkt4-ack-sent").Add(3)
	for _, id := range []string{"10", "2", "1"} {
		r.Gauge("subnet[" + id + "].assigned-addresses").Set(int64(len(id)) * 5)
		r.Gauge("subnet[" + id + "].total-addresses").Set(254)
		r.Counter("subnet[" + id + "].cumulative-assigned-addresses").Add(9)
	}
	r.Func("xdp-dropped-rate-limit", KindCounter, func() int64 { return 1234 })
	r.Counter("xdhcp-lease-file-syncs").Add(2)
	// Split per queue: /metrics shows the split, not the sum.
	r.Func("fastpath-rx-frames", KindCounter, func() int64 { return 30 })
	r.SetLabeled("fastpath-rx-frames", KindCounter, []LabeledFunc{
		{Labels: []Label{{"iface", "eth0"}, {"queue", "1"}}, Fn: func() int64 { return 20 }},
		{Labels: []Label{{"iface", "eth0"}, {"queue", "0"}}, Fn: func() int64 { return 10 }},
	})
	r.Gauge(`odd["quoted"].value`).Set(-1)
	removed := r.Counter("removed")
	removed.Add(1)
	r.Remove("removed")

	var buf bytes.Buffer
	if err := r.WritePrometheus(&buf); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "prometheus.golden")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("output differs from %s (run with -update after checking):\n%s", golden, buf.String())
	}
	// Deterministic: a second scrape is byte-identical.
	var again bytes.Buffer
	_ = r.WritePrometheus(&again)
	if !bytes.Equal(again.Bytes(), buf.Bytes()) {
		t.Fatal("second scrape differs")
	}
}

func TestExpositionRefusesDuplicateFamily(t *testing.T) {
	var buf bytes.Buffer
	e := NewExposition(&buf)
	if !e.Family("a_total", KindCounter, "A.") {
		t.Fatal("first family refused")
	}
	e.Int("", nil, 1)
	if e.Family("a_total", KindCounter, "A.") {
		t.Fatal("second family a_total accepted")
	}
	e.Samples("b_total 2\n")
	if err := e.Flush(); err == nil {
		t.Fatal("Flush: no error after a duplicate family and a stray series")
	}
}

func TestLabeledSeriesStayOutOfKeaView(t *testing.T) {
	r := New(20, 0)
	r.Func("fastpath-rx-frames", KindCounter, func() int64 { return 3 })
	r.SetLabeled("fastpath-rx-frames", KindCounter, []LabeledFunc{
		{Labels: []Label{{"queue", "0"}}, Fn: func() int64 { return 3 }},
	})
	all := r.All()
	if len(all) != 1 || all["fastpath-rx-frames"][0].Value != 3 {
		t.Fatalf("Kea view %v, want only the sum fastpath-rx-frames=3", all)
	}
	r.SetLabeled("fastpath-rx-frames", KindCounter, nil)
	var buf bytes.Buffer
	_ = r.WritePrometheus(&buf)
	if !strings.Contains(buf.String(), "xdhcp_fastpath_rx_frames_total 3\n") {
		t.Fatalf("after removing the split, /metrics lacks the sum:\n%s", buf.String())
	}
}

func TestWriteRuntime(t *testing.T) {
	var buf bytes.Buffer
	e := NewExposition(&buf)
	WriteRuntime(e)
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	text := buf.String()
	for _, series := range []string{"go_goroutines ", "process_open_fds ", "process_resident_memory_bytes ",
		"process_cpu_seconds_total ", "go_gc_duration_seconds_count ", "process_start_time_seconds "} {
		if !strings.Contains(text, "\n"+series) {
			t.Errorf("runtime series lack %s:\n%s", series, text)
		}
	}
	if promtool, err := exec.LookPath("promtool"); err == nil {
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(text)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	}
}
