package monitoring

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Panel is one dashboard panel and its PromQL queries.
type Panel struct {
	Title string
	Exprs []string
}

// Panels returns the dashboard's panels in order.
func Panels() ([]Panel, error) {
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(Dashboard, &d); err != nil {
		return nil, fmt.Errorf("grafana-dashboard.json: %w", err)
	}
	out := make([]Panel, 0, len(d.Panels))
	for _, p := range d.Panels {
		q := Panel{Title: p.Title}
		for _, tg := range p.Targets {
			q.Exprs = append(q.Exprs, tg.Expr)
		}
		out = append(out, q)
	}
	return out, nil
}

// Instantiate replaces the dashboard's Grafana variables with values a
// plain Prometheus query accepts: every instance, a one-minute rate window.
func Instantiate(expr string) string {
	return strings.NewReplacer(`$__rate_interval`, "1m", `"$instance"`, `".*"`).Replace(expr)
}

// AlertNames returns the names of the alert rules, in file order.
func AlertNames() []string {
	var names []string
	for line := range strings.Lines(string(Alerts)) {
		if name, ok := strings.CutPrefix(strings.TrimSpace(line), "- alert: "); ok {
			names = append(names, name)
		}
	}
	return names
}
