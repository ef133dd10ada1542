package bench

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestETAFromLastRun(t *testing.T) {
	base := t.TempDir()
	write := func(dir, body string) {
		if err := os.MkdirAll(filepath.Join(base, dir), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(base, dir, "results.json"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("20261201-100000", `{"quick": true, "scenario_seconds": {"S1": 10, "S2": 20, "S3": 30}}`)
	write("20261202-100000", `{"quick": true, "scenario_seconds": {"S1": 100, "S2": 200, "S3": 300}}`)
	write("20261203-100000", `{"quick": false, "scenario_seconds": {"S1": 1000}}`)
	est := scenarioEstimates(base, true)
	if est["S1"] != 100 || est["S3"] != 300 {
		t.Fatalf("estimates %v, want the latest quick run's", est)
	}
	if got := eta(est, nil, []string{"S1", "S2", "S3"}); got != 600*time.Second {
		t.Errorf("eta before any scenario: %v, want 10m0s", got)
	}
	// S1 took twice its estimate: the rest is expected twice as long too.
	if got := eta(est, map[string]float64{"S1": 200}, []string{"S2", "S3"}); got != 1000*time.Second {
		t.Errorf("eta after a slow S1: %v, want 16m40s", got)
	}
	if est := scenarioEstimates(t.TempDir(), false); est["S5"] == 0 {
		t.Errorf("no default estimate for S5: %v", est)
	}
}
