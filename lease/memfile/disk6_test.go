package memfile

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"xdhcp/lease"
)

// TestStore6DiskFull: the DHCPv6 lease file on a real tmpfs that fills up.
// Commits are refused with ENOSPC and nothing refused becomes visible;
// once space is freed the store recovers by itself, and a reload holds
// exactly the committed leases.
func TestStore6DiskFull(t *testing.T) {
	mnt := t.TempDir()
	if err := unix.Mount("v6lease-tmpfs", mnt, "tmpfs", 0, "size=256k,mode=0755"); err != nil {
		t.Skipf("cannot mount a tmpfs (needs CAP_SYS_ADMIN): %v", err)
	}
	t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
	path := filepath.Join(mnt, "leases6.csv")
	evs := &eventLog{}
	s, err := Open6(Options{Path: path, Persist: true, Sync: true, Logger: testLogger(t),
		RetryWait: 5 * time.Millisecond, RetryLimit: 1000, OnFault: evs.add})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	committed := map[netip.Addr]bool{}
	put := func(i int) error {
		l := benchLease6(i)
		l.Hostname = fmt.Sprintf("cpe-%d.example.org", i)
		err := s.Commit(ctx, lease.Op6{Kind: lease.OpPut, Lease: l})
		if err == nil {
			committed[l.Addr] = true
		}
		return err
	}
	for i := range 10 {
		if err := put(i); err != nil {
			t.Fatal(err)
		}
	}

	filler := filepath.Join(mnt, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, unix.ENOSPC) {
				t.Fatalf("fill tmpfs: %v", err)
			}
			break
		}
	}
	f.Close()
	// The file's last page may take a few more rows.
	i, refused := 10, error(nil)
	for ; i < 500 && refused == nil; i++ {
		refused = put(i)
	}
	var fe *lease.FaultError
	if !errors.As(refused, &fe) || !errors.Is(refused, unix.ENOSPC) || !errors.Is(refused, lease.ErrStorage) {
		t.Fatalf("commit on a full disk: %v, want a *FaultError wrapping ENOSPC", refused)
	}
	if _, ok := s.Get(benchLease6(i - 1).Addr); ok {
		t.Error("a refused lease is visible")
	}
	if s.Fault() == nil || evs.count(lease.FaultFailed) != 1 {
		t.Errorf("fault %v, failed events %d", s.Fault(), evs.count(lease.FaultFailed))
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); s.Fault() != nil; time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no recovery after space was freed: %v", s.Fault())
		}
	}
	for j := i; j < i+10; j++ {
		if err := put(j); err != nil {
			t.Fatalf("commit after recovery: %v", err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := Open6(Options{Path: path, Persist: true, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := map[netip.Addr]bool{}
	r.Range(func(l *lease.Lease6) bool { got[l.Addr] = true; return true })
	if len(got) != len(committed) {
		t.Errorf("reload holds %d leases, %d were committed", len(got), len(committed))
	}
	for a := range committed {
		if !got[a] {
			t.Errorf("committed lease %s lost", a)
		}
	}
}
