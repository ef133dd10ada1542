package loadgen

import (
	"math"
	"math/bits"
	"time"
)

// Histogram layout: values are nanoseconds, grouped by power of two
// ("octave") with histSub linear sub-buckets per octave, as HdrHistogram
// does. The relative error of a percentile is at most 1/histSub (6.25%),
// which is finer than the run-to-run noise of any latency we measure.
const (
	histSubBits = 4
	histSub     = 1 << histSubBits
	// histMinBits: values below 2^histMinBits ns (1.024 µs) share the first
	// octave's linear buckets; nothing on a veth answers faster.
	histMinBits = 10
	// histOctaves covers up to 2^(histMinBits+histOctaves) ns, about 140 s;
	// larger values land in the last bucket.
	histOctaves = 28
	histBuckets = (histOctaves + 1) * histSub
)

// Histogram is a fixed-size, allocation-free latency histogram with
// logarithmic buckets. The zero value is empty and ready to use. It is not
// safe for concurrent use: one goroutine (the generator's engine) records.
type Histogram struct {
	counts [histBuckets]uint64
	n      uint64
	sum    uint64
	min    int64
	max    int64
}

// bucketOf maps a value in nanoseconds to its bucket index.
func bucketOf(v int64) int {
	if v < 0 {
		v = 0
	}
	u := uint64(v)
	if u < 1<<histMinBits {
		// Linear region: histSub buckets of 2^(histMinBits-histSubBits) ns.
		return int(u >> (histMinBits - histSubBits))
	}
	msb := bits.Len64(u) - 1 // >= histMinBits
	oct := msb - histMinBits + 1
	if oct > histOctaves {
		return histBuckets - 1
	}
	sub := int(u>>(msb-histSubBits)) & (histSub - 1)
	return oct*histSub + sub
}

// bucketBounds returns the smallest value of bucket i and the smallest value
// of the next bucket.
func bucketBounds(i int) (lo, hi int64) {
	oct, sub := i/histSub, i%histSub
	if oct == 0 {
		w := int64(1) << (histMinBits - histSubBits)
		return int64(sub) * w, int64(sub+1) * w
	}
	msb := oct + histMinBits - 1
	w := int64(1) << (msb - histSubBits)
	lo = int64(1)<<msb + int64(sub)*w
	return lo, lo + w
}

// Record adds one value.
func (h *Histogram) Record(d time.Duration) {
	v := int64(d)
	if v < 0 {
		v = 0
	}
	h.counts[bucketOf(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += uint64(v)
}

// Count is the number of values recorded.
func (h *Histogram) Count() uint64 { return h.n }

// Max is the largest value recorded (exact), 0 if none.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Mean is the exact mean of the recorded values, 0 if none.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / h.n)
}

// Quantile returns the value below which a fraction q (0..1) of the
// recorded values lie: the midpoint of the bucket holding the value of rank
// ceil(q*n), clamped to the exact minimum and maximum; the first and
// last ranks are the exact minimum and maximum. It returns 0 when
// the histogram is empty.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	q = min(max(q, 0), 1)
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = max(rank, 1)
	if rank == 1 {
		return time.Duration(h.min)
	}
	if rank >= h.n {
		return time.Duration(h.max)
	}
	var cum uint64
	for i := range h.counts {
		cum += h.counts[i]
		if cum >= rank {
			lo, hi := bucketBounds(i)
			mid := lo + (hi-lo)/2
			return time.Duration(min(max(mid, h.min), h.max))
		}
	}
	return time.Duration(h.max)
}

// Merge adds the values of o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}

// Reset empties the histogram.
func (h *Histogram) Reset() { *h = Histogram{} }

// Percentiles is the JSON summary of a histogram, in milliseconds.
type Percentiles struct {
	Count  uint64  `json:"count"`
	MeanMs float64 `json:"mean_ms"`
	P50Ms  float64 `json:"p50_ms"`
	P99Ms  float64 `json:"p99_ms"`
	P999Ms float64 `json:"p99_9_ms"`
	MaxMs  float64 `json:"max_ms"`
}

// Summary returns the count, mean, p50, p99, p99.9 and max of h.
func (h *Histogram) Summary() Percentiles {
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	return Percentiles{
		Count:  h.n,
		MeanMs: ms(h.Mean()),
		P50Ms:  ms(h.Quantile(0.50)),
		P99Ms:  ms(h.Quantile(0.99)),
		P999Ms: ms(h.Quantile(0.999)),
		MaxMs:  ms(h.Max()),
	}
}
