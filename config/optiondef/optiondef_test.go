package optiondef

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
)

// keaDefs reads testdata/kea-2.2-dhcp4-defs.txt: the option definitions
// compiled into Debian 12's Kea 2.2.0 (libkea-dhcp++), read out of the
// library by testdata/extract-kea-defs.py (its comment says how). One line
// per definition: space code name type array record-types encapsulates.
func keaDefs(t *testing.T) map[string][]string {
	return keaDefsIn(t, "testdata/kea-2.2-dhcp4-defs.txt")
}

// keaDefsIn reads one file of definitions extracted from Kea.
func keaDefsIn(t *testing.T, file string) map[string][]string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
			f := strings.Fields(line)
			out[f[0]] = append(out[f[0]], line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// line writes d as keaDefs does.
func line(space string, d *Def) string {
	fields := make([]string, len(d.Fields))
	for i, f := range d.Fields {
		fields[i] = f.String()
	}
	or := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	arr := "false"
	if d.Array {
		arr = "true"
	}
	return strings.Join([]string{space, strconv.Itoa(int(d.Code)), d.Name, d.Type.String(), arr,
		or(strings.Join(fields, ",")), or(d.Encapsulates)}, " ")
}

// TestTableIsKea22 compares every built-in definition with Kea 2.2's own.
func TestTableIsKea22(t *testing.T) {
	kea := keaDefs(t)
	var ours []string
	for i := range Standard() {
		ours = append(ours, line("dhcp4", &Standard()[i]))
	}
	ours = append(ours, line("dhcp4", LastResort()))
	for i := range docsis {
		ours = append(ours, line("vendor-4491", &docsis[i]))
	}
	want := append(kea["dhcp4"], kea["vendor-4491"]...)
	if len(want) < 100 {
		t.Fatalf("testdata has %d definitions: not Kea's table", len(want))
	}
	for i := 0; i < max(len(ours), len(want)); i++ {
		var o, w string
		if i < len(ours) {
			o = ours[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if o != w {
			t.Errorf("definition %d:\n  xdhcp %q\n  kea   %q", i, o, w)
		}
	}
}

func TestLookup(t *testing.T) {
	for _, c := range []struct {
		name string
		code uint8
	}{
		{"subnet-mask", 1}, {"routers", 3}, {"vendor-class-identifier", 60},
		{"dhcp-agent-options", 82}, {"vivso-suboptions", 125}, {"option-6rd", 212},
		{"v6-only-preferred", 108}, {"v4-captive-portal", 114}, {"vendor-encapsulated-options", 43},
	} {
		d := ByName(c.name)
		if d == nil || d.Code != c.code {
			t.Errorf("ByName(%q) = %+v, want code %d", c.name, d, c.code)
		}
		if d != nil && ByCode(c.code) != d {
			t.Errorf("ByCode(%d) is not ByName(%q)", c.code, c.name)
		}
	}
	// Kea 2.2 has no definition of option 121 and no RFC-style aliases.
	for _, name := range []string{"no-such-option", "classless-static-route", "v-i-vendor-opts"} {
		if ByName(name) != nil {
			t.Errorf("ByName(%q) found a definition", name)
		}
	}
	if ByCode(121) != nil || ByCode(250) != nil {
		t.Error("definition for a code Kea 2.2 does not define")
	}
	if d := InSpaceByName("vendor-4491", "tftp-servers"); d == nil || d.Code != 2 || InSpace("vendor-4491", 2) != d {
		t.Errorf("vendor-4491 tftp-servers = %+v", d)
	}
	if InSpaceByName("docsis3-v4", "oro") != InSpace("vendor-4491", 1) {
		t.Error("docsis3-v4 does not name the DOCSIS definitions")
	}
	if InSpace("vendor-9", 2) != nil {
		t.Error("vendor-9 has built-in definitions")
	}
}

func TestTypeNames(t *testing.T) {
	for ty := Empty; ty <= Record; ty++ {
		if got, ok := TypeByName(ty.String()); !ok || got != ty {
			t.Errorf("TypeByName(%q) = %v %v", ty.String(), got, ok)
		}
	}
	if _, ok := TypeByName("any-address"); ok {
		t.Error("any-address is not an option-def type")
	}
}

func TestVendorSpace(t *testing.T) {
	if VendorSpace(4491) != "vendor-4491" {
		t.Error(VendorSpace(4491))
	}
	for s, want := range map[string]int64{"vendor-4491": 4491, "vendor-0": 0, "vendor-": -1, "vendor-x": -1,
		"vendor-+1": -1, "vendor-4294967296": -1, "dhcp4": -1} {
		v, ok := VendorOf(s)
		if (want < 0) == ok || (ok && int64(v) != want) {
			t.Errorf("VendorOf(%q) = %d %v", s, v, ok)
		}
	}
}
