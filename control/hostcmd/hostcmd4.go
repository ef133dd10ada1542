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
		sources: []reader[host.Host]{reader4{host.FromConfig(cfg)}},
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
		f.sources = append(f.sources, reader4{d})
		f.dbs = append(f.dbs, store4{d})
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
type reader4 struct{ r host.Reader }

func (s reader4) get(ctx context.Context, a *args) (*host.Host, error) {
	if a.byAddr {
		rs, err := s.r.GetByAddr4(ctx, a.subnet, a.addr)
		if err != nil || len(rs) == 0 {
			return nil, err
		}
		return &host.Host{Res: rs[0]}, nil
	}
	r, err := s.r.Get4(ctx, a.subnet, a.idType, a.id)
	if err != nil || r == nil {
		return nil, err
	}
	return &host.Host{Res: r}, nil
}

func (s reader4) all(ctx context.Context, subnet uint32) ([]host.Host, error) {
	return s.r.All4(ctx, subnet)
}

func (s reader4) page(ctx context.Context, subnet *uint32, from uint64, limit int) ([]host.Host, error) {
	return s.r.Page4(ctx, subnet, from, limit)
}

func (s reader4) byHostname(ctx context.Context, name string, subnet *uint32) ([]host.Host, error) {
	return s.r.ByHostname4(ctx, name, subnet)
}

func (s reader4) byID(ctx context.Context, t host.IDType, id []byte) ([]host.Host, error) {
	return s.r.ByID(ctx, t, id)
}

// store4 writes a DHCPv4 host database.
type store4 struct{ s host.Store }

func (s store4) add(ctx context.Context, h host.Host) error { return s.s.Add(ctx, h) }

func (s store4) del(ctx context.Context, a *args) (bool, error) {
	if a.byAddr {
		return s.s.DelByAddr4(ctx, a.subnet, a.addr)
	}
	return s.s.Del4(ctx, a.subnet, a.idType, a.id)
}

func (s store4) readOnly() bool { return s.s.ReadOnly() }

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
