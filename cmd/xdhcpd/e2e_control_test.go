package main

// The control channel as an operator uses it: reloads (good and broken),
// dhcp-disable/-enable, statistics and /metrics, shutdown, and `xdhcpd -t`.

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
)

// answers reports whether a fresh client gets an OFFER within about half
// a second (one DISCOVER).
func (e *e2eEnv) answers(t *testing.T, m net.HardwareAddr) bool {
	t.Helper()
	c := e.nclient(m, nclient4.WithRetry(1), nclient4.WithTimeout(500*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err := c.DiscoverOffer(ctx)
	if err != nil && !errors.Is(err, nclient4.ErrNoResponse) {
		t.Fatalf("DISCOVER: %v", err)
	}
	return err == nil
}

// dhcpState reads status-get's dhcp-state.enabled.
func dhcpEnabled(t *testing.T, d *e2eDaemon) bool {
	t.Helper()
	var st struct {
		State struct {
			Enabled bool `json:"enabled"`
		} `json:"dhcp-state"`
	}
	d.ok("status-get", nil, &st)
	return st.State.Enabled
}

func TestE2EControl(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.baseConfig()
	d := e.startDaemon(cfg)
	n := 0
	next := func() net.HardwareAddr { n++; return mac(9, n) }

	t.Run("ConfigReload", func(t *testing.T) {
		// A broken file: the reload fails, the running config stays.
		if err := os.WriteFile(d.ConfigPath(), []byte(`{"Dhcp4": {"subnet4": [ {"id": 1, "subnet": "10.88.0.0/33"} ]`), 0o644); err != nil {
			t.Fatal(err)
		}
		if a := d.command("config-reload", nil); a.Result != 1 {
			t.Errorf("config-reload of a broken file: result %d %q, want 1", a.Result, a.Text)
		}
		// SIGHUP with the same broken file must not stop the daemon either.
		if err := d.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
		if !d.Running() {
			t.Fatalf("xdhcpd exited on SIGHUP with a broken file: %v", d.Err())
		}
		if lt := dora(t, e.nclient(next())).ACK.IPAddressLeaseTime(0); lt != time.Hour {
			t.Errorf("after the failed reload: lease time %v, want the old config's 1h", lt)
		}
		// A good file with a new lifetime: the reload takes effect.
		dhcp4(cfg)["valid-lifetime"] = 1800
		e.writeConfig("xdhcpd.json", cfg)
		if a := d.command("config-reload", nil); a.Result != 0 {
			t.Fatalf("config-reload of a good file: result %d %q", a.Result, a.Text)
		}
		if lt := dora(t, e.nclient(next())).ACK.IPAddressLeaseTime(0); lt != 30*time.Minute {
			t.Errorf("after the reload: lease time %v, want 30m", lt)
		}
		var got map[string]any
		d.ok("config-get", nil, &got)
		if v := got["Dhcp4"].(map[string]any)["valid-lifetime"]; v != 1800.0 {
			t.Errorf("config-get valid-lifetime %v, want 1800", v)
		}
	})

	t.Run("DisableEnable", func(t *testing.T) {
		d.ok("dhcp-disable", map[string]any{"origin": "user"}, nil)
		if dhcpEnabled(t, d) {
			t.Errorf("status-get says enabled after dhcp-disable")
		}
		if e.answers(t, next()) {
			t.Errorf("answered while disabled by the user")
		}
		d.ok("dhcp-enable", map[string]any{"origin": "user"}, nil)
		if !e.answers(t, next()) {
			t.Errorf("no answer after dhcp-enable")
		}
		// Service is on only when every origin that disabled it enabled
		// it again (Kea 2.0+).
		d.ok("dhcp-disable", map[string]any{"origin": "user"}, nil)
		d.ok("dhcp-disable", map[string]any{"origin": "ha-partner"}, nil)
		d.ok("dhcp-enable", map[string]any{"origin": "user"}, nil)
		if dhcpEnabled(t, d) || e.answers(t, next()) {
			t.Errorf("enabled by the user while the HA partner still disables it")
		}
		d.ok("dhcp-enable", map[string]any{"origin": "ha-partner"}, nil)
		if !dhcpEnabled(t, d) || !e.answers(t, next()) {
			t.Errorf("not serving after both origins enabled it")
		}
	})

	t.Run("DisableMaxPeriod", func(t *testing.T) {
		start := time.Now()
		d.ok("dhcp-disable", map[string]any{"origin": "user", "max-period": 1}, nil)
		if e.answers(t, next()) {
			t.Errorf("answered during a 1 s dhcp-disable")
		}
		if !poll(4*time.Second, func() bool { return dhcpEnabled(t, d) }) {
			t.Fatalf("still disabled %v after dhcp-disable max-period 1", time.Since(start))
		}
		if el := time.Since(start); el < 900*time.Millisecond {
			t.Errorf("re-enabled after %v, before max-period 1 s", el)
		}
		if !e.answers(t, next()) {
			t.Errorf("no answer after max-period ran out")
		}
	})

	t.Run("StatisticsAndMetrics", func(t *testing.T) {
		before := d.stat("pkt4-ack-sent")
		for i := 0; i < 3; i++ {
			dora(t, e.nclient(next()))
		}
		// The counter ticks after the send returns: a client can hold
		// its ACK a moment before the statistic shows it.
		acks := d.stat("pkt4-ack-sent")
		for deadline := time.Now().Add(3 * time.Second); acks < before+3 && time.Now().Before(deadline); acks = d.stat("pkt4-ack-sent") {
			time.Sleep(20 * time.Millisecond)
		}
		if acks != before+3 {
			t.Errorf("pkt4-ack-sent %d -> %d after 3 DORAs, want +3", before, acks)
		}
		var all map[string]json.RawMessage
		d.ok("statistic-get-all", nil, &all)
		for _, name := range []string{"pkt4-received", "pkt4-discover-received", "pkt4-request-received",
			"pkt4-offer-sent", "pkt4-ack-sent", "pkt4-receive-drop", "subnet[1].total-addresses",
			"subnet[1].assigned-addresses"} {
			if _, ok := all[name]; !ok {
				t.Errorf("statistic-get-all lacks %s", name)
			}
		}
		if v := d.stat("subnet[1].total-addresses"); v != 251 {
			t.Errorf("subnet[1].total-addresses %d, want 251 (10.88.1.0-10.88.1.250)", v)
		}
		text := d.metrics()
		for series, want := range map[string]float64{
			"xdhcp_pkt4_ack_sent_total":                      float64(acks),
			`xdhcp_subnet_assigned_addresses{subnet_id="1"}`: float64(d.stat("subnet[1].assigned-addresses")),
			`xdhcp_subnet_total_addresses{subnet_id="1"}`:    251,
			"xdhcp_pkt4_received_total":                      float64(d.stat("pkt4-received")),
		} {
			got, ok := metricValue(text, series)
			switch {
			case !ok:
				t.Errorf("/metrics lacks %s", series)
			case got != want:
				t.Errorf("/metrics %s = %v, want %v", series, got, want)
			}
		}
		if !strings.Contains(text, "# TYPE xdhcp_pkt4_received_total counter") {
			t.Errorf("/metrics: xdhcp_pkt4_received_total is not typed as a counter")
		}
		checkPromtool(t, text)
		for _, want := range []string{
			`xdhcp_slowpath_processing_seconds_bucket{type="discover",le="+Inf"} `,
			"# TYPE xdhcp_slowpath_processing_seconds histogram",
			`xdhcp_build_info{version="`,
			"# TYPE xdhcp_lease_file_syncs_total counter",
		} {
			if !strings.Contains(text, want) {
				t.Errorf("/metrics lacks %q", want)
			}
		}
		if strings.Contains(text, "xdhcp_xdhcp_") {
			t.Errorf("/metrics has a doubled prefix (xdhcp_xdhcp_)")
		}
	})

	t.Run("Shutdown", func(t *testing.T) {
		leases := d.leases()
		fileBefore, err := os.ReadFile(e.leasePath())
		if err != nil {
			t.Fatal(err)
		}
		if a := d.command("shutdown", nil); a.Result != 0 {
			t.Fatalf("shutdown: result %d %q", a.Result, a.Text)
		}
		if err := d.Wait(10 * time.Second); err != nil {
			t.Fatalf("xdhcpd after shutdown: %v (want exit status 0)", err)
		}
		fileAfter, err := os.ReadFile(e.leasePath())
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(fileAfter), string(fileBefore)) {
			t.Errorf("lease file changed other than by appending during shutdown")
		}
		live := liveCSV(readCSV(t, e.leasePath()))
		if len(live) != len(leases) {
			t.Errorf("lease file holds %d live leases after shutdown, lease4-get-all listed %d", len(live), len(leases))
		}
		// And the next start serves the same leases.
		d.Restart()
		for _, l := range leases {
			if got, ok := d.lease(l.IPAddress); !ok || got.HWAddress != live[l.IPAddress].HWAddr {
				t.Errorf("after restart: lease4-get %s = %+v (found %v), file says %s", l.IPAddress, got, ok, live[l.IPAddress].HWAddr)
			}
		}
	})
}

func TestE2EConfigCheck(t *testing.T) {
	t.Parallel()
	bin := xdhcpd.Path(t)
	e := newEnv(t) // its server namespace has the interface the configuration names
	dir := e.dir
	good := e.writeConfig("good.json", e.baseConfig())
	bad := e.baseConfig()
	subnet(bad, 0)["pools"] = []any{map[string]any{"pool": "10.99.0.1 - 10.99.0.9"}} // outside the subnet
	badPath := e.writeConfig("bad.json", bad)
	// HA settings are part of the configuration: -t checks them too.
	haBad := e.baseConfig()
	dhcp4(haBad)["hooks-libraries"] = []any{map[string]any{"library": "libdhcp_ha.so", "parameters": map[string]any{
		"high-availability": []any{map[string]any{"this-server-name": "a", "mode": "hot-standby", "heartbeat-dealy": 5}}}}}
	haPath := e.writeConfig("ha.json", haBad)
	syntax := filepath.Join(dir, "syntax.json")
	if err := os.WriteFile(syntax, []byte(`{"Dhcp4": { "valid-lifetime": 3600, }`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		code       int
		says       string
	}{
		{"Good", good, 0, "valid"},
		{"PoolOutsideSubnet", badPath, 1, "subnet4"},
		{"HAUnknownKey", haPath, 1, "Dhcp4.hooks-libraries[0].parameters.high-availability[0].heartbeat-dealy: unknown parameter"},
		{"Syntax", syntax, 1, ""},
		{"Missing", filepath.Join(dir, "nope.json"), 1, "nope.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// In the server's namespace: -t, like kea-dhcp4 -t, refuses
			// interfaces the system lacks.
			out, err := e.srv.Command(context.Background(), bin, "-t", tc.path).CombinedOutput()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code {
				t.Errorf("xdhcpd -t %s: exit %d, want %d\n%s", filepath.Base(tc.path), code, tc.code, out)
			}
			if !strings.Contains(string(out), tc.says) {
				t.Errorf("xdhcpd -t %s says %q, want it to mention %q", filepath.Base(tc.path), out, tc.says)
			}
		})
	}
}

// A SIGHUP (an operator's reload, or logrotate) must never kill the daemon,
// also not while it is still starting: its control socket already answers
// then.
func TestE2ESIGHUPDuringStartup(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	d := e.newDaemon(e.baseConfig())
	d.Launch()
	if !poll(15*time.Second, func() bool {
		a, err := d.Try("version-get", nil)
		return (err == nil && a.Result == 0) || !d.Running()
	}) || !d.Running() {
		t.Fatalf("xdhcpd did not answer version-get:\n%s", d.Log())
	}
	if err := d.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if !d.Running() {
		t.Fatalf("SIGHUP right after the control socket answered killed xdhcpd: %v", d.Err())
	}
	d.WaitReady(15 * time.Second)
}

// checkPromtool runs Prometheus's own linter on a /metrics scrape: every
// family has HELP and TYPE, counters end in _total, histograms have le
// buckets, names follow the conventions.
func checkPromtool(t *testing.T, text string) {
	t.Helper()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not installed (make deps installs the prometheus package): %v", err)
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	// A statistic without its own description is exported with a HELP
	// line that only names it: every statistic must be described.
	for line := range strings.Lines(text) {
		if strings.HasPrefix(line, "# HELP xdhcp_") && strings.Contains(line, " Statistic ") {
			t.Errorf("statistic without a description: %s", strings.TrimSpace(line))
		}
	}
}
