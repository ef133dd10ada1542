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

// serverManaged are option codes the server computes per exchange; Kea
// refuses or ignores them in option-data, and so do we (with a warning).
func serverManaged(code uint8) bool {
	switch code {
	case 50, 51, 53, 54, 55, 58, 59, 61, 82:
		return true
	}
	return false
}

// stdDefByCode returns the standard definition of code whose data xdhcp
// can encode, or nil: the others are unknown to option-data and option-def.
func stdDefByCode(code uint8) *optDef {
	return supported(optiondef.ByCode(code))
}

// stdDefByName is stdDefByCode by name (or alias).
func stdDefByName(name string) *optDef {
	return supported(optiondef.ByName(name))
}

func supported(d *optDef) *optDef {
	if d == nil || !d.Supported() {
		return nil
	}
	return d
}

// OptionName returns Kea's name of a standard DHCPv4 option ("routers" for
// 3), or "" for a code without a standard definition.
func OptionName(code uint8) string {
	if d := stdDefByCode(code); d != nil {
		return d.Name
	}
	return ""
}

// OptionCode returns the code of a standard DHCPv4 option by Kea's name.
func OptionCode(name string) (uint8, bool) {
	if d := stdDefByName(name); d != nil {
		return d.Code, true
	}
	return 0, false
}

// defTable resolves option names and codes for one scope: the standard
// table plus the configuration's option-def entries (and, for a client
// class, its own option-def).
type defTable struct {
	byCode map[uint8]*optDef
	byName map[string]*optDef
	parent *defTable
}

func newDefTable(parent *defTable) *defTable {
	return &defTable{byCode: map[uint8]*optDef{}, byName: map[string]*optDef{}, parent: parent}
}

func (t *defTable) code(code uint8) *optDef {
	for ; t != nil; t = t.parent {
		if d, ok := t.byCode[code]; ok {
			return d
		}
	}
	return stdDefByCode(code)
}

func (t *defTable) name(name string) *optDef {
	for ; t != nil; t = t.parent {
		if d, ok := t.byName[name]; ok {
			return d
		}
	}
	return stdDefByName(name)
}

// encodeOption turns the csv-format text of an option into its wire payload.
func encodeOption(d *optDef, data string) ([]byte, error) {
	switch d.Type {
	case optiondef.Empty:
		if strings.TrimSpace(data) != "" {
			return nil, errors.New("option carries no data")
		}
		return nil, nil
	case optiondef.String:
		// Kea splits csv data on unescaped commas; a string option takes the
		// whole text, with "\," standing for a literal comma.
		s := strings.ReplaceAll(data, `\,`, ",")
		if s == "" {
			return nil, errors.New("string option must not be empty")
		}
		return []byte(s), nil
	case optiondef.Binary:
		return decodeHex(data)
	case optiondef.ClasslessRoutes:
		return encodeClasslessRoutes(data)
	}
	toks := splitCSV(data)
	if d.Type == optiondef.Record {
		if len(d.Fields) == 0 {
			return nil, errors.New("record definition has no fields")
		}
		if len(toks) < len(d.Fields) || (!d.Array && len(toks) != len(d.Fields)) || len(toks)%len(d.Fields) != 0 {
			return nil, fmt.Errorf("expected %d comma-separated fields, got %d", len(d.Fields), len(toks))
		}
		var out []byte
		for i, tok := range toks {
			b, err := encodeField(d.Fields[i%len(d.Fields)], tok)
			if err != nil {
				return nil, fmt.Errorf("field %d: %w", i+1, err)
			}
			out = append(out, b...)
		}
		return out, nil
	}
	if len(toks) == 0 || (len(toks) == 1 && toks[0] == "") {
		return nil, errors.New("no value given")
	}
	if !d.Array && len(toks) > 1 {
		return nil, fmt.Errorf("expected one value, got %d", len(toks))
	}
	var out []byte
	for _, tok := range toks {
		b, err := encodeField(d.Type, tok)
		if err != nil {
			return nil, err
		}
		out = append(out, b...)
	}
	return out, nil
}

// splitCSV splits on commas not escaped by a backslash and trims spaces.
func splitCSV(s string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && s[i+1] == ',' {
			cur.WriteByte(',')
			i++
			continue
		}
		if s[i] == ',' {
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
			continue
		}
		cur.WriteByte(s[i])
	}
	return append(out, strings.TrimSpace(cur.String()))
}

// encodeField encodes one scalar value of type t.
func encodeField(t optiondef.Type, s string) ([]byte, error) {
	switch t {
	case optiondef.IPv4:
		a, err := parseIPv4(s)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", s, err)
		}
		b := a.As4()
		return b[:], nil
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
		if s == "" {
			return nil, errors.New("empty string")
		}
		return []byte(s), nil
	case optiondef.FQDN:
		return encodeFQDN(s)
	case optiondef.Binary:
		return decodeHex(s)
	case optiondef.PSID:
		// "len/psid": PSID length (uint8) then the PSID left-aligned in 16 bits.
		l, v, ok := strings.Cut(s, "/")
		if !ok {
			return nil, fmt.Errorf("%q: psid must be written len/psid", s)
		}
		lb, err := encodeInt(optiondef.Uint8, strings.TrimSpace(l))
		if err != nil {
			return nil, err
		}
		if lb[0] > 16 {
			return nil, fmt.Errorf("%q: psid length above 16", s)
		}
		vb, err := encodeInt(optiondef.Uint16, strings.TrimSpace(v))
		if err != nil {
			return nil, err
		}
		psid := binary.BigEndian.Uint16(vb)
		if lb[0] < 16 && psid>>lb[0] != 0 {
			return nil, fmt.Errorf("%q: psid does not fit in %d bits", s, lb[0])
		}
		if lb[0] > 0 {
			psid <<= 16 - lb[0]
		}
		return []byte{lb[0], byte(psid >> 8), byte(psid)}, nil
	}
	return nil, fmt.Errorf("type %d cannot be a field", t)
}

func encodeInt(t optiondef.Type, s string) ([]byte, error) {
	base := 10
	digits := s
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		base, digits = 16, s[2:]
	}
	var lo, hi int64
	size := 1
	switch t {
	case optiondef.Uint8:
		hi = math.MaxUint8
	case optiondef.Uint16:
		hi, size = math.MaxUint16, 2
	case optiondef.Uint32:
		hi, size = math.MaxUint32, 4
	case optiondef.Int8:
		lo, hi = math.MinInt8, math.MaxInt8
	case optiondef.Int16:
		lo, hi, size = math.MinInt16, math.MaxInt16, 2
	case optiondef.Int32:
		lo, hi, size = math.MinInt32, math.MaxInt32, 4
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

// encodeClasslessRoutes encodes Kea's text form of option 121,
// "prefix - router" entries separated by commas, as RFC 3442 descriptors.
func encodeClasslessRoutes(s string) ([]byte, error) {
	var out []byte
	for _, ent := range splitCSV(s) {
		pfx, router, ok := strings.Cut(ent, "-")
		if !ok {
			return nil, fmt.Errorf("%q: expected \"prefix - router\"", ent)
		}
		p, err := netip.ParsePrefix(strings.TrimSpace(pfx))
		if err != nil || !p.Addr().Is4() {
			return nil, fmt.Errorf("%q: invalid IPv4 prefix", strings.TrimSpace(pfx))
		}
		r, err := parseIPv4(router)
		if err != nil {
			return nil, fmt.Errorf("%q: invalid router address", strings.TrimSpace(router))
		}
		p = p.Masked()
		a := p.Addr().As4()
		out = append(out, byte(p.Bits()))
		out = append(out, a[:(p.Bits()+7)/8]...)
		rb := r.As4()
		out = append(out, rb[:]...)
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
