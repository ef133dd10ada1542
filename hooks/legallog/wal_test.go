package legallog

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"xdhcp/hooks"
	"xdhcp/lease"
)

// walLog opens a log in dir and skips the test where the file system
// offers no write-ahead file (no O_DIRECT, e.g. tmpfs).
func walLog(t *testing.T, dir string) *Log {
	t.Helper()
	l, err := Open(params(t, `{"path": "`+dir+`"}`), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if l.wal == nil {
		l.Close()
		t.Skip("no write-ahead file on this file system")
	}
	return l
}

// commit writes the record of lease n as a group commit does, syncs, and
// waits until the record is in the log file (moments after the sync).
func commit(t *testing.T, l *Log, n int) {
	t.Helper()
	ls := testLease()
	ls.Addr = netip.AddrFrom4([4]byte{10, 0, byte(n >> 8), byte(n)})
	if err := l.WriteRecords(l.AppendRecord(nil, &hooks.Event{Point: hooks.Leases4Committed, Time: time.Now(), Leases: []lease.Lease{ls}})); err != nil {
		t.Fatal(err)
	}
	if err := l.SyncRecords(); err != nil {
		t.Fatal(err)
	}
	waitVisible(t, l)
}

// TestWALRestoresWhatAPowerFailureTook: records synced through the
// write-ahead file come back into the log after the page cache lost them
// (the log file cut back, here in the middle of a line), exactly once and
// in order; a later start finds nothing more to restore.
func TestWALRestoresWhatAPowerFailureTook(t *testing.T) {
	dir := t.TempDir()
	l := walLog(t, dir)
	for n := range 50 {
		commit(t, l, n)
	}
	name := l.FileName()
	// The state a power failure leaves: the write-ahead file as written,
	// the log as of the last checkpoint (here: none since start) plus
	// part of what followed.
	ahead, err := os.ReadFile(walName(l.p))
	if err != nil {
		t.Fatal(err)
	}
	full, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()

	crash := t.TempDir()
	cut := len(full) / 3
	if err := os.WriteFile(filepath.Join(crash, filepath.Base(name)), full[:cut], 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(crash, "."+DefaultBaseName+".wal"), ahead, 0o600); err != nil {
		t.Fatal(err)
	}
	l2 := walLog(t, crash)
	l2.Close()
	got, err := os.ReadFile(filepath.Join(crash, filepath.Base(name)))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, full) {
		t.Fatalf("restored log differs: %d bytes, want %d\n%s", len(got), len(full), got)
	}
	// The restore started a new epoch: nothing is restored twice.
	l3 := walLog(t, crash)
	l3.Close()
	if again, _ := os.ReadFile(filepath.Join(crash, filepath.Base(name))); !bytes.Equal(again, full) {
		t.Fatalf("second start changed the log: %d bytes, want %d", len(again), len(full))
	}
}

// TestWALCheckpointVoidsOlderRecords: after a checkpoint (the log synced)
// the write-ahead file restores only what was synced through it since.
func TestWALCheckpointVoidsOlderRecords(t *testing.T) {
	dir := t.TempDir()
	l := walLog(t, dir)
	for n := range 10 {
		commit(t, l, n)
	}
	if ran, err := l.checkpoint(); !ran || err != nil {
		t.Fatalf("checkpoint: ran %v, %v", ran, err)
	}
	before, _ := os.ReadFile(l.FileName())
	for n := 10; n < 15; n++ {
		commit(t, l, n)
	}
	recs, err := l.wal.readBack()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 5 {
		t.Fatalf("%d records in the write-ahead file after the checkpoint, want 5", len(recs))
	}
	if recs[0].off != int64(len(before)) {
		t.Fatalf("first record at %d, want %d (the checkpoint's end)", recs[0].off, len(before))
	}
	l.Close()
}

// TestReplayNeverOverwrites: a record whose place holds other bytes is
// appended, a partly present one completed, a present one skipped, and a
// file that is gone is not recreated.
func TestReplayNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	write("a.txt", "line1\nline2\n")
	write("b.txt", "line1\nli")
	write("c.txt", "other\nbytes\n")
	recs := []walRecord{
		{seq: 1, file: "a.txt", off: 6, data: []byte("line2\n")},  // present
		{seq: 2, file: "b.txt", off: 6, data: []byte("line2\n")},  // partly present
		{seq: 3, file: "c.txt", off: 0, data: []byte("mine\n")},   // others' bytes there
		{seq: 4, file: "c.txt", off: 5, data: []byte("mine2\n")},  // follows the moved one
		{seq: 5, file: "gone.txt", off: 0, data: []byte("x\n")},   // rotated away
		{seq: 6, file: "../evil", off: 0, data: []byte("x\n")},    // not a log name
		{seq: 7, file: "a.txt", off: 20, data: []byte("line4\n")}, // after lost bytes
	}
	n, err := replayWAL(dir, recs)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a.txt": "line1\nline2\nline4\n", "b.txt": "line1\nline2\n", "c.txt": "other\nbytes\nmine\nmine2\n"}
	for name, w := range want {
		if got, _ := os.ReadFile(filepath.Join(dir, name)); string(got) != w {
			t.Errorf("%s: %q, want %q", name, got, w)
		}
	}
	if n != 4 {
		t.Errorf("%d records copied, want 4", n)
	}
	for _, name := range []string{"gone.txt", "../evil"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			t.Errorf("%s created", name)
		}
	}
}

// TestWALHoleDoesNotHideLaterRecords: a record that never completed (a
// torn or missing write) leaves a hole; the records after it still count.
func TestWALHoleDoesNotHideLaterRecords(t *testing.T) {
	dir := t.TempDir()
	l := walLog(t, dir)
	for n := range 3 {
		commit(t, l, n)
	}
	walFile := walName(l.p)
	full, _ := os.ReadFile(l.FileName())
	name := l.FileName()
	ahead, _ := os.ReadFile(walFile)
	l.Close()
	// Tear the first record (block 1): its bytes are then lost, unless
	// the log still has them, as here up to the second record.
	ahead[walBlock+100] ^= 0xff
	crash := t.TempDir()
	first := strings.Index(string(full), "\n") + 1
	if err := os.WriteFile(filepath.Join(crash, filepath.Base(name)), full[:first], 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(crash, "."+DefaultBaseName+".wal"), ahead, 0o600); err != nil {
		t.Fatal(err)
	}
	walLog(t, crash).Close()
	if got, _ := os.ReadFile(filepath.Join(crash, filepath.Base(name))); !bytes.Equal(got, full) {
		t.Fatalf("log after restore:\n%s\nwant:\n%s", got, full)
	}
}

// TestWALOneLogPerFile: a second log with the same path and base-name
// (DHCPv4 and DHCPv6 configured alike) syncs its file itself.
func TestWALOneLogPerFile(t *testing.T) {
	dir := t.TempDir()
	a := walLog(t, dir)
	defer a.Close()
	b, err := Open(params(t, `{"path": "`+dir+`"}`), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.wal != nil {
		t.Fatal("two logs share one write-ahead file")
	}
	commit(t, b, 1)
	commit(t, a, 2)
}

// readBack reads the records of the current epoch back.
func (w *wal) readBack() ([]walRecord, error) {
	epoch := w.epoch
	recs, err := w.read()
	w.epoch = epoch
	return recs, err
}

// TestWALBoundsHeldBytes: records written faster than synced are not all
// held for the write-ahead file; the next sync checkpoints instead and
// covers them.
func TestWALBoundsHeldBytes(t *testing.T) {
	l := walLog(t, t.TempDir())
	defer l.Close()
	line := []byte(strings.Repeat("x", 1023) + "\n")
	for range (walBufLimit / len(line)) + 10 {
		if err := l.WriteRecords(line); err != nil {
			t.Fatal(err)
		}
	}
	l.mu.Lock()
	held, gap := l.walChunk.size(), l.walGap
	l.mu.Unlock()
	if held > walBufLimit || !gap {
		t.Fatalf("%d bytes held (limit %d), gap %v", held, walBufLimit, gap)
	}
	if err := l.SyncRecords(); err != nil {
		t.Fatal(err)
	}
	recs, err := l.wal.readBack()
	if err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.walGap || len(recs) != 0 || l.synced.Load() != l.written {
		t.Fatalf("after the sync: gap %v, %d write-ahead records, synced %d of %d", l.walGap, len(recs), l.synced.Load(), l.written)
	}
}

// TestWALFailureFallsBackToSync: a write-ahead write that fails turns the
// file off; that sync and the later ones fdatasync the log, and the
// records are durable all the same.
func TestWALFailureFallsBackToSync(t *testing.T) {
	l := walLog(t, t.TempDir())
	defer l.Close()
	commit(t, l, 1)
	l.wal.f.Close() // the next write-ahead write fails (EBADF)
	for n := 2; n < 5; n++ {
		commit(t, l, n)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.wal != nil || l.walDead == nil {
		t.Fatal("the write-ahead file is still on after its write failed")
	}
	if l.synced.Load() != l.written {
		t.Fatalf("synced %d of %d writes", l.synced.Load(), l.written)
	}
	if b, _ := os.ReadFile(l.file.name); strings.Count(string(b), "\n") != 4 {
		t.Fatalf("log has %d lines, want 4", strings.Count(string(b), "\n"))
	}
}
