package loadgen

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestHistogramPercentiles(t *testing.T) {
	var h Histogram
	if h.Quantile(0.5) != 0 || h.Count() != 0 {
		t.Fatal("empty histogram not zero")
	}
	// Log-normal latencies around 1 ms, compared with exact percentiles.
	rng := rand.New(rand.NewPCG(1, 2))
	vals := make([]time.Duration, 100000)
	for i := range vals {
		vals[i] = time.Duration(math.Exp(rng.NormFloat64()*1.2) * 1e6)
		h.Record(vals[i])
	}
	slices.Sort(vals)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		exact := vals[int(math.Ceil(q*float64(len(vals))))-1]
		got := h.Quantile(q)
		if rel := math.Abs(float64(got-exact)) / float64(exact); rel > 1.0/histSub {
			t.Errorf("q%.3f = %v, exact %v (error %.1f%%)", q, got, exact, 100*rel)
		}
	}
	if h.Max() != vals[len(vals)-1] || h.Quantile(1) != vals[len(vals)-1] {
		t.Errorf("max %v q1 %v, want %v", h.Max(), h.Quantile(1), vals[len(vals)-1])
	}
}

func TestHistogramEdges(t *testing.T) {
	var h Histogram
	h.Record(-5)               // clamped to 0
	h.Record(300)              // linear region
	h.Record(1000 * time.Hour) // beyond the last octave
	if h.Count() != 3 || h.Quantile(0) != 0 || h.Max() != 1000*time.Hour {
		t.Fatalf("count %d q0 %v max %v", h.Count(), h.Quantile(0), h.Max())
	}
	var o Histogram
	o.Record(time.Millisecond)
	h.Merge(&o)
	if h.Count() != 4 {
		t.Fatal("merge lost a value")
	}
	h.Reset()
	if h.Count() != 0 || h.Max() != 0 {
		t.Fatal("reset")
	}
	// Bucket bounds are contiguous and increasing.
	var prevHi int64
	for i := range histBuckets {
		lo, hi := bucketBounds(i)
		if lo != prevHi || hi <= lo {
			t.Fatalf("bucket %d [%d,%d) after %d", i, lo, hi, prevHi)
		}
		if i < histBuckets-1 && (bucketOf(lo) != i || bucketOf(hi-1) != i) {
			t.Fatalf("bucketOf disagrees with bounds at %d", i)
		}
		prevHi = hi
	}
}

func TestHistogramRecordAllocs(t *testing.T) {
	var h Histogram
	if n := testing.AllocsPerRun(1000, func() { h.Record(1234567); _ = h.Quantile(0.99) }); n != 0 {
		t.Fatalf("%v allocations per Record+Quantile", n)
	}
}

func TestTokenBucketRate(t *testing.T) {
	// Simulated clock with jittery ticks of 0.5..3 ms for 10 s at 12345/s.
	rng := rand.New(rand.NewPCG(3, 4))
	b := NewTokenBucket(12345, 12345*0.02)
	var now time.Duration
	total := b.Take(now)
	for now < 10*time.Second {
		now += time.Duration(500+rng.IntN(2500)) * time.Microsecond
		total += b.Take(now)
	}
	want := 12345 * now.Seconds()
	if math.Abs(float64(total)-want) > 2 {
		t.Fatalf("%d tokens in %v, want %.0f", total, now, want)
	}
	// A stall longer than the burst loses the excess instead of bursting.
	got := b.Take(now + time.Second)
	if got > 247 {
		t.Fatalf("burst of %d after a stall", got)
	}
}

func TestTokenBucketRealClock(t *testing.T) {
	b := NewTokenBucket(5000, 100)
	start := time.Now()
	b.Take(0)
	total := 0
	for time.Since(start) < 300*time.Millisecond {
		time.Sleep(time.Millisecond)
		total += b.Take(time.Since(start))
	}
	el := time.Since(start).Seconds()
	if rel := math.Abs(float64(total)-5000*el) / (5000 * el); rel > 0.03 {
		t.Fatalf("%d tokens in %.3fs, want %.0f", total, el, 5000*el)
	}
}

func TestRingAndHeap(t *testing.T) {
	r := newRing(3)
	for i := range uint32(3) {
		if !r.push(i) {
			t.Fatal("push")
		}
	}
	if r.push(9) {
		t.Fatal("push into a full ring")
	}
	for i := range uint32(3) {
		if v, ok := r.pop(); !ok || v != i {
			t.Fatalf("pop %d %v", v, ok)
		}
	}
	if _, ok := r.pop(); ok {
		t.Fatal("pop from empty ring")
	}
	var h timerHeap
	rng := rand.New(rand.NewPCG(5, 6))
	for range 1000 {
		h.push(timerEntry{at: rng.Int64N(1e6)})
	}
	prev := int64(-1)
	for len(h) > 0 {
		e := h.pop()
		if e.at < prev {
			t.Fatalf("heap order %d after %d", e.at, prev)
		}
		prev = e.at
	}
}
