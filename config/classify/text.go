package classify

import (
	"net/netip"
	"slices"
	"strconv"

	"xdhcp/config/optiondef"
)

// What option[N].text gives. Kea 2.2 answers with the parsed option's
// toString(): the value itself for a string option, and for every other
// option its debugging text, for example
//
//	type=061, len=007: 01:aa:bb:cc:dd:ee:ff
//	type=057, len=002: 1500 (uint16)
//	type=055, len=003: 1(uint8) 3(uint8) 6(uint8)
//
// so a test such as option[61].text == 'x' never matches in Kea, and must
// not match here either. The formats below are Kea's, checked against
// kea-dhcp4 2.2's evaluation log.

// space says which definitions apply to an option's code.
type space uint8

const (
	spaceDHCP4  space = iota // top-level options
	spaceAgent               // sub-options of option 82 (all binary in Kea 2.2)
	spaceDOCSIS              // sub-options of option 125 for enterprise 4491
	spaceOther               // sub-options without definitions
)

// docsisDefs are Kea's DOCSIS 3 definitions of the vendor-4491 space.
var docsisDefs = map[uint8]optiondef.Def{
	1: {Name: "oro", Code: 1, Type: optiondef.Uint8, Array: true},
	2: {Name: "tftp-servers", Code: 2, Type: optiondef.IPv4, Array: true},
}

// defOf returns the definition of code in sp, or nil for a binary option.
func defOf(sp space, code uint8) *optiondef.Def {
	switch sp {
	case spaceDHCP4:
		return optiondef.ByCode(code)
	case spaceDOCSIS:
		if d, ok := docsisDefs[code]; ok {
			return &d
		}
	}
	return nil
}

// appendOptionString appends Kea's toString() of option code of space sp.
func appendOptionString(dst []byte, sp space, code uint8, b []byte) []byte {
	if isStringOption(sp, code) {
		return append(dst, b...)
	}
	return appendOptionText(dst, sp, code, b, 0)
}

// isStringOption reports whether code is a plain string option of space sp.
func isStringOption(sp space, code uint8) bool {
	if sp == spaceDHCP4 && (code == codeRelayAgent || code == codeVendorOpts || code == codeVendorClass) {
		return false
	}
	d := defOf(sp, code)
	return d != nil && d.Type == optiondef.String && !d.Array
}

// appendHeader appends "type=NNN, len=NNN" indented by indent spaces.
func appendHeader(dst []byte, code uint8, n, indent int) []byte {
	for i := 0; i < indent; i++ {
		dst = append(dst, ' ')
	}
	dst = append(dst, "type="...)
	dst = appendPad3(dst, int(code))
	dst = append(dst, ", len="...)
	return appendPad3(dst, n)
}

func appendPad3(dst []byte, v int) []byte {
	if v < 100 {
		dst = append(dst, '0')
	}
	if v < 10 {
		dst = append(dst, '0')
	}
	return strconv.AppendInt(dst, int64(v), 10)
}

// appendHexColon appends b as lower-case hex pairs joined by ':'.
func appendHexColon(dst, b []byte) []byte {
	const digits = "0123456789abcdef"
	for i, c := range b {
		if i > 0 {
			dst = append(dst, ':')
		}
		dst = append(dst, digits[c>>4], digits[c&0x0f])
	}
	return dst
}

// appendBinaryText is Kea's text of an option it holds as raw bytes.
func appendBinaryText(dst []byte, code uint8, b []byte, indent int) []byte {
	dst = appendHeader(dst, code, len(b), indent)
	dst = append(dst, ": "...)
	return appendHexColon(dst, b)
}

// appendSubOptions appends Kea's list of the sub-options in b, in code
// order as Kea keeps them.
func appendSubOptions(dst []byte, sp space, b []byte, indent int) []byte {
	if len(b) == 0 {
		return dst
	}
	var codes [256]bool
	for rest := b; len(rest) >= 2 && len(rest) >= 2+int(rest[1]); rest = rest[2+int(rest[1]):] {
		codes[rest[0]] = true
	}
	dst = append(dst, ",\noptions:"...)
	for c := 0; c < 256; c++ {
		if !codes[c] {
			continue
		}
		v, _ := SubOption(b, uint8(c))
		dst = append(dst, '\n')
		dst = appendOptionText(dst, sp, uint8(c), v, indent)
	}
	return dst
}

// typeName is Kea's name of a data type in option text.
func typeName(t optiondef.Type) string {
	switch t {
	case optiondef.Bool:
		return "boolean"
	case optiondef.Uint8:
		return "uint8"
	case optiondef.Uint16:
		return "uint16"
	case optiondef.Uint32:
		return "uint32"
	case optiondef.Int8:
		return "int8"
	case optiondef.Int16:
		return "int16"
	case optiondef.Int32:
		return "int32"
	case optiondef.IPv4:
		return "ipv4-address"
	case optiondef.String:
		return "string"
	}
	return "binary"
}

// intWidth is the size of an integer type, 0 for other types.
func intWidth(t optiondef.Type) int {
	switch t {
	case optiondef.Uint8, optiondef.Int8:
		return 1
	case optiondef.Uint16, optiondef.Int16:
		return 2
	case optiondef.Uint32, optiondef.Int32:
		return 4
	}
	return 0
}

// appendInt appends the big-endian integer b of type t in decimal.
func appendInt(dst []byte, t optiondef.Type, b []byte) []byte {
	var u uint64
	for _, c := range b {
		u = u<<8 | uint64(c)
	}
	switch t {
	case optiondef.Int8, optiondef.Int16, optiondef.Int32:
		shift := 64 - 8*len(b)
		return strconv.AppendInt(dst, int64(u<<shift)>>shift, 10)
	}
	return strconv.AppendUint(dst, u, 10)
}

// appendOptionText appends Kea's toText(indent) of option code of space
// sp with payload b. Payloads that do not fit their definition are shown
// as bytes.
func appendOptionText(dst []byte, sp space, code uint8, b []byte, indent int) []byte {
	if sp == spaceDHCP4 {
		switch code {
		case codeRelayAgent:
			if ValidSubOptions(b) {
				dst = appendHeader(dst, code, len(b), indent)
				dst = append(dst, ':')
				return appendSubOptions(dst, spaceAgent, b, indent+2)
			}
		case codeVendorOpts:
			if ent, subs, ok := vendorBlock(b); ok && len(subs)+5 == len(b) {
				dst = appendHeader(dst, code, len(b), indent)
				dst = append(dst, ": "...)
				dst = strconv.AppendUint(dst, uint64(ent), 10)
				dst = append(dst, " (uint32) "...)
				dst = strconv.AppendInt(dst, int64(len(subs)), 10)
				dst = append(dst, " (uint8)"...)
				return appendSubOptions(dst, vendorSpace(ent), subs, indent+2)
			}
		case codeVendorClass:
			if _, n, ok := vendorClass(b); ok {
				return appendVendorClassText(dst, b, n, indent)
			}
		}
	}
	return appendDefText(dst, defOf(sp, code), code, b, indent)
}

// appendDefText appends Kea's toText(indent) of option code with payload
// b as definition d (nil: a binary option) gives it.
func appendDefText(dst []byte, d *optiondef.Def, code uint8, b []byte, indent int) []byte {
	if d == nil || d.Type == optiondef.Binary || d.Type == optiondef.Empty {
		return appendBinaryText(dst, code, b, indent)
	}
	switch w := intWidth(d.Type); {
	case d.Type == optiondef.String && !d.Array:
		dst = appendHeader(dst, code, len(b), indent)
		dst = append(dst, ": \""...)
		dst = append(dst, b...)
		return append(dst, "\" (string)"...)
	case w > 0 && !d.Array && len(b) == w:
		dst = appendHeader(dst, code, len(b), indent)
		dst = append(dst, ": "...)
		dst = appendInt(dst, d.Type, b)
		return append(append(append(dst, " ("...), typeName(d.Type)...), ')')
	case w > 0 && d.Array && len(b) > 0 && len(b)%w == 0:
		dst = appendHeader(dst, code, len(b), indent)
		dst = append(dst, ':')
		for i := 0; i < len(b); i += w {
			dst = append(dst, ' ')
			dst = appendInt(dst, d.Type, b[i:i+w])
			dst = append(append(append(dst, '('), typeName(d.Type)...), ')')
		}
		return dst
	case d.Type == optiondef.IPv4 && d.Array && len(b) > 0 && len(b)%4 == 0:
		dst = appendHeader(dst, code, len(b), indent)
		dst = append(dst, ':')
		for i := 0; i < len(b); i += 4 {
			dst = append(dst, ' ')
			dst = netip.AddrFrom4([4]byte(b[i : i+4])).AppendTo(dst)
		}
		return dst
	case d.Type == optiondef.IPv4 && !d.Array && len(b) == 4:
		dst = appendHeader(dst, code, len(b), indent)
		dst = append(dst, ": "...)
		dst = netip.AddrFrom4([4]byte(b)).AppendTo(dst)
		return append(dst, " (ipv4-address)"...)
	case d.Type == optiondef.FQDN:
		if names, ok := fqdnList(b, d.Array); ok {
			dst = appendHeader(dst, code, len(b), indent)
			dst = append(dst, ':')
			for _, n := range names {
				dst = append(dst, " \""...)
				dst = append(dst, n...)
				dst = append(dst, "\" (fqdn)"...)
			}
			return dst
		}
	case d.Type == optiondef.Record && !d.Array:
		if out, ok := appendRecordText(append(appendHeader(dst, code, len(b), indent), ':'), d.Fields, b); ok {
			return out
		}
	case d.Type == optiondef.Bool && !d.Array && len(b) == 1:
		dst = appendHeader(dst, code, len(b), indent)
		dst = append(dst, ": "...)
		if b[0] != 0 {
			dst = append(dst, "true"...)
		} else {
			dst = append(dst, "false"...)
		}
		return append(dst, " (boolean)"...)
	}
	return appendBinaryText(dst, code, b, indent)
}

// vendorSpace is the space of the sub-options of enterprise's block.
func vendorSpace(enterprise uint32) space {
	if enterprise == 4491 {
		return spaceDOCSIS
	}
	return spaceOther
}

// appendVendorClassText is Kea's text of option 124 (whose header, unlike
// the others, has no zero padding).
func appendVendorClassText(dst, b []byte, chunks, indent int) []byte {
	for i := 0; i < indent; i++ {
		dst = append(dst, ' ')
	}
	dst = append(dst, "type=124, len="...)
	dst = strconv.AppendInt(dst, int64(len(b)), 10)
	dst = append(dst, ", "...)
	ent := be32(b)
	for i := 0; i < chunks; i++ {
		data := vendorClassData(b, i)
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, " enterprise id=0x"...)
		dst = strconv.AppendUint(dst, uint64(ent), 16)
		dst = append(dst, ", data-len"...)
		dst = strconv.AppendInt(dst, int64(i), 10)
		dst = append(dst, '=')
		dst = strconv.AppendInt(dst, int64(len(data)), 10)
		dst = append(dst, ", vendor-class-data"...)
		dst = strconv.AppendInt(dst, int64(i), 10)
		dst = append(dst, "='"...)
		dst = append(dst, data...)
		dst = append(dst, '\'')
	}
	return dst
}

// appendPacked appends what Kea's toBinary gives for an option holding
// sub-options: its own data, then the sub-options in code order.
func AppendSorted(dst, b []byte) []byte {
	type ent struct {
		code uint8
		v    []byte
	}
	var arr [16]ent
	ents := arr[:0]
	for rest := b; len(rest) >= 2; rest = rest[2+int(rest[1]):] {
		ents = append(ents, ent{rest[0], rest[2 : 2+int(rest[1])]})
	}
	slices.SortStableFunc(ents, func(a, b ent) int { return int(a.code) - int(b.code) })
	for _, e := range ents {
		dst = append(dst, e.code, byte(len(e.v)))
		dst = append(dst, e.v...)
	}
	return dst
}

// fqdnList decodes wire-format domain names ("example.com." each, as Kea
// prints them): one, or as many as b holds when array.
func fqdnList(b []byte, array bool) ([]string, bool) {
	var names []string
	for len(b) > 0 {
		var name []byte
		for {
			if len(b) == 0 {
				return nil, false
			}
			n := int(b[0])
			b = b[1:]
			if n == 0 {
				break
			}
			if n > 63 || len(b) < n {
				return nil, false
			}
			name = append(append(name, b[:n]...), '.')
			b = b[n:]
		}
		if len(name) == 0 {
			name = []byte{'.'}
		}
		names = append(names, string(name))
		if !array {
			return names, len(b) == 0
		}
	}
	return names, len(names) > 0
}

// appendRecordText appends " value (type)" for each field of a record, as
// Kea's text of a record option has it; ok is false for field types whose
// text is not reproduced here, or a payload that does not fit.
func appendRecordText(dst []byte, fields []optiondef.Type, b []byte) ([]byte, bool) {
	const upper = "0123456789ABCDEF"
	for i, f := range fields {
		dst = append(dst, ' ')
		switch w := intWidth(f); {
		case w > 0:
			if len(b) < w {
				return nil, false
			}
			dst = appendInt(dst, f, b[:w])
			b = b[w:]
		case f == optiondef.IPv4:
			if len(b) < 4 {
				return nil, false
			}
			dst = netip.AddrFrom4([4]byte(b[:4])).AppendTo(dst)
			b = b[4:]
		case f == optiondef.Bool:
			if len(b) < 1 {
				return nil, false
			}
			if b[0] != 0 {
				dst = append(dst, "true"...)
			} else {
				dst = append(dst, "false"...)
			}
			b = b[1:]
		case f == optiondef.Binary && i == len(fields)-1:
			for _, c := range b {
				dst = append(dst, upper[c>>4], upper[c&15])
			}
			b = nil
		default:
			return nil, false
		}
		dst = append(append(append(dst, " ("...), typeName(f)...), ')')
	}
	return dst, len(b) == 0
}
