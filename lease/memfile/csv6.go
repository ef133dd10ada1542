package memfile

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"

	"xdhcp/lease"
)

// Header6 is the first line of a Kea 2.2 (schema 4.0) DHCPv6 memfile lease
// file (kea-leases6.csv).
const Header6 = "address,duid,valid_lifetime,expire,subnet_id,pref_lifetime,lease_type,iaid,prefix_len," +
	"fqdn_fwd,fqdn_rev,hostname,hwaddr,state,user_context,hwtype,hwaddr_source"

// Column positions in the schema 4.0 row. Schema 1.0 stops after hostname,
// 2.0 after hwaddr, 3.0 after state, 3.1 after user_context.
const (
	col6Address = iota
	col6DUID
	col6ValidLft
	col6Expire
	col6SubnetID
	col6PrefLft
	col6Type
	col6IAID
	col6PrefixLen
	col6FqdnFwd
	col6FqdnRev
	col6Hostname
	col6HWAddr
	col6State
	col6UserContext
	col6HWType
	col6HWSource
	numColumns6
)

var columnNames6 = [numColumns6]string{
	"address", "duid", "valid_lifetime", "expire", "subnet_id", "pref_lifetime", "lease_type", "iaid",
	"prefix_len", "fqdn_fwd", "fqdn_rev", "hostname", "hwaddr", "state", "user_context", "hwtype", "hwaddr_source",
}

// format6 is the DHCPv6 lease file format.
var format6 = rowFormat{header: Header6, columns: columnNames6[:], minColumns: col6Hostname + 1}

func colErr6(col int, v []byte, err error) error { return namedColErr(columnNames6[col], v, err) }

// ParseRow6 parses one data row (without its newline) of a Kea DHCPv6
// memfile lease file, of any schema from 1.0 (12 columns) to 4.0 (17);
// missing columns take Kea's defaults. Like Kea it rejects a row whose
// DUID is Kea's empty DUID unless the lease is declined, and drops (rather
// than rejects) a hardware address it cannot read. A row with
// valid_lifetime 0 is a deletion marker; it parses normally.
func ParseRow6(line []byte) (lease.Lease6, error) {
	var fields [numColumns6][]byte
	n := splitRow(line, fields[:])
	if n < format6.minColumns || n > numColumns6 {
		return lease.Lease6{}, fmt.Errorf("%w: %d columns, want %d to %d", ErrBadRow, n, format6.minColumns, numColumns6)
	}
	var l lease.Lease6
	if err := parseFields6(&fields, n, &l); err != nil {
		return lease.Lease6{}, err
	}
	return l, nil
}

func uintColumn6(f *[numColumns6][]byte, col, bits int) (uint64, error) {
	v, err := parseUint(f[col], bits)
	if err != nil {
		return 0, colErr6(col, f[col], err)
	}
	return v, nil
}

// parseFields6 fills l from the first n fields, reusing the capacity of
// l's byte slices.
func parseFields6(f *[numColumns6][]byte, n int, l *lease.Lease6) error {
	addr, err := netip.ParseAddr(string(f[col6Address]))
	if err != nil || !addr.Is6() || addr.Is4In6() || addr.Zone() != "" {
		return colErr6(col6Address, f[col6Address], errors.New("not an IPv6 address"))
	}
	l.Addr = addr
	if l.DUID, err = hexValue(columnNames6[col6DUID], f[col6DUID], l.DUID, decodeFormattedHex, lease.MaxDUIDLen); err != nil {
		return err
	}
	if len(l.DUID) < lease.MinDUIDLen {
		return colErr6(col6DUID, f[col6DUID], errors.New("empty"))
	}
	var v [col6PrefixLen + 1]uint64
	for _, c := range [...]struct{ col, bits int }{{col6ValidLft, 32}, {col6Expire, 63}, {col6SubnetID, 32},
		{col6PrefLft, 32}, {col6Type, 8}, {col6IAID, 32}, {col6PrefixLen, 8}} {
		if v[c.col], err = uintColumn6(f, c.col, c.bits); err != nil {
			return err
		}
	}
	l.ValidLft, l.SubnetID, l.PreferredLft, l.IAID = uint32(v[col6ValidLft]), uint32(v[col6SubnetID]),
		uint32(v[col6PrefLft]), uint32(v[col6IAID])
	// Kea reads expire as a 64-bit count and derives cltt = expire - valid.
	if v[col6Expire] < v[col6ValidLft] {
		return colErr6(col6Expire, f[col6Expire], errors.New("less than valid_lifetime"))
	}
	l.CLTT = int64(v[col6Expire] - v[col6ValidLft])
	switch t := lease.Type(v[col6Type]); t {
	case lease.TypeNA, lease.TypeTA:
		l.Type, l.PrefixLen = t, 128 // Kea's Lease6 forces /128 on addresses
	case lease.TypePD:
		if v[col6PrefixLen] > 128 {
			return colErr6(col6PrefixLen, f[col6PrefixLen], errors.New("more than 128"))
		}
		l.Type, l.PrefixLen = t, uint8(v[col6PrefixLen])
	default:
		return colErr6(col6Type, f[col6Type], errors.New("not 0 (IA_NA), 1 (IA_TA) or 2 (IA_PD)"))
	}
	if l.FqdnFwd, err = parseBool(f[col6FqdnFwd]); err != nil {
		return colErr6(col6FqdnFwd, f[col6FqdnFwd], err)
	}
	if l.FqdnRev, err = parseBool(f[col6FqdnRev]); err != nil {
		return colErr6(col6FqdnRev, f[col6FqdnRev], err)
	}
	l.Hostname = unescape(f[col6Hostname])

	// A hardware address Kea cannot read is dropped with a warning, not a
	// reason to lose the lease.
	l.HWAddr, l.HWType, l.HWAddrSource = l.HWAddr[:0], 0, 0
	if n > col6HWAddr {
		hw, err := hexValue(columnNames6[col6HWAddr], f[col6HWAddr], l.HWAddr, decodeColonHex, maxHWAddrLen)
		if err == nil {
			l.HWAddr = hw
		}
	}
	if len(l.HWAddr) == 0 {
		l.HWAddr = nil
	} else {
		l.HWType = lease.HWTypeEthernet
		if n > col6HWType && len(f[col6HWType]) > 0 {
			t, err := uintColumn6(f, col6HWType, 16)
			if err != nil {
				return err
			}
			l.HWType = uint16(t)
		}
		if n > col6HWSource && len(f[col6HWSource]) > 0 {
			src, err := uintColumn6(f, col6HWSource, 32)
			if err != nil {
				return err
			}
			l.HWAddrSource = uint32(src)
		}
	}

	if l.State, l.UserContext, err = stateAndContext(f[:n], col6State, col6UserContext, columnNames6[:]); err != nil {
		return err
	}
	if isEmptyDUID(l.DUID) && l.State != lease.StateDeclined {
		return fmt.Errorf("%w: lease %s has the empty DUID and is not declined", ErrBadRow, addr)
	}
	return nil
}

func isEmptyDUID(d []byte) bool { return len(d) == 0 || len(d) == 1 && d[0] == 0 }

// AppendRow6 appends l as one DHCPv6 lease-file row, newline included,
// formatted exactly as Kea 2.2 writes it: the address as RFC 5952 text,
// colon hex in lower case, expire = cltt + valid_lifetime, booleans as
// 0/1, hostname and user_context escaped, and hwtype and hwaddr_source
// only beside a hardware address. A lease without a DUID (a declined one)
// is written with Kea's empty DUID "00". A deletion marker is the lease
// with ValidLft 0.
func AppendRow6(dst []byte, l *lease.Lease6) []byte {
	dst = l.Addr.AppendTo(dst)
	dst = append(dst, ',')
	if len(l.DUID) == 0 {
		dst = append(dst, "00"...)
	} else {
		dst = appendColonHex(dst, l.DUID)
	}
	dst = append(dst, ',')
	dst = strconv.AppendUint(dst, uint64(l.ValidLft), 10)
	dst = append(dst, ',')
	dst = strconv.AppendInt(dst, l.Expire(), 10)
	dst = append(dst, ',')
	dst = strconv.AppendUint(dst, uint64(l.SubnetID), 10)
	dst = append(dst, ',')
	dst = strconv.AppendUint(dst, uint64(l.PreferredLft), 10)
	dst = append(dst, ',')
	dst = strconv.AppendUint(dst, uint64(l.Type), 10)
	dst = append(dst, ',')
	dst = strconv.AppendUint(dst, uint64(l.IAID), 10)
	dst = append(dst, ',')
	dst = strconv.AppendUint(dst, uint64(prefixLen(l)), 10)
	dst = append(dst, ',')
	dst = appendBool(dst, l.FqdnFwd)
	dst = append(dst, ',')
	dst = appendBool(dst, l.FqdnRev)
	dst = append(dst, ',')
	dst = appendEscaped(dst, l.Hostname)
	dst = append(dst, ',')
	dst = appendColonHex(dst, l.HWAddr)
	dst = append(dst, ',')
	dst = strconv.AppendUint(dst, uint64(l.State), 10)
	dst = append(dst, ',')
	dst = appendEscaped(dst, l.UserContext)
	dst = append(dst, ',')
	if len(l.HWAddr) > 0 {
		dst = strconv.AppendUint(dst, uint64(l.HWType), 10)
		dst = append(dst, ',')
		dst = strconv.AppendUint(dst, uint64(l.HWAddrSource), 10)
	} else {
		dst = append(dst, ',')
	}
	return append(dst, '\n')
}

// prefixLen is the prefix_len column: 128 for an address lease.
func prefixLen(l *lease.Lease6) uint8 {
	if l.Type != lease.TypePD {
		return 128
	}
	return l.PrefixLen
}

// rowLen6 bounds len(AppendRow6(nil, l)): the writer refuses a lease
// whose row the loader would skip as too long. Only the variable columns
// matter at that size, so the fixed ones are counted at their maximum.
func rowLen6(l *lease.Lease6) int {
	const fixed = 39 + 16 + 10*6 + 20 + 3 + 3 + 5 + 10 // address, commas, numbers, types
	return fixed + colonHexLen(len(l.DUID)) + colonHexLen(len(l.HWAddr)) +
		escapedLen(l.Hostname) + escapedLen(l.UserContext)
}
