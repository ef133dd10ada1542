// Package dhcpview is an in-place, allocation-free view of a DHCPv4 message
// (the UDP payload). Parse records offsets into the caller's buffer: the
// fixed BOOTP fields are read straight from it, and the options the fast path
// needs are found through a fixed array of offsets. Nothing is copied, no map
// is built, and every error is a sentinel, so the per-packet path can count
// failures without formatting them.
//
// The view refuses what cannot be represented in place: an option that
// appears twice (RFC 3396 says the pieces are concatenated, which needs a
// copy) and option overload (option 52 moves options into sname/file). Both
// are legal but rare; the fast path hands such packets to the slow path.
package dhcpview

import (
	"encoding/binary"
	"errors"
)

// Parse errors.
var (
	// ErrShort: the message is shorter than the BOOTP header plus the
	// magic cookie (240 bytes).
	ErrShort = errors.New("dhcpview: message shorter than BOOTP header and cookie")
	// ErrCookie: the four bytes after the BOOTP header are not the DHCP
	// magic cookie 99.130.83.99.
	ErrCookie = errors.New("dhcpview: bad magic cookie")
	// ErrTruncated: an option's code or length byte, or its data, runs
	// past the end of the message.
	ErrTruncated = errors.New("dhcpview: option truncated")
	// ErrDuplicate: an option code appears more than once. RFC 3396
	// concatenation cannot be done in place.
	ErrDuplicate = errors.New("dhcpview: duplicate option")
	// ErrOverload: the message carries option 52; its options continue in
	// sname/file, which the view does not follow.
	ErrOverload = errors.New("dhcpview: option overload")
)

// BOOTP layout (RFC 2131 figure 1): the offsets of the fixed fields.
const (
	OffOp     = 0
	OffHType  = 1
	OffHLen   = 2
	OffHops   = 3
	OffXid    = 4
	OffSecs   = 8
	OffFlags  = 10
	OffCiaddr = 12
	OffYiaddr = 16
	OffSiaddr = 20
	OffGiaddr = 24
	OffChaddr = 28
	// HeaderLen is the length of the fixed BOOTP header.
	HeaderLen = 236
	// MinLen is HeaderLen plus the magic cookie: the shortest message
	// Parse accepts.
	MinLen = HeaderLen + 4
)

// The DHCPv4 UDP ports (RFC 2131 section 4.1).
const (
	ServerPort = 67
	ClientPort = 68
)

// Magic is the DHCP magic cookie 99.130.83.99 (RFC 2131 section 3) as a
// big-endian word.
const Magic = 0x63825363

// Option codes: those the view tracks or treats specially, and the others
// the fast path writes.
const (
	OptPad           = 0
	OptHostName      = 12
	OptRequestedIP   = 50
	OptLeaseTime     = 51
	OptOverload      = 52
	OptMessageType   = 53
	OptServerID      = 54
	OptParamRequest  = 55
	OptMaxMsgSize    = 57
	OptRenewalTime   = 58
	OptRebindingTime = 59
	OptVendorClass   = 60
	OptClientID      = 61
	OptUserClass     = 77
	OptRelayAgent    = 82
	OptEnd           = 255
)

// Message types (option 53).
const (
	MsgDiscover = 1
	MsgOffer    = 2
	MsgRequest  = 3
	MsgDecline  = 4
	MsgAck      = 5
	MsgNak      = 6
	MsgRelease  = 7
	MsgInform   = 8
)

// tracked reports whether the view records option code.
func tracked(code uint8) bool {
	switch code {
	case OptMessageType, OptRequestedIP, OptServerID, OptClientID, OptParamRequest, OptRelayAgent,
		OptHostName, OptLeaseTime, OptMaxMsgSize, OptRenewalTime, OptVendorClass, OptUserClass:
		return true
	}
	return false
}

// optSlots sizes View.opt, which holds tracked option code c at index
// c%optSlots: the tracked codes are distinct modulo 18 (a test checks it).
// The lookup is then a division by a constant and a compare, small enough
// for Option to be inlined into the per-packet code, where a switch over
// the codes was not.
const optSlots = 18

// optRef locates one option's data in the message. off is the offset of the
// first data byte; 0 means absent (no option data can start before MinLen).
// code tells a tracked option from an untracked one with the same slot.
type optRef struct {
	off  uint16
	len  uint8
	code uint8
}

// View is a parsed DHCPv4 message. It refers to the buffer given to Parse,
// which must stay unchanged while the view is used. The zero View is empty;
// a View can be reused for any number of Parse calls.
type View struct {
	b   []byte
	opt [optSlots]optRef
	// fp is the fingerprint, computed while the options are walked so
	// that Fingerprint costs nothing.
	fp uint64
	// ended says the options stopped at an End option rather than at the
	// end of the message.
	ended bool
}

// FNV-1a, 64-bit (fixed parameters: the fingerprint must be the same in the
// slow path that publishes it and in the fast path that checks it, across
// processes too).
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvByte(h uint64, c byte) uint64 { return (h ^ uint64(c)) * fnvPrime }

func fnvBytes(h uint64, b []byte) uint64 {
	for _, c := range b {
		h = (h ^ uint64(c)) * fnvPrime
	}
	return h
}

// inFingerprint reports whether an option takes part in the fingerprint.
// Excluded: pad and end (framing), 50 and 54 (present in SELECTING and
// INIT-REBOOT, absent in RENEWING/REBINDING), 51 (the client's lease-time
// hint, which the lease cache evaluates itself against the lifetime bounds)
// and 57 (maximum message size, which does not change what is sent).
func inFingerprint(code uint8) bool {
	switch code {
	case OptPad, OptEnd, OptRequestedIP, OptServerID, OptLeaseTime, OptMaxMsgSize:
		return false
	}
	return true
}

// Parse makes v a view of the DHCPv4 message b: the BOOTP header, the magic
// cookie and the options up to End or the end of b (a missing End is
// tolerated, as Kea does; bytes after End are padding). On error v is empty
// and must not be used until the next successful Parse.
func (v *View) Parse(b []byte) error { return v.parse(b, true) }

// ParseNoFingerprint is Parse without computing the fingerprint (Fingerprint
// then returns 0), for readers that only want the fields and options: hashing
// the options costs more than walking them.
func (v *View) ParseNoFingerprint(b []byte) error { return v.parse(b, false) }

func (v *View) parse(b []byte, fingerprint bool) error {
	*v = View{}
	if len(b) < MinLen {
		return ErrShort
	}
	if binary.BigEndian.Uint32(b[HeaderLen:]) != Magic {
		return ErrCookie
	}
	if len(b) > 0xffff {
		// Offsets are 16 bits; no DHCP message over UDP is this long.
		return ErrTruncated
	}
	var h uint64
	if fingerprint {
		h = fnvOffset
		h = fnvByte(h, b[OffHType])
		h = fnvByte(h, b[OffHLen])
		h = fnvBytes(h, b[OffChaddr:OffChaddr+chaddrLen(b[OffHLen])])
		h = fnvBytes(h, b[OffGiaddr:OffGiaddr+4])
	}

	var seen [4]uint64 // one bit per option code, for duplicates
	i := MinLen
	for i < len(b) {
		code := b[i]
		if code == OptPad {
			i++
			continue
		}
		if code == OptEnd {
			v.ended = true
			break
		}
		if i+1 >= len(b) {
			*v = View{}
			return ErrTruncated
		}
		n := int(b[i+1])
		data := i + 2
		if data+n > len(b) {
			*v = View{}
			return ErrTruncated
		}
		if seen[code>>6]&(1<<(code&63)) != 0 {
			*v = View{}
			return ErrDuplicate
		}
		seen[code>>6] |= 1 << (code & 63)
		if code == OptOverload {
			*v = View{}
			return ErrOverload
		}
		if tracked(code) {
			v.opt[code%optSlots] = optRef{off: uint16(data), len: uint8(n), code: code}
		}
		if fingerprint && inFingerprint(code) {
			h = fnvBytes(h, b[i:data+n]) // code, length and data
		}
		i = data + n
	}
	v.b = b
	v.fp = h
	return nil
}

// chaddrLen is hlen capped at the 16 bytes of the chaddr field.
func chaddrLen(hlen byte) int { return int(min(hlen, 16)) }

// Ended reports whether the options stopped at an End option (255) rather
// than at the end of the message.
func (v *View) Ended() bool { return v.ended }

// Valid reports whether v holds a successfully parsed message.
func (v *View) Valid() bool { return v.b != nil }

// Bytes returns the message v was parsed from.
func (v *View) Bytes() []byte { return v.b }

// The accessors below return zero values on an empty View instead of
// panicking.

// Op is the BOOTP op field: 1 request, 2 reply.
func (v *View) Op() uint8 { return v.byteAt(OffOp) }

// HType is the hardware address type (1 = Ethernet).
func (v *View) HType() uint8 { return v.byteAt(OffHType) }

// HLen is the hardware address length as sent (not capped).
func (v *View) HLen() uint8 { return v.byteAt(OffHLen) }

// Hops is the relay hop count.
func (v *View) Hops() uint8 { return v.byteAt(OffHops) }

// Xid is the transaction ID.
func (v *View) Xid() uint32 {
	if v.b == nil {
		return 0
	}
	return binary.BigEndian.Uint32(v.b[OffXid:])
}

// Secs is the seconds elapsed since the client began acquisition.
func (v *View) Secs() uint16 { return v.u16(OffSecs) }

// Flags is the BOOTP flags field (bit 15 = broadcast).
func (v *View) Flags() uint16 { return v.u16(OffFlags) }

// Ciaddr is the client's IP address (set in BOUND, RENEWING, REBINDING).
func (v *View) Ciaddr() [4]byte { return v.addr(OffCiaddr) }

// Yiaddr is the "your" IP address.
func (v *View) Yiaddr() [4]byte { return v.addr(OffYiaddr) }

// Siaddr is the next-server IP address.
func (v *View) Siaddr() [4]byte { return v.addr(OffSiaddr) }

// Giaddr is the relay agent IP address.
func (v *View) Giaddr() [4]byte { return v.addr(OffGiaddr) }

// Chaddr returns the client hardware address: hlen bytes of the chaddr
// field, capped at 16. It aliases the message.
func (v *View) Chaddr() []byte {
	if v.b == nil {
		return nil
	}
	n := chaddrLen(v.b[OffHLen])
	return v.b[OffChaddr : OffChaddr+n : OffChaddr+n]
}

// MsgType is the DHCP message type (option 53), or 0 when the option is
// absent or not one byte long.
func (v *View) MsgType() uint8 {
	d, ok := v.Option(OptMessageType)
	if !ok || len(d) != 1 {
		return 0
	}
	return d[0]
}

// Option returns the data of option code and whether it is present. Only the
// tracked codes (53, 50, 54, 61, 55, 82, 12, 51, 57, 58, 60, 77) are recorded;
// any other code reports absent. The slice aliases the message.
func (v *View) Option(code uint8) ([]byte, bool) {
	r := v.opt[code%optSlots]
	if r.off == 0 || r.code != code {
		return nil, false
	}
	end := int(r.off) + int(r.len)
	return v.b[r.off:end:end], true
}

// Has reports whether tracked option code is present.
func (v *View) Has(code uint8) bool {
	r := v.opt[code%optSlots]
	return r.off != 0 && r.code == code
}

// Requested returns the requested IP address (option 50); ok is false when
// the option is absent or not four bytes long.
func (v *View) Requested() ([4]byte, bool) { return v.optAddr(OptRequestedIP) }

// ServerID returns the server identifier (option 54); ok is false when the
// option is absent or not four bytes long.
func (v *View) ServerID() ([4]byte, bool) { return v.optAddr(OptServerID) }

// ClientID returns the client identifier (option 61), or nil when absent.
func (v *View) ClientID() []byte {
	d, _ := v.Option(OptClientID)
	return d
}

// LeaseTime returns the client's requested lease time (option 51); ok is
// false when the option is absent or not four bytes long.
func (v *View) LeaseTime() (uint32, bool) {
	d, ok := v.Option(OptLeaseTime)
	if !ok || len(d) != 4 {
		return 0, false
	}
	return binary.BigEndian.Uint32(d), true
}

// Fingerprint is a 64-bit FNV-1a hash of everything in the message that can
// change the reply or the client's classification, apart from what a renewal
// legitimately changes: htype, hlen, chaddr (hlen bytes, capped at 16),
// giaddr, and every option (code, length, data, in message order) except
// pad, end, 50 (requested address), 54 (server identifier), 51 (lease-time
// hint) and 57 (maximum message size).
//
// The rule it serves: the slow path publishes, with a lease, the fingerprint
// of the request it ACKed; the fast path answers only a renewal whose
// fingerprint matches. A client sending the same request options gets the
// same fingerprint in SELECTING or INIT-REBOOT (where 50 and 54 are present)
// and in RENEWING or REBINDING (where they are absent), so the cached reply
// is the one the slow path would compute: classification, subnet selection
// by giaddr and relay information, and option selection by the parameter
// request list cannot differ. Fields outside the fingerprint (xid, secs,
// flags, ciaddr, hops) must not influence classification of cached
// clients; the slow path does not publish leases whose classes test them.
//
// The hash is not keyed: it guards against accidents, not against a client
// forging a collision, which could only earn that client its own cached
// reply.
func (v *View) Fingerprint() uint64 { return v.fp }

// IsRenewal reports whether the message is a DHCPREQUEST from a client in
// RENEWING or REBINDING (RFC 2131 section 4.3.2): ciaddr set, and neither a
// requested address (50) nor a server identifier (54).
func (v *View) IsRenewal() bool {
	return v.b != nil &&
		v.MsgType() == MsgRequest &&
		v.Ciaddr() != [4]byte{} &&
		!v.Has(OptRequestedIP) &&
		!v.Has(OptServerID)
}

func (v *View) byteAt(off int) uint8 {
	if v.b == nil {
		return 0
	}
	return v.b[off]
}

func (v *View) u16(off int) uint16 {
	if v.b == nil {
		return 0
	}
	return binary.BigEndian.Uint16(v.b[off:])
}

func (v *View) addr(off int) [4]byte {
	if v.b == nil {
		return [4]byte{}
	}
	return [4]byte(v.b[off : off+4])
}

func (v *View) optAddr(code uint8) ([4]byte, bool) {
	d, ok := v.Option(code)
	if !ok || len(d) != 4 {
		return [4]byte{}, false
	}
	return [4]byte(d), true
}
