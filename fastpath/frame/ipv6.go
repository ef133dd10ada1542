package frame

import (
	"encoding/binary"
	"errors"

	"xdhcp/handoff"
)

// IPv6 errors, beside the IPv4 ones (ErrShort, ErrNotUDP, ErrFragment and
// ErrBadHeader mean the same for IPv6).
var (
	// ErrNotIPv6: the EtherType after the VLAN tags is not IPv6.
	ErrNotIPv6 = errors.New("frame: not IPv6")
	// ErrExtHeaders: the extension header chain is longer than
	// MaxExtHeaders, or holds a header that cannot be skipped without
	// being understood (ESP, AH, ...: then the packet is not UDP for us).
	ErrExtHeaders = errors.New("frame: IPv6 extension headers not walked")
)

// IPv6 wire constants.
const (
	EtherTypeIPv6 = 0x86dd
	// MaxExtHeaders is the number of IPv6 extension headers Parse6 skips
	// before UDP, as the XDP program does.
	MaxExtHeaders = 8

	ipv6HdrLen      = 40
	nextHdrHop      = 0
	nextHdrRouting  = 43
	nextHdrFragment = 44
	nextHdrDest     = 60
)

// HeaderLen6 is the length of the Ethernet, VLAN, IPv6 and UDP headers that
// Build6 writes for m: 62 bytes plus 4 per VLAN tag (NVLAN clamped to 0..2).
func HeaderLen6(m *handoff.Meta6) int {
	n := min(max(m.NVLAN, 0), MaxVLAN)
	return ethHdrLen + n*vlanTagLen + ipv6HdrLen + udpHdrLen
}

// Parse6 reads the Ethernet header, up to two VLAN tags, the IPv6 header
// (its payload length respected, so Ethernet padding is ignored), the
// hop-by-hop, routing and destination-options extension headers and atomic
// fragment headers (RFC 6946) it skips without interpreting them, and the
// UDP header of b; it fills every field of m and returns the UDP payload, a
// subslice of b whose capacity ends with the payload. A fragment (offset or
// M flag set) is ErrFragment. As Parse, it does not verify the UDP checksum
// and accepts any port.
func Parse6(b []byte, m *handoff.Meta6) (payload []byte, err error) {
	etype, off, err := parseEthernet(b, &m.DstMAC, &m.SrcMAC, &m.NVLAN, &m.VLAN)
	if err != nil {
		return nil, err
	}
	if etype != EtherTypeIPv6 {
		return nil, ErrNotIPv6
	}
	ip := b[off:]
	if len(ip) < ipv6HdrLen {
		return nil, ErrShort
	}
	if ip[0]>>4 != 6 {
		return nil, ErrBadHeader
	}
	plen := int(binary.BigEndian.Uint16(ip[4:6]))
	if plen == 0 {
		// A jumbogram (RFC 2675), or nothing at all: no DHCP either way.
		return nil, ErrBadHeader
	}
	if len(ip) < ipv6HdrLen+plen {
		return nil, ErrShort
	}
	ip = ip[:ipv6HdrLen+plen]
	m.HopLimit = ip[7]
	copy(m.SrcIP[:], ip[8:24])
	copy(m.DstIP[:], ip[24:40])
	nh := ip[6]
	rest := ip[ipv6HdrLen:]
	for i := 0; ; i++ {
		if nh != nextHdrHop && nh != nextHdrRouting && nh != nextHdrDest && nh != nextHdrFragment {
			break
		}
		if i == MaxExtHeaders {
			return nil, ErrExtHeaders
		}
		if len(rest) < 8 {
			return nil, ErrShort
		}
		n := (int(rest[1]) + 1) * 8
		if nh == nextHdrFragment {
			if binary.BigEndian.Uint16(rest[2:4])&0xfff9 != 0 {
				return nil, ErrFragment
			}
			n = 8
		}
		if len(rest) < n {
			return nil, ErrShort
		}
		nh = rest[0]
		rest = rest[n:]
	}
	if nh != protoUDP {
		return nil, ErrNotUDP
	}
	if len(rest) < udpHdrLen {
		return nil, ErrShort
	}
	ulen := int(binary.BigEndian.Uint16(rest[4:6]))
	if ulen < udpHdrLen || ulen > len(rest) {
		return nil, ErrBadHeader
	}
	m.SrcPort = binary.BigEndian.Uint16(rest[0:2])
	m.DstPort = binary.BigEndian.Uint16(rest[2:4])
	return rest[udpHdrLen:ulen:ulen], nil
}

// Build6 writes a complete frame carrying payload into dst: Ethernet with
// the MACs and VLAN tags of m, IPv6 without extension headers (traffic
// class and flow label 0, hop limit m.HopLimit or 64 when zero) and UDP
// with its checksum, which IPv6 makes mandatory. It zero-pads the frame to
// MinFrameLen and returns its length; ErrShort if dst cannot hold it,
// ErrBadHeader for an invalid Meta6 (as Build) or a payload too large.
func Build6(dst []byte, m *handoff.Meta6, payload []byte) (int, error) {
	if m.NVLAN < 0 || m.NVLAN > MaxVLAN {
		return 0, ErrBadHeader
	}
	udpLen := udpHdrLen + len(payload)
	if udpLen > 0xffff {
		return 0, ErrBadHeader
	}
	n := HeaderLen6(m) + len(payload)
	flen := max(n, MinFrameLen)
	if len(dst) < flen {
		return 0, ErrShort
	}
	off, err := putEthernet(dst, &m.DstMAC, &m.SrcMAC, m.NVLAN, &m.VLAN, EtherTypeIPv6)
	if err != nil {
		return 0, err
	}
	ip := dst[off : off+ipv6HdrLen]
	hops := m.HopLimit
	if hops == 0 {
		hops = 64
	}
	binary.BigEndian.PutUint32(ip[0:], 6<<28) // version, traffic class 0, flow label 0
	binary.BigEndian.PutUint16(ip[4:], uint16(udpLen))
	ip[6] = protoUDP
	ip[7] = hops
	copy(ip[8:24], m.SrcIP[:])
	copy(ip[24:40], m.DstIP[:])
	off += ipv6HdrLen

	// Pseudo-header (RFC 8200 section 8.1): source, destination,
	// upper-layer length, next header.
	putUDP(dst[off:off+udpLen], m.SrcPort, m.DstPort, payload, Checksum(ip[8:40], uint32(protoUDP)+uint32(udpLen)))

	clear(dst[n:flen])
	return flen, nil
}
