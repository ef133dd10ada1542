package bench

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// fakeServer answers probes as a server whose true knee is knee, behind a
// generator that cannot offer more than genMax (0: unlimited).
type fakeServer struct {
	knee, genMax float64
	rates        []float64
}

func (f *fakeServer) probe(_ context.Context, _ string, rate float64) (Probe, error) {
	f.rates = append(f.rates, rate)
	offered := rate
	p := Probe{}
	if f.genMax > 0 && rate > f.genMax {
		offered = f.genMax
		p.GenSaturated = true
	}
	p.Offered = offered
	p.Achieved = min(offered, f.knee)
	if offered > f.knee {
		p.LossPct = 100 * (offered - f.knee) / offered
	}
	return p, nil
}

func TestKneeSearchBrackets(t *testing.T) {
	for _, knee := range []float64{700, 1000, 2900, 12345, 99000} {
		f := &fakeServer{knee: knee}
		o := KneeOptions{Start: 1000, Max: 1e6, Resolution: 0.05, LossLimit: 1, MaxProbes: 30}
		res, err := searchKnees(context.Background(), []string{"x"}, sameOptions(o), f.probe)
		if err != nil {
			t.Fatal(err)
		}
		ks := res["x"]
		// A rate up to 1% above the knee loses under 1%: it passes.
		if ks.Knee > knee*1.0102 || ks.Knee < knee/1.06 {
			t.Errorf("knee %v: found %v (%s), probes %v", knee, ks.Knee, ks.Ended, f.rates)
		}
		if !strings.HasPrefix(ks.Ended, "bracketed") {
			t.Errorf("knee %v: ended %q", knee, ks.Ended)
		}
		if len(ks.Probes) != len(f.rates) || len(ks.Probes) > 16 {
			t.Errorf("knee %v: %d probes recorded, %d run", knee, len(ks.Probes), len(f.rates))
		}
		for i, p := range ks.Probes {
			if p.Requested != f.rates[i] || p.Pass != (p.LossPct < 1 && p.Achieved >= 0.95*p.Offered) {
				t.Errorf("probe %d: %+v for rate %v", i, p, f.rates[i])
			}
		}
	}
}

func TestKneeSearchGeneratorLimit(t *testing.T) {
	f := &fakeServer{knee: 1e9, genMax: 5000}
	res, err := searchKnees(context.Background(), []string{"x"}, sameOptions(KneeOptions{Start: 1000, Max: 1e6, MaxProbes: 30}), f.probe)
	if err != nil {
		t.Fatal(err)
	}
	ks := res["x"]
	if !strings.HasPrefix(ks.Ended, "generator limit") || ks.Knee != 8000 {
		t.Errorf("ended %q knee %v probes %v", ks.Ended, ks.Knee, f.rates)
	}
}

func TestKneeSearchBounds(t *testing.T) {
	// Failing everywhere: halve to Min, then stop with no knee.
	f := &fakeServer{knee: 10}
	res, _ := searchKnees(context.Background(), []string{"x"}, sameOptions(KneeOptions{Start: 1000, Min: 200, Max: 1e6}), f.probe)
	if ks := res["x"]; ks.Knee != 0 || !strings.HasPrefix(ks.Ended, "over 1% loss even at 250") {
		t.Errorf("all fail: knee %v ended %q probes %v", ks.Knee, ks.Ended, f.rates)
	}
	// Never failing: stop at Max.
	f = &fakeServer{knee: 1e9}
	res, _ = searchKnees(context.Background(), []string{"x"}, sameOptions(KneeOptions{Start: 1000, Max: 10000}), f.probe)
	if ks := res["x"]; ks.Knee != 8000 || !strings.HasPrefix(ks.Ended, "under 1% loss up to") {
		t.Errorf("never fails: knee %v ended %q", ks.Knee, ks.Ended)
	}
	// The probe limit ends the bisection early, saying so.
	f = &fakeServer{knee: 12345}
	res, _ = searchKnees(context.Background(), []string{"x"}, sameOptions(KneeOptions{Start: 1000, Max: 1e6, MaxProbes: 6}), f.probe)
	if ks := res["x"]; len(f.rates) != 6 || !strings.HasPrefix(ks.Ended, "probe limit") || ks.Knee != 12000 {
		t.Errorf("probe limit: knee %v ended %q probes %v", ks.Knee, ks.Ended, f.rates)
	}
	// The time budget too.
	f = &fakeServer{knee: 12345}
	res, _ = searchKnees(context.Background(), []string{"x"}, sameOptions(KneeOptions{Start: 1000, Max: 1e6, Budget: time.Nanosecond}), f.probe)
	if ks := res["x"]; len(f.rates) != 1 || !strings.HasPrefix(ks.Ended, "time budget") {
		t.Errorf("budget: ended %q probes %v", ks.Ended, f.rates)
	}
}

func TestKneeSearchInterleavesAndReportsErrors(t *testing.T) {
	var order []string
	boom := errors.New("boom")
	probe := func(_ context.Context, srv string, rate float64) (Probe, error) {
		order = append(order, srv)
		if srv == "kea" && rate > 1000 {
			return Probe{}, boom
		}
		return Probe{Offered: rate, Achieved: rate}, nil
	}
	res, err := searchKnees(context.Background(), []string{"xdhcp", "kea"}, sameOptions(KneeOptions{Start: 1000, Max: 4000}), probe)
	if !errors.Is(err, boom) {
		t.Fatalf("err %v, want the probe's error", err)
	}
	if strings.Join(order[:4], " ") != "xdhcp kea xdhcp kea" {
		t.Errorf("order %v: not interleaved", order)
	}
	if res["kea"].Knee != 1000 || !strings.HasPrefix(res["kea"].Ended, "probe failed") || res["xdhcp"].Knee != 4000 {
		t.Errorf("kea %+v xdhcp %+v", res["kea"], res["xdhcp"])
	}
}

// A server that queues (no loss yet, completions lagging the offered rate)
// is past its knee.
func TestKneeSearchQueueingFails(t *testing.T) {
	probe := func(_ context.Context, _ string, rate float64) (Probe, error) {
		return Probe{Offered: rate, Achieved: min(rate, 3000)}, nil
	}
	res, err := searchKnees(context.Background(), []string{"x"}, sameOptions(KneeOptions{Start: 1000, Max: 1e6}), probe)
	if err != nil {
		t.Fatal(err)
	}
	if ks := res["x"]; ks.Knee < 3000/1.06 || ks.Knee > 3000/0.95 {
		t.Errorf("knee %v (%s), want about 3000", ks.Knee, ks.Ended)
	}
}

// A search started at a known knee with a small step brackets it in fewer
// probes than one doubling from far below.
func TestKneeSearchReseeded(t *testing.T) {
	f := &fakeServer{knee: 41000}
	o := KneeOptions{Start: 2000, Max: 1e6, Resolution: 0.03, LossLimit: 1, MaxProbes: 30}
	first, _ := searchKnees(context.Background(), []string{"x"}, sameOptions(o), f.probe)
	o.Start, o.Step = first["x"].Knee, reseedStep
	f2 := &fakeServer{knee: 41000}
	again, _ := searchKnees(context.Background(), []string{"x"}, sameOptions(o), f2.probe)
	for _, ks := range []*KneeSearch{first["x"], again["x"]} {
		if ks.Knee > 41000*1.0102 || ks.Knee < 41000/1.04 || !strings.HasPrefix(ks.Ended, "bracketed") {
			t.Fatalf("knee %v (%s), want 41000 within 3%%", ks.Knee, ks.Ended)
		}
	}
	if len(f2.rates) >= len(f.rates) || f2.rates[1] != math.Round(first["x"].Knee*reseedStep) {
		t.Fatalf("reseeded search probed %v, the first %v", f2.rates, f.rates)
	}
	// The knee slid below the seed: the search steps down by the same factor.
	f3 := &fakeServer{knee: 30000}
	down, _ := searchKnees(context.Background(), []string{"x"}, sameOptions(o), f3.probe)
	if f3.rates[1] != math.Round(o.Start/reseedStep) || down["x"].Knee > 30000*1.0102 || down["x"].Knee < 30000/1.04 {
		t.Fatalf("knee below the seed: probed %v, found %v", f3.rates, down["x"].Knee)
	}
}

func TestMedianKnee(t *testing.T) {
	for _, tt := range []struct {
		ks   []float64
		want float64
	}{{nil, 0}, {[]float64{5}, 5}, {[]float64{40, 32, 36}, 36}, {[]float64{40, 32}, 32}, {[]float64{0, 30, 31}, 30}} {
		if got := medianKnee(tt.ks); got != tt.want {
			t.Errorf("medianKnee(%v) = %v, want %v", tt.ks, got, tt.want)
		}
	}
}
