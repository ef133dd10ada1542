// Package leasejson is Kea's JSON form of a DHCPv4 lease (the Lease4
// element): as the lease commands answer it, as HA sends it in lease
// updates, as lease4-add and lease4-update take it, and as a lease page is
// read back during HA synchronization. The field names and their order are
// Kea 2.2's: a Kea partner reads and writes these bodies.
package leasejson

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"xdhcp/lease"
)

// Element is Kea's Lease4 element as lease4-get and its kin answer it.
type Element struct {
	IPAddress   string          `json:"ip-address"`
	HWAddress   string          `json:"hw-address"`
	ClientID    string          `json:"client-id,omitempty"`
	SubnetID    uint32          `json:"subnet-id"`
	ValidLft    uint32          `json:"valid-lft"`
	CLTT        int64           `json:"cltt"`
	FqdnFwd     bool            `json:"fqdn-fwd"`
	FqdnRev     bool            `json:"fqdn-rev"`
	Hostname    string          `json:"hostname"`
	State       uint8           `json:"state"`
	UserContext json.RawMessage `json:"user-context,omitempty"`
}

// Encode renders a lease as lease4-get answers it.
func Encode(l *lease.Lease) Element {
	return Element{
		IPAddress:   l.Addr.String(),
		HWAddress:   ColonHex(l.HWAddr),
		ClientID:    ColonHex(l.ClientID),
		SubnetID:    l.SubnetID,
		ValidLft:    l.ValidLft,
		CLTT:        l.CLTT,
		FqdnFwd:     l.FqdnFwd,
		FqdnRev:     l.FqdnRev,
		Hostname:    l.Hostname,
		State:       uint8(l.State),
		UserContext: userContext(l),
	}
}

// userContext is the lease's user context as JSON, nil when it has none
// (or holds text that is not JSON, which the memfile store never keeps).
func userContext(l *lease.Lease) json.RawMessage {
	if l.UserContext != "" && json.Valid([]byte(l.UserContext)) {
		return json.RawMessage(l.UserContext)
	}
	return nil
}

// Update is the Lease4 element HA sends in lease4-update and lease4-del:
// "expire" instead of "cltt", and force-create on updates only. Fields are
// declared in the order Kea prints keys (sorted), so a body reads the same
// as one a Kea server sends.
type Update struct {
	ClientID    string          `json:"client-id,omitempty"`
	Expire      int64           `json:"expire"`
	ForceCreate *bool           `json:"force-create,omitempty"`
	FqdnFwd     bool            `json:"fqdn-fwd"`
	FqdnRev     bool            `json:"fqdn-rev"`
	Hostname    string          `json:"hostname"`
	HWAddress   string          `json:"hw-address"`
	IPAddress   string          `json:"ip-address"`
	State       uint8           `json:"state"`
	SubnetID    uint32          `json:"subnet-id"`
	UserContext json.RawMessage `json:"user-context,omitempty"`
	ValidLft    uint32          `json:"valid-lft"`
}

// EncodeUpdate renders l for lease4-update (forceCreate true, as HA sends
// every update) or lease4-del (false).
func EncodeUpdate(l *lease.Lease, forceCreate bool) Update {
	u := Update{
		ClientID: ColonHex(l.ClientID), Expire: l.Expire(), FqdnFwd: l.FqdnFwd, FqdnRev: l.FqdnRev,
		Hostname: l.Hostname, HWAddress: ColonHex(l.HWAddr), IPAddress: l.Addr.String(), State: uint8(l.State),
		SubnetID: l.SubnetID, UserContext: userContext(l), ValidLft: l.ValidLft,
	}
	if forceCreate {
		t := true
		u.ForceCreate = &t
	}
	return u
}

// element is a Lease4 element as read back, every field optional so that
// Decode can name the missing ones.
type element struct {
	IPAddress   *string         `json:"ip-address"`
	HWAddress   *string         `json:"hw-address"`
	ClientID    *string         `json:"client-id"`
	SubnetID    *int64          `json:"subnet-id"`
	ValidLft    *int64          `json:"valid-lft"`
	CLTT        *int64          `json:"cltt"`
	FqdnFwd     *bool           `json:"fqdn-fwd"`
	FqdnRev     *bool           `json:"fqdn-rev"`
	Hostname    *string         `json:"hostname"`
	State       *int64          `json:"state"`
	UserContext json.RawMessage `json:"user-context"`
}

// Decode parses a Lease4 element of a lease4-get-page answer as Kea's
// Lease4::fromElement does: every field but client-id and user-context is
// required.
func Decode(raw json.RawMessage) (lease.Lease, error) {
	var s element
	if err := json.Unmarshal(raw, &s); err != nil {
		return lease.Lease{}, fmt.Errorf("malformed lease: %w", err)
	}
	if err := requireFields(map[string]bool{
		"ip-address": s.IPAddress != nil, "hw-address": s.HWAddress != nil, "subnet-id": s.SubnetID != nil,
		"valid-lft": s.ValidLft != nil, "cltt": s.CLTT != nil, "fqdn-fwd": s.FqdnFwd != nil,
		"fqdn-rev": s.FqdnRev != nil, "hostname": s.Hostname != nil, "state": s.State != nil,
	}); err != nil {
		return lease.Lease{}, err
	}
	addr, err := netip.ParseAddr(*s.IPAddress)
	if err != nil || !addr.Is4() {
		return lease.Lease{}, fmt.Errorf("invalid ip-address %q", *s.IPAddress)
	}
	l := lease.Lease{Addr: addr, FqdnFwd: *s.FqdnFwd, FqdnRev: *s.FqdnRev, Hostname: *s.Hostname}
	if l.HWAddr, err = ParseHex(*s.HWAddress); err != nil {
		return lease.Lease{}, fmt.Errorf("%s: invalid hw-address: %w", addr, err)
	}
	if s.ClientID != nil {
		if l.ClientID, err = ParseHex(*s.ClientID); err != nil {
			return lease.Lease{}, fmt.Errorf("%s: invalid client-id: %w", addr, err)
		}
	}
	switch {
	case *s.SubnetID <= 0 || *s.SubnetID > 1<<32-1:
		return lease.Lease{}, fmt.Errorf("%s: invalid subnet-id %d", addr, *s.SubnetID)
	case *s.CLTT <= 0:
		return lease.Lease{}, fmt.Errorf("%s: invalid cltt %d", addr, *s.CLTT)
	case *s.ValidLft < 0 || *s.ValidLft > 1<<32-1:
		return lease.Lease{}, fmt.Errorf("%s: invalid valid-lft %d", addr, *s.ValidLft)
	case *s.State < 0 || *s.State > 2:
		return lease.Lease{}, fmt.Errorf("%s: invalid state %d", addr, *s.State)
	}
	l.SubnetID, l.CLTT, l.ValidLft, l.State = uint32(*s.SubnetID), *s.CLTT, uint32(*s.ValidLft), lease.State(*s.State)
	if l.UserContext, err = compactUserContext(addr, s.UserContext); err != nil {
		return lease.Lease{}, err
	}
	return l, nil
}

// requireFields fails naming, sorted, the fields whose presence is false.
func requireFields(present map[string]bool) error {
	var missing []string
	for name, ok := range present {
		if !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("lease lacks %s", strings.Join(slices.Sorted(slices.Values(missing)), ", "))
	}
	return nil
}

// compactUserContext is a lease element's user-context as stored: compact
// JSON, "" when absent or null; it must be a map.
func compactUserContext(addr netip.Addr, raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	if bytes.TrimSpace(raw)[0] != '{' {
		return "", fmt.Errorf("%s: user-context is not a map", addr)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return "", fmt.Errorf("%s: user-context: %w", addr, err)
	}
	return buf.String(), nil
}

// ColonHex formats b as Kea prints hardware addresses and client
// identifiers: lower-case hex bytes joined by colons, "" when empty.
func ColonHex(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	var sb strings.Builder
	for i, c := range b {
		if i > 0 {
			sb.WriteByte(':')
		}
		sb.WriteString(hex.EncodeToString([]byte{c}))
	}
	return sb.String()
}

// ParseHex accepts Kea's identifier spellings: "01:02:03", "01-02-03",
// "010203", "0x010203", and single-digit groups ("1:2:3").
func ParseHex(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		s = s[2:]
	}
	sep := -1
	for _, c := range []string{":", "-", " "} {
		if strings.Contains(s, c) {
			sep = int(c[0])
		}
	}
	if sep >= 0 {
		parts := strings.Split(s, string(rune(sep)))
		out := make([]byte, 0, len(parts))
		for _, p := range parts {
			if len(p) == 1 {
				p = "0" + p
			}
			if len(p) != 2 {
				return nil, fmt.Errorf("invalid hex group %q", p)
			}
			b, err := hex.DecodeString(p)
			if err != nil {
				return nil, fmt.Errorf("invalid hex %q", p)
			}
			out = append(out, b[0])
		}
		return out, nil
	}
	if len(s)%2 == 1 {
		s = "0" + s
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("invalid hex string %q", s)
	}
	return b, nil
}

// errNotMap is the error of a user context that is not a JSON map.
var errNotMap = errors.New("user-context must be a map")
