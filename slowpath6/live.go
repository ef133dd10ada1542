package slowpath6

import (
	"math/rand/v2"
	"net/netip"

	"xdhcp/config"
	"xdhcp/internal/stats"
	"xdhcp/lease"
	"xdhcp/slowpath/stats6"
)

// live is the configuration the workers run with, indexed: subnets with
// their pools and allocation cursors, reservations by identifier.
type live struct {
	cfg     *config.Config6
	subnets []*subnet
	byID    map[uint32]*subnet
	// global reservations by identifier.
	global reservations
}

type subnet struct {
	cfg *config.Subnet6
	na  []*pool
	pd  []*pool
	st  *subnetStats
	res reservations
}

// reservations index Reservation6 entries by identifier, and the
// addresses and prefixes they set aside.
type reservations struct {
	byDUID map[string]*config.Reservation6
	byHW   map[string]*config.Reservation6
	byFlex map[string]*config.Reservation6
	byAddr map[netip.Addr]*config.Reservation6
}

func (r *reservations) add(h *config.Reservation6) {
	if r.byDUID == nil {
		r.byDUID = make(map[string]*config.Reservation6)
		r.byHW = make(map[string]*config.Reservation6)
		r.byFlex = make(map[string]*config.Reservation6)
		r.byAddr = make(map[netip.Addr]*config.Reservation6)
	}
	switch {
	case h.DUID != nil:
		r.byDUID[string(h.DUID)] = h
	case h.HWAddr != nil:
		r.byHW[string(h.HWAddr)] = h
	case h.FlexID != nil:
		r.byFlex[string(h.FlexID)] = h
	}
	for _, a := range h.IPAddresses {
		r.byAddr[a] = h
	}
	for _, p := range h.Prefixes {
		r.byAddr[p.Addr()] = h
	}
}

// lookup finds the reservation of a client by DUID, hardware address or
// flex-id (nil: the flex-id hook gave none).
func (r *reservations) lookup(duid, hw, flex []byte) *config.Reservation6 {
	if r.byDUID == nil {
		return nil
	}
	if h, ok := r.byDUID[string(duid)]; ok {
		return h
	}
	if len(hw) > 0 {
		if h, ok := r.byHW[string(hw)]; ok {
			return h
		}
	}
	if len(flex) > 0 {
		if h, ok := r.byFlex[string(flex)]; ok {
			return h
		}
	}
	return nil
}

func buildLive(cfg *config.Config6, store lease.Store6, reg *stats.Registry, leases *stats6.Leases) (*live, error) {
	rt := &live{cfg: cfg, byID: make(map[uint32]*subnet)}
	for _, h := range cfg.Reservations {
		rt.global.add(h)
	}
	for _, sc := range cfg.Subnets {
		sn := &subnet{cfg: sc, st: newSubnetStats(reg, sc.ID)}
		for i := range sc.Pools {
			sn.na = append(sn.na, newAddrPool(&sc.Pools[i]))
		}
		for i := range sc.PDPools {
			sn.pd = append(sn.pd, newPDPool(&sc.PDPools[i]))
		}
		for _, h := range sc.Reservations {
			sn.res.add(h)
		}
		if sh, ok := store.(lease.Shared); ok && sh.SharedWithOtherServers() {
			// Servers sharing a database would otherwise all offer the
			// same candidates first, and most commits would conflict.
			for _, p := range append(append([]*pool(nil), sn.na...), sn.pd...) {
				p.startAt(u128{rand.Uint64(), rand.Uint64()})
			}
		}
		var nas, pds int64
		for _, p := range sn.na {
			nas = satAdd(nas, p.capacity())
		}
		for _, p := range sn.pd {
			pds = satAdd(pds, p.capacity())
		}
		leases.SetSubnet(sc.ID, uint64(nas), uint64(pds))
		rt.subnets = append(rt.subnets, sn)
		rt.byID[sc.ID] = sn
	}
	// The counters of bindings in use are recounted from the store, as
	// Kea recounts them on every configuration.
	leases.Recount(store)
	return rt, nil
}

func satAdd(a, b int64) int64 {
	if a > 1<<63-1-b {
		return 1<<63 - 1
	}
	return a + b
}

// inPool reports whether a (of length plen) is a candidate of one of the
// subnet's pools of type t.
func (sn *subnet) inPool(t lease.Type, a netip.Addr, plen uint8) bool {
	pools := sn.na
	if t == lease.TypePD {
		pools = sn.pd
	}
	for _, p := range pools {
		if p.contains(a, plen) {
			return true
		}
	}
	return false
}

// pdPoolOf is the pd-pool delegating prefix a, or nil.
func (sn *subnet) poolOf(t lease.Type, a netip.Addr, plen uint8) *pool {
	pools := sn.na
	if t == lease.TypePD {
		pools = sn.pd
	}
	for _, p := range pools {
		if p.contains(a, plen) {
			return p
		}
	}
	return nil
}
