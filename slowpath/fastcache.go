package slowpath

import (
	"net/netip"

	"xdhcp/handoff"
	"xdhcp/lease"
)

// publish tells the fast path's lease cache about a lease the slow path
// has just ACKed, with everything it needs to repeat that ACK for a renewal
// while the cache-threshold rules allow reuse: the request's fingerprint
// (so classification and option selection cannot differ) and the options
// this ACK carried.
func (s *Server) publish(rt *liveConfig, sn *subnetRT, r *request, l *lease.Lease, opts []byte, siaddr netip.Addr) {
	if s.cache == nil {
		return
	}
	c := sn.cfg
	if c.CacheThreshold == nil && c.CacheMaxAge == nil {
		// Nothing is ever reusable: renewals go to the slow path.
		return
	}
	if _, sname, file := bootFields(rt, sn, r); sname != "" || file != "" {
		return // the cached reply carries no sname/file
	}
	fp, ok := r.msg.fingerprint()
	if !ok {
		return // the slow path accepted what the fast path cannot read (e.g. split options)
	}
	lt := rt.classLifetimes(sn, r)
	e := handoff.CachedLease{
		Addr:           l.Addr.As4(),
		HWLen:          uint8(min(len(l.HWAddr), 16)),
		ClientID:       l.ClientID,
		IgnoreClientID: !c.MatchClientID,
		SubnetID:       l.SubnetID,
		CLTT:           l.CLTT,
		ValidLft:       l.ValidLft,
		NewValid:       lt.Valid,
		MinValid:       lt.Min,
		MaxValid:       lt.Max,
		MaxAge:         -1,
		RenewTimer:     derefU32(c.Timers.RenewTimer),
		RebindTimer:    derefU32(c.Timers.RebindTimer),
		HasT1:          c.Timers.RenewTimer != nil,
		HasT2:          c.Timers.RebindTimer != nil,
		CalcTee:        c.Timers.CalculateTeeTimes,
		T1Pct:          c.Timers.T1Percent,
		T2Pct:          c.Timers.T2Percent,
		ServerID:       r.pkt.IfAddr.As4(),
		Fingerprint:    fp,
		Options:        stripOptions(opts, optMessageType, optServerID, optLeaseTime, optRenewalTime, optRebindingTime),
	}
	if id, ok := subOption(opts, optServerID); ok && len(id) == 4 {
		e.ServerID = [4]byte(id) // a configured dhcp-server-identifier
	}
	copy(e.HW[:], l.HWAddr)
	if c.CacheThreshold != nil {
		e.Threshold = *c.CacheThreshold
	}
	if c.CacheMaxAge != nil {
		e.MaxAge = int64(*c.CacheMaxAge)
	}
	if siaddr.IsValid() {
		e.Siaddr = siaddr.As4()
	}
	if err := s.cache.Put(&e); err != nil {
		s.log.Debug("lease not cached for the fast path", "addr", l.Addr, "err", err)
	}
}

func (s *Server) forget(a netip.Addr) {
	if s.cache != nil {
		s.cache.Delete(a.As4())
	}
}

func derefU32(p *uint32) uint32 {
	if p == nil {
		return 0
	}
	return *p
}

// stripOptions returns the option sequence b without the listed codes.
func stripOptions(b []byte, drop ...byte) []byte {
	out := make([]byte, 0, len(b))
	for len(b) >= 2 {
		code, n := b[0], int(b[1])
		if len(b) < 2+n {
			break
		}
		keep := true
		for _, d := range drop {
			if code == d {
				keep = false
			}
		}
		if keep {
			out = append(out, b[:2+n]...)
		}
		b = b[2+n:]
	}
	return out
}
