package memfile

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
	r, err := newSyncRing()
	if err != nil {
		t.Skipf("no io_uring here: %v", err)
	}
	defer r.close()
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i := range 3 * ringEntries {
		if _, err := f.WriteString("row\n"); err != nil {
			t.Fatal(err)
		}
		if err := r.fdatasync(int(f.Fd())); err != nil {
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
	err = r.fdatasync(p[1])
	if !errors.Is(err, unix.EINVAL) || errors.Is(err, errRingBroken) {
		t.Fatalf("sync of a pipe: %v, want EINVAL", err)
	}
	if err := r.fdatasync(int(f.Fd())); err != nil {
		t.Fatalf("sync after a failed one: %v", err)
	}
}

// TestJournalSyncsThroughRing: the live lease file of a store opened with
// Sync gets a ring where the kernel has io_uring, and its writes and syncs
// reach the file.
func TestJournalSyncsThroughRing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leases.csv")
	j, err := openJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	oj := j.(*osJournal)
	if r, rerr := newSyncRing(); rerr == nil {
		r.close()
		if oj.ring == nil {
			t.Fatal("io_uring works here but the journal has no sync ring")
		}
	}
	if _, err := j.Write([]byte("a,b\n")); err != nil {
		t.Fatal(err)
	}
	if err := j.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != "a,b\n" {
		t.Fatalf("file holds %q (%v)", b, err)
	}
}
