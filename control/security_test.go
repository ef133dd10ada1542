package control

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"xdhcp/config"
	"xdhcp/internal/testpki"
)

// TestUnauthenticatedHTTPRefused: an http socket without authentication
// is refused by the server itself unless validation marked it allowed.
func TestUnauthenticatedHTTPRefused(t *testing.T) {
	s := newTestServer(t, nil)
	port := freePort(t)
	err := s.Listen([]config.ControlSocket{{Type: "http", Address: "127.0.0.1", Port: port}})
	if err == nil || !strings.Contains(err.Error(), "no authentication") {
		t.Fatalf("unauthenticated http socket: %v", err)
	}
	if c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second); err == nil {
		c.Close()
		t.Fatal("the refused socket listens")
	}
}

// TestUnixSocketPrivate: the socket's directory is created with mode 0700
// when missing, the socket is 0600, and a directory others may write to,
// or a symbolic link in its place, is refused.
func TestUnixSocketPrivate(t *testing.T) {
	s := newTestServer(t, nil)
	base := t.TempDir()
	path := filepath.Join(base, "run", "ctl.sock")
	if err := s.Listen([]config.ControlSocket{{Type: "unix", SocketName: path}}); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{filepath.Dir(path): 0o700, path: 0o600} {
		fi, err := os.Lstat(p)
		if err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v (%v), want %#o", p, fi.Mode(), err, want)
		}
	}
	if b := unixCommand(t, path, `{"command":"echo"}`); !strings.Contains(string(b), `"result":0`) {
		t.Errorf("command over the socket: %s", b)
	}

	open := filepath.Join(base, "open")
	if err := os.Mkdir(open, 0o777); err != nil || os.Chmod(open, 0o777) != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "link")
	if err := os.Symlink(filepath.Dir(path), link); err != nil {
		t.Fatal(err)
	}
	other := NewServer(nil)
	defer other.Close()
	for dir, want := range map[string]string{open: "group or others may write", link: "not a directory"} {
		err := other.Listen([]config.ControlSocket{{Type: "unix", SocketName: filepath.Join(dir, "x.sock")}})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("socket in %s: %v, want %q", dir, err, want)
		}
	}
}

// listenerOf returns the running HTTP listener of a socket key.
func listenerOf(t *testing.T, s *Server, key string) *httpListener {
	t.Helper()
	s.lmu.Lock()
	defer s.lmu.Unlock()
	l, ok := s.listeners[key].(*httpListener)
	if !ok {
		t.Fatalf("no http listener %s", key)
	}
	return l
}

// dialFrom opens n TCP connections to addr from the local address src,
// and closes them at the end of the test.
func dialFrom(t *testing.T, src, addr string, n int) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	for i := 0; i < n; i++ {
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("connection %d from %s: %v", i, src, err)
		}
		t.Cleanup(func() { c.Close() })
	}
}

// waitOpen waits until the listener holds at most want connections, and
// returns what it holds.
func waitOpen(l *httpListener, want int) int {
	deadline := time.Now().Add(5 * time.Second)
	for l.limit.open() > want && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	return l.limit.open()
}

// TestConnectionCaps: 3,000 idle connections from one address leave the
// listener holding at most the per-source cap, and another client is still
// answered; connections from many addresses stop at the total cap.
func TestConnectionCaps(t *testing.T) {
	s := newTestServer(t, nil)
	s.MaxConns, s.MaxConnsPerSource = 64, 16
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	if err := s.Listen([]config.ControlSocket{{Type: "http", Address: "127.0.0.1", Port: port, AllowUnauthenticated: true}}); err != nil {
		t.Fatal(err)
	}
	l := listenerOf(t, s, "http://"+addr)

	dialFrom(t, "127.0.0.1", addr, 3000)
	// Let the accept loop get through the backlog.
	deadline := time.Now().Add(10 * time.Second)
	for l.limit.refused.Load() < 3000-16 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if open, refused := waitOpen(l, 16), l.limit.refused.Load(); open > 16 || refused < 3000-16 {
		t.Fatalf("3,000 idle connections from one address: %d held open, %d refused (cap 16)", open, refused)
	}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: (&net.Dialer{
		LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}).DialContext}}
	resp, body := post(t, c, "http://"+addr+"/", "application/json", `{"command":"echo"}`, nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"result":0`) {
		t.Fatalf("another client during the flood: %d %s", resp.StatusCode, body)
	}
	c.CloseIdleConnections()

	for i := 3; i < 3+8; i++ {
		dialFrom(t, "127.0.0."+strconv.Itoa(i), addr, 16)
	}
	time.Sleep(200 * time.Millisecond)
	if open := waitOpen(l, 64); open > 64 {
		t.Fatalf("16 connections from each of 9 addresses: %d held open (total cap 64)", open)
	}
}

// TestTLSAEADOnly: a client offering only TLS 1.2 CBC-SHA1 suites gets no
// handshake; an AEAD suite works.
func TestTLSAEADOnly(t *testing.T) {
	pki := testpki.New(t)
	s := newTestServer(t, nil)
	port := freePort(t)
	if err := s.Listen([]config.ControlSocket{{Type: "https", Address: "127.0.0.1", Port: port,
		TrustAnchor: pki.CAFile, CertFile: pki.ServerCert, KeyFile: pki.ServerKey, CertRequired: true}}); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	caPEM, _ := os.ReadFile(pki.CAFile)
	pool.AppendCertsFromPEM(caPEM)
	cert, err := tls.LoadX509KeyPair(pki.ClientCert, pki.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	handshake := func(suites ...uint16) error {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", "127.0.0.1:"+strconv.Itoa(port), &tls.Config{
			RootCAs: pool, Certificates: []tls.Certificate{cert}, ServerName: "127.0.0.1",
			MaxVersion: tls.VersionTLS12, CipherSuites: suites})
		if err == nil {
			c.Close()
		}
		return err
	}
	cbc := []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
		tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
		tls.TLS_RSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_AES_256_CBC_SHA}
	if err := handshake(cbc...); err == nil {
		t.Error("TLS 1.2 handshake with only CBC-SHA1 suites succeeded")
	}
	if err := handshake(tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256); err != nil {
		t.Errorf("TLS 1.2 with AES-GCM: %v", err)
	}
}

// TestPasswordCheck: passwords of every length, and prefixes of the right
// one, are refused; only the exact pair passes.
func TestPasswordCheck(t *testing.T) {
	a := &authState{creds: NewCredentials("")}
	a.creds.Add("admin", "s3cret")
	a.creds.Add("ops", "other-password")
	for _, c := range []struct {
		user, pass string
		ok         bool
	}{
		{"admin", "s3cret", true}, {"ops", "other-password", true},
		{"admin", "s3cre", false}, {"admin", "s3cret!", false}, {"admin", "", false},
		{"ops", "s3cret", false}, {"", "", false}, {"admin", "other-password", false},
	} {
		if got := a.check(c.user, c.pass); got != c.ok {
			t.Errorf("check(%q, %q) = %v", c.user, c.pass, got)
		}
	}
}

// TestPrivateRoutes: a private route is served only on a loopback socket
// that authenticates; an unauthenticated socket answers 404.
func TestPrivateRoutes(t *testing.T) {
	s := newTestServer(t, nil)
	if err := s.HandlePrivateHTTP("GET /debug/x", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("inside"))
	})); err != nil {
		t.Fatal(err)
	}
	open, authed := freePort(t), freePort(t)
	if err := s.Listen([]config.ControlSocket{
		{Type: "http", Address: "127.0.0.1", Port: open, AllowUnauthenticated: true},
		{Type: "http", Address: "127.0.0.1", Port: authed, Auth: &config.Authentication{Type: "basic",
			Clients: []config.AuthClient{{User: "admin", Password: "pw"}}}},
	}); err != nil {
		t.Fatal(err)
	}
	get := func(port int, auth bool) int {
		req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:"+strconv.Itoa(port)+"/debug/x", nil)
		if auth {
			req.SetBasicAuth("admin", "pw")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(open, false); code != http.StatusNotFound {
		t.Errorf("private route on an unauthenticated socket: %d", code)
	}
	if code := get(authed, false); code != http.StatusUnauthorized {
		t.Errorf("private route without credentials: %d", code)
	}
	if code := get(authed, true); code != http.StatusOK {
		t.Errorf("private route with credentials: %d", code)
	}
}

// TestUnixConnectionCap: idle connections to the UNIX socket beyond the
// cap are closed at once; a command still gets through once they go.
func TestUnixConnectionCap(t *testing.T) {
	s := newTestServer(t, nil)
	s.MaxConns = 8
	path := filepath.Join(t.TempDir(), "ctl.sock")
	if err := s.Listen([]config.ControlSocket{{Type: "unix", SocketName: path}}); err != nil {
		t.Fatal(err)
	}
	s.lmu.Lock()
	l := s.listeners["unix:"+path].(*unixListener)
	s.lmu.Unlock()
	var conns []net.Conn
	for i := 0; i < 100; i++ {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	deadline := time.Now().Add(5 * time.Second)
	for l.limit.refused.Load() < 92 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if open := l.limit.open(); open > 8 || l.limit.refused.Load() < 92 {
		t.Fatalf("100 idle connections, cap 8: %d open, %d refused", open, l.limit.refused.Load())
	}
	for _, c := range conns {
		c.Close()
	}
	deadline = time.Now().Add(5 * time.Second)
	for l.limit.open() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if b := unixCommand(t, path, `{"command":"echo"}`); !strings.Contains(string(b), `"result":0`) {
		t.Errorf("command after the flood: %s", b)
	}
}

// TestPasswordCompareFixedSize: whatever the length of the password tried
// and of the configured ones, every comparison the check makes is between
// two SHA-256 digests, and every configured pair is compared on every
// attempt, so neither the time taken nor an early exit can tell the
// password's length, how much of it matched or which users exist. A
// comparison of the passwords themselves (constant-time or not) shows up
// here as a comparison of other lengths.
func TestPasswordCompareFixedSize(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ops.pw"), []byte("a-much-longer-password-from-a-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := loadAuth(&config.Authentication{Type: "basic", Directory: dir, Clients: []config.AuthClient{
		{User: "admin", Password: "s3cret"},
		{User: "ops", PasswordFile: "ops.pw"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	peers := NewCredentials("")
	peers.Add("peer", "x")
	peers.Add("partner-with-a-long-name", strings.Repeat("p", 200))
	for name, c := range map[string]struct {
		creds *Credentials
		check func(user, pass string) bool
	}{
		"control socket": {a.creds, a.check},
		"peer listener":  {peers, peers.Check},
	} {
		var lens [][2]int
		c.creds.equal = func(x, y []byte) int {
			lens = append(lens, [2]int{len(x), len(y)})
			return subtle.ConstantTimeCompare(x, y)
		}
		for _, try := range []struct{ user, pass string }{
			{"admin", ""}, {"admin", "s"}, {"admin", "s3cret"}, {"admin", "s3cret-and-more"},
			{"ops", "a-much-longer-password-from-a-file"}, {"nobody", strings.Repeat("z", 5000)},
			{"peer", "x"}, {"", ""},
		} {
			lens = lens[:0]
			c.check(try.user, try.pass)
			if want := 2 * c.creds.Len(); len(lens) != want {
				t.Errorf("%s: %q/%d-byte password: %d comparisons, want %d (two per configured pair, always)",
					name, try.user, len(try.pass), len(lens), want)
			}
			for _, l := range lens {
				if l != [2]int{sha256.Size, sha256.Size} {
					t.Errorf("%s: %q/%d-byte password: compared %d bytes with %d, want two %d-byte digests",
						name, try.user, len(try.pass), l[0], l[1], sha256.Size)
				}
			}
		}
	}
}

// TestUnixSocketCreatedPrivate: the socket file has mode 0600 the moment
// bind creates it, even with a umask that lets everybody in and in a
// directory others may enter, so no other user can connect in a window
// before a chmod. The file's mode is read from inside bindPrivate, right
// after bind.
func TestUnixSocketCreatedPrivate(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	path := filepath.Join(dir, "ctrl.sock")
	var created os.FileMode
	var statErr error
	ln, _, err := bindPrivate(path, func() {
		var fi os.FileInfo
		if fi, statErr = os.Lstat(path); statErr == nil {
			created = fi.Mode()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if statErr != nil {
		t.Fatalf("socket file right after bind: %v", statErr)
	}
	if created&os.ModeSocket == 0 || created.Perm() != 0o600 {
		t.Errorf("socket file as bind created it: %v, want a socket with mode 0600", created)
	}
	if fi, err := os.Lstat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket file while listening: %v %v, want mode 0600", fi.Mode(), err)
	}
}

// TestUnixSocketDirectoryPrivate: a missing socket directory is created
// 0700 before the socket is bound in it, and a directory others may
// write to (where the socket could be replaced) is refused.
func TestUnixSocketDirectoryPrivate(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	base := t.TempDir()
	dir := filepath.Join(base, "run", "xdhcp")
	if err := os.Mkdir(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := socketDir(dir); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("created socket directory: %v %v, want mode 0700", fi.Mode(), err)
	}
	open := filepath.Join(base, "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := socketDir(open); err == nil || !strings.Contains(err.Error(), "may write") {
		t.Errorf("world-writable socket directory accepted: %v", err)
	}
}
