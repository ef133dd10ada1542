package frame

import "encoding/binary"

// Checksum adds b to the running Internet checksum (RFC 1071) sum initial and
// returns the new, not yet folded, sum. Chain calls to cover a pseudo-header
// and a body: every chunk but the last must have an even length, because an
// odd trailing byte is summed as if followed by a zero byte.
//
// The result stays a valid ones'-complement partial sum in 32 bits (2^32 is
// congruent to 1 modulo 0xffff), so it can be fed back as initial any number
// of times without overflow.
func Checksum(b []byte, initial uint32) uint32 {
	// 32-bit words summed into 64 bits: a 64 KiB buffer adds at most 2^46,
	// far from overflow, and halves the loop count of a 16-bit loop.
	sum := uint64(initial)
	for len(b) >= 4 {
		sum += uint64(binary.BigEndian.Uint32(b))
		b = b[4:]
	}
	if len(b) >= 2 {
		sum += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint64(b[0]) << 8
	}
	for sum>>32 != 0 {
		sum = sum&0xffffffff + sum>>32
	}
	return uint32(sum)
}

// Fold folds a partial sum from Checksum into 16 bits and returns its ones'
// complement: the value to store in an IPv4, UDP or TCP checksum field.
// Verifying a received header is Fold(Checksum(hdr, 0)) == 0.
//
// For an incremental update (RFC 1624, eqn. 3) of a stored checksum hc after
// 16-bit field m became m2: Fold(uint32(^hc) + uint32(^m) + uint32(m2)).
func Fold(sum uint32) uint16 {
	sum = sum&0xffff + sum>>16
	sum = sum&0xffff + sum>>16
	return ^uint16(sum)
}
