package profiling

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestServe: the profiles are served on the address until Close, and the
// end of the owner's context closes the listener as well.
func TestServe(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	s, err := Serve(t.Context(), "127.0.0.1:0", log)
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + s.Addr().String() + "/debug/pprof/cmdline"
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "profiling.test") {
		t.Errorf("GET cmdline: %s %q", resp.Status, body)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := http.Get(url); err == nil {
		t.Error("still serving after Close")
	}

	ctx, cancel := context.WithCancel(t.Context())
	s, err = Serve(ctx, "127.0.0.1:0", log)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		t.Fatal("still serving 5 s after the context ended")
	}
	if _, err := Serve(t.Context(), "not an address", log); err == nil {
		t.Error("bad address accepted")
	}
}
