package memfile

import (
	"os"
	"path/filepath"
	"testing"

	"xdhcp/internal/uring"
)

// TestJournalSyncsThroughRing: the live lease file of a store opened with
// Sync gets a ring where the kernel has io_uring, and its writes and syncs
// reach the file.
func TestJournalSyncsThroughRing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leases.csv")
	j, err := journalOpener(nil)(path)
	if err != nil {
		t.Fatal(err)
	}
	oj := j.(*osJournal)
	if _, err := j.Write([]byte("a,b\n")); err != nil {
		t.Fatal(err)
	}
	if err := j.Sync(); err != nil {
		t.Fatal(err)
	}
	if r, rerr := uring.NewSyncRing(); rerr == nil {
		r.Close()
		if oj.ring == nil {
			t.Fatal("io_uring works here but the journal has no sync ring")
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != "a,b\n" {
		t.Fatalf("file holds %q (%v)", b, err)
	}
}
