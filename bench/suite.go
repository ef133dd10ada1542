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

	"xdhcp/bench/loadgen"
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
	Logger  *slog.Logger
}

// Lab addressing of the suite: a /8, so that no scenario exhausts the pool.
var (
	suiteServer = netip.MustParsePrefix("10.0.0.1/8")
	suiteClient = netip.MustParsePrefix("10.0.0.2/8")
	suiteSubnet = "10.0.0.0/8"
)

// CPU placement: the server on one core, the generator on the other.
const (
	serverCPU = 0
	genCPU    = 1
)

// dropMAC is the DROP-class reservation of the suite configuration.
const dropMAC = "aa:bb:cc:00:00:66"

// Point is one measurement of one server by one driver at one setting;
// Values are the repeats and Median their median.
type Point struct {
	Scenario string    `json:"scenario"`
	Server   string    `json:"server"`
	Driver   string    `json:"driver"`
	Setting  float64   `json:"setting"`
	Metric   string    `json:"metric"`
	Values   []float64 `json:"values"`
	Median   float64   `json:"median"`
	// Extra holds secondary figures of the median run (loss, p99, RSS,
	// generator CPU), by name.
	Extra map[string]float64 `json:"extra,omitempty"`
	// Series is the per-second series of the median run, when it has one.
	Series []loadgen.Second `json:"series,omitempty"`
	Notes  []string         `json:"notes,omitempty"`
}

// Results is results.json.
type Results struct {
	Start    time.Time         `json:"start"`
	Machine  map[string]string `json:"machine"`
	Settings map[string]any    `json:"settings"`
	Points   []Point           `json:"points"`
	Skipped  []string          `json:"skipped"`
	Failures []string          `json:"failures"`
}

// suite is the state of one RunSuite.
type suite struct {
	o      SuiteOptions
	log    *slog.Logger
	dir    string
	tmp    string
	kea    string // kea-dhcp4 path, "" when not run
	perf   string // perfdhcp path, "" when absent
	res    Results
	run    int
	runDur time.Duration
}

// RunSuite runs the scenarios of issue 4 and writes results.json,
// results.md and SVG plots under o.Out/<timestamp>/. It fails on
// correctness (a wrong reply, a crash, a run that served nothing), never on
// speed.
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
	s := &suite{o: o, log: o.Logger}
	s.res.Start = time.Now()
	s.dir = filepath.Join(o.Out, s.res.Start.Format("20060102-150405"))
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return fmt.Errorf("results folder: %w", err)
	}
	tmp, err := os.MkdirTemp("", "xd-suite-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	s.tmp = tmp
	s.res.Machine = machine()
	s.runDur = 10 * time.Second
	if o.Quick {
		s.runDur = 3 * time.Second
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
	s.res.Settings = map[string]any{
		"quick": o.Quick, "repeats": o.Repeats, "run_seconds": s.runDur.Seconds(),
		"server_cpu": serverCPU, "generator_cpu": genCPU, "subnet": suiteSubnet,
		"xdhcpd": o.Xdhcpd, "kea": s.kea, "perfdhcp": s.perf,
	}

	scenarios := []struct {
		name string
		fn   func(context.Context) error
	}{{"S1", s.s1}, {"S2", s.s2}, {"S3", s.s3}}
	if !o.Quick {
		scenarios = append(scenarios, struct {
			name string
			fn   func(context.Context) error
		}{"S4", s.s4}, struct {
			name string
			fn   func(context.Context) error
		}{"S6/S7", s.s67})
	}
	s.res.Skipped = append(s.res.Skipped, "S5 (HA hot-standby pair): skipped until HA exists")
	if o.Quick {
		s.res.Skipped = append(s.res.Skipped, "S4, S6, S7: not in -quick")
	}
	for _, sc := range scenarios {
		if ctx.Err() != nil {
			break
		}
		s.log.Info("scenario", "name", sc.name)
		if err := sc.fn(ctx); err != nil {
			s.res.Failures = append(s.res.Failures, sc.name+": "+err.Error())
			s.log.Error("scenario failed", "name", sc.name, "err", err)
		}
	}
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

// servers lists the servers to compare, xdhcp first.
func (s *suite) servers() []string {
	if s.kea != "" {
		return []string{"xdhcp", "kea"}
	}
	return []string{"xdhcp"}
}

// instance is a server running in a fresh lab.
type instance struct {
	lab *Lab
	srv *Server
}

func (in *instance) close() error {
	err := in.srv.Stop()
	return errors.Join(err, in.lab.Close())
}

// start builds a fresh lab and starts the named server in it, pinned to
// serverCPU, with leaseFile (empty: a new empty one).
func (s *suite) start(ctx context.Context, name, leaseFile string) (*instance, error) {
	s.run++
	b, err := NewLab("xd-suite", suiteServer, suiteClient)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(s.tmp, fmt.Sprintf("%s-%d", name, s.run))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Close()
		return nil, err
	}
	if leaseFile == "" {
		leaseFile = filepath.Join(dir, "leases4.csv")
	}
	var srv *Server
	switch name {
	case "xdhcp":
		cfg := filepath.Join(dir, "xdhcpd.json")
		if err := os.WriteFile(cfg, xdhcpConfig(leaseFile), 0o644); err != nil {
			b.Close()
			return nil, err
		}
		srv, err = StartXdhcpd(ctx, b, ServerOptions{Bin: s.o.Xdhcpd, Config: cfg, CPU: serverCPU, LogPath: filepath.Join(dir, "log")})
	case "kea":
		cfg := filepath.Join(dir, "kea-dhcp4.json")
		sock := filepath.Join(dir, "kea4.sock")
		if err := os.WriteFile(cfg, keaConfig(leaseFile, sock, filepath.Join(dir, "kea.log")), 0o644); err != nil {
			b.Close()
			return nil, err
		}
		srv, err = StartKea(ctx, b, ServerOptions{Bin: s.kea, Config: cfg, CPU: serverCPU, LogPath: filepath.Join(dir, "log"),
			Env: []string{"KEA_PIDFILE_DIR=" + dir, "KEA_LOCKFILE_DIR=" + dir}}, sock)
	default:
		err = fmt.Errorf("unknown server %q", name)
	}
	if err != nil {
		b.Close()
		return nil, err
	}
	return &instance{lab: b, srv: srv}, nil
}

// gen runs `Self run` in the client namespace pinned to genCPU and returns
// its report. Only a failure to run or parse is an error; the caller checks
// the report.
func (s *suite) gen(ctx context.Context, in *instance, args ...string) (*loadgen.Report, error) {
	argv := append([]string{"-c", strconv.Itoa(genCPU), s.o.Self, "run", "-q", "-netns", in.lab.Client.Path(), "-iface", in.lab.ClientIf,
		"-server", suiteServer.Addr().String(), "-subnet", suiteSubnet, "-server-mac", macString(in.lab.ServerMAC)}, args...)
	cmd := exec.CommandContext(ctx, "taskset", argv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var rep loadgen.Report
	if jerr := json.Unmarshal(stdout.Bytes(), &rep); jerr != nil {
		return nil, fmt.Errorf("generator: %v (%v): %s", err, jerr, strings.TrimSpace(stderr.String()))
	}
	return &rep, nil
}

func macString(m [6]byte) string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
}

// check records correctness failures of a run.
func (s *suite) check(what string, in *instance, rep *loadgen.Report) {
	if rep != nil {
		if err := rep.Failed(); err != nil {
			s.res.Failures = append(s.res.Failures, fmt.Sprintf("%s on %s: %v", what, in.srv.Name, err))
		}
	}
	if !in.srv.Alive() {
		s.res.Failures = append(s.res.Failures, fmt.Sprintf("%s: %s crashed; log tail:\n%s", what, in.srv.Name, in.srv.LogTail(10)))
	}
}

// measure runs fn for every server, repeats interleaved (A B A B), and
// appends one Point per server with the median. fn returns the main value,
// extra figures and the run's series.
func (s *suite) measure(ctx context.Context, scenario, driver, metric string, setting float64,
	fn func(ctx context.Context, server string) (float64, map[string]float64, []loadgen.Second, error)) ([]Point, error) {
	type run struct {
		v     float64
		extra map[string]float64
		ser   []loadgen.Second
	}
	runs := map[string][]run{}
	var errs []error
	for range s.o.Repeats {
		for _, name := range s.servers() {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			v, extra, ser, err := fn(ctx, name)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s %s %s %v: %w", scenario, name, driver, setting, err))
				continue
			}
			runs[name] = append(runs[name], run{v, extra, ser})
		}
	}
	var pts []Point
	for _, name := range s.servers() {
		rs := runs[name]
		if len(rs) == 0 {
			continue
		}
		slices.SortFunc(rs, func(a, b run) int { return cmpF(a.v, b.v) })
		med := rs[len(rs)/2]
		p := Point{Scenario: scenario, Server: name, Driver: driver, Setting: setting, Metric: metric, Median: med.v, Extra: med.extra, Series: med.ser}
		for _, r := range rs {
			p.Values = append(p.Values, r.v)
		}
		pts = append(pts, p)
	}
	s.res.Points = append(s.res.Points, pts...)
	return pts, errors.Join(errs...)
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

// loadRun is one generator run against a fresh server.
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

func genExtra(rep *loadgen.Report) map[string]float64 {
	m := map[string]float64{
		"offered": rep.OfferedRate, "loss_pct": rep.LossPct,
		"dora_p50_ms": rep.DORA.Latency.P50Ms, "dora_p99_ms": rep.DORA.Latency.P99Ms, "dora_p999_ms": rep.DORA.Latency.P999Ms,
		"renew_p50_ms": rep.Renew.Latency.P50Ms, "renew_p99_ms": rep.Renew.Latency.P99Ms,
		"gen_cpu_pct": rep.Generator.CPUPct, "gen_socket_drops": float64(rep.Generator.SocketDrops),
		"gen_saturated": b2f(rep.Generator.Saturated), "wrong": float64(rep.Wrong),
	}
	if rep.Warmup != nil {
		m["warmup_lost"] = float64(rep.Warmup.Lost)
	}
	return m
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// s1 searches the knee of new leases/s: open-loop rates doubling until the
// loss reaches 1%, with xdhcp-bench, then perfdhcp at the same rates.
func (s *suite) s1(ctx context.Context) error {
	rates := []float64{1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000}
	if s.o.Quick {
		rates = []float64{1000, 4000, 16000}
	}
	dur := s.runDur
	var errs []error
	for _, driver := range []string{"xdhcp-bench", "perfdhcp"} {
		if driver == "perfdhcp" && s.perf == "" {
			continue
		}
		stopped := map[string]bool{}
		for _, rate := range rates {
			pts, err := s.measure(ctx, "S1", driver, "leases/s", rate, func(ctx context.Context, server string) (float64, map[string]float64, []loadgen.Second, error) {
				if stopped[server] {
					return 0, nil, nil, errSkip
				}
				if driver == "perfdhcp" {
					return s.perfdhcpRun(ctx, server, rate, dur)
				}
				n := int(rate * dur.Seconds())
				rep, in, err := s.loadRun(ctx, server, fmt.Sprintf("S1 %.0f/s", rate), "-mode", "open", "-rate", ftoa(rate),
					"-clients", strconv.Itoa(n+warmupClients), "-warmup", strconv.Itoa(warmupClients), "-count", strconv.Itoa(n),
					"-duration", dur.String(), "-timeout", "1s")
				if err != nil {
					return 0, nil, nil, err
				}
				if err := in.close(); err != nil {
					s.res.Failures = append(s.res.Failures, "S1: "+err.Error())
				}
				return rep.DORA.Rate, genExtra(rep), rep.Series, nil
			})
			if err != nil && !errors.Is(err, errSkip) {
				errs = append(errs, err)
			}
			for _, p := range pts {
				if p.Extra["loss_pct"] >= 1 {
					stopped[p.Server] = true // past the knee
				}
			}
			if len(stopped) == len(s.servers()) {
				break
			}
		}
	}
	return errors.Join(errs...)
}

var errSkip = errors.New("skipped past the knee")

// warmupClients are bound (closed loop, unmeasured) before the S1 and S3
// runs, so that they measure the steady state; the warm-up's own losses are
// kept in the point's extra figures (warmup_lost).
const warmupClients = 200

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// s2 measures cached renewals/s: bind N clients, then renew them in a
// closed loop as fast as the server answers.
func (s *suite) s2(ctx context.Context) error {
	n := 20000
	if s.o.Quick {
		n = 5000
	}
	_, err := s.measure(ctx, "S2", "xdhcp-bench", "renewals/s", float64(n), func(ctx context.Context, server string) (float64, map[string]float64, []loadgen.Second, error) {
		rep, in, err := s.loadRun(ctx, server, "S2", "-mode", "closed", "-outstanding", "256", "-clients", strconv.Itoa(n),
			"-warmup", strconv.Itoa(n), "-renew-fraction", "1", "-duration", s.runDur.String(), "-timeout", "1s")
		if err != nil {
			return 0, nil, nil, err
		}
		if err := in.close(); err != nil {
			s.res.Failures = append(s.res.Failures, "S2: "+err.Error())
		}
		return rep.Renew.Rate, genExtra(rep), rep.Series, nil
	})
	return err
}

// s3 compares 1,000 legitimate clients alone and beside a DROP-class flood.
func (s *suite) s3(ctx context.Context) error {
	var errs []error
	for _, flood := range []bool{false, true} {
		setting := 0.0
		if flood {
			setting = 1
		}
		_, err := s.measure(ctx, "S3", "xdhcp-bench", "legit p99 ms", setting, func(ctx context.Context, server string) (float64, map[string]float64, []loadgen.Second, error) {
			args := []string{"-mode", "open", "-rate", "500", "-clients", strconv.Itoa(1000 + warmupClients), "-warmup", strconv.Itoa(warmupClients),
				"-count", "1000", "-duration", "20s", "-timeout", "1s"}
			if flood {
				args = append(args, "-flood-mac", dropMAC)
			}
			rep, in, err := s.loadRun(ctx, server, "S3", args...)
			if err != nil {
				return 0, nil, nil, err
			}
			extra := genExtra(rep)
			extra["flood_frames"] = float64(rep.FloodFrames)
			if rep.DurationS > 0 {
				extra["flood_rate"] = float64(rep.FloodFrames) / rep.DurationS
			}
			extra["dora_completed"] = float64(rep.DORA.Completed)
			if err := in.close(); err != nil {
				s.res.Failures = append(s.res.Failures, "S3: "+err.Error())
			}
			return rep.DORA.Latency.P99Ms, extra, rep.Series, nil
		})
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// s4 overloads each server at 10x its S1 knee with half new, half
// renewing clients, and reports the renewal goodput and the RSS.
func (s *suite) s4(ctx context.Context) error {
	_, err := s.measure(ctx, "S4", "xdhcp-bench", "renew goodput %", 10, func(ctx context.Context, server string) (float64, map[string]float64, []loadgen.Second, error) {
		knee := s.knee(server)
		rate := 10 * knee
		warm := 20000
		n := warm + int(rate*s.runDur.Seconds())
		rep, in, err := s.loadRun(ctx, server, "S4", "-mode", "open", "-rate", ftoa(rate), "-clients", strconv.Itoa(n),
			"-warmup", strconv.Itoa(warm), "-renew-fraction", "0.5", "-count", strconv.Itoa(n), "-duration", s.runDur.String(), "-timeout", "1s")
		if err != nil {
			return 0, nil, nil, err
		}
		rss, _ := in.srv.RSSKiB()
		if err := in.close(); err != nil {
			s.res.Failures = append(s.res.Failures, "S4: "+err.Error())
		}
		extra := genExtra(rep)
		extra["rate"] = rate
		extra["rss_mib"] = float64(rss) / 1024
		good := 0.0
		if rep.Renew.Started > 0 {
			good = 100 * float64(rep.Renew.Completed) / float64(rep.Renew.Started)
		}
		return good, extra, rep.Series, nil
	})
	return err
}

// knee is the highest S1 rate (xdhcp-bench) served under 1% loss.
func (s *suite) knee(server string) float64 {
	k := 1000.0
	for _, p := range s.res.Points {
		if p.Scenario == "S1" && p.Server == server && p.Driver == "xdhcp-bench" && p.Extra["loss_pct"] < 1 {
			k = max(k, p.Median)
		}
	}
	return k
}

// s67 starts each server on a 1M-lease file and on an empty one: start-up
// time (S6) and RSS per lease (S7).
func (s *suite) s67(ctx context.Context) error {
	const n = 1_000_000
	big := filepath.Join(s.tmp, "leases-1m.csv")
	if err := writeLeaseFile(big, n); err != nil {
		return err
	}
	var errs []error
	_, err := s.measure(ctx, "S6", "start", "start-up s", n, func(ctx context.Context, server string) (float64, map[string]float64, []loadgen.Second, error) {
		empty, err := s.start(ctx, server, "")
		if err != nil {
			return 0, nil, nil, err
		}
		time.Sleep(500 * time.Millisecond)
		rss0, err0 := empty.srv.RSSKiB()
		empty.close()
		// Each run gets its own copy: servers rewrite their lease file.
		lf := filepath.Join(s.tmp, fmt.Sprintf("leases-1m-%s-%d.csv", server, s.run))
		if err := copyFile(big, lf); err != nil {
			return 0, nil, nil, err
		}
		defer os.Remove(lf)
		in, err := s.start(ctx, server, lf)
		if err != nil {
			return 0, nil, nil, err
		}
		defer in.close()
		time.Sleep(500 * time.Millisecond)
		rss, err1 := in.srv.RSSKiB()
		if err := errors.Join(err0, err1); err != nil {
			return 0, nil, nil, err
		}
		a, err := in.srv.Command(ctx, "statistic-get", map[string]any{"name": "subnet[1].assigned-addresses"})
		extra := map[string]float64{"rss_empty_mib": float64(rss0) / 1024, "rss_1m_mib": float64(rss) / 1024,
			"bytes_per_lease": float64(rss-rss0) * 1024 / n}
		if err == nil {
			extra["assigned_stat_result"] = float64(a.Result)
		}
		s.check("S6", in, nil)
		return in.srv.Ready.Seconds(), extra, nil, nil
	})
	errs = append(errs, err)
	// S7 is derived from the same runs.
	for _, p := range s.res.Points {
		if p.Scenario == "S6" {
			q := Point{Scenario: "S7", Server: p.Server, Driver: "start", Setting: n, Metric: "bytes/lease", Median: p.Extra["bytes_per_lease"], Extra: p.Extra}
			q.Values = []float64{q.Median}
			s.res.Points = append(s.res.Points, q)
		}
	}
	return errors.Join(errs...)
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
		return err
	}
	return os.WriteFile(dst, b, 0o644)
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
