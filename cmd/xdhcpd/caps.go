package main

import (
	"errors"
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
