package main

// Storage faults on real disks: the lease file on a tmpfs that fills up
// (ENOSPC), and on an ext4 filesystem whose block device starts failing
// every write (EIO) and then heals. Each follows the lease-database on-fail
// policy: no ACK for a lease that is not on disk, service resumes by
// itself when the fault clears (or the daemon exits non-zero when the
// policy says so), and the lease file holds exactly the ACKed leases.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"golang.org/x/sys/unix"

	"xdhcp/internal/caps"
	"xdhcp/internal/daemontest"
	"xdhcp/internal/lab"
)

// needSysAdmin skips t unless the process may mount and set up block
// devices.
func needSysAdmin(t *testing.T) {
	t.Helper()
	lab.SkipWithoutCaps(t, "storage fault tests need CAP_SYS_ADMIN (mount, block devices)", caps.SysAdmin)
}

// tryDORA runs one DORA for m with short timeouts and reports the ACKed
// address, or false when no ACK came.
func tryDORA(e *e2eEnv, m net.HardwareAddr) (string, bool) {
	var c *nclient4.Client
	err := e.cli.Do(func() error {
		var err error
		c, err = nclient4.New(e2eClientIf, nclient4.WithHWAddr(m),
			nclient4.WithTimeout(400*time.Millisecond), nclient4.WithRetry(2))
		return err
	})
	if err != nil {
		e.t.Fatalf("nclient4: %v", err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	l, err := c.Request(ctx)
	if err != nil {
		return "", false
	}
	return l.ACK.YourIPAddr.String(), true
}

// mustACK runs a DORA for m that must be ACKed and records the lease.
func mustACK(t *testing.T, e *e2eEnv, m net.HardwareAddr, acked map[string]string, when string) {
	t.Helper()
	ip, ok := tryDORA(e, m)
	if !ok {
		t.Fatalf("no ACK for %s %s", m, when)
	}
	acked[ip] = m.String()
}

// storageConfig points baseConfig's lease file at path with an on-fail
// policy and fast retries.
func storageConfig(e *e2eEnv, path, onFail string, waitMS, tries int) map[string]any {
	cfg := e.baseConfig()
	db := dhcp4(cfg)["lease-database"].(map[string]any)
	db["name"] = path
	db["on-fail"] = onFail
	db["reconnect-wait-time"] = waitMS
	db["max-reconnect-tries"] = tries
	return cfg
}

// checkLeaseFile asserts that the lease file, loaded as Kea loads it,
// holds exactly the ACKed leases (address -> MAC); readCSV fails the test
// on a torn or bad row anywhere in it.
func checkLeaseFile(t *testing.T, path string, acked map[string]string) {
	t.Helper()
	live := liveCSV(readCSV(t, path))
	for ip, m := range acked {
		r, ok := live[ip]
		if !ok {
			t.Errorf("ACKed lease %s (%s) is not in the lease file", ip, m)
			continue
		}
		if r.HWAddr != m {
			t.Errorf("lease %s in the file belongs to %s, ACKed to %s", ip, r.HWAddr, m)
		}
	}
	if len(live) != len(acked) {
		t.Errorf("lease file holds %d leases, %d were ACKed", len(live), len(acked))
	}
}

func disabledBy(d *e2eDaemon) []string {
	var st struct {
		State struct {
			DisabledBy []string `json:"disabled-by"`
		} `json:"dhcp-state"`
	}
	d.ok("status-get", nil, &st)
	return st.State.DisabledBy
}

// smallTmpfs mounts a 1 MiB tmpfs on dir (made here) until t ends, or
// skips t.
func smallTmpfs(t *testing.T, dir string) string {
	t.Helper()
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("sf-tmpfs", dir, "tmpfs", 0, "size=1m,mode=0755"); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	return dir
}

// fillDisk fills the file system of dir with a file, returned, until
// ENOSPC.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, unix.ENOSPC) {
				t.Fatalf("fill tmpfs: %v", err)
			}
			return filler
		}
	}
}

// TestStorageDiskFull fills the tmpfs holding the lease file under the
// default policy (stop-retry-exit): the REQUEST that hits ENOSPC gets no
// ACK, DHCP service stops (an operator sees why in status-get and the
// statistics), and when space is freed service resumes by itself.
func TestStorageDiskFull(t *testing.T) {
	needSysAdmin(t)
	e := newEnv(t)
	e.mode = "off"
	mnt := smallTmpfs(t, filepath.Join(e.dir, "sfdisk"))
	path := filepath.Join(mnt, "leases4.csv")
	d := e.startDaemon(storageConfig(e, path, "stop-retry-exit", 200, 1000))

	acked := map[string]string{}
	n := 0
	next := func() net.HardwareAddr { n++; return mac(0x5f, n) }
	for range 3 {
		mustACK(t, e, next(), acked, "before the disk filled")
	}

	filler := fillDisk(t, mnt)
	// The lease file's last page may still take a few rows: new clients
	// are ACKed until a commit needs a page the disk does not have.
	refused := false
	for range 150 {
		m := next()
		ip, ok := tryDORA(e, m)
		if !ok {
			refused = true
			break
		}
		acked[ip] = m.String()
	}
	if !refused {
		t.Fatal("every client was ACKed on a full disk")
	}
	if !d.Running() {
		t.Fatal("xdhcpd exited on a full disk")
	}
	if got := d.stat("xdhcp-lease-file-failed"); got != 1 {
		t.Errorf("xdhcp-lease-file-failed %d, want 1", got)
	}
	if got := d.stat("xdhcp-lease-file-refused-commits"); got < 1 {
		t.Errorf("xdhcp-lease-file-refused-commits %d", got)
	}
	if by := disabledBy(d); !strings.Contains(fmt.Sprint(by), "lease-database") {
		t.Errorf("status-get disabled-by %v, want lease-database", by)
	}
	// dhcp-enable from an operator does not mask the fault.
	d.ok("dhcp-enable", nil, nil)
	if _, ok := tryDORA(e, next()); ok {
		t.Error("ACK while the lease file cannot be written")
	}
	if c := d.LogCount("lease file write failed"); c != 1 {
		t.Errorf("%d 'lease file write failed' log lines, want 1 per episode", c)
	}
	if d.LogCount("errno=ENOSPC") == 0 || d.LogCount("path="+path) == 0 {
		t.Errorf("log does not name the errno and the lease file")
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if !poll(10*time.Second, func() bool { return d.stat("xdhcp-lease-file-failed") == 0 }) {
		t.Fatal("service did not resume after space was freed")
	}
	if d.LogCount("lease file recovered") != 1 || d.LogCount("DHCP service resumed") != 1 {
		t.Error("no log line says the service resumed")
	}
	for range 3 {
		mustACK(t, e, next(), acked, "after space was freed")
	}
	if err := d.Stop(); err != nil {
		t.Fatalf("xdhcpd exit: %v", err)
	}
	checkLeaseFile(t, path, acked)
	d.Restart()
	if got := len(d.leases()); got != len(acked) {
		t.Errorf("restarted daemon loaded %d leases, want %d", got, len(acked))
	}
	if d.LogCount("skipping bad lease row") != 0 || d.LogCount("torn") != 0 {
		t.Error("the lease file needed repair on load")
	}
	t.Logf("%d clients ACKed around the disk-full episode", len(acked))
}

// faultyDisk is an ext4 filesystem (without a journal: a journal abort
// would force it read-only until remounted, a different fault) on a block
// device whose writes can be made to fail with EIO and heal again.
type faultyDisk struct {
	dir  string
	kind string
	fail func() error
	heal func() error
}

// newFaultyDisk builds a faulty disk with device-mapper (a linear table
// swapped for an error table) or, where the kernel has no device-mapper,
// with a zram device whose memory limit is set below its use (every write
// then fails with an I/O error). It skips t when neither exists.
func newFaultyDisk(t *testing.T) *faultyDisk {
	t.Helper()
	needSysAdmin(t)
	for _, tool := range []string{"mkfs.ext4"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	dir := filepath.Join(t.TempDir(), "sfmnt")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var fd *faultyDisk
	var dev string
	dmWhy := dmAvailable()
	switch {
	case dmWhy == "":
		fd, dev = dmDisk(t)
	case zramAvailable():
		fd, dev = zramDisk(t)
	default:
		t.Skipf("no way to inject EIO: device-mapper unavailable (%s) and no zram-control", dmWhy)
	}
	fd.dir = dir
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", "-O", "^has_journal", dev).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4 %s: %v\n%s", dev, err, out)
	}
	if err := unix.Mount(dev, dir, "ext4", 0, "errors=continue"); err != nil {
		t.Fatalf("mount %s: %v", dev, err)
	}
	// Registered last, so it runs first: unmount before the device goes.
	t.Cleanup(func() {
		fd.heal()
		if err := unix.Unmount(dir, 0); err != nil {
			unix.Unmount(dir, unix.MNT_DETACH)
		}
	})
	t.Logf("EIO injection through %s (%s)", fd.kind, dev)
	return fd
}

// dmAvailable returns "" when device-mapper can build linear and error
// tables here, else why not.
func dmAvailable() string {
	if _, err := exec.LookPath("dmsetup"); err != nil {
		return "dmsetup is not installed"
	}
	if _, err := exec.LookPath("losetup"); err != nil {
		return "losetup is not installed"
	}
	out, err := exec.Command("dmsetup", "targets").CombinedOutput()
	if err != nil {
		return "kernel has no device-mapper: " + strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	}
	if !strings.Contains(string(out), "error") || !strings.Contains(string(out), "linear") {
		return "device-mapper lacks the linear or error target"
	}
	return ""
}

func zramAvailable() bool {
	_, err := os.Stat("/sys/class/zram-control/hot_add")
	return err == nil
}

// dmDisk: a loop device over a sparse file, under a device-mapper device
// whose table is linear (healthy) or error (every I/O fails).
func dmDisk(t *testing.T) (*faultyDisk, string) {
	img := filepath.Join(t.TempDir(), "sfdisk.img")
	const size = 64 << 20
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, size); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "-f", "--show", img).CombinedOutput()
	if err != nil {
		t.Skipf("losetup: %v: %s", err, out)
	}
	loop := strings.TrimSpace(string(out))
	name := fmt.Sprintf("sf-eio-%d-%d", os.Getpid(), rand.IntN(1<<30))
	linear := fmt.Sprintf("0 %d linear %s 0", size/512, loop)
	errTable := fmt.Sprintf("0 %d error", size/512)
	dmsetup := func(args ...string) error {
		if out, err := exec.Command("dmsetup", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("dmsetup %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	t.Cleanup(func() {
		for i := 0; i < 20; i++ {
			if dmsetup("remove", "--force", name) == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		exec.Command("losetup", "-d", loop).Run()
	})
	if err := dmsetup("create", name, "--table", linear); err != nil {
		t.Fatal(err)
	}
	swap := func(table string) error {
		// --nolockfs: freezing the filesystem would sync through the
		// failing table.
		if err := dmsetup("suspend", "--nolockfs", name); err != nil {
			return err
		}
		if err := dmsetup("load", name, "--table", table); err != nil {
			dmsetup("resume", name)
			return err
		}
		return dmsetup("resume", name)
	}
	return &faultyDisk{kind: "device-mapper error table",
		fail: func() error { return swap(errTable) },
		heal: func() error { return swap(linear) },
	}, "/dev/mapper/" + name
}

// zramDisk: a zram device of our own; a memory limit of one page below
// what it already uses makes every write fail with an I/O error, and
// lifting it (0) heals it.
func zramDisk(t *testing.T) (*faultyDisk, string) {
	b, err := os.ReadFile("/sys/class/zram-control/hot_add")
	if err != nil {
		t.Skipf("zram hot_add: %v", err)
	}
	id := strings.TrimSpace(string(b))
	sys := "/sys/block/zram" + id + "/"
	set := func(file, v string) error { return os.WriteFile(sys+file, []byte(v), 0o644) }
	t.Cleanup(func() {
		set("reset", "1")
		os.WriteFile("/sys/class/zram-control/hot_remove", []byte(id), 0o644)
	})
	if err := set("disksize", "64M"); err != nil {
		t.Fatalf("zram%s disksize: %v", id, err)
	}
	return &faultyDisk{kind: "zram over its memory limit",
		fail: func() error { return set("mem_limit", "4096") },
		heal: func() error { return set("mem_limit", "0") },
	}, "/dev/zram" + id
}

// TestStorageEIO runs the on-fail policies against a device that fails
// every write with EIO.
func TestStorageEIO(t *testing.T) {
	t.Run("stop-retry-exit", func(t *testing.T) {
		disk := newFaultyDisk(t)
		e := newEnv(t)
		e.mode = "off"
		path := filepath.Join(disk.dir, "leases4.csv")
		d := e.startDaemon(storageConfig(e, path, "stop-retry-exit", 250, 20))
		acked := map[string]string{}
		for i := range 2 {
			mustACK(t, e, mac(0x5e, i), acked, "on a healthy disk")
		}
		if err := disk.fail(); err != nil {
			t.Fatal(err)
		}
		if _, ok := tryDORA(e, mac(0x5e, 100)); ok {
			t.Fatal("ACK for a lease written to a failing disk")
		}
		if d.Running() {
			if by := disabledBy(d); !strings.Contains(fmt.Sprint(by), "lease-database") {
				t.Errorf("status-get disabled-by %v while failing", by)
			}
		}
		err := d.Wait(15 * time.Second)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Fatalf("xdhcpd exit: %v, want exit status 1 after the retries", err)
		}
		want := "lease database " + path + " cannot be written (on-fail stop-retry-exit)"
		if d.LogCount(want) == 0 || d.LogCount("input/output error") == 0 {
			t.Errorf("exit message lacks %q or the errno", want)
		}
		if err := disk.heal(); err != nil {
			t.Fatal(err)
		}
		checkLeaseFile(t, path, acked)
	})
	t.Run("serve-retry-continue", func(t *testing.T) {
		disk := newFaultyDisk(t)
		e := newEnv(t)
		e.mode = "off"
		path := filepath.Join(disk.dir, "leases4.csv")
		cfg := storageConfig(e, path, "serve-retry-continue", 200, 3)
		subnet(cfg, 0)["cache-threshold"] = 0.5 // renewals reuse the lease: no write
		d := e.startDaemon(cfg)
		acked := map[string]string{}
		ma := mac(0x5d, 1)
		ca := e.nclient(ma)
		la := dora(t, ca)
		acked[la.ACK.YourIPAddr.String()] = ma.String()

		if err := disk.fail(); err != nil {
			t.Fatal(err)
		}
		if _, ok := tryDORA(e, mac(0x5d, 2)); ok {
			t.Fatal("ACK for a lease written to a failing disk")
		}
		renew := func(when string) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if _, err := ca.Renew(ctx, la, daemontest.FreshXID()); err != nil {
				t.Errorf("cached renewal %s: %v", when, err)
			}
		}
		renew("while the disk fails")
		if !poll(10*time.Second, func() bool { return d.LogCount("serving on and still retrying") > 0 }) {
			t.Error("retries were not exhausted (limit 3)")
		}
		if !d.Running() {
			t.Fatal("serve-retry-continue exited")
		}
		renew("after the retries ran out")
		if _, ok := tryDORA(e, mac(0x5d, 3)); ok {
			t.Fatal("ACK while the disk still fails")
		}
		if got := d.stat("xdhcp-lease-file-failed-retries"); got < 3 {
			t.Errorf("xdhcp-lease-file-failed-retries %d", got)
		}
		if c := d.LogCount("lease file write failed"); c != 1 || d.LogCount("errno=EIO") == 0 {
			t.Errorf("%d 'lease file write failed' lines (want 1, with errno=EIO)", c)
		}

		if err := disk.heal(); err != nil {
			t.Fatal(err)
		}
		if !poll(10*time.Second, func() bool { return d.stat("xdhcp-lease-file-failed") == 0 }) {
			t.Fatal("service did not resume after the disk healed")
		}
		mustACK(t, e, mac(0x5d, 4), acked, "after the disk healed")
		if err := d.Stop(); err != nil {
			t.Fatalf("xdhcpd exit: %v", err)
		}
		checkLeaseFile(t, path, acked)
	})
}
