// Package fastpath holds the packet path in front of the slow path: the
// AF_XDP sockets and workers, and the socket-mode fallback reader. Both
// hand what they do not answer themselves to a Handler.
package fastpath

import (
	"net/netip"
	"time"

	"xdhcp/fastpath/frame"
)

// Sender transmits a reply out of the interface its request came in on.
// The transport owns the frame: it builds Ethernet/VLAN/IPv4/UDP around
// payload from dst. It does not keep payload after Send returns, so the
// caller may reuse it (the slow path builds replies in pooled buffers).
type Sender interface {
	Send(dst *frame.Meta, payload []byte) error
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
	Meta frame.Meta
	// Data is the UDP payload; the handler owns it from Enqueue on.
	Data     []byte
	Out      Sender
	Received time.Time
	// Policed is set when the XDP program has already applied the
	// per-client rate limit, so the slow path must not apply it again.
	Policed bool
}

// Handler takes requests the fast path does not answer. Enqueue must not
// block: a full handler drops (and counts) rather than stall a queue.
type Handler interface {
	Enqueue(p *Packet)
}
