package optiondef

import (
	"strconv"
	"strings"
	"testing"
)

// line6 writes d as keaDefsIn does.
func line6(space string, d *Def6) string {
	l := line(space, d.Layout())
	// line wrote code 0: put the 16-bit code in its place.
	f := strings.SplitN(l, " ", 3)
	return f[0] + " " + strconv.Itoa(int(d.Code)) + " " + f[2]
}

// TestTable6IsKea22 compares every built-in DHCPv6 definition with Kea
// 2.2's own, space by space, in Kea's order.
func TestTable6IsKea22(t *testing.T) {
	kea := keaDefsIn(t, "testdata/kea-2.2-dhcp6-defs.txt")
	if len(kea["dhcp6"]) < 70 || len(kea) != len(tables6) {
		t.Fatalf("testdata has %d dhcp6 definitions in %d spaces, xdhcp %d spaces", len(kea["dhcp6"]), len(kea), len(tables6))
	}
	for space, want := range kea {
		var ours []string
		for i := range tables6[space] {
			ours = append(ours, line6(space, &tables6[space][i]))
		}
		if strings.Join(ours, "\n") != strings.Join(want, "\n") {
			t.Errorf("space %s:\nxdhcp:\n%s\nkea:\n%s", space, strings.Join(ours, "\n"), strings.Join(want, "\n"))
		}
	}
}

func TestLookup6(t *testing.T) {
	for name, code := range map[string]uint16{"dns-servers": 23, "domain-search": 24, "ia-pd": 25,
		"vendor-opts": 17, "pd-exclude": 67, "s46-cont-lw": 96, "relay-source-port": 135} {
		d := ByName6(name)
		if d == nil || d.Code != code || ByCode6(code) != d {
			t.Errorf("ByName6(%q) = %+v, want code %d", name, d, code)
		}
	}
	if ByName6("routers") != nil || ByCode6(10) != nil {
		t.Error("a definition dhcp6 does not have")
	}
	if d := InSpace6ByName("vendor-4491", "config-file"); d == nil || d.Code != 33 || InSpace6("docsis3-v6", 33) != d {
		t.Errorf("vendor-4491 config-file = %+v", d)
	}
	if d := InSpace6("s46-cont-mapt-options", 91); d == nil || d.Name != "s46-dmr" {
		t.Errorf("s46-dmr = %+v", d)
	}
	if InSpace6("vendor-9", 1) != nil {
		t.Error("vendor-9 has built-in definitions")
	}
}
