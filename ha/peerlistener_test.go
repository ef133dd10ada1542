package ha

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"xdhcp/config"
	"xdhcp/control"
	"xdhcp/internal/testlog"
	"xdhcp/internal/testpki"
)

// peerListener starts this server's peer listener (server1 at
// 127.0.0.3:port, its partner server2 at 127.0.0.2) for an HA section
// whose peers entries get extra1 and extra2, with a commands server that
// has the HA commands and an operator command (config-get) a partner must
// not reach.
func peerListener(t *testing.T, extra1, extra2 string, o ListenOptions) (addr string, l *Listener) {
	t.Helper()
	port := freePort(t)
	params := fmt.Sprintf(`{"high-availability": [{"this-server-name": "server1", "mode": "hot-standby",
  "peers": [{"name": "server1", "url": "http://127.0.0.3:%d/", "role": "primary" %s},
            {"name": "server2", "url": "http://127.0.0.2:%d/", "role": "standby" %s}]}]}`, port, extra1, port, extra2)
	svc, _, _ := testRel(t, params, time.Now)
	ctl := control.NewServer(nil)
	svc.RegisterCommands(ctl)
	ctl.Handle("config-get", func(context.Context, *control.Request) control.Answer { return control.Answer{Text: "secrets"} })
	svc.rels[0].start()
	if o.AuthLog == nil {
		o.AuthLog = testlog.New(t)
	}
	l, err := svc.Listen(ctl, o)
	if err != nil {
		t.Fatal(err)
	}
	if l == nil {
		t.Fatal("no listener on this server's own peer URL")
	}
	t.Cleanup(func() { _ = l.Close() })
	return fmt.Sprintf("127.0.0.3:%d", port), l
}

// post sends one command from source address src (any when empty) and
// returns the HTTP status, or the transport error.
func post(t *testing.T, src, addr, user, pass, command string) (int, string, error) {
	t.Helper()
	d := &net.Dialer{Timeout: 2 * time.Second}
	if src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/",
		strings.NewReader(fmt.Sprintf(`{"command": %q, "service": ["dhcp4"]}`, command)))
	req.Header.Set("Content-Type", "application/json")
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// TestPeerListenerBasicAuth: with credentials in this server's peers entry
// (what its partners send), a request without them or with wrong ones is
// 401; with them, a partner command runs and anything else is 403.
func TestPeerListenerBasicAuth(t *testing.T) {
	logs := &testlog.Buffer{}
	addr, _ := peerListener(t, `, "basic-auth-user": "foo", "basic-auth-password": "bar"`, "",
		ListenOptions{AuthLog: slog.New(slog.NewTextHandler(logs, nil))})
	expectCodes(t, addr, []codeCase{
		{"", "", "ha-heartbeat", 401},
		{"foo", "wrong", "ha-heartbeat", 401},
		{"foo", "ba", "ha-heartbeat", 401},
		{"fo", "bar", "ha-heartbeat", 401},
		{"foo", "bar", "ha-heartbeat", 200},
		{"foo", "bar", "config-get", 403},
		{"foo", "bar", "config-write", 403},
		{"foo", "bar", "lease4-add", 403},
		{"foo", "bar", "ha-maintenance-start", 403},
	})
	for _, want := range []string{"wrong password", "no basic credentials", "not a partner command"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("auth log lacks %q:\n%s", want, logs)
		}
	}
}

// TestPeerListenerPartnerAddress: without credentials or certificates
// (the HA quickstart's configuration), only the partner's address, as its
// URL names it, gets in; a partner command runs, others are 403.
func TestPeerListenerPartnerAddress(t *testing.T) {
	addr, l := peerListener(t, "", "", ListenOptions{})
	if code, body, err := post(t, "127.0.0.4", addr, "", "", "config-get"); err == nil {
		t.Errorf("unauthenticated POST from a non-partner address answered: %d %s", code, body)
	}
	if code, body, err := post(t, "127.0.0.4", addr, "", "", "ha-heartbeat"); err == nil {
		t.Errorf("heartbeat from a non-partner address answered: %d %s", code, body)
	}
	if code, _, err := post(t, "127.0.0.2", addr, "", "", "ha-heartbeat"); err != nil || code != 200 {
		t.Errorf("partner's heartbeat: %d %v", code, err)
	}
	if code, _, err := post(t, "127.0.0.2", addr, "", "", "config-get"); err != nil || code != 403 {
		t.Errorf("partner's config-get: %d %v, want 403", code, err)
	}
	if refused, _ := l.Refused(); refused != 2 {
		t.Errorf("%d connections refused, want 2", refused)
	}
}

// TestPeerListenerConnectionCap: idle connections are capped per source
// address and per listener; the ones over the bounds are closed at once.
func TestPeerListenerConnectionCap(t *testing.T) {
	const perSource, total = 20, 50
	addr, l := peerListener(t, `, "basic-auth-user": "foo", "basic-auth-password": "bar"`, "",
		ListenOptions{MaxConns: total, MaxConnsPerSource: perSource})
	open := func(src string, n int) (kept int) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		for range n {
			c, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}).Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			wg.Add(1)
			go func() { // a connection the server closed reads EOF at once
				defer wg.Done()
				_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
				_, err := c.Read(make([]byte, 1))
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					mu.Lock()
					kept++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		return kept
	}
	if kept := open("127.0.0.5", 3*perSource); kept != perSource {
		t.Errorf("%d of %d idle connections from one address kept open, want %d", kept, 3*perSource, perSource)
	}
	kept := 0
	for _, src := range []string{"127.0.0.6", "127.0.0.7", "127.0.0.8"} {
		kept += open(src, perSource)
	}
	if kept != total-perSource {
		t.Errorf("%d more connections kept from other addresses, want %d (listener bound %d)", kept, total-perSource, total)
	}
	if _, over := l.Refused(); over != uint64(2*perSource+3*perSource-(total-perSource)) {
		t.Errorf("%d connections over the bounds counted", over)
	}
	// The partner still gets in once idle ones go: the bound is not a
	// lock-out (the test's connections close at cleanup).
}

// TestPeerListenerDefaultCap: with the default bounds, 3,000 idle
// connections from one address leave DefaultMaxConnsPerSource open.
func TestPeerListenerDefaultCap(t *testing.T) {
	addr, _ := peerListener(t, `, "basic-auth-user": "foo", "basic-auth-password": "bar"`, "", ListenOptions{})
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 3000 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	// The listener accepts and closes the connections over the bound as
	// it gets to them: count until it has (a loaded machine takes a while).
	kept := 0
	buf := make([]byte, 1)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		kept = 0
		for _, c := range conns {
			_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
			if _, err := c.Read(buf); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					kept++
				}
			}
		}
		if kept <= DefaultMaxConnsPerSource || time.Now().After(deadline) {
			break
		}
	}
	t.Logf("3000 idle connections from one address: %d kept open", kept)
	if kept != DefaultMaxConnsPerSource {
		t.Errorf("%d idle connections kept, want %d", kept, DefaultMaxConnsPerSource)
	}
}

// TestPeerListenerControlAgent: a Control-agent section sets the peer
// listener's address and basic authentication, as kea-ctrl-agent's.
func TestPeerListenerControlAgent(t *testing.T) {
	port := freePort(t)
	a, _, err := config.ParseControlAgent([]byte(fmt.Sprintf(`{"Control-agent": {
  "http-host": "127.0.0.3", "http-port": %d,
  "authentication": {"type": "basic", "realm": "kea-control-agent",
                     "clients": [{"user": "admin", "password": "1234"}]},
  "control-sockets": {"dhcp4": {"socket-type": "unix", "socket-name": "/tmp/kea4-ctrl-socket"}}}}`, port)))
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := peerListener(t, "", "", ListenOptions{Agent: a})
	if want := fmt.Sprintf("127.0.0.3:%d", port); addr != want {
		// peerListener's own URL names another port: the agent's wins.
		addr = want
	}
	expectCodes(t, addr, []codeCase{
		{"", "", "ha-heartbeat", 401},
		{"admin", "123", "ha-heartbeat", 401},
		{"admin", "1234", "ha-heartbeat", 200},
		{"admin", "1234", "config-get", 403},
	})
}

// codeCase is one request with credentials and the status it must get.
type codeCase struct {
	user, pass, cmd string
	want            int
}

// expectCodes posts each case from a non-partner address.
func expectCodes(t *testing.T, addr string, cases []codeCase) {
	t.Helper()
	for _, c := range cases {
		if code, body, err := post(t, "127.0.0.9", addr, c.user, c.pass, c.cmd); err != nil || code != c.want {
			t.Errorf("%s as %q/%q: %d %s %v, want %d", c.cmd, c.user, c.pass, code, body, err, c.want)
		}
	}
}

// TestPeerListenerTLSAndBody: the https listener offers only AEAD suites
// (a TLS 1.2 client offering CBC-SHA1 alone gets no handshake), and a
// request body over the bound gets 413.
func TestPeerListenerTLSAndBody(t *testing.T) {
	pki := testpki.New(t)
	cert, key := pki.Peer(t, "server1", net.ParseIP("127.0.0.3"))
	port := freePort(t)
	params := fmt.Sprintf(`{"high-availability": [{"this-server-name": "server1", "mode": "hot-standby",
  "trust-anchor": %q, "cert-file": %q, "key-file": %q,
  "peers": [{"name": "server1", "url": "https://127.0.0.3:%d/", "role": "primary"},
            {"name": "server2", "url": "https://127.0.0.2:%d/", "role": "standby"}]}]}`, pki.CAFile, cert, key, port, port)
	svc, _, _ := testRel(t, params, time.Now)
	ctl := control.NewServer(nil)
	svc.RegisterCommands(ctl)
	svc.rels[0].start()
	l, err := svc.Listen(ctl, ListenOptions{AuthLog: testlog.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	addr := fmt.Sprintf("127.0.0.3:%d", port)
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	dial := func(suite uint16) error {
		c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{pair},
			MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{suite}})
		if err == nil {
			err = c.Handshake()
			c.Close()
		}
		return err
	}
	if err := dial(tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA); err == nil {
		t.Error("TLS 1.2 with ECDHE-ECDSA-AES128-CBC-SHA accepted")
	}
	if err := dial(tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256); err != nil {
		t.Errorf("TLS 1.2 with ECDHE-ECDSA-AES128-GCM-SHA256: %v", err)
	}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		InsecureSkipVerify: true, Certificates: []tls.Certificate{pair}}}}
	big := `{"command": "lease4-update", "arguments": {"user-context": {"x": "` + strings.Repeat("a", maxRequestSize) + `"}}}`
	resp, err := c.Post("https://"+addr+"/", "application/json", strings.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("a %d-byte body: %d, want 413", len(big), resp.StatusCode)
	}
}
