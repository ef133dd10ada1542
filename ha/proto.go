package ha

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"xdhcp/control"
	ctlclient "xdhcp/control/client"
)

// Wire format of Kea 2.2's HA exchanges. Struct fields are declared in the
// order Kea prints keys (std::map, sorted), so our bodies read the same as a
// Kea capture. Leases travel in Kea's Lease4 form (lease/leasejson).

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

// pageArgs are the arguments of a lease4-get-page answer.
type pageArgs struct {
	Count  *int              `json:"count"`
	Leases []json.RawMessage `json:"leases"`
}
