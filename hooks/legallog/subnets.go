package legallog

import (
	"encoding/json"
	"fmt"
)

// QuietSubnets reads from a raw configuration document the subnets whose
// own user-context says "legal-logging": false: as Kea does, no forensic
// record is written for their leases. Like Kea, only a subnet's own
// context counts (a shared network's is not inherited), and a value that
// is not a boolean is ignored.
func QuietSubnets(raw json.RawMessage) (map[uint32]bool, error) {
	var doc struct {
		Dhcp4 struct {
			Subnet4        []quietSubnet `json:"subnet4"`
			SharedNetworks []struct {
				Subnet4 []quietSubnet `json:"subnet4"`
			} `json:"shared-networks"`
		} `json:"Dhcp4"`
	}
	if len(raw) == 0 {
		return map[uint32]bool{}, nil
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("subnets' legal-logging: %w", err)
	}
	all := doc.Dhcp4.Subnet4
	for _, n := range doc.Dhcp4.SharedNetworks {
		all = append(all, n.Subnet4...)
	}
	return quietOf(all), nil
}

// quietSubnet is what a subnet entry says of its logging.
type quietSubnet struct {
	ID          uint32          `json:"id"`
	UserContext json.RawMessage `json:"user-context"`
}

// quietOf returns the subnets of all whose user-context has
// "legal-logging": false.
func quietOf(all []quietSubnet) map[uint32]bool {
	out := map[uint32]bool{}
	for _, s := range all {
		var ctx map[string]json.RawMessage
		if json.Unmarshal(s.UserContext, &ctx) != nil {
			continue // absent, or not a map: logging stays on
		}
		var on bool
		if v, ok := ctx["legal-logging"]; ok && json.Unmarshal(v, &on) == nil && !on {
			out[s.ID] = true
		}
	}
	return out
}

// SetQuietSubnets sets the subnets whose leases get no record (see
// QuietSubnets), at start and at each configuration reload.
func (l *Log) SetQuietSubnets(ids map[uint32]bool) { l.quiet.Store(&ids) }

// quietSubnet reports whether subnet id's leases get no record.
func (l *Log) quietSubnet(id uint32) bool {
	q := l.quiet.Load()
	return q != nil && len(*q) > 0 && (*q)[id]
}
