package host

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"slices"
	"strings"

	"xdhcp/config"
)

// Host6 is a DHCPv6 reservation as a source holds it (see Host).
type Host6 struct {
	ID          uint64
	Res         *config.Reservation6
	UserContext json.RawMessage
}

// Reader6 is what the reservation commands read from every DHCPv6
// source, as Reader is for DHCPv4.
type Reader6 interface {
	Source6
	// All6 returns the reservations of subnet (0: global), by ID.
	All6(ctx context.Context, subnet uint32) ([]Host6, error)
	// Page6 returns up to limit reservations whose ID is above from, by
	// ID, in subnet when subnet is not nil.
	Page6(ctx context.Context, subnet *uint32, from uint64, limit int) ([]Host6, error)
	// ByHostname6 returns the reservations whose hostname is hostname in
	// any letter case, in subnet when subnet is not nil.
	ByHostname6(ctx context.Context, hostname string, subnet *uint32) ([]Host6, error)
	// ByID6 returns the DHCPv6 reservations of the identifier in every
	// subnet.
	ByID6(ctx context.Context, t IDType, id []byte) ([]Host6, error)
}

// Store6 is a DHCPv6 source the reservation commands also write.
type Store6 interface {
	Reader6
	// Add6 stores h; ErrExists when its identifier or (with unique
	// reservations) one of its addresses or prefixes is already reserved
	// in its subnet.
	Add6(ctx context.Context, h Host6) error
	// Del6 deletes the reservation of the identifier in subnet.
	Del6(ctx context.Context, subnet uint32, t IDType, id []byte) (bool, error)
	// DelByAddr6 deletes the reservation of the address or prefix
	// starting at addr in subnet.
	DelByAddr6(ctx context.Context, subnet uint32, addr netip.Addr) (bool, error)
	// ReadOnly reports whether the database was configured readonly.
	ReadOnly() bool
}

// Identifier6 returns the kind and value of r's identifier.
func Identifier6(r *config.Reservation6) (IDType, []byte) {
	switch {
	case r.DUID != nil:
		return DUID, r.DUID
	case r.HWAddr != nil:
		return HWAddr, r.HWAddr
	default:
		return FlexID, r.FlexID
	}
}

// Configured6 is the Dhcp6 configuration's reservations as a Reader6,
// numbered as Configured numbers DHCPv4's.
type Configured6 struct {
	hosts []Host6
}

var _ Reader6 = (*Configured6)(nil)

// FromConfig6 returns the reservations of cfg.
func FromConfig6(cfg *config.Config6) *Configured6 {
	c := &Configured6{}
	all := slices.Clone(cfg.Reservations)
	for _, s := range cfg.Subnets {
		all = append(all, s.Reservations...)
	}
	for i, r := range all {
		c.hosts = append(c.hosts, Host6{ID: uint64(i + 1), Res: r})
	}
	return c
}

func (c *Configured6) find(keep func(*config.Reservation6) bool) []Host6 {
	return filter(c.hosts, func(h *Host6) bool { return keep(h.Res) })
}

// Get6 implements Source6.
func (c *Configured6) Get6(_ context.Context, subnet uint32, t IDType, id []byte) (*config.Reservation6, error) {
	for _, h := range c.hosts {
		if rt, rid := Identifier6(h.Res); h.Res.SubnetID == subnet && rt == t && bytes.Equal(rid, id) {
			return h.Res, nil
		}
	}
	return nil, nil
}

// GetByAddr6 implements Source6.
func (c *Configured6) GetByAddr6(_ context.Context, subnet uint32, addr netip.Addr) (*config.Reservation6, error) {
	hs := c.find(func(r *config.Reservation6) bool { return r.SubnetID == subnet && Reserves6(r, addr) })
	if len(hs) == 0 {
		return nil, nil
	}
	return hs[0].Res, nil
}

// Reserves6 reports whether r reserves the address addr or the prefix
// starting at addr.
func Reserves6(r *config.Reservation6, addr netip.Addr) bool {
	return slices.Contains(r.IPAddresses, addr) || slices.ContainsFunc(r.Prefixes, func(p netip.Prefix) bool { return p.Addr() == addr })
}

// All6 implements Reader6.
func (c *Configured6) All6(_ context.Context, subnet uint32) ([]Host6, error) {
	return c.find(func(r *config.Reservation6) bool { return r.SubnetID == subnet }), nil
}

// Page6 implements Reader6.
func (c *Configured6) Page6(_ context.Context, subnet *uint32, from uint64, limit int) ([]Host6, error) {
	return page(c.hosts, func(h *Host6) uint64 { return h.ID }, func(h *Host6) uint32 { return h.Res.SubnetID }, subnet, from, limit), nil
}

// ByHostname6 implements Reader6.
func (c *Configured6) ByHostname6(_ context.Context, hostname string, subnet *uint32) ([]Host6, error) {
	return c.find(func(r *config.Reservation6) bool {
		return strings.EqualFold(r.Hostname, hostname) && (subnet == nil || r.SubnetID == *subnet)
	}), nil
}

// ByID6 implements Reader6.
func (c *Configured6) ByID6(_ context.Context, t IDType, id []byte) ([]Host6, error) {
	return c.find(func(r *config.Reservation6) bool {
		rt, rid := Identifier6(r)
		return rt == t && bytes.Equal(rid, id)
	}), nil
}
