package logging

import (
	"log/slog"
	"testing"
	"time"
)

// FuzzCompilePattern: any pattern is compiled or refused with an error,
// never a panic, and a compiled one lays out a line.
func FuzzCompilePattern(f *testing.F) {
	for _, s := range []string{"%D{%Y-%m-%d %H:%M:%S.%q} %-5p [%c/%i.%t] %m\n", "%-5p [%c.%t] %m\n", "%.3c{2}%10.2m%%", "%d{", "%-", "%c{x}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := CompilePattern(s)
		if err != nil {
			return
		}
		p.append(nil, &line{t: time.Unix(1, 2), level: slog.LevelWarn, logger: "kea-dhcp4.dhcp4", msg: []byte("MSG a=b")})
	})
}
