package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// KneeOptions bound a knee search: the highest offered rate a server
// serves with less than LossLimit percent of its exchanges lost.
type KneeOptions struct {
	// Start is the first rate tried; Min and Max bound the rates tried.
	Start, Min, Max float64
	// Step is the factor between probes until one passes and one fails
	// (default 2: doubling up, halving down). A search started at a known
	// knee takes a smaller one.
	Step float64
	// Resolution ends the bisection when (fail-pass)/pass is at most this
	// (0.05: the knee is known to 5%).
	Resolution float64
	// LossLimit is the loss, in percent, at which a probe fails (1).
	LossLimit float64
	// MaxProbes and Budget bound the search's probes and wall time.
	MaxProbes int
	Budget    time.Duration
}

// Probe is one run of a knee search.
type Probe struct {
	// Requested is the rate asked of the generator; Offered the rate it
	// achieved in starting exchanges; Achieved the completed exchanges
	// per second.
	Requested float64 `json:"requested"`
	Offered   float64 `json:"offered"`
	Achieved  float64 `json:"achieved"`
	LossPct   float64 `json:"loss_pct"`
	// P99Ms is the 99th percentile of the DORA latency.
	P99Ms float64 `json:"dora_p99_ms"`
	// GenCPUPct and GenSaturated describe the generator in this probe;
	// GenNotes say why it counts as saturated.
	GenCPUPct    float64  `json:"gen_cpu_pct"`
	GenSaturated bool     `json:"gen_saturated"`
	GenNotes     []string `json:"gen_notes,omitempty"`
	// Pass is true when the loss stayed under the limit and the achieved
	// rate kept up with the offered one (95%).
	Pass bool `json:"pass"`
}

// KneeSearch is the record of one server's search.
type KneeSearch struct {
	Scenario string `json:"scenario"`
	Server   string `json:"server"`
	Driver   string `json:"driver"`
	// Search numbers the searches of one server when a scenario repeats
	// them (1, 2, …; 0 when it runs one).
	Search int     `json:"search,omitempty"`
	Probes []Probe `json:"probes"`
	// Knee is the highest requested rate that passed (0 when none did).
	Knee float64 `json:"knee"`
	// Ended says why the search stopped (bracketed to a resolution, the
	// generator's limit, the probe or time budget, the rate bounds).
	Ended string `json:"ended"`
	// Elapsed is the search's wall time in seconds.
	Elapsed float64 `json:"elapsed_s"`
}

// kneeState is the search in progress: doubling until a probe fails, then
// bisecting between the highest pass and the lowest fail.
type kneeState struct {
	o      KneeOptions
	pass   float64 // highest passing rate so far (0: none)
	fail   float64 // lowest failing rate so far (0: none)
	next   float64 // next rate to probe (0: done)
	ended  string
	probes int
	t0     time.Time
}

func newKneeState(o KneeOptions, now time.Time) *kneeState {
	if o.Resolution <= 0 {
		o.Resolution = 0.05
	}
	if o.LossLimit <= 0 {
		o.LossLimit = 1
	}
	if o.Min <= 0 {
		o.Min = o.Start / 16
	}
	if o.Step <= 1 {
		o.Step = 2
	}
	return &kneeState{o: o, next: o.Start, t0: now}
}

// record takes a probe's result and chooses the next rate (0 with a reason
// in ended when the search is over).
func (k *kneeState) record(p *Probe, now time.Time) {
	k.probes++
	rate := p.Requested
	// A server that answers late but within the timeout loses nothing in
	// a short probe while its queue grows: it passes only if it also
	// completed 95% of the offered rate within the run.
	p.Pass = p.LossPct < k.o.LossLimit && p.Achieved >= 0.95*p.Offered
	if p.Pass {
		k.pass = max(k.pass, rate)
		if p.GenSaturated && p.Offered < 0.95*rate {
			// The server kept up with all the generator could offer: the
			// knee is above what this generator can show.
			k.stop(fmt.Sprintf("generator limit: offered %.0f/s of %.0f/s with %.2f%% loss", p.Offered, rate, p.LossPct))
			return
		}
	} else if k.fail == 0 || rate < k.fail {
		k.fail = rate
	}
	switch {
	case k.pass == 0:
		// Every probe so far failed: step down towards Min.
		k.next = math.Round(k.fail / k.o.Step)
		if k.next < k.o.Min {
			k.stop(fmt.Sprintf("over %.0f%% loss even at %.0f/s", k.o.LossLimit, k.fail))
			return
		}
	case k.fail == 0:
		k.next = math.Round(k.o.Step * k.pass)
		if k.next > k.o.Max {
			k.stop(fmt.Sprintf("under %.0f%% loss up to the highest rate tried (%.0f/s)", k.o.LossLimit, k.pass))
			return
		}
	default:
		// Probes after the first failure lie between the highest pass and
		// the lowest fail, so pass < fail holds here.
		if (k.fail-k.pass)/k.pass <= k.o.Resolution {
			k.stop(fmt.Sprintf("bracketed: %.0f/s passes, %.0f/s fails (%.1f%%)", k.pass, k.fail, 100*(k.fail-k.pass)/k.pass))
			return
		}
		// Whole rates: the generator takes them as they are.
		k.next = math.Round((k.pass + k.fail) / 2)
	}
	if k.o.MaxProbes > 0 && k.probes >= k.o.MaxProbes {
		k.stop(fmt.Sprintf("probe limit (%d): between %.0f/s and %.0f/s", k.probes, k.pass, k.fail))
	} else if k.o.Budget > 0 && now.Sub(k.t0) >= k.o.Budget {
		k.stop(fmt.Sprintf("time budget (%v): between %.0f/s and %.0f/s", k.o.Budget, k.pass, k.fail))
	}
}

func (k *kneeState) stop(why string) { k.next, k.ended = 0, why }

// sameOptions gives every server the options o.
func sameOptions(o KneeOptions) func(string) KneeOptions {
	return func(string) KneeOptions { return o }
}

// label names the search in reports: its server, and its number when the
// scenario repeats its searches.
func (ks *KneeSearch) label() string {
	if ks.Search == 0 {
		return ks.Server
	}
	return fmt.Sprintf("%s #%d", ks.Server, ks.Search)
}

// searchKnees runs one knee search per server, interleaved: each round
// probes every server whose search is not over, so both see the same
// machine at about the same time. opts gives a server's bounds; probe
// runs one server at one rate.
func searchKnees(ctx context.Context, servers []string, opts func(server string) KneeOptions,
	probe func(ctx context.Context, server string, rate float64) (Probe, error)) (map[string]*KneeSearch, error) {
	states := map[string]*kneeState{}
	out := map[string]*KneeSearch{}
	for _, srv := range servers {
		states[srv] = newKneeState(opts(srv), time.Now())
		out[srv] = &KneeSearch{Server: srv}
	}
	var errs []error
	for {
		active := 0
		for _, srv := range servers {
			st := states[srv]
			if st.next == 0 {
				continue
			}
			active++
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
			p, err := probe(ctx, srv, st.next)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s at %.0f/s: %w", srv, st.next, err))
				st.stop("probe failed: " + err.Error())
				continue
			}
			p.Requested = st.next
			st.record(&p, time.Now())
			out[srv].Probes = append(out[srv].Probes, p)
		}
		if active == 0 {
			break
		}
	}
	for _, srv := range servers {
		st := states[srv]
		out[srv].Knee = st.pass
		out[srv].Ended = st.ended
		out[srv].Elapsed = time.Since(st.t0).Seconds()
	}
	return out, errors.Join(errs...)
}
