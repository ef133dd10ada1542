package slowpath6

import (
	"bytes"
	"encoding/binary"

	"xdhcp/dhcp6"
	"xdhcp/handoff"
)

// completeCached fills in, around the bindings bind collected, what the
// fast path needs to repeat this Reply for the client's next Renew or
// Rebind (see handoff.CachedLease6), and reports whether the bindings may
// be published at all: only with the subnets' cache-threshold or
// cache-max-age configured (else Kea reuses nothing), the same cache
// parameters for every IA, no more relays than the fast path wraps, and
// no client classes configured (their tests may read fields a Renew
// legitimately changes, such as the message type, which the fingerprint
// leaves out).
func (ex *exchange) completeCached() bool {
	c := &ex.cached
	if ex.p.NRelays > maxCachedRelays || len(ex.rt.cfg.Classes) != 0 || len(c.IAs) == 0 {
		return false
	}
	fp, ok := handoff.Fingerprint6(ex.pkt.Data)
	if !ok {
		return false
	}
	first := ex.rt.byID[c.IAs[0].SubnetID]
	if first == nil || first.cfg.CacheThreshold == nil && first.cfg.CacheMaxAge == nil {
		return false
	}
	for i := range c.IAs {
		ia := &c.IAs[i]
		sn := ex.rt.byID[ia.SubnetID]
		if sn == nil || !sameCache(sn.cfg.CacheThreshold, first.cfg.CacheThreshold) ||
			!sameMaxAge(sn.cfg.CacheMaxAge, first.cfg.CacheMaxAge) {
			return false
		}
		tm := sn.cfg.Timers
		ia.HasT1, ia.HasT2, ia.CalcTee = tm.RenewTimer != nil, tm.RebindTimer != nil, tm.CalculateTeeTimes
		ia.RenewTimer, ia.RebindTimer = derefU32(tm.RenewTimer), derefU32(tm.RebindTimer)
		ia.T1Pct, ia.T2Pct = tm.T1Percent, tm.T2Percent
		for j := range ia.Leases {
			l := &ia.Leases[j]
			l.NewValid, l.MinValid, l.MaxValid = sn.cfg.Valid.Valid, sn.cfg.Valid.Min, sn.cfg.Valid.Max
			l.NewPreferred, l.MinPreferred, l.MaxPreferred = sn.cfg.Preferred.Valid, sn.cfg.Preferred.Min, sn.cfg.Preferred.Max
		}
	}
	c.DUID, c.ServerDUID, c.IfIndex, c.Fingerprint = ex.duid, ex.s.duid, ex.pkt.IfIndex, fp
	c.Threshold, c.MaxAge = 0, -1
	if t := first.cfg.CacheThreshold; t != nil {
		c.Threshold = *t
	}
	if a := first.cfg.CacheMaxAge; a != nil {
		c.MaxAge = int64(*a)
	}
	return ex.cachedOptions()
}

// maxCachedRelays is the deepest relay chain the fast path answers
// through (its XDP program enters as many).
const maxCachedRelays = 8

// cachedOptions copies from the Reply sent (out: with its Relay-reply
// wrappers) what the fast path repeats: the wrappers, the top-level
// options but the client and server identifiers, IAs and rapid commit,
// each IA's own options but its addresses and prefixes, and each lease's
// options.
func (ex *exchange) cachedOptions() bool {
	c := &ex.cached
	var reply dhcp6.Packet
	if reply.Parse(ex.out.B) != nil {
		return false
	}
	c.Relays = c.Relays[:0]
	for _, r := range reply.Chain() {
		cr := handoff.CachedRelay6{HopCount: r.HopCount, LinkAddr: r.LinkAddr, PeerAddr: r.PeerAddr}
		for it := r.Options.Iter(); it.Next(); {
			if it.Code != dhcp6.OptRelayMsg {
				cr.Options = appendOption6(cr.Options, it.Code, it.Data)
			}
		}
		c.Relays = append(c.Relays, cr)
	}
	c.Options = c.Options[:0]
	for it := reply.Msg.Options.Iter(); it.Next(); {
		switch it.Code {
		case dhcp6.OptClientID, dhcp6.OptServerID, dhcp6.OptIATA, dhcp6.OptRapidCommit:
		case dhcp6.OptIANA, dhcp6.OptIAPD:
			if !cachedIAOptions(c, it.Code, it.Data) {
				return false
			}
		default:
			c.Options = appendOption6(c.Options, it.Code, it.Data)
		}
	}
	return true
}

// cachedIAOptions copies the options of the Reply's IA (code, data) into
// the matching cached IA.
func cachedIAOptions(c *handoff.CachedLease6, code uint16, data []byte) bool {
	ia, err := dhcp6.ParseIA(code, data)
	if err != nil {
		return false
	}
	var cia *handoff.CachedIA6
	for i := range c.IAs {
		if c.IAs[i].Type == code && c.IAs[i].IAID == ia.IAID {
			cia = &c.IAs[i]
		}
	}
	if cia == nil {
		return true // an IA answered without a binding of this client's: not cached
	}
	cia.Options = nil
	for it := ia.Options.Iter(); it.Next(); {
		var addr [16]byte
		var plen uint8
		var opts []byte
		switch it.Code {
		case dhcp6.OptIAAddr:
			a, err := dhcp6.ParseIAAddr(it.Data)
			if err != nil {
				return false
			}
			addr, plen, opts = a.Addr, 128, a.Options
		case dhcp6.OptIAPrefix:
			p, err := dhcp6.ParseIAPrefix(it.Data)
			if err != nil {
				return false
			}
			addr, plen, opts = p.Prefix, p.Len, p.Options
		default:
			cia.Options = appendOption6(cia.Options, it.Code, it.Data)
			continue
		}
		for j := range cia.Leases {
			if l := &cia.Leases[j]; l.Addr == addr && l.PrefixLen == plen {
				l.Options = bytes.Clone(opts)
			}
		}
	}
	return true
}

func appendOption6(b []byte, code uint16, data []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, code)
	b = binary.BigEndian.AppendUint16(b, uint16(len(data)))
	return append(b, data...)
}

func sameCache(a, b *float64) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }

func sameMaxAge(a, b *uint32) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }

func derefU32(p *uint32) uint32 {
	if p == nil {
		return 0
	}
	return *p
}
