package slowpath

import (
	"fmt"
	"math/rand/v2"
	"net/netip"

	"xdhcp/config"
	"xdhcp/internal/stats"
	"xdhcp/lease"
	"xdhcp/slowpath/alloc"
)

// liveConfig is the running configuration with everything the server
// derives from it: allocators per pool, reservation indexes, per-subnet
// statistics. It is built whole and replaced whole.
type liveConfig struct {
	cfg     *config.Config
	subnets []*subnetRT
	byID    map[uint32]*subnetRT
	hosts   map[hostKey]*config.Reservation
	// reservedIP maps a reserved address to its reservation.
	reservedIP map[netip.Addr]*config.Reservation
	// deferred are classes whose test depends on KNOWN/UNKNOWN: they are
	// evaluated after the reservation lookup, as Kea does.
	early, deferred []*config.Class
	hasDropClass    bool
	// serverIDs are the configured dhcp-server-identifier addresses.
	serverIDs map[netip.Addr]bool
}

type subnetRT struct {
	cfg   *config.Subnet
	pools []*poolRT
	// link is this subnet's shared network members in order (itself alone
	// when it is in none).
	link []*subnetRT
	st   subnetStats
}

type poolRT struct {
	cfg   config.Pool
	alloc *alloc.Pool
}

// hostKey indexes reservations by identifier within a subnet (0 = global).
type hostKey struct {
	subnet uint32
	kind   byte // 'h' hw-address, 'c' client-id, 'r' circuit-id, 'd' duid, 'f' flex-id
	id     string
}

type hostMatch struct {
	res *config.Reservation
}

// buildLiveConfig derives a live configuration from cfg and marks every
// address the store holds (and every held offer) as used in the new
// allocators.
func buildLiveConfig(cfg *config.Config, store lease.Store, reg *stats.Registry, offers *offerTable) (*liveConfig, error) {
	rt := &liveConfig{
		cfg:        cfg,
		byID:       make(map[uint32]*subnetRT, len(cfg.Subnets)),
		hosts:      make(map[hostKey]*config.Reservation),
		reservedIP: make(map[netip.Addr]*config.Reservation),
		serverIDs:  configuredServerIDs(cfg),
	}
	for _, sn := range cfg.Subnets {
		s := &subnetRT{cfg: sn}
		for _, p := range sn.Pools {
			a, err := alloc.NewPool(p.First, p.Last)
			if err != nil {
				return nil, fmt.Errorf("subnet %d pool %s-%s: %w", sn.ID, p.First, p.Last, err)
			}
			if sh, ok := store.(lease.Shared); ok && sh.SharedWithOtherServers() {
				a.StartAt(rand.Uint64())
			}
			s.pools = append(s.pools, &poolRT{cfg: p, alloc: a})
		}
		s.st = newSubnetStats(reg, sn.ID)
		rt.subnets = append(rt.subnets, s)
		rt.byID[sn.ID] = s
	}
	// Shared networks: every member sees the whole link.
	for _, s := range rt.subnets {
		if s.cfg.SharedNetwork == nil {
			s.link = []*subnetRT{s}
			continue
		}
		for _, m := range s.cfg.SharedNetwork.Subnets {
			if ms := rt.byID[m.ID]; ms != nil {
				s.link = append(s.link, ms)
			}
		}
	}
	addHost := func(subnet uint32, r *config.Reservation) {
		switch {
		case len(r.HWAddr) > 0:
			rt.hosts[hostKey{subnet, 'h', string(r.HWAddr)}] = r
		case len(r.ClientID) > 0:
			rt.hosts[hostKey{subnet, 'c', string(r.ClientID)}] = r
		case len(r.CircuitID) > 0:
			rt.hosts[hostKey{subnet, 'r', string(r.CircuitID)}] = r
		case len(r.DUID) > 0:
			rt.hosts[hostKey{subnet, 'd', string(r.DUID)}] = r
		case len(r.FlexID) > 0:
			rt.hosts[hostKey{subnet, 'f', string(r.FlexID)}] = r
		}
		if r.IP.IsValid() {
			rt.reservedIP[r.IP] = r
		}
	}
	for _, r := range cfg.Reservations {
		addHost(0, r)
	}
	for _, s := range rt.subnets {
		for _, r := range s.cfg.Reservations {
			addHost(s.cfg.ID, r)
			// An in-pool reserved address is never handed to anyone else,
			// unless the operator promised reservations are out of pool.
			if r.IP.IsValid() && !s.cfg.ReservationsOutOfPool {
				if p := s.poolFor(r.IP); p != nil {
					p.alloc.Claim(r.IP)
				}
			}
		}
	}
	rt.early, rt.deferred = splitClasses(cfg.Classes)
	for _, c := range cfg.Classes {
		if c.Name == "DROP" {
			rt.hasDropClass = true
		}
	}

	// Mark what the store holds and recount the statistics, as Kea does on
	// every (re)configuration.
	for _, s := range rt.subnets {
		var total uint64
		for _, p := range s.pools {
			total += p.alloc.Size()
		}
		s.st.total.Set(int64(total))
		s.st.assigned.Set(0)
		s.st.declined.Set(0)
	}
	var declined int64
	store.Range(func(l *lease.Lease) bool {
		s := rt.byID[l.SubnetID]
		if s == nil || l.State == lease.StateExpiredReclaimed {
			return true
		}
		if p := s.poolFor(l.Addr); p != nil {
			p.alloc.Claim(l.Addr)
		}
		s.st.assigned.Inc()
		if l.State == lease.StateDeclined {
			s.st.declined.Inc()
			declined++
		}
		return true
	})
	// The global count is recounted too (as Kea does): reclaiming a
	// declined lease the store held at start lowers it.
	reg.Gauge("declined-addresses").Set(declined)
	if offers != nil {
		offers.each(func(a netip.Addr) {
			if s := rt.subnetFor(a); s != nil {
				if p := s.poolFor(a); p != nil {
					p.alloc.Claim(a)
				}
			}
		})
	}
	return rt, nil
}

// evaluatedEarly reports whether class name is one of those evaluated on
// arrival.
func (rt *liveConfig) evaluatedEarly(name string) bool {
	for _, c := range rt.early {
		if c.Name == name {
			return true
		}
	}
	return false
}

// poolFor returns the pool holding a, or nil.
func (s *subnetRT) poolFor(a netip.Addr) *poolRT {
	for _, p := range s.pools {
		if p.alloc.Contains(a) {
			return p
		}
	}
	return nil
}

// subnetFor returns the subnet whose prefix holds a, or nil.
func (rt *liveConfig) subnetFor(a netip.Addr) *subnetRT {
	for _, s := range rt.subnets {
		if s.cfg.Prefix.Contains(a) {
			return s
		}
	}
	return nil
}

// poolFor finds the pool holding a in any subnet.
func (rt *liveConfig) poolFor(a netip.Addr) *poolRT {
	if s := rt.subnetFor(a); s != nil {
		return s.poolFor(a)
	}
	return nil
}

// duidOf is the DUID inside an RFC 4361 client identifier (type 255, a
// 4-byte IAID, then the DUID), nil for any other client identifier.
func duidOf(cid []byte) []byte {
	if len(cid) > 5 && cid[0] == 0xff {
		return cid[5:]
	}
	return nil
}

// splitClasses sorts the classes evaluated on arrival into those evaluated
// before the reservation lookup and those after it: a class depends on the
// lookup when its test names KNOWN or UNKNOWN, or a class that depends on
// it (Kea's depend-on-known, which follows member() references). Classes
// evaluated only when required are in neither list.
func splitClasses(classes []*config.Class) (early, deferred []*config.Class) {
	late := map[string]bool{"KNOWN": true, "UNKNOWN": true}
	for _, c := range classes {
		if c.Test == nil {
			continue
		}
		for _, ref := range c.Test.Refs() {
			if late[ref] {
				late[c.Name] = true
			}
		}
		if c.OnlyIfRequired {
			continue
		}
		if late[c.Name] {
			deferred = append(deferred, c)
		} else {
			early = append(early, c)
		}
	}
	return early, deferred
}
