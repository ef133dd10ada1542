package ha

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"xdhcp/control"
	ctlclient "xdhcp/control/client"
	"xdhcp/lease"
	"xdhcp/slowpath"
)

// Wire format of Kea 2.2's HA exchanges (kea-2.2-reference.md §1). Struct
// fields are declared in the order Kea prints keys (std::map, sorted), so
// our bodies read the same as a Kea capture.

// ResultMaintenanceNotAllowed is Kea's HA-specific answer to
// ha-maintenance-notify when the server cannot go in-maintenance.
const ResultMaintenanceNotAllowed = 1001

// Command names exchanged between partners.
const (
	cmdHeartbeat          = "ha-heartbeat"
	cmdLeaseUpdate        = "lease4-update"
	cmdLeaseDel           = "lease4-del"
	cmdLeaseGetPage       = "lease4-get-page"
	cmdDHCPDisable        = "dhcp-disable"
	cmdDHCPEnable         = "dhcp-enable"
	cmdSyncCompleteNotify = "ha-sync-complete-notify"
	cmdMaintenanceNotify  = "ha-maintenance-notify"
	cmdReset              = "ha-reset"
)

// originPartner is the dhcp-disable/enable origin HA uses.
const originPartner = "ha-partner"

// encodeCommand renders a command as Kea's HA client sends it, always with
// "service": ["dhcp4"] so a Control Agent forwards it.
func encodeCommand(name string, args any) ([]byte, error) {
	return ctlclient.Encode(name, args, control.ServiceName)
}

// answer is one answer map as received.
type answer struct {
	Result    int             `json:"result"`
	Text      string          `json:"text,omitempty"`
	Arguments json.RawMessage `json:"arguments,omitempty"`
}

// ok reports Kea's success codes for HA: 0, and 3 (nothing found).
func (a answer) ok() bool { return ctlclient.Answer(a).OK() }

// decodeAnswer parses a response body the way Kea's HA client does: a list
// whose first element is the answer. A bare map (Control Agent errors such
// as 401/403) is an error whose text is kept.
func decodeAnswer(body []byte) (answer, error) {
	a, err := ctlclient.DecodeList(body)
	return answer(a), err
}

// heartbeatArgs are the arguments of a heartbeat answer.
type heartbeatArgs struct {
	DateTime          string   `json:"date-time"`
	Scopes            []string `json:"scopes"`
	State             string   `json:"state"`
	UnsentUpdateCount uint64   `json:"unsent-update-count"`
}

// heartbeat is a parsed heartbeat answer.
type heartbeat struct {
	state     State
	time      time.Time
	scopes    []string
	unsent    uint64
	hasUnsent bool
}

// parseHeartbeat checks a heartbeat answer's arguments as Kea 2.2 does:
// string state (a known name) and date-time are required; scopes and
// unsent-update-count are optional, but a present count must be an integer.
func parseHeartbeat(raw json.RawMessage) (heartbeat, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return heartbeat{}, errors.New("heartbeat arguments are not a map")
	}
	var hb heartbeat
	var s string
	if err := json.Unmarshal(m["state"], &s); err != nil {
		return heartbeat{}, errors.New("heartbeat: 'state' missing or not a string")
	}
	st, ok := ParseState(s)
	if !ok || st == StateUnavailable {
		return heartbeat{}, fmt.Errorf("heartbeat: unknown state %q", s)
	}
	hb.state = st
	var dt string
	if err := json.Unmarshal(m["date-time"], &dt); err != nil {
		return heartbeat{}, errors.New("heartbeat: 'date-time' missing or not a string")
	}
	t, err := http.ParseTime(dt)
	if err != nil {
		return heartbeat{}, fmt.Errorf("heartbeat: bad date-time %q: %w", dt, err)
	}
	hb.time = t
	if v, ok := m["scopes"]; ok {
		if err := json.Unmarshal(v, &hb.scopes); err != nil {
			return heartbeat{}, errors.New("heartbeat: 'scopes' is not a list of strings")
		}
	}
	if v, ok := m["unsent-update-count"]; ok {
		if err := json.Unmarshal(v, &hb.unsent); err != nil {
			return heartbeat{}, errors.New("heartbeat: 'unsent-update-count' is not an integer")
		}
		hb.hasUnsent = true
	}
	return hb, nil
}

// wireLease is the Lease4 element HA sends in lease4-update / lease4-del:
// "expire" instead of "cltt", and force-create on updates only.
type wireLease struct {
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

// leaseArgs renders l for lease4-update (update true) or lease4-del.
func leaseArgs(l *lease.Lease, update bool) wireLease {
	j := slowpath.ToJSON(l)
	w := wireLease{
		ClientID: j.ClientID, Expire: l.Expire(), FqdnFwd: j.FqdnFwd, FqdnRev: j.FqdnRev,
		Hostname: j.Hostname, HWAddress: j.HWAddress, IPAddress: j.IPAddress, State: j.State,
		SubnetID: j.SubnetID, UserContext: j.UserContext, ValidLft: j.ValidLft,
	}
	if update {
		t := true
		w.ForceCreate = &t
	}
	return w
}

// syncLease is a lease of a lease4-get-page answer.
type syncLease struct {
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

// parseSyncLease is Kea's Lease4::fromElement: every field but client-id
// and user-context is required.
func parseSyncLease(raw json.RawMessage) (lease.Lease, error) {
	var s syncLease
	if err := json.Unmarshal(raw, &s); err != nil {
		return lease.Lease{}, fmt.Errorf("malformed lease: %w", err)
	}
	var missing []string
	for name, ok := range map[string]bool{
		"ip-address": s.IPAddress != nil, "hw-address": s.HWAddress != nil, "subnet-id": s.SubnetID != nil,
		"valid-lft": s.ValidLft != nil, "cltt": s.CLTT != nil, "fqdn-fwd": s.FqdnFwd != nil,
		"fqdn-rev": s.FqdnRev != nil, "hostname": s.Hostname != nil, "state": s.State != nil,
	} {
		if !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return lease.Lease{}, fmt.Errorf("lease lacks %s", strings.Join(slices.Sorted(slices.Values(missing)), ", "))
	}
	addr, err := netip.ParseAddr(*s.IPAddress)
	if err != nil || !addr.Is4() {
		return lease.Lease{}, fmt.Errorf("invalid ip-address %q", *s.IPAddress)
	}
	l := lease.Lease{Addr: addr, FqdnFwd: *s.FqdnFwd, FqdnRev: *s.FqdnRev, Hostname: *s.Hostname}
	if l.HWAddr, err = slowpath.ParseHex(*s.HWAddress); err != nil {
		return lease.Lease{}, fmt.Errorf("%s: invalid hw-address: %w", addr, err)
	}
	if s.ClientID != nil {
		if l.ClientID, err = slowpath.ParseHex(*s.ClientID); err != nil {
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
	if len(s.UserContext) > 0 && string(s.UserContext) != "null" {
		if bytes.TrimSpace(s.UserContext)[0] != '{' {
			return lease.Lease{}, fmt.Errorf("%s: user-context is not a map", addr)
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, s.UserContext); err != nil {
			return lease.Lease{}, fmt.Errorf("%s: user-context: %w", addr, err)
		}
		l.UserContext = buf.String()
	}
	return l, nil
}

// pageArgs are the arguments of a lease4-get-page answer.
type pageArgs struct {
	Count  *int              `json:"count"`
	Leases []json.RawMessage `json:"leases"`
}
