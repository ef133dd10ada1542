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
	age := sampleLimit{
		key:  "duration",
		what: "duration",
		arg:  func(a statArgs) json.RawMessage { return a.Duration },
		one: func(name string, secs int64) (bool, error) {
			return r.SetStatSampleAge(name, time.Duration(secs)*time.Second)
		},
		all: func(secs int64) error { return r.SetSampleAge(time.Duration(secs) * time.Second) },
	}
	count := sampleLimit{
		key:  "max-samples",
		what: "count",
		arg:  func(a statArgs) json.RawMessage { return a.MaxSamples },
		one:  func(name string, n int64) (bool, error) { return r.SetStatSampleCount(name, int(n)) },
		all:  func(n int64) error { return r.SetSampleCount(int(n)) },
	}
	s.Handle("statistic-get", h.get)
	s.Handle("statistic-get-all", h.getAll)
	s.Handle("statistic-reset", named(r.Reset, "Statistic '%s' reset."))
	s.Handle("statistic-reset-all", every(r.ResetAll, "All statistics reset to neutral values."))
	s.Handle("statistic-remove", named(r.Remove, "Statistic '%s' removed."))
	s.Handle("statistic-remove-all", every(r.RemoveAll, "All statistics removed."))
	s.Handle("statistic-sample-age-set", age.setOne)
	s.Handle("statistic-sample-age-set-all", age.setAll)
	s.Handle("statistic-sample-count-set", count.setOne)
	s.Handle("statistic-sample-count-set-all", count.setAll)
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

// named runs op on the statistic the "name" argument names; done is the
// success text, with the name for %s.
func named(op func(name string) bool, done string) HandlerFunc {
	return func(_ context.Context, req *Request) Answer {
		name, bad := statName(req)
		if bad != nil {
			return *bad
		}
		if !op(name) {
			return Errorf("No '%s' statistic found", name)
		}
		return Answer{Result: ResultSuccess, Text: fmt.Sprintf(done, name)}
	}
}

// every runs op on all statistics.
func every(op func(), done string) HandlerFunc {
	return func(context.Context, *Request) Answer {
		op()
		return Answer{Result: ResultSuccess, Text: done}
	}
}

// sampleLimit is one of the two limits on the samples a statistic keeps
// (their age, their count), set for one statistic or for all.
type sampleLimit struct {
	key  string // the argument: "duration" or "max-samples"
	what string // in the answer text: "duration" or "count"
	arg  func(statArgs) json.RawMessage
	one  func(name string, n int64) (found bool, err error)
	all  func(n int64) error
}

func (l sampleLimit) setOne(_ context.Context, req *Request) Answer {
	name, bad := statName(req)
	if bad != nil {
		return *bad
	}
	a, _ := decodeStatArgs(req)
	n, bad := positiveInt(l.arg(a), l.key)
	if bad != nil {
		return *bad
	}
	ok, err := l.one(name, n)
	if err != nil {
		return Errorf("%v", err)
	}
	if !ok {
		return Errorf("No '%s' statistic found", name)
	}
	return Answer{Result: ResultSuccess, Text: fmt.Sprintf("Statistic '%s' %s limit is set.", name, l.what)}
}

func (l sampleLimit) setAll(_ context.Context, req *Request) Answer {
	a, bad := decodeStatArgs(req)
	if bad != nil {
		return *bad
	}
	n, bad := positiveInt(l.arg(a), l.key)
	if bad != nil {
		return *bad
	}
	if err := l.all(n); err != nil {
		return Errorf("%v", err)
	}
	return Answer{Result: ResultSuccess, Text: fmt.Sprintf("All statistics %s limit are set.", l.what)}
}

// MetricsHandler serves r in the Prometheus text format, for
// HandleHTTP("GET /metrics", MetricsHandler(r)).
func MetricsHandler(r *stats.Registry) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_ = r.WritePrometheus(w)
	})
}
