package config

import (
	"bytes"
	"net/netip"
	"testing"
)

// The option rows of a DHCPv6 host in a database become the options a
// reservation of the file with the same option-data would have: text by
// the definition (the section's option-def included), binary as is,
// persistent as always-send, vendor-N inside vendor-opts, options of an
// encapsulated space as sub-options.
func TestHostOptions6(t *testing.T) {
	c := mustParse6(t, `{"Dhcp6": {"option-def": [{"name": "site-pref", "code": 1000, "type": "ipv6-address"}]}}`)
	dns := netip.MustParseAddr("2001:db8::53").As16()
	opts, err := c.HostOptions6([]HostOption6Row{
		{Code: 23, Space: "dhcp6", Formatted: "2001:db8::53", Persistent: true},
		{Code: 1000, Formatted: "2001:db8::1"},
		{Code: 24, Value: []byte("\x07example\x00")},
		{Code: 2, Space: "vendor-4491", Value: []byte{1, 2}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(opts) != 4 {
		t.Fatalf("%d options: %+v", len(opts), opts)
	}
	if o := opts[0]; o.Code != 23 || !bytes.Equal(o.Data, dns[:]) || !o.AlwaysSend || o.Name != "dns-servers" {
		t.Errorf("formatted, persistent: %+v", o)
	}
	if o := opts[1]; o.Code != 1000 || len(o.Data) != 16 || o.AlwaysSend {
		t.Errorf("by the section's option-def: %+v", o)
	}
	if o := opts[2]; o.Code != 24 || string(o.Data) != "\x07example\x00" {
		t.Errorf("binary: %+v", o)
	}
	if o := opts[3]; !o.VendorSpace || o.Vendor != 4491 || o.Code != 2 {
		t.Errorf("vendor: %+v", o)
	}
	// A softwire container and its rule: the rule is packed inside.
	opts, err = c.HostOptions6([]HostOption6Row{{Code: 94}, {Code: 90, Space: "s46-cont-mape-options", Formatted: "2001:db8:cafe::1"}})
	if err != nil || len(opts) != 1 || opts[0].Code != 94 || len(opts[0].Data) != 4+16 {
		t.Errorf("encapsulated: %+v %v", opts, err)
	}
	for _, bad := range [][]HostOption6Row{{{Code: 1001, Formatted: "x"}}, {{Code: 23, Formatted: "not an address"}}, {{Code: 0, Value: []byte{1}}}} {
		if _, err := c.HostOptions6(bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	if opts, err := (&Config6{}).HostOptions6([]HostOption6Row{{Code: 23, Formatted: "2001:db8::53"}}); err != nil || len(opts) != 1 {
		t.Errorf("without a configuration: %+v %v", opts, err)
	}
}

// FuzzHostOptions6 feeds a DHCPv6 host's option rows (written by anyone
// with SQL access) through the decoder: options or an error, never a
// panic.
func FuzzHostOptions6(f *testing.F) {
	c, err := Parse([]byte(`{"Dhcp6": {"option-def": [{"name": "rec", "code": 1000, "type": "record", "record-types": "uint8,ipv6-address,string"}]}}`))
	if err != nil {
		f.Fatal(err)
	}
	f.Add("dhcp6", uint16(23), "2001:db8::1, 2001:db8::2", []byte(nil), "", uint16(0), "", []byte(nil))
	f.Add("", uint16(1000), "7, 2001:db8::1, text\\, more", []byte(nil), "vendor-4491", uint16(2), "", []byte{1, 2, 3})
	f.Add("", uint16(94), "", []byte(nil), "s46-cont-mape-options", uint16(90), "2001:db8::1", []byte(nil))
	f.Fuzz(func(t *testing.T, s1 string, c1 uint16, f1 string, v1 []byte, s2 string, c2 uint16, f2 string, v2 []byte) {
		_, _ = c.Dhcp6.HostOptions6([]HostOption6Row{{Code: c1, Space: s1, Formatted: f1, Value: v1}, {Code: c2, Space: s2, Formatted: f2, Value: v2}})
	})
}
