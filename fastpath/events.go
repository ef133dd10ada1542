package fastpath

import (
	"net/netip"
	"time"

	"xdhcp/fastpath/leasecache"
	"xdhcp/fastpath/xsk"
	"xdhcp/handoff"
	"xdhcp/hooks"
	"xdhcp/lease"
)

// tellCached tells the listeners of a renewal the worker answered from
// lease cache entry e, granting remaining seconds: Kea's lease4_renew and
// leases4_committed, marked Cached (no lease was written; the lease's
// expiry is unchanged, so it is told as granted from now for remaining).
// reply is the ACK's DHCP message. The event is the worker's own, reused:
// it allocates nothing.
func (w *Worker) tellCached(payload, reply []byte, meta *handoff.Meta, e *leasecache.Entry, remaining uint32, now int64) {
	// The event and its lease are the worker's, reused: only the fields a
	// cached renewal gives are set, the others stay zero (rebuilding the
	// whole event, over 200 bytes with its lease, was a tenth of a cached
	// renewal's forensic cost). Subnet is set whole: a listener may fill
	// in its prefix.
	ev := &w.ev
	ev.hw = e.HW
	l := &ev.lease[0]
	l.Addr, l.HWAddr, l.ClientID = netip.AddrFrom4(e.Addr), ev.hw[:e.HWLen], e.ClientID
	l.ValidLft, l.CLTT, l.SubnetID = remaining, now, e.SubnetID
	ev.Time = time.Unix(now, 0)
	ev.Query, ev.Response = payload, reply
	ev.Iface, ev.IfIndex = w.cfg.IfName, w.cfg.IfIndex
	ev.Local = netip.AddrPortFrom(netip.AddrFrom4(meta.DstIP), meta.DstPort)
	ev.Remote = netip.AddrPortFrom(netip.AddrFrom4(meta.SrcIP), meta.SrcPort)
	ev.LocalHW, ev.RemoteHW = meta.DstMAC, meta.SrcMAC
	ev.Leases = ev.lease[:]
	ev.Subnet = hooks.Subnet{ID: e.SubnetID}
	ev.Cached = true
	for _, p := range w.told {
		ev.Point = p
		w.cfg.Events.LeaseEvent(&ev.Event)
	}
}

// cachedEvent is a worker's reusable event of a cached renewal.
type cachedEvent struct {
	hooks.Event
	lease [1]lease.Lease
	hw    [16]byte
}

// heldReply is a cached renewal's reply waiting for its forensic record
// to be durable (ticket), since at.
type heldReply struct {
	d      xsk.Desc
	ticket uint64
	at     time.Time
}

// holdLimit is how long a reply waits for its record to be durable; past
// it (a failing log disk) the reply is dropped, as a lease the store could
// not commit is not acknowledged: the client asks again.
const holdLimit = time.Second

// flushEvents has the listeners that hold cached renewals' events (the
// forensic log) write them, once per receive batch. When their records
// must be durable before the replies leave, the batch's answers (tx) are
// held until then, and tx comes back empty.
func (w *Worker) flushEvents(tx []xsk.Desc, now time.Time) []xsk.Desc {
	if w.flusher == nil {
		return tx
	}
	ticket := w.flusher.Flush()
	if ticket == 0 {
		return tx
	}
	for _, d := range tx {
		w.held = append(w.held, heldReply{d: d, ticket: ticket, at: now})
	}
	return tx[:0]
}

// heldReady reports whether the oldest held reply may leave.
func (w *Worker) heldReady() bool {
	return len(w.held) > 0 && w.held[0].ticket <= w.flusher.Synced()
}

// releaseHeld moves the held replies whose records are durable into tx,
// and drops those held past holdLimit.
func (w *Worker) releaseHeld(tx []xsk.Desc, now time.Time) []xsk.Desc {
	if len(w.held) == 0 {
		return tx
	}
	synced := w.flusher.Synced()
	i := 0
	for ; i < len(w.held); i++ {
		h := &w.held[i]
		if h.ticket <= synced {
			tx = append(tx, h.d)
			continue
		}
		if now.Sub(h.at) < holdLimit {
			break
		}
		w.cfg.Socket.Release(h.d.Addr)
		w.Stats.TxErrors.Add(1)
		if w.heldDropLog.IsZero() || now.Sub(w.heldDropLog) >= time.Second {
			w.heldDropLog = now
			w.cfg.Log.Warn("cached renewal's reply dropped: its forensic record is not durable", "queue", w.cfg.Queue, "held", holdLimit)
		}
	}
	w.held = w.held[:copy(w.held, w.held[i:])]
	return tx
}
