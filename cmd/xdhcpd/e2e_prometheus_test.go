package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf/link"

	"xdhcp/monitoring"
)

// TestE2EPrometheus scrapes a serving daemon's telemetry listener (no
// credentials) with a real Prometheus server in the lab, loaded with the
// shipped alert rules, and runs what an operator's Prometheus and Grafana
// would: a latency quantile from the histogram, every alert rule (each
// must evaluate without error) and every dashboard query (each must return
// data from this daemon). Then /ready and the XDP-detached alert
// expression follow a detached program and a disabled service.
func TestE2EPrometheus(t *testing.T) {
	prom, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatalf("prometheus not installed (make deps installs it): %v", err)
	}
	e := newEnv(t)
	e.mode = "auto"
	cfg0 := e.baseConfig()
	dhcp4(cfg0)["cache-threshold"] = 0.5 // renewals answered by the fast path
	dhcp4(cfg0)["xdhcp"].(map[string]any)["telemetry"] = map[string]any{"address": "127.0.0.1", "port": 9547}
	d := e.startDaemon(cfg0)
	for i := 0; i < 5; i++ {
		dora(t, e.nclient(mac(0x51, i)))
	}

	dir := t.TempDir()
	rules := filepath.Join(dir, "xdhcp-alerts.yml")
	if err := os.WriteFile(rules, monitoring.Alerts, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`global: { scrape_interval: 1s, evaluation_interval: 1s }
rule_files: [ %q ]
scrape_configs:
  - job_name: xdhcp
    static_configs: [ { targets: [ "127.0.0.1:9547" ] } ]
`, rules)
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := e.srv.Command(context.Background(), prom, "--config.file="+cfgPath,
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address=127.0.0.1:9090")
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := e.srv.Start(cmd); err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var c net.Conn
			err := e.srv.Do(func() error {
				var err error
				var dl net.Dialer
				c, err = dl.DialContext(ctx, network, addr)
				return err
			})
			return c, err
		},
	}}
	query := func(q string) (promResult, error) {
		var r promResult
		resp, err := hc.Get("http://127.0.0.1:9090/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return r, err
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			return r, fmt.Errorf("decode answer: %w", err)
		}
		if r.Status != "success" {
			return r, fmt.Errorf("%s: %s", r.ErrorType, r.Error)
		}
		return r, nil
	}
	// Up, with enough scrapes for rate() over the traffic.
	if !poll(30*time.Second, func() bool {
		r, err := query(`count_over_time(up{job="xdhcp"}[1m]) >= 5 and up{job="xdhcp"} == 1`)
		return err == nil && len(r.Data.Result) == 1
	}) {
		log, _ := os.ReadFile(filepath.Join(dir, "prometheus.log"))
		t.Fatalf("prometheus did not scrape xdhcpd 5 times; its log:\n%s", log)
	}
	// More traffic inside the rate window, after the first scrapes:
	// new clients and renewals (the fast path's cache counters).
	for i := 5; i < 25; i++ {
		c := e.nclient(mac(0x51, i))
		l := dora(t, c)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if _, err := c.Renew(ctx, l); err != nil {
			t.Errorf("renew %d: %v", i, err)
		}
		cancel()
	}
	time.Sleep(3 * time.Second)

	r, err := query(`histogram_quantile(0.99, sum by (le) (rate(xdhcp_slowpath_processing_seconds_bucket{type="request"}[1m])))`)
	if err != nil || len(r.Data.Result) != 1 {
		t.Fatalf("histogram_quantile over the latency histogram: %v, %d series", err, len(r.Data.Result))
	}
	t.Logf("FIGURE prometheus: p99 slow-path REQUEST latency %s s", r.Data.Result[0].Value[1])

	// Every alert rule evaluates cleanly; none fires on a healthy daemon.
	var rulesAnswer struct {
		Data struct {
			Groups []struct {
				Rules []struct {
					Name, Health, LastError, State string
				} `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	resp, err := hc.Get("http://127.0.0.1:9090/api/v1/rules")
	if err != nil {
		t.Fatal(err)
	}
	err = json.NewDecoder(resp.Body).Decode(&rulesAnswer)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, g := range rulesAnswer.Data.Groups {
		for _, rule := range g.Rules {
			seen++
			t.Logf("FIGURE prometheus: alert %s health=%s state=%s", rule.Name, rule.Health, rule.State)
			if rule.Health != "ok" || rule.LastError != "" {
				t.Errorf("alert %s: health %q, error %q", rule.Name, rule.Health, rule.LastError)
			}
			if rule.State != "inactive" {
				t.Errorf("alert %s is %s on a healthy daemon", rule.Name, rule.State)
			}
		}
	}
	if want := len(monitoring.AlertNames()); seen != want {
		t.Errorf("prometheus loaded %d rules, the file has %d", seen, want)
	}

	// Every dashboard query returns data, except those about HA (this
	// daemon has no partner).
	panels, err := monitoring.Panels()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range panels {
		for _, expr := range p.Exprs {
			q := monitoring.Instantiate(expr)
			r, err := query(q)
			switch {
			case err != nil:
				t.Errorf("panel %q: %s: %v", p.Title, q, err)
			case len(r.Data.Result) == 0 && !strings.Contains(q, "xdhcp_ha_"):
				t.Errorf("panel %q: %s: no data", p.Title, q)
			case strings.Contains(p.Title, "cache hit") && r.Data.Result[0].Value[1] == "0":
				t.Errorf("panel %q: %s: 0 with renewals answered from the cache", p.Title, q)
			default:
				t.Logf("FIGURE dashboard: %-32s %s", p.Title, r.summary())
			}
		}
	}

	t.Run("ready-and-detach", func(t *testing.T) {
		telemetryGet := func(path string) (int, string) {
			resp, err := hc.Get("http://127.0.0.1:9547" + path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		if code, body := telemetryGet("/healthz"); code != 200 {
			t.Errorf("/healthz: %d %q", code, body)
		}
		if code, body := telemetryGet("/ready"); code != 200 {
			t.Errorf("/ready on a serving daemon: %d %q", code, body)
		}
		d.ok("dhcp-disable", nil, nil)
		if code, body := telemetryGet("/ready"); code != 503 || !strings.Contains(body, "origin user") {
			t.Errorf("/ready after dhcp-disable: %d %q, want 503 naming origin user", code, body)
		}
		d.ok("dhcp-enable", nil, nil)

		// Someone detaches the program behind the daemon's back.
		var st syscall.Stat_t
		if err := syscall.Stat(e.srv.Path(), &st); err != nil {
			t.Fatal(err)
		}
		pins, _ := filepath.Glob(fmt.Sprintf("/sys/fs/bpf/xdhcp/netns-%d-*/xdp_link_*", st.Ino))
		if len(pins) != 1 {
			t.Fatalf("pinned XDP links of the server namespace: %v, want one", pins)
		}
		l, err := link.LoadPinnedLink(pins[0], nil)
		if err != nil {
			t.Fatal(err)
		}
		err = l.Detach()
		l.Close()
		if err != nil {
			t.Fatalf("detach %s: %v", pins[0], err)
		}
		if code, body := telemetryGet("/ready"); code != 503 || !strings.Contains(body, "XDP program not attached to "+e2eServerIf) {
			t.Errorf("/ready after detaching XDP: %d %q, want 503 naming %s", code, body, e2eServerIf)
		}
		var status struct {
			XDP []struct{ Interface, Mode string } `json:"xdp"`
		}
		d.ok("status-get", nil, &status)
		if len(status.XDP) != 1 || status.XDP[0].Mode != "none" {
			t.Errorf("status-get xdp %+v after detaching, want mode none", status.XDP)
		}
		expr := ""
		for line := range strings.Lines(string(monitoring.Alerts)) {
			if strings.Contains(line, "xdhcp_xdp_attached") {
				expr = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "expr:"))
			}
		}
		if !poll(15*time.Second, func() bool {
			r, err := query(expr)
			return err == nil && len(r.Data.Result) == 1
		}) {
			t.Errorf("alert expression %q returned nothing with the program detached", expr)
		}
	})
}

// promResult is a Prometheus instant-query answer.
type promResult struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      struct {
		Result []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	} `json:"data"`
}

// summary lists the first few series' values, for the test log.
func (r promResult) summary() string {
	var parts []string
	for i, s := range r.Data.Result {
		if i == 4 {
			parts = append(parts, fmt.Sprintf("… (%d series)", len(r.Data.Result)))
			break
		}
		name := s.Metric["__name__"]
		for _, k := range []string{"subnet_id", "type", "iface", "mode", "state", "reason", "verdict"} {
			if v, ok := s.Metric[k]; ok {
				name += " " + k + "=" + v
			}
		}
		parts = append(parts, fmt.Sprintf("%s %v", strings.TrimSpace(name), s.Value[1]))
	}
	return strings.Join(parts, "; ")
}
