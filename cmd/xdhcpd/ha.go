package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"

	"xdhcp/config"

	"xdhcp/ha"
	"xdhcp/lease"
	"xdhcp/slowpath"
	"xdhcp/slowpath/alloc"
)

// partnerLeases hands the leases HA synchronizes to the lease commands.
// HA is built before the server it replicates for, and the commands after
// it; the first sync runs only once HA is started, when they exist.
type partnerLeases struct{ d *daemon }

var _ ha.LeaseApplier = partnerLeases{}

func (p partnerLeases) ApplyPartnerLease(ctx context.Context, l lease.Lease) error {
	return p.d.leaseCmds.ApplyPartnerLease(ctx, l)
}

// haScopes adapts the HA service to the slow path's query filter.
type haScopes struct{ svc *ha.Service }

var _ slowpath.Scopes = haScopes{}

func (h haScopes) Accept(subnetID uint32, msgType uint8, key []byte) (string, bool) {
	r := h.svc.ForSubnet(subnetID)
	if r == nil {
		return "", true // a subnet no relationship replicates: ours alone
	}
	return r.Accept(msgType, key)
}

func (h haScopes) Observe(secs uint16, key []byte, msgType uint8) {
	h.svc.ObserveQuery(secs, key, msgType)
}

var _ slowpath.PoolShare = haScopes{}

// Part is the part of subnetID's pools HA lets new leases come from.
func (h haScopes) Part(subnetID uint32) alloc.Part {
	if r := h.svc.ForSubnet(subnetID); r != nil {
		return r.PoolPart()
	}
	return alloc.Part{}
}

// peerListenOptions says where the HA peer listener goes: the
// Control-agent section sets it up as kea-ctrl-agent would, and an HTTP
// control socket on the peer URL's address serves it instead.
func peerListenOptions(cfg *config.Config, log *slog.Logger) ha.ListenOptions {
	covered := map[string]bool{}
	for _, s := range cfg.ControlSockets {
		if s.Type == "http" || s.Type == "https" {
			if ap, err := netip.ParseAddrPort(net.JoinHostPort(s.Address, strconv.Itoa(s.Port))); err == nil {
				covered[netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String()] = true
			}
		}
	}
	return ha.ListenOptions{
		Agent: cfg.ControlAgent,
		Covered: func(addr string) bool {
			ap, err := netip.ParseAddrPort(addr)
			if err != nil {
				return false
			}
			a := ap.Addr().Unmap()
			// A socket on the wildcard address holds the port on every address.
			return covered[netip.AddrPortFrom(a, ap.Port()).String()] ||
				covered[netip.AddrPortFrom(netip.IPv4Unspecified(), ap.Port()).String()] ||
				covered[netip.AddrPortFrom(netip.IPv6Unspecified(), ap.Port()).String()]
		},
		AuthLog: log.With("logger", ha.AuthLoggerName),
	}
}

// withControlAgent sets cfg's Control-agent from the file at path (-a),
// which takes the place of a Control-agent section in the configuration.
func withControlAgent(cfg *config.Config, path string, stderr io.Writer) error {
	if path == "" {
		return nil
	}
	a, warns, err := config.LoadControlAgent(path)
	for _, w := range warns {
		fmt.Fprintln(stderr, "WARN", w)
	}
	if err != nil {
		return err
	}
	cfg.ControlAgent = a
	return nil
}
