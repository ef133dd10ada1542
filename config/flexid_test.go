package config

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestReservationIdentifiers loads Kea's reservations example with its
// flex-id written as Kea accepts it ('quoted text'): every identifier kind
// is kept, and the lookup order is the configured one.
func TestReservationIdentifiers(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "kea", "reservations.json"))
	if err != nil {
		t.Fatal(err)
	}
	c := mustParse(t, bytes.Replace(b, []byte(`"s0mEVaLue"`), []byte(`"'s0mEVaLue'"`), 1))
	rs := c.Subnets[0].Reservations
	if len(rs) != 6 {
		t.Fatalf("reservations %d, want 6", len(rs))
	}
	if !bytes.Equal(rs[2].DUID, []byte{1, 2, 3, 4, 5}) || string(rs[5].FlexID) != "s0mEVaLue" {
		t.Errorf("duid %x flex-id %q", rs[2].DUID, rs[5].FlexID)
	}
	for _, r := range rs {
		if r.CircuitID == nil {
			continue
		}
		// The circuit-id reservation's options, vendor-4491 one included.
		if len(r.Options) != 2 || r.Options[0].Code != 125 || !bytes.Equal(r.Options[0].Data, []byte{0, 0, 0x11, 0x8b}) ||
			!r.Options[1].VendorSpace || r.Options[1].Vendor != 4491 || r.Options[1].Code != 2 {
			t.Errorf("circuit-id reservation %+v", r)
		}
	}
	if want := []string{"circuit-id", "hw-address", "duid", "client-id", "flex-id"}; !slices.Equal(c.HostReservationIdentifiers, want) {
		t.Errorf("identifiers %q, want %q", c.HostReservationIdentifiers, want)
	}
	// Kea's default order.
	d := mustParse(t, dhcp4(`"subnet4": []`))
	if want := []string{"hw-address", "duid", "circuit-id", "client-id"}; !slices.Equal(d.HostReservationIdentifiers, want) {
		t.Errorf("default identifiers %q, want %q", d.HostReservationIdentifiers, want)
	}
}

func TestFlexIDHook(t *testing.T) {
	c := mustParse(t, dhcp4(`"hooks-libraries": [{"library": "/usr/lib/kea/hooks/libdhcp_flex_id.so",
		"parameters": {"identifier-expression": "relay4[2].hex", "replace-client-id": true}}]`))
	if c.FlexID == nil || c.FlexID.Expr == nil || c.FlexID.Expr.String() != "relay4[2].hex" || !c.FlexID.ReplaceClientID {
		t.Fatalf("flex-id %+v", c.FlexID)
	}
	for _, w := range c.Warnings {
		if strings.Contains(w, "flex_id") {
			t.Errorf("warning about a supported hook: %s", w)
		}
	}
	for _, bad := range []struct{ params, want string }{
		{`{"identifier-expression": "member('ALL')"}`, `identifier-expression: "member('ALL')": col 1: expression is a boolean, not a string`},
		{`{"identifier-expression": "relay4[2].hex", "replace-client-id": "yes"}`, `replace-client-id: expected a boolean`},
		{`{"identifier-expression": "option[82].nope"}`, `identifier-expression: "option[82].nope"`},
		{`{"identifier-expresion": "pkt4.mac"}`, `identifier-expresion: unknown parameter`},
		{`{}`, `needs identifier-expression`},
	} {
		_, err := Parse(dhcp4(`"hooks-libraries": [{"library": "libdhcp_flex_id.so", "parameters": ` + bad.params + `}]`))
		if err == nil || !strings.Contains(err.Error(), "Dhcp4.hooks-libraries[0].parameters") || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: error %v, want %q", bad.params, err, bad.want)
		}
	}
}

// TestExpressionOptionNames: option[name] in a class test or the flex-id
// expression resolves the global option-def names, as in Kea; a class's
// own option-def is not consulted (Kea: "option 'bar' is not defined").
func TestExpressionOptionNames(t *testing.T) {
	c := mustParse(t, dhcp4(`"option-def": [{"name": "foo", "code": 222, "type": "string"}],
		"client-classes": [{"name": "a", "test": "option[foo].exists"}],
		"hooks-libraries": [{"library": "libdhcp_flex_id.so", "parameters": {"identifier-expression": "option[foo].hex"}}]`))
	if c.Class("a").Test == nil || c.FlexID == nil || c.FlexID.Expr == nil {
		t.Fatal("expressions naming a global option-def did not compile")
	}
	_, err := Parse(dhcp4(`"client-classes": [{"name": "a", "test": "option[bar].exists"}]`))
	if err == nil || !strings.Contains(err.Error(), "option 'bar' is not defined") {
		t.Errorf("undefined option name: %v", err)
	}
}

// TestClassTestErrors: an expression Kea 2.2 refuses is an error naming
// the JSON path, the expression and the column.
func TestClassTestErrors(t *testing.T) {
	for _, tt := range []struct{ test, want string }{
		{`lcase(option[12].text) == 'a'`, `Dhcp4.client-classes[0].test: "lcase(option[12].text) == 'a'": col 1: unknown name 'lcase'`},
		{`option[82].option[1].hex`, `Dhcp4.client-classes[0].test: "option[82].option[1].hex": col 1: expression is a string, not a boolean`},
		{`vendor[4491].data == 'x'`, `Dhcp4.client-classes[0].test: "vendor[4491].data == 'x'": col 14: expected exists or option[...] but found 'data'`},
	} {
		_, err := Parse(dhcp4(`"client-classes": [{"name": "a", "test": "` + tt.test + `"}]`))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.test, err, tt.want)
		}
	}
}
