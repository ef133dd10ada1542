package logging

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"xdhcp/config"
)

// TestNew: the first kea-dhcp4 entry sets the level and the output, other
// loggers are ignored, -d forces debug, and a file output is appended to.
func TestNew(t *testing.T) {
	file := filepath.Join(t.TempDir(), "x.log")
	for _, tc := range []struct {
		name    string
		loggers []config.Logger
		debug   bool
		// what reaches the output: debug, info, warn, error
		want string
	}{
		{"default", nil, false, "IWE"},
		{"debug flag", nil, true, "DIWE"},
		{"warn", []config.Logger{{Name: "kea-dhcp4", Severity: "WARN"}}, false, "WE"},
		{"error", []config.Logger{{Name: "kea-dhcp4", Severity: "error", Outputs: []string{"syslog"}}}, false, "E"},
		{"fatal", []config.Logger{{Name: "kea-dhcp4", Severity: "FATAL"}}, false, "E"},
		{"none", []config.Logger{{Name: "kea-dhcp4", Severity: "NONE"}}, false, ""},
		{"debug severity", []config.Logger{{Name: "kea-dhcp4.leases", Severity: "DEBUG"}}, false, "DIWE"},
		{"other logger", []config.Logger{{Name: "kea-ctrl-agent", Severity: "ERROR"}}, false, "IWE"},
		{"first entry only", []config.Logger{{Name: "kea-dhcp4", Severity: "WARN"}, {Name: "kea-dhcp4", Severity: "DEBUG"}}, false, "WE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			log, closeFn, err := New(tc.loggers, tc.debug, &buf)
			if err != nil {
				t.Fatal(err)
			}
			defer closeFn()
			log.Debug("D")
			log.Info("I")
			log.Warn("W")
			log.Error("E")
			got := ""
			for _, m := range []string{"D", "I", "W", "E"} {
				if strings.Contains(buf.String(), "msg="+m+"\n") {
					got += m
				}
			}
			if got != tc.want {
				t.Errorf("logged %q, want %q", got, tc.want)
			}
		})
	}

	for range 2 {
		log, closeFn, err := New([]config.Logger{{Name: "kea-dhcp4", Outputs: []string{file}}}, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		log.Info("to the file")
		closeFn()
	}
	if b, err := os.ReadFile(file); err != nil || strings.Count(string(b), "to the file") != 2 {
		t.Errorf("log file %q (%v), want two lines appended", b, err)
	}
	if _, _, err := New([]config.Logger{{Name: "kea-dhcp4", Outputs: []string{filepath.Join(file, "sub")}}}, false, nil); err == nil {
		t.Error("an output that cannot be opened was accepted")
	}
}
