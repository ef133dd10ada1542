// Package logging builds the server's logger from the Kea "loggers"
// configuration.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"xdhcp/config"
)

// New builds the logger the first "kea-dhcp4" loggers entry describes:
// its severity and its first output (stdout, stderr, syslog, which goes to
// stderr, or a file appended to). Without such an entry it logs INFO to
// stderr; debug forces DEBUG. closeFn releases the file, if any.
func New(loggers []config.Logger, debug bool, stderr io.Writer) (log *slog.Logger, closeFn func(), err error) {
	level := slog.LevelInfo
	var out io.Writer = stderr
	closeFn = func() {}
	for _, l := range loggers {
		if !strings.HasPrefix(l.Name, "kea-dhcp4") {
			continue
		}
		switch strings.ToUpper(l.Severity) {
		case "DEBUG":
			level = slog.LevelDebug
		case "WARN":
			level = slog.LevelWarn
		case "ERROR", "FATAL":
			level = slog.LevelError
		case "NONE":
			level = slog.LevelError + 4
		}
		if len(l.Outputs) > 0 {
			switch o := l.Outputs[0]; o {
			case "stdout":
				out = os.Stdout
			case "stderr", "syslog":
				out = stderr
			default:
				f, err := os.OpenFile(o, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
				if err != nil {
					return nil, nil, fmt.Errorf("open log output %s: %w", o, err)
				}
				out = f
				closeFn = func() { f.Close() }
			}
		}
		break
	}
	if debug {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: level})), closeFn, nil
}
