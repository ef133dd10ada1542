package main

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"

	"xdhcp/config"
)

// capability numbers not in every x/sys release's constant set.
const (
	capNetAdmin = 12
	capNetRaw   = 13
	capIPCLock  = 14
	capSysAdmin = 21
	capBPF      = 39
)

var capNames = map[int]string{
	capNetAdmin: "CAP_NET_ADMIN", capNetRaw: "CAP_NET_RAW", capIPCLock: "CAP_IPC_LOCK",
	capSysAdmin: "CAP_SYS_ADMIN", capBPF: "CAP_BPF",
}

// effectiveCaps reads the process's effective capability set.
func effectiveCaps() (uint64, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return 0, fmt.Errorf("capget: %w", err)
	}
	return uint64(data[0].Effective) | uint64(data[1].Effective)<<32, nil
}

// checkCapabilities says, before anything is opened, which capability the
// configuration needs and the process lacks: CAP_NET_RAW for the AF_PACKET
// sockets, and for XDP CAP_NET_ADMIN (attach), CAP_BPF (load; CAP_SYS_ADMIN
// also does) and CAP_IPC_LOCK (UMEM over the memlock limit). Missing XDP
// capabilities are reported, not fatal: the daemon falls back to socket mode.
func checkCapabilities(cfg *config.Config) (xdpProblem string, err error) {
	have, err := effectiveCaps()
	if err != nil {
		return "", err
	}
	has := func(c int) bool { return have&(1<<c) != 0 }
	if !has(capNetRaw) {
		return "", fmt.Errorf("missing capability CAP_NET_RAW: needed for the raw sockets DHCP clients without an address are answered on (run as root or grant it, see packaging/xdhcpd.service)")
	}
	if cfg.XDHCP.XDP.Mode == "off" {
		return "", nil
	}
	var missing []string
	for _, c := range []int{capNetAdmin, capIPCLock} {
		if !has(c) {
			missing = append(missing, capNames[c])
		}
	}
	if !has(capBPF) && !has(capSysAdmin) {
		missing = append(missing, capNames[capBPF])
	}
	if len(missing) > 0 {
		return "missing " + strings.Join(missing, ", ") + " for the XDP fast path", nil
	}
	return "", nil
}
