package telemetry

import (
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"xdhcp/internal/stats"
)

func start(t *testing.T, ready func() []string) *Server {
	t.Helper()
	s, err := Listen(Options{Addr: "127.0.0.1:0", Ready: ready, Metrics: func(e *stats.Exposition) {
		if e.Family("xdhcp_test_total", stats.KindCounter, "A test counter.") {
			e.Int("", nil, 7)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func get(t *testing.T, s *Server, method, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+s.Addr().String()+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestRoutes(t *testing.T) {
	var reasons atomic.Pointer[[]string]
	reasons.Store(&[]string{"DHCP service disabled (origin ha)"})
	s := start(t, func() []string { return *reasons.Load() })

	if code, body := get(t, s, "GET", "/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, body := get(t, s, "GET", "/ready"); code != 503 || !strings.Contains(body, "origin ha") {
		t.Errorf("/ready while not ready: %d %q, want 503 with the reason", code, body)
	}
	reasons.Store(&[]string{})
	if code, body := get(t, s, "GET", "/ready"); code != 200 || body != "ready\n" {
		t.Errorf("/ready: %d %q", code, body)
	}
	if code, body := get(t, s, "GET", "/metrics"); code != 200 || !strings.Contains(body, "# TYPE xdhcp_test_total counter\nxdhcp_test_total 7\n") {
		t.Errorf("/metrics: %d %q", code, body)
	}
	for _, p := range []string{"/metrics", "/ready", "/healthz"} {
		if code, _ := get(t, s, "POST", p); code != http.StatusMethodNotAllowed {
			t.Errorf("POST %s: %d, want 405", p, code)
		}
	}
	if code, _ := get(t, s, "GET", "/config-get"); code != 404 {
		t.Errorf("GET /config-get: %d, want 404", code)
	}
}

// TestConnectionCap: idle connections beyond the cap are closed at once,
// and the listener still answers once they go away.
func TestConnectionCap(t *testing.T) {
	s := start(t, func() []string { return nil })
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < maxConns; i++ {
		c, err := net.Dial("tcp", s.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	time.Sleep(100 * time.Millisecond) // let the server accept them all
	extra, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	extra.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := extra.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("connection %d over the cap: read %v, want EOF (closed by the server)", maxConns+1, err)
	}
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	time.Sleep(100 * time.Millisecond)
	if code, _ := get(t, s, "GET", "/healthz"); code != 200 {
		t.Errorf("/healthz after the flood: %d", code)
	}
}
