package main

import (
	"io"
	"testing"
)

// FuzzPrintAnswer feeds arbitrary server answers to the answer printer: it
// may reject them but must not panic.
func FuzzPrintAnswer(f *testing.F) {
	for _, seed := range []string{
		`[{"result":0,"text":"ok","arguments":{"a":1}}]`,
		`{"result":401,"text":"Unauthorized"}`,
		`[]`, `[{"result":"0"}]`, `[{"result":1},{"result":0}]`, `null`, `{`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		_ = printAnswer(io.Discard, "x", raw)
	})
}

// FuzzBuildArguments checks that whatever the user types, the command sent
// is valid JSON or a usage error.
func FuzzBuildArguments(f *testing.F) {
	f.Add("a=1", `b={"x":[1]}`)
	f.Add(`{"a":1}`, "")
	f.Add("=", "x=null")
	f.Fuzz(func(t *testing.T, a, b string) {
		args := []string{a}
		if b != "" {
			args = append(args, b)
		}
		cmd, err := buildCommand("x", args, "dhcp4")
		if err != nil {
			if exitCode(err) != 2 {
				t.Fatalf("non-usage error %v", err)
			}
			return
		}
		if !jsonValid(cmd) {
			t.Fatalf("invalid JSON sent: %s", cmd)
		}
	})
}
