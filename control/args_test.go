package control

import (
	"testing"
	"time"
)

func TestDecodeMandatory(t *testing.T) {
	must := []Mandatory{{Key: "from", Missing: "no from"}, {Key: "limit", Missing: "no limit"}}
	for _, tt := range []struct {
		args string
		want string // "" when the arguments are fine
	}{
		{``, "invalid command 'x': no arguments specified"},
		{`{"from": "start", "limit": 2}`, ""},
		{`{"limit": 2}`, "no from"},
		{`{"from": null, "limit": 2}`, "no from"},
		{`{"from": "start"}`, "no limit"},
		{`{}`, "no from"},
		{`{"from": 1, "limit": 2}`, "invalid command 'x': arguments: json: cannot unmarshal number into Go struct field .from of type string"},
	} {
		var a struct {
			From  string `json:"from"`
			Limit int    `json:"limit"`
		}
		req := &Request{Command: "x", Arguments: []byte(tt.args)}
		bad := req.Decode(&a, must...)
		switch {
		case tt.want == "" && bad != nil:
			t.Errorf("%s: %+v", tt.args, *bad)
		case tt.want != "" && (bad == nil || bad.Result != ResultError || bad.Text != tt.want):
			t.Errorf("%s: %+v, want %q", tt.args, bad, tt.want)
		}
	}
}

func TestSeconds(t *testing.T) {
	n := func(v int64) *int64 { return &v }
	for _, tt := range []struct {
		v    *int64
		want time.Duration
		ok   bool
	}{{nil, 0, true}, {n(30), 30 * time.Second, true}, {n(0), 0, false}, {n(-1), 0, false}} {
		if d, ok := Seconds(tt.v); d != tt.want || ok != tt.ok {
			t.Errorf("Seconds(%v) = %v, %v", tt.v, d, ok)
		}
	}
}
