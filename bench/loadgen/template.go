package loadgen

import (
	"encoding/binary"

	"xdhcp/fastpath/dhcpview"
	"xdhcp/fastpath/frame"
	"xdhcp/handoff"
)

// A template is a prebuilt request frame of one shape (message type and
// which options it carries) with every per-client field zeroed, and the
// UDP checksum of its constant part. Building a request is then a copy,
// a few patched fields and a checksum over those fields only, with no
// allocation: the hot path of the generator sends one frame per reply.
type template struct {
	key   uint32
	frame []byte
	// base is the unfolded UDP checksum of the constant bytes, with the
	// pseudo-header's protocol and length.
	base uint32
	// Payload offsets of the option values patched per message; -1 when
	// the shape lacks the option.
	offCID, offReq, offSID, offCirc int
}

// templates caches one template per shape; a run uses a handful.
type templates struct {
	list []template
}

const (
	tmplHdr   = 42 // Ethernet + IPv4 without options + UDP
	bootpVar  = 44 // BOOTP bytes up to the end of chaddr's first 16 bytes
	ipOff     = 14
	udpOff    = 34
	udpCsumAt = udpOff + 6
)

// shapeKey identifies the template for r.
func shapeKey(r *request) uint32 {
	k := uint32(r.msgType)
	if r.clientID {
		k |= 1 << 8
	}
	if r.reqIP != [4]byte{} {
		k |= 1 << 9
	}
	if r.serverID != [4]byte{} {
		k |= 1 << 10
	}
	if r.circuit != nil {
		k |= uint32(1+min(len(r.circuit), 32)) << 11
	}
	return k
}

// get returns the template for r's shape, building it on first use.
func (ts *templates) get(r *request) *template {
	k := shapeKey(r)
	for i := range ts.list {
		if ts.list[i].key == k {
			return &ts.list[i]
		}
	}
	ts.list = append(ts.list, newTemplate(k, r))
	return &ts.list[len(ts.list)-1]
}

// newTemplate builds the template of r's shape.
func newTemplate(k uint32, r *request) template {
	z := request{msgType: r.msgType, clientID: r.clientID}
	// Non-zero placeholders make buildPayload write options 50 and 54;
	// they are zeroed below with the other per-message bytes.
	if r.reqIP != [4]byte{} {
		z.reqIP = [4]byte{1, 1, 1, 1}
	}
	if r.serverID != [4]byte{} {
		z.serverID = [4]byte{1, 1, 1, 1}
	}
	if r.circuit != nil {
		z.circuit = make([]byte, min(len(r.circuit), 32))
	}
	f := make([]byte, tmplHdr+maxPayload)
	n := buildPayload(f[tmplHdr:], &z)
	t := template{key: k, frame: f[:tmplHdr+n], offCID: -1, offReq: -1, offSID: -1, offCirc: -1}
	p := t.frame[tmplHdr:]
	// Walk the options we wrote to find the values to patch.
	for o := dhcpview.HeaderLen + 4; o < n && p[o] != dhcpview.OptEnd; o += 2 + int(p[o+1]) {
		switch p[o] {
		case dhcpview.OptClientID:
			t.offCID = o + 3
		case dhcpview.OptRequestedIP:
			t.offReq = o + 2
		case dhcpview.OptServerID:
			t.offSID = o + 2
		case dhcpview.OptRelayAgent:
			t.offCirc = o + 4
		}
	}
	for _, off := range []struct{ at, n int }{{t.offReq, 4}, {t.offSID, 4}} {
		if off.at >= 0 {
			clear(p[off.at : off.at+off.n])
		}
	}
	binary.BigEndian.PutUint16(f[12:], frame.EtherTypeIPv4)
	ip := f[ipOff:udpOff]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+8+n))
	ip[8] = 64
	ip[9] = 17
	udp := f[udpOff:tmplHdr]
	binary.BigEndian.PutUint16(udp[4:], uint16(8+n))
	// The constant part: UDP header (ports are patched, the length is
	// not), and the payload past the per-message BOOTP fields; the
	// patched option values are zero in the template so they add
	// nothing.
	t.base = frame.Checksum(p[bootpVar:n], 17+uint32(8+n)+uint32(8+n))
	return t
}

// sumAt is the ones'-complement sum of b as it contributes to a checksum
// when it starts at offset off of the summed data: an odd start swaps the
// bytes of its folded sum.
func sumAt(b []byte, off int) uint32 {
	s := frame.Checksum(b, 0)
	if off&1 == 0 {
		return s
	}
	s = s&0xffff + s>>16
	s = s&0xffff + s>>16
	return (s>>8 | s<<8) & 0xffff
}

// build writes the frame of m and r into dst (at least FrameBufLen bytes)
// from the template and returns its length. It handles what the engine
// sends: no VLAN tags, the default TTL.
func (t *template) build(dst []byte, m *handoff.Meta, r *request) int {
	n := copy(dst, t.frame)
	copy(dst[0:6], m.DstMAC[:])
	copy(dst[6:12], m.SrcMAC[:])
	ip := dst[ipOff:udpOff]
	copy(ip[12:16], m.SrcIP[:])
	copy(ip[16:20], m.DstIP[:])
	binary.BigEndian.PutUint16(ip[10:], frame.Fold(frame.Checksum(ip, 0)))
	udp := dst[udpOff:tmplHdr]
	binary.BigEndian.PutUint16(udp[0:], m.SrcPort)
	binary.BigEndian.PutUint16(udp[2:], m.DstPort)

	p := dst[tmplHdr:n]
	putMessageFields(p, r)
	// Partial sums are up to 32 bits each: add them in 64.
	sum := uint64(t.base) + uint64(frame.Checksum(ip[12:20], 0)) + uint64(frame.Checksum(udp[0:4], 0)) + uint64(frame.Checksum(p[:bootpVar], 0))
	if t.offCID >= 0 {
		copy(p[t.offCID:], r.mac[:])
		sum += uint64(sumAt(p[t.offCID:t.offCID+6], t.offCID))
	}
	if t.offReq >= 0 {
		copy(p[t.offReq:], r.reqIP[:])
		sum += uint64(sumAt(p[t.offReq:t.offReq+4], t.offReq))
	}
	if t.offSID >= 0 {
		copy(p[t.offSID:], r.serverID[:])
		sum += uint64(sumAt(p[t.offSID:t.offSID+4], t.offSID))
	}
	if t.offCirc >= 0 {
		c := r.circuit[:min(len(r.circuit), 32)]
		copy(p[t.offCirc:], c)
		sum += uint64(sumAt(p[t.offCirc:t.offCirc+len(c)], t.offCirc))
	}
	for sum>>32 != 0 {
		sum = sum&0xffffffff + sum>>32
	}
	cs := frame.Fold(uint32(sum))
	if cs == 0 {
		cs = 0xffff // RFC 768: zero means "no checksum"
	}
	binary.BigEndian.PutUint16(dst[udpCsumAt:], cs)
	return n
}
