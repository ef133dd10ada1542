package slowpath

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"xdhcp/lease"
)

// LeaseJSON is Kea's Lease4 element (kea-2.2-reference.md §1.3).
type LeaseJSON struct {
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

// ToJSON renders a lease as lease4-get answers it.
func ToJSON(l *lease.Lease) LeaseJSON {
	j := LeaseJSON{
		IPAddress: l.Addr.String(),
		HWAddress: colonHex(l.HWAddr),
		ClientID:  colonHex(l.ClientID),
		SubnetID:  l.SubnetID,
		ValidLft:  l.ValidLft,
		CLTT:      l.CLTT,
		FqdnFwd:   l.FqdnFwd,
		FqdnRev:   l.FqdnRev,
		Hostname:  l.Hostname,
		State:     uint8(l.State),
	}
	if l.UserContext != "" && json.Valid([]byte(l.UserContext)) {
		j.UserContext = json.RawMessage(l.UserContext)
	}
	return j
}

func colonHex(b []byte) string {
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

// leaseArgs are the arguments of lease4-add / lease4-update, parsed as
// lease_cmds' lease parser does (§1.3): unknown keys are ignored.
type leaseArgs struct {
	IPAddress   *string         `json:"ip-address"`
	HWAddress   *string         `json:"hw-address"`
	ClientID    *string         `json:"client-id"`
	SubnetID    *uint32         `json:"subnet-id"`
	ValidLft    *uint32         `json:"valid-lft"`
	Expire      *int64          `json:"expire"`
	FqdnFwd     bool            `json:"fqdn-fwd"`
	FqdnRev     bool            `json:"fqdn-rev"`
	Hostname    string          `json:"hostname"`
	State       *int            `json:"state"`
	UserContext json.RawMessage `json:"user-context"`
	Comment     *string         `json:"comment"`
	ForceCreate bool            `json:"force-create"`
}

// parseLeaseArgs builds a lease from lease4-add/update arguments. subnetOf
// selects a subnet by address when subnet-id is absent, and validates one
// that is given; it returns the subnet's default lifetime.
func parseLeaseArgs(raw json.RawMessage, now int64, subnetOf func(id uint32, a netip.Addr) (uint32, uint32, error)) (lease.Lease, bool, error) {
	var a leaseArgs
	if len(raw) == 0 {
		return lease.Lease{}, false, errors.New("missing arguments")
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		return lease.Lease{}, false, fmt.Errorf("invalid arguments: %v", err)
	}
	if a.IPAddress == nil {
		return lease.Lease{}, false, errors.New("missing parameter 'ip-address'")
	}
	addr, err := netip.ParseAddr(*a.IPAddress)
	if err != nil || !addr.Is4() {
		return lease.Lease{}, false, fmt.Errorf("invalid IPv4 address %q", *a.IPAddress)
	}
	if a.HWAddress == nil {
		return lease.Lease{}, false, errors.New("missing parameter 'hw-address'")
	}
	hw, err := ParseHex(*a.HWAddress)
	if err != nil {
		return lease.Lease{}, false, fmt.Errorf("invalid hw-address: %v", err)
	}
	l := lease.Lease{Addr: addr, HWAddr: hw, FqdnFwd: a.FqdnFwd, FqdnRev: a.FqdnRev, Hostname: strings.ToLower(a.Hostname)}
	if a.ClientID != nil {
		if l.ClientID, err = ParseHex(*a.ClientID); err != nil {
			return lease.Lease{}, false, fmt.Errorf("invalid client-id: %v", err)
		}
	}
	var want uint32
	if a.SubnetID != nil {
		want = *a.SubnetID
	}
	id, defValid, err := subnetOf(want, addr)
	if err != nil {
		return lease.Lease{}, false, err
	}
	l.SubnetID = id
	l.ValidLft = defValid
	if a.ValidLft != nil {
		l.ValidLft = *a.ValidLft
	}
	l.CLTT = now
	if a.Expire != nil {
		if *a.Expire <= 0 || *a.Expire < int64(l.ValidLft) {
			return lease.Lease{}, false, fmt.Errorf("expiration time must be greater than valid lifetime for address %s", addr)
		}
		l.CLTT = *a.Expire - int64(l.ValidLft)
	}
	if (l.FqdnFwd || l.FqdnRev) && l.Hostname == "" {
		return lease.Lease{}, false, errors.New("no hostname specified and either forward or reverse fqdn was set to true")
	}
	if a.State != nil {
		if *a.State < 0 || *a.State > 2 {
			return lease.Lease{}, false, fmt.Errorf("invalid state value: %d, supported values are: 0 (default), 1 (declined) and 2 (expired-reclaimed)", *a.State)
		}
		l.State = lease.State(*a.State)
	}
	ctx := map[string]any{}
	if len(a.UserContext) > 0 && string(a.UserContext) != "null" {
		if err := json.Unmarshal(a.UserContext, &ctx); err != nil {
			return lease.Lease{}, false, errors.New("user-context must be a map")
		}
	}
	if a.Comment != nil {
		ctx["comment"] = *a.Comment
	}
	if len(ctx) > 0 {
		b, _ := json.Marshal(ctx)
		l.UserContext = string(b)
	}
	return l, a.ForceCreate, nil
}

// cloneLease copies a lease out of a Store.Range callback, whose lease and
// slices are reused between calls.
func cloneLease(l *lease.Lease) lease.Lease {
	c := *l
	c.HWAddr = bytes.Clone(l.HWAddr)
	c.ClientID = bytes.Clone(l.ClientID)
	return c
}
