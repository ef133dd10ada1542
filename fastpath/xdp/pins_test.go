package xdp

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"xdhcp/internal/lab"
)

// TestRemoveStalePins: pins of this namespace survive; pins of a gone
// namespace, of an earlier namespace that had this one's inode, and in the
// old inode-only naming are removed.
func TestRemoveStalePins(t *testing.T) {
	self, err := currentNetns()
	if err != nil {
		t.Skipf("cannot read the namespace cookie here: %v", err)
	}
	base := t.TempDir()
	keep := []string{self.dirName(), "other-directory"}
	gone := []string{
		fmt.Sprintf("netns-%d-%d", self.ino, self.cookie+1), // inode reused
		fmt.Sprintf("netns-%d", self.ino),                   // no cookie: cannot be trusted
		"netns-1-1",                                         // no namespace has inode 1
	}
	for _, d := range append(append([]string{}, keep...), gone...) {
		if err := os.MkdirAll(filepath.Join(base, d, "inner"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	removeStalePins(base, self, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, d := range keep {
		if _, err := os.Stat(filepath.Join(base, d)); err != nil {
			t.Errorf("%s removed: %v", d, err)
		}
	}
	for _, d := range gone {
		if _, err := os.Stat(filepath.Join(base, d)); err == nil {
			t.Errorf("stale %s kept", d)
		}
	}
}

// TestPinPath: one directory per namespace, named by inode and cookie,
// under the configured base or the default one.
func TestPinPath(t *testing.T) {
	ns := netnsID{ino: 4026531840, cookie: 7}
	for base, want := range map[string]string{
		"":                "/sys/fs/bpf/xdhcp/netns-4026531840-7",
		"/sys/fs/bpf/x":   "/sys/fs/bpf/x/netns-4026531840-7",
		"/mnt/bpf/xdhcp/": "/mnt/bpf/xdhcp/netns-4026531840-7",
	} {
		if got := pinPath(base, ns); got != want {
			t.Errorf("pinPath(%q) = %s, want %s", base, got, want)
		}
	}
	if a, b := pinPath("", ns), pinPath("", netnsID{ino: ns.ino, cookie: ns.cookie + 1}); a == b {
		t.Errorf("a namespace that reuses an inode gets the same directory %s", a)
	}
}

// TestLockPins: a second lock of a pin directory fails at once, naming the
// directory and the other daemon; once the first is released the
// directory can be taken again.
func TestLockPins(t *testing.T) {
	dir := t.TempDir()
	first, err := lockPins(dir)
	if err != nil {
		t.Fatal(err)
	}
	second, err := lockPins(dir)
	if err == nil {
		second.Close()
		t.Fatal("second lock of the same pin directory succeeded")
	}
	if !errors.Is(err, ErrPinsInUse) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "another") {
		t.Errorf("second lock: %v, want ErrPinsInUse naming %s", err, dir)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := lockPins(dir)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	if !again.current() {
		t.Error("the locked directory is not the one at its path")
	}
	again.Close()
	if _, err := lockPins(filepath.Join(dir, "missing")); err == nil || errors.Is(err, ErrPinsInUse) {
		t.Errorf("lock of a missing directory: %v, want an open error", err)
	}
}

// TestRemoveStalePinsSkipsLocked: a directory that looks stale but is
// locked belongs to a daemon this process cannot see, and stays.
func TestRemoveStalePinsSkipsLocked(t *testing.T) {
	self, err := currentNetns()
	if err != nil {
		t.Skipf("cannot read the namespace cookie here: %v", err)
	}
	base := t.TempDir()
	held := filepath.Join(base, "netns-1-1")
	if err := os.MkdirAll(held, 0o700); err != nil {
		t.Fatal(err)
	}
	lock, err := lockPins(held)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	removeStalePins(base, self, slog.New(slog.DiscardHandler))
	if _, err := os.Stat(held); err != nil {
		t.Errorf("locked pins removed: %v", err)
	}
}

// TestOpenPinsTwice: on a bpffs, the second open of this namespace's pin
// directory fails with ErrPinsInUse naming it, and takes it once the
// first is closed.
func TestOpenPinsTwice(t *testing.T) {
	base, err := lab.MountBPFFS(t)
	if err != nil {
		t.Skipf("no private bpffs here: %v", err)
	}
	log := slog.New(slog.DiscardHandler)
	first, err := openPins(base, log)
	if err != nil || first == nil {
		t.Fatalf("first open: %v, %v", first, err)
	}
	if !strings.HasPrefix(first.path, base+"/netns-") {
		t.Errorf("pin directory %s, want netns-* under %s", first.path, base)
	}
	if second, err := openPins(base, log); !errors.Is(err, ErrPinsInUse) || !strings.Contains(fmt.Sprint(err), first.path) {
		second.Close()
		t.Errorf("second open: %v, want ErrPinsInUse naming %s", err, first.path)
	}
	first.Close()
	again, err := openPins(base, log)
	if err != nil || again == nil {
		t.Fatalf("open after close: %v, %v", again, err)
	}
	again.Close()
}
