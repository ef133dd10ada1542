package host

import (
	"bytes"
	"context"
	"net/netip"
	"strings"

	"xdhcp/config"
)

// Configured is the configuration's reservations as a Reader: the first
// source, as in Kea. Its IDs number the reservations from 1, the global
// ones first, then each subnet's in the configuration's order.
type Configured struct {
	hosts []Host
}

var _ Reader = (*Configured)(nil)

// FromConfig returns the reservations of cfg.
func FromConfig(cfg *config.Config) *Configured {
	c := &Configured{}
	add := func(r *config.Reservation) {
		c.hosts = append(c.hosts, Host{ID: uint64(len(c.hosts) + 1), Res: r})
	}
	for _, r := range cfg.Reservations {
		add(r)
	}
	for _, s := range cfg.Subnets {
		for _, r := range s.Reservations {
			add(r)
		}
	}
	return c
}

func (c *Configured) find(keep func(*config.Reservation) bool) []Host {
	return filter(c.hosts, func(h *Host) bool { return keep(h.Res) })
}

// filter returns the hosts keep keeps, in order.
func filter[H any](hs []H, keep func(*H) bool) []H {
	var out []H
	for i := range hs {
		if keep(&hs[i]) {
			out = append(out, hs[i])
		}
	}
	return out
}

// page returns up to limit hosts whose ID is above from, in subnet when
// subnet is not nil (hs are by ID); id and sub read a host's ID and
// subnet.
func page[H any](hs []H, id func(*H) uint64, sub func(*H) uint32, subnet *uint32, from uint64, limit int) []H {
	var out []H
	for i := range hs {
		if len(out) >= limit {
			break
		}
		if id(&hs[i]) > from && (subnet == nil || sub(&hs[i]) == *subnet) {
			out = append(out, hs[i])
		}
	}
	return out
}

// Get4 implements Source.
func (c *Configured) Get4(_ context.Context, subnet uint32, t IDType, id []byte) (*config.Reservation, error) {
	for _, h := range c.hosts {
		if h.Res.SubnetID == subnet && matches(h.Res, t, id) {
			return h.Res, nil
		}
	}
	return nil, nil
}

// GetByAddr4 implements Source.
func (c *Configured) GetByAddr4(_ context.Context, subnet uint32, addr netip.Addr) ([]*config.Reservation, error) {
	var out []*config.Reservation
	for _, h := range c.find(func(r *config.Reservation) bool { return r.SubnetID == subnet && r.IP == addr }) {
		out = append(out, h.Res)
	}
	return out, nil
}

// All4 implements Reader.
func (c *Configured) All4(_ context.Context, subnet uint32) ([]Host, error) {
	return c.find(func(r *config.Reservation) bool { return r.SubnetID == subnet }), nil
}

// Page4 implements Reader.
func (c *Configured) Page4(_ context.Context, subnet *uint32, from uint64, limit int) ([]Host, error) {
	return page(c.hosts, func(h *Host) uint64 { return h.ID }, func(h *Host) uint32 { return h.Res.SubnetID }, subnet, from, limit), nil
}

// ByHostname4 implements Reader.
func (c *Configured) ByHostname4(_ context.Context, hostname string, subnet *uint32) ([]Host, error) {
	return c.find(func(r *config.Reservation) bool {
		return strings.EqualFold(r.Hostname, hostname) && (subnet == nil || r.SubnetID == *subnet)
	}), nil
}

// ByID implements Reader.
func (c *Configured) ByID(_ context.Context, t IDType, id []byte) ([]Host, error) {
	return c.find(func(r *config.Reservation) bool { return matches(r, t, id) }), nil
}

// matches reports whether r's identifier is (t, id).
func matches(r *config.Reservation, t IDType, id []byte) bool {
	rt, rid := Identifier(r)
	return rt == t && bytes.Equal(rid, id)
}
