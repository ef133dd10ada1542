package main

import (
	"errors"
	"fmt"
	"strings"

	"xdhcp/config"
	"xdhcp/fastpath/xdp"
	"xdhcp/internal/caps"
)

// checkCapabilities says, before anything is opened, which capability the
// configuration needs and the process lacks: CAP_NET_RAW for the AF_PACKET
// sockets, and what the XDP fast path needs (xdp.MissingCapabilities).
// Missing XDP capabilities are reported, not fatal: the daemon falls back
// to socket mode.
func checkCapabilities(cfg *config.Config) (xdpProblem string, err error) {
	have, err := caps.Effective()
	if err != nil {
		return "", err
	}
	if !have.Has(caps.NetRaw) {
		return "", errors.New("missing capability CAP_NET_RAW: needed for the raw sockets DHCP clients without an address are answered on (run as root or grant it, see packaging/xdhcpd.service)")
	}
	if cfg.XDHCP.XDP.Mode == "off" {
		return "", nil
	}
	var missing []string
	for _, c := range xdp.MissingCapabilities(have) {
		missing = append(missing, c.String())
	}
	if len(missing) > 0 {
		return "missing " + strings.Join(missing, ", ") + " for the XDP fast path", nil
	}
	return "", nil
}

// dropCapabilities keeps, once the XDP program is attached and every
// socket is open, only what the running daemon still needs, and drops the
// rest for good (root's full set included):
//   - CAP_NET_RAW and CAP_NET_ADMIN: a reload that changes the interfaces
//     reopens the AF_PACKET sockets (CAP_NET_ADMIN for their large receive
//     buffer), and the XDP program is detached at stop and re-attached on
//     such a reload;
//   - with the XDP fast path, CAP_BPF (CAP_SYS_ADMIN on kernels without
//     it): every use of the program's maps (drop list, HA scopes,
//     statistics) is a bpf() call; CAP_PERFMON when the process has it
//     (not root, but the packaged unit): the verifier accepts the
//     program's packet pointer arithmetic only with it, and a reload may
//     load the program again; and CAP_IPC_LOCK: a reload re-creates the
//     AF_XDP UMEM, locked in memory;
//   - CAP_NET_BIND_SERVICE only when a control socket uses a port below
//     1024, which a reload may bind again.
//
// Without the XDP fast path its capabilities are dropped too, and
// switching xdp.mode on then takes a restart (a reload serves in socket
// mode).
func (d *daemon) dropCapabilities(cfg *config.Config) (caps.Set, error) {
	have, err := caps.Effective()
	if err != nil {
		return 0, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	useXDP := d.xdpAllowed && cfg.XDHCP.XDP.Mode != "off"
	keep := caps.Of(caps.NetRaw, caps.NetAdmin)
	if useXDP {
		keep |= caps.Of(caps.IPCLock, caps.BPF, caps.PerfMon)
		if !have.Has(caps.BPF) {
			keep |= caps.Of(caps.SysAdmin)
		}
	}
	for _, s := range controlSockets(cfg) {
		if s.Type != "unix" && s.Port > 0 && s.Port < 1024 {
			keep |= caps.Of(caps.NetBindService)
		}
	}
	if cfg.Dhcp6 != nil {
		keep |= caps.Of(caps.NetBindService) // port 547, reopened on reloads
	}
	got, err := caps.Drop(keep)
	if err != nil {
		return 0, fmt.Errorf("drop capabilities: %w", err)
	}
	if !useXDP && d.xdpAllowed {
		d.xdpAllowed = false
		d.log.Info("XDP is off: its capabilities are dropped, turning it on takes a restart")
	}
	return got, nil
}
