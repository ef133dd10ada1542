package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"xdhcp/internal/testpki"

	"xdhcp/config"
	"xdhcp/control"
)

// startServer runs a control.Server with an echo command on the given
// sockets.
func startServer(t *testing.T, sockets ...config.ControlSocket) {
	t.Helper()
	s := control.NewServer(nil)
	s.Handle("echo", func(_ context.Context, req *control.Request) control.Answer {
		return control.Answer{Result: control.ResultSuccess, Text: "ok",
			Arguments: map[string]any{"args": req.Arguments, "user": req.User, "service": req.Service}}
	})
	s.Handle("empty", func(context.Context, *control.Request) control.Answer {
		return control.Answer{Result: control.ResultEmpty, Text: "0 leases found"}
	})
	t.Cleanup(func() { _ = s.Close() })
	if err := s.Listen(sockets); err != nil {
		t.Fatal(err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// noEnvironment is a process with no XDHCPCTL_* variables, no config
// file and no terminal, so tests see only their flags.
func noEnvironment() environment {
	return environment{
		getenv:        func(string) string { return "" },
		userConfigDir: func() (string, error) { return "", errors.New("no home") },
		terminal:      func(io.Writer) bool { return false },
	}
}

// ctl runs xdhcpctl and returns stdout, stderr and the error.
func ctl(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	return ctlIn(t, noEnvironment(), args...)
}

// ctlIn runs xdhcpctl in env.
func ctlIn(t *testing.T, env environment, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := runIn(context.Background(), env, args, &out, &errOut)
	return out.String(), errOut.String(), err
}

// answerOf decodes the printed answer.
func answerOf(t *testing.T, out string) map[string]any {
	t.Helper()
	var a map[string]any
	if err := json.Unmarshal([]byte(out), &a); err != nil {
		t.Fatalf("output is not one JSON map: %v\n%s", err, out)
	}
	return a
}

func TestBuildCommand(t *testing.T) {
	tests := []struct {
		args    []string
		service string
		want    string
	}{
		{nil, "dhcp4", `{"command":"x","service":["dhcp4"]}`},
		{nil, "", `{"command":"x"}`},
		{[]string{`{"ip-address":"10.0.0.5"}`}, "", `{"command":"x","arguments":{"ip-address":"10.0.0.5"}}`},
		// Numbers, booleans, objects, lists and quoted strings are JSON;
		// an address, a bare word and null are strings.
		{[]string{"ip-address=10.0.0.5", "subnet-id=1", "force-create=true", "user-context={\"a\":1}",
			"l=[1,2]", `hostname="123"`, "name=foo", "n=null", "empty="}, "",
			`{"command":"x","arguments":{"ip-address":"10.0.0.5","subnet-id":1,"force-create":true,"user-context":{"a":1},"l":[1,2],"hostname":"123","name":"foo","n":"null","empty":""}}`},
	}
	for _, tt := range tests {
		got, err := buildCommand("x", tt.args, tt.service)
		if err != nil || string(got) != tt.want {
			t.Errorf("buildCommand(%q) = %s, %v; want %s", tt.args, got, err, tt.want)
		}
	}
	for _, bad := range [][]string{{"novalue"}, {"=1"}, {"a=1", "a=2"}, {`{"a":1}`, "b=2"}, {`{"a":`}} {
		if _, err := buildCommand("x", bad, ""); exitCode(err) != 2 {
			t.Errorf("buildCommand(%q): want usage error, got %v", bad, err)
		}
	}
}

func TestHTTP(t *testing.T) {
	port := freePort(t)
	startServer(t, config.ControlSocket{Type: "http", Address: "127.0.0.1", Port: port, AllowUnauthenticated: true})
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/"

	out, _, err := ctl(t, "-url", url, "echo", "ip-address=10.0.0.5", "subnet-id=1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "\n  \"result\": 0") {
		t.Fatalf("answer not indented:\n%s", out)
	}
	args := answerOf(t, out)["arguments"].(map[string]any)
	if got := args["args"].(map[string]any); got["ip-address"] != "10.0.0.5" || got["subnet-id"] != float64(1) {
		t.Fatalf("arguments sent = %v", got)
	}
	if svc := args["service"].([]any); len(svc) != 1 || svc[0] != "dhcp4" {
		t.Fatalf("service = %v", svc)
	}
	// Result 3 (empty) is success.
	if _, _, err := ctl(t, "-url", url, "empty"); err != nil {
		t.Fatalf("result 3: %v", err)
	}
	// Result 2 fails with the server's text, after printing the answer.
	out, _, err = ctl(t, "-url", url, "nope")
	if err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), "'nope' command not supported") {
		t.Fatalf("unknown command err = %v", err)
	}
	if answerOf(t, out)["result"] != float64(2) {
		t.Fatalf("answer for unknown command not printed: %s", out)
	}
	// Transport error.
	if _, _, err := ctl(t, "-url", "http://127.0.0.1:"+strconv.Itoa(freePort(t))+"/", "echo"); err == nil || exitCode(err) != 1 {
		t.Fatalf("connection refused: err = %v", err)
	}
	// Usage errors.
	for _, args := range [][]string{{}, {"-socket", "/x", "-url", url, "echo"}, {"-user", "u", "echo"}, {"-cert", "c", "echo"}, {"-bogus"}} {
		if _, _, err := ctl(t, args...); exitCode(err) != 2 {
			t.Errorf("%q: want usage error, got %v", args, err)
		}
	}
	if _, _, err := ctl(t, "-h"); err != nil {
		t.Errorf("-h: %v", err)
	}
}

func TestHTTPSAndAuth(t *testing.T) {
	pki := testpki.New(t)
	port := freePort(t)
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("admin:s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	startServer(t, config.ControlSocket{Type: "https", Address: "127.0.0.1", Port: port,
		TrustAnchor: pki.CAFile, CertFile: pki.ServerCert, KeyFile: pki.ServerKey, CertRequired: true,
		Auth: &config.Authentication{Type: "basic", Clients: []config.AuthClient{{User: "admin", Password: "s3cret"}}}})
	url := "https://127.0.0.1:" + strconv.Itoa(port) + "/"
	tlsArgs := []string{"-url", url, "-ca", pki.CAFile, "-cert", pki.ClientCert, "-key", pki.ClientKey}

	out, _, err := ctl(t, append(tlsArgs, "-user", "admin", "-password", "s3cret", "echo")...)
	if err != nil {
		t.Fatal(err)
	}
	if user := answerOf(t, out)["arguments"].(map[string]any)["user"]; user != "admin" {
		t.Fatalf("user = %v", user)
	}
	if _, _, err := ctl(t, append(tlsArgs, "-password-file", pwFile, "echo")...); err != nil {
		t.Fatalf("-password-file user:password: %v", err)
	}
	// Wrong password: the server's 401 map is printed and the run fails.
	out, _, err = ctl(t, append(tlsArgs, "-user", "admin", "-password", "nope", "echo")...)
	if err == nil || !strings.Contains(err.Error(), "result 401") || answerOf(t, out)["result"] != float64(401) {
		t.Fatalf("wrong password: %v\n%s", err, out)
	}
	// Mutual TLS: no client certificate, no answer.
	if _, _, err := ctl(t, "-url", url, "-ca", pki.CAFile, "-user", "admin", "-password", "s3cret", "echo"); err == nil {
		t.Fatal("request without client certificate succeeded")
	}
	// Unknown CA: the server certificate is not trusted.
	if _, _, err := ctl(t, "-url", url, "-cert", pki.ClientCert, "-key", pki.ClientKey, "echo"); err == nil {
		t.Fatal("untrusted server certificate accepted")
	}
}

func TestUnixSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctl.sock")
	startServer(t, config.ControlSocket{Type: "unix", SocketName: path})
	out, _, err := ctl(t, "-socket", path, "echo", `{"a":[1,2]}`)
	if err != nil {
		t.Fatal(err)
	}
	a := answerOf(t, out) // a bare map, printed as such
	if got := a["arguments"].(map[string]any)["args"].(map[string]any)["a"].([]any); len(got) != 2 {
		t.Fatalf("arguments = %v", got)
	}
	if _, _, err := ctl(t, "-socket", filepath.Join(t.TempDir(), "missing"), "echo"); err == nil || exitCode(err) != 1 {
		t.Fatalf("missing socket: %v", err)
	}
}

func jsonValid(b []byte) bool { return json.Valid(b) }
