package legallog

import (
	"bytes"
	"errors"
	"os"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestSyncedPagesLeaveTheCache: once a sync has made them durable, the
// log's pages more than cacheBehind behind its end leave the page cache,
// and the newest cacheBehind stay, whether the sync is a checkpoint of
// the write-ahead file or an fdatasync of the log.
func TestSyncedPagesLeaveTheCache(t *testing.T) {
	for _, withWAL := range []bool{true, false} {
		name := "checkpoint"
		if !withWAL {
			name = "fdatasync"
		}
		t.Run(name, func(t *testing.T) {
			dir := diskDir(t)
			l, err := Open(params(t, `{"path": "`+dir+`"}`), nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if withWAL && l.wal == nil {
				l.Close()
				t.Skip("no write-ahead file on this file system")
			}
			if !withWAL {
				l.mu.Lock()
				l.disableWALLocked(errors.New("turned off by the test"))
				l.mu.Unlock()
			}
			line := []byte("2026-12-07 11:00:00 Address: 10.0.0.1 has been renewed for 1 hrs 0 mins 0 secs\n")
			chunk := bytes.Repeat(line, (1<<20)/len(line))
			const total = cacheBehind + 16<<20
			for written := 0; written < total; written += len(chunk) {
				if err := l.WriteRecords(chunk); err != nil {
					t.Fatal(err)
				}
			}
			// Closed, so that a drop the log's ticker decided on is done
			// too: Close waits for the ticker, then syncs.
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			head, tail := residentPages(t, l.FileName())
			if head > 0.01 {
				t.Errorf("%.0f%% of the pages more than %d MiB behind the end are cached after the sync, want none", 100*head, (cacheBehind+dropStep)>>20)
			}
			if tail < 0.9 {
				t.Errorf("%.0f%% of the last %d MiB's pages are cached, want them all", 100*tail, cacheBehind>>20)
			}
		})
	}
}

// diskDir is a temporary folder on a file system with a page cache of
// its own: the test is skipped on tmpfs, whose pages are the file and are
// never written back nor dropped.
func diskDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil {
		t.Fatal(err)
	}
	if fs.Type == unix.TMPFS_MAGIC {
		t.Skip("tmpfs: its pages are the file")
	}
	return dir
}

// residentPages reports the shares of file's pages in the page cache: of
// those more than cacheBehind and dropStep behind its end, and of the
// last cacheBehind.
func residentPages(t *testing.T, file string) (head, tail float64) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	m, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	page := os.Getpagesize()
	vec := make([]byte, (len(m)+page-1)/page)
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		t.Fatal(errno)
	}
	// Between the two, up to dropStep may be dropped or not, as earlier
	// syncs left it.
	head0 := int(st.Size()-cacheBehind-dropStep) / page
	tail0 := int(st.Size()-cacheBehind) / page
	count := func(v []byte) float64 {
		n := 0
		for _, b := range v {
			n += int(b & 1)
		}
		return float64(n) / float64(len(v))
	}
	return count(vec[:head0]), count(vec[tail0:])
}

// TestWriteBehind: the log's pages start their way to the disk as the
// records come, not all at the next checkpoint (whose fdatasync would
// otherwise write a second of records at once, holding up the lease
// file's syncs meanwhile). Right after a burst of records and the
// ticker's call, the file's pages up to the last whole 64 KiB are no
// longer dirty, with no sync in between: written back or on their way.
func TestWriteBehind(t *testing.T) {
	dir := diskDir(t)
	l, err := Open(params(t, `{"path": "`+dir+`"}`), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.kickRing == nil {
		t.Skip("no io_uring here: the write-back is left to the checkpoint")
	}
	line := []byte("2026-12-07 11:00:00 Address: 10.0.0.1 has been renewed for 1 hrs 0 mins 0 secs\n")
	chunk := bytes.Repeat(line, (256<<10)/len(line))
	for written := 0; written < 8<<20; written += len(chunk) {
		if err := l.WriteRecords(chunk); err != nil {
			t.Fatal(err)
		}
	}
	l.startWriteback() // as the ticker does after each tick
	l.mu.Lock()
	f, kicked, written := l.file.f, l.file.kicked, l.file.written
	l.mu.Unlock()
	// The ticker may have started some of it meanwhile, and left less
	// than kickStep for this call.
	if want := written &^ (stageAlign - 1); kicked > want || kicked <= want-kickStep {
		t.Fatalf("write-back started up to %d, want %d (the file has %d bytes)", kicked, want, written)
	}
	st, err := cachestat(f, 0, kicked)
	if err != nil {
		t.Skipf("cachestat: %v", err)
	}
	if pages := uint64(kicked) / uint64(os.Getpagesize()); st.dirty > pages/100 {
		t.Errorf("%d of the first %d pages are still dirty after the write-back started", st.dirty, pages)
	}
}

// pageStates are a file range's page counts, as cachestat(2) gives them.
type pageStates struct{ cached, dirty, writeback, evicted, recentlyEvicted uint64 }

// cachestat counts the page states of f's bytes [off, off+n).
func cachestat(f *os.File, off, n int64) (pageStates, error) {
	rng := [2]uint64{uint64(off), uint64(n)}
	var st pageStates
	_, _, errno := unix.Syscall6(unix.SYS_CACHESTAT, f.Fd(), uintptr(unsafe.Pointer(&rng)), uintptr(unsafe.Pointer(&st)), 0, 0, 0)
	if errno != 0 {
		return st, errno
	}
	return st, nil
}
