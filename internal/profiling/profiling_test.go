package profiling

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestRoutes: every route answers with its profile.
func TestRoutes(t *testing.T) {
	mux := http.NewServeMux()
	for _, r := range Routes() {
		mux.Handle(r.Path, r.Handler)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for path, want := range map[string]string{
		Prefix:                          "goroutine",
		Prefix + "cmdline":              "profiling.test",
		Prefix + "goroutine?debug=1":    "goroutine profile",
		Prefix + "heap?debug=1":         "heap profile",
		Prefix + "threadcreate?debug=1": "threadcreate profile",
	} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: %s, body lacks %q", path, resp.Status, want)
		}
	}
}
