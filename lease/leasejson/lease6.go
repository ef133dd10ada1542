package leasejson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"

	"xdhcp/lease"
)

// Element6 is Kea's Lease6 element as lease6-get and its kin answer it.
// Fields are declared in the order Kea prints keys (sorted); hw-address
// appears only with a hardware address and prefix-len only for a
// delegated prefix, as in Kea's Lease6::toElement.
type Element6 struct {
	CLTT         int64           `json:"cltt"`
	DUID         string          `json:"duid"`
	FqdnFwd      bool            `json:"fqdn-fwd"`
	FqdnRev      bool            `json:"fqdn-rev"`
	Hostname     string          `json:"hostname"`
	HWAddress    string          `json:"hw-address,omitempty"`
	IAID         uint32          `json:"iaid"`
	IPAddress    string          `json:"ip-address"`
	PreferredLft uint32          `json:"preferred-lft"`
	PrefixLen    *uint8          `json:"prefix-len,omitempty"`
	State        uint8           `json:"state"`
	SubnetID     uint32          `json:"subnet-id"`
	Type         string          `json:"type"`
	UserContext  json.RawMessage `json:"user-context,omitempty"`
	ValidLft     uint32          `json:"valid-lft"`
}

// Encode6 renders a DHCPv6 lease as lease6-get answers it.
func Encode6(l *lease.Lease6) Element6 {
	e := Element6{
		CLTT: l.CLTT, DUID: ColonHex(duidOf(l)), FqdnFwd: l.FqdnFwd, FqdnRev: l.FqdnRev, Hostname: l.Hostname,
		HWAddress: ColonHex(l.HWAddr), IAID: l.IAID, IPAddress: l.Addr.String(), PreferredLft: l.PreferredLft,
		State: uint8(l.State), SubnetID: l.SubnetID, Type: l.Type.String(), ValidLft: l.ValidLft,
	}
	if l.Type == lease.TypePD {
		n := l.PrefixLen
		e.PrefixLen = &n
	}
	if l.UserContext != "" && json.Valid([]byte(l.UserContext)) {
		e.UserContext = json.RawMessage(l.UserContext)
	}
	return e
}

// duidOf is the lease's DUID, or Kea's empty DUID for one without.
func duidOf(l *lease.Lease6) []byte {
	if len(l.DUID) == 0 {
		return lease.EmptyDUID
	}
	return l.DUID
}

// EncodeUpdate6 renders l as Kea's HA sends it to a partner (in
// lease6-bulk-apply): the Lease6 element with "expire" in place of
// "cltt", keys sorted as Kea prints them.
func EncodeUpdate6(l *lease.Lease6) map[string]any {
	b, _ := json.Marshal(Encode6(l))
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	_ = d.Decode(&m) // our own encoding: it decodes
	delete(m, "cltt")
	m["expire"] = l.Expire()
	return m
}

// ParseType reads a lease type as Kea's commands spell it.
func ParseType(s string) (lease.Type, bool) {
	switch s {
	case "IA_NA":
		return lease.TypeNA, true
	case "IA_TA":
		return lease.TypeTA, true
	case "IA_PD":
		return lease.TypePD, true
	}
	return 0, false
}

// element6 is a Lease6 element as read back, every field optional so that
// Decode6 can name the missing ones.
type element6 struct {
	IPAddress    *string         `json:"ip-address"`
	DUID         *string         `json:"duid"`
	IAID         *int64          `json:"iaid"`
	PreferredLft *int64          `json:"preferred-lft"`
	ValidLft     *int64          `json:"valid-lft"`
	CLTT         *int64          `json:"cltt"`
	SubnetID     *int64          `json:"subnet-id"`
	FqdnFwd      *bool           `json:"fqdn-fwd"`
	FqdnRev      *bool           `json:"fqdn-rev"`
	Hostname     *string         `json:"hostname"`
	State        *int64          `json:"state"`
	Type         *string         `json:"type"`
	PrefixLen    *int64          `json:"prefix-len"`
	HWAddress    *string         `json:"hw-address"`
	UserContext  json.RawMessage `json:"user-context"`
}

// Decode6 parses a Lease6 element of a lease6-get-page answer (an HA
// partner's, during synchronization) as Kea's Lease6::fromElement does:
// every field but hw-address and user-context is required, and prefix-len
// too for a delegated prefix.
func Decode6(raw json.RawMessage) (lease.Lease6, error) {
	var s element6
	if err := json.Unmarshal(raw, &s); err != nil {
		return lease.Lease6{}, fmt.Errorf("malformed lease: %w", err)
	}
	if err := requireFields(map[string]bool{
		"ip-address": s.IPAddress != nil, "duid": s.DUID != nil, "iaid": s.IAID != nil,
		"preferred-lft": s.PreferredLft != nil, "valid-lft": s.ValidLft != nil, "cltt": s.CLTT != nil,
		"subnet-id": s.SubnetID != nil, "fqdn-fwd": s.FqdnFwd != nil, "fqdn-rev": s.FqdnRev != nil,
		"hostname": s.Hostname != nil, "state": s.State != nil, "type": s.Type != nil,
	}); err != nil {
		return lease.Lease6{}, err
	}
	addr, err := netip.ParseAddr(*s.IPAddress)
	if err != nil || !addr.Is6() || addr.Is4In6() || addr.Zone() != "" {
		return lease.Lease6{}, fmt.Errorf("invalid ip-address %q", *s.IPAddress)
	}
	l := lease.Lease6{Addr: addr, PrefixLen: 128, FqdnFwd: *s.FqdnFwd, FqdnRev: *s.FqdnRev, Hostname: *s.Hostname}
	t, ok := ParseType(*s.Type)
	if !ok {
		return lease.Lease6{}, fmt.Errorf("%s: invalid type %q", addr, *s.Type)
	}
	l.Type = t
	if t == lease.TypePD {
		if s.PrefixLen == nil || *s.PrefixLen < 1 || *s.PrefixLen > 128 {
			return lease.Lease6{}, fmt.Errorf("%s: delegated prefix needs a prefix-len of 1 to 128", addr)
		}
		l.PrefixLen = uint8(*s.PrefixLen)
	}
	if l.DUID, err = ParseHex(*s.DUID); err != nil || len(l.DUID) == 0 || len(l.DUID) > lease.MaxDUIDLen {
		return lease.Lease6{}, fmt.Errorf("%s: invalid duid %q", addr, *s.DUID)
	}
	if s.HWAddress != nil {
		if l.HWAddr, err = ParseHex(*s.HWAddress); err != nil {
			return lease.Lease6{}, fmt.Errorf("%s: invalid hw-address: %w", addr, err)
		}
		if len(l.HWAddr) > 0 {
			l.HWType = lease.HWTypeEthernet
		}
	}
	for _, f := range []struct {
		name string
		v    int64
		max  int64
		dst  *uint32
	}{{"iaid", *s.IAID, 1<<32 - 1, &l.IAID}, {"preferred-lft", *s.PreferredLft, 1<<32 - 1, &l.PreferredLft},
		{"valid-lft", *s.ValidLft, 1<<32 - 1, &l.ValidLft}, {"subnet-id", *s.SubnetID, 1<<32 - 1, &l.SubnetID}} {
		if f.v < 0 || f.v > f.max {
			return lease.Lease6{}, fmt.Errorf("%s: invalid %s %d", addr, f.name, f.v)
		}
		*f.dst = uint32(f.v)
	}
	switch {
	case l.SubnetID == 0:
		return lease.Lease6{}, fmt.Errorf("%s: invalid subnet-id 0", addr)
	case *s.CLTT <= 0:
		return lease.Lease6{}, fmt.Errorf("%s: invalid cltt %d", addr, *s.CLTT)
	case *s.State < 0 || *s.State > 2:
		return lease.Lease6{}, fmt.Errorf("%s: invalid state %d", addr, *s.State)
	}
	l.CLTT, l.State = *s.CLTT, lease.State(*s.State)
	if l.UserContext, err = compactUserContext(addr, s.UserContext); err != nil {
		return lease.Lease6{}, err
	}
	return l, nil
}
