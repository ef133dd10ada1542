package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"xdhcp/bench/loadgen"
	"xdhcp/internal/lab"
)

// SuiteOptions configure RunSuite.
type SuiteOptions struct {
	// Xdhcpd is the daemon binary; Self is this program (the generator
	// runs as `Self run ...` pinned to the generator CPU).
	Xdhcpd, Self string
	// Out is the results folder; a timestamped folder is made inside.
	Out string
	// Quick runs S1–S3 only, shortened (CI).
	Quick bool
	// NoKea skips Kea even where it is installed.
	NoKea bool
	// Repeats per point, interleaved A B A B (default 3, quick 1).
	Repeats int
	// Only, when not empty, names the scenarios to run ("S1", "S6/S7").
	Only []string
	// LeaseHooks adds to each server a variant with forensic logging
	// (xdhcpd) and run-script with a trivial script (both servers), named
	// "<server>"+HooksSuffix, measured interleaved with the plain one so
	// that the cost of the hooks is read off one invocation.
	LeaseHooks bool
	// LeaseHookSet is which hooks the variant runs: HooksBoth ("": both),
	// HooksLegalLog or HooksRunScript alone.
	LeaseHookSet string
	// ForensicDurable holds the replies of renewals answered without a
	// lease write until their forensic records are synced, not only
	// written (durable-before-reply true).
	ForensicDurable bool
	// LeaseHookScript is the script run-script calls in the hooked
	// variants (an absolute path); empty: one that exits 0 at once.
	LeaseHookScript string
	// S2Window is how many renewals S2's closed loop keeps in flight
	// (default 256). A server whose replies wait longer (a forensic record
	// made durable before the reply) answers fewer per second at a fixed
	// window even when it could answer more: a larger window measures
	// that capacity instead.
	S2Window int
	Logger   *slog.Logger
}

// Lab addressing of the suite: a /8, so that no scenario exhausts the pool.
// The HA pair's standby is suiteStandby.
var (
	suiteServer  = netip.MustParsePrefix("10.0.0.1/8")
	suiteClient  = netip.MustParsePrefix("10.0.0.2/8")
	suiteStandby = netip.MustParsePrefix("10.0.0.3/8")
	suiteSubnet  = "10.0.0.0/8"
)

// CPU placement: the server (both servers of an HA pair) on one core, the
// generator on the other.
const (
	serverCPU = 0
	genCPU    = 1
)

// dropMAC is the DROP-class reservation of the suite configuration.
const dropMAC = "aa:bb:cc:00:00:66"

// Point is one measurement of one server by one driver; Values are the
// repeats and Median their median.
type Point struct {
	Scenario string `json:"scenario"`
	Server   string `json:"server"`
	Driver   string `json:"driver"`
	// Label names the table row (points of both servers with the same
	// scenario, driver and label share a row); Setting is this server's
	// setting (a rate, a client count) in that row.
	Label   string    `json:"label"`
	Setting float64   `json:"setting"`
	Metric  string    `json:"metric"`
	Values  []float64 `json:"values"`
	Median  float64   `json:"median"`
	// Extra holds secondary figures of the median run (loss, p99, RSS,
	// generator CPU), by name.
	Extra map[string]float64 `json:"extra,omitempty"`
	// Series is the per-second series of the median run, when it has one.
	Series []loadgen.Second `json:"series,omitempty"`
	// RSS is the server's resident memory sampled during the median run.
	RSS []RSSSample `json:"rss,omitempty"`
	// GenSaturated says the generator (not the server) limited the median
	// run; GenNotes say why.
	GenSaturated bool     `json:"gen_saturated"`
	GenNotes     []string `json:"gen_notes,omitempty"`
	Notes        []string `json:"notes,omitempty"`
}

// Results is results.json.
type Results struct {
	Start    time.Time         `json:"start"`
	Elapsed  float64           `json:"elapsed_s"`
	Command  string            `json:"command"`
	Machine  map[string]string `json:"machine"`
	Settings map[string]any    `json:"settings"`
	Points   []Point           `json:"points"`
	// Knees are the S1 and S5 knee searches, probe by probe.
	Knees    []*KneeSearch `json:"knees,omitempty"`
	Targets  []Target      `json:"targets,omitempty"`
	Skipped  []string      `json:"skipped"`
	Failures []string      `json:"failures"`
	// Quick and ScenarioSeconds let the next run estimate its time left.
	Quick           bool               `json:"quick"`
	ScenarioSeconds map[string]float64 `json:"scenario_seconds"`
}

// suite is the state of one RunSuite.
type suite struct {
	o      SuiteOptions
	log    *slog.Logger
	dir    string
	tmp    string
	kea    string // kea-dhcp4 path, "" when not run
	keaHA  string // Kea's hooks directory with libdhcp_ha.so, "" when absent
	perf   string // perfdhcp path, "" when absent
	res    Results
	run    int
	runDur time.Duration // a measured run
	probeD time.Duration // a knee-search probe
	knees  map[string]float64
	genN   int    // generator runs so far (raw report names)
	bpffs  string // the suite's bpffs (a plain folder if it could not be mounted)
	// leaseDB is the lease-database the next server started gets (S8);
	// nil means the lease file.
	leaseDB map[string]any
	// dhcp4Extra are Dhcp4 parameters the next server started on a
	// database gets (S8r).
	dhcp4Extra map[string]any
}

// scenario is one entry of the suite.
type scenario struct {
	name string
	fn   func(context.Context) error
}

// RunSuite runs the scenarios S1–S7 and writes results.json,
// results.md and SVG plots under o.Out/<timestamp>/. It fails on
// correctness (a wrong reply, a crash, a run that served nothing, an HA
// standby missing leases), never on speed.
func RunSuite(ctx context.Context, o SuiteOptions, out io.Writer) error {
	if o.Logger == nil {
		o.Logger = discard()
	}
	if o.Repeats <= 0 {
		o.Repeats = 3
		if o.Quick {
			o.Repeats = 1
		}
	}
	s := &suite{o: o, log: o.Logger, knees: map[string]float64{}}
	s.res.Start = time.Now()
	s.res.Command = strings.Join(os.Args, " ")
	s.dir = filepath.Join(o.Out, s.res.Start.Format("20060102-150405"))
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return fmt.Errorf("results folder: %w", err)
	}
	tmp, err := os.MkdirTemp("", "xd-suite-")
	if err != nil {
		return fmt.Errorf("suite temporary folder: %w", err)
	}
	defer os.RemoveAll(tmp)
	s.tmp = tmp
	// xdhcpd pins its maps and links; a bpffs of the suite's own keeps
	// one run's pinned maps (drop counters) from the next run in a
	// namespace that reuses the inode, and leaves nothing behind.
	s.bpffs = filepath.Join(tmp, "bpffs")
	if err := mountBPFFS(s.bpffs); err != nil {
		s.log.Warn("no private bpffs: xdhcpd runs without pinning", "err", err)
		s.res.Skipped = append(s.res.Skipped, "xdhcpd pinning: "+err.Error())
	} else {
		defer unix.Unmount(s.bpffs, unix.MNT_DETACH)
	}
	s.res.Machine = machine()
	s.runDur, s.probeD = 10*time.Second, 5*time.Second
	if o.Quick {
		s.runDur, s.probeD = 3*time.Second, 2*time.Second
	}
	if runtime.NumCPU() < 2 {
		s.res.Skipped = append(s.res.Skipped, "CPU pinning: fewer than 2 CPUs, server and generator share one")
	}
	if !o.NoKea {
		s.kea = findKea(ctx, s.log)
		if s.kea == "" {
			s.res.Skipped = append(s.res.Skipped, "Kea: kea-dhcp4 not installed and could not be installed")
		}
	}
	if p, err := exec.LookPath("perfdhcp"); err == nil {
		s.perf = p
	} else {
		s.res.Skipped = append(s.res.Skipped, "perfdhcp: not installed (Debian kea-admin)")
	}
	s.keaHA = keaHooksDir()
	s.res.Settings = map[string]any{
		"quick": o.Quick, "repeats": o.Repeats, "run_seconds": s.runDur.Seconds(), "probe_seconds": s.probeD.Seconds(),
		"server_cpu": serverCPU, "generator_cpu": genCPU, "subnet": suiteSubnet,
		"xdhcpd": o.Xdhcpd, "kea": s.kea, "perfdhcp": s.perf,
		// Not the same work: xdhcpd acknowledges a lease only once it is
		// on disk (group commit, fdatasync); Kea's memfile does not sync.
		"durability":  "xdhcpd fdatasync before ACK (default); Kea memfile without sync",
		"ha_pair_cpu": "S5: both servers of a pair pinned to the server CPU",
	}

	scenarios := []scenario{{"S1", s.s1}, {"S2", s.s2}, {"S3", s.s3}, {"S4", s.s4}, {"S5", s.s5}, {"S6/S7", s.s67}, {"S8", s.s8}, {"S8r", s.s8r},
		{"S1v6", s.s1v6}, {"S2v6", s.s2v6}}
	if o.Quick && len(o.Only) == 0 {
		// CI: S1–S3, shortened. -only names scenarios explicitly, quick
		// or not.
		scenarios = scenarios[:3]
		s.res.Skipped = append(s.res.Skipped, "S4, S5, S6, S7, S8, S8r, S1v6, S2v6: not in -quick")
	}
	var todo []string
	for _, sc := range scenarios {
		if len(o.Only) == 0 || slices.Contains(o.Only, sc.name) {
			todo = append(todo, sc.name)
		}
	}
	est := scenarioEstimates(o.Out, o.Quick)
	s.res.Quick, s.res.ScenarioSeconds = o.Quick, map[string]float64{}
	total := len(todo)
	for _, sc := range scenarios {
		if ctx.Err() != nil {
			break
		}
		if !slices.Contains(todo, sc.name) {
			continue
		}
		t0 := time.Now()
		s.log.Info("scenario", "name", sc.name, "step", fmt.Sprintf("%d/%d", total-len(todo)+1, total),
			"elapsed", time.Since(s.res.Start).Round(time.Second).String(),
			"eta", eta(est, s.res.ScenarioSeconds, todo).String())
		if err := sc.fn(ctx); err != nil {
			s.res.Failures = append(s.res.Failures, sc.name+": "+err.Error())
			s.log.Error("scenario failed", "name", sc.name, "err", err)
		}
		s.res.ScenarioSeconds[sc.name] = time.Since(t0).Seconds()
		todo = todo[1:]
		s.log.Info("scenario done", "name", sc.name, "seconds", time.Since(t0).Seconds(),
			"left", fmt.Sprintf("%d", len(todo)), "eta", eta(est, s.res.ScenarioSeconds, todo).String())
	}
	s.res.Targets = evalTargets(&s.res)
	s.res.Elapsed = time.Since(s.res.Start).Seconds()
	if err := s.write(out); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if len(s.res.Failures) > 0 {
		return fmt.Errorf("suite: %d correctness failures:\n  %s", len(s.res.Failures), strings.Join(s.res.Failures, "\n  "))
	}
	return nil
}

// HooksSuffix names a server's variant with the lease event hooks on.
const HooksSuffix = "+hooks"

// servers lists the servers to compare, xdhcp first, each followed by its
// variant with the lease event hooks when SuiteOptions.LeaseHooks is set.
func (s *suite) servers() []string {
	names := []string{"xdhcp"}
	if s.kea != "" {
		names = append(names, "kea")
	}
	if !s.o.LeaseHooks {
		return names
	}
	var out []string
	for _, n := range names {
		out = append(out, n, n+HooksSuffix)
	}
	return out
}

// fail records a correctness failure.
func (s *suite) fail(format string, args ...any) {
	s.res.Failures = append(s.res.Failures, fmt.Sprintf(format, args...))
}

// instance is a server (or an HA pair) running in a fresh lab, and where
// the generator reaches it.
type instance struct {
	lab     *lab.Lab
	srv     *Server // the server the generator measures (the HA primary)
	standby *Server // the HA standby, nil outside S5
	cliNS   *lab.NS
	cliIf   string
	srvMAC  [6]byte
}

// close stops the servers and removes the lab. A server that had died
// before is an error (a crash).
func (in *instance) close() error {
	err := in.srv.Stop()
	if in.standby != nil {
		err = errors.Join(err, in.standby.Stop())
	}
	return errors.Join(err, in.lab.Close())
}

// hookOptions are the hooked variants' options; forensic is set for
// xdhcpd, the only server whose forensic log the suite runs.
func (s *suite) hookOptions(forensic bool) leaseHookOptions {
	return leaseHookOptions{set: s.o.LeaseHookSet, durable: forensic && s.o.ForensicDurable, script: s.o.LeaseHookScript}
}

// closeChecked closes in, recording a crash as a correctness failure.
func (s *suite) closeChecked(what string, in *instance) {
	if err := in.close(); err != nil {
		s.fail("%s: %v", what, err)
	}
}

// serverDir makes a fresh folder for one server run.
func (s *suite) serverDir(name string) (string, error) {
	s.run++
	dir := filepath.Join(s.tmp, fmt.Sprintf("%s-%d", name, s.run))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("server folder: %w", err)
	}
	return dir, nil
}

// start builds a fresh lab and starts the named server in it, pinned to
// serverCPU, with leaseFile (empty: a new empty one).
func (s *suite) start(ctx context.Context, name, leaseFile string) (*instance, error) {
	b, err := NewLab("xd-suite", suiteServer, suiteClient)
	if err != nil {
		return nil, err
	}
	in := &instance{lab: b.Lab, cliNS: b.Client, cliIf: b.ClientIf, srvMAC: b.ServerMAC}
	srv, err := s.startServer(ctx, name, b.Server, leaseFile, nil, 0)
	if err != nil {
		b.Close()
		return nil, err
	}
	in.srv = srv
	return in, nil
}

// startServer starts the named server in ns with the suite configuration,
// extended by ha (a high-availability relationship, nil without HA).
// readyTimeout 0 is the default.
func (s *suite) startServer(ctx context.Context, name string, ns *lab.NS, leaseFile string, ha map[string]any, readyTimeout time.Duration) (*Server, error) {
	dir, err := s.serverDir(name)
	if err != nil {
		return nil, err
	}
	if leaseFile == "" {
		leaseFile = filepath.Join(dir, "leases4.csv")
	}
	o := ServerOptions{CPU: serverCPU, LogPath: filepath.Join(dir, "log"), ReadyTimeout: readyTimeout}
	name, hooked := strings.CutSuffix(name, HooksSuffix)
	switch name {
	case "xdhcp":
		o.Bin, o.Config = s.o.Xdhcpd, filepath.Join(dir, "xdhcpd.json")
		// A pin folder per run: nothing carries over between runs.
		pins := filepath.Join(s.bpffs, filepath.Base(dir))
		cfg := xdhcpConfig(leaseFile, ha, s.keaHA, pins)
		if s.leaseDB != nil {
			if cfg, err = withLeaseDatabase(cfg, s.leaseDB, s.dhcp4Extra); err != nil {
				return nil, err
			}
		}
		if hooked {
			if cfg, err = withLeaseHooks(cfg, dir, s.keaHA, true, s.hookOptions(true)); err != nil {
				return nil, err
			}
		}
		if err := os.WriteFile(o.Config, cfg, 0o644); err != nil {
			return nil, fmt.Errorf("write %s: %w", o.Config, err)
		}
		return StartXdhcpdIn(ctx, ns, o)
	case "kea":
		o.Bin, o.Config = s.kea, filepath.Join(dir, "kea-dhcp4.json")
		sock := filepath.Join(dir, "kea4.sock")
		cfg := keaConfig(leaseFile, sock, filepath.Join(dir, "kea.log"), ha, s.keaHA)
		if s.leaseDB != nil {
			if cfg, err = withLeaseDatabase(cfg, s.leaseDB, s.dhcp4Extra); err != nil {
				return nil, err
			}
		}
		if hooked {
			if cfg, err = withLeaseHooks(cfg, dir, s.keaHA, false, s.hookOptions(false)); err != nil {
				return nil, err
			}
		}
		if err := os.WriteFile(o.Config, cfg, 0o644); err != nil {
			return nil, fmt.Errorf("write %s: %w", o.Config, err)
		}
		o.Env = []string{"KEA_PIDFILE_DIR=" + dir, "KEA_LOCKFILE_DIR=" + dir}
		return StartKeaIn(ctx, ns, o, sock)
	}
	return nil, fmt.Errorf("unknown server %q", name)
}

// gen runs `Self run` in the client namespace pinned to genCPU and returns
// its report. Only a failure to run or parse is an error; the caller checks
// the report.
func (s *suite) gen(ctx context.Context, in *instance, args ...string) (*loadgen.Report, error) {
	argv := append([]string{"-c", strconv.Itoa(genCPU), s.o.Self, "run", "-q", "-netns", in.cliNS.Path(), "-iface", in.cliIf,
		"-server", suiteServer.Addr().String(), "-subnet", suiteSubnet, "-server-mac", macString(in.srvMAC)}, args...)
	cmd := exec.CommandContext(ctx, "taskset", argv...)
	// Pinned to one core, Go would run one P: a goroutine blocked in a
	// receive system call then holds up the pacing goroutine until sysmon
	// takes the P back (milliseconds), and the open loop under-offers.
	// Two Ps share the one core instead.
	cmd.Env = append(os.Environ(), "GOMAXPROCS=2")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cpu0, kids0, cpuErr := processCPU(in.srv.PID())
	scripts0 := scriptCounts(ctx, in.srv)
	err := cmd.Run()
	cpu1, kids1, cpuErr1 := processCPU(in.srv.PID())
	scripts1 := scriptCounts(ctx, in.srv)
	// Every report is kept beside the results, for a second look.
	s.genN++
	raw := filepath.Join(s.dir, "raw", fmt.Sprintf("gen-%04d-%s.json", s.genN, in.srv.Name))
	if merr := os.MkdirAll(filepath.Dir(raw), 0o755); merr == nil {
		_ = os.WriteFile(raw, stdout.Bytes(), 0o644)
	}
	var rep loadgen.Report
	if jerr := json.Unmarshal(stdout.Bytes(), &rep); jerr != nil {
		return nil, fmt.Errorf("generator: %v (%v): %s", err, jerr, strings.TrimSpace(stderr.String()))
	}
	if cpuErr == nil && cpuErr1 == nil {
		rep.ServerCPUSeconds = cpu1 - cpu0
		rep.ChildCPUSeconds = kids1 - kids0
	}
	if scripts0 != nil && scripts1 != nil {
		rep.ScriptsRun = scripts1[scriptsRunMetric] - scripts0[scriptsRunMetric]
		rep.ScriptsDropped = scripts1[scriptsDroppedMetric] - scripts0[scriptsDroppedMetric]
	}
	if t := rep.Generator.Transport; t != "" {
		s.res.Settings["generator_transport"] = t
	} else if t := rep.Settings.Transport; t != "" {
		s.res.Settings["generator_transport"] = t
	}
	return &rep, nil
}

func macString(m [6]byte) string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
}

// check records correctness failures of a run: the generator's verdict
// (wrong or malformed replies, nothing served) and crashed servers.
func (s *suite) check(what string, in *instance, rep *loadgen.Report) {
	if rep != nil {
		if err := rep.Failed(); err != nil {
			s.fail("%s on %s: %v", what, in.srv.Name, err)
		}
	}
	for _, srv := range []*Server{in.srv, in.standby} {
		if srv != nil && !srv.Alive() {
			s.fail("%s: %s crashed; log tail:\n%s", what, srv.Name, srv.LogTail(10))
		}
	}
}

// sample is one run's result for measure.
type sample struct {
	v       float64
	setting float64
	extra   map[string]float64
	series  []loadgen.Second
	rss     []RSSSample
	gen     genVerdict
	notes   []string
}

// measure runs fn for every server, repeats interleaved (A B A B), and
// appends one Point per server with the median.
func (s *suite) measure(ctx context.Context, scenario, driver, metric, label string,
	fn func(ctx context.Context, server string) (sample, error)) ([]Point, error) {
	runs := map[string][]sample{}
	var errs []error
	for range s.o.Repeats {
		for _, name := range s.servers() {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			r, err := fn(ctx, name)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s %s %s %s: %w", scenario, name, driver, label, err))
				continue
			}
			runs[name] = append(runs[name], r)
		}
	}
	var pts []Point
	for _, name := range s.servers() {
		rs := runs[name]
		if len(rs) == 0 {
			continue
		}
		med := medianSample(rs)
		p := Point{Scenario: scenario, Server: name, Driver: driver, Label: label, Setting: med.setting, Metric: metric,
			Median: med.v, Extra: med.extra, Series: med.series, RSS: med.rss,
			GenSaturated: med.gen.saturated, GenNotes: med.gen.notes, Notes: med.notes}
		for _, r := range rs {
			p.Values = append(p.Values, r.v)
		}
		pts = append(pts, p)
	}
	s.res.Points = append(s.res.Points, pts...)
	return pts, errors.Join(errs...)
}

// medianSample returns the run with the median value (rs not empty; it
// is not reordered, so the values stay in run order).
func medianSample(rs []sample) sample {
	sorted := slices.Clone(rs)
	slices.SortStableFunc(sorted, func(a, b sample) int { return cmpF(a.v, b.v) })
	return sorted[len(sorted)/2]
}

func cmpF(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// loadRun is one generator run against a fresh server; the caller closes
// the instance.
func (s *suite) loadRun(ctx context.Context, server, what string, args ...string) (*loadgen.Report, *instance, error) {
	in, err := s.start(ctx, server, "")
	if err != nil {
		return nil, nil, err
	}
	rep, err := s.gen(ctx, in, args...)
	if err != nil {
		in.close()
		return nil, nil, err
	}
	s.check(what, in, rep)
	return rep, in, nil
}

// genVerdict says whether the generator, not the server, limited a run.
type genVerdict struct {
	saturated bool
	notes     []string
}

// genSaturation judges a run's generator: its CPU at 90% of its core or
// more, replies its receive socket dropped, frames its device queue
// refused, or (open loop) an offered rate under 95% of the requested one.
// Whatever else the generator itself flags is kept too.
func genSaturation(rep *loadgen.Report, requested float64) genVerdict {
	var v genVerdict
	g := rep.Generator
	if g.CPUPct >= 90 {
		v.notes = append(v.notes, fmt.Sprintf("generator CPU %.0f%% of its core", g.CPUPct))
	}
	if d := max(g.SocketDrops, g.RxDropped); d > 0 {
		v.notes = append(v.notes, fmt.Sprintf("its receive path dropped %d replies", d))
	}
	if d := max(rep.Sent.TxErrors, g.TxDropped); d > 0 {
		v.notes = append(v.notes, fmt.Sprintf("%d frames not sent (TX ring or device queue full)", d))
	}
	if requested > 0 && rep.OfferedRate < 0.95*requested {
		v.notes = append(v.notes, fmt.Sprintf("offered %.0f/s of %.0f/s requested", rep.OfferedRate, requested))
	}
	if g.Saturated && len(v.notes) == 0 {
		v.notes = append(v.notes, g.Notes...)
	}
	v.saturated = len(v.notes) > 0
	return v
}

// genExtra are the secondary figures of a generator run.
func genExtra(rep *loadgen.Report, requested float64) map[string]float64 {
	m := map[string]float64{
		"requested": requested, "offered": rep.OfferedRate, "loss_pct": rep.LossPct,
		"dora_p50_ms": rep.DORA.Latency.P50Ms, "dora_p99_ms": rep.DORA.Latency.P99Ms, "dora_p999_ms": rep.DORA.Latency.P999Ms,
		"renew_p50_ms": rep.Renew.Latency.P50Ms, "renew_p99_ms": rep.Renew.Latency.P99Ms,
		"gen_cpu_pct": rep.Generator.CPUPct, "gen_rx_drops": float64(max(rep.Generator.SocketDrops, rep.Generator.RxDropped)),
		"gen_tx_errors": float64(max(rep.Sent.TxErrors, rep.Generator.TxDropped)), "wrong": float64(rep.Wrong),
	}
	if rep.Warmup != nil {
		m["warmup_lost"] = float64(rep.Warmup.Lost)
	}
	if ops := rep.DORA.Completed + rep.Renew.Completed; rep.ServerCPUSeconds > 0 && ops > 0 {
		// The server's CPU per exchange answered: what the load on a
		// shared machine changes least.
		m["server_cpu_s"] = rep.ServerCPUSeconds
		m["server_cpu_us_per_op"] = 1e6 * rep.ServerCPUSeconds / float64(ops)
	}
	if ops := rep.DORA.Completed + rep.Renew.Completed; rep.ChildCPUSeconds > 0 && ops > 0 {
		m["child_cpu_s"] = rep.ChildCPUSeconds
		m["child_cpu_us_per_op"] = 1e6 * rep.ChildCPUSeconds / float64(ops)
	}
	if rep.ScriptsRun > 0 || rep.ScriptsDropped > 0 {
		m["scripts_run"], m["scripts_dropped"] = rep.ScriptsRun, rep.ScriptsDropped
	}
	return m
}

// clockTicks is the unit of /proc/<pid>/stat's CPU times (USER_HZ).
const clockTicks = 100

// processCPU returns the CPU time, user and system, that process pid and
// its threads have used, and apart the CPU time of the children it has
// reaped (run-script's scripts).
func processCPU(pid int) (own, children float64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// The fields after the command name (which may hold spaces): state
	// is the first, utime the 12th, stime the 13th, cutime and cstime
	// the 14th and 15th.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	var t [4]uint64
	for k := range t {
		if t[k], err = strconv.ParseUint(f[11+k], 10, 64); err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/stat: CPU time %q: %w", pid, f[11+k], err)
		}
	}
	return float64(t[0]+t[1]) / clockTicks, float64(t[2]+t[3]) / clockTicks, nil
}

// xdhcpd's run-script counters, as /metrics names them.
const (
	scriptsRunMetric     = "xdhcp_run_script_run_total"
	scriptsDroppedMetric = "xdhcp_run_script_dropped_total"
)

// scriptCounts returns xdhcpd's run-script counters, nil for Kea (no
// /metrics) or a server without run-script.
func scriptCounts(ctx context.Context, srv *Server) map[string]float64 {
	if srv.Name != "xdhcp" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	m, err := srv.Metrics(ctx)
	if err != nil {
		return nil
	}
	if _, ok := m[scriptsRunMetric]; !ok {
		return nil
	}
	return m
}

// genSample is the sample of a generator run whose main value is v.
func genSample(rep *loadgen.Report, v, requested float64) sample {
	return sample{v: v, setting: requested, extra: genExtra(rep, requested), series: rep.Series, gen: genSaturation(rep, requested)}
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// mountBPFFS mounts a private bpffs at dir (created).
func mountBPFFS(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("bpffs folder: %w", err)
	}
	if err := unix.Mount("bpf", dir, "bpf", 0, "mode=0700"); err != nil {
		return fmt.Errorf("mount bpffs at %s: %w", dir, err)
	}
	return nil
}

// findKea returns the kea-dhcp4 path, installing Debian's packages if
// missing and stopping Debian's own Kea services.
func findKea(ctx context.Context, log *slog.Logger) string {
	if _, err := exec.LookPath("kea-dhcp4"); err != nil {
		log.Info("installing kea-dhcp4-server and kea-admin")
		cmd := exec.CommandContext(ctx, "sh", "-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends kea-dhcp4-server kea-admin")
		if out, err := cmd.CombinedOutput(); err != nil {
			log.Warn("kea install failed", "err", err, "output", string(out))
			return ""
		}
	}
	_ = exec.CommandContext(ctx, "systemctl", "disable", "--now", "kea-dhcp4-server", "kea-ctrl-agent").Run()
	p, err := exec.LookPath("kea-dhcp4")
	if err != nil {
		return ""
	}
	return p
}

// machine records where the suite ran.
func machine() map[string]string {
	m := map[string]string{"nproc": strconv.Itoa(runtime.NumCPU()), "go": runtime.Version()}
	if b, err := exec.Command("uname", "-r").Output(); err == nil {
		m["kernel"] = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				m["cpu"] = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if b, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		m["commit"] = strings.TrimSpace(string(b))
		if out, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(out)) > 0 {
			m["commit"] += "-dirty"
		}
	}
	if b, err := exec.Command("kea-dhcp4", "-v").Output(); err == nil {
		m["kea"] = strings.TrimSpace(string(b))
	}
	return m
}
