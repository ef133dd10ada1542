package optiondef

import "testing"

func TestStandardUnique(t *testing.T) {
	codes := map[uint8]bool{}
	names := map[string]bool{}
	for _, d := range Standard() {
		if codes[d.Code] || names[d.Name] {
			t.Errorf("duplicate definition %d %q", d.Code, d.Name)
		}
		codes[d.Code], names[d.Name] = true, true
		if d.Type == Record && len(d.Fields) == 0 {
			t.Errorf("record %q has no fields", d.Name)
		}
	}
	for alias, code := range aliases {
		if names[alias] || !codes[code] {
			t.Errorf("alias %q -> %d", alias, code)
		}
	}
}

func TestLookup(t *testing.T) {
	for _, c := range []struct {
		name string
		code uint8
	}{
		{"subnet-mask", 1}, {"routers", 3}, {"vendor-class-identifier", 60},
		{"dhcp-agent-options", 82}, {"vivso-suboptions", 125}, {"v-i-vendor-opts", 125},
		{"option-6rd", 212},
	} {
		d := ByName(c.name)
		if d == nil || d.Code != c.code {
			t.Errorf("ByName(%q) = %+v, want code %d", c.name, d, c.code)
		}
		if d != nil && ByCode(c.code) != d {
			t.Errorf("ByCode(%d) is not ByName(%q)", c.code, c.name)
		}
	}
	if ByName("no-such-option") != nil || ByCode(250) != nil {
		t.Error("definition for an unknown option")
	}
	if ByName("option-6rd").Supported() || !ByName("routers").Supported() {
		t.Error("Supported: 6rd has an IPv6 field, routers does not")
	}
}

func TestTypeByName(t *testing.T) {
	if ty, ok := TypeByName("ipv4-address"); !ok || ty != IPv4 {
		t.Errorf("ipv4-address = %d %v", ty, ok)
	}
	if _, ok := TypeByName("ipv6-address"); ok {
		t.Error("ipv6-address is not an option-def type xdhcp handles")
	}
}
