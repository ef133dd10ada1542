package hostcmd

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"

	"xdhcp/config"
	"xdhcp/config/optiondef"
	"xdhcp/host"
)

// Commands6 answers the reservation commands for the DHCPv6 service, as
// kea-dhcp6 with host_cmds answers them: over the Dhcp6 section's
// reservations and its host databases, with DHCPv6 hosts (ip-addresses,
// prefixes; duid, hw-address or flex-id) and Kea's IPv6 texts.
type Commands6 struct{ *commands[host.Host6] }

// New6 returns the DHCPv6 commands; Set must be called before they
// answer.
func New6() *Commands6 { return &Commands6{newCommands[host.Host6]()} }

// Set gives the running Dhcp6 section and its host databases (in
// hosts-databases order); called at start and on every reload.
func (c *Commands6) Set(cfg *config.Config6, dbs []host.Store6) {
	f := &family[host.Host6]{
		ip:      "IPv6",
		sources: []reader[host.Host6]{reader6{host.FromConfig6(cfg)}},
		parse: func(raw json.RawMessage) (host.Host6, error) {
			r, uctx, err := cfg.ParseHostReservation6(raw)
			return host.Host6{Res: r, UserContext: uctx}, err
		},
		subnetOK: func(subnet uint32) error { return validate6(cfg, subnet, nil) },
		// Prefixes need not be in the subnet.
		fits:   func(h *host.Host6) error { return validate6(cfg, h.Res.SubnetID, h.Res.IPAddresses) },
		render: host6JSON,
		id:     func(h *host.Host6) uint64 { return h.ID },
	}
	for _, d := range dbs {
		f.sources = append(f.sources, reader6{d})
		f.dbs = append(f.dbs, store6{d})
	}
	c.st.Store(f)
}

// validate6 checks, as Kea does before it writes a reservation, that its
// subnet is configured and holds its addresses.
func validate6(cfg *config.Config6, subnet uint32, addrs []netip.Addr) error {
	if subnet == 0 {
		return nil
	}
	sn := cfg.SubnetByID(subnet)
	if sn == nil {
		return fmt.Errorf("IPv6 subnet with ID of '%d' is not configured", subnet)
	}
	for _, a := range addrs {
		if !sn.Prefix.Contains(a) {
			return fmt.Errorf("specified reservation '%s' is not matching the IPv6 subnet prefix '%s'", a, sn.Prefix)
		}
	}
	return nil
}

// reader6 reads a DHCPv6 source.
type reader6 struct{ r host.Reader6 }

func (s reader6) get(ctx context.Context, a *args) (*host.Host6, error) {
	var r *config.Reservation6
	var err error
	if a.byAddr {
		r, err = s.r.GetByAddr6(ctx, a.subnet, a.addr)
	} else {
		r, err = s.r.Get6(ctx, a.subnet, a.idType, a.id)
	}
	if err != nil || r == nil {
		return nil, err
	}
	// The lookups the engine uses return the reservation alone: its
	// user context comes with the host's full record.
	t, id := host.Identifier6(r)
	hs, err := s.r.ByID6(ctx, t, id)
	if err != nil {
		return nil, err
	}
	for i := range hs {
		if hs[i].Res.SubnetID == r.SubnetID {
			return &hs[i], nil
		}
	}
	return &host.Host6{Res: r}, nil
}

func (s reader6) all(ctx context.Context, subnet uint32) ([]host.Host6, error) {
	return s.r.All6(ctx, subnet)
}

func (s reader6) page(ctx context.Context, subnet *uint32, from uint64, limit int) ([]host.Host6, error) {
	return s.r.Page6(ctx, subnet, from, limit)
}

func (s reader6) byHostname(ctx context.Context, name string, subnet *uint32) ([]host.Host6, error) {
	return s.r.ByHostname6(ctx, name, subnet)
}

func (s reader6) byID(ctx context.Context, t host.IDType, id []byte) ([]host.Host6, error) {
	return s.r.ByID6(ctx, t, id)
}

// store6 writes a DHCPv6 host database.
type store6 struct{ s host.Store6 }

func (s store6) add(ctx context.Context, h host.Host6) error { return s.s.Add6(ctx, h) }

func (s store6) del(ctx context.Context, a *args) (bool, error) {
	if a.byAddr {
		return s.s.DelByAddr6(ctx, a.subnet, a.addr)
	}
	return s.s.Del6(ctx, a.subnet, a.idType, a.id)
}

func (s store6) readOnly() bool { return s.s.ReadOnly() }

// host6JSON is Kea's rendering of a DHCPv6 host (Host::toElement6), with
// the subnet-id the commands add.
func host6JSON(h *host.Host6) map[string]any {
	r := h.Res
	m := map[string]any{}
	t, id := host.Identifier6(r)
	setIdentifier(m, t, id)
	addrs := make([]string, 0, len(r.IPAddresses))
	for _, a := range r.IPAddresses {
		addrs = append(addrs, a.String())
	}
	prefixes := make([]string, 0, len(r.Prefixes))
	for _, p := range r.Prefixes {
		prefixes = append(prefixes, p.String())
	}
	m["ip-addresses"] = addrs
	m["prefixes"] = prefixes
	m["hostname"] = r.Hostname
	m["client-classes"] = classList(r.ClientClasses)
	opts := make([]map[string]any, 0, len(r.Options))
	for _, o := range r.Options {
		space := o.Space
		switch {
		case o.VendorSpace:
			space = optiondef.VendorSpace(o.Vendor)
		case space == "":
			space = optiondef.Space6
		}
		opts = append(opts, optionJSON(o.Code, o.Name, space, o.Data, o.AlwaysSend))
	}
	m["option-data"] = opts
	if len(h.UserContext) > 0 {
		m["user-context"] = h.UserContext
	}
	m["subnet-id"] = r.SubnetID
	return m
}
