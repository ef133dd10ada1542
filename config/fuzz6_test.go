package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse6 checks that no input makes the Dhcp6 parser panic or hang,
// and that a Dhcp6 section it accepts is self-consistent. Seeds: Kea's
// DHCPv6 examples (when kea-doc is installed), dhcp6Doc and edge cases.
func FuzzParse6(f *testing.F) {
	files, _ := filepath.Glob("/usr/share/doc/kea/examples/kea6/*.json")
	for _, name := range files {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(dhcp6Doc))
	for _, s := range []string{
		`{"Dhcp6": {}}`, `{"Dhcp6": {"subnet6": [{}]}}`, `{"Dhcp6": []}`,
		`{"Dhcp6": {"subnet6": [{"id": 1, "subnet": "::/0", "pools": [{"pool": "::/0"}], "pd-pools": [{"prefix": "::", "prefix-len": 1, "delegated-len": 128}]}]}}`,
		`{"Dhcp6": {"subnet6": [{"id": 1, "subnet": "2001:db8::/64", "pd-pools": [{"prefix": "3000::", "prefix-len": 48, "delegated-len": 64, "excluded-prefix": "3000::", "excluded-prefix-len": 128}]}]}}`,
		`{"Dhcp6": {"option-def": [{"name": "a", "code": 65535, "type": "record", "record-types": "ipv6-prefix, tuple", "encapsulate": "s"},
			{"name": "b", "code": 1, "space": "s", "type": "fqdn", "array": true}],
			"option-data": [{"name": "a", "data": "2001:db8::/33, x"}, {"name": "b", "space": "s", "data": "a.b, c"},
			{"name": "s46-cont-lw", "csv-format": false, "data": "005a0010200100000000000000000000000000ff"}]}}`,
		`{"Dhcp6": {"client-classes": [{"name": "a", "test": "relay6[-32].option[65535].exists or vendor-class[0].data[255] == ''"}]}}`,
		`{"Dhcp6": {"reservations": [{"flex-id": "'x'", "prefixes": ["::/128"], "ip-addresses": ["::1"]}], "server-id": {"type": "LL", "identifier": "00"}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil || c.Dhcp6 == nil {
			return
		}
		d := c.Dhcp6
		ids := map[uint32]bool{}
		for _, s := range d.Subnets {
			if s.ID == 0 || ids[s.ID] {
				t.Fatalf("bad or duplicate subnet id %d", s.ID)
			}
			ids[s.ID] = true
			if !s.Prefix.IsValid() || !s.Prefix.Addr().Is6() {
				t.Fatalf("invalid prefix %v", s.Prefix)
			}
			for _, p := range s.Pools {
				if p.Last.Less(p.First) || !s.Prefix.Contains(p.First) || !s.Prefix.Contains(p.Last) {
					t.Fatalf("pool %v-%v in %v", p.First, p.Last, s.Prefix)
				}
			}
			for _, p := range s.PDPools {
				if p.Prefix.Masked() != p.Prefix || p.DelegatedLen < p.Prefix.Bits() || p.DelegatedLen > 128 ||
					(p.Excluded.IsValid() && p.Excluded.Bits() <= p.DelegatedLen) {
					t.Fatalf("pd-pool %+v", p)
				}
			}
			for _, l := range []Lifetimes{s.Valid, s.Preferred} {
				if l.Min > l.Valid || l.Valid > l.Max {
					t.Fatalf("lifetimes %+v", l)
				}
			}
			for _, r := range s.Reservations {
				for _, a := range r.IPAddresses {
					if !s.Prefix.Contains(a) {
						t.Fatalf("reserved %v outside %v", a, s.Prefix)
					}
				}
			}
			for _, o := range s.Options {
				if len(o.Data) > maxOption6Len || (o.Code == 0 && o.Space == "") {
					t.Fatalf("option %+v", o)
				}
			}
		}
		if t := d.ServerID.Type; t != "LLT" && t != "EN" && t != "LL" {
			panic("server-id type " + t)
		}
		_ = c.Redacted()
	})
}
