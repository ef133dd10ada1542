// Package classify compiles and evaluates Kea client-class test expressions
// (Kea 2.2's DHCPv4 expression language) against a DHCPv4 packet.
package classify

// Packet is what an expression can look at. The slow path implements it
// over a decoded message; tests implement it over plain fields.
type Packet interface {
	// Option returns the payload of option code and whether it is present.
	Option(code uint8) ([]byte, bool)
	// MAC is chaddr truncated to hlen.
	MAC() []byte
	// Field returns a fixed pkt4 field by Kea's name: "giaddr", "ciaddr",
	// "yiaddr", "siaddr" (4 bytes each), "hlen", "htype", "msgtype",
	// "transid" (4 bytes, big endian), the pkt fields "src" and "dst" (the
	// IP source and destination, 4 bytes each) and "len" (Kea's packet
	// length: 236 plus the options as encoded, 4 bytes big endian), and
	// whether the name is known.
	Field(name string) ([]byte, bool)
	// Iface is the name of the receiving interface (pkt.iface).
	Iface() string
	// Member reports whether the packet already belongs to class name
	// (classes evaluated earlier, reservation classes, KNOWN/UNKNOWN, ALL).
	Member(name string) bool
}
