package monitoring

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

func promtool(t *testing.T, args ...string) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not installed (make deps installs the prometheus package): %v", err)
	}
	out, err := exec.Command(path, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestAlertRules(t *testing.T) {
	promtool(t, "check", "rules", "xdhcp-alerts.yml")
	promtool(t, "test", "rules", "xdhcp-alerts_test.yml")
}

// TestEveryAlertIsUnitTested keeps the rule tests in step with the rules.
func TestEveryAlertIsUnitTested(t *testing.T) {
	b, err := os.ReadFile("xdhcp-alerts_test.yml")
	if err != nil {
		t.Fatal(err)
	}
	tests := string(b)
	for _, name := range AlertNames() {
		if !strings.Contains(tests, "alertname: "+name+"\n") {
			t.Errorf("alert %s has no test in xdhcp-alerts_test.yml", name)
		}
	}
	if len(AlertNames()) < 6 {
		t.Errorf("found %d alerts, want at least 6", len(AlertNames()))
	}
}

func TestDashboardPanelsHaveQueries(t *testing.T) {
	panels, err := Panels()
	if err != nil {
		t.Fatal(err)
	}
	if len(panels) < 10 {
		t.Fatalf("%d panels", len(panels))
	}
	for _, p := range panels {
		if p.Title == "" || len(p.Exprs) == 0 {
			t.Errorf("panel %+v: no title or no query", p)
		}
	}
}
