package lab

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// capNames are the capabilities the tests ask for, by name for messages.
var capNames = map[uint]string{
	unix.CAP_SYS_ADMIN: "CAP_SYS_ADMIN",
	unix.CAP_NET_ADMIN: "CAP_NET_ADMIN",
	unix.CAP_BPF:       "CAP_BPF",
}

// Available reports whether this process can create network namespaces and
// configure them: it needs CAP_SYS_ADMIN (for setns, unshare and the bind
// mount) and CAP_NET_ADMIN. It returns nil or the reason why not.
func Available() error {
	if err := HasCaps(unix.CAP_SYS_ADMIN, unix.CAP_NET_ADMIN); err != nil {
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

// HasCaps returns nil when every capability (unix.CAP_*) is in the
// process's effective set, else an error naming the first one missing.
func HasCaps(caps ...uint) error {
	eff, err := effectiveCaps()
	if err != nil {
		return err
	}
	for _, c := range caps {
		if eff&(1<<c) == 0 {
			name := capNames[c]
			if name == "" {
				name = fmt.Sprintf("capability %d", c)
			}
			return fmt.Errorf("missing %s (run as root)", name)
		}
	}
	return nil
}

// BPFAvailable reports whether this process can load BPF programs and
// attach them to interfaces: CAP_BPF, or CAP_SYS_ADMIN which also allows
// it, and CAP_NET_ADMIN. It returns nil or the reason why not.
func BPFAvailable() error {
	if err := HasCaps(unix.CAP_NET_ADMIN); err != nil {
		return err
	}
	if HasCaps(unix.CAP_BPF) != nil && HasCaps(unix.CAP_SYS_ADMIN) != nil {
		return errors.New("missing CAP_BPF (or CAP_SYS_ADMIN) to load BPF programs (run as root)")
	}
	return nil
}

// effectiveCaps reads CapEff from /proc/self/status.
func effectiveCaps() (uint64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("read capabilities: %w", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			var caps uint64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%x", &caps); err != nil {
				return 0, fmt.Errorf("parse CapEff %q: %w", v, err)
			}
			return caps, nil
		}
	}
	return 0, errors.New("no CapEff in /proc/self/status")
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
// every capability given (unix.CAP_*).
func SkipWithoutCaps(t testing.TB, why string, caps ...uint) {
	t.Helper()
	if err := HasCaps(caps...); err != nil {
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
