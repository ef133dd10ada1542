package classify

import "net/netip"

// Packet6 is what an expression compiled for DHCPv6 (CompileWith6) looks
// at. The DHCPv6 engine implements it over a decoded message (for a
// relayed one, the client's message inside the relay encapsulations).
//
// The methods of Packet keep their meaning: Iface, Member, and Field for
// "src" and "dst" (the IPv6 source and destination, 16 bytes each) and
// "len" (4 bytes, big endian). Option and MAC are never called for a
// DHCPv6 expression (they may return nil, false).
type Packet6 interface {
	Packet
	// Option6 returns the payload of the first top-level option code of
	// the client's message and whether it is present.
	Option6(code uint16) ([]byte, bool)
	// MsgType is the message type (1 Solicit … 11 Information-request)
	// and TransID the 24-bit transaction id of the client's message.
	MsgType() uint8
	TransID() uint32
	// Relays is the number of relay encapsulations (0 for a message
	// straight from the client).
	Relays() int
	// RelayOption returns the payload of option code in relay
	// encapsulation level: 0 is the relay closest to the server (the
	// outermost Relay-forw), as in Kea, Relays()-1 the one closest to
	// the client. It is called only with 0 <= level < Relays().
	RelayOption(level int, code uint16) ([]byte, bool)
	// RelayAddrs returns the link-address and peer-address fields of
	// relay encapsulation level (numbered as for RelayOption).
	RelayAddrs(level int) (link, peer netip.Addr)
}

// The DHCPv6 options the expression language reads specially.
const (
	codeVendorClass6 = 16 // vendor-class: enterprise, then tuples
	codeVendorOpts6  = 17 // vendor-opts: enterprise, then options
)

// Option6At returns the payload of the first DHCPv6 option code in b (a
// sequence of code-length-value options with two-byte codes and
// lengths), and whether it is there and well formed up to it.
func Option6At(b []byte, code uint16) ([]byte, bool) {
	for len(b) >= 4 {
		c, n := uint16(b[0])<<8|uint16(b[1]), int(b[2])<<8|int(b[3])
		if len(b) < 4+n {
			return nil, false
		}
		if c == code {
			return b[4 : 4+n], true
		}
		b = b[4+n:]
	}
	return nil, false
}

// vendorClass6 reads a DHCPv6 vendor-class payload: the enterprise
// number, then tuples with two-byte lengths; it reports how many.
func vendorClass6(b []byte) (enterprise uint32, chunks int, ok bool) {
	if len(b) < 4 {
		return 0, 0, false
	}
	enterprise = uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	for rest := b[4:]; len(rest) > 0; chunks++ {
		if len(rest) < 2 || len(rest) < 2+(int(rest[0])<<8|int(rest[1])) {
			return 0, 0, false
		}
		rest = rest[2+(int(rest[0])<<8|int(rest[1])):]
	}
	return enterprise, chunks, true
}

// vendorClass6Data is the i-th tuple of a valid vendor-class payload.
func vendorClass6Data(b []byte, i int) []byte {
	rest := b[4:]
	for k := 0; len(rest) >= 2; k++ {
		n := int(rest[0])<<8 | int(rest[1])
		if k == i {
			return rest[2 : 2+n]
		}
		rest = rest[2+n:]
	}
	return nil
}

// relayLevel resolves a relay6[n] nesting level against the packet: a
// negative n counts from the relay closest to the client (-1). ok is
// false when the packet has no such level.
func relayLevel(p Packet6, n int) (int, bool) {
	r := p.Relays()
	if n < 0 {
		n += r
	}
	return n, n >= 0 && n < r
}
