// Package testframe builds the hand-made DHCP frames the transport tests
// put on a veth: a minimal DISCOVER and its broadcast Ethernet frame.
package testframe

import (
	"encoding/binary"
	"fmt"

	"xdhcp/fastpath/frame"
	"xdhcp/handoff"
)

// Discover is a minimal DHCPDISCOVER payload of size bytes (244 at least:
// the fixed header, the magic cookie and three option bytes) from chaddr
// mac with transaction ID xid and the broadcast flag set.
func Discover(mac [6]byte, xid uint32, size int) []byte {
	p := make([]byte, max(size, 244))
	p[0], p[1], p[2] = 1, 1, 6 // BOOTREQUEST, Ethernet, hlen 6
	binary.BigEndian.PutUint32(p[4:], xid)
	binary.BigEndian.PutUint16(p[10:], 0x8000) // broadcast flag
	copy(p[28:], mac[:])
	copy(p[236:], []byte{99, 130, 83, 99, 53, 1, 1, 255}) // cookie, DISCOVER, end
	return p
}

// Broadcast wraps payload into an Ethernet/IPv4/UDP frame from src,
// 0.0.0.0 port 68, to the broadcast MAC and address on dstPort.
func Broadcast(src [6]byte, dstPort uint16, payload []byte) ([]byte, error) {
	m := handoff.Meta{
		SrcMAC: src, DstMAC: [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		DstIP: [4]byte{255, 255, 255, 255}, SrcPort: 68, DstPort: dstPort,
	}
	buf := make([]byte, 1514)
	n, err := frame.Build(buf, &m, payload)
	if err != nil {
		return nil, fmt.Errorf("build frame: %w", err)
	}
	return buf[:n], nil
}
