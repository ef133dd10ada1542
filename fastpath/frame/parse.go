package frame

import (
	"encoding/binary"
	"errors"

	"xdhcp/handoff"
)

// Parse errors. They are sentinels so that the packet path can count them
// (errors.Is or ==) without formatting anything per packet.
var (
	// ErrShort: the frame, or the IPv4/UDP length it declares, is cut short;
	// from Build, the destination buffer is too small.
	ErrShort = errors.New("frame: too short")
	// ErrNotIPv4: the EtherType after the VLAN tags is not IPv4, or there
	// are more VLAN tags than we serve.
	ErrNotIPv4 = errors.New("frame: not IPv4")
	// ErrNotUDP: the IPv4 protocol is not UDP.
	ErrNotUDP = errors.New("frame: not UDP")
	// ErrFragment: the IPv4 packet is a fragment (MF set or offset > 0).
	// DHCP messages fit in one frame; reassembly is not our job.
	ErrFragment = errors.New("frame: IPv4 fragment")
	// ErrBadHeader: a header is inconsistent (IP version, IHL, lengths,
	// IPv4 header checksum, VLAN tag order) or a Meta cannot be built.
	ErrBadHeader = errors.New("frame: bad header")
)

// Wire constants.
const (
	EtherTypeIPv4 = 0x0800
	// TPID8021Q is the 802.1Q C-tag TPID, TPID8021AD the 802.1ad S-tag TPID.
	TPID8021Q  = 0x8100
	TPID8021AD = 0x88a8
	// MinFrameLen is the minimum Ethernet frame length without FCS; Build
	// pads shorter frames with zeros.
	MinFrameLen = 60
	// MaxVLAN is the number of VLAN tags Parse and Build handle.
	MaxVLAN = 2

	ethHdrLen  = 14
	vlanTagLen = 4
	ipv4HdrLen = 20 // without options
	udpHdrLen  = 8
	protoUDP   = 17
)

// Parse reads the Ethernet header, up to two VLAN tags (outer TPID 0x8100 or
// 0x88a8, inner 0x8100), the IPv4 header (options allowed, total length
// respected so trailing Ethernet padding is ignored; fragments refused) and
// the UDP header of b, fills every field of m and returns the UDP payload, a
// subslice of b whose capacity ends with the payload. m is meaningful only
// when err is nil.
//
// Parse checks the IPv4 version, header length, total length and header
// checksum, and the UDP length. It does not verify the UDP checksum: a frame
// sent over a veth from another namespace reaches AF_PACKET and XDP as
// CHECKSUM_PARTIAL, with the UDP checksum field holding only the pseudo-header
// sum, so checking it would drop good packets; on real NICs the hardware
// checks it. It accepts any UDP port: callers check m.DstPort.
func Parse(b []byte, m *handoff.Meta) (payload []byte, err error) {
	etype, off, err := parseEthernet(b, &m.DstMAC, &m.SrcMAC, &m.NVLAN, &m.VLAN)
	if err != nil {
		return nil, err
	}
	if etype != EtherTypeIPv4 {
		return nil, ErrNotIPv4
	}

	ip := b[off:]
	if len(ip) < ipv4HdrLen {
		return nil, ErrShort
	}
	if ip[0]>>4 != 4 {
		return nil, ErrBadHeader
	}
	ihl := int(ip[0]&0x0f) * 4
	if ihl < ipv4HdrLen {
		return nil, ErrBadHeader
	}
	total := int(binary.BigEndian.Uint16(ip[2:4]))
	if total < ihl+udpHdrLen {
		// Also rejects total < ihl: no room for a UDP header.
		return nil, ErrBadHeader
	}
	if len(ip) < total {
		return nil, ErrShort
	}
	ip = ip[:total] // drop Ethernet padding
	if binary.BigEndian.Uint16(ip[6:8])&0x3fff != 0 {
		// MF flag (0x2000) or a fragment offset; DF (0x4000) is fine.
		return nil, ErrFragment
	}
	if ip[9] != protoUDP {
		return nil, ErrNotUDP
	}
	if Fold(Checksum(ip[:ihl], 0)) != 0 {
		// The IPv4 header checksum is always computed in software or by
		// the sender, never left partial, so a mismatch is corruption.
		return nil, ErrBadHeader
	}
	m.TTL = ip[8]
	copy(m.SrcIP[:], ip[12:16])
	copy(m.DstIP[:], ip[16:20])

	udp := ip[ihl:]
	ulen := int(binary.BigEndian.Uint16(udp[4:6]))
	if ulen < udpHdrLen || ulen > len(udp) {
		// UDP claims more than the IPv4 packet carries, or less than
		// its own header.
		return nil, ErrBadHeader
	}
	m.SrcPort = binary.BigEndian.Uint16(udp[0:2])
	m.DstPort = binary.BigEndian.Uint16(udp[2:4])
	return udp[udpHdrLen:ulen:ulen], nil
}

// parseEthernet reads the Ethernet header and up to two VLAN tags (outer
// TPID 0x8100 or 0x88a8, inner 0x8100) of b and returns the EtherType after
// them and the offset of the network header. A third tag is ErrNotIPv4.
func parseEthernet(b []byte, dst, src *[6]byte, nvlan *int, vlan *[MaxVLAN]handoff.VLANTag) (etype uint16, off int, err error) {
	if len(b) < ethHdrLen {
		return 0, 0, ErrShort
	}
	copy(dst[:], b[0:6])
	copy(src[:], b[6:12])
	etype = binary.BigEndian.Uint16(b[12:14])
	off = ethHdrLen
	*nvlan = 0
	*vlan = [MaxVLAN]handoff.VLANTag{}
	for etype == TPID8021Q || etype == TPID8021AD {
		if *nvlan == MaxVLAN {
			// A third tag: nothing we serve is stacked that deep.
			return 0, 0, ErrNotIPv4
		}
		if *nvlan == 1 && etype != TPID8021Q {
			// An S-tag inside a tag is not valid 802.1ad.
			return 0, 0, ErrBadHeader
		}
		if len(b) < off+vlanTagLen {
			return 0, 0, ErrShort
		}
		vlan[*nvlan] = handoff.VLANTag{TPID: etype, TCI: binary.BigEndian.Uint16(b[off:])}
		*nvlan++
		etype = binary.BigEndian.Uint16(b[off+2:])
		off += vlanTagLen
	}
	return etype, off, nil
}
