// Package logging builds the server's loggers from Kea's "loggers"
// configuration: each kea-dhcp4 logger by its own name, with its severity
// and its outputs (stdout, stderr, the real syslog, files rotated by size),
// in text or JSON.
//
// Code logs through one *slog.Logger and names the Kea logger a record
// belongs to with a "logger" attribute (log.With("logger",
// "kea-dhcp4.auth")), or with a "component" attribute that maps to Kea's
// logger of that part (see componentLoggers). A record goes to the most
// specific configured logger whose name is its logger's name or a parent of
// it ("kea-dhcp4.auth" falls back to "kea-dhcp4"), as Kea's logger
// hierarchy does; unconfigured, everything goes to stderr at INFO.
package logging

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"

	"xdhcp/config"
)

// Root is the name of the server's root logger.
const Root = "kea-dhcp4"

// componentLoggers maps the "component" attribute the daemon's parts log
// with to Kea's logger names.
var componentLoggers = map[string]string{
	"dhcp4":       "kea-dhcp4.dhcp4",
	"lease-store": "kea-dhcp4.dhcpsrv",
	"control":     "kea-dhcp4.commands",
	"auth":        "kea-dhcp4.auth",
	"ha":          "kea-dhcp4.ha-hooks",
	"legal-log":   "kea-dhcp4.legal-log-hooks",
	"run-script":  "kea-dhcp4.run-script-hooks",
}

// route is one configured logger: its level and outputs.
type route struct {
	name  string
	level slog.Level
	outs  []slog.Handler
}

// Loggers are the configured loggers and their open outputs.
type Loggers struct {
	routes map[string]*route
	root   *route
	files  []*rotatingFile
	closes []func() error
	// delayed are the outputs with "flush": false.
	delayed []*delayedWriter
	log     *slog.Logger
}

// levelOf maps Kea's severities to slog levels.
func levelOf(severity string) slog.Level {
	switch strings.ToUpper(severity) {
	case "DEBUG":
		return slog.LevelDebug
	case "WARN":
		return slog.LevelWarn
	case "ERROR", "FATAL":
		return slog.LevelError
	case "NONE":
		return slog.LevelError + 4
	}
	return slog.LevelInfo
}

// Open opens the outputs of the kea-dhcp4 loggers (other daemons' entries
// are ignored). debug forces DEBUG everywhere. stderr is the process's
// standard error.
func Open(loggers []config.Logger, debug bool, stderr io.Writer) (_ *Loggers, err error) {
	ls := &Loggers{routes: map[string]*route{}}
	defer func() {
		if err != nil {
			ls.Close()
		}
	}()
	for _, l := range loggers {
		if l.Name != Root && !strings.HasPrefix(l.Name, Root+".") {
			continue
		}
		if _, dup := ls.routes[l.Name]; dup {
			continue // Kea uses the first entry of a name
		}
		r := &route{name: l.Name, level: levelOf(l.Severity)}
		outs := l.OutputOptions
		if len(outs) == 0 {
			for _, o := range l.Outputs {
				outs = append(outs, config.LogOutput{Output: o, Format: "text", MaxVer: 1})
			}
		}
		if len(outs) == 0 {
			outs = []config.LogOutput{{Output: "stderr", Format: "text"}}
		}
		for _, o := range outs {
			h, err := ls.output(o, stderr)
			if err != nil {
				return nil, fmt.Errorf("logger %s: %w", l.Name, err)
			}
			r.outs = append(r.outs, h)
		}
		ls.routes[l.Name] = r
	}
	ls.root = ls.routes[Root]
	if ls.root == nil {
		ls.root = &route{name: Root, level: slog.LevelInfo, outs: []slog.Handler{textHandler(stderr, "text")}}
	}
	if debug {
		for _, r := range ls.routes {
			r.level = slog.LevelDebug
		}
		ls.root.level = slog.LevelDebug
	}
	ls.log = slog.New(&handler{ls: ls, r: ls.root, once: new(sync.Once)})
	return ls, nil
}

// Check checks the loggers' outputs without opening them: their patterns
// (xdhcpd -t).
func Check(loggers []config.Logger) error {
	for _, l := range loggers {
		for _, o := range l.OutputOptions {
			if o.Pattern == "" {
				continue
			}
			if o.Format == "json" {
				return fmt.Errorf("logger %s: output %s: a pattern lays out text lines, not json", l.Name, o.Output)
			}
			if _, err := CompilePattern(o.Pattern); err != nil {
				return fmt.Errorf("logger %s: output %s: %w", l.Name, o.Output, err)
			}
		}
	}
	return nil
}

// Logger is the logger to log through.
func (ls *Loggers) Logger() *slog.Logger { return ls.log }

func textHandler(w io.Writer, format string) slog.Handler {
	if format == "json" {
		return slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})
	}
	return slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})
}

// output opens one output.
func (ls *Loggers) output(o config.LogOutput, stderr io.Writer) (slog.Handler, error) {
	var pat *Pattern
	if o.Pattern != "" {
		if o.Format == "json" {
			return nil, fmt.Errorf("output %s: a pattern lays out text lines, not json", o.Output)
		}
		var err error
		if pat, err = CompilePattern(o.Pattern); err != nil {
			return nil, fmt.Errorf("output %s: %w", o.Output, err)
		}
	}
	var w io.Writer
	switch {
	case o.Output == "stdout":
		w = os.Stdout
	case o.Output == "stderr":
		w = stderr
	case o.Output == "syslog" || strings.HasPrefix(o.Output, "syslog:"):
		// Every syslog message is sent as it comes: flush does not apply.
		h, closeFn, err := newSyslogHandler("", strings.TrimPrefix(strings.TrimPrefix(o.Output, "syslog"), ":"), o.Format, pat)
		if err != nil {
			return nil, err
		}
		ls.closes = append(ls.closes, closeFn)
		return h, nil
	default:
		f, err := openRotating(o.Output, o.MaxSize, o.MaxVer)
		if err != nil {
			return nil, err
		}
		ls.files = append(ls.files, f)
		ls.closes = append(ls.closes, f.Close)
		w = f
	}
	if o.Buffered {
		d := &delayedWriter{w: w}
		// Flushed before anything is closed or reopened.
		ls.delayed = append(ls.delayed, d)
		w = d
	}
	if pat != nil {
		return newPatternHandler(w, pat), nil
	}
	return textHandler(w, o.Format), nil
}

// Reopen reopens the file outputs (after logrotate moved them: SIGHUP).
func (ls *Loggers) Reopen() error {
	var errs []error
	for _, d := range ls.delayed {
		errs = append(errs, d.Flush())
	}
	for _, f := range ls.files {
		errs = append(errs, f.Reopen())
	}
	return errors.Join(errs...)
}

// Close closes the outputs.
func (ls *Loggers) Close() error {
	var errs []error
	for _, d := range ls.delayed {
		errs = append(errs, d.Flush())
	}
	ls.delayed = nil
	for _, c := range ls.closes {
		errs = append(errs, c())
	}
	ls.closes, ls.files = nil, nil
	return errors.Join(errs...)
}

// routeFor returns the most specific configured logger for name.
func (ls *Loggers) routeFor(name string) *route {
	for n := name; ; {
		if r, ok := ls.routes[n]; ok {
			return r
		}
		i := strings.LastIndexByte(n, '.')
		if i < 0 {
			return ls.root
		}
		n = n[:i]
	}
}

// handler routes records to their logger's outputs. ops are the WithAttrs
// and WithGroup calls made on it, replayed on the outputs' handlers.
type handler struct {
	ls   *Loggers
	r    *route
	ops  []op
	outs []slog.Handler // r.outs with ops applied; nil: not built yet
	once *sync.Once
}

type op struct {
	attrs []slog.Attr
	group string
}

func (h *handler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.r.level }

func (h *handler) handlers() []slog.Handler {
	h.once.Do(func() {
		h.outs = make([]slog.Handler, len(h.r.outs))
		for i, o := range h.r.outs {
			for _, op := range h.ops {
				if op.group != "" {
					o = o.WithGroup(op.group)
				} else {
					o = o.WithAttrs(op.attrs)
				}
			}
			h.outs[i] = o
		}
	})
	return h.outs
}

func (h *handler) Handle(ctx context.Context, rec slog.Record) error {
	var errs []error
	for _, o := range h.handlers() {
		errs = append(errs, o.Handle(ctx, rec.Clone()))
	}
	return errors.Join(errs...)
}

func (h *handler) with(r *route, o op) *handler {
	ops := append(append([]op(nil), h.ops...), o)
	return &handler{ls: h.ls, r: r, ops: ops, once: new(sync.Once)}
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	r := h.r
	for _, a := range attrs {
		switch a.Key {
		case "logger":
			r = h.ls.routeFor(a.Value.String())
		case "component":
			if name, ok := componentLoggers[a.Value.String()]; ok {
				r = h.ls.routeFor(name)
			}
		}
	}
	return h.with(r, op{attrs: attrs})
}

func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return h.with(h.r, op{group: name})
}
