package frame

import (
	"encoding/binary"

	"xdhcp/handoff"
)

// HeaderLen is the length of the Ethernet, VLAN, IPv4 and UDP headers that
// Build writes for m: 42 bytes plus 4 per VLAN tag. NVLAN outside 0..2 is
// clamped here; Build refuses it.
func HeaderLen(m *handoff.Meta) int {
	n := min(max(m.NVLAN, 0), MaxVLAN)
	return ethHdrLen + n*vlanTagLen + ipv4HdrLen + udpHdrLen
}

// Build writes a complete frame carrying payload into dst: Ethernet with the
// MACs of m, the m.NVLAN VLAN tags of m (a zero TPID means 0x8100), IPv4
// without options (TTL m.TTL, or 64 when zero; ID 0, DF clear, header
// checksum filled in) and UDP with its full checksum. It zero-pads the frame
// to MinFrameLen and returns its length. It returns ErrShort if dst cannot
// hold the frame, and ErrBadHeader for an invalid Meta (NVLAN outside 0..2,
// a TPID other than 0x8100/0x88a8, an inner S-tag) or a payload too large for
// one IPv4 packet.
func Build(dst []byte, m *handoff.Meta, payload []byte) (int, error) {
	if m.NVLAN < 0 || m.NVLAN > MaxVLAN {
		return 0, ErrBadHeader
	}
	udpLen := udpHdrLen + len(payload)
	ipLen := ipv4HdrLen + udpLen
	if ipLen > 0xffff {
		return 0, ErrBadHeader
	}
	hl := HeaderLen(m)
	n := hl + len(payload)
	flen := max(n, MinFrameLen)
	if len(dst) < flen {
		return 0, ErrShort
	}

	off, err := putEthernet(dst, &m.DstMAC, &m.SrcMAC, m.NVLAN, &m.VLAN, EtherTypeIPv4)
	if err != nil {
		return 0, err
	}

	ip := dst[off : off+ipv4HdrLen]
	ttl := m.TTL
	if ttl == 0 {
		ttl = 64
	}
	ip[0] = 0x45 // version 4, IHL 5
	ip[1] = 0    // DSCP/ECN
	binary.BigEndian.PutUint16(ip[2:], uint16(ipLen))
	binary.BigEndian.PutUint32(ip[4:], 0) // ID 0, flags and fragment offset 0
	ip[8] = ttl
	ip[9] = protoUDP
	ip[10], ip[11] = 0, 0
	copy(ip[12:16], m.SrcIP[:])
	copy(ip[16:20], m.DstIP[:])
	binary.BigEndian.PutUint16(ip[10:], Fold(Checksum(ip, 0)))
	off += ipv4HdrLen

	// Pseudo-header: source, destination, zero+protocol, UDP length.
	putUDP(dst[off:off+udpLen], m.SrcPort, m.DstPort, payload, Checksum(ip[12:20], uint32(protoUDP)+uint32(udpLen)))

	clear(dst[n:flen])
	return flen, nil
}

// putEthernet writes the Ethernet header with nvlan VLAN tags (a zero TPID
// means 0x8100) and the EtherType etype at the start of dst, which the
// caller has checked is long enough, and returns the header's length.
func putEthernet(dst []byte, dstMAC, srcMAC *[6]byte, nvlan int, vlan *[MaxVLAN]handoff.VLANTag, etype uint16) (int, error) {
	copy(dst[0:6], dstMAC[:])
	copy(dst[6:12], srcMAC[:])
	off := 12
	for i := range nvlan {
		tpid := vlan[i].TPID
		switch {
		case tpid == 0:
			tpid = TPID8021Q
		case tpid == TPID8021AD && i > 0, tpid != TPID8021Q && tpid != TPID8021AD:
			return 0, ErrBadHeader
		}
		binary.BigEndian.PutUint16(dst[off:], tpid)
		binary.BigEndian.PutUint16(dst[off+2:], vlan[i].TCI)
		off += vlanTagLen
	}
	binary.BigEndian.PutUint16(dst[off:], etype)
	return off + 2, nil
}

// putUDP writes the UDP header and payload into udp (exactly their length)
// with the checksum over them and the pseudo-header's partial sum pseudo.
func putUDP(udp []byte, srcPort, dstPort uint16, payload []byte, pseudo uint32) {
	binary.BigEndian.PutUint16(udp[0:], srcPort)
	binary.BigEndian.PutUint16(udp[2:], dstPort)
	binary.BigEndian.PutUint16(udp[4:], uint16(len(udp)))
	udp[6], udp[7] = 0, 0
	copy(udp[udpHdrLen:], payload)
	cs := Fold(Checksum(udp, pseudo))
	if cs == 0 {
		// RFC 768: a computed zero is sent as all ones; zero means "none"
		// (which IPv6 forbids).
		cs = 0xffff
	}
	binary.BigEndian.PutUint16(udp[6:], cs)
}
