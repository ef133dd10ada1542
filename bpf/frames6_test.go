package bpf

import "encoding/binary"

// DHCPv6 message types and options the tests use.
const (
	solicit6  = 1
	advert6   = 2
	request6  = 3
	confirm6  = 4
	renew6    = 5
	rebind6   = 6
	reply6    = 7
	release6  = 8
	decline6  = 9
	inforeq6  = 11
	relayFw6  = 12
	relayRp6  = 13
	optCID6   = 1
	optORO6   = 6
	optRelay6 = 9
	optIfID6  = 18
)

// defaultDUID is a DUID-LLT (type 1, hardware type 1, time, MAC).
var defaultDUID = []byte{0, 1, 0, 1, 0x2c, 0x3d, 0x4e, 0x5f, 0x02, 0, 0, 0, 0, 0x01}

// opt6 encodes one DHCPv6 option.
func opt6(code uint16, data []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, code)
	b = binary.BigEndian.AppendUint16(b, uint16(len(data)))
	return append(b, data...)
}

// msg6 is a client message: type, transaction id 0xabcdef, then opts.
func msg6(typ uint8, opts ...[]byte) []byte {
	b := []byte{typ, 0xab, 0xcd, 0xef}
	for _, o := range opts {
		b = append(b, o...)
	}
	return b
}

// clientMsg6 is a message of type typ carrying duid (none when nil) and an ORO.
func clientMsg6(typ uint8, duid []byte) []byte {
	var opts [][]byte
	if duid != nil {
		opts = append(opts, opt6(optCID6, duid))
	}
	return msg6(typ, append(opts, opt6(optORO6, []byte{0, 23}))...)
}

// relay6 wraps inner in a Relay-forw with an interface-id before the
// Relay Message option.
func relay6(inner []byte, hops uint8) []byte {
	b := make([]byte, 34)
	b[0], b[1] = relayFw6, hops
	b[2], b[3] = 0x20, 0x01 // link-address 2001::1
	b[17] = 1
	b[18], b[19] = 0xfe, 0x80 // peer-address fe80::2
	b[33] = 2
	b = append(b, opt6(optIfID6, []byte("eth0"))...)
	return append(b, opt6(optRelay6, inner)...)
}

// relayN wraps inner in n Relay-forw levels.
func relayN(inner []byte, n int) []byte {
	for i := range n {
		inner = relay6(inner, uint8(i))
	}
	return inner
}

// ext6 is one IPv6 extension header: its type, and its body after the
// next-header byte (the length byte is computed; the body is padded to a
// multiple of 8 with the header's two bytes).
type ext6 struct {
	typ  uint8
	body []byte
}

// frame6 describes an Ethernet/IPv6/UDP test frame to port 547 from
// fe80::1 port 546 to ff02::1:2, carrying payload.
type frame6 struct {
	vlans   []uint16
	ext     []ext6
	proto   uint8  // after the extension headers; default UDP
	dstPort uint16 // default 547
	src     [16]byte
	udpLen  int // UDP length field; 0: the real length
	payload []byte
}

var (
	clientLL  = [16]byte{0xfe, 0x80, 15: 1}
	allAgents = [16]byte{0xff, 0x02, 13: 1, 15: 2}
)

// fragHdr is a fragment header body with the given offset (in 8-byte
// units) and M flag.
func fragHdr(offset uint16, more bool) []byte {
	v := offset << 3
	if more {
		v |= 1
	}
	b := []byte{0}
	b = binary.BigEndian.AppendUint16(b, v)
	return append(b, 0, 0, 0x12, 0x34) // identification
}

func (f frame6) bytes() []byte {
	b := []byte{0x33, 0x33, 0, 1, 0, 2, 0x02, 0, 0, 0, 0, 0x01}
	for i, tpid := range f.vlans {
		b = binary.BigEndian.AppendUint16(b, tpid)
		b = binary.BigEndian.AppendUint16(b, uint16(100+i))
	}
	b = binary.BigEndian.AppendUint16(b, 0x86dd)

	proto := f.proto
	if proto == 0 {
		proto = 17
	}
	var exts []byte
	for i, e := range f.ext {
		nh := proto
		if i+1 < len(f.ext) {
			nh = f.ext[i+1].typ
		}
		h := append([]byte{nh, 0}, e.body...)
		if e.typ == 44 {
			h = append([]byte{nh}, e.body...) // fixed 8 bytes, reserved byte in body
		} else {
			for len(h)%8 != 0 {
				h = append(h, 0)
			}
			h[1] = uint8(len(h)/8 - 1)
		}
		exts = append(exts, h...)
	}
	first := proto
	if len(f.ext) > 0 {
		first = f.ext[0].typ
	}
	src := f.src
	if src == ([16]byte{}) {
		src = clientLL
	}
	port := f.dstPort
	if port == 0 {
		port = 547
	}
	udpLen := 8 + len(f.payload)
	if f.udpLen != 0 {
		udpLen = f.udpLen
	}
	ip := []byte{0x60, 0, 0, 0}
	ip = binary.BigEndian.AppendUint16(ip, uint16(len(exts)+8+len(f.payload)))
	ip = append(ip, first, 1)
	ip = append(ip, src[:]...)
	ip = append(ip, allAgents[:]...)
	b = append(b, ip...)
	b = append(b, exts...)
	b = binary.BigEndian.AppendUint16(b, 546)
	b = binary.BigEndian.AppendUint16(b, port)
	b = binary.BigEndian.AppendUint16(b, uint16(udpLen))
	b = binary.BigEndian.AppendUint16(b, 0) // checksum: the program does not look
	return append(b, f.payload...)
}
