// Package caps reads the process's effective Linux capabilities, so that
// what a configuration needs and the process lacks is said before
// anything is opened, and drops those it no longer needs once it is.
package caps

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Cap is a capability number (linux/capability.h).
type Cap int

// The capabilities the server's transports need; numbered here because
// not every x/sys release has all of them.
const (
	SetPCap        Cap = 8
	NetBindService Cap = 10
	NetAdmin       Cap = 12
	NetRaw         Cap = 13
	IPCLock        Cap = 14
	SysAdmin       Cap = 21
	PerfMon        Cap = 38
	BPF            Cap = 39
)

var names = map[Cap]string{
	SetPCap: "CAP_SETPCAP", NetBindService: "CAP_NET_BIND_SERVICE",
	NetAdmin: "CAP_NET_ADMIN", NetRaw: "CAP_NET_RAW", IPCLock: "CAP_IPC_LOCK",
	SysAdmin: "CAP_SYS_ADMIN", PerfMon: "CAP_PERFMON", BPF: "CAP_BPF",
}

// String is the capability's name, CAP_*.
func (c Cap) String() string {
	if n, ok := names[c]; ok {
		return n
	}
	return fmt.Sprintf("capability %d", int(c))
}

// Set is a capability set, bit c for capability c.
type Set uint64

// Has says whether c is in the set.
func (s Set) Has(c Cap) bool { return c >= 0 && c < 64 && s&(1<<c) != 0 }

// Of builds a set from capabilities.
func Of(cs ...Cap) Set {
	var s Set
	for _, c := range cs {
		if c >= 0 && c < 64 {
			s |= 1 << c
		}
	}
	return s
}

// String lists the set's capabilities by name, "none" when empty.
func (s Set) String() string {
	var out []string
	for c := Cap(0); c < 64; c++ {
		if s.Has(c) {
			out = append(out, c.String())
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ",")
}

// Effective reads the process's effective capability set.
func Effective() (Set, error) {
	data, err := get()
	if err != nil {
		return 0, err
	}
	return Set(data[0].Effective) | Set(data[1].Effective)<<32, nil
}

func get() ([2]unix.CapUserData, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return data, fmt.Errorf("capget: %w", err)
	}
	return data, nil
}

// lastCap is the highest capability the running kernel knows.
func lastCap() Cap {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return 40
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n < 0 || n > 63 {
		return 40
	}
	return Cap(n)
}

// Drop reduces the capabilities of every thread of the process to keep
// (what of it the process has): the effective and permitted sets become
// keep, the inheritable and ambient sets are emptied, the bounding set is
// cut to keep when the process may (CAP_SETPCAP), and no_new_privs is set,
// so nothing the process runs later can regain what was dropped. It
// returns the effective set after the drop. Capabilities are per thread
// in Linux, so Drop changes them on every thread of the Go runtime; that
// needs a binary built without cgo.
func Drop(keep Set) (Set, error) {
	data, err := get()
	if err != nil {
		return 0, err
	}
	have := Set(data[0].Permitted) | Set(data[1].Permitted)<<32
	keep &= have
	all := func(what string, trap, a1, a2, a3 uintptr) error {
		if _, _, e := syscall.AllThreadsSyscall(trap, a1, a2, a3); e != 0 {
			if e == syscall.ENOTSUP {
				return fmt.Errorf("%s: cannot change every thread's capabilities in a binary built with cgo", what)
			}
			return fmt.Errorf("%s: %w", what, e)
		}
		return nil
	}
	if err := all("set no_new_privs", unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0); err != nil {
		return 0, err
	}
	if have.Has(SetPCap) {
		for c := Cap(0); c <= lastCap(); c++ {
			if !keep.Has(c) {
				if err := all("drop "+c.String()+" from the bounding set", unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, uintptr(c), 0); err != nil {
					return 0, err
				}
			}
		}
	}
	if err := all("clear ambient capabilities", unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0); err != nil {
		return 0, err
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var set [2]unix.CapUserData
	for i := range set {
		v := uint32(keep >> (32 * i))
		set[i] = unix.CapUserData{Effective: v, Permitted: v}
	}
	err = all("capset", unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&set[0])), 0)
	runtime.KeepAlive(&hdr)
	runtime.KeepAlive(&set)
	if err != nil {
		return 0, err
	}
	return Effective()
}
