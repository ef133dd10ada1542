// Package handoff is the contract between the transports that receive
// DHCP packets (the AF_XDP fast path, socket mode) and the engine that
// answers them: the packet handed over, the header description a reply is
// built from, the sender that transmits it and the handler that takes it.
// Both sides import it; it imports nothing of the project.
package handoff

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Meta is what the packet path needs to know of a frame's headers, and what
// it needs to build one. Addresses are fixed arrays so that it never
// allocates.
//
// In a reply, a zero DstMAC means "route by DstIP": the transport finds the
// next hop in the kernel's tables (the replies to relays, at giaddr).
type Meta struct {
	SrcMAC, DstMAC [6]byte
	// VLAN tags, outermost first. NVLAN is 0, 1 or 2. TPID is 0x8100 or
	// 0x88a8; TCI carries PCP/DEI/VID.
	NVLAN            int
	VLAN             [2]VLANTag
	SrcIP, DstIP     [4]byte
	SrcPort, DstPort uint16
	TTL              uint8
}

// VLANTag is one 802.1Q / 802.1ad tag.
type VLANTag struct {
	TPID uint16
	TCI  uint16
}

// Sender transmits a reply out of the interface its request came in on.
// The transport owns the frame: it builds Ethernet/VLAN/IPv4/UDP around
// payload from dst. It does not keep payload after Send returns, so the
// caller may reuse it (the slow path builds replies in pooled buffers).
type Sender interface {
	Send(dst *Meta, payload []byte) error
}

// Packet is a DHCPv4 request handed to the slow path.
type Packet struct {
	IfIndex int
	IfName  string
	// IfAddr is the server's IPv4 address on the receiving interface: the
	// server identifier and the source address of replies.
	IfAddr netip.Addr
	IfMAC  [6]byte
	// Meta describes the request's headers (source MAC, VLAN tags, ...).
	Meta Meta
	// Data is the UDP payload; the handler owns it from Enqueue on, and
	// calls Release when it is done with the packet.
	Data     []byte
	Out      Sender
	Received time.Time
	// Policed is set when the XDP program has already applied the
	// per-client rate limit, so the slow path must not apply it again.
	Policed bool

	// pool, when set, takes the packet back on Release; buf backs Data
	// for pooled packets, so a handoff allocates nothing. pooled guards
	// against a second Release putting it in the pool twice.
	pool   *PacketPool
	pooled bool
	buf    [maxPayload]byte
}

// maxPayload is the largest UDP payload a transport hands over: frames
// are read into 2 KiB buffers (AF_XDP frames, AF_PACKET reads).
const maxPayload = 2048

// PacketPool recycles the packets a transport hands to the slow path, and
// their payload buffers: at tens of thousands of requests a second, a
// fresh packet and payload copy per request was the larger part of the
// slow path's garbage, and the collections it caused stalled the queue
// long enough to fill it. The zero value is ready to use.
type PacketPool struct {
	p   sync.Pool
	out atomic.Int64
}

// Get returns an empty packet whose Release puts it back in pp.
func (pp *PacketPool) Get() *Packet {
	pp.out.Add(1)
	if p, ok := pp.p.Get().(*Packet); ok {
		p.pooled = false
		return p
	}
	return &Packet{pool: pp}
}

// Outstanding is the number of packets taken and not yet released: those
// queued or being processed. It stays bounded by the queues; growth
// means a path that forgets Release.
func (pp *PacketPool) Outstanding() int64 { return pp.out.Load() }

// SetData copies payload into the packet's own buffer (a larger payload
// than any frame carries gets a buffer of its own) and makes it Data.
func (p *Packet) SetData(payload []byte) {
	p.Data = append(p.buf[:0], payload...)
}

// Release gives a pooled packet back once the handler is done with it
// and with everything that points into Data; the packet must not be used
// afterwards. A packet that did not come from a pool is left to the
// collector.
func (p *Packet) Release() {
	pp := p.pool
	if pp == nil || p.pooled {
		return
	}
	p.pooled = true
	pp.out.Add(-1)
	p.IfIndex, p.IfName, p.IfAddr, p.IfMAC = 0, "", netip.Addr{}, [6]byte{}
	p.Meta, p.Data, p.Out, p.Received, p.Policed = Meta{}, nil, nil, time.Time{}, false
	pp.p.Put(p)
}

// Handler takes requests the fast path does not answer. Enqueue must not
// block: a full handler drops (and counts) rather than stall a queue. The
// handler owns p from Enqueue on and calls p.Release once done with it,
// dropped or answered.
type Handler interface {
	Enqueue(p *Packet)
}
