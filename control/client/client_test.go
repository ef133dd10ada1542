package client

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

func TestEncode(t *testing.T) {
	got, err := Encode("lease4-get", map[string]string{"ip-address": "10.0.0.5"}, ServiceDHCP4)
	want := `{"arguments":{"ip-address":"10.0.0.5"},"command":"lease4-get","service":["dhcp4"]}`
	if err != nil || string(got) != want {
		t.Fatalf("Encode = %s, %v; want %s", got, err, want)
	}
	if got, _ := Encode("list-commands", nil); string(got) != `{"command":"list-commands"}` {
		t.Fatalf("Encode without arguments = %s", got)
	}
}

func TestDoHTTP(t *testing.T) {
	var gotBody, gotUser string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
		gotUser, _, _ = r.BasicAuth()
		switch {
		case strings.Contains(gotBody, "forbidden"):
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"result": 403, "text": "Forbidden"}`))
		case strings.Contains(gotBody, "teapot"):
			w.WriteHeader(http.StatusTeapot)
			_, _ = w.Write([]byte(`[{"result": 0}]`))
		default:
			_, _ = w.Write([]byte(`[{"result": 3, "text": "0 leases found", "arguments": {"leases": []}}]`))
		}
	}))
	defer srv.Close()
	c, err := New(Options{URL: srv.URL + "/", User: "u", Password: "p", Service: ServiceDHCP4, MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a, err := c.Do(context.Background(), "lease4-get-all", nil)
	if err != nil || !a.OK() || a.Result != ResultEmpty || a.Text != "0 leases found" || string(a.Arguments) != `{"leases": []}` {
		t.Fatalf("Do = %+v, %v", a, err)
	}
	if gotUser != "u" || gotBody != `{"command":"lease4-get-all","service":["dhcp4"]}` {
		t.Errorf("sent user %q body %s", gotUser, gotBody)
	}
	if _, err := c.Do(context.Background(), "forbidden", nil); err == nil || !strings.Contains(err.Error(), "result 403: Forbidden") {
		t.Errorf("bare map answer: %v", err)
	}
	if _, err := c.Do(context.Background(), "teapot", nil); err == nil || !strings.Contains(err.Error(), "HTTP 418") {
		t.Errorf("non-200 status: %v", err)
	}
}

func TestDoUnix(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctl.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		var req map[string]any
		_ = json.NewDecoder(conn).Decode(&req)
		_, _ = conn.Write([]byte(`{"result": 0, "text": "` + req["command"].(string) + `"}`))
	}()
	c, err := New(Options{Socket: path})
	if err != nil {
		t.Fatal(err)
	}
	a, err := c.Do(context.Background(), "version-get", nil)
	if err != nil || a.Result != ResultSuccess || a.Text != "version-get" {
		t.Fatalf("Do = %+v, %v", a, err)
	}
}

func TestDecodeAnswers(t *testing.T) {
	for _, bad := range []string{``, `[]`, `"x"`, `[{"text": "no result"}]`, `{"result": "0"}`} {
		if _, _, err := DecodeAnswers([]byte(bad)); err == nil {
			t.Errorf("DecodeAnswers(%s) accepted", bad)
		}
	}
	as, list, err := DecodeAnswers([]byte(`[{"result": 0}, {"result": 1, "text": "x"}]`))
	if err != nil || !list || len(as) != 2 || as[1].Text != "x" {
		t.Errorf("two answers: %+v %v %v", as, list, err)
	}
}
