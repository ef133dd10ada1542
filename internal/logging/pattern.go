package logging

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"xdhcp/internal/strftime"
)

// Pattern is a compiled log4cplus conversion pattern, the "pattern" of a
// Kea logger's output: the subset Kea's own patterns use. Conversions:
//
//	%d{fmt}  the time in UTC, by strftime with %q (ms) and %Q (ms.µs);
//	         without {fmt}: %Y-%m-%d %H:%M:%S
//	%D{fmt}  the same in local time
//	%p       the severity (DEBUG, INFO, WARN, ERROR, FATAL)
//	%c, %c{n} the logger's name, or its last n components
//	%m       the message: its id, then its fields as key=value
//	%i       the process id
//	%t       the thread id
//	%n       a newline
//	%%       a percent sign
//
// each with log4cplus's optional format modifier between % and the
// letter: "-" left-justifies, a width pads to it, ".n" keeps the last n
// characters (e.g. %-5p). Any other conversion is an error.
type Pattern struct {
	parts []patternPart
}

type patternPart struct {
	conv       byte // 0: literal text
	text       string
	left       bool
	width, max int // max 0: no truncation
	arg        string
	comps      int // %c{n}
}

// maxModifier bounds a format modifier's width and precision.
const maxModifier = 1000

// DefaultDateFormat is the date format of %d and %D without one.
const DefaultDateFormat = "%Y-%m-%d %H:%M:%S"

// CompilePattern parses a conversion pattern.
func CompilePattern(s string) (*Pattern, error) {
	p := &Pattern{}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			p.parts = append(p.parts, patternPart{text: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			lit.WriteByte(s[i])
			continue
		}
		start := i
		i++
		if i < len(s) && s[i] == '%' {
			lit.WriteByte('%')
			continue
		}
		var part patternPart
		if i < len(s) && s[i] == '-' {
			part.left = true
			i++
		}
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i > j {
			n, err := strconv.Atoi(s[j:i])
			if err != nil || n > maxModifier {
				return nil, fmt.Errorf("pattern %q: width %s at offset %d: at most %d", s, s[j:i], start, maxModifier)
			}
			part.width = n
		}
		if i < len(s) && s[i] == '.' {
			i++
			j = i
			for i < len(s) && s[i] >= '0' && s[i] <= '9' {
				i++
			}
			if i == j {
				return nil, fmt.Errorf("pattern %q: a '.' at offset %d needs a number", s, start)
			}
			n, err := strconv.Atoi(s[j:i])
			if err != nil || n > maxModifier {
				return nil, fmt.Errorf("pattern %q: precision %s at offset %d: at most %d", s, s[j:i], start, maxModifier)
			}
			part.max = n
		}
		if i >= len(s) {
			return nil, fmt.Errorf("pattern %q ends inside a conversion", s)
		}
		part.conv = s[i]
		switch part.conv {
		case 'd', 'D', 'c':
			if i+1 < len(s) && s[i+1] == '{' {
				end := strings.IndexByte(s[i+2:], '}')
				if end < 0 {
					return nil, fmt.Errorf("pattern %q: %%%c{ at offset %d is not closed", s, part.conv, start)
				}
				part.arg = s[i+2 : i+2+end]
				i += 2 + end
			}
			if part.conv == 'c' && part.arg != "" {
				n, err := strconv.Atoi(part.arg)
				if err != nil || n < 1 || n > maxModifier {
					return nil, fmt.Errorf("pattern %q: %%c{%s}: the precision is a positive number", s, part.arg)
				}
				part.comps = n
			}
			if part.conv != 'c' && part.arg == "" {
				part.arg = DefaultDateFormat
			}
		case 'p', 'm', 'i', 't', 'n':
		default:
			return nil, fmt.Errorf("pattern %q: conversion %%%c at offset %d is not supported (supported: %%d %%D %%p %%c %%m %%i %%t %%n %%%%)", s, part.conv, start)
		}
		flush()
		p.parts = append(p.parts, part)
	}
	flush()
	return p, nil
}

// severity is log4cplus's name of a level.
func severity(l slog.Level) string {
	switch {
	case l >= slog.LevelError+4:
		return "FATAL"
	case l >= slog.LevelError:
		return "ERROR"
	case l >= slog.LevelWarn:
		return "WARN"
	case l >= slog.LevelInfo:
		return "INFO"
	}
	return "DEBUG"
}

// line is one record's facts that a pattern lays out.
type line struct {
	t      time.Time
	level  slog.Level
	logger string
	msg    []byte // message id and fields
}

// Append appends the line for l.
func (p *Pattern) append(dst []byte, l *line) []byte {
	for i := range p.parts {
		part := &p.parts[i]
		if part.conv == 0 {
			dst = append(dst, part.text...)
			continue
		}
		start := len(dst)
		switch part.conv {
		case 'd':
			dst = strftime.Append(dst, part.arg, l.t.UTC())
		case 'D':
			dst = strftime.Append(dst, part.arg, l.t.Local())
		case 'p':
			dst = append(dst, severity(l.level)...)
		case 'c':
			name := l.logger
			if part.comps > 0 {
				parts := strings.Split(name, ".")
				if len(parts) > part.comps {
					name = strings.Join(parts[len(parts)-part.comps:], ".")
				}
			}
			dst = append(dst, name...)
		case 'm':
			dst = append(dst, l.msg...)
		case 'i':
			dst = strconv.AppendInt(dst, int64(os.Getpid()), 10)
		case 't':
			dst = strconv.AppendInt(dst, int64(syscall.Gettid()), 10)
		case 'n':
			dst = append(dst, '\n')
		}
		dst = modify(dst, start, part)
	}
	return dst
}

// modify applies a conversion's format modifier to dst[start:]: keep the
// last max characters, then pad to width (on the left unless left).
func modify(dst []byte, start int, part *patternPart) []byte {
	if part.max > 0 && len(dst)-start > part.max {
		cut := len(dst) - start - part.max
		dst = append(dst[:start], dst[start+cut:]...)
	}
	pad := part.width - (len(dst) - start)
	if pad <= 0 {
		return dst
	}
	if part.left {
		return append(dst, bytes.Repeat([]byte{' '}, pad)...)
	}
	dst = append(dst, bytes.Repeat([]byte{' '}, pad)...)
	copy(dst[start+pad:], dst[start:len(dst)-pad])
	for i := start; i < start+pad; i++ {
		dst[i] = ' '
	}
	return dst
}

// patternHandler writes records laid out by a pattern. The fields after
// the message id are formatted by a text handler into a shared buffer.
type patternHandler struct {
	p      *Pattern
	w      io.Writer
	mu     *sync.Mutex
	buf    *bytes.Buffer
	fields slog.Handler
	logger string
}

func newPatternHandler(w io.Writer, p *Pattern) *patternHandler {
	buf := new(bytes.Buffer)
	fields := slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey || a.Key == slog.MessageKey) {
			return slog.Attr{}
		}
		return a
	}})
	return &patternHandler{p: p, w: w, mu: new(sync.Mutex), buf: buf, fields: fields, logger: Root}
}

func (h *patternHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *patternHandler) Handle(ctx context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.buf.Reset()
	h.buf.WriteString(r.Message)
	h.buf.WriteByte(' ')
	if err := h.fields.Handle(ctx, r); err != nil {
		return err
	}
	msg := bytes.TrimRight(h.buf.Bytes(), " \n")
	out := h.p.append(make([]byte, 0, 128+len(msg)), &line{t: r.Time, level: r.Level, logger: h.logger, msg: msg})
	_, err := h.w.Write(out)
	return err
}

// WithAttrs takes the logger's name from the "logger" and "component"
// attributes (which the line shows by %c, not among the fields).
func (h *patternHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	kept := attrs[:0:0]
	for _, a := range attrs {
		switch a.Key {
		case "logger":
			c.logger = a.Value.String()
			continue
		case "component":
			if name, ok := componentLoggers[a.Value.String()]; ok {
				c.logger = name
				continue
			}
		}
		kept = append(kept, a)
	}
	c.fields = h.fields.WithAttrs(kept)
	return &c
}

func (h *patternHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.fields = h.fields.WithGroup(name)
	return &c
}

// flushDelay bounds how long a line of an output with "flush": false
// waits in its buffer; maxBuffered is how much it holds before writing.
const (
	flushDelay  = 500 * time.Millisecond
	maxBuffered = 64 << 10
)

// delayedWriter buffers writes for an output with "flush": false: they
// reach w within flushDelay, or when maxBuffered bytes are held, or at
// Flush (before a reopen or close).
type delayedWriter struct {
	mu    sync.Mutex
	w     io.Writer
	buf   []byte
	timer *time.Timer
}

func (d *delayedWriter) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.buf = append(d.buf, p...)
	if len(d.buf) >= maxBuffered {
		return len(p), d.flushLocked()
	}
	if d.timer == nil {
		d.timer = time.AfterFunc(flushDelay, func() { d.Flush() })
	}
	return len(p), nil
}

// Flush writes what is held.
func (d *delayedWriter) Flush() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.flushLocked()
}

func (d *delayedWriter) flushLocked() error {
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	if len(d.buf) == 0 {
		return nil
	}
	_, err := d.w.Write(d.buf)
	d.buf = d.buf[:0]
	return err
}
