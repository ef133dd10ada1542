package legallog

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"xdhcp/config/classify"
	"xdhcp/hooks"
	"xdhcp/hooks/pkt6"
	"xdhcp/lease"
)

// Params6 are the parameters of a Dhcp6 hooks-libraries entry: those of
// Params, with request-parser-format and response-parser-format compiled
// for DHCPv6 packets (pkt6, relay6, option codes of the dhcp6 space).
type Params6 struct {
	Params
	Request6, Response6 *classify.Expr
}

// ParseParams6 reads a Dhcp6 hooks-libraries entry's parameters.
func ParseParams6(raw json.RawMessage) (Params6, error) {
	var p6 Params6
	var in map[string]json.RawMessage
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &in); err != nil {
			return p6, fmt.Errorf("%s parameters: %w", Library, err)
		}
	}
	exprs := map[string]**classify.Expr{"request-parser-format": &p6.Request6, "response-parser-format": &p6.Response6}
	for name, dst := range exprs {
		v, ok := in[name]
		if !ok {
			continue
		}
		delete(in, name)
		var src string
		if err := json.Unmarshal(v, &src); err != nil {
			return p6, fmt.Errorf("%s: %s: %w", Library, name, err)
		}
		if src == "" {
			continue
		}
		e, err := classify.CompileWith6(src, classify.Resolver6{}, true)
		if err != nil {
			return p6, fmt.Errorf("%s: %s: %w", Library, name, err)
		}
		*dst = e
	}
	rest, err := json.Marshal(in)
	if err != nil {
		return p6, err
	}
	if p6.Params, err = ParseParams(rest); err != nil {
		return p6, err
	}
	return p6, nil
}

// Log6 is the forensic log of the DHCPv6 service: Log's file, rotation
// and group commit, with Kea's DHCPv6 entries.
type Log6 struct {
	*Log
	req, resp *classify.Expr
}

var (
	_ hooks.Recorder6    = (*Log6)(nil)
	_ hooks.Listener6    = (*Log6)(nil)
	_ hooks.ReplyWaiter6 = (*Log6)(nil)
	_ hooks.Flusher      = (*Log6)(nil)
)

// Open6 opens the DHCPv6 forensic log described by p (see Open).
func Open6(p Params6, log *slog.Logger, now func() time.Time) (*Log6, error) {
	l, err := Open(p.Params, log, now)
	if err != nil {
		return nil, err
	}
	return &Log6{Log: l, req: p.Request6, resp: p.Response6}, nil
}

// durable6 reports whether e's record is formatted before its leases are
// committed: every event that writes a lease, unless the line needs the
// reply.
func (l *Log6) durable6(e *hooks.Event6) bool {
	return !e.Cached && l.resp == nil
}

// AppendRecord6 implements hooks.Recorder6.
func (l *Log6) AppendRecord6(dst []byte, e *hooks.Event6) []byte {
	if !l.durable6(e) {
		return dst
	}
	return l.appendEntries6(dst, e)
}

// LeaseEvent6 implements hooks.Listener6: it writes the records the
// engine could not attach to a lease commit (see Log.LeaseEvent).
func (l *Log6) LeaseEvent6(e *hooks.Event6) {
	if l.durable6(e) {
		return
	}
	if e.Cached {
		l.mu.Lock()
		l.pending = l.appendEntries6(l.pending, e)
		l.mu.Unlock()
		return
	}
	b := l.appendEntries6(nil, e)
	if len(b) == 0 {
		return
	}
	l.mu.Lock()
	err := l.writeLocked(b)
	ticket := l.written
	l.mu.Unlock()
	if err != nil {
		l.log.Error("LEGAL_LOG_LEASE6_WRITE_ERROR", "err", err)
		return
	}
	l.settle(ticket)
}

// WaitsForReply6 implements hooks.ReplyWaiter6: with a line that needs
// the reply, LeaseEvent6 writes every record itself, and the reply waits
// for them.
func (l *Log6) WaitsForReply6() bool { return l.resp != nil }

// appendEntries6 appends the lines Kea's legal log writes in kea-dhcp6
// for e: one per lease granted or renewed ("assigned") and one per lease
// released (leases6_committed's deleted leases, a Release's or a
// Decline's lease).
func (l *Log6) appendEntries6(dst []byte, e *hooks.Event6) []byte {
	var assigned, released []lease.Lease6
	switch e.Point {
	case hooks.Leases6Committed:
		assigned, released = e.Leases, e.Deleted
	case hooks.Lease6Release, hooks.Lease6Decline:
		released = e.Leases
	default:
		return dst
	}
	var q, r *pkt6.Packet
	if e.Query != nil {
		q = new(pkt6.Packet)
		if q.Parse(e.Query, e.Iface, e.Remote.Addr(), e.Local.Addr(), e.Classes) != nil {
			q = nil
		}
	}
	custom := l.req != nil || l.resp != nil
	if l.resp != nil && e.Response != nil {
		r = new(pkt6.Packet)
		if r.Parse(e.Response, e.Iface, e.Local.Addr(), e.Remote.Addr(), e.Classes) != nil {
			r = nil
		}
	}
	for i, set := range [2][]lease.Lease6{assigned, released} {
		for k := range set {
			ls := &set[k]
			if l.quietSubnet(ls.SubnetID) || (i == 0 && ls.State == lease.StateDeclined) {
				// A declined lease is recorded as released from its
				// client (Lease6Decline), not as assigned to nobody.
				continue
			}
			var start, text int
			dst, start, text = l.beginEntry(dst, e.Time, ls.Addr)
			if custom {
				dst = appendExpr6(dst, l.req, q, ls)
				dst = appendExpr6(dst, l.resp, r, ls)
			} else {
				dst = AppendDefault6(dst, ls, q, i == 1)
			}
			dst = l.finishEntry(dst, start, text)
		}
	}
	return dst
}

// appendExpr6 appends expression x evaluated on p for lease ls (nothing
// when either is missing).
func appendExpr6(dst []byte, x *classify.Expr, p *pkt6.Packet, ls *lease.Lease6) []byte {
	if x == nil || p == nil {
		return dst
	}
	p.ForLease(ls)
	v, _ := x.EvalString(p)
	p.ForLease(nil)
	return append(dst, v...)
}

// hwSourceName is Kea's name of a hardware address source.
func hwSourceName(src uint32) string {
	switch src {
	case lease.HWAddrSourceRaw:
		return "Raw Socket"
	case lease.HWAddrSourceDUID:
		return "DUID"
	case lease.HWAddrSourceLinkLocal:
		return "IPv6 Link Local"
	case lease.HWAddrSourceClientRelay:
		return "Client Address Relay Option"
	case lease.HWAddrSourceRemoteID:
		return "Remote ID"
	case lease.HWAddrSourceSubscriber:
		return "Subscriber ID"
	case lease.HWAddrSourceDocsisCMTS:
		return "DOCSIS CMTS"
	case lease.HWAddrSourceDocsisModem:
		return "DOCSIS MODEM"
	}
	return "UNKNOWN"
}

// AppendDefault6 appends Kea's default DHCPv6 entry for lease l (without
// the timestamp): assigned, or released when released is set; q is the
// query as received, nil when there is none.
func AppendDefault6(dst []byte, l *lease.Lease6, q *pkt6.Packet, released bool) []byte {
	dst = appendLeaseAddr6(dst, l, "Prefix: ", "Address: ")
	if released {
		dst = append(dst, " has been released from"...)
	} else {
		dst = append(dst, " has been assigned for "...)
		dst = AppendDuration(dst, l.ValidLft)
		dst = append(dst, " to"...)
	}
	dst = append(dst, " a device with DUID: "...)
	dst = appendHex(dst, l.DUID, ':')
	if len(l.HWAddr) > 0 {
		dst = append(dst, " and hardware address: hwtype="...)
		dst = strconv.AppendUint(dst, uint64(l.HWType), 10)
		dst = append(dst, ' ')
		dst = appendHex(dst, l.HWAddr, ':')
		dst = append(dst, " (from "...)
		dst = append(dst, hwSourceName(l.HWAddrSource)...)
		dst = append(dst, ')')
	}
	if q != nil && q.Relays() > 0 {
		link, peer := q.RelayAddrs(0)
		dst = append(dst, " connected via relay at address: "...)
		dst = peer.AppendTo(dst)
		dst = append(dst, " for client on link address: "...)
		dst = link.AppendTo(dst)
		dst = append(dst, ", hop count: "...)
		dst = strconv.AppendUint(dst, uint64(q.Chain()[0].HopCount), 10)
		first := true
		for _, id := range [...]struct {
			code uint16
			name string
		}{{37, "remote-id: "}, {38, "subscriber-id: "}} {
			v, ok := q.AnyRelayOption(id.code)
			if !ok || len(v) == 0 {
				continue
			}
			if first {
				dst = append(dst, ", identified by "...)
				first = false
			} else {
				dst = append(dst, " and "...)
			}
			dst = append(dst, id.name...)
			dst = appendHex(dst, v, ':')
			dst = appendPrintable(dst, v)
		}
		if v, ok := q.AnyRelayOption(18); ok && len(v) > 0 {
			dst = append(dst, ", connected at location interface-id: "...)
			dst = appendHex(dst, v, ':')
			dst = appendPrintable(dst, v)
		}
	}
	if l.UserContext != "" {
		dst = append(dst, ", context: "...)
		dst = append(dst, l.UserContext...)
	}
	return dst
}

// AppendCommandRecord6 appends the forensic record of lease6 command cmd
// (lease6-add, lease6-update, lease6-del) on le, timestamped now, as
// whole lines; byDUID says that lease6-del named the lease by its DUID
// rather than its address. Like Kea, a lease added or updated in a
// subnet with "legal-logging": false gets no record (a deletion names no
// subnet, so it always gets one).
func (l *Log6) AppendCommandRecord6(dst []byte, cmd string, le *lease.Lease6, byDUID bool) []byte {
	if cmd != "lease6-del" && l.quietSubnet(le.SubnetID) {
		return dst
	}
	dst, start, text := l.beginEntry(dst, l.now(), le.Addr)
	dst = AppendCommand6(dst, cmd, le, byDUID)
	return l.finishEntry(dst, start, text)
}

// AppendCommand6 appends Kea's entry for lease6 command cmd on lease l
// (without the timestamp): a lease added or updated with its address or
// prefix, DUID, hardware address when it has one, lifetime and user
// context; a deleted lease by the address or the DUID that named it.
func AppendCommand6(dst []byte, cmd string, l *lease.Lease6, byDUID bool) []byte {
	dst = append(dst, "Administrator"...)
	if cmd == "lease6-del" {
		if byDUID {
			dst = append(dst, " deleted a lease for a device identified by: duid of "...)
			return appendHex(dst, l.DUID, ':')
		}
		dst = append(dst, " deleted the lease for address: "...)
		return l.Addr.AppendTo(dst)
	}
	if cmd == "lease6-add" {
		dst = append(dst, " added a lease of"...)
	} else {
		dst = append(dst, " updated information on the lease of"...)
	}
	dst = appendLeaseAddr6(dst, l, " prefix: ", " address: ")
	dst = append(dst, " to a device with DUID: "...)
	dst = appendHex(dst, l.DUID, ':')
	if len(l.HWAddr) > 0 {
		dst = append(dst, ", hardware address: "...)
		dst = appendHex(dst, l.HWAddr, ':')
	}
	if l.ValidLft > 0 {
		dst = append(dst, " for "...)
		dst = AppendDuration(dst, l.ValidLft)
	}
	return appendContext(dst, l.UserContext)
}

// appendLeaseAddr6 appends l's prefix ("addr/len", after prefixWord) or
// address (after addrWord).
func appendLeaseAddr6(dst []byte, l *lease.Lease6, prefixWord, addrWord string) []byte {
	if l.Type != lease.TypePD {
		dst = append(dst, addrWord...)
		return l.Addr.AppendTo(dst)
	}
	dst = append(dst, prefixWord...)
	dst = l.Addr.AppendTo(dst)
	dst = append(dst, '/')
	return strconv.AppendUint(dst, uint64(l.PrefixLen), 10)
}

// appendContext appends ", context: " and a lease's user context, when
// it has one.
func appendContext(dst []byte, ctx string) []byte {
	if ctx == "" {
		return dst
	}
	dst = append(dst, ", context: "...)
	return append(dst, ctx...)
}
