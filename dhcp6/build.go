package dhcp6

import "encoding/binary"

// Builder appends a DHCPv6 message to a buffer the caller owns (and
// reuses: Reset keeps its capacity). Options nest with Begin/End, which
// fill in the container's length once its content is written.
type Builder struct {
	B []byte
}

// Reset empties the buffer, keeping its storage.
func (b *Builder) Reset() { b.B = b.B[:0] }

// Header starts a client/server message.
func (b *Builder) Header(t MsgType, txid [3]byte) {
	b.B = append(b.B, byte(t), txid[0], txid[1], txid[2])
}

// RelayHeader starts a relay message.
func (b *Builder) RelayHeader(t MsgType, hops uint8, link, peer [16]byte) {
	b.B = append(b.B, byte(t), hops)
	b.B = append(b.B, link[:]...)
	b.B = append(b.B, peer[:]...)
}

// Option appends one option with data.
func (b *Builder) Option(code uint16, data []byte) {
	b.B = binary.BigEndian.AppendUint16(b.B, code)
	b.B = binary.BigEndian.AppendUint16(b.B, uint16(len(data)))
	b.B = append(b.B, data...)
}

// OptionU8, OptionU16 and OptionU32 append an option of one integer.
func (b *Builder) OptionU8(code uint16, v uint8) {
	b.B = binary.BigEndian.AppendUint16(b.B, code)
	b.B = append(b.B, 0, 1, v)
}

// OptionU16 appends an option holding one 16-bit integer.
func (b *Builder) OptionU16(code uint16, v uint16) {
	b.B = binary.BigEndian.AppendUint16(b.B, code)
	b.B = append(b.B, 0, 2)
	b.B = binary.BigEndian.AppendUint16(b.B, v)
}

// OptionU32 appends an option holding one 32-bit integer.
func (b *Builder) OptionU32(code uint16, v uint32) {
	b.B = binary.BigEndian.AppendUint16(b.B, code)
	b.B = append(b.B, 0, 4)
	b.B = binary.BigEndian.AppendUint32(b.B, v)
}

// Begin opens an option whose data is written next (fixed fields with
// Bytes/U32, nested options); End(mark) closes it.
func (b *Builder) Begin(code uint16) (mark int) {
	mark = len(b.B)
	b.B = binary.BigEndian.AppendUint16(b.B, code)
	b.B = append(b.B, 0, 0)
	return mark
}

// End writes the length of the option opened at mark.
func (b *Builder) End(mark int) {
	binary.BigEndian.PutUint16(b.B[mark+2:], uint16(len(b.B)-mark-4))
}

// U32 appends a 32-bit integer to the option being written.
func (b *Builder) U32(v uint32) { b.B = binary.BigEndian.AppendUint32(b.B, v) }

// Bytes appends raw bytes.
func (b *Builder) Bytes(p []byte) { b.B = append(b.B, p...) }

// IA opens an IA_NA or IA_PD (or IA_TA, without timers) with its fixed
// fields; nested addresses or prefixes follow, then End.
func (b *Builder) IA(code uint16, iaid, t1, t2 uint32) (mark int) {
	mark = b.Begin(code)
	b.U32(iaid)
	if code != OptIATA {
		b.U32(t1)
		b.U32(t2)
	}
	return mark
}

// IAAddr opens an IA Address option; End closes it (options such as a
// status may be nested before).
func (b *Builder) IAAddr(addr [16]byte, preferred, valid uint32) (mark int) {
	mark = b.Begin(OptIAAddr)
	b.B = append(b.B, addr[:]...)
	b.U32(preferred)
	b.U32(valid)
	return mark
}

// IAPrefix opens an IA Prefix option.
func (b *Builder) IAPrefix(prefix [16]byte, plen uint8, preferred, valid uint32) (mark int) {
	mark = b.Begin(OptIAPrefix)
	b.U32(preferred)
	b.U32(valid)
	b.B = append(b.B, plen)
	b.B = append(b.B, prefix[:]...)
	return mark
}

// Status appends a Status Code option.
func (b *Builder) Status(code uint16, msg string) {
	b.B = binary.BigEndian.AppendUint16(b.B, OptStatusCode)
	b.B = binary.BigEndian.AppendUint16(b.B, uint16(2+len(msg)))
	b.B = binary.BigEndian.AppendUint16(b.B, code)
	b.B = append(b.B, msg...)
}
