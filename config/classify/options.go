package classify

// Reading options the way Kea 2.2 holds them after parsing a DHCPv4
// packet: option 82 carries sub-options (the agent space), option 125 is a
// vendor block (enterprise, length, sub-options), option 124 a vendor class
// (enterprise, then length-prefixed data chunks, each after an enterprise).

const (
	codeRelayAgent  = 82
	codeVendorClass = 124 // vivco
	codeVendorOpts  = 125 // vivso
)

// SubOption finds sub-option code in a payload of code/length/value
// entries (option 82's, for instance). A truncated payload ends the search.
func SubOption(b []byte, code uint8) ([]byte, bool) {
	for len(b) >= 2 {
		c, n := b[0], int(b[1])
		if len(b) < 2+n {
			return nil, false
		}
		if c == code {
			return b[2 : 2+n : 2+n], true
		}
		b = b[2+n:]
	}
	return nil, false
}

// ValidSubOptions reports whether b is a whole sequence of sub-options.
func ValidSubOptions(b []byte) bool {
	for len(b) > 0 {
		if len(b) < 2 || len(b) < 2+int(b[1]) {
			return false
		}
		b = b[2+int(b[1]):]
	}
	return true
}

// vendorBlock is the first vendor block of an option 125 payload: its
// enterprise number and its sub-options. ok is false for a payload Kea
// could not parse.
func vendorBlock(b []byte) (enterprise uint32, subs []byte, ok bool) {
	if len(b) < 5 {
		return 0, nil, false
	}
	enterprise = be32(b)
	n := int(b[4])
	if len(b) < 5+n || !ValidSubOptions(b[5:5+n]) {
		return 0, nil, false
	}
	return enterprise, b[5 : 5+n], true
}

// vendorClass parses an option 124 payload: the enterprise number and the
// number of data chunks; chunk i is returned by vendorClassData.
func vendorClass(b []byte) (enterprise uint32, chunks int, ok bool) {
	if len(b) < 4 {
		return 0, 0, false
	}
	enterprise = be32(b)
	rest := b[4:]
	for len(rest) > 0 {
		n := int(rest[0])
		if n == 0 || len(rest) < 1+n {
			return 0, 0, false // Kea refuses empty and truncated chunks
		}
		chunks++
		rest = rest[1+n:]
		if len(rest) == 0 {
			break
		}
		// Every further chunk repeats the enterprise number.
		if len(rest) < 4 || be32(rest) != enterprise {
			return 0, 0, false
		}
		rest = rest[4:]
	}
	return enterprise, chunks, true
}

// vendorClassData returns data chunk i of a payload vendorClass accepted.
func vendorClassData(b []byte, i int) []byte {
	rest := b[4:]
	for k := 0; len(rest) > 0; k++ {
		n := int(rest[0])
		if k == i {
			return rest[1 : 1+n : 1+n]
		}
		rest = rest[1+n:]
		if len(rest) >= 4 {
			rest = rest[4:]
		}
	}
	return nil
}

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}
