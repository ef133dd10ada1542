package control

import (
	"encoding/json"
	"time"
)

// Mandatory is an argument a command cannot do without: its key, and the
// text to answer when it is absent or null, in the command's own words.
type Mandatory struct {
	Key     string
	Missing string
}

// Decode unmarshals the arguments into v, as DecodeArguments does, and
// then checks that each mandatory argument is there, in the order given.
// It returns the error answer to give, or nil.
func (r *Request) Decode(v any, mandatory ...Mandatory) *Answer {
	if err := r.DecodeArguments(v); err != nil {
		a := Errorf("%v", err)
		return &a
	}
	if len(mandatory) == 0 {
		return nil
	}
	var present map[string]json.RawMessage
	if err := json.Unmarshal(r.Arguments, &present); err != nil {
		// Not an object: v could not have been one either.
		a := Errorf("invalid command '%s': arguments: %v", r.Command, err)
		return &a
	}
	for _, m := range mandatory {
		if raw, ok := present[m.Key]; !ok || jsonType(raw) == "null" {
			a := Errorf("%s", m.Missing)
			return &a
		}
	}
	return nil
}

// Seconds turns an optional count of seconds, such as max-period, into a
// duration: 0 when absent; ok is false when it is not positive.
func Seconds(v *int64) (d time.Duration, ok bool) {
	if v == nil {
		return 0, true
	}
	if *v <= 0 {
		return 0, false
	}
	return time.Duration(*v) * time.Second, true
}
