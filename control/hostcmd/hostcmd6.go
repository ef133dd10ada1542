package hostcmd

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"

	"xdhcp/config"
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
		sources: []reader[host.Host6]{reader6(host.FromConfig6(cfg))},
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
		f.sources = append(f.sources, reader6(d))
		f.dbs = append(f.dbs, writer[host.Host6]{add: d.Add6, del: func(ctx context.Context, a *args) (bool, error) {
			if a.byAddr {
				return d.DelByAddr6(ctx, a.subnet, a.addr)
			}
			return d.Del6(ctx, a.subnet, a.idType, a.id)
		}, readOnly: d.ReadOnly})
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
func reader6(r host.Reader6) reader[host.Host6] {
	return reader[host.Host6]{all: r.All6, page: r.Page6, byHostname: r.ByHostname6, byID: r.ByID6,
		get: func(ctx context.Context, a *args) (*host.Host6, error) {
			var res *config.Reservation6
			var err error
			if a.byAddr {
				res, err = r.GetByAddr6(ctx, a.subnet, a.addr)
			} else {
				res, err = r.Get6(ctx, a.subnet, a.idType, a.id)
			}
			if err != nil || res == nil {
				return nil, err
			}
			// The lookups the engine uses return the reservation alone:
			// its user context comes with the host's full record.
			t, id := host.Identifier6(res)
			hs, err := r.ByID6(ctx, t, id)
			if err != nil {
				return nil, err
			}
			for i := range hs {
				if hs[i].Res.SubnetID == res.SubnetID {
					return &hs[i], nil
				}
			}
			return &host.Host6{Res: res}, nil
		}}
}

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
		opts = append(opts, optionJSON(o.Code, o.Name, o.OptionSpace(), o.Data, o.AlwaysSend))
	}
	m["option-data"] = opts
	if len(h.UserContext) > 0 {
		m["user-context"] = h.UserContext
	}
	m["subnet-id"] = r.SubnetID
	return m
}
