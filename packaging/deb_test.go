package packaging

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"xdhcp/internal/lab"
)

// TestDebianPackage builds the package from $XDHCP_BIN, lints it, installs
// it with dpkg into a Debian 12 root, runs xdhcpd as the unit does (its
// user, its ambient capabilities, its directories) on the shipped
// configuration, names a lab interface and reloads, sees it served with
// XDP, then purges the package: the binaries, the
// configuration, the state and the pins are gone and the XDP program is
// detached. The root is an overlay (nothing written reaches it) over
// $XDHCP_DEB_ROOT, a fresh debootstrap of Debian 12 (`make test-deb` makes
// one), or over this machine's own root when that is unset.
func TestDebianPackage(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (dpkg in a chroot, mounts, namespaces)")
	}
	bin := os.Getenv("XDHCP_BIN")
	if bin == "" {
		t.Skip("XDHCP_BIN is not set (make test sets it)")
	}
	for _, tool := range []string{"dpkg-deb", "lintian", "chroot", "nsenter"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed (make deps installs it): %v", tool, err)
		}
	}
	tmp := t.TempDir()
	out, err := exec.Command("./build-deb.sh", bin, tmp).CombinedOutput()
	if err != nil {
		t.Fatalf("build-deb.sh: %v\n%s", err, out)
	}
	deb := strings.TrimSpace(string(out))
	lintCmd := exec.Command("lintian", "--tag-display-limit", "0", deb)
	// lintian leaves a cache file (mldbm-elf-*) in its temporary folder.
	lintCmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	lint, _ := lintCmd.CombinedOutput()
	for line := range strings.Lines(string(lint)) {
		if strings.HasPrefix(line, "E: ") {
			t.Errorf("lintian: %s", strings.TrimSpace(line))
		}
	}

	lower := os.Getenv("XDHCP_DEB_ROOT")
	if lower == "" {
		lower = "/"
	}
	root := overlayRoot(t, lower)
	chroot := func(args ...string) (string, error) {
		out, err := exec.Command("chroot", append([]string{root}, args...)...).CombinedOutput()
		return string(out), err
	}
	if err := copyFile(deb, filepath.Join(root, "tmp", filepath.Base(deb))); err != nil {
		t.Fatal(err)
	}
	if out, err := chroot("dpkg", "-i", "/tmp/"+filepath.Base(deb)); err != nil {
		t.Fatalf("dpkg -i: %v\n%s", err, out)
	}
	if out, err := chroot("getent", "passwd", "xdhcp"); err != nil || !strings.Contains(out, "/usr/sbin/nologin") {
		t.Fatalf("user xdhcp after install: %v %q", err, out)
	}
	unit, err := os.ReadFile(filepath.Join(root, "lib/systemd/system/xdhcpd.service"))
	if err != nil {
		t.Fatal(err)
	}
	u := parseUnit(string(unit))
	if u["User"] != "xdhcp" || !strings.HasPrefix(u["ExecStart"], "/usr/sbin/xdhcpd ") {
		t.Fatalf("unit: User %q ExecStart %q", u["User"], u["ExecStart"])
	}
	if out, err := chroot("/usr/sbin/xdhcpd", "-t", "/etc/xdhcp/kea-dhcp4.conf"); err != nil {
		t.Fatalf("the shipped configuration does not pass -t: %v\n%s", err, out)
	}
	for _, dir := range []string{"var/lib/xdhcp", "run/xdhcp"} {
		st, err := os.Stat(filepath.Join(root, dir))
		if err != nil {
			t.Fatalf("%s after install: %v", dir, err)
		}
		if uid := st.Sys().(*syscall.Stat_t).Uid; uid == 0 {
			t.Errorf("/%s is owned by root, want the xdhcp user", dir)
		}
	}

	// A lab link for the operator to name once the daemon runs.
	l, p := lab.PairForTest(t, "xk", "srv0", netip.MustParsePrefix("10.66.0.1/24"), "cli0", netip.MustParsePrefix("10.66.0.2/24"))
	_ = l
	// What ExecStartPre does: a bpffs (a private instance here) with a
	// pin directory for the xdhcp user.
	bpffs := filepath.Join(root, "sys/fs/bpf")
	if err := os.MkdirAll(bpffs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("bpf", bpffs, "bpf", 0, ""); err != nil {
		t.Fatalf("mount bpffs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(bpffs, syscall.MNT_DETACH) })
	if out, err := chroot("install", "-d", "-o", "xdhcp", "-g", "xdhcp", "-m", "0700", "/sys/fs/bpf/xdhcp"); err != nil {
		t.Fatalf("pin directory: %v\n%s", err, out)
	}

	// Run as the unit runs it: its user and group, its ambient
	// capabilities and bounding set, no new privileges.
	caps := capList(u["AmbientCapabilities"])
	args := append([]string{"--net=" + p.Server.Path(), "--", "chroot", root, "setpriv",
		"--reuid=xdhcp", "--regid=xdhcp", "--init-groups", "--no-new-privs",
		"--inh-caps=" + caps, "--ambient-caps=" + caps, "--bounding-set=-all," + caps},
		strings.Fields(u["ExecStart"])...)
	logPath := filepath.Join(tmp, "xdhcpd.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	daemon := exec.Command("nsenter", args...)
	daemon.Stdout, daemon.Stderr = logf, logf
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			daemon.Process.Signal(syscall.SIGTERM)
			done := make(chan error, 1)
			go func() { done <- daemon.Wait() }()
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				daemon.Process.Kill()
				<-done
			}
		}
	}
	defer stop()
	showLog := func() string { b, _ := os.ReadFile(logPath); return string(b) }

	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var c net.Conn
			err := p.Server.Do(func() error {
				var err error
				var d net.Dialer
				c, err = d.DialContext(ctx, network, addr)
				return err
			})
			return c, err
		}}}
	ready := false
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && !ready; time.Sleep(200 * time.Millisecond) {
		if resp, err := hc.Get("http://127.0.0.1:9547/ready"); err == nil {
			resp.Body.Close()
			ready = resp.StatusCode == 200
		}
	}
	if !ready {
		t.Fatalf("xdhcpd from the package, on its shipped configuration, never became ready; its log:\n%s", showLog())
	}
	// The operator names an interface and reloads (systemctl reload:
	// SIGHUP); the running daemon then serves it with XDP.
	conf := filepath.Join(root, "etc/xdhcp/kea-dhcp4.conf")
	b, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	b = []byte(strings.Replace(string(b), `"interfaces": [ ]`, `"interfaces": [ "srv0" ]`, 1))
	b = []byte(strings.Replace(string(b), `"subnet4": [`, `"subnet4": [ { "id": 1, "subnet": "10.66.0.0/24", "pools": [ { "pool": "10.66.0.100 - 10.66.0.200" } ] }`, 1))
	if err := os.WriteFile(conf, b, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := daemon.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	attached := false
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline) && !attached; time.Sleep(200 * time.Millisecond) {
		attached = xdpMode(t, p.Server, "srv0") != 0
	}
	if !attached {
		t.Fatalf("after naming srv0 and SIGHUP, no XDP program on it; log:\n%s", showLog())
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", daemon.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := chroot("id", "-u", "xdhcp")
	if !strings.Contains(string(status), "\nUid:\t"+strings.TrimSpace(uid)+"\t") {
		t.Errorf("xdhcpd does not run as xdhcp (uid %s):\n%s", strings.TrimSpace(uid), status)
	}
	if out, err := chroot("/usr/bin/xdhcpctl", "-socket", "/run/xdhcp/xdhcp4-ctrl-socket", "status-get"); err != nil {
		t.Errorf("xdhcpctl status-get over the package's control socket: %v\n%s", err, out)
	}
	if mode := xdpMode(t, p.Server, "srv0"); mode == 0 {
		t.Fatalf("no XDP program on srv0 while xdhcpd serves it; log:\n%s", showLog())
	}
	t.Logf("FIGURE package: xdhcpd ran as uid %s, XDP attach mode %d, capabilities %s", strings.TrimSpace(uid), xdpMode(t, p.Server, "srv0"), caps)
	stop()
	// xdhcpd leaves the program attached at stop (a restart takes over
	// without a gap); removing the package detaches it.
	if mode := xdpMode(t, p.Server, "srv0"); mode == 0 {
		t.Logf("the program was detached at stop already")
	}

	if out, err := chroot("dpkg", "--purge", "xdhcp"); err != nil {
		t.Fatalf("dpkg --purge: %v\n%s", err, out)
	}
	for _, gone := range []string{"usr/sbin/xdhcpd", "usr/bin/xdhcpctl", "etc/xdhcp", "var/lib/xdhcp", "run/xdhcp",
		"lib/systemd/system/xdhcpd.service", "sys/fs/bpf/xdhcp"} {
		if _, err := os.Lstat(filepath.Join(root, gone)); err == nil {
			t.Errorf("/%s is still there after purge", gone)
		}
	}
	if mode := xdpMode(t, p.Server, "srv0"); mode != 0 {
		t.Errorf("XDP program still attached to srv0 after purge (mode %d)", mode)
	}
}

// overlayRoot mounts a writable overlay over lower (tmpfs upper layer),
// with /proc, /sys, /dev and an empty /run, and unmounts it at the end of
// the test.
func overlayRoot(t *testing.T, lower string) string {
	t.Helper()
	base := t.TempDir()
	layers, root := filepath.Join(base, "layers"), filepath.Join(base, "root")
	for _, d := range []string{layers, root} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mount("tmpfs", layers, "tmpfs", 0, "mode=0755"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(layers, syscall.MNT_DETACH) })
	for _, d := range []string{"upper", "work"} {
		if err := os.Mkdir(filepath.Join(layers, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s/upper,workdir=%s/work", lower, layers, layers)
	if err := syscall.Mount("overlay", root, "overlay", 0, opts); err != nil {
		t.Fatalf("mount overlay over %s: %v", lower, err)
	}
	t.Cleanup(func() { syscall.Unmount(root, syscall.MNT_DETACH) })
	for _, m := range []struct{ src, dst, fs string }{{"proc", "proc", "proc"}, {"sysfs", "sys", "sysfs"}, {"/dev", "dev", ""}, {"tmpfs", "run", "tmpfs"}} {
		dst := filepath.Join(root, m.dst)
		if err := os.MkdirAll(dst, 0o755); err != nil {
			t.Fatal(err)
		}
		flags := uintptr(0)
		if m.fs == "" {
			flags = syscall.MS_BIND | syscall.MS_REC
		}
		if err := syscall.Mount(m.src, dst, m.fs, flags, ""); err != nil {
			t.Fatalf("mount %s on %s: %v", m.src, dst, err)
		}
		t.Cleanup(func() { syscall.Unmount(dst, syscall.MNT_DETACH) })
	}
	return root
}

// parseUnit reads the [Service] keys of a unit file (last value wins,
// values of repeated keys joined for the capability lists).
func parseUnit(text string) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out
}

// capList turns "CAP_NET_ADMIN CAP_BPF" into setpriv's "+net_admin,+bpf".
func capList(s string) string {
	var out []string
	for _, c := range strings.Fields(s) {
		out = append(out, "+"+strings.ToLower(strings.TrimPrefix(c, "CAP_")))
	}
	return strings.Join(out, ",")
}

// xdpMode is the kernel's XDP attach mode of ifname in ns (0: none).
func xdpMode(t *testing.T, ns *lab.NS, ifname string) uint32 {
	t.Helper()
	lk, err := ns.Link(ifname)
	if err != nil {
		t.Fatal(err)
	}
	if x := lk.Attrs().Xdp; x != nil && x.Attached {
		return x.AttachMode
	}
	return 0
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}
