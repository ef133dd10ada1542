// Package stats is the server's statistics registry, modelled on Kea's
// StatsMgr: named integer statistics, each with a bounded history of
// timestamped samples, reported by the statistic-* control commands and
// exported to Prometheus.
//
// Writers (packet workers) touch only a *Stat, a cache-line padded atomic
// obtained once at setup; they never take the registry lock. The registry
// turns values into samples lazily: Snapshot (called by the daemon once a
// second) and every read record a sample for each statistic whose value moved
// since its last sample, so the history has at most one sample per change and
// per second under load, instead of one per packet as in Kea.
package stats

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Sentinel errors.
var (
	// ErrInvalidLimit is returned when a sample count or age limit cannot work.
	ErrInvalidLimit = errors.New("invalid sample limit")
)

// Kind says how a statistic behaves, which matters for Prometheus export.
type Kind uint8

const (
	// KindCounter only goes up (between resets), e.g. pkt4-received.
	KindCounter Kind = iota
	// KindGauge goes up and down, e.g. subnet[1].assigned-addresses.
	KindGauge
	// KindHistogram and KindSummary are Prometheus families of several
	// series (buckets or quantiles, sum, count); they are never Kea
	// statistics.
	KindHistogram
	KindSummary
)

// String returns the Prometheus type name of the kind.
func (k Kind) String() string {
	switch k {
	case KindGauge:
		return "gauge"
	case KindHistogram:
		return "histogram"
	case KindSummary:
		return "summary"
	}
	return "counter"
}

// cacheLine is the assumed cache line size; padding both sides of the value
// keeps two hot counters off one line whatever the struct's alignment.
const cacheLine = 64

// Stat is one writable statistic. Its methods are safe for concurrent use
// and never allocate or lock, so they may be called per packet.
type Stat struct {
	_    [cacheLine - 8]byte
	v    atomic.Int64
	_    [cacheLine - 8]byte
	name string
}

// Add adds d to the value.
func (s *Stat) Add(d int64) { s.v.Add(d) }

// Inc adds one to the value.
func (s *Stat) Inc() { s.v.Add(1) }

// Set stores v as the value (gauges).
func (s *Stat) Set(v int64) { s.v.Store(v) }

// Load returns the current value.
func (s *Stat) Load() int64 { return s.v.Load() }

// Name returns the Kea statistic name, e.g. "pkt4-received".
func (s *Stat) Name() string { return s.name }

// Sample is one timestamped value. It marshals as Kea does:
// [7,"2026-11-21 19:21:48.858027"].
type Sample struct {
	Value int64
	Time  time.Time
}

// TimeLayout is Kea's sample timestamp format (local time, microseconds).
const TimeLayout = "2006-01-02 15:04:05.000000"

// MarshalJSON encodes the sample as a two-element JSON list (compact:
// encoding/json re-compacts it anyway).
func (s Sample) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 48)
	b = append(b, '[')
	b = fmt.Appendf(b, "%d", s.Value)
	b = append(b, ',', '"')
	b = s.Time.AppendFormat(b, TimeLayout)
	b = append(b, '"', ']')
	return b, nil
}

// UnmarshalJSON decodes Kea's [value, "timestamp"] form (timestamps are read
// as local time, which is how Kea writes them).
func (s *Sample) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("decode sample: %w", err)
	}
	if len(raw) != 2 {
		return fmt.Errorf("decode sample: want [value, time], got %d elements", len(raw))
	}
	var v int64
	if err := json.Unmarshal(raw[0], &v); err != nil {
		return fmt.Errorf("decode sample value: %w", err)
	}
	var ts string
	if err := json.Unmarshal(raw[1], &ts); err != nil {
		return fmt.Errorf("decode sample time: %w", err)
	}
	t, err := time.ParseInLocation(TimeLayout, ts, time.Local)
	if err != nil {
		return fmt.Errorf("decode sample time: %w", err)
	}
	s.Value, s.Time = v, t
	return nil
}

// limit bounds one statistic's history. As in Kea, exactly one of the two
// bounds is active: the one set last.
type limit struct {
	count int           // > 0: keep at most count samples
	age   time.Duration // used when count == 0: keep samples newer than age
}

// entry is the registry's record of one statistic.
type entry struct {
	name string
	kind Kind
	stat *Stat        // nil for computed statistics
	fn   func() int64 // computed statistics
	base int64        // fn statistics: value at the last reset, subtracted
	lim  limit        // history bound
	hist []Sample     // oldest first
	// hidden is set by Remove: the statistic is not reported until its value
	// differs from zero again (Kea re-creates a removed statistic on the next
	// update).
	hidden bool
}

// gone reports whether the statistic was removed and not updated since, so
// that it does not exist for reports and commands.
func (e *entry) gone() bool { return e.hidden && e.value() == 0 }

// update applies f, under the lock, to the statistic called name if it
// exists for reports and commands, and reports whether it did.
func (r *Registry) update(name string, f func(*entry)) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.entries[name]
	if !ok || e.gone() {
		return false
	}
	f(e)
	return true
}

// value returns the statistic's current value.
func (e *entry) value() int64 {
	if e.stat != nil {
		return e.stat.Load()
	}
	return e.fn() - e.base
}

// Registry holds the statistics. All methods are safe for concurrent use.
type Registry struct {
	mu      sync.Mutex
	entries map[string]*entry
	labeled map[string]labeledFamily // Prometheus-only split series, by statistic name
	def     limit                    // limit given to new statistics
	now     func() time.Time         // clock, replaceable in tests
}

// New returns an empty registry. sampleCount and sampleAge are Kea's
// statistic-default-sample-count and -age: a non-zero count takes precedence
// (Kea's rule); with a zero count the age bound applies. If both are zero the
// Kea default of 20 samples is used.
func New(sampleCount int, sampleAge time.Duration) *Registry {
	def := limit{count: sampleCount, age: sampleAge}
	if def.count < 0 {
		def.count = 0
	}
	if def.count == 0 && def.age <= 0 {
		def.count = 20
	}
	return &Registry{entries: make(map[string]*entry), labeled: make(map[string]labeledFamily), def: def, now: time.Now}
}

// Counter returns the counter named name, creating it with value 0. It is
// meant for setup, not for the packet path. The same name always yields the
// same *Stat; the kind is fixed by the first registration. If name was a
// computed statistic (Func), it becomes a plain one.
func (r *Registry) Counter(name string) *Stat { return r.stat(name, KindCounter) }

// Gauge returns the gauge named name, creating it with value 0; see Counter.
func (r *Registry) Gauge(name string) *Stat { return r.stat(name, KindGauge) }

func (r *Registry) stat(name string, kind Kind) *Stat {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.entries[name]; ok {
		if e.stat == nil {
			e.stat, e.fn, e.base = &Stat{name: name}, nil, 0
			e.hist = e.hist[:0]
		}
		return e.stat
	}
	e := &entry{name: name, kind: kind, stat: &Stat{name: name}, lim: r.def}
	r.entries[name] = e
	return e.stat
}

// Func registers a statistic whose value is computed when read, e.g. BPF
// per-CPU counters summed over CPUs. fn must be safe for concurrent use, must
// be cheap, and must not call the Registry (it runs under its lock). A later
// Func or Counter/Gauge with the same name replaces it; a *Stat previously
// returned for that name is then no longer reported.
func (r *Registry) Func(name string, kind Kind, fn func() int64) {
	if fn == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.entries[name]
	if !ok {
		e = &entry{name: name, lim: r.def}
		r.entries[name] = e
	}
	e.kind, e.stat, e.fn, e.base, e.hidden = kind, nil, fn, 0, false
	e.hist = e.hist[:0]
}

// record appends the current value as a sample if the history is empty or
// the value moved, then trims the history to its limit. It reports whether
// the statistic is visible.
func (e *entry) record(now time.Time) bool {
	v := e.value()
	if e.hidden {
		if v == 0 {
			return false
		}
		e.hidden = false
	}
	if n := len(e.hist); n == 0 || e.hist[n-1].Value != v {
		e.hist = append(e.hist, Sample{Value: v, Time: now})
	}
	e.trim()
	return true
}

// trim enforces the history limit. Like Kea, the age bound is measured from
// the newest sample, so the newest sample is always kept.
func (e *entry) trim() {
	n := len(e.hist)
	drop := 0
	if e.lim.count > 0 {
		if n > e.lim.count {
			drop = n - e.lim.count
		}
	} else if n > 0 {
		newest := e.hist[n-1].Time
		for drop < n-1 && newest.Sub(e.hist[drop].Time) > e.lim.age {
			drop++
		}
	}
	if drop > 0 {
		// Shift in place so the backing array is reused.
		m := copy(e.hist, e.hist[drop:])
		clear(e.hist[m:])
		e.hist = e.hist[:m]
	}
}

// newestFirst returns a copy of the history, newest sample first.
func (e *entry) newestFirst() []Sample {
	out := make([]Sample, len(e.hist))
	for i, s := range e.hist {
		out[len(out)-1-i] = s
	}
	return out
}

// Snapshot records a sample, stamped now, for every statistic whose value
// changed since its last sample. The daemon calls it once a second.
func (r *Registry) Snapshot(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.entries {
		e.record(now)
	}
}

// Get returns the samples of one statistic, newest first. The current value
// is always the newest sample. ok is false if there is no such statistic.
func (r *Registry) Get(name string) (samples []Sample, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.entries[name]
	if !ok || !e.record(r.now()) {
		return nil, false
	}
	return e.newestFirst(), true
}

// All returns the samples of every statistic, newest first.
func (r *Registry) All() map[string][]Sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	out := make(map[string][]Sample, len(r.entries))
	for name, e := range r.entries {
		if e.record(now) {
			out[name] = e.newestFirst()
		}
	}
	return out
}

// Names returns the names of the reported statistics, sorted.
func (r *Registry) Names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	out := make([]string, 0, len(r.entries))
	for name, e := range r.entries {
		if e.record(now) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// reset sets the value to zero and restarts the history with one sample,
// as Kea's statistic-reset does.
func (e *entry) reset(now time.Time) {
	if e.stat != nil {
		e.stat.Set(0)
	} else {
		e.base = e.fn()
	}
	e.hist = append(e.hist[:0], Sample{Value: 0, Time: now})
}

// Reset sets one statistic to zero (statistic-reset). A computed statistic
// is reset by remembering its current value as the new zero. It reports
// whether the statistic exists.
func (r *Registry) Reset(name string) bool {
	return r.update(name, func(e *entry) {
		e.hidden = false
		e.reset(r.now())
	})
}

// ResetAll sets every statistic to zero (statistic-reset-all).
func (r *Registry) ResetAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	for _, e := range r.entries {
		if e.gone() {
			continue
		}
		e.hidden = false
		e.reset(now)
	}
}

// remove hides the statistic and zeroes it: writers keep their *Stat, so
// the statistic comes back (from zero) on its next update, like a removed
// Kea statistic re-created by the next packet.
func (e *entry) remove() {
	if e.stat != nil {
		e.stat.Set(0)
	} else {
		e.base = e.fn()
	}
	e.hist = e.hist[:0]
	e.hidden = true
}

// Remove deletes one statistic from reports (statistic-remove). It reports
// whether the statistic existed.
func (r *Registry) Remove(name string) bool {
	return r.update(name, (*entry).remove)
}

// RemoveAll deletes every statistic from reports (statistic-remove-all).
func (r *Registry) RemoveAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.entries {
		e.remove()
	}
}

// SetSampleCount bounds every statistic's history, and that of statistics
// created later, to n samples (statistic-sample-count-set-all). n must be
// positive.
func (r *Registry) SetSampleCount(n int) error {
	if n <= 0 {
		return fmt.Errorf("sample count %d: %w: must be positive", n, ErrInvalidLimit)
	}
	r.setAll(limit{count: n})
	return nil
}

// SetSampleAge bounds every statistic's history, and that of statistics
// created later, to samples younger than d relative to the newest one
// (statistic-sample-age-set-all). d must be positive.
func (r *Registry) SetSampleAge(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("sample age %s: %w: must be positive", d, ErrInvalidLimit)
	}
	r.setAll(limit{age: d})
	return nil
}

func (r *Registry) setAll(l limit) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.def = l
	for _, e := range r.entries {
		e.lim = l
		e.trim()
	}
}

// SetStatSampleCount bounds one statistic's history to n samples
// (statistic-sample-count-set). It reports false if there is no such
// statistic.
func (r *Registry) SetStatSampleCount(name string, n int) (bool, error) {
	if n <= 0 {
		return false, fmt.Errorf("sample count %d: %w: must be positive", n, ErrInvalidLimit)
	}
	return r.setOne(name, limit{count: n}), nil
}

// SetStatSampleAge bounds one statistic's history by age
// (statistic-sample-age-set). It reports false if there is no such
// statistic.
func (r *Registry) SetStatSampleAge(name string, d time.Duration) (bool, error) {
	if d <= 0 {
		return false, fmt.Errorf("sample age %s: %w: must be positive", d, ErrInvalidLimit)
	}
	return r.setOne(name, limit{age: d}), nil
}

func (r *Registry) setOne(name string, l limit) bool {
	return r.update(name, func(e *entry) {
		e.lim = l
		e.trim()
	})
}
