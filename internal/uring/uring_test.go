package uring

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestUringParamsLayout(t *testing.T) {
	// struct io_uring_params is 120 bytes; the offsets blocks start at 40
	// and 80.
	var p uringParams
	if got := unsafe.Sizeof(p); got != 120 {
		t.Fatalf("io_uring_params: %d bytes, want 120", got)
	}
	if a, b := unsafe.Offsetof(p.sqOff), unsafe.Offsetof(p.cqOff); a != 40 || b != 80 {
		t.Fatalf("offsets blocks at %d and %d, want 40 and 80", a, b)
	}
}

// TestSyncRing syncs a file through the ring many times (more than the
// ring's entries, so that the queues wrap), and gets the sync's own error
// back for a descriptor that cannot be synced.
func TestSyncRing(t *testing.T) {
	r, err := NewSyncRing()
	if err != nil {
		t.Skipf("no io_uring here: %v", err)
	}
	defer r.Close()
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i := range 3 * ringEntries {
		if _, err := f.WriteString("row\n"); err != nil {
			t.Fatal(err)
		}
		if err := r.Fdatasync(int(f.Fd())); err != nil {
			t.Fatalf("sync %d: %v", i, err)
		}
	}
	// A pipe cannot be synced: the kernel's EINVAL comes back as the
	// sync's error, not as a broken ring.
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	err = r.Fdatasync(p[1])
	if !errors.Is(err, unix.EINVAL) || errors.Is(err, ErrRingBroken) {
		t.Fatalf("sync of a pipe: %v, want EINVAL", err)
	}
	if err := r.Fdatasync(int(f.Fd())); err != nil {
		t.Fatalf("sync after a failed one: %v", err)
	}
}
