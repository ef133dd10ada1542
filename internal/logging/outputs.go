package logging

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"log/syslog"
	"os"
	"strings"
	"sync"
)

// rotatingFile is a log file rotated by size as Kea rotates its file
// outputs: when a write would take it past maxSize, <name>.<maxVer-1> ...
// <name>.1 move up one, <name> becomes <name>.1 and a new <name> starts.
type rotatingFile struct {
	mu      sync.Mutex
	name    string
	maxSize int64
	maxVer  int
	f       *os.File
	size    int64
}

func openRotating(name string, maxSize int64, maxVer int) (*rotatingFile, error) {
	r := &rotatingFile{name: name, maxSize: maxSize, maxVer: maxVer}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *rotatingFile) open() error {
	f, err := os.OpenFile(r.name, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("open log output %s: %w", r.name, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("open log output %s: %w", r.name, err)
	}
	r.f, r.size = f, st.Size()
	return nil
}

// Write appends p (one record), rotating first when due.
func (r *rotatingFile) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return 0, fmt.Errorf("log output %s is closed", r.name)
	}
	if r.maxSize > 0 && r.size > 0 && r.size+int64(len(p)) > r.maxSize {
		if err := r.rotate(); err != nil {
			// Keep logging to the file we have rather than lose lines.
			fmt.Fprintf(os.Stderr, "rotate log output %s: %v\n", r.name, err)
		}
	}
	n, err := r.f.Write(p)
	r.size += int64(n)
	return n, err
}

func (r *rotatingFile) rotate() error {
	if err := r.f.Close(); err != nil {
		return err
	}
	r.f = nil
	if r.maxVer < 1 {
		if err := os.Truncate(r.name, 0); err != nil {
			return err
		}
	} else {
		for v := r.maxVer - 1; v >= 1; v-- {
			from := fmt.Sprintf("%s.%d", r.name, v)
			if _, err := os.Stat(from); err == nil {
				os.Rename(from, fmt.Sprintf("%s.%d", r.name, v+1))
			}
		}
		if err := os.Rename(r.name, r.name+".1"); err != nil {
			return err
		}
	}
	return r.open()
}

// Reopen closes and reopens the file under its name.
func (r *rotatingFile) Reopen() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
	return r.open()
}

func (r *rotatingFile) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}

// syslogFacilities are the facility names syslog:<name> takes.
var syslogFacilities = map[string]syslog.Priority{
	"kern": syslog.LOG_KERN, "user": syslog.LOG_USER, "daemon": syslog.LOG_DAEMON,
	"auth": syslog.LOG_AUTH, "local0": syslog.LOG_LOCAL0, "local1": syslog.LOG_LOCAL1,
	"local2": syslog.LOG_LOCAL2, "local3": syslog.LOG_LOCAL3, "local4": syslog.LOG_LOCAL4,
	"local5": syslog.LOG_LOCAL5, "local6": syslog.LOG_LOCAL6, "local7": syslog.LOG_LOCAL7,
}

// syslogHandler sends each record to the system's syslog with the
// record's severity; syslog stamps the time itself.
type syslogHandler struct {
	w     *syslog.Writer
	mu    *sync.Mutex
	buf   *bytes.Buffer
	inner slog.Handler
}

// newSyslogHandler connects to the local syslog (addr "": the system's
// socket, else a unixgram socket path). name is a facility (local0..local7,
// daemon, user, ...), default user, as log4cplus's.
// A pattern, when not nil, lays out the message instead of the format.
func newSyslogHandler(addr, name, format string, pat *Pattern) (slog.Handler, func() error, error) {
	fac := syslog.LOG_USER
	if name != "" {
		f, ok := syslogFacilities[strings.ToLower(name)]
		if !ok {
			return nil, nil, fmt.Errorf("syslog:%s: unknown facility", name)
		}
		fac = f
	}
	network := ""
	if addr != "" {
		network = "unixgram"
	}
	w, err := syslog.Dial(network, addr, fac|syslog.LOG_INFO, Root)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to syslog: %w", err)
	}
	buf := new(bytes.Buffer)
	opts := &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}
	var inner slog.Handler = slog.NewTextHandler(buf, opts)
	if format == "json" {
		inner = slog.NewJSONHandler(buf, opts)
	}
	if pat != nil {
		inner = newPatternHandler(buf, pat)
	}
	return &syslogHandler{w: w, mu: new(sync.Mutex), buf: buf, inner: inner}, w.Close, nil
}

func (h *syslogHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *syslogHandler) Handle(ctx context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.buf.Reset()
	if err := h.inner.Handle(ctx, r); err != nil {
		return err
	}
	msg := strings.TrimSuffix(h.buf.String(), "\n")
	switch {
	case r.Level >= slog.LevelError:
		return h.w.Err(msg)
	case r.Level >= slog.LevelWarn:
		return h.w.Warning(msg)
	case r.Level >= slog.LevelInfo:
		return h.w.Info(msg)
	}
	return h.w.Debug(msg)
}

func (h *syslogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.inner = h.inner.WithAttrs(attrs)
	return &c
}

func (h *syslogHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.inner = h.inner.WithGroup(name)
	return &c
}
