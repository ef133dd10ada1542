package memfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"

	"xdhcp/lease"
)

// Header is the first line of a Kea 2.2 (schema 2.1) DHCPv4 memfile lease file.
const Header = "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context"

// Column positions in the schema 2.1 row. Schema 1.0 stops after hostname,
// 2.0 after state; Kea fills the missing columns with their defaults.
const (
	colAddress = iota
	colHWAddr
	colClientID
	colValidLft
	colExpire
	colSubnetID
	colFqdnFwd
	colFqdnRev
	colHostname
	colState
	colUserContext
	numColumns // columns in schema 2.1
)

// minColumns is the column count of schema 1.0, the oldest Kea accepts.
const minColumns = colHostname + 1

// Limits Kea enforces when it builds a lease from a row.
const (
	maxHWAddrLen   = 20  // HWAddr::MAX_HWADDR_LEN
	maxClientIDLen = 255 // ClientId::MAX_CLIENT_ID_LEN
)

var columnNames = [numColumns]string{
	"address", "hwaddr", "client_id", "valid_lifetime", "expire", "subnet_id",
	"fqdn_fwd", "fqdn_rev", "hostname", "state", "user_context",
}

// ErrBadRow is wrapped by every error ParseRow returns.
var ErrBadRow = errors.New("bad lease row")

// ColumnError is a row error attributed to one column.
type ColumnError struct {
	Column string // Kea's column name, e.g. "hwaddr"
	Value  string // the offending value, truncated for logs
	Err    error
}

func (e *ColumnError) Error() string {
	return fmt.Sprintf("column %s %q: %v", e.Column, e.Value, e.Err)
}

// Unwrap returns the underlying cause.
func (e *ColumnError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrBadRow) true for column errors.
func (e *ColumnError) Is(target error) bool { return target == ErrBadRow }

func colErr(col int, v []byte, err error) error {
	return namedColErr(columnNames[col], v, err)
}

// namedColErr is the ColumnError for value v of the column named name.
func namedColErr(name string, v []byte, err error) error {
	const maxShown = 64
	if len(v) > maxShown {
		v = v[:maxShown]
	}
	return &ColumnError{Column: name, Value: string(v), Err: err}
}

// ParseRow parses one data row (without its newline) of a Kea memfile
// lease file. It accepts the column counts of schemas 1.0 (9 columns), 2.0
// (10) and 2.1 (11); missing columns take Kea's defaults (state 0, no user
// context). Like Kea, it rejects rows with neither hwaddr nor client_id
// unless the lease is declined. A row with valid_lifetime 0 is a deletion
// marker; it parses normally and the caller decides what it means.
func ParseRow(line []byte) (lease.Lease, error) {
	var fields [numColumns][]byte
	n := splitRow(line, fields[:])
	if n < minColumns || n > numColumns {
		return lease.Lease{}, fmt.Errorf("%w: %d columns, want %d to %d", ErrBadRow, n, minColumns, numColumns)
	}
	var l lease.Lease
	if err := parseFields(&fields, n, &l); err != nil {
		return lease.Lease{}, err
	}
	return l, nil
}

// splitRow splits line on commas, stores the first len(fields) fields and
// returns the total column count. Kea's CSV has no quoting: commas inside
// values are escaped as &#x2c.
func splitRow(line []byte, fields [][]byte) int {
	line = bytes.TrimSuffix(line, []byte{'\r'})
	n := 0
	for {
		i := bytes.IndexByte(line, ',')
		f := line
		if i >= 0 {
			f, line = line[:i], line[i+1:]
		}
		if n < len(fields) {
			fields[n] = f
		}
		n++
		if i < 0 {
			return n
		}
	}
}

// hexColumn decodes column col of f with decode into dst's backing array,
// refusing more than maxLen bytes; an empty column is nil.
func hexColumn(f *[numColumns][]byte, col int, dst []byte, decode func(dst, s []byte) ([]byte, error), maxLen int) ([]byte, error) {
	return hexValue(columnNames[col], f[col], dst, decode, maxLen)
}

// hexValue decodes v, the value of the column named name, with decode into
// dst's backing array, refusing more than maxLen bytes; empty is nil.
func hexValue(name string, v, dst []byte, decode func(dst, s []byte) ([]byte, error), maxLen int) ([]byte, error) {
	b, err := decode(dst[:0], v)
	if err != nil {
		return b, namedColErr(name, v, err)
	}
	if len(b) > maxLen {
		return b, namedColErr(name, v, fmt.Errorf("longer than %d bytes", maxLen))
	}
	if len(b) == 0 {
		return nil, nil
	}
	return b, nil
}

// parseFields fills l from the first n fields. l's HWAddr and ClientID
// backing arrays are reused when they have capacity (the loader relies on
// this to avoid garbage per row).
func parseFields(f *[numColumns][]byte, n int, l *lease.Lease) error {
	addr, err := netip.ParseAddr(string(f[colAddress]))
	if err != nil || !addr.Is4() {
		return colErr(colAddress, f[colAddress], errors.New("not an IPv4 address"))
	}
	l.Addr = addr

	if l.HWAddr, err = hexColumn(f, colHWAddr, l.HWAddr, decodeColonHex, maxHWAddrLen); err != nil {
		return err
	}
	if l.ClientID, err = hexColumn(f, colClientID, l.ClientID, decodeFormattedHex, maxClientIDLen); err != nil {
		return err
	}

	valid, err := parseUint(f[colValidLft], 32)
	if err != nil {
		return colErr(colValidLft, f[colValidLft], err)
	}
	l.ValidLft = uint32(valid)

	// Kea reads expire as a 64-bit count and derives cltt = expire - valid.
	// Rejecting expire < valid keeps cltt non-negative (Kea would wrap).
	expire, err := parseUint(f[colExpire], 63)
	if err != nil {
		return colErr(colExpire, f[colExpire], err)
	}
	if expire < valid {
		return colErr(colExpire, f[colExpire], errors.New("less than valid_lifetime"))
	}
	l.CLTT = int64(expire - valid)

	sid, err := parseUint(f[colSubnetID], 32)
	if err != nil {
		return colErr(colSubnetID, f[colSubnetID], err)
	}
	l.SubnetID = uint32(sid)

	if l.FqdnFwd, err = parseBool(f[colFqdnFwd]); err != nil {
		return colErr(colFqdnFwd, f[colFqdnFwd], err)
	}
	if l.FqdnRev, err = parseBool(f[colFqdnRev]); err != nil {
		return colErr(colFqdnRev, f[colFqdnRev], err)
	}
	l.Hostname = unescape(f[colHostname])

	if l.State, l.UserContext, err = stateAndContext(f[:n], colState, colUserContext, columnNames[:]); err != nil {
		return err
	}

	if len(l.HWAddr) == 0 && len(l.ClientID) == 0 && l.State != lease.StateDeclined {
		return fmt.Errorf("%w: lease %s has neither hwaddr nor client_id and is not declined", ErrBadRow, addr)
	}
	return nil
}

// stateAndContext parses the state and user_context columns of the
// fields f of a row (DHCPv4 or DHCPv6: names are the file's column
// names). Older schemas lack them: the state is then the default and
// there is no user context.
func stateAndContext(f [][]byte, stateCol, ctxCol int, names []string) (lease.State, string, error) {
	state := lease.StateDefault
	if len(f) > stateCol {
		st, err := parseUint(f[stateCol], 8)
		if err != nil {
			return 0, "", namedColErr(names[stateCol], f[stateCol], err)
		}
		state = lease.State(st)
	}
	if len(f) <= ctxCol || len(f[ctxCol]) == 0 {
		return state, "", nil
	}
	uc := unescape(f[ctxCol])
	if err := checkUserContext(uc); err != nil {
		return 0, "", namedColErr(names[ctxCol], f[ctxCol], err)
	}
	return state, uc, nil
}

// checkUserContext enforces what Kea requires of the user_context column:
// a JSON map.
func checkUserContext(s string) error {
	b := bytes.TrimLeft([]byte(s), " \t\r\n")
	if len(b) == 0 || b[0] != '{' || !json.Valid(b) {
		return errors.New("not a JSON object")
	}
	return nil
}

// AppendRow appends l as one lease-file row, newline included, formatted
// exactly as Kea 2.2 writes it: colon hex in lower case, expire = cltt +
// valid_lifetime, booleans as 0/1, hostname and user_context escaped.
// A deletion marker is the lease with ValidLft 0 (so expire = cltt).
func AppendRow(dst []byte, l *lease.Lease) []byte {
	dst = l.Addr.Unmap().AppendTo(dst)
	dst = append(dst, ',')
	dst = appendColonHex(dst, l.HWAddr)
	dst = append(dst, ',')
	dst = appendColonHex(dst, l.ClientID)
	dst = append(dst, ',')
	dst = strconv.AppendUint(dst, uint64(l.ValidLft), 10)
	dst = append(dst, ',')
	dst = strconv.AppendInt(dst, l.Expire(), 10)
	dst = append(dst, ',')
	dst = strconv.AppendUint(dst, uint64(l.SubnetID), 10)
	dst = append(dst, ',')
	dst = appendBool(dst, l.FqdnFwd)
	dst = append(dst, ',')
	dst = appendBool(dst, l.FqdnRev)
	dst = append(dst, ',')
	dst = appendEscaped(dst, l.Hostname)
	dst = append(dst, ',')
	dst = strconv.AppendUint(dst, uint64(l.State), 10)
	dst = append(dst, ',')
	dst = appendEscaped(dst, l.UserContext)
	return append(dst, '\n')
}

// rowLen is len(AppendRow(nil, l)) without the newline, counted without
// building the row: the writer refuses a lease whose row the loader would
// skip as too long.
func rowLen(l *lease.Lease) int {
	n := 3 // the dots of the address
	for _, b := range l.Addr.Unmap().As4() {
		n += uintLen(uint64(b))
	}
	n += 10 // the commas between the 11 columns
	n += colonHexLen(len(l.HWAddr)) + colonHexLen(len(l.ClientID))
	n += uintLen(uint64(l.ValidLft)) + intLen(l.Expire()) + uintLen(uint64(l.SubnetID))
	n += 2 // fqdn_fwd, fqdn_rev
	n += escapedLen(l.Hostname) + uintLen(uint64(l.State)) + escapedLen(l.UserContext)
	return n
}

func colonHexLen(n int) int {
	if n == 0 {
		return 0
	}
	return 3*n - 1
}

func uintLen(v uint64) int {
	n := 1
	for ; v >= 10; v /= 10 {
		n++
	}
	return n
}

func intLen(v int64) int {
	if v < 0 {
		return 1 + uintLen(uint64(-v))
	}
	return uintLen(uint64(v))
}

// escapedLen is the length of s once appendEscaped has escaped it.
func escapedLen(s string) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == ',' || c == '&' || c < 0x20 || c == 0x7f {
			n += 4
		}
	}
	return n
}

func appendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, '1')
	}
	return append(dst, '0')
}

const hexDigits = "0123456789abcdef"

func appendColonHex(dst, b []byte) []byte {
	for i, c := range b {
		if i > 0 {
			dst = append(dst, ':')
		}
		dst = append(dst, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return dst
}

// appendEscaped escapes like Kea's CSVRow::escapeCharacters(s, ","): comma
// and '&' become &#x2c and &#x26. We also escape control characters
// (newline above all), which Kea would write raw and so break the file;
// Kea's reader decodes any &#xHH, so the row stays readable by Kea.
func appendEscaped(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ',' || c == '&' || c < 0x20 || c == 0x7f {
			dst = append(dst, '&', '#', 'x', hexDigits[c>>4], hexDigits[c&0xf])
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

// unescape reverses appendEscaped the way Kea's CSVRow::unescapeCharacters
// does: "&#x" plus two hex digits (either case) is one byte; an "&#x" not
// followed by two hex digits is kept literally.
func unescape(b []byte) string {
	if bytes.IndexByte(b, '&') < 0 {
		return string(b)
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		if b[i] == '&' && i+5 <= len(b) && b[i+1] == '#' && b[i+2] == 'x' {
			hi, ok1 := unhex(b[i+3])
			lo, ok2 := unhex(b[i+4])
			if ok1 && ok2 {
				out = append(out, hi<<4|lo)
				i += 5
				continue
			}
		}
		out = append(out, b[i])
		i++
	}
	return string(out)
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// decodeColonHex decodes Kea's HWAddr::fromText form: octets of one or two
// hex digits separated by colons ("0:c:1:2" is valid). An empty string is an
// empty address. A string without colons is read as plain hex digits.
func decodeColonHex(dst, s []byte) ([]byte, error) {
	if len(s) == 0 {
		return dst, nil
	}
	if bytes.IndexByte(s, ':') < 0 {
		return decodePlainHex(dst, s)
	}
	return decodeSeparated(dst, s, ':')
}

// decodeFormattedHex decodes Kea's decodeFormattedHexString form, used for
// client identifiers: colon separated, space separated, or plain hex with an
// optional 0x prefix (odd digit counts get a leading zero).
func decodeFormattedHex(dst, s []byte) ([]byte, error) {
	switch {
	case len(s) == 0:
		return dst, nil
	case bytes.IndexByte(s, ':') >= 0:
		return decodeSeparated(dst, s, ':')
	case bytes.IndexByte(s, ' ') >= 0:
		return decodeSeparated(dst, s, ' ')
	}
	return decodePlainHex(dst, s)
}

func decodeSeparated(dst, s []byte, sep byte) ([]byte, error) {
	for len(s) > 0 || sep != 0 {
		i := bytes.IndexByte(s, sep)
		tok := s
		if i >= 0 {
			tok, s = s[:i], s[i+1:]
		} else {
			s, sep = nil, 0 // last token
		}
		var v byte
		switch len(tok) {
		case 1:
			lo, ok := unhex(tok[0])
			if !ok {
				return dst, errors.New("invalid hex digit")
			}
			v = lo
		case 2:
			hi, ok1 := unhex(tok[0])
			lo, ok2 := unhex(tok[1])
			if !ok1 || !ok2 {
				return dst, errors.New("invalid hex digit")
			}
			v = hi<<4 | lo
		default:
			return dst, errors.New("each octet needs one or two hex digits")
		}
		dst = append(dst, v)
	}
	return dst, nil
}

func decodePlainHex(dst, s []byte) ([]byte, error) {
	if len(s) > 2 && s[0] == '0' && s[1] == 'x' {
		s = s[2:]
	}
	if len(s)%2 == 1 {
		lo, ok := unhex(s[0])
		if !ok {
			return dst, errors.New("invalid hex digit")
		}
		dst = append(dst, lo)
		s = s[1:]
	}
	for i := 0; i+1 < len(s); i += 2 {
		hi, ok1 := unhex(s[i])
		lo, ok2 := unhex(s[i+1])
		if !ok1 || !ok2 {
			return dst, errors.New("invalid hex digit")
		}
		dst = append(dst, hi<<4|lo)
	}
	return dst, nil
}

// parseUint accepts decimal digits only (no sign, no spaces), as boost's
// lexical_cast does for well-formed Kea files.
func parseUint(b []byte, bits int) (uint64, error) {
	if len(b) == 0 {
		return 0, errors.New("empty")
	}
	var v uint64
	limit := uint64(1)<<bits - 1
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, errors.New("not a decimal number")
		}
		v = v*10 + uint64(c-'0')
		if v > limit {
			return 0, fmt.Errorf("out of range (max %d)", limit)
		}
	}
	return v, nil
}

func parseBool(b []byte) (bool, error) {
	switch string(b) {
	case "0", "false":
		return false, nil
	case "1", "true":
		return true, nil
	}
	return false, errors.New("not a boolean (0 or 1)")
}

// format4 is the DHCPv4 lease file format.
var format4 = rowFormat{header: Header, columns: columnNames[:], minColumns: minColumns}

// parseHeader checks a DHCPv4 lease file header and returns its column
// count.
func parseHeader(line []byte) (int, error) { return format4.parseHeader(line) }
