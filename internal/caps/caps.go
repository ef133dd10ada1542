// Package caps reads the process's effective Linux capabilities, so that
// what a configuration needs and the process lacks is said before
// anything is opened.
package caps

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Cap is a capability number (linux/capability.h).
type Cap int

// The capabilities the server's transports need; numbered here because
// not every x/sys release has all of them.
const (
	NetAdmin Cap = 12
	NetRaw   Cap = 13
	IPCLock  Cap = 14
	SysAdmin Cap = 21
	BPF      Cap = 39
)

var names = map[Cap]string{
	NetAdmin: "CAP_NET_ADMIN", NetRaw: "CAP_NET_RAW", IPCLock: "CAP_IPC_LOCK",
	SysAdmin: "CAP_SYS_ADMIN", BPF: "CAP_BPF",
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

// Effective reads the process's effective capability set.
func Effective() (Set, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return 0, fmt.Errorf("capget: %w", err)
	}
	return Set(data[0].Effective) | Set(data[1].Effective)<<32, nil
}
