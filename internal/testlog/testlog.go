// Package testlog routes what code under test logs to the test: a
// slog.Logger that writes each record with t.Log, and a buffer that the
// code's goroutines and the test may share.
package testlog

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// New returns a logger, at debug level, that writes each record to t.Log.
func New(t testing.TB) *slog.Logger { return AtLevel(t, slog.LevelDebug) }

// AtLevel returns a logger that writes each record at level or above to
// t.Log: for tests whose code logs too much at debug level to read.
func AtLevel(t testing.TB, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(writer{t}, &slog.HandlerOptions{Level: level}))
}

type writer struct{ t testing.TB }

func (w writer) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Buffer is a bytes.Buffer safe for concurrent writers and readers, such
// as a logger's handler and the test that reads what was logged.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
