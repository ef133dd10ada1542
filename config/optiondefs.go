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
)

// optType is the data type of an option (or of one record field), named as
// in Kea's option-def "type".
type optType uint8

const (
	tEmpty optType = iota
	tBinary
	tBool
	tUint8
	tUint16
	tUint32
	tInt8
	tInt16
	tInt32
	tIPv4
	tString
	tFQDN
	tRecord
	// tClasslessRoutes is option 121 in Kea's text form
	// "10.0.0.0/8 - 10.0.0.1, 0.0.0.0/0 - 10.0.0.1" (RFC 3442 on the wire).
	tClasslessRoutes
	// tPSID is Kea's "psid" field of v4-portparams: "len/psid".
	tPSID
)

// optTypeNames maps Kea's option-def type names to types (read-only).
var optTypeNames = map[string]optType{
	"empty": tEmpty, "binary": tBinary, "boolean": tBool,
	"uint8": tUint8, "uint16": tUint16, "uint32": tUint32,
	"int8": tInt8, "int16": tInt16, "int32": tInt32,
	"ipv4-address": tIPv4, "string": tString, "fqdn": tFQDN,
	"record": tRecord, "psid": tPSID,
}

// optDef is an option definition: a standard one or an option-def entry.
type optDef struct {
	name   string
	code   uint8
	typ    optType
	array  bool
	fields []optType // for tRecord
}

// stdOptionDefs is Kea's table of standard DHCPv4 option definitions
// (src/lib/dhcp/std_option_defs.h). Read-only. 124 and 125 use Kea's names;
// the RFC-style names are accepted as aliases by OptionCode.
var stdOptionDefs = []optDef{
	{name: "subnet-mask", code: 1, typ: tIPv4},
	{name: "time-offset", code: 2, typ: tInt32},
	{name: "routers", code: 3, typ: tIPv4, array: true},
	{name: "time-servers", code: 4, typ: tIPv4, array: true},
	{name: "name-servers", code: 5, typ: tIPv4, array: true},
	{name: "domain-name-servers", code: 6, typ: tIPv4, array: true},
	{name: "log-servers", code: 7, typ: tIPv4, array: true},
	{name: "cookie-servers", code: 8, typ: tIPv4, array: true},
	{name: "lpr-servers", code: 9, typ: tIPv4, array: true},
	{name: "impress-servers", code: 10, typ: tIPv4, array: true},
	{name: "resource-location-servers", code: 11, typ: tIPv4, array: true},
	{name: "host-name", code: 12, typ: tString},
	{name: "boot-size", code: 13, typ: tUint16},
	{name: "merit-dump", code: 14, typ: tString},
	{name: "domain-name", code: 15, typ: tString},
	{name: "swap-server", code: 16, typ: tIPv4},
	{name: "root-path", code: 17, typ: tString},
	{name: "extensions-path", code: 18, typ: tString},
	{name: "ip-forwarding", code: 19, typ: tBool},
	{name: "non-local-source-routing", code: 20, typ: tBool},
	{name: "policy-filter", code: 21, typ: tIPv4, array: true},
	{name: "max-dgram-reassembly", code: 22, typ: tUint16},
	{name: "default-ip-ttl", code: 23, typ: tUint8},
	{name: "path-mtu-aging-timeout", code: 24, typ: tUint32},
	{name: "path-mtu-plateau-table", code: 25, typ: tUint16, array: true},
	{name: "interface-mtu", code: 26, typ: tUint16},
	{name: "all-subnets-local", code: 27, typ: tBool},
	{name: "broadcast-address", code: 28, typ: tIPv4},
	{name: "perform-mask-discovery", code: 29, typ: tBool},
	{name: "mask-supplier", code: 30, typ: tBool},
	{name: "router-discovery", code: 31, typ: tBool},
	{name: "router-solicitation-address", code: 32, typ: tIPv4},
	{name: "static-routes", code: 33, typ: tIPv4, array: true},
	{name: "trailer-encapsulation", code: 34, typ: tBool},
	{name: "arp-cache-timeout", code: 35, typ: tUint32},
	{name: "ieee802-3-encapsulation", code: 36, typ: tBool},
	{name: "default-tcp-ttl", code: 37, typ: tUint8},
	{name: "tcp-keepalive-interval", code: 38, typ: tUint32},
	{name: "tcp-keepalive-garbage", code: 39, typ: tBool},
	{name: "nis-domain", code: 40, typ: tString},
	{name: "nis-servers", code: 41, typ: tIPv4, array: true},
	{name: "ntp-servers", code: 42, typ: tIPv4, array: true},
	// Kea defines 43 as an empty option encapsulating a vendor space; with
	// no sub-option spaces here its payload is given in hex.
	{name: "vendor-encapsulated-options", code: 43, typ: tBinary},
	{name: "netbios-name-servers", code: 44, typ: tIPv4, array: true},
	{name: "netbios-dd-server", code: 45, typ: tIPv4, array: true},
	{name: "netbios-node-type", code: 46, typ: tUint8},
	{name: "netbios-scope", code: 47, typ: tString},
	{name: "font-servers", code: 48, typ: tIPv4, array: true},
	{name: "x-display-manager", code: 49, typ: tIPv4, array: true},
	{name: "dhcp-requested-address", code: 50, typ: tIPv4},
	{name: "dhcp-lease-time", code: 51, typ: tUint32},
	{name: "dhcp-option-overload", code: 52, typ: tUint8},
	{name: "dhcp-message-type", code: 53, typ: tUint8},
	{name: "dhcp-server-identifier", code: 54, typ: tIPv4},
	{name: "dhcp-parameter-request-list", code: 55, typ: tUint8, array: true},
	{name: "dhcp-message", code: 56, typ: tString},
	{name: "dhcp-max-message-size", code: 57, typ: tUint16},
	{name: "dhcp-renewal-time", code: 58, typ: tUint32},
	{name: "dhcp-rebinding-time", code: 59, typ: tUint32},
	{name: "vendor-class-identifier", code: 60, typ: tString},
	{name: "dhcp-client-identifier", code: 61, typ: tBinary},
	{name: "nwip-domain-name", code: 62, typ: tString},
	{name: "nwip-suboptions", code: 63, typ: tBinary},
	{name: "nisplus-domain-name", code: 64, typ: tString},
	{name: "nisplus-servers", code: 65, typ: tIPv4, array: true},
	{name: "tftp-server-name", code: 66, typ: tString},
	{name: "boot-file-name", code: 67, typ: tString},
	{name: "mobile-ip-home-agent", code: 68, typ: tIPv4, array: true},
	{name: "smtp-server", code: 69, typ: tIPv4, array: true},
	{name: "pop-server", code: 70, typ: tIPv4, array: true},
	{name: "nntp-server", code: 71, typ: tIPv4, array: true},
	{name: "www-server", code: 72, typ: tIPv4, array: true},
	{name: "finger-server", code: 73, typ: tIPv4, array: true},
	{name: "irc-server", code: 74, typ: tIPv4, array: true},
	{name: "streettalk-server", code: 75, typ: tIPv4, array: true},
	{name: "streettalk-directory-assistance-server", code: 76, typ: tIPv4, array: true},
	{name: "user-class", code: 77, typ: tBinary},
	{name: "slp-directory-agent", code: 78, typ: tRecord, array: true, fields: []optType{tBool, tIPv4}},
	{name: "slp-service-scope", code: 79, typ: tRecord, fields: []optType{tBool, tString}},
	{name: "fqdn", code: 81, typ: tRecord, fields: []optType{tUint8, tUint8, tUint8, tFQDN}},
	{name: "dhcp-agent-options", code: 82, typ: tBinary},
	{name: "nds-servers", code: 85, typ: tIPv4, array: true},
	{name: "nds-tree-name", code: 86, typ: tString},
	{name: "nds-context", code: 87, typ: tString},
	{name: "bcms-controller-names", code: 88, typ: tFQDN, array: true},
	{name: "bcms-controller-address", code: 89, typ: tIPv4, array: true},
	{name: "authenticate", code: 90, typ: tBinary},
	{name: "client-last-transaction-time", code: 91, typ: tUint32},
	{name: "associated-ip", code: 92, typ: tIPv4, array: true},
	{name: "client-system", code: 93, typ: tUint16, array: true},
	{name: "client-ndi", code: 94, typ: tRecord, fields: []optType{tUint8, tUint8, tUint8}},
	{name: "uuid-guid", code: 97, typ: tRecord, fields: []optType{tUint8, tBinary}},
	{name: "uap-servers", code: 98, typ: tString},
	{name: "geoconf-civic", code: 99, typ: tBinary},
	{name: "pcode", code: 100, typ: tString},
	{name: "tcode", code: 101, typ: tString},
	{name: "netinfo-server-address", code: 112, typ: tIPv4, array: true},
	{name: "netinfo-server-tag", code: 113, typ: tString},
	{name: "default-url", code: 114, typ: tString},
	{name: "auto-config", code: 116, typ: tUint8},
	{name: "name-service-search", code: 117, typ: tUint16, array: true},
	{name: "subnet-selection", code: 118, typ: tIPv4},
	{name: "domain-search", code: 119, typ: tFQDN, array: true},
	{name: "classless-static-route", code: 121, typ: tClasslessRoutes},
	{name: "vivco-suboptions", code: 124, typ: tRecord, fields: []optType{tUint32, tBinary}},
	{name: "vivso-suboptions", code: 125, typ: tUint32},
	{name: "pana-agent", code: 136, typ: tIPv4, array: true},
	{name: "v4-lost", code: 137, typ: tFQDN},
	{name: "capwap-ac-v4", code: 138, typ: tIPv4, array: true},
	{name: "sip-ua-cs-domains", code: 141, typ: tFQDN, array: true},
	{name: "rdnss-selection", code: 146, typ: tRecord, array: true, fields: []optType{tUint8, tIPv4, tIPv4, tFQDN}},
	{name: "v4-portparams", code: 159, typ: tRecord, fields: []optType{tUint8, tPSID}},
	{name: "v4-captive-portal", code: 160, typ: tString},
	{name: "v4-access-domain", code: 213, typ: tFQDN},
}

// optionAliases are other names users write for standard options.
var optionAliases = map[string]uint8{
	"v-i-vendor-class": 124,
	"v-i-vendor-opts":  125,
}

// serverManaged are option codes the server computes per exchange; Kea
// refuses or ignores them in option-data, and so do we (with a warning).
func serverManaged(code uint8) bool {
	switch code {
	case 50, 51, 53, 54, 55, 58, 59, 61, 82:
		return true
	}
	return false
}

func stdDefByCode(code uint8) *optDef {
	for i := range stdOptionDefs {
		if stdOptionDefs[i].code == code {
			return &stdOptionDefs[i]
		}
	}
	return nil
}

func stdDefByName(name string) *optDef {
	if code, ok := optionAliases[name]; ok {
		return stdDefByCode(code)
	}
	for i := range stdOptionDefs {
		if stdOptionDefs[i].name == name {
			return &stdOptionDefs[i]
		}
	}
	return nil
}

// OptionName returns Kea's name of a standard DHCPv4 option ("routers" for
// 3), or "" for a code without a standard definition.
func OptionName(code uint8) string {
	if d := stdDefByCode(code); d != nil {
		return d.name
	}
	return ""
}

// OptionCode returns the code of a standard DHCPv4 option by Kea's name.
func OptionCode(name string) (uint8, bool) {
	if d := stdDefByName(name); d != nil {
		return d.code, true
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
	switch d.typ {
	case tEmpty:
		if strings.TrimSpace(data) != "" {
			return nil, errors.New("option carries no data")
		}
		return nil, nil
	case tString:
		// Kea splits csv data on unescaped commas; a string option takes the
		// whole text, with "\," standing for a literal comma.
		s := strings.ReplaceAll(data, `\,`, ",")
		if s == "" {
			return nil, errors.New("string option must not be empty")
		}
		return []byte(s), nil
	case tBinary:
		return decodeHex(data)
	case tClasslessRoutes:
		return encodeClasslessRoutes(data)
	}
	toks := splitCSV(data)
	if d.typ == tRecord {
		if len(d.fields) == 0 {
			return nil, errors.New("record definition has no fields")
		}
		if len(toks) < len(d.fields) || (!d.array && len(toks) != len(d.fields)) || len(toks)%len(d.fields) != 0 {
			return nil, fmt.Errorf("expected %d comma-separated fields, got %d", len(d.fields), len(toks))
		}
		var out []byte
		for i, tok := range toks {
			b, err := encodeField(d.fields[i%len(d.fields)], tok)
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
	if !d.array && len(toks) > 1 {
		return nil, fmt.Errorf("expected one value, got %d", len(toks))
	}
	var out []byte
	for _, tok := range toks {
		b, err := encodeField(d.typ, tok)
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
func encodeField(t optType, s string) ([]byte, error) {
	switch t {
	case tIPv4:
		a, err := parseIPv4(s)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", s, err)
		}
		b := a.As4()
		return b[:], nil
	case tUint8, tUint16, tUint32, tInt8, tInt16, tInt32:
		return encodeInt(t, s)
	case tBool:
		switch strings.ToLower(s) {
		case "true", "1":
			return []byte{1}, nil
		case "false", "0":
			return []byte{0}, nil
		}
		return nil, fmt.Errorf("%q is not a boolean (true, false, 1, 0)", s)
	case tString:
		if s == "" {
			return nil, errors.New("empty string")
		}
		return []byte(s), nil
	case tFQDN:
		return encodeFQDN(s)
	case tBinary:
		return decodeHex(s)
	case tPSID:
		// "len/psid": PSID length (uint8) then the PSID left-aligned in 16 bits.
		l, v, ok := strings.Cut(s, "/")
		if !ok {
			return nil, fmt.Errorf("%q: psid must be written len/psid", s)
		}
		lb, err := encodeInt(tUint8, strings.TrimSpace(l))
		if err != nil {
			return nil, err
		}
		if lb[0] > 16 {
			return nil, fmt.Errorf("%q: psid length above 16", s)
		}
		vb, err := encodeInt(tUint16, strings.TrimSpace(v))
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

func encodeInt(t optType, s string) ([]byte, error) {
	base := 10
	digits := s
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		base, digits = 16, s[2:]
	}
	var lo, hi int64
	size := 1
	switch t {
	case tUint8:
		hi = math.MaxUint8
	case tUint16:
		hi, size = math.MaxUint16, 2
	case tUint32:
		hi, size = math.MaxUint32, 4
	case tInt8:
		lo, hi = math.MinInt8, math.MaxInt8
	case tInt16:
		lo, hi, size = math.MinInt16, math.MaxInt16, 2
	case tInt32:
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
