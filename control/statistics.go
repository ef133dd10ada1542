package control

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"xdhcp/internal/stats"
)

// RegisterStatistics registers Kea's statistic-* commands on s, backed by r:
// statistic-get[-all], statistic-reset[-all], statistic-remove[-all],
// statistic-sample-age-set[-all] and statistic-sample-count-set[-all].
// Texts follow Kea's StatsMgr.
func RegisterStatistics(s *Server, r *stats.Registry) {
	h := statHandlers{r: r}
	s.Handle("statistic-get", h.get)
	s.Handle("statistic-get-all", h.getAll)
	s.Handle("statistic-reset", h.reset)
	s.Handle("statistic-reset-all", h.resetAll)
	s.Handle("statistic-remove", h.remove)
	s.Handle("statistic-remove-all", h.removeAll)
	s.Handle("statistic-sample-age-set", h.ageSet)
	s.Handle("statistic-sample-age-set-all", h.ageSetAll)
	s.Handle("statistic-sample-count-set", h.countSet)
	s.Handle("statistic-sample-count-set-all", h.countSetAll)
}

type statHandlers struct{ r *stats.Registry }

// statArgs reads the arguments the statistic-* commands take.
type statArgs struct {
	Name       json.RawMessage `json:"name"`
	Duration   json.RawMessage `json:"duration"`
	MaxSamples json.RawMessage `json:"max-samples"`
}

func decodeStatArgs(req *Request) (statArgs, *Answer) {
	var a statArgs
	if len(req.Arguments) == 0 {
		ans := Errorf("Missing mandatory 'arguments' parameter.")
		return a, &ans
	}
	if err := json.Unmarshal(req.Arguments, &a); err != nil {
		ans := Errorf("invalid arguments: %v", err)
		return a, &ans
	}
	return a, nil
}

// statName extracts the mandatory "name" argument.
func statName(req *Request) (string, *Answer) {
	a, bad := decodeStatArgs(req)
	if bad != nil {
		return "", bad
	}
	if a.Name == nil {
		ans := Errorf("Missing mandatory 'name' parameter.")
		return "", &ans
	}
	var name string
	if jsonType(a.Name) != "string" || json.Unmarshal(a.Name, &name) != nil {
		ans := Errorf("'name' parameter expected to be a string.")
		return "", &ans
	}
	return name, nil
}

// maxLimit bounds max-samples (memory per statistic) and duration in
// seconds (so it fits a time.Duration); larger values are refused.
const maxLimit = 1_000_000_000

// positiveInt decodes an integer argument that must be in (0, maxLimit].
func positiveInt(raw json.RawMessage, key string) (int64, *Answer) {
	if raw == nil {
		ans := Errorf("Missing mandatory '%s' parameter.", key)
		return 0, &ans
	}
	var n int64
	if jsonType(raw) != "number" || json.Unmarshal(raw, &n) != nil || n <= 0 || n > maxLimit {
		ans := Errorf("'%s' parameter expected to be an integer from 1 to %d.", key, maxLimit)
		return 0, &ans
	}
	return n, nil
}

func (h statHandlers) get(_ context.Context, req *Request) Answer {
	name, bad := statName(req)
	if bad != nil {
		return *bad
	}
	args := map[string][]stats.Sample{}
	if s, ok := h.r.Get(name); ok {
		args[name] = s
	}
	// Kea answers an unknown name with success and an empty map.
	return Answer{Result: ResultSuccess, Arguments: args}
}

func (h statHandlers) getAll(context.Context, *Request) Answer {
	return Answer{Result: ResultSuccess, Arguments: h.r.All()}
}

func (h statHandlers) reset(_ context.Context, req *Request) Answer {
	name, bad := statName(req)
	if bad != nil {
		return *bad
	}
	if !h.r.Reset(name) {
		return Errorf("No '%s' statistic found", name)
	}
	return Answer{Result: ResultSuccess, Text: fmt.Sprintf("Statistic '%s' reset.", name)}
}

func (h statHandlers) resetAll(context.Context, *Request) Answer {
	h.r.ResetAll()
	return Answer{Result: ResultSuccess, Text: "All statistics reset to neutral values."}
}

func (h statHandlers) remove(_ context.Context, req *Request) Answer {
	name, bad := statName(req)
	if bad != nil {
		return *bad
	}
	if !h.r.Remove(name) {
		return Errorf("No '%s' statistic found", name)
	}
	return Answer{Result: ResultSuccess, Text: fmt.Sprintf("Statistic '%s' removed.", name)}
}

func (h statHandlers) removeAll(context.Context, *Request) Answer {
	h.r.RemoveAll()
	return Answer{Result: ResultSuccess, Text: "All statistics removed."}
}

func (h statHandlers) ageSet(_ context.Context, req *Request) Answer {
	name, bad := statName(req)
	if bad != nil {
		return *bad
	}
	a, _ := decodeStatArgs(req)
	secs, bad := positiveInt(a.Duration, "duration")
	if bad != nil {
		return *bad
	}
	ok, err := h.r.SetStatSampleAge(name, time.Duration(secs)*time.Second)
	if err != nil {
		return Errorf("%v", err)
	}
	if !ok {
		return Errorf("No '%s' statistic found", name)
	}
	return Answer{Result: ResultSuccess, Text: fmt.Sprintf("Statistic '%s' duration limit is set.", name)}
}

func (h statHandlers) ageSetAll(_ context.Context, req *Request) Answer {
	a, bad := decodeStatArgs(req)
	if bad != nil {
		return *bad
	}
	secs, bad := positiveInt(a.Duration, "duration")
	if bad != nil {
		return *bad
	}
	if err := h.r.SetSampleAge(time.Duration(secs) * time.Second); err != nil {
		return Errorf("%v", err)
	}
	return Answer{Result: ResultSuccess, Text: "All statistics duration limit are set."}
}

func (h statHandlers) countSet(_ context.Context, req *Request) Answer {
	name, bad := statName(req)
	if bad != nil {
		return *bad
	}
	a, _ := decodeStatArgs(req)
	n, bad := positiveInt(a.MaxSamples, "max-samples")
	if bad != nil {
		return *bad
	}
	ok, err := h.r.SetStatSampleCount(name, int(n))
	if err != nil {
		return Errorf("%v", err)
	}
	if !ok {
		return Errorf("No '%s' statistic found", name)
	}
	return Answer{Result: ResultSuccess, Text: fmt.Sprintf("Statistic '%s' count limit is set.", name)}
}

func (h statHandlers) countSetAll(_ context.Context, req *Request) Answer {
	a, bad := decodeStatArgs(req)
	if bad != nil {
		return *bad
	}
	n, bad := positiveInt(a.MaxSamples, "max-samples")
	if bad != nil {
		return *bad
	}
	if err := h.r.SetSampleCount(int(n)); err != nil {
		return Errorf("%v", err)
	}
	return Answer{Result: ResultSuccess, Text: "All statistics count limit are set."}
}

// MetricsHandler serves r in the Prometheus text format, for
// HandleHTTP("GET /metrics", MetricsHandler(r)).
func MetricsHandler(r *stats.Registry) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_ = r.WritePrometheus(w)
	})
}
