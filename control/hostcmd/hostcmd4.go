package hostcmd

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"

	"xdhcp/config"
	"xdhcp/host"
)

// Commands answers the reservation commands for the DHCPv4 service.
type Commands struct{ *commands[host.Host] }

// New returns the commands; Set must be called before they answer.
func New() *Commands { return &Commands{newCommands[host.Host]()} }

// Set gives the running configuration and its host databases (in
// hosts-databases order); called at start and on every reload.
func (c *Commands) Set(cfg *config.Config, dbs []host.Store) {
	subnetOK := func(subnet uint32, addr netip.Addr) error { return validate4(cfg, subnet, addr) }
	f := &family[host.Host]{
		ip:      "IPv4",
		sources: []reader[host.Host]{reader4(host.FromConfig(cfg))},
		parse: func(raw json.RawMessage) (host.Host, error) {
			r, uctx, err := cfg.ParseHostReservation(raw)
			return host.Host{Res: r, UserContext: uctx}, err
		},
		subnetOK: func(subnet uint32) error { return subnetOK(subnet, netip.Addr{}) },
		fits:     func(h *host.Host) error { return subnetOK(h.Res.SubnetID, h.Res.IP) },
		render:   hostJSON,
		id:       func(h *host.Host) uint64 { return h.ID },
	}
	for _, d := range dbs {
		f.sources = append(f.sources, reader4(d))
		f.dbs = append(f.dbs, writer[host.Host]{add: d.Add, del: func(ctx context.Context, a *args) (bool, error) {
			if a.byAddr {
				return d.DelByAddr4(ctx, a.subnet, a.addr)
			}
			return d.Del4(ctx, a.subnet, a.idType, a.id)
		}, readOnly: d.ReadOnly})
	}
	c.st.Store(f)
}

// validate4 checks, as Kea does before it writes a reservation, that its
// subnet is configured and holds its address.
func validate4(cfg *config.Config, subnet uint32, addr netip.Addr) error {
	if subnet == 0 {
		return nil
	}
	for _, s := range cfg.Subnets {
		if s.ID != subnet {
			continue
		}
		if addr.IsValid() && !s.Prefix.Contains(addr) {
			return fmt.Errorf("specified reservation '%s' is not matching the IPv4 subnet prefix '%s'", addr, s.Prefix)
		}
		return nil
	}
	return fmt.Errorf("IPv4 subnet with ID of '%d' is not configured", subnet)
}

// reader4 reads a DHCPv4 source.
func reader4(r host.Reader) reader[host.Host] {
	return reader[host.Host]{all: r.All4, page: r.Page4, byHostname: r.ByHostname4, byID: r.ByID,
		get: func(ctx context.Context, a *args) (*host.Host, error) {
			if a.byAddr {
				rs, err := r.GetByAddr4(ctx, a.subnet, a.addr)
				if err != nil || len(rs) == 0 {
					return nil, err
				}
				return &host.Host{Res: rs[0]}, nil
			}
			res, err := r.Get4(ctx, a.subnet, a.idType, a.id)
			if err != nil || res == nil {
				return nil, err
			}
			return &host.Host{Res: res}, nil
		}}
}

// hostJSON is Kea's rendering of a DHCPv4 host (Host::toElement4), with
// the subnet-id the commands add.
func hostJSON(h *host.Host) map[string]any {
	r := h.Res
	m := map[string]any{}
	t, id := host.Identifier(r)
	setIdentifier(m, t, id)
	if r.IP.IsValid() {
		m["ip-address"] = r.IP.String()
	}
	next := netip.IPv4Unspecified()
	if r.NextServer.IsValid() {
		next = r.NextServer
	}
	m["hostname"] = r.Hostname
	m["next-server"] = next.String()
	m["server-hostname"] = r.ServerHostname
	m["boot-file-name"] = r.BootFileName
	m["client-classes"] = classList(r.ClientClasses)
	opts := make([]map[string]any, 0, len(r.Options))
	for _, o := range r.Options {
		opts = append(opts, optionJSON(uint16(o.Code), o.Name, o.OptionSpace(), o.Data, o.AlwaysSend))
	}
	m["option-data"] = opts
	if len(h.UserContext) > 0 {
		m["user-context"] = h.UserContext
	}
	m["subnet-id"] = r.SubnetID
	return m
}
