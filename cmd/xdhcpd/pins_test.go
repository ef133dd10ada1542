package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
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
