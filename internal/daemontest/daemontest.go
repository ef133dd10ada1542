// Package daemontest is what the namespace tests of xdhcpd share
// (cmd/xdhcpd's end-to-end tests and fastpath/xdptest): finding or building
// the daemon binary, running it in a lab namespace (Daemon), a client of
// its Kea control channel that connects from inside the namespace, the
// decoding of control answers, and DHCP clients in a namespace.
//
// Everything here fails the calling test through testing.TB (or returns an
// error where a caller may run outside the test goroutine); nothing keeps
// package-level state.
package daemontest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// Binary finds the xdhcpd executable for one test binary: $XDHCP_BIN/xdhcpd
// when that exists, else one built with `go build` on first use into a
// temporary directory, which Close removes. A test package holds one in a
// package variable and calls RunTests from TestMain.
type Binary struct {
	prefix string // of the temporary build directory

	once sync.Once
	dir  string
	path string
	err  error
}

// NewBinary returns a Binary that builds, when it must, into a temporary
// directory named prefix*.
func NewBinary(prefix string) *Binary { return &Binary{prefix: prefix} }

// Path returns the daemon binary, building it (once per Binary) when
// XDHCP_BIN names no directory holding one; a failed build fails t.
func (b *Binary) Path(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("XDHCP_BIN"); d != "" {
		p := filepath.Join(d, "xdhcpd")
		if _, err := os.Stat(p); err == nil {
			return p
		}
		t.Logf("XDHCP_BIN=%s has no xdhcpd: building one", d)
	}
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", b.prefix)
		if err != nil {
			b.err = fmt.Errorf("build directory for xdhcpd: %w", err)
			return
		}
		b.dir = dir
		b.path = filepath.Join(dir, "xdhcpd")
		cmd := exec.Command("go", "build", "-o", b.path, "xdhcp/cmd/xdhcpd")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build xdhcpd: %w\n%s", err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// RunTests is a TestMain body: it runs the tests of m, then removes the
// build directory (a failure to is reported on stderr), and returns the
// exit code for os.Exit.
func (b *Binary) RunTests(m *testing.M) int {
	code := m.Run()
	// The daemons' default pin folder, which their tests make and
	// UnpinAtEnd empties; left alone while anything is in it (another
	// package's daemons). An empty one holds nothing a daemon needs: it
	// makes the folder again.
	_ = os.Remove(defaultPinBase)
	if err := b.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "remove the xdhcpd build directory:", err)
	}
	return code
}

// Close removes the build directory, if Path made one. Call it only after
// every test has finished (TestMain, after m.Run).
func (b *Binary) Close() error {
	if b.dir == "" {
		return nil
	}
	return os.RemoveAll(b.dir)
}
