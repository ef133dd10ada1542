package fastpath

import (
	"net/netip"
	"time"

	"xdhcp/fastpath/leasecache"
	"xdhcp/handoff"
	"xdhcp/hooks"
	"xdhcp/lease"
)

// tellCached tells the listeners of a renewal the worker answered from
// lease cache entry e, granting remaining seconds: Kea's lease4_renew and
// leases4_committed, marked Cached (no lease was written; the lease's
// expiry is unchanged, so it is told as granted from now for remaining).
// Only with listeners: it allocates.
func (w *Worker) tellCached(payload []byte, meta *handoff.Meta, e *leasecache.Entry, remaining uint32, now int64) {
	l := lease.Lease{
		Addr:     netip.AddrFrom4(e.Addr),
		HWAddr:   append([]byte(nil), e.HW[:e.HWLen]...),
		ClientID: e.ClientID,
		ValidLft: remaining,
		CLTT:     now,
		SubnetID: e.SubnetID,
	}
	ev := &hooks.Event{
		Time:     time.Unix(now, 0),
		Query:    payload,
		Iface:    w.cfg.IfName,
		IfIndex:  w.cfg.IfIndex,
		Local:    netip.AddrPortFrom(netip.AddrFrom4(meta.DstIP), meta.DstPort),
		Remote:   netip.AddrPortFrom(netip.AddrFrom4(meta.SrcIP), meta.SrcPort),
		LocalHW:  meta.DstMAC,
		RemoteHW: meta.SrcMAC,
		Leases:   []lease.Lease{l},
		Subnet:   hooks.Subnet{ID: e.SubnetID},
		Cached:   true,
	}
	for _, p := range []hooks.Point{hooks.Lease4Renew, hooks.Leases4Committed} {
		ev.Point = p
		w.cfg.Events.LeaseEvent(ev)
	}
}

// flushEvents has the listeners that hold cached renewals' events (the
// forensic log) write them: once per receive batch, before its replies
// leave.
func (w *Worker) flushEvents() {
	if f, ok := w.cfg.Events.(hooks.Flusher); ok {
		f.Flush()
	}
}
