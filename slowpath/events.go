package slowpath

import (
	"net/netip"

	"xdhcp/hooks"
	"xdhcp/lease"
)

// Lease events for forensic logging, run-script and the lease log lines.
//
// The forensic record of an exchange that writes a lease is formatted
// before the commit and attached to the lease op (hooks.Recorder), so the
// store makes it durable in the same group commit as the lease. Listeners
// (hooks.Listener) are told once the reply is built. Without hooks none of
// this runs and nothing is allocated.

// eventState is what a REQUEST's completion tells the listeners once the
// ACK is built.
type eventState struct {
	renew, moved bool
	cur          lease.Lease
}

// tells reports whether a listener handles events at p.
func (s *Server) tells(p hooks.Point) bool { return int(p) < len(s.wanted) && s.wanted[p] }

// hooked reports whether anything listens to lease events.
func (s *Server) hooked() bool { return s.events != nil || s.recorder != nil }

// holdsReply reports whether a listener writes the record of a REQUEST's
// reply itself and waits until it is durable (a forensic log line that
// needs the reply, or a renewal by lease reuse, which commits nothing):
// the reply is then built, the listeners told, and only then sent.
func (s *Server) holdsReply(reused bool) bool {
	w, ok := s.events.(hooks.ReplyWaiter)
	return ok && w.WaitsForReply(reused)
}

// newEvent describes the exchange of r at point p in subnet sn (nil: none).
// A request's events are its own, reused (listeners keep nothing of an
// event past their call): a hooked exchange then allocates no event.
func (s *Server) newEvent(r *request, p hooks.Point, sn *subnetRT) *hooks.Event {
	var e *hooks.Event
	if r != nil {
		e = &r.ev.Event
		*e = hooks.Event{Point: p, Time: r.evTime}
		if r.evTime.IsZero() {
			e.Time = s.now()
		}
	} else {
		e = &hooks.Event{Point: p, Time: s.now()}
	}
	if r != nil && r.pkt != nil {
		m := &r.pkt.Meta
		e.Query = r.pkt.Data
		e.Iface, e.IfIndex = r.pkt.IfName, r.pkt.IfIndex
		e.Local = netip.AddrPortFrom(netip.AddrFrom4(m.DstIP), m.DstPort)
		e.Remote = netip.AddrPortFrom(netip.AddrFrom4(m.SrcIP), m.SrcPort)
		e.LocalHW, e.RemoteHW = m.DstMAC, m.SrcMAC
		e.Classes = r.classes
	}
	if sn != nil {
		e.Subnet = hooks.Subnet{ID: sn.cfg.ID, Prefix: sn.cfg.Prefix}
	}
	return e
}

// requestEvent is a request's reusable event, with room for the leases
// it names.
type requestEvent struct {
	hooks.Event
	leases [2]lease.Lease
}

// leases returns l as an event's one lease (slot 0) or deleted lease
// (slot 1), in r's room when there is a request.
func leasesOf(r *request, slot int, l lease.Lease) []lease.Lease {
	if r == nil {
		return []lease.Lease{l}
	}
	r.ev.leases[slot] = l
	return r.ev.leases[slot : slot+1 : slot+1]
}

// attachRecord formats the forensic record of ops (the first op's lease
// granted or freed, a second one's freed) onto the first op.
func (s *Server) attachRecord(r *request, p hooks.Point, sn *subnetRT, ops []lease.Op) {
	if s.recorder == nil || len(ops) == 0 {
		return
	}
	e := s.newEvent(r, p, sn)
	e.Leases = leasesOf(r, 0, ops[0].Lease)
	if len(ops) > 1 {
		e.Deleted = leasesOf(r, 1, ops[1].Lease)
	}
	// Room for a default line or two, so that formatting does not grow
	// the buffer step by step; the request keeps it for its next use.
	if cap(r.record) < 384 {
		r.record = make([]byte, 0, 384)
	}
	r.record = s.recorder.AppendRecord(r.record[:0], e)
	ops[0].Record = r.record
}

// tellLeases tells the listeners of a REQUEST's lease l, answered with
// reply: lease4_renew first when the client renewed its own lease, then
// leases4_committed (with the lease the client moved off, if any).
func (s *Server) tellLeases(r *request, sn *subnetRT, l *lease.Lease, reply []byte, st eventState, reused bool) {
	renew, committed := st.renew && s.tells(hooks.Lease4Renew), s.tells(hooks.Leases4Committed)
	if !renew && !committed {
		return
	}
	if r != nil {
		r.evTime = s.now() // the commit completed: one clock read for both events
	}
	if renew {
		e := s.newEvent(r, hooks.Lease4Renew, sn)
		e.Response, e.Reused = reply, reused
		e.Leases = leasesOf(r, 0, *l)
		s.events.LeaseEvent(e)
	}
	if !committed {
		return
	}
	e := s.newEvent(r, hooks.Leases4Committed, sn)
	e.Response, e.Reused = reply, reused
	e.Leases = leasesOf(r, 0, *l)
	if st.moved {
		e.Deleted = leasesOf(r, 1, st.cur)
	}
	s.events.LeaseEvent(e)
}

// tellLease tells the listeners of one lease event with no reply.
func (s *Server) tellLease(r *request, p hooks.Point, sn *subnetRT, l lease.Lease, remove bool) {
	if !s.tells(p) {
		return
	}
	e := s.newEvent(r, p, sn)
	e.Leases = leasesOf(r, 0, l)
	e.RemoveLease = remove
	s.events.LeaseEvent(e)
}

// tellOffer tells the listeners of an OFFER of addr to r's client.
func (s *Server) tellOffer(r *request, sn *subnetRT, addr netip.Addr, valid uint32, reply []byte) {
	if !s.tells(hooks.Lease4Offer) {
		return
	}
	e := s.newEvent(r, hooks.Lease4Offer, sn)
	e.Response = reply
	e.Leases = leasesOf(r, 0, lease.Lease{Addr: addr, HWAddr: r.hw, ClientID: r.cid, ValidLft: valid, CLTT: e.Time.Unix(), SubnetID: sn.cfg.ID})
	s.events.LeaseEvent(e)
}

// tellFreed tells the listeners of the leases4_committed Kea follows a
// RELEASE with: no lease granted, l deleted. (After a DECLINE it names the
// probation lease as granted.)
func (s *Server) tellFreed(r *request, sn *subnetRT, l lease.Lease) {
	if !s.tells(hooks.Leases4Committed) {
		return
	}
	e := s.newEvent(r, hooks.Leases4Committed, sn)
	e.Deleted = leasesOf(r, 1, l)
	s.events.LeaseEvent(e)
}

// commandRecord attaches the forensic record of lease command cmd to op.
func (s *Server) commandRecord(op *lease.Op, cmd string) {
	if s.recorder == nil {
		return
	}
	e := s.newEvent(nil, hooks.LeaseCommand, nil)
	e.Command = cmd
	e.Leases = []lease.Lease{op.Lease}
	op.Record = s.recorder.AppendRecord(nil, e)
}
