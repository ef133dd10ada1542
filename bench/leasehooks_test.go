package bench

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWithLeaseHooks(t *testing.T) {
	dir := t.TempDir()
	cfg, err := withLeaseHooks(xdhcpConfig(filepath.Join(dir, "l.csv"), nil, "", filepath.Join(dir, "pins")), dir, "", true, leaseHookOptions{})
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

	// A script of the operator's is called as it is, and none is written.
	other := t.TempDir()
	cfg, err = withLeaseHooks(xdhcpConfig(filepath.Join(other, "l.csv"), nil, "", filepath.Join(other, "pins")), other, "", false,
		leaseHookOptions{set: HooksRunScript, script: "/usr/local/bin/provision.sh"})
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(cfg, &doc); err != nil {
		t.Fatal(err)
	}
	if h := doc.Dhcp4.Hooks; len(h) != 1 || h[0].Parameters["name"] != "/usr/local/bin/provision.sh" {
		t.Errorf("with a script of the operator's: hooks-libraries %+v", h)
	}
	if _, err := os.Stat(filepath.Join(other, "lease-hook.sh")); err == nil {
		t.Error("the trivial script was written too")
	}
}

// The hooks table sets each server's run with hooks beside its run
// without, with the server's CPU per exchange.
func TestHooksTable(t *testing.T) {
	r := &Results{Points: []Point{
		{Scenario: "S2", Driver: "xdhcp-bench", Label: "closed loop", Metric: "renewals/s", Server: "xdhcp", Median: 200, Extra: map[string]float64{"server_cpu_us_per_op": 4}},
		{Scenario: "S2", Driver: "xdhcp-bench", Label: "closed loop", Metric: "renewals/s", Server: "xdhcp" + HooksSuffix, Median: 180, Extra: map[string]float64{"server_cpu_us_per_op": 5,
			"child_cpu_us_per_op": 1.25, "scripts_run": 300, "scripts_dropped": 9700}},
	}}
	order, by := rows(r)
	got := hooksTable(order, by)
	if !strings.Contains(got, "| S2 | xdhcp-bench | closed loop | renewals/s | xdhcp | 200 | 180 | 90% | – | – | 4.0 → 5.0 | 1.2 | 300 / 9700 |") {
		t.Errorf("table:\n%s", got)
	}
}

func TestProcessCPU(t *testing.T) {
	before, kids, err := processCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Busy until a clock tick of CPU time has passed (a loaded machine may
	// give this process little of the wall time).
	for x, t0 := 0, time.Now(); time.Since(t0) < 5*time.Second; x++ {
		_ = x * x
		if x%1_000_000 == 0 {
			if now, _, _ := processCPU(os.Getpid()); now > before {
				break
			}
		}
	}
	// A child that burns CPU: once reaped, its time is the children's.
	if err := exec.Command("sh", "-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done").Run(); err != nil {
		t.Fatal(err)
	}
	after, kidsAfter, err := processCPU(os.Getpid())
	if err != nil || after <= before {
		t.Errorf("CPU %v then %v (%v)", before, after, err)
	}
	if kidsAfter <= kids {
		t.Errorf("children's CPU %v then %v after a reaped child's loop", kids, kidsAfter)
	}
}
