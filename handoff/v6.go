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

// CachedLease6 is one client's bindings the v6 engine has just confirmed in
// a Reply, with what the fast path needs to answer that client's next Renew
// or Rebind itself while Kea's cache-threshold rules allow the leases to be
// reused. It is immutable once passed to LeaseCache6.Put6 (Put6 stores a
// copy). Times are unix seconds, lifetimes seconds.
type CachedLease6 struct {
	// DUID is the client's DUID (the Client Identifier option's data):
	// the cache key.
	DUID []byte
	// ServerDUID is the server's DUID (the Server Identifier option's
	// data) the reply carries and a Renew must name.
	ServerDUID []byte
	// SubnetID is the bindings' subnet, for invalidation.
	SubnetID uint32
	// Fingerprint is the hash of what in the request decides the reply
	// other than the IAs (the relay chain's link addresses and
	// interface-ids, the options classification reads); the fast path
	// computes it for every Renew and answers only on a match.
	Fingerprint uint64
	// IAs are the bindings; a Renew naming an IA or address not here goes
	// to the engine.
	IAs []CachedIA6
	// Threshold is cache-threshold (0 = not configured); MaxAge is
	// cache-max-age in seconds (negative = not configured).
	Threshold float64
	MaxAge    int64
	// Options are the encoded options of the Reply other than Client and
	// Server Identifier and the IAs, which the fast path writes itself: a
	// sequence of code (2 bytes), length (2 bytes), data.
	Options []byte
}

// IA option codes a CachedIA6 can be.
const (
	IANA6 = 3
	IAPD6 = 25
)

// CachedIA6 is one binding of a CachedLease6: one address of an IA_NA or
// one prefix of an IA_PD.
type CachedIA6 struct {
	// Type is IANA6 or IAPD6; IAID the IA's identifier.
	Type uint16
	IAID uint32
	// Addr is the address or prefix; PrefixLen is 128 for an address.
	Addr      [16]byte
	PrefixLen uint8
	// CLTT, ValidLft and PrefLft are the stored lease's.
	CLTT              int64
	ValidLft, PrefLft uint32
	// NewValid, NewPref are the lifetimes the engine would grant now; T1
	// and T2 the IA's timers.
	NewValid, NewPref uint32
	T1, T2            uint32
}

// LeaseCache6 is where the v6 engine publishes the bindings the fast path
// may answer Renews and Rebinds for, and withdraws them.
type LeaseCache6 interface {
	Put6(e *CachedLease6) error
	Delete6(duid []byte)
	Purge6()
}
