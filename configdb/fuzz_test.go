package configdb

import (
	"testing"

	"xdhcp/config"
)

// FuzzMerge feeds what a configuration database could hold (a snapshot as
// JSON: any rows the decoders let through) into Merge and the parser: a
// bad row must come back as an error, never a panic.
func FuzzMerge(f *testing.F) {
	f.Add([]byte(`{"Globals": {"valid-lifetime": 10}, "Subnets": [{"id": 1, "subnet": "10.0.0.0/24", "pools": [{"pool": "10.0.0.5 - 10.0.0.9"}]}]}`))
	f.Add([]byte(`{"Networks": [{"name": "n"}], "Subnets": [{"id": 2, "subnet": "10.1.0.0/24", "shared-network-name": "n"}]}`))
	f.Add([]byte(`{"Options": [{"code": "x"}], "Classes": [{"name": 5}], "Defs": [{"code": 222, "type": "record"}]}`))
	doc := []byte(`{"Dhcp4": {"subnet4": [{"id": 1, "subnet": "10.9.0.0/24"}], "shared-networks": [{"name": "n", "subnet4": []}]}}`)
	f.Add([]byte(`{"V6": true, "Subnets": [{"id": 1, "subnet": "2001:db8::/64", "pd-pools": [{"prefix": "2001:db8:1::", "prefix-len": 48, "delegated-len": 64}]}]}`))
	doc6 := []byte(`{"Dhcp6": {"subnet6": [{"id": 1, "subnet": "2001:db8:9::/64"}], "shared-networks": [{"name": "n", "subnet6": []}]}}`)
	f.Fuzz(func(t *testing.T, raw []byte) {
		var s Snapshot
		if decode(raw, &s) != nil {
			return
		}
		d := doc
		if s.V6 {
			d = doc6
		}
		merged, err := s.Merge(d)
		if err != nil {
			return
		}
		_, _ = config.Parse(merged)
	})
}
