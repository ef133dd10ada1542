package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that no input makes Parse panic or hang, and that a
// successful parse yields a self-consistent Config. Seeds: the Kea examples
// in testdata/kea, the default configuration and a few edge cases.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "kea", "*.json"))
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add(Default())
	f.Add([]byte(inheritDoc))
	for _, s := range []string{
		``, `{`, `{"Dhcp4": {}}`, `{"Dhcp4": {"subnet4": [{}]}}`, `/* x`, `"#`, `{"Dhcp4": <?include "x"?>}`,
		`{"Dhcp4": {"option-data": [{"code": 121, "csv-format": false, "data": "00 01 02 03 04"}]}}`,
		`{"Dhcp4": {"subnet4": [{"id": 1, "subnet": "0.0.0.0/0", "pools": [{"pool": "0.0.0.0/0"}]}]}}`,
		`{"Dhcp4": {"option-def": [{"name": "r", "code": 200, "type": "record", "record-types": "psid, uint8"}], "option-data": [{"code": 200, "data": "1/1, 2"}]}}`,
		`{"Dhcp4": {"option-def": [{"name": "a", "code": 1, "space": "vendor-encapsulated-options-space", "type": "ipv6-prefix"},
			{"name": "b", "code": 200, "type": "uint8", "encapsulate": "s"}, {"name": "c", "code": 2, "space": "s", "type": "tuple", "array": true}],
			"option-data": [{"name": "vendor-encapsulated-options", "csv-format": false, "data": "0201ff"},
			{"name": "a", "space": "vendor-encapsulated-options-space", "data": "2001:db8::/33"}, {"name": "b", "data": "1"},
			{"name": "c", "space": "s", "data": "x, yz"}, {"name": "tftp-servers", "space": "vendor-4491", "data": "10.0.0.1"},
			{"name": "vivso-suboptions", "csv-format": false, "data": "0000118b03010102"}, {"name": "vivco-suboptions", "data": "9, 0161"}]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			if c != nil {
				t.Fatal("config returned with an error")
			}
			return
		}
		ids := map[uint32]bool{}
		for _, s := range c.Subnets {
			if s.ID == 0 || ids[s.ID] {
				t.Fatalf("bad or duplicate subnet id %d", s.ID)
			}
			ids[s.ID] = true
			if c.SubnetByID(s.ID) != s {
				t.Fatalf("SubnetByID(%d) mismatch", s.ID)
			}
			if !s.Prefix.IsValid() || !s.Prefix.Addr().Is4() {
				t.Fatalf("invalid prefix %v", s.Prefix)
			}
			for _, p := range s.Pools {
				if p.Last.Less(p.First) || !s.Prefix.Contains(p.First) || !s.Prefix.Contains(p.Last) {
					t.Fatalf("pool %v-%v in %v", p.First, p.Last, s.Prefix)
				}
			}
			if s.Lifetimes.Min > s.Lifetimes.Valid || s.Lifetimes.Valid > s.Lifetimes.Max {
				t.Fatalf("lifetimes %+v", s.Lifetimes)
			}
			for _, o := range s.Options {
				if (o.VendorSpace && len(o.Data) > maxOptionLen) || o.Code == 0 || o.Code == 255 {
					t.Fatalf("option %+v", o)
				}
			}
		}
		_ = c.Redacted()
	})
}
