package leasejson

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"xdhcp/lease"
)

// SubnetFunc resolves the subnet of a lease written from outside a client
// exchange: with id 0 it selects the subnet containing a, otherwise it
// checks that subnet id exists and contains a. It returns the subnet's id
// and default valid lifetime.
type SubnetFunc func(id uint32, a netip.Addr) (subnetID, validLft uint32, err error)

// args are the arguments of lease4-add and lease4-update, parsed as Kea's
// lease_cmds lease parser does: unknown keys are ignored.
type args struct {
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

// DecodeArgs builds a lease from lease4-add or lease4-update arguments and
// reports whether they ask for force-create. now is the cltt of a lease
// given without "expire"; subnetOf resolves its subnet.
func DecodeArgs(raw json.RawMessage, now int64, subnetOf SubnetFunc) (_ lease.Lease, forceCreate bool, _ error) {
	var a args
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
	l := lease.Lease{Addr: addr, HWAddr: hw, FqdnFwd: a.FqdnFwd, FqdnRev: a.FqdnRev, Hostname: a.Hostname}
	if a.ClientID != nil {
		if l.ClientID, err = ParseHex(*a.ClientID); err != nil {
			return lease.Lease{}, false, fmt.Errorf("invalid client-id: %v", err)
		}
	}
	var subnetID uint32
	if a.SubnetID != nil {
		subnetID = *a.SubnetID
	}
	f := fields{subnetID: subnetID, validLft: a.ValidLft, expire: a.Expire, state: a.State,
		userContext: a.UserContext, comment: a.Comment}
	if err := f.complete(&l, now, subnetOf); err != nil {
		return lease.Lease{}, false, err
	}
	return l, a.ForceCreate, nil
}

// PartnerUpdate returns l as lease4-update stores it when HA sends it
// (EncodeUpdate with force-create): the same checks, and the same
// normalisation (subnet, lower-case hostname, re-encoded user context),
// without the JSON round trip. It is how a lease received from the partner
// is written.
func PartnerUpdate(l lease.Lease, subnetOf SubnetFunc) (lease.Lease, error) {
	out := lease.Lease{Addr: l.Addr, HWAddr: nonEmpty(l.HWAddr), ClientID: nonEmpty(l.ClientID),
		FqdnFwd: l.FqdnFwd, FqdnRev: l.FqdnRev, Hostname: l.Hostname}
	if !out.Addr.Is4() {
		return lease.Lease{}, fmt.Errorf("invalid IPv4 address %q", l.Addr)
	}
	validLft, expire, state := l.ValidLft, l.Expire(), int(l.State)
	f := fields{subnetID: l.SubnetID, validLft: &validLft, expire: &expire, state: &state,
		userContext: userContext(&l)}
	if err := f.complete(&out, 0, subnetOf); err != nil {
		return lease.Lease{}, err
	}
	return out, nil
}

// nonEmpty is b, or nil when empty: an identifier survives Kea's JSON form
// only when it has bytes.
func nonEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// fields are the parts of lease4-add/update arguments checked against the
// configuration and each other.
type fields struct {
	subnetID    uint32 // 0: the subnet containing the address
	validLft    *uint32
	expire      *int64
	state       *int
	userContext json.RawMessage
	comment     *string
}

// complete fills in l's subnet, lifetimes, state and user context from f,
// checking them as lease_cmds does.
func (f fields) complete(l *lease.Lease, now int64, subnetOf SubnetFunc) error {
	l.Hostname = strings.ToLower(l.Hostname)
	id, defValid, err := subnetOf(f.subnetID, l.Addr)
	if err != nil {
		return err
	}
	l.SubnetID = id
	l.ValidLft = defValid
	if f.validLft != nil {
		l.ValidLft = *f.validLft
	}
	l.CLTT = now
	if f.expire != nil {
		if *f.expire <= 0 || *f.expire < int64(l.ValidLft) {
			return fmt.Errorf("expiration time must be greater than valid lifetime for address %s", l.Addr)
		}
		l.CLTT = *f.expire - int64(l.ValidLft)
	}
	if (l.FqdnFwd || l.FqdnRev) && l.Hostname == "" {
		return errors.New("no hostname specified and either forward or reverse fqdn was set to true")
	}
	if f.state != nil {
		if *f.state < 0 || *f.state > 2 {
			return fmt.Errorf("invalid state value: %d, supported values are: 0 (default), 1 (declined) and 2 (expired-reclaimed)", *f.state)
		}
		l.State = lease.State(*f.state)
	}
	ctx := map[string]any{}
	if len(f.userContext) > 0 && string(f.userContext) != "null" {
		if err := json.Unmarshal(f.userContext, &ctx); err != nil {
			return errNotMap
		}
	}
	if f.comment != nil {
		ctx["comment"] = *f.comment
	}
	if len(ctx) > 0 {
		b, _ := json.Marshal(ctx)
		l.UserContext = string(b)
	}
	return nil
}
