package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"xdhcp/config"
)

// levels logs D, I, W and E and returns which reached buf.
func levels(log *slog.Logger, buf *bytes.Buffer) string {
	log.Debug("D")
	log.Info("I")
	log.Warn("W")
	log.Error("E")
	got := ""
	for _, m := range []string{"D", "I", "W", "E"} {
		if strings.Contains(buf.String(), "msg="+m+"\n") || strings.Contains(buf.String(), "msg="+m+" ") {
			got += m
		}
	}
	return got
}

func TestSeverities(t *testing.T) {
	for _, tc := range []struct {
		name    string
		loggers []config.Logger
		debug   bool
		want    string
	}{
		{"default", nil, false, "IWE"},
		{"debug flag", nil, true, "DIWE"},
		{"warn", []config.Logger{{Name: "kea-dhcp4", Severity: "WARN"}}, false, "WE"},
		{"fatal", []config.Logger{{Name: "kea-dhcp4", Severity: "FATAL"}}, false, "E"},
		{"none", []config.Logger{{Name: "kea-dhcp4", Severity: "NONE"}}, false, ""},
		{"a child's severity is its own", []config.Logger{{Name: "kea-dhcp4.leases", Severity: "DEBUG"}}, false, "IWE"},
		{"other daemon", []config.Logger{{Name: "kea-ctrl-agent", Severity: "ERROR"}}, false, "IWE"},
		{"first entry of a name", []config.Logger{{Name: "kea-dhcp4", Severity: "WARN"}, {Name: "kea-dhcp4", Severity: "DEBUG"}}, false, "WE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			ls, err := Open(tc.loggers, tc.debug, &buf)
			if err != nil {
				t.Fatal(err)
			}
			defer ls.Close()
			if got := levels(ls.Logger(), &buf); got != tc.want {
				t.Errorf("logged %q, want %q", got, tc.want)
			}
		})
	}
}

// TestLoggersByName: a child logger listed first gets its own output and
// severity and takes nothing else; its children fall back to it, others
// to the root.
func TestLoggersByName(t *testing.T) {
	dir := t.TempDir()
	auth, root := filepath.Join(dir, "auth.log"), filepath.Join(dir, "root.log")
	ls, err := Open([]config.Logger{
		{Name: "kea-dhcp4.auth", Severity: "DEBUG", OutputOptions: []config.LogOutput{{Output: auth, Format: "text"}}},
		{Name: "kea-dhcp4", Severity: "WARN", OutputOptions: []config.LogOutput{{Output: root, Format: "text"}}},
	}, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	log := ls.Logger()
	log.With("logger", "kea-dhcp4.auth").Debug("denied", "user", "x")
	log.With("component", "control").With("component", "auth").Info("denied by component")
	log.With("component", "control").Warn("control warn")
	log.With("logger", "kea-dhcp4.auth.basic").Info("denied by a child")
	log.Info("root info")
	log.Warn("root warn")
	log.With("component", "ha").Warn("ha warn")
	ls.Close()
	a, _ := os.ReadFile(auth)
	r, _ := os.ReadFile(root)
	for _, m := range []string{"msg=denied ", `msg="denied by component"`, `msg="denied by a child"`} {
		if !strings.Contains(string(a), m) {
			t.Errorf("auth log lacks %s:\n%s", m, a)
		}
	}
	if strings.Contains(string(a), "root") || strings.Contains(string(a), "ha warn") {
		t.Errorf("auth log took other loggers' lines:\n%s", a)
	}
	if strings.Contains(string(r), "denied") || strings.Contains(string(r), "root info") ||
		!strings.Contains(string(r), `msg="root warn"`) || !strings.Contains(string(r), `msg="ha warn"`) ||
		!strings.Contains(string(r), `msg="control warn"`) {
		t.Errorf("root log:\n%s", r)
	}
}

func TestFileRotationReopenAndJSON(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "x.log")
	ls, err := Open([]config.Logger{{Name: "kea-dhcp4", Severity: "INFO",
		OutputOptions: []config.LogOutput{{Output: file, MaxSize: 400, MaxVer: 2, Format: "json"}}}}, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ls.Close()
	log := ls.Logger()
	for i := range 20 {
		log.Info("DHCP4_LEASE_ALLOC", "addr", "10.0.0.1", "i", i)
	}
	for _, name := range []string{file, file + ".1", file + ".2"} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(b) > 400 {
			t.Errorf("%s is %d bytes, past maxsize 400", name, len(b))
		}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil || m["addr"] != "10.0.0.1" {
				t.Errorf("%s: line %q is not the JSON record (%v)", name, line, err)
			}
		}
	}
	if _, err := os.Stat(file + ".3"); err == nil {
		t.Error("more versions kept than maxver")
	}
	// logrotate moves the file away; SIGHUP's Reopen starts a new one.
	if err := os.Rename(file, file+".moved"); err != nil {
		t.Fatal(err)
	}
	if err := ls.Reopen(); err != nil {
		t.Fatal(err)
	}
	log.Info("after reopen")
	if b, _ := os.ReadFile(file); !strings.Contains(string(b), "after reopen") {
		t.Errorf("after Reopen the file has %q", b)
	}
}

func TestSyslogOutput(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "log")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	h, closeFn, err := newSyslogHandler(sock, "local3", "text", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	slog.New(h).Warn("to syslog", "k", "v")
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 2048)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	got := string(buf[:n])
	// local3 (19) * 8 + warning (4) = 156.
	if !strings.HasPrefix(got, "<156>") || !strings.Contains(got, "kea-dhcp4") || !strings.Contains(got, `msg="to syslog" k=v`) {
		t.Errorf("syslog message %q", got)
	}
	if _, _, err := newSyslogHandler(sock, "nosuch", "text", nil); err == nil {
		t.Error("an unknown facility was accepted")
	}
}

func TestBadOutput(t *testing.T) {
	file := filepath.Join(t.TempDir(), "x.log", "sub")
	if _, err := Open([]config.Logger{{Name: "kea-dhcp4", Outputs: []string{file}}}, false, nil); err == nil {
		t.Error("an output that cannot be opened was accepted")
	}
}

// Kea's default patterns lay a record out as log4cplus does (checked
// against Kea 2.2's own lines: "%-5p", "[%c/%i.%t]", %.3c keeping the
// last characters, %c{1} the last component); other conversions are
// refused with an error naming them.
func TestPatternLayout(t *testing.T) {
	var out bytes.Buffer
	p, err := CompilePattern("%D{%Y-%m-%d %H:%M:%S.%q} %-5p [%c/%i.%t] %m|%7p|%.3c|%c{1}|%d|%%%n")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(newPatternHandler(&out, p)).With("component", "legal-log")
	at := time.Date(2026, 12, 6, 13, 25, 59, 488_000_000, time.Local)
	rec := slog.NewRecord(at, slog.LevelInfo, "LEGAL_LOG_STORE_OPENED", 0)
	rec.AddAttrs(slog.String("file", "/var/lib/kea/kea-legal.20261206.txt"), slog.Int("n", 2))
	if err := log.Handler().Handle(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("2026-12-06 13:25:59.488 INFO  [kea-dhcp4.legal-log-hooks/%d.", os.Getpid())
	got := out.String()
	if !strings.HasPrefix(got, want) {
		t.Fatalf("line %q, want it to begin %q", got, want)
	}
	rest := got[strings.Index(got, "] ")+2:]
	wantRest := "LEGAL_LOG_STORE_OPENED file=/var/lib/kea/kea-legal.20261206.txt n=2|   INFO|oks|legal-log-hooks|" +
		at.UTC().Format("2006-01-02 15:04:05") + "|%\n"
	if rest != wantRest {
		t.Errorf("after the thread id: %q, want %q", rest, wantRest)
	}
	for _, bad := range []string{"%r", "%x %m", "%d{%H", "%c{0}", "%5", "%.p", "%99999999999999999999p", "%1001p"} {
		if _, err := CompilePattern(bad); err == nil {
			t.Errorf("pattern %q accepted", bad)
		}
	}
}

// An output with "flush": false holds its lines a bounded while, and
// writes them at Close.
func TestBufferedOutput(t *testing.T) {
	file := filepath.Join(t.TempDir(), "buffered.log")
	ls, err := Open([]config.Logger{{Name: "kea-dhcp4", Severity: "INFO",
		OutputOptions: []config.LogOutput{{Output: file, Format: "text", Buffered: true, Pattern: "%p %m%n"}}}}, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	ls.Logger().Info("ONE")
	if b, _ := os.ReadFile(file); len(b) != 0 {
		t.Errorf("written at once: %q", b)
	}
	deadline := time.Now().Add(5 * time.Second)
	for b, _ := os.ReadFile(file); string(b) != "INFO ONE\n"; b, _ = os.ReadFile(file) {
		if time.Now().After(deadline) {
			t.Fatalf("not written within the delay: %q", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	ls.Logger().Info("TWO")
	if err := ls.Close(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(file); string(b) != "INFO ONE\nINFO TWO\n" {
		t.Errorf("after Close: %q", b)
	}
	if err := Check([]config.Logger{{Name: "kea-dhcp4", OutputOptions: []config.LogOutput{{Output: "stdout", Pattern: "%Z"}}}}); err == nil {
		t.Error("Check accepted an unsupported conversion")
	}
}
