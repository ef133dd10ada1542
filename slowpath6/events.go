package slowpath6

import (
	"net/netip"

	"xdhcp/dhcp6"
	"xdhcp/hooks"
	"xdhcp/lease"
)

// Lease events for forensic logging and run-script, as kea-dhcp6 2.2
// calls its hook points: a Request (or a rapid-commit Solicit) commits its
// leases (leases6_committed); a Renew or Rebind tells lease6_renew or
// lease6_rebind for each lease, then leases6_committed; a Release tells
// lease6_release for each lease, then leases6_committed naming them as
// deleted; a Decline tells lease6_decline with the client's lease, then
// leases6_committed with the declined one.
//
// The forensic record is formatted before the commit and attached to the
// first lease op (hooks.Recorder6), so that the store makes it durable in
// the same group commit as the leases. Listeners are told once the leases
// are durable: before the reply leaves when one of them waits for its own
// write (hooks.ReplyWaiter6), else right after. Without hooks none of
// this runs.

// hooked reports whether anything listens to lease events.
func (s *Server) hooked() bool { return s.events != nil || s.recorder != nil }

// event describes the exchange at point p.
func (ex *exchange) event(p hooks.Point6) *hooks.Event6 {
	e := &hooks.Event6{Point: p, Time: ex.s.now()}
	pkt := ex.pkt
	m := &pkt.Meta
	e.Query = pkt.Data
	e.Iface, e.IfIndex = pkt.IfName, pkt.IfIndex
	e.Local = netip.AddrPortFrom(netip.AddrFrom16(m.DstIP), m.DstPort)
	e.Remote = netip.AddrPortFrom(netip.AddrFrom16(m.SrcIP), m.SrcPort)
	e.RemoteHW = m.SrcMAC
	e.Classes = ex.cls.names
	if ex.sn != nil {
		e.Subnet = hooks.Subnet{ID: ex.sn.cfg.ID, Prefix: ex.sn.cfg.Prefix}
	}
	return e
}

// committedEvent is the exchange's leases6_committed, nil when the
// exchange commits no lease event.
func (ex *exchange) committedEvent() *hooks.Event6 {
	var leases, deleted []lease.Lease6
	for i := range ex.ops {
		if ex.ops[i].Kind == lease.OpDelete {
			deleted = append(deleted, ex.ops[i].Lease)
		} else {
			leases = append(leases, ex.ops[i].Lease)
		}
	}
	switch ex.p.Msg.Type {
	case dhcp6.Solicit, dhcp6.Request, dhcp6.Renew, dhcp6.Rebind, dhcp6.Release, dhcp6.Decline:
	default:
		return nil
	}
	e := ex.event(hooks.Leases6Committed)
	e.Leases, e.Deleted = leases, deleted
	return e
}

// attachRecord formats the exchange's forensic record onto its first op.
func (ex *exchange) attachRecord() {
	rec := ex.s.recorder
	if rec == nil || len(ex.ops) == 0 {
		return
	}
	var b []byte
	if ex.p.Msg.Type == dhcp6.Decline {
		// The declined leases' record names the client that had them.
		e := ex.event(hooks.Lease6Decline)
		e.Leases = ex.declined
		b = rec.AppendRecord6(b, e)
	} else if e := ex.committedEvent(); e != nil {
		b = rec.AppendRecord6(b, e)
	}
	ex.ops[0].Record = b
}

// holdsReply reports whether a listener writes a record of the reply
// itself and waits until it is durable: the listeners are then told
// before the reply leaves.
func (s *Server) holdsReply() bool {
	w, ok := s.events.(hooks.ReplyWaiter6)
	return ok && w.WaitsForReply6()
}

// tellEvents tells the listeners of the committed exchange's events.
func (ex *exchange) tellEvents() {
	ev := ex.s.events
	if ev == nil {
		return
	}
	var per hooks.Point6
	switch ex.p.Msg.Type {
	case dhcp6.Renew:
		per = hooks.Lease6Renew
	case dhcp6.Rebind:
		per = hooks.Lease6Rebind
	case dhcp6.Release:
		per = hooks.Lease6Release
	case dhcp6.Decline:
		per = hooks.Lease6Decline
	}
	if per != 0 {
		leases := ex.declined
		if per != hooks.Lease6Decline {
			leases = nil
			for i := range ex.ops {
				leases = append(leases, ex.ops[i].Lease)
			}
		}
		for i := range leases {
			e := ex.event(per)
			e.Response = ex.out.B
			e.Leases = leases[i : i+1]
			code := uint16(dhcp6.OptIANA)
			if leases[i].Type == lease.TypePD {
				code = dhcp6.OptIAPD
			}
			// Kea passes the reply's IA before its timers are set.
			e.IA = hooks.IA6{Code: code, IAID: leases[i].IAID}
			ev.LeaseEvent6(e)
		}
	}
	if e := ex.committedEvent(); e != nil {
		e.Response = ex.out.B
		ev.LeaseEvent6(e)
	}
}
