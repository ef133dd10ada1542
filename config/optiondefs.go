package config

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"

	"xdhcp/config/optiondef"
)

// optDef is an option definition: a standard one or an option-def entry.
type optDef = optiondef.Def

// OptionName returns Kea's name of a standard DHCPv4 option ("routers" for
// 3), or "" for a code without a standard definition.
func OptionName(code uint8) string {
	if d := optiondef.ByCode(code); d != nil {
		return d.Name
	}
	return ""
}

// OptionCode returns the code of a standard DHCPv4 option by Kea's name.
func OptionCode(name string) (uint8, bool) {
	if d := optiondef.ByName(name); d != nil {
		return d.Code, true
	}
	return 0, false
}

// spaceName is the option space a configuration entry names: "" is dhcp4.
func spaceName(s *string) string {
	if s == nil || *s == "" {
		return optiondef.Space
	}
	return *s
}

// defKey names a definition within its option space.
type defKey struct {
	space string
	code  uint8
}

type defName struct{ space, name string }

// defTable resolves option names and codes for one scope: the built-in
// definitions plus the configuration's option-def entries (and, for a
// client class, its own option-def).
type defTable struct {
	byCode map[defKey]*optDef
	byName map[defName]*optDef
	parent *defTable
}

func newDefTable(parent *defTable) *defTable {
	return &defTable{byCode: map[defKey]*optDef{}, byName: map[defName]*optDef{}, parent: parent}
}

func (t *defTable) add(space string, d *optDef) {
	t.byCode[defKey{space, d.Code}] = d
	t.byName[defName{space, d.Name}] = d
}

func (t *defTable) code(space string, code uint8) *optDef {
	for ; t != nil; t = t.parent {
		if d, ok := t.byCode[defKey{space, code}]; ok {
			return d
		}
	}
	return optiondef.InSpace(space, code)
}

func (t *defTable) name(space, name string) *optDef {
	for ; t != nil; t = t.parent {
		if d, ok := t.byName[defName{space, name}]; ok {
			return d
		}
	}
	return optiondef.InSpaceByName(space, name)
}

// encodeOption turns the csv-format text of an option into its wire
// payload, as Kea 2.2 does: the text is split on commas not escaped by a
// backslash (empty values dropped), a scalar takes the first value, an
// array every value, a record one value per field with the last field
// repeating when the record is an array. v6 selects DHCPv6's encoding
// (a tuple has a two-byte length).
func encodeOption(d *optDef, data string, v6 bool) ([]byte, error) {
	vals := splitCSV(data)
	switch {
	case d.Type == optiondef.Empty:
		if len(vals) > 0 {
			return nil, fmt.Errorf("option %q carries no data of its own", d.Name)
		}
		return nil, nil
	case d.Type == optiondef.Record:
		if len(d.Fields) == 0 {
			return nil, errors.New("record definition has no fields")
		}
		if len(vals) < len(d.Fields) {
			return nil, fmt.Errorf("expected %d comma-separated fields, got %d", len(d.Fields), len(vals))
		}
		if !d.Array {
			vals = vals[:len(d.Fields)]
		}
		var out []byte
		for i, v := range vals {
			b, err := encodeField(d.Fields[min(i, len(d.Fields)-1)], v, v6)
			if err != nil {
				return nil, fmt.Errorf("field %d: %w", i+1, err)
			}
			out = append(out, b...)
		}
		return out, nil
	case len(vals) == 0:
		if d.Array {
			return nil, nil
		}
		return nil, errors.New("no option value specified")
	case !d.Array:
		vals = vals[:1]
	}
	var out []byte
	for _, v := range vals {
		b, err := encodeField(d.Type, v, v6)
		if err != nil {
			return nil, err
		}
		out = append(out, b...)
	}
	return out, nil
}

// splitCSV splits on commas not escaped by a backslash, trims spaces and
// drops empty values, as Kea's tokenizer does.
func splitCSV(s string) []string {
	var out []string
	var cur strings.Builder
	flush := func() {
		if v := strings.TrimSpace(cur.String()); v != "" {
			out = append(out, v)
		}
		cur.Reset()
	}
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && (s[i+1] == ',' || s[i+1] == '\\'):
			cur.WriteByte(s[i+1])
			i++
		case s[i] == ',':
			flush()
		default:
			cur.WriteByte(s[i])
		}
	}
	flush()
	return out
}

// encodeField encodes one value of type t (for DHCPv6 when v6).
func encodeField(t optiondef.Type, s string, v6 bool) ([]byte, error) {
	switch t {
	case optiondef.IPv4:
		a, err := parseIPv4(s)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", s, err)
		}
		b := a.As4()
		return b[:], nil
	case optiondef.IPv6:
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return nil, fmt.Errorf("%q is not an IPv6 address", s)
		}
		b := a.As16()
		return b[:], nil
	case optiondef.IPv6Prefix:
		p, err := netip.ParsePrefix(s)
		if err != nil || !p.Addr().Is6() {
			return nil, fmt.Errorf("%q is not an IPv6 prefix", s)
		}
		a := p.Masked().Addr().As16()
		return append([]byte{byte(p.Bits())}, a[:(p.Bits()+7)/8]...), nil
	case optiondef.Uint8, optiondef.Uint16, optiondef.Uint32, optiondef.Int8, optiondef.Int16, optiondef.Int32:
		return encodeInt(t, s)
	case optiondef.Bool:
		switch strings.ToLower(s) {
		case "true", "1":
			return []byte{1}, nil
		case "false", "0":
			return []byte{0}, nil
		}
		return nil, fmt.Errorf("%q is not a boolean (true, false, 1, 0)", s)
	case optiondef.String:
		return []byte(s), nil
	case optiondef.Tuple:
		if v6 {
			if len(s) > 0xffff {
				return nil, fmt.Errorf("a tuple holds at most 65535 bytes")
			}
			return append([]byte{byte(len(s) >> 8), byte(len(s))}, s...), nil
		}
		if len(s) > 255 {
			return nil, fmt.Errorf("%q: a tuple holds at most 255 bytes", s)
		}
		return append([]byte{byte(len(s))}, s...), nil
	case optiondef.FQDN:
		return encodeFQDN(s)
	case optiondef.Binary:
		return decodeHex(s)
	case optiondef.PSID:
		return encodePSID(s)
	}
	return nil, fmt.Errorf("a %s cannot be a field", t)
}

// encodePSID encodes Kea's "psid/len" (RFC 7597 PSID and its length in
// bits; spaces ignored) as the length (uint8) then the PSID left-aligned
// in 16 bits.
func encodePSID(s string) ([]byte, error) {
	txt := strings.NewReplacer(" ", "", "\t", "").Replace(s)
	v, l, ok := strings.Cut(txt, "/")
	if !ok {
		return nil, fmt.Errorf("%q: psid must be written psid/len", s)
	}
	vb, err := encodeInt(optiondef.Uint16, v)
	if err != nil {
		return nil, err
	}
	lb, err := encodeInt(optiondef.Uint8, l)
	if err != nil {
		return nil, err
	}
	n, psid := lb[0], binary.BigEndian.Uint16(vb)
	if n > 16 {
		return nil, fmt.Errorf("%q: psid length above 16", s)
	}
	if n > 0 && psid > 0xffff>>(16-n) {
		return nil, fmt.Errorf("%q: psid does not fit in %d bits", s, n)
	}
	psid = uint16(uint32(psid) << (16 - n))
	return []byte{n, byte(psid >> 8), byte(psid)}, nil
}

func encodeInt(t optiondef.Type, s string) ([]byte, error) {
	base := 10
	digits := s
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		base, digits = 16, s[2:]
	}
	var lo, hi int64
	size := t.Size()
	switch t {
	case optiondef.Uint8:
		hi = math.MaxUint8
	case optiondef.Uint16:
		hi = math.MaxUint16
	case optiondef.Uint32:
		hi = math.MaxUint32
	case optiondef.Int8:
		lo, hi = math.MinInt8, math.MaxInt8
	case optiondef.Int16:
		lo, hi = math.MinInt16, math.MaxInt16
	case optiondef.Int32:
		lo, hi = math.MinInt32, math.MaxInt32
	}
	v, err := strconv.ParseInt(digits, base, 64)
	if err != nil || v < lo || v > hi {
		return nil, fmt.Errorf("%q is not an integer in [%d, %d]", s, lo, hi)
	}
	out := make([]byte, size)
	switch size {
	case 1:
		out[0] = byte(v)
	case 2:
		binary.BigEndian.PutUint16(out, uint16(v))
	case 4:
		binary.BigEndian.PutUint32(out, uint32(v))
	}
	return out, nil
}

// encodeFQDN writes a domain name in DNS wire format (RFC 1035 3.1,
// uncompressed), always ending with the root label.
func encodeFQDN(s string) ([]byte, error) {
	name := strings.TrimSuffix(strings.TrimSpace(s), ".")
	if name == "" {
		return nil, fmt.Errorf("%q is not a domain name", s)
	}
	var out []byte
	for label := range strings.SplitSeq(name, ".") {
		if label == "" || len(label) > 63 {
			return nil, fmt.Errorf("%q: labels must be 1 to 63 characters", s)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if c <= ' ' || c >= 0x7f {
				return nil, fmt.Errorf("%q: invalid character in domain name", s)
			}
		}
		out = append(out, byte(len(label)))
		out = append(out, label...)
	}
	out = append(out, 0)
	if len(out) > 255 {
		return nil, fmt.Errorf("%q: domain name longer than 255 bytes", s)
	}
	return out, nil
}

// decodeHex decodes Kea's formatted hex: "0x0102ab", "0102ab", "01:02:ab"
// or "01 02 ab" (one or two digits per group when separated). Odd-length
// continuous hex gets a leading zero, as Kea does.
func decodeHex(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	if sep := strings.IndexAny(s, ": "); sep >= 0 {
		sepc := string(s[sep])
		var out []byte
		for g := range strings.SplitSeq(s, sepc) {
			if len(g) == 0 || len(g) > 2 {
				return nil, fmt.Errorf("%q is not valid hex", s)
			}
			v, err := strconv.ParseUint(g, 16, 8)
			if err != nil {
				return nil, fmt.Errorf("%q is not valid hex", s)
			}
			out = append(out, byte(v))
		}
		return out, nil
	}
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		s = s[2:]
	}
	if len(s)%2 == 1 {
		s = "0" + s
	}
	out, err := hex.DecodeString(s)
	if err != nil || len(out) == 0 {
		return nil, fmt.Errorf("%q is not valid hex", s)
	}
	return out, nil
}

// checkWire reports whether payload b is a valid value of definition d, as
// Kea checks hex data (csv-format false) against the option's definition
// (a DHCPv6 one when v6).
func checkWire(d *optDef, b []byte, v6 bool) error {
	fields := []optiondef.Type{d.Type}
	if d.Type == optiondef.Record {
		fields = d.Fields
	}
	rest := b
	for i, f := range fields {
		last := i == len(fields)-1
		if d.Type == optiondef.Empty {
			return nil // sub-options, checked by the caller
		}
		n, err := fieldLen(f, rest, last, v6)
		if err != nil {
			return err
		}
		rest = rest[n:]
		for last && d.Array && len(rest) > 0 {
			if n, err = fieldLen(f, rest, true, v6); err != nil {
				return err
			}
			rest = rest[n:]
		}
	}
	if len(rest) > 0 && d.Encapsulates == "" {
		return fmt.Errorf("%d bytes left over after the option's %s data", len(rest), d.Type)
	}
	return nil
}

// fieldLen is the wire length of a value of type t at the start of b.
func fieldLen(t optiondef.Type, b []byte, last, v6 bool) (int, error) {
	if n := t.Size(); n > 0 {
		if len(b) < n {
			return 0, fmt.Errorf("%d bytes are too short for a %s", len(b), t)
		}
		return n, nil
	}
	switch t {
	case optiondef.IPv6Prefix:
		if len(b) < 1 || b[0] > 128 || len(b) < 1+(int(b[0])+7)/8 {
			return 0, errors.New("truncated ipv6-prefix")
		}
		return 1 + (int(b[0])+7)/8, nil
	case optiondef.Tuple:
		if v6 {
			if len(b) < 2 || len(b) < 2+(int(b[0])<<8|int(b[1])) {
				return 0, errors.New("truncated tuple")
			}
			return 2 + (int(b[0])<<8 | int(b[1])), nil
		}
		if len(b) < 1 || len(b) < 1+int(b[0]) {
			return 0, errors.New("truncated tuple")
		}
		return 1 + int(b[0]), nil
	case optiondef.FQDN:
		for i := 0; i < len(b); i += 1 + int(b[i]) {
			if b[i] == 0 {
				return i + 1, nil
			}
		}
		return 0, errors.New("truncated fqdn")
	}
	if !last {
		return 0, fmt.Errorf("a %s field must be the record's last", t)
	}
	return len(b), nil // string and binary take the rest
}
