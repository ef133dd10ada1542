package leasejson

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"xdhcp/lease"
)

// Map is a command's arguments as Kea's SimpleParser reads them: its
// getters fail with Kea's words when a parameter is missing or of the
// wrong type or range.
type Map map[string]json.RawMessage

// ParseMap reads raw as a JSON object; ok is false when it is absent or
// not an object.
func ParseMap(raw json.RawMessage) (m Map, ok bool) {
	if len(raw) == 0 || json.Unmarshal(raw, &m) != nil || m == nil {
		return nil, false
	}
	return m, true
}

// Has reports whether key is present (Kea's contains: null counts).
func (m Map) Has(key string) bool {
	_, ok := m[key]
	return ok
}

func (m Map) get(key string, v any) error {
	raw, ok := m[key]
	if !ok {
		return fmt.Errorf("missing parameter '%s'", key)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("invalid type specified for parameter '%s'", key)
	}
	return nil
}

// String is the string parameter key.
func (m Map) String(key string) (string, error) {
	var s *string
	if err := m.get(key, &s); err != nil {
		return "", err
	}
	if s == nil {
		return "", fmt.Errorf("invalid type specified for parameter '%s'", key)
	}
	return *s, nil
}

// Bool is the boolean parameter key.
func (m Map) Bool(key string) (bool, error) {
	var b *bool
	if err := m.get(key, &b); err != nil {
		return false, err
	}
	if b == nil {
		return false, fmt.Errorf("invalid type specified for parameter '%s'", key)
	}
	return *b, nil
}

// Int is the integer parameter key.
func (m Map) Int(key string) (int64, error) {
	var n json.Number
	raw, ok := m[key]
	if !ok {
		return 0, fmt.Errorf("missing parameter '%s'", key)
	}
	if len(raw) == 0 || raw[0] == '"' || json.Unmarshal(raw, &n) != nil {
		return 0, fmt.Errorf("invalid type specified for parameter '%s'", key)
	}
	v, err := strconv.ParseInt(n.String(), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid type specified for parameter '%s'", key)
	}
	return v, nil
}

// Uint is the integer parameter key, which must lie in 0..max.
func (m Map) Uint(key string, max uint64) (uint64, error) {
	v, err := m.Int(key)
	if err != nil {
		return 0, err
	}
	if v < 0 || uint64(v) > max {
		return 0, fmt.Errorf("out of range value (%d) specified for parameter '%s'", v, key)
	}
	return uint64(v), nil
}

// ParseDUID reads a DUID as Kea's DUID::fromText does, with its errors.
func ParseDUID(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("Empty DUIDs are not allowed")
	}
	b, err := ParseHex(s)
	if err != nil {
		return nil, fmt.Errorf("'%s' is not a valid string of hexadecimal digits", s)
	}
	if len(b) == 0 {
		return nil, errors.New("Empty DUIDs are not allowed")
	}
	if len(b) > lease.MaxDUIDLen {
		return nil, fmt.Errorf("DUID is too large: %d octets, the most is %d", len(b), lease.MaxDUIDLen)
	}
	return b, nil
}

// Subnet6 is what the lease6 commands need of a configured DHCPv6 subnet.
type Subnet6 struct {
	ID       uint32
	Prefix   netip.Prefix
	ValidLft uint32 // the subnet's valid lifetime (its default)
}

// Subnets6 are the configured DHCPv6 subnets.
type Subnets6 []Subnet6

// Resolve finds the subnet of a lease written by a command, as Kea's
// lease parser does: with id 0 the subnet containing addr (addresses
// only), otherwise subnet id, which must contain an address lease.
func (ss Subnets6) Resolve(id uint32, t lease.Type, addr netip.Addr) (Subnet6, error) {
	if id == 0 {
		if t != lease.TypeNA {
			return Subnet6{}, errors.New("Subnet-id is 0 or not specified. This is allowed for address leases only, not prefix leases.")
		}
		for _, s := range ss {
			if s.Prefix.Contains(addr) {
				return s, nil
			}
		}
		return Subnet6{}, fmt.Errorf("subnet-id not specified and failed to find a subnet for address %s", addr)
	}
	i := slices.IndexFunc(ss, func(s Subnet6) bool { return s.ID == id })
	if i < 0 {
		return Subnet6{}, fmt.Errorf("Invalid subnet-id: No IPv6 subnet with subnet-id=%d currently configured.", id)
	}
	if s := ss[i]; t == lease.TypeNA && !s.Prefix.Contains(addr) {
		return Subnet6{}, fmt.Errorf("The address %s does not belong to subnet %s, subnet-id=%d", addr, s.Prefix, id)
	}
	return ss[i], nil
}

// DecodeArgs6 builds a lease from lease6-add, lease6-update or
// lease6-bulk-apply lease arguments as Kea 2.2's lease parser does (its
// checks, defaults and error texts; hostnames are lower-cased) and reports
// whether they ask for force-create. now is the cltt of a lease given
// without "expire". Unlike Kea, a delegated prefix length must be 1 to 128
// (Kea stores any number up to 255, making a prefix no client can use).
func DecodeArgs6(raw json.RawMessage, now int64, subnets Subnets6) (_ lease.Lease6, forceCreate bool, err error) {
	m, ok := ParseMap(raw)
	if !ok {
		return lease.Lease6{}, false, errors.New("lease information missing")
	}
	fail := func(err error) (lease.Lease6, bool, error) { return lease.Lease6{}, false, err }

	addrText, err := m.String("ip-address")
	if err != nil {
		return fail(err)
	}
	addr, err := netip.ParseAddr(addrText)
	if err != nil || addr.Zone() != "" {
		return fail(fmt.Errorf("Failed to convert string to address '%s': Invalid argument", addrText))
	}
	if addr.Is4() || addr.Is4In6() {
		return fail(fmt.Errorf("Non-IPv6 address specified: %s", addrText))
	}
	l := lease.Lease6{Addr: addr, Type: lease.TypeNA, PrefixLen: 128}
	duidText, err := m.String("duid")
	if err != nil {
		return fail(err)
	}
	if l.DUID, err = ParseDUID(duidText); err != nil {
		return fail(err)
	}
	if m.Has("type") {
		txt, err := m.String("type")
		if err != nil {
			return fail(err)
		}
		t, ok := ParseType(txt)
		if !ok {
			return fail(fmt.Errorf("Incorrect lease type: %s, the only supported values are: na, ta and pd", txt))
		}
		l.Type = t
		if t == lease.TypePD {
			n, err := m.Uint("prefix-len", math.MaxUint8)
			if err != nil {
				return fail(err)
			}
			if n < 1 || n > 128 {
				return fail(fmt.Errorf("prefix-len %d is not a prefix length (1 to 128)", n))
			}
			l.PrefixLen = uint8(n)
		}
	}
	var id uint64
	if m.Has("subnet-id") {
		if id, err = m.Uint("subnet-id", math.MaxUint32); err != nil {
			return fail(err)
		}
	}
	subnet, err := subnets.Resolve(uint32(id), l.Type, addr)
	if err != nil {
		return fail(err)
	}
	l.SubnetID = subnet.ID
	iaid, err := m.Uint("iaid", math.MaxUint32)
	if err != nil {
		return fail(err)
	}
	l.IAID = uint32(iaid)
	if m.Has("hw-address") {
		txt, err := m.String("hw-address")
		if err != nil {
			return fail(err)
		}
		if l.HWAddr, err = ParseHex(txt); err != nil {
			return fail(fmt.Errorf("'%s' is not a valid hardware address: %v", txt, err))
		}
		if len(l.HWAddr) > 0 {
			l.HWType = lease.HWTypeEthernet
		}
	}
	// Kea defaults both lifetimes to the subnet's valid lifetime.
	l.ValidLft, l.PreferredLft = subnet.ValidLft, subnet.ValidLft
	for _, f := range []struct {
		key string
		dst *uint32
	}{{"valid-lft", &l.ValidLft}, {"preferred-lft", &l.PreferredLft}} {
		if m.Has(f.key) {
			v, err := m.Uint(f.key, math.MaxUint32)
			if err != nil {
				return fail(err)
			}
			*f.dst = uint32(v)
		}
	}
	l.CLTT = now
	if m.Has("expire") {
		exp, err := m.Int("expire")
		if err != nil {
			return fail(err)
		}
		switch {
		case exp <= 0:
			return fail(fmt.Errorf("expiration time must be positive for address %s", addr))
		case exp < int64(l.ValidLft):
			return fail(fmt.Errorf("expiration time must be greater than valid lifetime for address %s", addr))
		}
		l.CLTT = exp - int64(l.ValidLft)
	}
	for _, f := range []struct {
		key string
		dst *bool
	}{{"fqdn-fwd", &l.FqdnFwd}, {"fqdn-rev", &l.FqdnRev}, {"force-create", &forceCreate}} {
		if m.Has(f.key) {
			if *f.dst, err = m.Bool(f.key); err != nil {
				return fail(err)
			}
		}
	}
	if m.Has("hostname") {
		if l.Hostname, err = m.String("hostname"); err != nil {
			return fail(err)
		}
		l.Hostname = strings.ToLower(l.Hostname)
	}
	if l.Hostname == "" && (l.FqdnFwd || l.FqdnRev) {
		return fail(errors.New("No hostname specified and either forward or reverse fqdn was set to true."))
	}
	if m.Has("state") {
		st, err := m.Uint("state", math.MaxUint8)
		if err != nil {
			return fail(err)
		}
		if st > uint64(lease.StateExpiredReclaimed) {
			return fail(fmt.Errorf("Invalid state value: %d, supported values are: 0 (default), 1 (declined) and 2 (expired-reclaimed)", st))
		}
		l.State = lease.State(st)
	}
	if l.UserContext, err = userContextArg(m); err != nil {
		return fail(err)
	}
	return l, forceCreate, nil
}

// userContextArg is the lease's user context from "user-context" and
// "comment", as compact JSON ("" when none), with Kea's checks.
func userContextArg(m Map) (string, error) {
	var ctx map[string]json.RawMessage
	if raw, ok := m["user-context"]; ok && string(raw) != "null" {
		if json.Unmarshal(raw, &ctx) != nil {
			return "", fmt.Errorf("Invalid user context '%s' is not a JSON map.", KeaText(raw))
		}
	}
	if comment, ok := m["comment"]; ok {
		if _, dup := ctx["comment"]; dup {
			b, _ := json.Marshal(ctx)
			return "", fmt.Errorf("Duplicated comment entry '%s' in user context '%s'", KeaText(comment), KeaText(b))
		}
		if ctx == nil {
			ctx = map[string]json.RawMessage{}
		}
		ctx["comment"] = comment
	}
	if ctx == nil {
		return "", nil
	}
	b, err := json.Marshal(ctx)
	if err != nil {
		return "", fmt.Errorf("invalid user context: %v", err)
	}
	return string(b), nil
}

// KeaText prints a JSON value as Kea's Element::str does in messages:
// "{ "a": 1, "b": [ 2, 3 ] }", keys sorted. Invalid JSON is returned as is.
func KeaText(raw []byte) string {
	var v any
	d := json.NewDecoder(strings.NewReader(string(raw)))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return string(raw)
	}
	var sb strings.Builder
	keaText(&sb, v)
	return sb.String()
}

func keaText(sb *strings.Builder, v any) {
	switch x := v.(type) {
	case map[string]any:
		sb.WriteString("{ ")
		for i, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range x {
				if !yield(k) {
					return
				}
			}
		}) {
			if i > 0 {
				sb.WriteString(", ")
			}
			b, _ := json.Marshal(k)
			sb.Write(b)
			sb.WriteString(": ")
			keaText(sb, x[k])
		}
		sb.WriteString(" }")
	case []any:
		sb.WriteString("[ ")
		for i, e := range x {
			if i > 0 {
				sb.WriteString(", ")
			}
			keaText(sb, e)
		}
		sb.WriteString(" ]")
	default:
		b, _ := json.Marshal(x)
		sb.Write(b)
	}
}
