package daemontest

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"xdhcp/internal/lab"
)

// defaultPinBase is xdhcpd's bpffs directory when xdhcp.xdp.bpffs is not
// set.
const defaultPinBase = "/sys/fs/bpf/xdhcp"

// UnpinAtEnd removes, when the test ends, the XDP pins an xdhcpd in ns
// leaves under its default bpffs directory (netns-<inode>-<cookie>, see
// fastpath/xdp). Register it before the daemon starts, so that it runs
// after the daemon's cleanup.
func UnpinAtEnd(t testing.TB, ns *lab.NS) {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(ns.Path(), &st); err != nil {
		t.Fatalf("stat namespace %s: %v", ns.Name(), err)
	}
	pattern := fmt.Sprintf("%s/netns-%d-*", defaultPinBase, st.Ino)
	t.Cleanup(func() {
		dirs, _ := filepath.Glob(pattern)
		for _, dir := range dirs {
			if err := os.RemoveAll(dir); err != nil {
				t.Errorf("remove pins %s: %v", dir, err)
			}
		}
	})
}
