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
	r, f := ringAndFile(t)
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
	err := r.Fdatasync(pipe(t))
	if !errors.Is(err, unix.EINVAL) || errors.Is(err, ErrRingBroken) {
		t.Fatalf("sync of a pipe: %v, want EINVAL", err)
	}
	if err := r.Fdatasync(int(f.Fd())); err != nil {
		t.Fatalf("sync after a failed one: %v", err)
	}
}

// TestStartFdatasync: a sync started on one ring is reaped after a request
// on another ring was made and waited for meanwhile, and the ring goes on
// working after a sync that failed.
func TestStartFdatasync(t *testing.T) {
	r, f := ringAndFile(t)
	other, g := ringAndFile(t)
	for i := range 3 * ringEntries {
		if _, err := f.WriteString("row\n"); err != nil {
			t.Fatal(err)
		}
		if err := r.StartFdatasync(int(f.Fd())); err != nil {
			t.Fatalf("start sync %d: %v", i, err)
		}
		if err := other.Fdatasync(int(g.Fd())); err != nil {
			t.Fatalf("sync %d on the other ring: %v", i, err)
		}
		if err := r.Wait(); err != nil {
			t.Fatalf("sync %d: %v", i, err)
		}
	}
	if err := r.StartFdatasync(pipe(t)); err != nil {
		t.Fatalf("start sync of a pipe: %v", err)
	}
	if err := r.Wait(); !errors.Is(err, unix.EINVAL) || errors.Is(err, ErrRingBroken) {
		t.Fatalf("sync of a pipe: %v, want EINVAL", err)
	}
	if err := r.Fdatasync(int(f.Fd())); err != nil {
		t.Fatalf("sync after a failed one: %v", err)
	}
}

// TestPwrite writes aligned blocks through the ring into a file opened
// O_DIRECT|O_DSYNC, as the forensic log's write-ahead file does, and
// reads them back.
func TestPwrite(t *testing.T) {
	r, err := NewSyncRing()
	if err != nil {
		t.Skipf("no io_uring here: %v", err)
	}
	defer r.Close()
	name := filepath.Join(t.TempDir(), "w")
	if err := os.WriteFile(name, make([]byte, 64<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(name, unix.O_RDWR|unix.O_DIRECT|unix.O_DSYNC|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no O_DIRECT here: %v", err)
	}
	defer unix.Close(fd)
	raw := make([]byte, 3*4096)
	b := raw[4096-int(uintptr(unsafe.Pointer(&raw[0]))%4096):][:8192]
	for i := range 3 * ringEntries {
		for k := range b {
			b[k] = byte(i + k)
		}
		if err := r.Pwrite(fd, b, int64(i%4)*8192); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	got, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	last := 3*ringEntries - 1
	for k := range 8192 {
		if want := byte(last + k); got[int64(last%4)*8192+int64(k)] != want {
			t.Fatalf("byte %d of the last write: %d, want %d", k, got[int64(last%4)*8192+int64(k)], want)
		}
	}
	// A misaligned O_DIRECT write fails with the kernel's error.
	if err := r.Pwrite(fd, b[:100], 0); err == nil || errors.Is(err, ErrRingBroken) {
		t.Fatalf("misaligned write: %v, want the kernel's error", err)
	}
}

// TestStartWriteback hands a file's dirty pages to the disk through the
// ring, and gets the kernel's own error back for a descriptor that has no
// pages to write.
func TestStartWriteback(t *testing.T) {
	r, f := ringAndFile(t)
	if _, err := f.Write(make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	if err := r.StartWriteback(int(f.Fd()), 0, 1<<20); err != nil {
		t.Fatalf("start write-back: %v", err)
	}
	err := r.StartWriteback(pipe(t), 0, 4096)
	if !errors.Is(err, unix.ESPIPE) || errors.Is(err, ErrRingBroken) {
		t.Fatalf("write-back of a pipe: %v, want ESPIPE", err)
	}
	if err := r.StartWriteback(int(f.Fd()), 0, 1<<20); err != nil {
		t.Fatalf("write-back after a failed one: %v", err)
	}
}

// ringAndFile gives a ring and a new file in the test's temporary folder,
// both closed when t ends; it skips t where there is no io_uring.
func ringAndFile(t *testing.T) (*SyncRing, *os.File) {
	t.Helper()
	r, err := NewSyncRing()
	if err != nil {
		t.Skipf("no io_uring here: %v", err)
	}
	t.Cleanup(r.Close)
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return r, f
}

// pipe gives the write end of a pipe, closed with its read end when t
// ends: a descriptor the kernel cannot sync or write back.
func pipe(t *testing.T) int {
	t.Helper()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		unix.Close(p[0])
		unix.Close(p[1])
	})
	return p[1]
}
