package legallog

import (
	"encoding/json"
	"fmt"
)

// QuietSubnets6 is QuietSubnets for the Dhcp6 section: its subnet6
// entries (at the top and in shared networks).
func QuietSubnets6(raw json.RawMessage) (map[uint32]bool, error) {
	var doc struct {
		Dhcp6 struct {
			Subnet6        []quietSubnet `json:"subnet6"`
			SharedNetworks []struct {
				Subnet6 []quietSubnet `json:"subnet6"`
			} `json:"shared-networks"`
		} `json:"Dhcp6"`
	}
	if len(raw) == 0 {
		return map[uint32]bool{}, nil
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("subnets' legal-logging: %w", err)
	}
	all := doc.Dhcp6.Subnet6
	for _, n := range doc.Dhcp6.SharedNetworks {
		all = append(all, n.Subnet6...)
	}
	return quietOf(all), nil
}
