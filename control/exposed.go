package control

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"xdhcp/config"
)

// Exposed lists, as type://host:port, the control listeners reachable from
// the network without TLS and without authentication. Kea configurations
// do this, so it is accepted, but an operator should know: the daemon
// warns at start and status-get reports them.
func Exposed(sockets []config.ControlSocket) []string {
	var out []string
	for _, s := range sockets {
		if s.Type == "unix" || s.Auth != nil || s.Type == "https" {
			continue
		}
		ip, err := netip.ParseAddr(s.Address)
		if err == nil && ip.IsLoopback() {
			continue
		}
		out = append(out, fmt.Sprintf("%s://%s", s.Type, net.JoinHostPort(s.Address, strconv.Itoa(s.Port))))
	}
	return out
}
