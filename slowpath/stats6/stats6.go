// Package stats6 keeps the statistics Kea 2.2's kea-dhcp6 keeps about
// DHCPv6 leases, under its names: per subnet subnet[id].total-nas,
// assigned-nas, cumulative-assigned-nas, total-pds, assigned-pds,
// cumulative-assigned-pds, declined-addresses, reclaimed-leases and
// reclaimed-declined-addresses, and the global cumulative-assigned-nas,
// cumulative-assigned-pds, declined-addresses, reclaimed-leases and
// reclaimed-declined-addresses. The DHCPv6 server feeds it the lease
// changes it commits (and the lease6 commands theirs, through Changed); a
// recount from the store sets the gauges after loading, as Kea does.
package stats6

import (
	"fmt"
	"math"
	"sync"

	"xdhcp/internal/stats"
	"xdhcp/lease"
)

// subnet holds one subnet's statistics.
type subnet struct {
	totalNAs, assignedNAs, cumulativeNAs *stats.Stat
	totalPDs, assignedPDs, cumulativePDs *stats.Stat
	declined, reclaimed, reclaimedDecl   *stats.Stat
}

// Leases are the DHCPv6 lease statistics. Its methods are safe for
// concurrent use.
type Leases struct {
	r                            *stats.Registry
	cumulativeNAs, cumulativePDs *stats.Stat
	declined                     *stats.Stat
	reclaimed, reclaimedDecl     *stats.Stat

	mu      sync.RWMutex
	subnets map[uint32]*subnet
}

// New registers the global statistics in r.
func New(r *stats.Registry) *Leases {
	return &Leases{
		r:             r,
		cumulativeNAs: r.Counter("cumulative-assigned-nas"),
		cumulativePDs: r.Counter("cumulative-assigned-pds"),
		declined:      r.Gauge("declined-addresses"),
		reclaimed:     r.Counter("reclaimed-leases"),
		reclaimedDecl: r.Counter("reclaimed-declined-addresses"),
		subnets:       make(map[uint32]*subnet),
	}
}

// SetSubnet declares configured subnet id with the number of addresses in
// its pools and of delegated prefixes in its pd-pools (counts beyond the
// statistic's range read as its maximum).
func (s *Leases) SetSubnet(id uint32, totalNAs, totalPDs uint64) {
	sn := s.subnet(id)
	sn.totalNAs.Set(clamp(totalNAs))
	sn.totalPDs.Set(clamp(totalPDs))
}

func clamp(v uint64) int64 {
	if v > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}

// subnet returns the statistics of subnet id, registering them on first
// use.
func (s *Leases) subnet(id uint32) *subnet {
	s.mu.RLock()
	sn := s.subnets[id]
	s.mu.RUnlock()
	if sn != nil {
		return sn
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sn = s.subnets[id]; sn != nil {
		return sn
	}
	n := func(name string) string { return fmt.Sprintf("subnet[%d].%s", id, name) }
	sn = &subnet{
		totalNAs: s.r.Gauge(n("total-nas")), assignedNAs: s.r.Gauge(n("assigned-nas")),
		cumulativeNAs: s.r.Counter(n("cumulative-assigned-nas")),
		totalPDs:      s.r.Gauge(n("total-pds")), assignedPDs: s.r.Gauge(n("assigned-pds")),
		cumulativePDs: s.r.Counter(n("cumulative-assigned-pds")),
		declined:      s.r.Gauge(n("declined-addresses")), reclaimed: s.r.Counter(n("reclaimed-leases")),
		reclaimedDecl: s.r.Counter(n("reclaimed-declined-addresses")),
	}
	s.subnets[id] = sn
	return sn
}

// counts is what one lease contributes to the gauges: Kea counts a lease
// as assigned unless it is expired-reclaimed, and a declined address also
// as declined.
func counts(l *lease.Lease6) (nas, pds, declined int64) {
	if l == nil || l.State == lease.StateExpiredReclaimed {
		return 0, 0, 0
	}
	if l.Type == lease.TypePD {
		return 0, 1, 0
	}
	if l.Type != lease.TypeNA {
		return 0, 0, 0
	}
	if l.State == lease.StateDeclined {
		return 1, 0, 1
	}
	return 1, 0, 0
}

func (s *Leases) add(l *lease.Lease6, sign int64) {
	nas, pds, decl := counts(l)
	if nas|pds|decl == 0 {
		return
	}
	sn := s.subnet(l.SubnetID)
	sn.assignedNAs.Add(sign * nas)
	sn.assignedPDs.Add(sign * pds)
	sn.declined.Add(sign * decl)
	s.declined.Add(sign * decl)
}

// Changed adjusts the gauges for a lease that went from old to new (nil:
// none), as committed by the server or a lease command.
func (s *Leases) Changed(old, new *lease.Lease6) {
	s.add(old, -1)
	s.add(new, 1)
}

// Assigned counts a lease newly handed to a client (cumulative-assigned-
// nas or -pds, globally and in its subnet). The gauges move through
// Changed.
func (s *Leases) Assigned(l *lease.Lease6) {
	sn := s.subnet(l.SubnetID)
	switch l.Type {
	case lease.TypeNA:
		sn.cumulativeNAs.Inc()
		s.cumulativeNAs.Inc()
	case lease.TypePD:
		sn.cumulativePDs.Inc()
		s.cumulativePDs.Inc()
	}
}

// Reclaimed counts a lease reclaimed after it expired (or its decline
// probation ended: reclaimed-declined-addresses too). The gauges move
// through Changed.
func (s *Leases) Reclaimed(l *lease.Lease6) {
	sn := s.subnet(l.SubnetID)
	sn.reclaimed.Inc()
	s.reclaimed.Inc()
	if l.State == lease.StateDeclined {
		sn.reclaimedDecl.Inc()
		s.reclaimedDecl.Inc()
	}
}

// Recount sets assigned-nas, assigned-pds and declined-addresses of every
// subnet, and the global declined-addresses, from the leases in r, as Kea
// recounts after loading its leases or a new configuration.
func (s *Leases) Recount(r lease.Reader6) {
	type tally struct{ nas, pds, declined int64 }
	per := map[uint32]*tally{}
	r.Range(func(l *lease.Lease6) bool {
		nas, pds, decl := counts(l)
		t := per[l.SubnetID]
		if t == nil {
			t = &tally{}
			per[l.SubnetID] = t
		}
		t.nas += nas
		t.pds += pds
		t.declined += decl
		return true
	})
	s.mu.RLock()
	ids := make([]uint32, 0, len(s.subnets)+len(per))
	for id := range s.subnets {
		ids = append(ids, id)
	}
	s.mu.RUnlock()
	var declined int64
	for id, t := range per {
		ids = append(ids, id)
		declined += t.declined
	}
	for _, id := range ids {
		t := per[id]
		if t == nil {
			t = &tally{}
		}
		sn := s.subnet(id)
		sn.assignedNAs.Set(t.nas)
		sn.assignedPDs.Set(t.pds)
		sn.declined.Set(t.declined)
	}
	s.declined.Set(declined)
}
