// Package frame parses and builds the Ethernet/VLAN/IPv4/UDP frames that
// carry DHCPv4, in place and without allocation. Both transports use it:
// the AF_XDP fast path and the AF_PACKET socket mode.
package frame

// Meta is what the packet path needs to know of a frame's headers, and what
// it needs to build one. Addresses are fixed arrays so that it never
// allocates.
type Meta struct {
	SrcMAC, DstMAC [6]byte
	// VLAN tags, outermost first. NVLAN is 0, 1 or 2. TPID is 0x8100 or
	// 0x88a8; TCI carries PCP/DEI/VID.
	NVLAN            int
	VLAN             [2]VLANTag
	SrcIP, DstIP     [4]byte
	SrcPort, DstPort uint16
	TTL              uint8
}

// VLANTag is one 802.1Q / 802.1ad tag.
type VLANTag struct {
	TPID uint16
	TCI  uint16
}
