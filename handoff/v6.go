package handoff

import (
	"sync"
	"sync/atomic"
	"time"
)

// Meta6 describes a DHCPv6 datagram's headers, as Meta does for DHCPv4:
// what the engine reads of a request and what a transport needs to send the
// answer. Addresses are fixed arrays so that it never allocates.
//
// In a reply, DstIP is the client's link-local address (direct) or the
// relay's address (a Relay-reply); a zero DstMAC means the transport finds
// the next hop itself (neighbour discovery, or the kernel's routes).
type Meta6 struct {
	SrcMAC, DstMAC [6]byte
	NVLAN          int
	VLAN           [2]VLANTag
	SrcIP, DstIP   [16]byte
	// SrcPort, DstPort: 546 (client) / 547 (server and relay).
	SrcPort, DstPort uint16
	HopLimit         uint8
}

// Sender6 transmits a DHCPv6 reply out of the interface its request came in
// on. As with Sender, the transport does not keep payload after Send6
// returns.
type Sender6 interface {
	Send6(dst *Meta6, payload []byte) error
}

// Packet6 is a DHCPv6 message (a client's, or a relay's Relay-forw) handed
// to the v6 engine.
type Packet6 struct {
	IfIndex int
	IfName  string
	IfMAC   [6]byte
	// Meta describes the request's headers; Meta.DstIP tells a multicast
	// request (ff02::1:2, ff05::1:3) from one sent by unicast, which the
	// engine must refuse with UseMulticast unless the server offered it.
	Meta Meta6
	// Data is the UDP payload; the handler owns it from Enqueue6 on and
	// calls Release when done with the packet.
	Data     []byte
	Out      Sender6
	Received time.Time
	// Policed is set when the XDP program has already applied the
	// per-client rate limit.
	Policed bool

	pool   *PacketPool6
	pooled bool
	buf    [maxPayload]byte
}

// SetData copies payload into the packet's own buffer and makes it Data.
func (p *Packet6) SetData(payload []byte) {
	p.Data = append(p.buf[:0], payload...)
}

// Release gives a pooled packet back once the handler is done with it and
// with everything pointing into Data. A packet that did not come from a pool
// is left to the collector.
func (p *Packet6) Release() {
	pp := p.pool
	if pp == nil || p.pooled {
		return
	}
	p.pooled = true
	pp.out.Add(-1)
	p.IfIndex, p.IfName, p.IfMAC = 0, "", [6]byte{}
	p.Meta, p.Data, p.Out, p.Received, p.Policed = Meta6{}, nil, nil, time.Time{}, false
	pp.p.Put(p)
}

// PacketPool6 recycles Packet6 values as PacketPool does Packet. The zero
// value is ready to use.
type PacketPool6 struct {
	p   sync.Pool
	out atomic.Int64
}

// Get returns an empty packet whose Release puts it back in pp.
func (pp *PacketPool6) Get() *Packet6 {
	pp.out.Add(1)
	if p, ok := pp.p.Get().(*Packet6); ok {
		p.pooled = false
		return p
	}
	return &Packet6{pool: pp}
}

// Outstanding is the number of packets taken and not yet released.
func (pp *PacketPool6) Outstanding() int64 { return pp.out.Load() }

// Handler6 takes DHCPv6 requests the fast path does not answer. Enqueue6
// must not block, and owns p from the call on (see Handler).
type Handler6 interface {
	Enqueue6(p *Packet6)
}
