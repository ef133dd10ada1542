package bench

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWithLeaseHooks(t *testing.T) {
	dir := t.TempDir()
	cfg, err := withLeaseHooks(xdhcpConfig(filepath.Join(dir, "l.csv"), nil, "", filepath.Join(dir, "pins")), dir, "", true, "", false)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Dhcp4 struct {
			Hooks []struct {
				Library    string         `json:"library"`
				Parameters map[string]any `json:"parameters"`
			} `json:"hooks-libraries"`
		}
	}
	if err := json.Unmarshal(cfg, &doc); err != nil {
		t.Fatal(err)
	}
	h := doc.Dhcp4.Hooks
	if len(h) != 2 || filepath.Base(h[0].Library) != "libdhcp_run_script.so" || filepath.Base(h[1].Library) != "libdhcp_legal_log.so" ||
		h[0].Parameters["name"] != filepath.Join(dir, "lease-hook.sh") || h[1].Parameters["path"] != dir {
		t.Errorf("hooks-libraries %+v", h)
	}
}

// The hooks table sets each server's run with hooks beside its run
// without, with the server's CPU per exchange.
func TestHooksTable(t *testing.T) {
	r := &Results{Points: []Point{
		{Scenario: "S2", Driver: "xdhcp-bench", Label: "closed loop", Metric: "renewals/s", Server: "xdhcp", Median: 200, Extra: map[string]float64{"server_cpu_us_per_op": 4}},
		{Scenario: "S2", Driver: "xdhcp-bench", Label: "closed loop", Metric: "renewals/s", Server: "xdhcp" + HooksSuffix, Median: 180, Extra: map[string]float64{"server_cpu_us_per_op": 5}},
	}}
	order, by := rows(r)
	got := hooksTable(order, by)
	if !strings.Contains(got, "| S2 | xdhcp-bench | closed loop | renewals/s | xdhcp | 200 | 180 | 90% | – | – | 4.0 → 5.0 |") {
		t.Errorf("table:\n%s", got)
	}
}

func TestProcessCPU(t *testing.T) {
	before, err := processCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for x, t0 := 0, time.Now(); time.Since(t0) < 50*time.Millisecond; x++ {
		_ = x * x
	}
	if after, err := processCPU(os.Getpid()); err != nil || after <= before {
		t.Errorf("CPU %v then %v (%v)", before, after, err)
	}
}
