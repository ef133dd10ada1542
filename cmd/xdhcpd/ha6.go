package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	"xdhcp/config"
	"xdhcp/control"
	"xdhcp/control/client"
	"xdhcp/ha"
	"xdhcp/lease"
	"xdhcp/slowpath6"
)

// DHCPv6 HA: Kea runs it as a relationship of its own (libdhcp_ha.so in
// kea-dhcp6, reached through its own control agent port), so here the
// Dhcp6 section's HA hook is a second ha.Service, with the DHCPv6 lease
// store, service switch and peer listener, beside the DHCPv4 one. The
// control channel routes each HA command by its "service".

// partnerLeases6 hands the leases DHCPv6 HA synchronizes to the lease6
// commands, built after HA (see partnerLeases).
type partnerLeases6 struct{ v *dhcp6 }

var _ ha.LeaseApplier6 = partnerLeases6{}

func (p partnerLeases6) ApplyPartnerLease6(ctx context.Context, l lease.Lease6) error {
	return p.v.cmds.ApplyPartnerLease6(ctx, l)
}

// haScopes6 adapts the DHCPv6 HA service to the DHCPv6 engine's filter.
type haScopes6 struct{ svc *ha.Service }

var _ slowpath6.Scopes = haScopes6{}

func (h haScopes6) Accept(subnetID uint32, msgType uint8, duid []byte) (string, bool) {
	return haScopes(h).Accept(subnetID, msgType, duid)
}

func (h haScopes6) Observe(elapsed uint16, duid []byte, msgType uint8) {
	h.svc.ObserveQuery6(elapsed, duid, msgType)
}

// newHA6 builds the DHCPv6 HA service of the Dhcp6 section's HA hook and
// plugs it into the engine's deps; nil without one.
func (v *dhcp6) newHA6(cfg *config.Config6, deps *slowpath6.Deps, log *slog.Logger) error {
	hc := cfg.HA
	if hc == nil {
		return nil
	}
	for _, w := range hc.Warnings {
		log.Warn("high-availability (Dhcp6): " + w)
	}
	parked := cfg.ParkedPacketLimit
	if parked == 0 {
		parked = -1 // Kea: 0 is no limit
	}
	svc, err := ha.New(hc, ha.Deps{Family: ha.FamilyV6, Leases6: v.store, Apply6: partnerLeases6{v}, Network: v.network,
		ParkedPacketLimit: parked, Log: log})
	if err != nil {
		return fmt.Errorf("high-availability (Dhcp6): %w", err)
	}
	v.ha = svc
	deps.Replicator = svc
	deps.Scopes = haScopes6{svc}
	return nil
}

// startHA opens the peer listeners of both families' relationships
// (one listener where both name the same peer URL, as one kea-ctrl-agent
// port forwards to kea-dhcp4 and kea-dhcp6) and starts their state
// machines. The Control-agent (-a, or the section) configures the DHCPv4
// relationships' listener, and a DHCPv6 one's only where its peer URL is
// the agent's address; otherwise a DHCPv6 listener takes its TLS from the
// HA section and its credentials from this server's peers entry, else
// admits the partners' addresses only.
func (d *daemon) startHA(ctx context.Context, cfg *config.Config) error {
	svcs := d.haServices()
	if len(svcs) == 0 {
		return nil
	}
	o := peerListenOptions(cfg, d.log)
	if d.ha == nil {
		o.AuthLog = d.log.With("logger", ha.AuthLogger6Name)
	}
	var err error
	if d.haListener, err = ha.Listen(d.ctl, o, svcs...); err != nil {
		return fmt.Errorf("high-availability: %w", err)
	}
	for _, s := range svcs {
		s.Start(ctx)
	}
	return nil
}

// registerHACommands puts the HA commands of both families on c: each
// goes to the DHCPv6 service when it names "dhcp6" (and not "dhcp4"), or
// when only DHCPv6 runs HA; to the DHCPv4 service otherwise.
func registerHACommands(c *control.Server, v4, v6 *ha.Service) {
	if v6 == nil {
		if v4 != nil {
			v4.RegisterCommands(c)
		}
		return
	}
	if v4 == nil {
		v6.RegisterCommands(c)
		return
	}
	h4, h6 := v4.Commands(), v6.Commands()
	for name, f4 := range h4 {
		f6 := h6[name]
		c.Handle(name, func(ctx context.Context, req *control.Request) control.Answer {
			if haFor(req, v4, v6) == v6 {
				return f6(ctx, req)
			}
			return f4(ctx, req)
		})
	}
}

// haFor is the HA service a command is for (see registerHACommands); nil
// when neither family runs HA.
func haFor(req *control.Request, v4, v6 *ha.Service) *ha.Service {
	if v6 != nil && (v4 == nil || slices.Contains(req.Service, client.ServiceDHCP6) && !slices.Contains(req.Service, client.ServiceDHCP4)) {
		return v6
	}
	return v4
}

// haServices are the HA services running: DHCPv4's, then DHCPv6's.
func (d *daemon) haServices() []*ha.Service {
	var out []*ha.Service
	for _, s := range []*ha.Service{d.ha, d.ha6()} {
		if s != nil {
			out = append(out, s)
		}
	}
	return out
}

// ha6 is the DHCPv6 HA service, nil without one.
func (d *daemon) ha6() *ha.Service {
	if d.v6 == nil {
		return nil
	}
	return d.v6.ha
}
