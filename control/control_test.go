package control

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"xdhcp/internal/testlog"
	"xdhcp/internal/testpki"

	"xdhcp/config"
	"xdhcp/internal/stats"
)

// echo answers with what it received, so tests can see the parsed request.
func echo(_ context.Context, req *Request) Answer {
	args := map[string]any{"user": req.User, "remote": req.Remote, "service": req.Service}
	if req.Arguments != nil {
		args["arguments"] = req.Arguments
	}
	return Answer{Result: ResultSuccess, Text: "ok", Arguments: args}
}

func newTestServer(t *testing.T, log *slog.Logger) *Server {
	t.Helper()
	s := NewServer(log)
	s.Handle("echo", echo)
	s.Handle("boom", func(context.Context, *Request) Answer { panic("handler bug") })
	s.Handle("silent-fail", func(context.Context, *Request) Answer { return Answer{Result: ResultError} })
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestDispatch(t *testing.T) {
	s := newTestServer(t, nil)
	tests := []struct {
		name, body string
		result     int
		text       string // substring
	}{
		{"ok", `{"command":"echo","arguments":{"a":1},"service":["dhcp4"]}`, 0, "ok"},
		{"null arguments are absent", `{"command":"echo","arguments":null}`, 0, "ok"},
		{"remote-address is allowed (CA adds it)", `{"command":"echo","remote-address":"192.0.2.1"}`, 0, "ok"},
		{"empty body", ``, 1, "no command specified"},
		{"malformed", `{"command":`, 1, "malformed JSON"},
		{"trailing garbage", `{"command":"echo"} x`, 1, "malformed JSON"},
		{"list", `[{"command":"echo"}]`, 1, "expected toplevel entry to be a map, got list"},
		{"missing command", `{"arguments":{}}`, 1, "does not contain mandatory 'command'"},
		{"command not string", `{"command":5}`, 1, "expected 'command' to be a string, got number"},
		{"unknown key", `{"command":"echo","argument":{}}`, 1, "unsupported parameter 'argument'"},
		{"arguments list", `{"command":"echo","arguments":[1]}`, 1, "expected 'arguments' to be a map, got list"},
		{"service not list", `{"command":"echo","service":"dhcp4"}`, 1, "'service' to be a list"},
		// A CA without a dhcp6 socket says so; so do we.
		{"other service", `{"command":"echo","service":["dhcp6"]}`, 1, "server type dhcp6"},
		{"unknown command", `{"command":"nope"}`, 2, "'nope' command not supported."},
		{"panicking handler", `{"command":"boom"}`, 1, "internal error"},
		{"failure gets a text", `{"command":"silent-fail"}`, 1, "command 'silent-fail' failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := s.Dispatch(context.Background(), []byte(tt.body), "192.0.2.9:1", "alice")
			if a.Result != tt.result || !strings.Contains(a.Text, tt.text) {
				t.Fatalf("Dispatch(%s) = %d %q, want %d containing %q", tt.body, a.Result, a.Text, tt.result, tt.text)
			}
		})
	}
	a := s.Dispatch(context.Background(), []byte(`{"command":"echo","arguments":{"x":"y"}}`), "r", "alice")
	args := a.Arguments.(map[string]any)
	if args["user"] != "alice" || args["remote"] != "r" || string(args["arguments"].(json.RawMessage)) != `{"x":"y"}` {
		t.Fatalf("request fields not passed: %v", args)
	}
	a = s.Dispatch(context.Background(), []byte(`{"command":"list-commands"}`), "", "")
	if want := []string{"boom", "echo", "list-commands", "silent-fail"}; !reflect.DeepEqual(a.Arguments, want) {
		t.Fatalf("list-commands = %v, want %v", a.Arguments, want)
	}
}

// TestDispatchServices checks the "service" a Control Agent forwards on
// against the families the daemon serves: a dual-stack daemon answers for
// both, a DHCPv6-only one refuses "dhcp4" as a CA without that socket does.
func TestDispatchServices(t *testing.T) {
	s := newTestServer(t, nil)
	try := func(svc string) Answer {
		return s.Dispatch(context.Background(), []byte(`{"command":"echo","service":[`+svc+`]}`), "", "")
	}
	s.SetServices("dhcp4", "dhcp6")
	for _, svc := range []string{`"dhcp4"`, `"dhcp6"`, `"dhcp4","dhcp6"`} {
		if a := try(svc); a.Result != ResultSuccess {
			t.Errorf("dual stack, service [%s]: %d %q", svc, a.Result, a.Text)
		}
	}
	s.SetServices("dhcp6")
	if a := try(`"dhcp6"`); a.Result != ResultSuccess {
		t.Errorf("DHCPv6 only, service dhcp6: %d %q", a.Result, a.Text)
	}
	for _, svc := range []string{`"dhcp4"`, `"dhcp6","dhcp4"`} {
		a := try(svc)
		if want := "forwarding socket is not configured for the server type dhcp4"; a.Result != ResultError || a.Text != want {
			t.Errorf("DHCPv6 only, service [%s]: %d %q, want 1 %q", svc, a.Result, a.Text, want)
		}
	}
	s.SetServices()
	if a := try(`"dhcp6"`); a.Result != ResultError {
		t.Errorf("default services answer dhcp6: %d %q", a.Result, a.Text)
	}
}

func TestEncodeAnswer(t *testing.T) {
	if got := string(encodeAnswer(Answer{Result: 0, Arguments: map[string]int{"a": 1}}, true)); got != "[{\"result\":0,\"arguments\":{\"a\":1}}]\n" {
		t.Fatalf("list = %s", got)
	}
	// Arguments that cannot be encoded must still give valid JSON.
	got := encodeAnswer(Answer{Arguments: func() {}}, false)
	var a Answer
	if err := json.Unmarshal(got, &a); err != nil || a.Result != ResultError {
		t.Fatalf("fallback = %s (%v)", got, err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	return port
}

func post(t *testing.T, c *http.Client, url, ctype, body string, setup func(*http.Request)) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if setup != nil {
		setup(req)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func TestHTTP(t *testing.T) {
	s := newTestServer(t, nil)
	s.MaxBodySize = 1 << 10
	if err := s.HandleHTTP("GET /metrics", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "xdhcp_up 1\n")
	})); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"/", "GET metrics", "get /x"} {
		if err := s.HandleHTTP(bad, http.NotFoundHandler()); err == nil {
			t.Errorf("HandleHTTP(%q): want error", bad)
		}
	}
	port := freePort(t)
	if err := s.Listen([]config.ControlSocket{{Type: "http", Address: "127.0.0.1", Port: port, AllowUnauthenticated: true}}); err != nil {
		t.Fatal(err)
	}
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	c := &http.Client{Timeout: 5 * time.Second}

	resp, body := post(t, c, url+"/", "application/json", `{"command":"echo","service":["dhcp4"]}`, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" ||
		resp.Header.Get("Content-Length") != strconv.Itoa(len(body)) {
		t.Fatalf("POST / = %d %v", resp.StatusCode, resp.Header)
	}
	var list []Answer
	if err := json.Unmarshal(body, &list); err != nil || len(list) != 1 || list[0].Result != 0 {
		t.Fatalf("answer = %s (%v)", body, err)
	}

	// Kea's rules: POST with application/json only.
	checkMap := func(resp *http.Response, body []byte, code int) {
		t.Helper()
		var a Answer
		if err := json.Unmarshal(body, &a); err != nil || resp.StatusCode != code || a.Result != code {
			t.Fatalf("status %d body %s, want %d with a Kea map", resp.StatusCode, body, code)
		}
	}
	resp, body = post(t, c, url+"/", "text/plain", `{"command":"echo"}`, nil)
	checkMap(resp, body, http.StatusBadRequest)
	resp, body = post(t, c, url+"/", "application/json", `{"command":"echo","arguments":{"x":"`+strings.Repeat("a", 2000)+`"}}`, nil)
	checkMap(resp, body, http.StatusRequestEntityTooLarge)
	resp, body = post(t, c, url+"/metrics", "application/json", `{}`, nil)
	checkMap(resp, body, http.StatusMethodNotAllowed)
	resp, body = post(t, c, url+"/nope", "application/json", `{}`, nil)
	checkMap(resp, body, http.StatusNotFound)

	get := func(path string) (*http.Response, []byte) {
		resp, err := c.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resp, body = get("/")
	checkMap(resp, body, http.StatusMethodNotAllowed)
	if resp.Header.Get("Allow") != "POST" {
		t.Fatalf("405 without Allow: POST")
	}
	if resp, body = get("/metrics"); resp.StatusCode != 200 || string(body) != "xdhcp_up 1\n" {
		t.Fatalf("GET /metrics = %d %s", resp.StatusCode, body)
	}
}

func TestHTTPS(t *testing.T) {
	pki := testpki.New(t)
	s := newTestServer(t, nil)
	port := freePort(t)
	sock := config.ControlSocket{Type: "https", Address: "127.0.0.1", Port: port,
		TrustAnchor: pki.CAFile, CertFile: pki.ServerCert, KeyFile: pki.ServerKey, CertRequired: true}
	if err := s.Listen([]config.ControlSocket{sock}); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	caPEM, _ := os.ReadFile(pki.CAFile)
	pool.AppendCertsFromPEM(caPEM)
	clientCert, err := tls.LoadX509KeyPair(pki.ClientCert, pki.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	url := "https://127.0.0.1:" + strconv.Itoa(port) + "/"
	client := func(certs ...tls.Certificate) *http.Client {
		return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: certs}}}
	}
	resp, body := post(t, client(clientCert), url, "application/json", `{"command":"echo"}`, nil)
	if resp.StatusCode != 200 || !bytes.HasPrefix(body, []byte(`[{"result":0`)) {
		t.Fatalf("mutual TLS request = %d %s", resp.StatusCode, body)
	}
	// Without a client certificate the handshake must fail.
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"command":"echo"}`))
	req.Header.Set("Content-Type", "application/json")
	if resp, err := client().Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("request without client certificate succeeded: %d", resp.StatusCode)
	}

	// The same socket with cert-required false and no authentication
	// authenticates nobody: refused unless validation allowed it
	// (loopback with the insecure key); allowed and reloaded in place, it
	// accepts clients without a certificate.
	sock.CertRequired = false
	if err := s.Listen([]config.ControlSocket{sock}); err == nil || !strings.Contains(err.Error(), "no authentication") {
		t.Fatalf("unauthenticated https: %v", err)
	}
	sock.AllowUnauthenticated = true
	if err := s.Listen([]config.ControlSocket{sock}); err != nil {
		t.Fatal(err)
	}
	if resp, _ := post(t, client(), url, "application/json", `{"command":"echo"}`, nil); resp.StatusCode != 200 {
		t.Fatalf("optional client cert: %d", resp.StatusCode)
	}

	// Configuration errors name the socket.
	bad := []config.ControlSocket{
		{Type: "https", Port: freePort(t), CertFile: pki.ServerCert, KeyFile: pki.ServerKey, CertRequired: true},
		{Type: "https", Port: freePort(t), CertFile: filepath.Join(pki.Dir, "missing.pem"), KeyFile: pki.ServerKey},
		{Type: "http", Port: freePort(t), CertFile: pki.ServerCert, KeyFile: pki.ServerKey},
		{Type: "https", Port: freePort(t), CertFile: pki.ServerCert, KeyFile: pki.ServerKey, TrustAnchor: pki.Dir, CertRequired: true},
	}
	for i, b := range bad {
		err := s.Listen([]config.ControlSocket{sock, b})
		if i == 3 {
			// A trust-anchor directory is valid.
			if err != nil {
				t.Fatalf("trust-anchor directory: %v", err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "127.0.0.1:"+strconv.Itoa(b.Port)) {
			t.Errorf("bad socket %d: error %v does not name it", i, err)
		}
	}
}

func TestBasicAuth(t *testing.T) {
	var logs testlog.Buffer
	s := newTestServer(t, slog.New(slog.NewTextHandler(&logs, nil)))
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "bob.user"), []byte("bob\n"), 0o600))
	must(os.WriteFile(filepath.Join(dir, "bob.pw"), []byte("b0b-secret\n"), 0o600))
	must(os.WriteFile(filepath.Join(dir, "carol.pw"), []byte("carol:c-secret"), 0o600))
	port := freePort(t)
	sock := config.ControlSocket{Type: "http", Address: "127.0.0.1", Port: port, Auth: &config.Authentication{
		Type: "basic", Realm: "xc-realm", Directory: dir,
		Clients: []config.AuthClient{
			{User: "alice", Password: "a-secret"},
			{UserFile: "bob.user", PasswordFile: "bob.pw"},
			{PasswordFile: "carol.pw"},
		},
	}}
	must(s.Listen([]config.ControlSocket{sock}))
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/"
	c := &http.Client{Timeout: 5 * time.Second}
	cmd := `{"command":"echo"}`

	resp, body := post(t, c, url, "application/json", cmd, nil)
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != `Basic realm="xc-realm"` ||
		!bytes.Contains(body, []byte(`"result":401`)) {
		t.Fatalf("no credentials = %d %v %s", resp.StatusCode, resp.Header, body)
	}
	resp, _ = post(t, c, url, "application/json", cmd, func(r *http.Request) { r.SetBasicAuth("alice", "wrong-pw") })
	if resp.StatusCode != 401 {
		t.Fatalf("wrong password = %d", resp.StatusCode)
	}
	for user, pw := range map[string]string{"alice": "a-secret", "bob": "b0b-secret", "carol": "c-secret"} {
		resp, body = post(t, c, url, "application/json", cmd, func(r *http.Request) { r.SetBasicAuth(user, pw) })
		var list []struct {
			Result    int
			Arguments map[string]any
		}
		if err := json.Unmarshal(body, &list); err != nil || resp.StatusCode != 200 || list[0].Arguments["user"] != user {
			t.Fatalf("%s: %d %s", user, resp.StatusCode, body)
		}
	}
	out := logs.String()
	if !strings.Contains(out, "component=auth") || !strings.Contains(out, "user=alice") {
		t.Fatalf("auth failure not logged with component=auth:\n%s", out)
	}
	if strings.Contains(out, "wrong-pw") || strings.Contains(out, "secret") {
		t.Fatalf("password in logs:\n%s", out)
	}

	// Reload with a changed password: the socket stays up, the new
	// credentials apply.
	sock.Auth.Clients = []config.AuthClient{{User: "alice", Password: "new-secret"}}
	must(s.Listen([]config.ControlSocket{sock}))
	if resp, _ = post(t, c, url, "application/json", cmd, func(r *http.Request) { r.SetBasicAuth("alice", "a-secret") }); resp.StatusCode != 401 {
		t.Fatalf("old password after reload = %d", resp.StatusCode)
	}
	if resp, _ = post(t, c, url, "application/json", cmd, func(r *http.Request) { r.SetBasicAuth("alice", "new-secret") }); resp.StatusCode != 200 {
		t.Fatalf("new password after reload = %d", resp.StatusCode)
	}
	// A broken reload keeps the running credentials and names the socket.
	sock.Auth.Clients = []config.AuthClient{{UserFile: "missing"}}
	if err := s.Listen([]config.ControlSocket{sock}); err == nil || !strings.Contains(err.Error(), "http 127.0.0.1:"+strconv.Itoa(port)) {
		t.Fatalf("broken auth reload: %v", err)
	}
	if resp, _ = post(t, c, url, "application/json", cmd, func(r *http.Request) { r.SetBasicAuth("alice", "new-secret") }); resp.StatusCode != 200 {
		t.Fatalf("after failed reload = %d", resp.StatusCode)
	}
}

func unixCommand(t *testing.T, path, cmd string) []byte {
	t.Helper()
	c, err := net.DialTimeout("unix", path, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	// Like socat, do not half-close: the server must find the end itself.
	if _, err := io.WriteString(c, cmd); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestUnixSocket(t *testing.T) {
	s := newTestServer(t, nil)
	path := filepath.Join(t.TempDir(), "kea4-ctrl-socket")
	// A stale socket file from a crashed run.
	stale, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	stale.SetUnlinkOnClose(false)
	_ = stale.Close()

	if err := s.Listen([]config.ControlSocket{{Type: "unix", SocketName: path}}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode = %v (%v), want 0600", fi.Mode(), err)
	}
	body := unixCommand(t, path, `{"command":"echo","arguments":{"a":1}}`)
	var a map[string]any
	if err := json.Unmarshal(body, &a); err != nil || a["result"] != float64(0) {
		t.Fatalf("unix answer = %s (%v), want a bare map", body, err)
	}
	body = unixCommand(t, path, `{"command":"nope"}`)
	if err := json.Unmarshal(body, &a); err != nil || a["result"] != float64(2) {
		t.Fatalf("unix unknown command = %s", body)
	}
	body = unixCommand(t, path, `{"command" oops`)
	if err := json.Unmarshal(body, &a); err != nil || a["result"] != float64(1) {
		t.Fatalf("unix malformed = %s", body)
	}

	// A second server must not steal a live socket.
	other := NewServer(nil)
	defer other.Close()
	if err := other.Listen([]config.ControlSocket{{Type: "unix", SocketName: path}}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("live socket taken over: %v", err)
	}
	// Nor delete a regular file.
	file := filepath.Join(t.TempDir(), "regular")
	_ = os.WriteFile(file, nil, 0o600)
	if err := other.Listen([]config.ControlSocket{{Type: "unix", SocketName: file}}); err == nil {
		t.Fatal("regular file replaced by a socket")
	}

	// Removing the socket from the config stops it and unlinks the file.
	if err := s.Listen(nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("socket file still present after removal: %v", err)
	}
}

func TestListenReconfigure(t *testing.T) {
	s := newTestServer(t, nil)
	port := freePort(t)
	path := filepath.Join(t.TempDir(), "ctl")
	httpSock := config.ControlSocket{Type: "http", Address: "127.0.0.1", Port: port, AllowUnauthenticated: true}
	unixSock := config.ControlSocket{Type: "unix", SocketName: path}
	if err := s.Listen([]config.ControlSocket{httpSock, unixSock}); err != nil {
		t.Fatal(err)
	}
	// Hold a connection on the unix socket to prove it is not restarted.
	held, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()

	err = s.Listen([]config.ControlSocket{unixSock, {Type: "ftp"}})
	if err == nil || !strings.Contains(err.Error(), `"ftp"`) {
		t.Fatalf("unknown type error = %v", err)
	}
	if c, err := net.DialTimeout("tcp", httpSock.Address+":"+strconv.Itoa(port), time.Second); err == nil {
		c.Close()
		t.Fatal("removed http socket still accepts")
	}
	if _, err := io.WriteString(held, `{"command":"echo"}`); err != nil {
		t.Fatal(err)
	}
	_ = held.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, err := io.ReadAll(held); err != nil || !bytes.Contains(b, []byte(`"result":0`)) {
		t.Fatalf("kept unix socket answer = %s (%v)", b, err)
	}
	// The port is free again and http → https on the same port works.
	if err := s.Listen([]config.ControlSocket{httpSock}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Listen([]config.ControlSocket{httpSock}); err != ErrClosed {
		t.Fatalf("Listen after Close = %v", err)
	}
}

// TestReloadFromHandler checks that a command can reconfigure the very
// socket it arrived on and still get its answer (config-reload does this).
func TestReloadFromHandler(t *testing.T) {
	s := newTestServer(t, nil)
	port := freePort(t)
	s.Handle("drop-sockets", func(context.Context, *Request) Answer {
		if err := s.Listen(nil); err != nil {
			return Errorf("%v", err)
		}
		return Answer{Result: ResultSuccess, Text: "dropped"}
	})
	if err := s.Listen([]config.ControlSocket{{Type: "http", Address: "127.0.0.1", Port: port, AllowUnauthenticated: true}}); err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Timeout: 5 * time.Second}
	resp, body := post(t, c, "http://127.0.0.1:"+strconv.Itoa(port)+"/", "application/json", `{"command":"drop-sockets"}`, nil)
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte("dropped")) {
		t.Fatalf("answer = %d %s", resp.StatusCode, body)
	}
}

func TestStatisticsCommands(t *testing.T) {
	s := newTestServer(t, nil)
	r := stats.New(20, 0)
	RegisterStatistics(s, r)
	r.Counter("pkt4-received").Add(7)
	run := func(body string) Answer {
		t.Helper()
		return s.Dispatch(context.Background(), []byte(body), "", "")
	}
	a := run(`{"command":"statistic-get","arguments":{"name":"pkt4-received"}}`)
	b, _ := json.Marshal(a)
	if a.Result != 0 || !bytes.Contains(b, []byte(`{"pkt4-received":[[7,"`)) {
		t.Fatalf("statistic-get = %s", b)
	}
	if a = run(`{"command":"statistic-get","arguments":{"name":"nope"}}`); a.Result != 0 || len(a.Arguments.(map[string][]stats.Sample)) != 0 {
		t.Fatalf("statistic-get unknown = %+v", a)
	}
	tests := []struct {
		body   string
		result int
		text   string
	}{
		{`{"command":"statistic-get"}`, 1, "Missing mandatory 'arguments'"},
		{`{"command":"statistic-get","arguments":{}}`, 1, "Missing mandatory 'name'"},
		{`{"command":"statistic-get","arguments":{"name":1}}`, 1, "expected to be a string"},
		{`{"command":"statistic-reset","arguments":{"name":"pkt4-received"}}`, 0, "Statistic 'pkt4-received' reset."},
		{`{"command":"statistic-reset","arguments":{"name":"nope"}}`, 1, "No 'nope' statistic found"},
		{`{"command":"statistic-sample-count-set","arguments":{"name":"pkt4-received","max-samples":0}}`, 1, "max-samples"},
		{`{"command":"statistic-sample-count-set","arguments":{"name":"pkt4-received","max-samples":1}}`, 0, "count limit is set"},
		{`{"command":"statistic-sample-age-set-all","arguments":{"duration":60}}`, 0, "duration limit are set"},
		{`{"command":"statistic-sample-count-set-all","arguments":{"max-samples":"5"}}`, 1, "max-samples"},
		{`{"command":"statistic-remove","arguments":{"name":"pkt4-received"}}`, 0, "removed"},
		{`{"command":"statistic-remove","arguments":{"name":"pkt4-received"}}`, 1, "No 'pkt4-received'"},
		{`{"command":"statistic-reset-all"}`, 0, "reset to neutral"},
		{`{"command":"statistic-remove-all"}`, 0, "All statistics removed."},
	}
	for _, tt := range tests {
		a := run(tt.body)
		if a.Result != tt.result || !strings.Contains(a.Text, tt.text) {
			t.Errorf("%s = %d %q, want %d %q", tt.body, a.Result, a.Text, tt.result, tt.text)
		}
	}
	if a = run(`{"command":"statistic-get-all"}`); len(a.Arguments.(map[string][]stats.Sample)) != 0 {
		t.Fatalf("after remove-all: %v", a.Arguments)
	}
}

func FuzzDispatch(f *testing.F) {
	for _, seed := range []string{
		`{"command":"echo","arguments":{"a":1},"service":["dhcp4"]}`,
		`{"command":"list-commands"}`,
		`{"command":"statistic-get","arguments":{"name":"pkt4-received"}}`,
		`{"command":"statistic-sample-age-set","arguments":{"name":"x","duration":1e30}}`,
		`{"command":"boom"}`,
		`[1,2]`, `null`, `"x"`, `{"command":null}`, `{"command":"echo","service":[1]}`,
		"{\"command\":\"\xff\"}", `{`, ``,
	} {
		f.Add([]byte(seed))
	}
	s := NewServer(nil)
	defer s.Close()
	s.Handle("echo", echo)
	s.Handle("boom", func(context.Context, *Request) Answer { panic("x") })
	r := stats.New(3, 0)
	r.Counter("pkt4-received").Inc()
	RegisterStatistics(s, r)
	f.Fuzz(func(t *testing.T, body []byte) {
		a := s.Dispatch(context.Background(), body, "fuzz", "")
		if a.Result != ResultSuccess && a.Text == "" {
			t.Fatalf("failure without text for %q", body)
		}
		var back Answer
		if err := json.Unmarshal(encodeAnswer(a, false), &back); err != nil {
			t.Fatalf("answer does not encode to JSON: %v", err)
		}
	})
}
