package bpf

import (
	"encoding/binary"
)

// frame describes a test frame; the zero value plus a message type is an
// untagged Ethernet/IPv4/UDP broadcast to port 67 from chaddr 02:00:00:00:00:01.
type frame struct {
	vlans     []uint16 // TPIDs of the tags, outermost first (0x88a8, 0x8100)
	etherType uint16   // after the tags; default IPv4
	ipOptions []byte   // multiple of 4 bytes
	ipProto   uint8    // default UDP
	fragOff   uint16   // flags+offset field, host order
	dstPort   uint16   // default 67
	op        uint8    // default 1 (BOOTREQUEST)
	htype     uint8    // default 1
	hlen      int      // default len(chaddr); -1 means 0
	chaddr    []byte   // default 02:00:00:00:00:01
	ciaddr    [4]byte
	cookie    uint32 // default the DHCP magic cookie
	preOpts   []byte // options (or pad bytes) before option 53
	msgType   uint8  // 0 = no option 53
	clientID  []byte // nil = no option 61
	serverID  bool   // option 54
	reqIP     bool   // option 50
	rawOpts   []byte // appended after the options above, before END
	noEnd     bool   // leave out the END option
	padTo     int    // pad the BOOTP message with zeros to this length (after END)
}

var defaultMAC = []byte{0x02, 0, 0, 0, 0, 0x01}

func (f frame) chaddrBytes() []byte {
	if f.chaddr != nil {
		return f.chaddr
	}
	return defaultMAC
}

// dhcp builds the BOOTP/DHCP payload.
func (f frame) dhcp() []byte {
	b := make([]byte, 240, 300)
	op := f.op
	if op == 0 {
		op = 1
	}
	b[0] = op
	b[1] = 1
	if f.htype != 0 {
		b[1] = f.htype
	}
	ch := f.chaddrBytes()
	switch {
	case f.hlen == -1:
		b[2] = 0
	case f.hlen != 0:
		b[2] = uint8(f.hlen)
	default:
		b[2] = uint8(len(ch))
	}
	binary.BigEndian.PutUint32(b[4:], 0x12345678)
	copy(b[12:16], f.ciaddr[:])
	copy(b[28:44], ch)
	cookie := f.cookie
	if cookie == 0 {
		cookie = 0x63825363
	}
	binary.BigEndian.PutUint32(b[236:], cookie)
	b = append(b, f.preOpts...)
	if f.msgType != 0 {
		b = append(b, 53, 1, f.msgType)
	}
	if f.clientID != nil {
		b = append(b, 61, uint8(len(f.clientID)))
		b = append(b, f.clientID...)
	}
	if f.reqIP {
		b = append(b, 50, 4, 10, 0, 0, 10)
	}
	if f.serverID {
		b = append(b, 54, 4, 10, 0, 0, 1)
	}
	b = append(b, f.rawOpts...)
	if !f.noEnd {
		b = append(b, 255)
	}
	for len(b) < f.padTo {
		b = append(b, 0)
	}
	return b
}

// bytes builds the whole Ethernet frame with consistent lengths and a valid
// IPv4 header checksum (the stack checks it in the namespace tests).
func (f frame) bytes() []byte {
	payload := f.dhcp()
	var b []byte
	b = append(b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff) // broadcast
	b = append(b, f.chaddrBytes()[:min(6, len(f.chaddrBytes()))]...)
	for len(b) < 12 {
		b = append(b, 0)
	}
	for i, tpid := range f.vlans {
		b = binary.BigEndian.AppendUint16(b, tpid)
		b = binary.BigEndian.AppendUint16(b, uint16(100+i)) // VLAN ID
	}
	et := f.etherType
	if et == 0 {
		et = 0x0800
	}
	b = binary.BigEndian.AppendUint16(b, et)

	ipStart := len(b)
	ihl := 20 + len(f.ipOptions)
	proto := f.ipProto
	if proto == 0 {
		proto = 17
	}
	total := ihl + 8 + len(payload)
	ip := make([]byte, 20)
	ip[0] = 0x40 | uint8(ihl/4)
	binary.BigEndian.PutUint16(ip[2:], uint16(total))
	binary.BigEndian.PutUint16(ip[6:], f.fragOff)
	ip[8] = 64
	ip[9] = proto
	copy(ip[16:20], []byte{255, 255, 255, 255})
	b = append(b, ip...)
	b = append(b, f.ipOptions...)
	binary.BigEndian.PutUint16(b[ipStart+10:], ipChecksum(b[ipStart:ipStart+ihl]))

	port := f.dstPort
	if port == 0 {
		port = 67
	}
	b = binary.BigEndian.AppendUint16(b, 68)
	b = binary.BigEndian.AppendUint16(b, port)
	b = binary.BigEndian.AppendUint16(b, uint16(8+len(payload)))
	b = binary.BigEndian.AppendUint16(b, 0) // no UDP checksum: legal for IPv4
	return append(b, payload...)
}

func ipChecksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(h); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}
