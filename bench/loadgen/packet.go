package loadgen

import (
	"encoding/binary"

	"xdhcp/fastpath/dhcpview"
	"xdhcp/fastpath/frame"
	"xdhcp/handoff"
)

// Request sizes.
const (
	// maxPayload is the largest request we build: the header, the cookie
	// and at most ~80 bytes of options.
	maxPayload = 400
	// FrameBufLen is the buffer length a request frame needs.
	FrameBufLen = 14 + 20 + 8 + maxPayload
)

// request describes one client message; the engine fills it from a client's
// state and buildRequest writes it without allocating.
type request struct {
	msgType  byte
	xid      uint32
	secs     uint16
	flags    uint16
	mac      [6]byte
	ciaddr   [4]byte
	giaddr   [4]byte
	hops     byte
	reqIP    [4]byte // option 50 when non-zero
	serverID [4]byte // option 54 when non-zero
	clientID bool    // option 61 = 0x01 + mac
	circuit  []byte  // option 82 sub-option 1 when not nil (relay mode)
}

// paramRequest is option 55: subnet mask, routers, DNS, domain name,
// lease time, T1, T2.
var paramRequest = [...]byte{1, 3, 6, 15, 51, 58, 59}

// buildPayload writes the DHCP message of r into b (at least maxPayload
// bytes) and returns its length.
func buildPayload(b []byte, r *request) int {
	clear(b[:dhcpview.HeaderLen])
	b[0] = 1 // BOOTREQUEST
	b[1] = 1 // Ethernet
	b[2] = 6
	putMessageFields(b, r)
	binary.BigEndian.PutUint32(b[dhcpview.HeaderLen:], dhcpview.Magic)
	o := dhcpview.HeaderLen + 4
	b[o], b[o+1], b[o+2] = dhcpview.OptMessageType, 1, r.msgType
	o += 3
	if r.clientID {
		b[o], b[o+1], b[o+2] = dhcpview.OptClientID, 7, 1
		copy(b[o+3:], r.mac[:])
		o += 9
	}
	if r.reqIP != [4]byte{} {
		b[o], b[o+1] = dhcpview.OptRequestedIP, 4
		copy(b[o+2:], r.reqIP[:])
		o += 6
	}
	if r.serverID != [4]byte{} {
		b[o], b[o+1] = dhcpview.OptServerID, 4
		copy(b[o+2:], r.serverID[:])
		o += 6
	}
	if r.msgType == dhcpview.MsgDiscover || r.msgType == dhcpview.MsgRequest {
		b[o], b[o+1] = dhcpview.OptMaxMsgSize, 2
		binary.BigEndian.PutUint16(b[o+2:], 1500)
		o += 4
		b[o], b[o+1] = dhcpview.OptParamRequest, byte(len(paramRequest))
		o += 2 + copy(b[o+2:], paramRequest[:])
	}
	if r.circuit != nil {
		n := min(len(r.circuit), 32)
		b[o], b[o+1], b[o+2], b[o+3] = dhcpview.OptRelayAgent, byte(2+n), 1, byte(n)
		o += 4 + copy(b[o+4:], r.circuit[:n])
	}
	b[o] = dhcpview.OptEnd
	o++
	// Pad to the 300-byte BOOTP minimum that some relays and servers
	// still expect (RFC 1542 section 2.1).
	for o < 300 {
		b[o] = 0
		o++
	}
	return o
}

// putMessageFields writes the BOOTP fields that change from one message
// to the next (hops to chaddr) into the DHCP message b.
func putMessageFields(b []byte, r *request) {
	b[3] = r.hops
	binary.BigEndian.PutUint32(b[dhcpview.OffXid:], r.xid)
	binary.BigEndian.PutUint16(b[dhcpview.OffSecs:], r.secs)
	binary.BigEndian.PutUint16(b[dhcpview.OffFlags:], r.flags)
	copy(b[dhcpview.OffCiaddr:], r.ciaddr[:])
	copy(b[dhcpview.OffGiaddr:], r.giaddr[:])
	copy(b[dhcpview.OffChaddr:], r.mac[:])
}

// buildFrame writes a full Ethernet frame for r into dst (FrameBufLen
// bytes) with the given headers and returns its length.
func buildFrame(dst []byte, m *handoff.Meta, r *request, scratch []byte) (int, error) {
	n := buildPayload(scratch, r)
	return frame.Build(dst, m, scratch[:n])
}
