package lab

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"testing"

	"xdhcp/internal/caps"

	"golang.org/x/sys/unix"
)

// Available reports whether this process can create network namespaces and
// configure them: it needs CAP_SYS_ADMIN (for setns, unshare and the bind
// mount) and CAP_NET_ADMIN. It returns nil or the reason why not.
func Available() error {
	if err := HasCaps(caps.SysAdmin, caps.NetAdmin); err != nil {
		return err
	}
	// Capabilities are not enough inside some containers (seccomp, a
	// read-only /run): try the real thing once, on a thread we discard.
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the thread may end up in a new namespace, so it
		// must die with this goroutine.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unshare network namespace: %w", err)
			return
		}
		errc <- nil
	}()
	if err := <-errc; err != nil {
		return err
	}
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", runDir, err)
	}
	return nil
}

// HasCaps returns nil when every capability is in the process's
// effective set, else an error naming the first one missing.
func HasCaps(want ...caps.Cap) error {
	eff, err := caps.Effective()
	if err != nil {
		return err
	}
	for _, c := range want {
		if !eff.Has(c) {
			return fmt.Errorf("missing %s (run as root)", c)
		}
	}
	return nil
}

// BPFAvailable reports whether this process can load BPF programs and
// attach them to interfaces: CAP_BPF, or CAP_SYS_ADMIN which also allows
// it, and CAP_NET_ADMIN. It returns nil or the reason why not.
func BPFAvailable() error {
	if err := HasCaps(caps.NetAdmin); err != nil {
		return err
	}
	if HasCaps(caps.BPF) != nil && HasCaps(caps.SysAdmin) != nil {
		return errors.New("missing CAP_BPF (or CAP_SYS_ADMIN) to load BPF programs (run as root)")
	}
	return nil
}

// SkipIfUnavailable skips t, saying why, when Available fails.
func SkipIfUnavailable(t testing.TB) {
	t.Helper()
	if err := Available(); err != nil {
		t.Skipf("network namespaces unavailable: %v", err)
	}
}

// SkipWithoutBPF skips t, saying why, unless the process can build
// namespaces (Available) and load and attach BPF programs (BPFAvailable).
func SkipWithoutBPF(t testing.TB) {
	t.Helper()
	SkipIfUnavailable(t)
	if err := BPFAvailable(); err != nil {
		t.Skipf("BPF unavailable: %v", err)
	}
}

// SkipWithoutCaps skips t, saying why (what for), unless the process has
// every capability given.
func SkipWithoutCaps(t testing.TB, why string, want ...caps.Cap) {
	t.Helper()
	if err := HasCaps(want...); err != nil {
		t.Skipf("%s: %v", why, err)
	}
}

// MountBPFFS mounts a private bpffs on a temporary directory of t, so that
// BPF pins stay out of the host's /sys/fs/bpf, and unmounts it in t's
// cleanup (which releases every pin made there). The caller decides
// whether a failed mount fails or skips the test.
func MountBPFFS(t testing.TB) (string, error) {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("bpf", dir, "bpf", 0, ""); err != nil {
		return "", fmt.Errorf("mount bpffs on %s: %w", dir, err)
	}
	t.Cleanup(func() {
		// Lazy: a process being killed may still hold the directory open.
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount bpffs %s: %v", dir, err)
		}
	})
	return dir, nil
}
