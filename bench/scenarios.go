package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"xdhcp/bench/loadgen"
)

// warmupClients are bound (closed loop, unmeasured) before the S1, S3 and
// S5 runs, so that they measure the steady state; the warm-up's own losses
// are kept in the point's extra figures (warmup_lost).
const warmupClients = 200

// kneeLabel is the table row of a knee's confirmation runs.
const kneeLabel = "knee (<1% loss)"

// doraArgs are the generator flags of an open-loop run of new clients at
// rate for dur (S1, S5).
func doraArgs(rate float64, dur time.Duration) []string {
	n := int(rate * dur.Seconds())
	return []string{"-mode", "open", "-rate", ftoa(rate), "-clients", strconv.Itoa(n + warmupClients),
		"-warmup", strconv.Itoa(warmupClients), "-count", strconv.Itoa(n), "-duration", dur.String(), "-timeout", "1s"}
}

// probeOf summarises a run as a knee-search probe at rate.
func probeOf(rep *loadgen.Report, rate float64) Probe {
	v := genSaturation(rep, rate)
	return Probe{Requested: rate, Offered: rep.OfferedRate, Achieved: rep.DORA.Rate, LossPct: rep.LossPct,
		P99Ms: rep.DORA.Latency.P99Ms, GenCPUPct: rep.Generator.CPUPct, GenSaturated: v.saturated, GenNotes: v.notes}
}

// kneeOptions bound the S1 and S5 searches: doubling from start, then
// bisection to 5% (10% in -quick), within a probe and a time budget.
func (s *suite) kneeOptions(start float64) KneeOptions {
	o := KneeOptions{Start: start, Min: start / 8, Max: 2_048_000, Resolution: 0.05, LossLimit: 1, MaxProbes: 12, Budget: 6 * time.Minute}
	if s.o.Quick {
		o.Resolution, o.MaxProbes, o.Budget = 0.10, 8, 90*time.Second
	}
	if s.o.LeaseHooks {
		// Kea 2.2 with run-script serves well under start/8 (under 100
		// leases/s here): search down far enough to find its knee, so
		// that the hooks table has its row.
		o.Min = start / 64
		// The hooks table compares two knees of one server a few percent
		// apart: bracket each to 3%, whatever the run's length.
		o.Resolution, o.MaxProbes, o.Budget = 0.03, 14, max(o.Budget, 3*time.Minute)
	}
	return o
}

// kneeSearches is how many knee searches a scenario runs per server: one,
// or with -lease-hooks one per repeat, since a single search's knee moves
// with the machine's noise by more than the hooks' cost.
func (s *suite) kneeSearches() int {
	if s.o.LeaseHooks {
		return max(1, s.o.Repeats)
	}
	return 1
}

// reseedStep is the step of a repeated search, which starts at the
// server's first knee: the knee is near, so small steps find it in fewer
// probes than doubling.
const reseedStep = 1.25

// medianKnee is the middle of a server's knees (the lower middle of an
// even number: a rate that passed).
func medianKnee(ks []float64) float64 {
	if len(ks) == 0 {
		return 0
	}
	ks = slices.Clone(ks)
	slices.Sort(ks)
	return ks[(len(ks)-1)/2]
}

// kneeRun runs one server (or pair) at rate for dur and returns the
// generator's report, after the scenario's own checks.
type kneeRun func(ctx context.Context, server string, rate float64, dur time.Duration) (*loadgen.Report, []string, error)

// kneeScenario searches each server's knee (interleaved; with several
// searches per server, the later ones start at the first one's knee and
// the median knee is kept), then confirms each knee with the suite's
// repeats, interleaved, at the server's own knee: the table's leases/s
// and the xdhcp/Kea ratio.
func (s *suite) kneeScenario(ctx context.Context, scenario string, start float64, run kneeRun) error {
	probe := func(ctx context.Context, server string, rate float64) (Probe, error) {
		rep, _, err := run(ctx, server, rate, s.probeD)
		if err != nil {
			return Probe{}, err
		}
		return probeOf(rep, rate), nil
	}
	found := map[string][]float64{}
	opts := func(srv string) KneeOptions {
		o := s.kneeOptions(start)
		if ks := found[srv]; len(ks) > 0 && ks[0] > 0 {
			o.Start, o.Step = ks[0], reseedStep
		}
		return o
	}
	searches := map[string]*KneeSearch{}
	var serr error
	n := s.kneeSearches()
	for round := 1; round <= n && ctx.Err() == nil; round++ {
		var err error
		searches, err = searchKnees(ctx, s.servers(), opts, probe)
		serr = errors.Join(serr, err)
		for _, srv := range s.servers() {
			ks := searches[srv]
			ks.Scenario, ks.Driver = scenario, "xdhcp-bench"
			if n > 1 {
				ks.Search = round
			}
			s.res.Knees = append(s.res.Knees, ks)
			found[srv] = append(found[srv], ks.Knee)
			s.log.Info("knee", "scenario", scenario, "server", srv, "search", round, "knee", ks.Knee, "ended", ks.Ended, "probes", len(ks.Probes))
		}
	}
	for _, srv := range s.servers() {
		s.knees[scenario+"/"+srv] = medianKnee(found[srv])
	}
	_, merr := s.measure(ctx, scenario, "xdhcp-bench", "leases/s", kneeLabel, func(ctx context.Context, server string) (sample, error) {
		rate := s.knees[scenario+"/"+server]
		if rate == 0 {
			return sample{}, fmt.Errorf("no rate under 1%% loss found (%s)", searches[server].Ended)
		}
		rep, notes, err := run(ctx, server, rate, s.runDur)
		if err != nil {
			return sample{}, err
		}
		smp := genSample(rep, rep.DORA.Rate, rate)
		smp.notes = append(smp.notes, notes...)
		return smp, nil
	})
	return errors.Join(serr, merr)
}

// s1 is new leases/s at < 1% loss: the knee search with xdhcp-bench, then
// perfdhcp at each server's knee.
func (s *suite) s1(ctx context.Context) error {
	err := s.kneeScenario(ctx, "S1", 2000, func(ctx context.Context, server string, rate float64, dur time.Duration) (*loadgen.Report, []string, error) {
		rep, in, err := s.loadRun(ctx, server, fmt.Sprintf("S1 %.0f/s", rate), doraArgs(rate, dur)...)
		if err != nil {
			return nil, nil, err
		}
		s.closeChecked("S1", in)
		return rep, nil, nil
	})
	if s.perf == "" {
		return err
	}
	_, perr := s.measure(ctx, "S1", "perfdhcp", "leases/s", "at the xdhcp-bench knee", func(ctx context.Context, server string) (sample, error) {
		rate := s.knees["S1/"+server]
		if rate == 0 {
			return sample{}, errors.New("no xdhcp-bench knee to run at")
		}
		return s.perfdhcpRun(ctx, server, rate, s.runDur)
	})
	return errors.Join(err, perr)
}

// s2 measures cached renewals/s: bind N clients, then renew them in a
// closed loop as fast as the server answers.
func (s *suite) s2(ctx context.Context) error {
	n := 20000
	if s.o.Quick {
		n = 5000
	}
	window, row := 256, fmt.Sprintf("%d bound clients, closed loop", n)
	if s.o.S2Window > 0 && s.o.S2Window != window {
		window = s.o.S2Window
		row += fmt.Sprintf(", %d in flight", window)
	}
	_, err := s.measure(ctx, "S2", "xdhcp-bench", "renewals/s", row, func(ctx context.Context, server string) (sample, error) {
		rep, in, err := s.loadRun(ctx, server, "S2", "-mode", "closed", "-outstanding", strconv.Itoa(window), "-clients", strconv.Itoa(n),
			"-warmup", strconv.Itoa(n), "-renew-fraction", "1", "-duration", s.runDur.String(), "-timeout", "1s")
		if err != nil {
			return sample{}, err
		}
		s.closeChecked("S2", in)
		smp := genSample(rep, rep.Renew.Rate, 0)
		smp.setting = float64(n)
		return smp, nil
	})
	return err
}

// S3 settings.
const (
	s3Clients = 1000
	s3Rate    = 500
)

// s3 compares 1,000 legitimate clients alone and beside a DROP-class flood
// at the generator's full rate; for xdhcp it reads how much of the flood
// its XDP program dropped.
func (s *suite) s3(ctx context.Context) error {
	var errs []error
	for _, flood := range []bool{false, true} {
		label := "idle"
		if flood {
			label = "DROP-class flood"
		}
		_, err := s.measure(ctx, "S3", "xdhcp-bench", "legit p99 ms", label, func(ctx context.Context, server string) (sample, error) {
			args := []string{"-mode", "open", "-rate", strconv.Itoa(s3Rate), "-clients", strconv.Itoa(s3Clients + warmupClients),
				"-warmup", strconv.Itoa(warmupClients), "-count", strconv.Itoa(s3Clients), "-duration", "20s", "-timeout", "1s"}
			if flood {
				args = append(args, "-flood-mac", dropMAC)
			}
			rep, in, err := s.loadRun(ctx, server, "S3 "+label, args...)
			if err != nil {
				return sample{}, err
			}
			defer s.closeChecked("S3", in)
			smp := genSample(rep, rep.DORA.Latency.P99Ms, s3Rate)
			smp.setting = b2f(flood)
			smp.extra["dora_completed"] = float64(rep.DORA.Completed)
			if flood {
				smp.extra["flood_frames"] = float64(rep.FloodFrames)
				if rep.DurationS > 0 {
					smp.extra["flood_rate"] = float64(rep.FloodFrames) / rep.DurationS
				}
				// The flood runs the generator flat out by design.
				smp.notes = append(smp.notes, "the flood runs at the generator's full rate: its saturation is by design")
				if m, err := in.srv.Metrics(ctx); err == nil {
					drop := m["xdhcp_xdp_drop_mac_total"] + m["xdhcp_xdp_drop_client_id_total"]
					smp.extra["xdp_dropped"] = drop
					if rep.FloodFrames > 0 {
						smp.extra["xdp_absorbed_pct"] = 100 * drop / float64(rep.FloodFrames)
					}
				}
			}
			return smp, nil
		})
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// knee is a server's S1 knee, or 1,000/s when S1 did not run or found none.
func (s *suite) knee(scenario, server string) float64 {
	if k := s.knees[scenario+"/"+server]; k > 0 {
		return k
	}
	return 1000
}

// s4 overloads each server at 10x its S1 knee with half new, half
// renewing clients, and reports the renewal goodput and the RSS over time.
func (s *suite) s4(ctx context.Context) error {
	_, err := s.measure(ctx, "S4", "xdhcp-bench", "renew goodput %", "10× the S1 knee, half renewals", func(ctx context.Context, server string) (sample, error) {
		rate := 10 * s.knee("S1", server)
		warm := 20000
		n := warm + int(rate*s.runDur.Seconds())
		in, err := s.start(ctx, server, "")
		if err != nil {
			return sample{}, err
		}
		defer s.closeChecked("S4", in)
		stop := in.srv.SampleRSS(250 * time.Millisecond)
		rep, err := s.gen(ctx, in, "-mode", "open", "-rate", ftoa(rate), "-clients", strconv.Itoa(n),
			"-warmup", strconv.Itoa(warm), "-renew-fraction", "0.5", "-count", strconv.Itoa(n), "-duration", s.runDur.String(), "-timeout", "1s")
		rss := stop()
		if err != nil {
			return sample{}, err
		}
		s.check("S4", in, rep)
		good := 0.0
		if rep.Renew.Started > 0 {
			good = 100 * float64(rep.Renew.Completed) / float64(rep.Renew.Started)
		}
		smp := genSample(rep, good, rate)
		smp.rss = rss
		peak := 0.0
		for _, r := range rss {
			peak = max(peak, r.MiB)
		}
		smp.extra["rss_peak_mib"] = peak
		// The generator's count of completed DORAs (warm-up included: the
		// sampling covers it) is the same source for both servers; Kea
		// has no /metrics. It undercounts a little (an ACK that arrives
		// after the client gave up binds a lease uncounted), so the
		// judgement errs strict.
		v := rssBounded(rss, leasesBound(rep))
		smp.extra["rss_bounded"] = b2f(v.Bounded)
		smp.extra["rss_growth_mib"] = v.GrowthMiB
		smp.extra["rss_allowance_mib"] = v.AllowanceMiB
		smp.extra["leases_bound"] = float64(v.Leases)
		smp.notes = append(smp.notes, v.Note)
		return smp, nil
	})
	return err
}

// leasesBound is the leases a run bound, warm-up included: every
// completed DORA binds one for a client that had none: the generator
// starts DORAs with fresh clients first, S4 has more clients than it
// starts DORAs, and renewals bind nothing new.
func leasesBound(rep *loadgen.Report) uint64 {
	n := rep.DORA.Completed
	if rep.Warmup != nil {
		n += rep.Warmup.Completed
	}
	return n
}

// s67 starts each server on an empty lease file and on a 1M-lease file:
// start-up time with the leases (S6) and the RSS difference per lease
// (S7), from the same runs.
func (s *suite) s67(ctx context.Context) error {
	const n = 1_000_000
	big := filepath.Join(s.tmp, "leases-1m.csv")
	if err := writeLeaseFile(big, n); err != nil {
		return err
	}
	defer os.Remove(big)
	// S7's runs are S6's: their figures, by server, in run order.
	s7 := map[string][]sample{}
	_, err := s.measure(ctx, "S6", "start", "start-up s", "1M-lease file", func(ctx context.Context, server string) (sample, error) {
		empty, err := s.start(ctx, server, "")
		if err != nil {
			return sample{}, err
		}
		rss0, err0 := settledRSS(ctx, empty.srv)
		s.closeChecked("S6 empty", empty)
		// Each run gets its own copy: servers rewrite their lease file.
		lf := filepath.Join(s.tmp, fmt.Sprintf("leases-1m-%s-%d.csv", server, s.run))
		if err := copyFile(big, lf); err != nil {
			return sample{}, err
		}
		defer os.Remove(lf)
		in, err := s.startWithLeases(ctx, server, lf)
		if err != nil {
			return sample{}, err
		}
		defer s.closeChecked("S6", in)
		rss1, err1 := settledRSS(ctx, in.srv)
		if err := errors.Join(err0, err1); err != nil {
			return sample{}, err
		}
		loaded, err := assigned(ctx, in.srv)
		if err != nil {
			return sample{}, err
		}
		if loaded != n {
			s.fail("S6: %s loaded %d of the %d leases", server, loaded, n)
		}
		s.check("S6", in, nil)
		bpl := (rss1 - rss0) * 1024 * 1024 / n
		extra := map[string]float64{"rss_empty_mib": rss0, "rss_1m_mib": rss1, "bytes_per_lease": bpl, "leases_loaded": float64(loaded)}
		s7[server] = append(s7[server], sample{v: bpl, setting: n, extra: extra})
		return sample{v: in.srv.Ready.Seconds(), setting: n, extra: extra}, nil
	})
	// S7 from the same runs: its own median over the repeats, with the
	// figures of the median run.
	for _, srv := range s.servers() {
		rs := s7[srv]
		if len(rs) == 0 {
			continue
		}
		p := Point{Scenario: "S7", Server: srv, Driver: "start", Label: "1M leases, RSS with − without", Metric: "bytes/lease"}
		med := medianSample(rs)
		p.Setting, p.Median, p.Extra = med.setting, med.v, med.extra
		for _, r := range rs {
			p.Values = append(p.Values, r.v)
		}
		s.res.Points = append(s.res.Points, p)
	}
	return err
}

// startWithLeases starts server on lease file lf with a start-up timeout
// long enough for a million leases on a loaded machine.
func (s *suite) startWithLeases(ctx context.Context, server, lf string) (*instance, error) {
	b, err := NewLab("xd-suite", suiteServer, suiteClient)
	if err != nil {
		return nil, err
	}
	srv, err := s.startServer(ctx, server, b.Server, lf, nil, 5*time.Minute)
	if err != nil {
		b.Close()
		return nil, err
	}
	return &instance{lab: b.Lab, srv: srv, cliNS: b.Client, cliIf: b.ClientIf, srvMAC: b.ServerMAC}, nil
}

// settledRSS waits for a started server's memory to settle (the Go
// collector returning the start-up's garbage) and returns its RSS in MiB:
// the median of the samples of the last second of three.
func settledRSS(ctx context.Context, srv *Server) (float64, error) {
	stop := srv.SampleRSS(100 * time.Millisecond)
	select {
	case <-ctx.Done():
	case <-time.After(3 * time.Second):
	}
	ss := stop()
	if len(ss) == 0 {
		return 0, fmt.Errorf("%s: no RSS sample", srv.Name)
	}
	var last []float64
	for _, x := range ss {
		if x.T >= ss[len(ss)-1].T-1 {
			last = append(last, x.MiB)
		}
	}
	return median(last), nil
}

// assigned reads subnet 1's assigned-addresses statistic.
func assigned(ctx context.Context, srv *Server) (int, error) {
	const name = "subnet[1].assigned-addresses"
	a, err := srv.Command(ctx, "statistic-get", map[string]any{"name": name})
	if err != nil {
		return 0, err
	}
	v, err := statValue(a, name)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", srv.Name, err)
	}
	return int(v), nil
}

// writeLeaseFile writes n leases in Kea 2.2's memfile CSV format.
func writeLeaseFile(path string, n int) error {
	var b bytes.Buffer
	b.WriteString("address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context\n")
	exp := time.Now().Add(time.Hour).Unix()
	for i := range n {
		a := 0x0a010000 + i
		fmt.Fprintf(&b, "%d.%d.%d.%d,02:4c:%02x:%02x:%02x:%02x,,3600,%d,1,0,0,,0,\n",
			a>>24, (a>>16)&255, (a>>8)&255, a&255, byte(i>>24), byte(i>>16), byte(i>>8), byte(i), exp)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("read %s: %w", src, err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	return nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
