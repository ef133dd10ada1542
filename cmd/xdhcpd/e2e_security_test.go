package main

// The daemon as an attacker on the host would probe it: an unauthenticated
// control socket, config-write aimed outside its directory or through a
// planted link, a lease too large to keep, a flood of idle connections,
// and the capabilities the running process holds.

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"xdhcp/control"
	"xdhcp/internal/caps"
	"xdhcp/internal/daemontest"
)

// TestE2EControlRefusedWithoutAuth: a configuration with an HTTP control
// socket and neither authentication nor the explicit insecure key does not
// start, and says why.
func TestE2EControlRefusedWithoutAuth(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.baseConfig()
	delete(dhcp4(cfg)["xdhcp"].(map[string]any), daemontest.InsecureControlKey)
	d := e.newDaemon(cfg)
	d.Launch()
	if err := d.Wait(15 * time.Second); err == nil {
		t.Fatal("xdhcpd exited 0 on an unauthenticated http control socket")
	}
	if log := d.LogSince(); !strings.Contains(log, "http control socket without authentication") {
		t.Fatalf("exit without the reason; log:\n%s", log)
	}
}

// TestE2EConfigWrite: config-write writes inside the configuration file's
// directory only, never through a planted symbolic link.
func TestE2EConfigWrite(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	d := e.startDaemon(e.baseConfig())
	outside := t.TempDir()
	victim := filepath.Join(outside, "victim")
	if err := os.WriteFile(victim, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	planted := filepath.Join(e.dir, "planted.json")
	if err := os.Symlink(victim, planted); err != nil {
		t.Fatal(err)
	}
	// A link where a predictable temporary file would go.
	victim2 := filepath.Join(outside, "victim2")
	if err := os.WriteFile(victim2, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim2, d.ConfigPath()+".tmp"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{filepath.Join(outside, "evil.json"), "../evil.json", planted, "sub/x.json"} {
		a := d.command("config-write", map[string]any{"filename": name})
		if a.Result != 1 {
			t.Errorf("config-write %s: result %d %q, want refused", name, a.Result, a.Text)
		}
	}
	if _, err := os.Stat(filepath.Join(outside, "evil.json")); err == nil {
		t.Error("config-write created a file outside the configuration directory")
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious" {
		t.Errorf("the planted link's target was overwritten: %q", b)
	}
	d.ok("config-write", nil, nil) // the configuration file itself
	if b, _ := os.ReadFile(victim2); string(b) != "precious" {
		t.Errorf("config-write wrote through a link planted at %s.tmp: %q", d.ConfigPath(), b)
	}
	if fi, err := os.Lstat(d.ConfigPath()); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("the configuration file after config-write: %v %v", fi, err)
	}
	d.ok("config-write", map[string]any{"filename": "copy.json"}, nil)
	fi, err := os.Stat(filepath.Join(e.dir, "copy.json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("copy.json: %v, mode %v; want 0600", err, fi)
	}
}

// TestE2ELeaseSizes: a 1.2 MB user-context is refused at the API (it was
// acknowledged and then skipped on restart); the largest accepted one
// survives a restart.
func TestE2ELeaseSizes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.baseConfig()
	dhcp4(cfg)["xdhcp"].(map[string]any)["xdp"] = map[string]any{"mode": "off"}
	d := e.startDaemon(cfg)
	huge := map[string]any{"blob": strings.Repeat("x", 1_200_000)}
	a := d.command("lease4-add", map[string]any{"ip-address": "10.88.1.7", "hw-address": "02:00:00:00:01:07", "user-context": huge})
	if a.Result != 1 || !strings.Contains(a.Text, "user-context is") {
		t.Fatalf("lease4-add with a 1.2 MB user-context: result %d %q, want refused", a.Result, a.Text)
	}
	big := map[string]any{"blob": strings.Repeat("y", control.DefaultMaxBodySize/1024)}
	d.ok("lease4-add", map[string]any{"ip-address": "10.88.1.8", "hw-address": "02:00:00:00:01:08", "user-context": big}, nil)
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	d.Restart()
	if _, ok := d.lease("10.88.1.7"); ok {
		t.Error("the refused lease exists")
	}
	l, ok := d.lease("10.88.1.8")
	if !ok || !strings.Contains(string(l.UserContext), strings.Repeat("y", 1000)) {
		t.Errorf("the accepted lease after a restart: %v %.80s", ok, l.UserContext)
	}
}

// openFDs counts the descriptors of process pid.
func openFDs(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// TestE2EControlConnectionFlood: 3,000 idle connections to the control
// listener (they all used to be accepted: fds 14 → 3,014) leave the daemon
// holding at most the per-source cap, and it still answers.
func TestE2EControlConnectionFlood(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.baseConfig()
	dhcp4(cfg)["xdhcp"].(map[string]any)["xdp"] = map[string]any{"mode": "off"}
	d := e.startDaemon(cfg)
	before := openFDs(t, d.PID())
	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	err := e.srv.Do(func() error {
		for i := 0; i < 3000; i++ {
			c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", e2eCtlPort), 5*time.Second)
			if err != nil {
				return fmt.Errorf("connection %d: %w", i, err)
			}
			conns = append(conns, c)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	limit := before + control.DefaultMaxConnsPerSource + 4
	var after int
	deadline := time.Now().Add(10 * time.Second)
	for {
		after = openFDs(t, d.PID())
		if after <= limit || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("3,000 idle connections: daemon fds %d → %d", before, after)
	if after > limit {
		t.Fatalf("daemon fds %d → %d with 3,000 idle connections, want at most %d", before, after, limit)
	}
	// Another source address still gets a place during the flood, and the
	// flooding one again once its connections are closed.
	err = e.srv.Do(func() error {
		dl := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 5 * time.Second}
		c, err := dl.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", e2eCtlPort))
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		body := `{"command": "version-get"}`
		fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
		b, _ := io.ReadAll(c)
		if !strings.Contains(string(b), `"result":0`) {
			return fmt.Errorf("answer %q", b)
		}
		return nil
	})
	if err != nil {
		t.Errorf("a client from 127.0.0.2 during the flood: %v", err)
	}
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	d.WaitUntil(5*time.Second, "answering again", func() error {
		_, err := d.Try("version-get", nil)
		return err
	})
}

// TestE2ECapabilities: once serving, the daemon holds only what it still
// needs: CAP_NET_ADMIN and CAP_NET_RAW in socket mode, plus CAP_BPF,
// CAP_PERFMON and CAP_IPC_LOCK with the XDP fast path; nothing else, in no set, on any
// thread, and no way to regain more.
func TestE2ECapabilities(t *testing.T) {
	forModes(t, func(t *testing.T, e *e2eEnv) {
		d := e.startDaemon(e.baseConfig())
		want := caps.Of(caps.NetAdmin, caps.NetRaw)
		if e.mode != "off" { // XDP attaches on the veth
			want |= caps.Of(caps.BPF, caps.PerfMon, caps.IPCLock)
		}
		// The drop follows "serving" closely; give it a moment.
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(d.LogSince(), "capabilities dropped") && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", d.PID()))
		if err != nil || len(tasks) == 0 {
			t.Fatalf("threads of %d: %v", d.PID(), err)
		}
		reported := map[string]bool{} // one message per field, not per thread
		for _, st := range tasks {
			b, err := os.ReadFile(st)
			if err != nil {
				continue // the thread exited
			}
			for _, line := range strings.Split(string(b), "\n") {
				k, v, ok := strings.Cut(line, ":")
				if !ok {
					continue
				}
				v = strings.TrimSpace(v)
				if reported[k] {
					continue
				}
				switch k {
				case "CapEff", "CapPrm", "CapBnd":
					if v != fmt.Sprintf("%016x", uint64(want)) {
						reported[k] = true
						t.Errorf("%s %s: %s, want %016x (%s)", st, k, v, uint64(want), want)
					}
					if k == "CapEff" && st == tasks[0] {
						t.Logf("xdp=%s: CapEff %s (want %s)", e.mode, v, want)
					}
				case "CapInh", "CapAmb":
					if v != "0000000000000000" {
						reported[k] = true
						t.Errorf("%s %s: %s, want none", st, k, v)
					}
				case "NoNewPrivs":
					if v != "1" {
						reported[k] = true
						t.Errorf("%s NoNewPrivs %s", st, v)
					}
				}
			}
		}
	})
}

// TestE2EUnprivileged: xdhcpd runs as an unprivileged user given only the
// capabilities the packaged unit grants (ambient, as systemd gives them),
// serves DHCP in both packet paths, and then holds only what it still
// needs.
func TestE2EUnprivileged(t *testing.T) {
	setpriv := needBinary(t, "setpriv")
	forModes(t, func(t *testing.T, e *e2eEnv) {
		const uid = 65534 // nobody
		// The test's own directory is root's (0700): the user gets one of
		// its own.
		dir, err := os.MkdirTemp("", "xe-unpriv-")
		if err != nil || os.Chown(dir, uid, uid) != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		cfg := e.baseConfig()
		dhcp4(cfg)["lease-database"].(map[string]any)["name"] = filepath.Join(dir, "leases4.csv")
		xdp := map[string]any{"mode": e.mode}
		if e.mode != "off" {
			// A pin directory the user owns, as the unit's ExecStartPre
			// prepares /sys/fs/bpf/xdhcp.
			pins, err := os.MkdirTemp("/sys/fs/bpf", "xe-unpriv-")
			if err != nil {
				t.Skipf("bpffs: %v", err)
			}
			t.Cleanup(func() { os.RemoveAll(pins) })
			if err := os.Chown(pins, uid, uid); err != nil {
				t.Fatal(err)
			}
			xdp["bpffs"] = pins
		}
		dhcp4(cfg)["xdhcp"].(map[string]any)["xdp"] = xdp
		path := daemontest.WriteConfig(t, filepath.Join(dir, "xdhcpd.json"), cfg)
		if err := os.Chown(path, uid, uid); err != nil {
			t.Fatal(err)
		}
		granted := "-all,+net_raw,+net_admin,+bpf,+perfmon,+ipc_lock"
		d := &e2eDaemon{e: e, Daemon: daemontest.New(t, daemontest.Options{
			NS: e.srv, Binary: xdhcpd.Path(t), Config: path, Log: filepath.Join(e.dir, "xdhcpd.log"),
			Prefix: []string{setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
				"--inh-caps=" + granted, "--ambient-caps=" + granted, "--bounding-set=" + granted},
		})}
		d.Start()
		dora(t, e.nclient(mac(0x5e, 1)))
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", d.PID()))
		if err != nil {
			t.Fatal(err)
		}
		want := caps.Of(caps.NetAdmin, caps.NetRaw)
		if e.mode != "off" {
			want |= caps.Of(caps.BPF, caps.PerfMon, caps.IPCLock)
			if !strings.Contains(d.LogSince(), "mode=xdp") {
				t.Errorf("XDP did not attach as the unprivileged user; log:\n%s", d.LogSince())
			}
		}
		for _, field := range []string{"Uid:\t65534\t65534\t65534\t65534", fmt.Sprintf("CapEff:\t%016x", uint64(want))} {
			if !strings.Contains(string(status), field) {
				t.Errorf("status lacks %q:\n%s", field, status)
			}
		}
	})
}

// TestE2EPprofPrivate: with -pprof the runtime profiles are served on the
// loopback control socket that authenticates, to an authenticated client
// only, and not at all on the unauthenticated one.
func TestE2EPprofPrivate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.baseConfig()
	dhcp4(cfg)["xdhcp"].(map[string]any)["xdp"] = map[string]any{"mode": "off"}
	dhcp4(cfg)["control-sockets"] = append(dhcp4(cfg)["control-sockets"].([]any), map[string]any{
		"socket-type": "http", "socket-address": "127.0.0.1", "socket-port": e2eCtlPort + 1,
		"authentication": map[string]any{"type": "basic", "clients": []any{map[string]any{"user": "ops", "password": "s3cret"}}},
	})
	d := &e2eDaemon{e: e, Daemon: daemontest.New(t, daemontest.Options{
		NS: e.srv, Binary: xdhcpd.Path(t), Config: e.writeConfig("xdhcpd.json", cfg),
		Log: filepath.Join(e.dir, "xdhcpd.log"), Flags: []string{"-pprof"},
	})}
	d.Start()
	// The routes are added right after the capability drop that follows
	// "serving".
	d.WaitUntil(5*time.Second, "serving the profiles", func() error {
		if !strings.Contains(d.LogSince(), "runtime profiles served") {
			return fmt.Errorf("not logged yet")
		}
		return nil
	})
	get := func(port int, auth bool) (int, string) {
		var resp *http.Response
		var body []byte
		err := e.srv.Do(func() error { // dialled from inside the namespace
			c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
			if err != nil {
				return err
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1/debug/pprof/cmdline", nil)
			req.Close = true
			if auth {
				req.SetBasicAuth("ops", "s3cret")
			}
			if err := req.Write(c); err != nil {
				return err
			}
			if resp, err = http.ReadResponse(bufio.NewReader(c), req); err != nil {
				return err
			}
			body, err = io.ReadAll(resp.Body)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(body)
	}
	if code, _ := get(e2eCtlPort, false); code != http.StatusNotFound {
		t.Errorf("profiles on the unauthenticated socket: %d, want 404", code)
	}
	if code, _ := get(e2eCtlPort+1, false); code != http.StatusUnauthorized {
		t.Errorf("profiles without credentials: %d, want 401", code)
	}
	if code, body := get(e2eCtlPort+1, true); code != http.StatusOK || !strings.Contains(body, "xdhcpd") {
		t.Errorf("profiles with credentials: %d %.60q", code, body)
	}
}
