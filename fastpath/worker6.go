package fastpath

import (
	"errors"
	"time"

	"xdhcp/dhcp6"
	"xdhcp/fastpath/frame"
	"xdhcp/fastpath/leasecache"
	"xdhcp/fastpath/xsk"
	"xdhcp/handoff"
)

// ErrNoNextHop6 is returned by Send6 for a reply without a destination
// MAC (the worker does not resolve IPv6 neighbours, and a DHCPv6 server
// answers the Ethernet source of the request: the client or the relay), or
// without a source address on an interface with no link-local address.
var ErrNoNextHop6 = errors.New("fastpath: DHCPv6 reply without a destination MAC")

// v6State is a worker's DHCPv6 scratch: the packet pool of its handoffs
// and the Reply builder of its cached answers.
type v6State struct {
	packets handoff.PacketPool6
	reply   leasecache.Reply6
	// ev is the event of a cached renewal (with cfg.Events6).
	ev cachedEvent6
}

var _ handoff.Sender6 = (*Worker)(nil)

// Send6 queues a copy of a DHCPv6 reply for transmission on this worker's
// queue. Safe from any goroutine.
func (w *Worker) Send6(dst *handoff.Meta6, payload []byte) error {
	dst.SrcMAC = w.cfg.IfMAC
	if dst.SrcIP == ([16]byte{}) {
		// The engine leaves the source of an answer to a multicast
		// request to the transport: the interface's link-local address.
		dst.SrcIP = w.cfg.IfLinkLocal
	}
	if dst.DstMAC == ([6]byte{}) || dst.SrcIP == ([16]byte{}) {
		w.Stats.SlowDropped.Add(1)
		return ErrNoNextHop6
	}
	return w.queue(slowReply{v6: true, meta6: *dst}, payload)
}

// receive6 takes a frame frame.Parse refused as not IPv4: a DHCPv6 message
// to the server port is answered from the cache (the TX descriptor
// returned, ok) or handed to Handler6 (handed); anything else is counted
// and dropped. The caller releases the RX frame.
func (w *Worker) receive6(buf []byte, meta *handoff.Meta6, now time.Time, unixNow int64) (out xsk.Desc, ok, handed bool) {
	w.Stats.RxFrames6.Add(1)
	payload, err := frame.Parse6(buf, meta)
	if err != nil || meta.DstPort != 547 || w.cfg.Handler6 == nil {
		w.Stats.RxMalformed6.Add(1)
		return xsk.Desc{}, false, false
	}
	if out, ok := w.answer6(payload, meta, unixNow); ok {
		return out, true, false
	}
	p := w.v6.packets.Get()
	p.IfIndex, p.IfName, p.IfMAC = w.cfg.IfIndex, w.cfg.IfName, w.cfg.IfMAC
	p.Meta, p.Out, p.Received, p.Policed = *meta, w, now, true
	p.SetData(payload)
	w.cfg.Handler6.Enqueue6(p)
	w.Stats.Handoffs6.Add(1)
	return xsk.Desc{}, false, true
}

// answer6 builds the Reply to a Renew or Rebind whose bindings the cache
// may reuse, straight into a TX frame, allocating nothing.
func (w *Worker) answer6(payload []byte, meta *handoff.Meta6, now int64) (xsk.Desc, bool) {
	c := w.cfg.Cache6
	if c == nil || w.cfg.IfLinkLocal == ([16]byte{}) || (w.cfg.Service6 != nil && !w.cfg.Service6.Enabled()) || len(payload) < 4 {
		return xsk.Desc{}, false
	}
	if t := dhcp6.MsgType(payload[0]); t != dhcp6.Renew && t != dhcp6.Rebind && t != dhcp6.RelayForw {
		return xsk.Desc{}, false // the cheap test first: most messages are not renewals
	}
	duid, ok := leasecache.ClientDUID6(&w.v6.reply, payload)
	if !ok {
		return xsk.Desc{}, false
	}
	e, ok := c.Lookup(duid)
	if !ok {
		w.Stats.CacheMisses6.Add(1)
		return xsk.Desc{}, false
	}
	addr, buf, ok := w.cfg.Socket.GetTxFrame()
	if !ok {
		w.Stats.TxErrors.Add(1)
		return xsk.Desc{}, false
	}
	n, err := leasecache.AnswerRenew6(buf, &w.v6.reply, payload, meta, w.cfg.IfIndex, e, now, w.cfg.IfMAC, w.cfg.IfLinkLocal)
	if err != nil {
		w.cfg.Socket.Release(addr)
		if errors.Is(err, leasecache.ErrNotCached6) {
			w.Stats.CacheMisses6.Add(1)
		} else {
			w.Stats.TxErrors.Add(1)
		}
		return xsk.Desc{}, false
	}
	w.Stats.CacheHits6.Add(1)
	if w.cfg.Events6 != nil {
		w.tellCached6(payload, meta, e, now)
	}
	return xsk.Desc{Addr: addr, Len: uint32(n)}, true
}
