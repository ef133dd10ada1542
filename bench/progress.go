package bench

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// defaultScenarioSeconds are rough durations of each scenario on a 2-CPU
// machine, quick and full, used for the ETA when no earlier run of the
// suite left its own figures in the results folder.
var defaultScenarioSeconds = map[bool]map[string]float64{
	true:  {"S1": 90, "S2": 40, "S3": 40},
	false: {"S1": 600, "S2": 180, "S3": 120, "S4": 240, "S5": 420, "S6/S7": 360, "S8": 900, "S8r": 600},
}

// scenarioEstimates returns, per scenario, the seconds the most recent
// earlier run under base took with the same quickness, filled in from the
// defaults for scenarios that run did not have.
func scenarioEstimates(base string, quick bool) map[string]float64 {
	est := make(map[string]float64)
	for k, v := range defaultScenarioSeconds[quick] {
		est[k] = v
	}
	for k, v := range defaultScenarioSeconds[false] {
		if _, ok := est[k]; !ok {
			est[k] = v / 4 // -quick with -only runs any scenario, shortened
		}
	}
	dirs, _ := filepath.Glob(filepath.Join(base, "*", "results.json"))
	slices.Sort(dirs) // timestamped folders sort by time
	for i := len(dirs) - 1; i >= 0; i-- {
		b, err := os.ReadFile(dirs[i])
		if err != nil {
			continue
		}
		var r struct {
			Quick   bool               `json:"quick"`
			Seconds map[string]float64 `json:"scenario_seconds"`
		}
		if json.Unmarshal(b, &r) != nil || r.Quick != quick || len(r.Seconds) == 0 {
			continue
		}
		for k, v := range r.Seconds {
			est[k] = v
		}
		break
	}
	return est
}

// eta estimates the time left for the scenarios in todo, scaling the
// estimates by how the scenarios done so far compared with theirs.
func eta(est map[string]float64, done map[string]float64, todo []string) time.Duration {
	var estDone, actual float64
	for k, v := range done {
		estDone += est[k]
		actual += v
	}
	scale := 1.0
	if estDone > 0 && actual > 0 {
		scale = actual / estDone
	}
	var left float64
	for _, k := range todo {
		left += est[k]
	}
	return time.Duration(left * scale * float64(time.Second)).Round(time.Second)
}
