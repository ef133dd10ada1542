package hooks

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// Packet is a read-only view of a DHCPv4 message (a query or a reply as it
// went on the wire), for what listeners evaluate: Kea's expressions and
// run-script's variables. Its methods make it a classify.Packet. The view
// points into the bytes it was parsed from.
type Packet struct {
	Op, HType, HLen, Hops byte
	XID                   uint32
	Secs, Flags           uint16
	Ciaddr, Yiaddr        [4]byte
	Siaddr, Giaddr        [4]byte
	Chaddr                [16]byte
	// MsgType is option 53 (0: absent).
	MsgType byte
	// opts are the options as on the wire, scanned at each lookup: a
	// message has a few, and a view stays small enough for the stack.
	opts    []byte
	iface   string
	classes []string
}

// dhcpFixed is the length of the fixed header plus the magic cookie.
const dhcpFixed = 240

var errShort = errors.New("DHCP message shorter than its fixed header")

// Parse makes p a view of the DHCP message b, received on iface and
// classified into classes. Of options repeated with the same code the
// first is seen. It fails only when b is not a DHCP message at all.
func (p *Packet) Parse(b []byte, iface string, classes []string) error {
	*p = Packet{iface: iface, classes: classes}
	if len(b) < dhcpFixed {
		return errShort
	}
	if binary.BigEndian.Uint32(b[236:240]) != 0x63825363 {
		return errors.New("DHCP message without the magic cookie")
	}
	p.Op, p.HType, p.HLen, p.Hops = b[0], b[1], b[2], b[3]
	p.XID = binary.BigEndian.Uint32(b[4:8])
	p.Secs = binary.BigEndian.Uint16(b[8:10])
	p.Flags = binary.BigEndian.Uint16(b[10:12])
	copy(p.Ciaddr[:], b[12:16])
	copy(p.Yiaddr[:], b[16:20])
	copy(p.Siaddr[:], b[20:24])
	copy(p.Giaddr[:], b[24:28])
	copy(p.Chaddr[:], b[28:44])
	p.opts = b[dhcpFixed:]
	if v, ok := p.Option(53); ok && len(v) == 1 {
		p.MsgType = v[0]
	}
	return nil
}

// Option returns the payload of the first option code and whether it is
// present. A truncated option ends the options.
func (p *Packet) Option(code uint8) ([]byte, bool) {
	for o := p.opts; len(o) > 0; {
		c := o[0]
		if c == 0 {
			o = o[1:]
			continue
		}
		if c == 255 || len(o) < 2 || len(o) < 2+int(o[1]) {
			break
		}
		if c == code {
			return o[2 : 2+int(o[1]) : 2+int(o[1])], true
		}
		o = o[2+int(o[1]):]
	}
	return nil, false
}

// RelayOption returns sub-option code of the relay agent information
// option (82).
func (p *Packet) RelayOption(code uint8) ([]byte, bool) {
	rai, _ := p.Option(82)
	return SubOption(rai, code)
}

// SubOption finds sub-option code in an encapsulated option payload.
func SubOption(b []byte, code uint8) ([]byte, bool) {
	for len(b) >= 2 && len(b) >= 2+int(b[1]) {
		if b[0] == code {
			return b[2 : 2+int(b[1])], true
		}
		b = b[2+int(b[1]):]
	}
	return nil, false
}

// MAC is chaddr truncated to hlen (at most 16).
func (p *Packet) MAC() []byte { return p.Chaddr[:min(int(p.HLen), 16)] }

// Field returns a fixed field by Kea's name (see classify.Packet).
func (p *Packet) Field(name string) ([]byte, bool) {
	switch name {
	case "giaddr":
		return p.Giaddr[:], true
	case "ciaddr":
		return p.Ciaddr[:], true
	case "yiaddr":
		return p.Yiaddr[:], true
	case "siaddr":
		return p.Siaddr[:], true
	case "hlen":
		return []byte{0, 0, 0, p.HLen}, true
	case "htype":
		return []byte{0, 0, 0, p.HType}, true
	case "msgtype":
		return []byte{0, 0, 0, p.MsgType}, true
	case "transid":
		return binary.BigEndian.AppendUint32(nil, p.XID), true
	}
	return nil, false
}

// Iface is the receiving interface's name.
func (p *Packet) Iface() string { return p.iface }

// Member reports whether the query was classified into class name.
func (p *Packet) Member(name string) bool {
	for _, c := range p.classes {
		if c == name {
			return true
		}
	}
	return false
}

// Addr returns a 4-byte field as an address.
func Addr(a [4]byte) netip.Addr { return netip.AddrFrom4(a) }

// MessageTypeName is Kea's name of a DHCPv4 message type (Pkt4::getName).
func MessageTypeName(t byte) string {
	names := [...]string{"UNKNOWN", "DHCPDISCOVER", "DHCPOFFER", "DHCPREQUEST", "DHCPDECLINE",
		"DHCPACK", "DHCPNAK", "DHCPRELEASE", "DHCPINFORM", "UNKNOWN", "DHCPLEASEQUERY",
		"DHCPLEASEUNASSIGNED", "DHCPLEASEUNKNOWN", "DHCPLEASEACTIVE", "DHCPBULKLEASEQUERY",
		"DHCPLEASEQUERYDONE"}
	if int(t) < len(names) {
		return names[t]
	}
	return "UNKNOWN"
}

// ColonHex spells b as Kea spells hardware addresses and client
// identifiers: lower-case hex bytes separated by colons.
func ColonHex(b []byte) string { return string(AppendColonHex(make([]byte, 0, 3*len(b)), b)) }

// AppendColonHex appends ColonHex(b) to dst.
func AppendColonHex(dst, b []byte) []byte {
	const digits = "0123456789abcdef"
	for i, c := range b {
		if i > 0 {
			dst = append(dst, ':')
		}
		dst = append(dst, digits[c>>4], digits[c&15])
	}
	return dst
}
