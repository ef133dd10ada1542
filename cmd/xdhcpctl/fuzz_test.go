package main

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// FuzzPrintAnswer feeds arbitrary server answers to the answer printer: it
// may reject them but must not panic.
func FuzzPrintAnswer(f *testing.F) {
	for _, seed := range []string{
		`[{"result":0,"text":"ok","arguments":{"a":1}}]`,
		`{"result":401,"text":"Unauthorized"}`,
		`[{"result":0,"arguments":{"leases":[{"ip-address":"10.0.0.1","cltt":1,"valid-lft":4294967295,"state":7}],"count":1}}]`,
		`{"result":0,"arguments":{"pkt4-received":[[3,"2026-12-06 11:00:00.000000"]],"x":[[]]}}`,
		`{"result":0,"arguments":{"pid":1,"high-availability":[{"ha-mode":"hot-standby","ha-servers":{"local":{},"remote":{"age":1e300}}}]}}`,
		`[]`, `[{"result":"0"}]`, `[{"result":1},{"result":0}]`, `null`, `{`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		_ = printAnswer(io.Discard, "x", raw, false, time.UTC)
		for command := range tableViews {
			_ = printAnswer(io.Discard, command, raw, true, time.UTC)
		}
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

// FuzzLoadConfig reads arbitrary config files: an error or known keys
// only, never a panic.
func FuzzLoadConfig(f *testing.F) {
	f.Add("url = https://dhcp1:8000/\nuser = ops\npassword-file = /p\n")
	f.Add("# c\n\n socket=/s \n")
	f.Add("password = x\n")
	f.Add("=\nurl\n")
	f.Fuzz(func(t *testing.T, text string) {
		p := filepath.Join(t.TempDir(), "c")
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		l, err := loadConfig(p, true)
		if err != nil {
			return
		}
		for k := range l.vals {
			if !slices.Contains(settingKeys, k) {
				t.Fatalf("unknown key %q accepted", k)
			}
		}
	})
}
