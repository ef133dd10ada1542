package config

import (
	"bytes"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"xdhcp/config/optiondef"
)

// dhcp6Doc exercises most of the Dhcp6 section: inheritance, pools,
// pd-pools, relay selection, reservations of each kind, options in the
// dhcp6, vendor and softwire spaces, classes with DHCPv6 tests.
const dhcp6Doc = `{"Dhcp6": {
	"interfaces-config": {"interfaces": ["eth0", "eth1/2001:db8:1::1"]},
	"preferred-lifetime": 3000, "valid-lifetime": 4000, "max-valid-lifetime": 8000,
	"renew-timer": 1000, "rebind-timer": 2000,
	"cache-threshold": 0.25,
	"server-id": {"type": "EN", "enterprise-id": 4491, "identifier": "0102", "persist": false},
	"data-directory": "/srv/kea",
	"mac-sources": ["duid", "rfc6939"],
	"relay-supplied-options": ["dns-servers", "110"],
	"host-reservation-identifiers": ["duid", "flex-id"],
	"option-def": [{"name": "my-opt", "code": 1000, "type": "record", "record-types": "uint16, tuple"}],
	"option-data": [
		{"name": "dns-servers", "data": "2001:db8::53, 2001:db8::54"},
		{"name": "domain-search", "data": "example.com, example.org"},
		{"name": "my-opt", "data": "7, abc"},
		{"name": "config-file", "space": "vendor-4491", "data": "cm.cfg"}
	],
	"client-classes": [
		{"name": "relayed-solicit", "test": "pkt6.msgtype == 1 and relay6[0].option[interface-id].exists", "preferred-lifetime": 100},
		{"name": "cable-modem", "test": "vendor[4491].exists and member('relayed-solicit')"},
		{"name": "DROP", "test": "substring(option[clientid].hex, 0, 2) == 0x0003 and relay6[-1].peeraddr == ''"}
	],
	"reservations": [{"duid": "00:03:00:01:aa:bb:cc:dd:ee:ff", "prefixes": ["2001:db8:ff00::/56"], "client-classes": ["cable-modem"]}],
	"shared-networks": [{
		"name": "cpe", "interface-id": "olt-7", "rapid-commit": true, "preferred-lifetime": 1800,
		"subnet6": [{
			"id": 10, "subnet": "2001:db8:10::/64",
			"pools": [{"pool": "2001:db8:10::100 - 2001:db8:10::1ff"}],
			"pd-pools": [{"prefix": "2001:db8:8000::", "prefix-len": 40, "delegated-len": 56,
				"excluded-prefix": "2001:db8:8000:f0::", "excluded-prefix-len": 60,
				"option-data": [{"name": "s46-cont-mape"}]}],
			"reservations": [
				{"hw-address": "00:11:22:33:44:55", "ip-addresses": ["2001:db8:10::5"], "hostname": "cpe-5",
				 "option-data": [{"space": "s46-cont-mape-options", "name": "s46-br", "data": "2001:db8:cafe::1"}]},
				{"flex-id": "'port-9'", "ip-addresses": ["2001:db8:10::9"], "prefixes": ["2001:db8:ff:100::/56"]}
			]
		}]
	}],
	"subnet6": [{
		"id": 20, "subnet": "2001:db8:20::/64", "relay": {"ip-addresses": ["2001:db8:20::1"]},
		"valid-lifetime": 6000, "calculate-tee-times": false, "t1-percent": 0.4, "t2-percent": 0.6,
		"pools": [{"pool": "2001:db8:20::/80", "client-class": "cable-modem"}]
	}],
	"hooks-libraries": [{"library": "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_flex_id.so",
		"parameters": {"identifier-expression": "relay6[0].option[18].hex", "ignore-iaid": true}}]
}}`

func mustParse6(t *testing.T, doc string) *Config6 {
	t.Helper()
	c, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if c.Dhcp6 == nil {
		t.Fatal("no Dhcp6 section")
	}
	return c.Dhcp6
}

func TestDhcp6Parse(t *testing.T) {
	c, err := Parse([]byte(dhcp6Doc))
	if err != nil {
		t.Fatal(err)
	}
	if c.HasDhcp4 || len(c.Subnets) != 0 || c.LeaseDatabase.Name != defaultLeaseFile {
		t.Errorf("a Dhcp6-only document: HasDhcp4 %v, %d v4 subnets, v4 lease file %q", c.HasDhcp4, len(c.Subnets), c.LeaseDatabase.Name)
	}
	for _, w := range c.Warnings {
		t.Logf("warning: %s", w)
	}
	d := c.Dhcp6
	if got := len(d.Subnets); got != 2 {
		t.Fatalf("%d subnets", got)
	}
	cpe, relayed := d.Subnets[0], d.Subnets[1]
	if cpe.ID != 10 || cpe.SharedNetwork == nil || cpe.SharedNetwork.Name != "cpe" || string(cpe.InterfaceID) != "olt-7" {
		t.Errorf("shared subnet: %+v", cpe)
	}
	if !cpe.RapidCommit || relayed.RapidCommit {
		t.Errorf("rapid-commit: %v %v", cpe.RapidCommit, relayed.RapidCommit)
	}
	if cpe.Preferred != (Lifetimes{1800, 1800, 1800}) || cpe.Valid != (Lifetimes{4000, 4000, 8000}) {
		t.Errorf("shared subnet lifetimes: preferred %+v valid %+v", cpe.Preferred, cpe.Valid)
	}
	if relayed.Valid != (Lifetimes{6000, 6000, 8000}) || relayed.Preferred.Valid != 3000 {
		t.Errorf("subnet lifetimes: valid %+v preferred %+v", relayed.Valid, relayed.Preferred)
	}
	if tm := cpe.Timers; !tm.CalculateTeeTimes || tm.T1Percent != 0.5 || tm.T2Percent != 0.8 || *tm.RenewTimer != 1000 {
		t.Errorf("DHCPv6 timer defaults: %+v", tm)
	}
	if tm := relayed.Timers; tm.CalculateTeeTimes || tm.T1Percent != 0.4 || tm.T2Percent != 0.6 {
		t.Errorf("timers: %+v", tm)
	}
	if cpe.CacheThreshold == nil || *cpe.CacheThreshold != 0.25 {
		t.Errorf("cache-threshold not inherited")
	}
	if !slices.Equal(relayed.RelayAddrs, []netip.Addr{netip.MustParseAddr("2001:db8:20::1")}) {
		t.Errorf("relay: %v", relayed.RelayAddrs)
	}
	if p := relayed.Pools[0]; p.First != netip.MustParseAddr("2001:db8:20::") || p.Last != netip.MustParseAddr("2001:db8:20::ffff:ffff:ffff") || p.ClientClass != "cable-modem" {
		t.Errorf("prefix pool: %+v", p)
	}
	pd := cpe.PDPools[0]
	if pd.Prefix != netip.MustParsePrefix("2001:db8:8000::/40") || pd.DelegatedLen != 56 || pd.Excluded != netip.MustParsePrefix("2001:db8:8000:f0::/60") {
		t.Errorf("pd-pool: %+v", pd)
	}
	if len(pd.Options) != 1 || pd.Options[0].Code != 94 || len(pd.Options[0].Data) != 0 {
		t.Errorf("pd-pool option: %+v", pd.Options)
	}

	r := cpe.Reservations
	if len(r) != 2 || !bytes.Equal(r[0].HWAddr, []byte{0, 0x11, 0x22, 0x33, 0x44, 0x55}) || r[0].Hostname != "cpe-5" || r[0].SubnetID != 10 {
		t.Fatalf("reservations: %+v", r)
	}
	// The reservation's softwire option is kept for the subnet's container.
	if o := r[0].Options; len(o) != 1 || o[0].Space != "s46-cont-mape-options" || o[0].Code != 90 || len(o[0].Data) != 16 {
		t.Errorf("detached option: %+v", o)
	}
	if string(r[1].FlexID) != "port-9" || r[1].Prefixes[0] != netip.MustParsePrefix("2001:db8:ff:100::/56") {
		t.Errorf("flex-id reservation: %+v", r[1])
	}
	if g := d.Reservations[0]; g.SubnetID != 0 || len(g.DUID) != 10 || g.ClientClasses[0] != "cable-modem" {
		t.Errorf("global reservation: %+v", g)
	}

	want := map[uint16][]byte{
		23:   append(netip.MustParseAddr("2001:db8::53").AsSlice(), netip.MustParseAddr("2001:db8::54").AsSlice()...),
		24:   []byte("\x07example\x03com\x00\x07example\x03org\x00"),
		1000: {0, 7, 0, 3, 'a', 'b', 'c'}, // the tuple has a two-byte length in DHCPv6
	}
	for _, o := range d.Options {
		if o.VendorSpace {
			if o.Vendor != 4491 || o.Code != 33 || string(o.Data) != "cm.cfg" {
				t.Errorf("vendor option: %+v", o)
			}
			continue
		}
		if w, ok := want[o.Code]; !ok || !bytes.Equal(o.Data, w) {
			t.Errorf("option %d = %x, want %x", o.Code, o.Data, w)
		}
	}

	s := d.ServerID
	if s.Type != "EN" || s.EnterpriseID != 4491 || !bytes.Equal(s.Identifier, []byte{1, 2}) || s.Persist || s.File != "/srv/kea/kea-dhcp6-serverid" {
		t.Errorf("server-id: %+v", s)
	}
	if !slices.Equal(d.MACSources, []string{"duid", "client-link-addr-option"}) ||
		!slices.Equal(d.RelaySuppliedOptions, []uint16{65, 23, 110}) ||
		!slices.Equal(d.HostReservationIdentifiers, []string{"duid", "flex-id"}) {
		t.Errorf("mac-sources %v, relay-supplied-options %v, identifiers %v", d.MACSources, d.RelaySuppliedOptions, d.HostReservationIdentifiers)
	}
	if d.Interfaces[1].Name != "eth1" || d.Interfaces[1].Addr != netip.MustParseAddr("2001:db8:1::1") {
		t.Errorf("interfaces: %+v", d.Interfaces)
	}
	if len(d.Classes) != 3 || d.Classes[0].PreferredLifetime.Valid != 100 || !d.Classes[0].Test.IsV6() {
		t.Errorf("classes: %+v", d.Classes)
	}
	if d.FlexID == nil || !d.FlexID.IgnoreIAID || !d.FlexID.Expr.IsV6() {
		t.Errorf("flex-id hook: %+v", d.FlexID)
	}
	if d.LeaseDatabase.Name != defaultLeaseFile6 {
		t.Errorf("lease file %q", d.LeaseDatabase.Name)
	}
}

// Kea 2.2's defaults, as kea-dhcp6 applies them to a minimal section.
func TestDhcp6Defaults(t *testing.T) {
	d := mustParse6(t, `{"Dhcp6": {"subnet6": [{"id": 1, "subnet": "2001:db8::/64"}]}}`)
	s := d.Subnets[0]
	if s.Valid.Valid != 7200 || s.Preferred.Valid != 3600 || s.RapidCommit || !s.Timers.CalculateTeeTimes ||
		s.Timers.T2Percent != 0.8 || !s.ReservationsInSubnet || s.CacheThreshold != nil {
		t.Errorf("subnet defaults: %+v", s)
	}
	if id := d.ServerID; id.Type != "LLT" || !id.Persist || id.EnterpriseID != 2495 || id.File != "/var/lib/kea/kea-dhcp6-serverid" {
		t.Errorf("server-id defaults: %+v", id)
	}
	if !slices.Equal(d.HostReservationIdentifiers, []string{"hw-address", "duid"}) || !slices.Equal(d.MACSources, []string{"any"}) ||
		!slices.Equal(d.RelaySuppliedOptions, []uint16{65}) || !d.IPReservationsUnique || d.DeclineProbationPeriod.Seconds() != 86400 {
		t.Errorf("global defaults: %+v", d)
	}
}

func TestDhcp6BothSections(t *testing.T) {
	c, err := Parse([]byte(`{"Dhcp4": {"subnet4": [{"id": 1, "subnet": "192.0.2.0/24"}]},
		"Dhcp6": {"subnet6": [{"id": 1, "subnet": "2001:db8::/64"}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if !c.HasDhcp4 || len(c.Subnets) != 1 || c.Dhcp6 == nil || len(c.Dhcp6.Subnets) != 1 {
		t.Errorf("both sections: %+v", c)
	}
}

// Each broken Dhcp6 document is refused naming the JSON path, as
// kea-dhcp6 refuses it.
func TestDhcp6Errors(t *testing.T) {
	sub := func(extra string) string {
		return `{"Dhcp6": {"subnet6": [{"id": 1, "subnet": "2001:db8:1::/64"` + extra + `}]}}`
	}
	for _, c := range []struct{ doc, want string }{
		{sub(`, "prefered-lifetime": 1`), `Dhcp6.subnet6[0].prefered-lifetime: unknown key: Kea 2.2 does not accept`},
		{sub(`, "next-server": "192.0.2.1"`), `Dhcp6.subnet6[0].next-server: unknown key`},
		{`{"Dhcp6": {"rapid-commit": true}}`, `Dhcp6.rapid-commit: unknown key`},
		{sub(`, "rapid-commit": "yes"`), `Dhcp6.subnet6[0].rapid-commit: expected true or false`},
		{`{"Dhcp6": {"subnet6": [{"id": 1, "subnet": "192.0.2.0/24"}]}}`, `Dhcp6.subnet6[0].subnet: "192.0.2.0/24" is not an IPv6 prefix`},
		{sub(`, "pools": [{"pool": "2001:db8:2::1 - 2001:db8:2::9"}]`), `Dhcp6.subnet6[0].pools[0].pool: "2001:db8:2::1 - 2001:db8:2::9" is not inside subnet`},
		{sub(`, "pd-pools": [{"prefix": "3000::", "prefix-len": 48, "delegated-len": 40}]`), `Dhcp6.subnet6[0].pd-pools[0].delegated-len: 40 is shorter than prefix-len 48`},
		{sub(`, "pd-pools": [{"prefix": "3000::", "prefix-len": 0, "delegated-len": 56}]`), `pd-pools[0].prefix-len: 0 is not a valid prefix length`},
		{sub(`, "pd-pools": [{"prefix": "zz", "prefix-len": 48, "delegated-len": 56}]`), `pd-pools[0].prefix: "zz": not an IPv6 address`},
		{sub(`, "pd-pools": [{"prefix": "3000::", "prefix-len": 48, "delegated-len": 56}]`) + `x`, `Invalid character`},
		{sub(`, "pd-pools": [{"prefix": "3000::", "prefix-len": 48, "delegated-len": 56, "excluded-prefix": "3000:0:0:100::", "excluded-prefix-len": 64}]`), `pd-pools[0].excluded-prefix: 3000:0:0:100::/64 must start with the first 56 bits`},
		{sub(`, "pd-pools": [{"prefix": "3000::", "prefix-len": 48, "delegated-len": 56, "excluded-prefix-len": 60}]`), `excluded-prefix and excluded-prefix-len must be set together`},
		{sub(`, "pools": [{"pool": "2001:db8:1::/80"}], "pd-pools": [{"prefix": "2001:db8:1::", "prefix-len": 64, "delegated-len": 64}]`), `pd-pools[0].prefix: 2001:db8:1::-2001:db8:1:0:ffff:ffff:ffff:ffff overlaps Dhcp6.subnet6[0].pools[0].pool`},
		{sub(`, "reservations": [{"duid": "01:02", "ip-addresses": ["2001:db8:9::1"]}]`), `reservations[0].ip-addresses[0]: 2001:db8:9::1 is not inside subnet`},
		{sub(`, "reservations": [{"duid": "01", "prefixes": ["3000::/48"]}, {"duid": "02", "prefixes": ["3000::/48"]}]`), `reservations[1].prefixes: 3000::/48 is also reserved`},
		{sub(`, "reservations": [{"client-id": "01:02"}]`), `reservations[0].client-id: unknown key`},
		{sub(`, "reservations": [{"duid": "01", "hw-address": "00:01"}]`), `exactly one of duid, hw-address, flex-id`},
		{sub(`, "interface": "eth0", "interface-id": "x"`), `Dhcp6.subnet6[0]: interface and interface-id cannot both be set`},
		{`{"Dhcp6": {"server-id": {"type": "LL", "identifier": "zz"}}}`, `Dhcp6.server-id.identifier: "zz"`},
		{`{"Dhcp6": {"server-id": {"type": "XX"}}}`, `Dhcp6.server-id.type`},
		{`{"Dhcp6": {"mac-sources": ["foo"]}}`, `Dhcp6.mac-sources[0]: "foo" is not a MAC address source`},
		{`{"Dhcp6": {"relay-supplied-options": ["foo"]}}`, `Dhcp6.relay-supplied-options[0]: "foo" is not an option code`},
		{`{"Dhcp6": {"host-reservation-identifiers": ["client-id"]}}`, `"client-id" is not a DHCPv6 host reservation identifier`},
		{`{"Dhcp6": {"option-data": [{"name": "routers", "data": "2001:db8::1"}]}}`, `Dhcp6.option-data[0].name: "routers" is not a known option of space dhcp6`},
		{`{"Dhcp6": {"option-data": [{"name": "dns-servers", "data": "192.0.2.1"}]}}`, `Dhcp6.option-data[0].data: "192.0.2.1"`},
		{`{"Dhcp6": {"option-def": [{"name": "x", "code": 23, "type": "uint8"}]}}`, `cannot redefine standard option "dns-servers"`},
		{`{"Dhcp6": {"client-classes": [{"name": "a", "test": "pkt4.mac == 0x01"}]}}`, `Dhcp6.client-classes[0].test: "pkt4.mac == 0x01": col 1: pkt4 can only be used in DHCPv4`},
		{`{"Dhcp6": {"min-preferred-lifetime": 5000, "preferred-lifetime": 4000}}`, `Dhcp6.min-preferred-lifetime: 5000 is greater than preferred-lifetime 4000`},
		{`{"Dhcp6": {}}`, `Dhcp6: empty map`},
		{`{"Dhcp6": {"client-classes": [{"name": "a", "option-def": []}]}}`, `Dhcp6.client-classes[0].option-def: unknown key`},
		{`{"Dhcp6": {"subnet6": [{"subnet": "2001:db8:1::/64"}, {"id": 1, "subnet": "2001:db8:2::/64"}, {"id": 1, "subnet": "2001:db8:3::/64"}]}}`, `Dhcp6.subnet6[2].id: 1 is already the id of Dhcp6.subnet6[1]`},
	} {
		_, err := Parse([]byte(c.doc))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s:\n got %v\nwant %q", c.doc, err, c.want)
		}
	}
}

// A Kea key xdhcp leaves out is a warning naming its path, listed in
// notImplemented6.
func TestDhcp6NotImplementedWarns(t *testing.T) {
	c, err := Parse([]byte(`{"Dhcp6": {"dhcp4o6-port": 6767, "subnet6": [{"id": 1, "subnet": "2001:db8::/64", "ddns-send-updates": true}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"Dhcp6.dhcp4o6-port: Kea 2.2 key not implemented", "Dhcp6.subnet6[0].ddns-send-updates: Kea 2.2 key not implemented"} {
		if !slices.ContainsFunc(c.Warnings, func(s string) bool { return strings.HasPrefix(s, w) }) {
			t.Errorf("no warning %q in %q", w, c.Warnings)
		}
	}
}

// Options of DHCPv6 vendor spaces, DOCSIS's definitions and 16-bit codes.
func TestDhcp6Options(t *testing.T) {
	d := mustParse6(t, `{"Dhcp6": {"option-data": [
		{"name": "vendor-opts", "data": "4491"},
		{"space": "vendor-4491", "name": "tftp-servers", "data": "2001:db8::69"},
		{"space": "vendor-4491", "code": 1026, "data": "00:11:22:33:44:55", "csv-format": false},
		{"code": 65000, "data": "0a0b", "csv-format": false, "always-send": true},
		{"name": "bootfile-param", "data": "root=/dev/sda, quiet"},
		{"name": "preference", "data": "255"},
		{"name": "clientid", "data": "01"}
	]}}`)
	byCode := map[uint16]Option6{}
	for _, o := range d.Options {
		byCode[o.Code] = o
	}
	if o := byCode[17]; !bytes.Equal(o.Data, []byte{0, 0, 0x11, 0x8b}) {
		t.Errorf("vendor-opts = %x", o.Data)
	}
	if o := byCode[32]; !o.VendorSpace || o.Vendor != optiondef.DOCSISVendor || len(o.Data) != 16 {
		t.Errorf("DOCSIS tftp-servers: %+v", o)
	}
	if o := byCode[1026]; !o.VendorSpace || !bytes.Equal(o.Data, []byte{0, 0x11, 0x22, 0x33, 0x44, 0x55}) {
		t.Errorf("cmts-cm-mac: %+v", o)
	}
	if o := byCode[65000]; !o.AlwaysSend || !bytes.Equal(o.Data, []byte{0x0a, 0x0b}) {
		t.Errorf("option 65000: %+v", o)
	}
	if o := byCode[60]; !bytes.Equal(o.Data, []byte("\x00\x0droot=/dev/sda\x00\x05quiet")) {
		t.Errorf("bootfile-param (tuples with two-byte lengths) = %q", o.Data)
	}
	if _, ok := byCode[1]; ok {
		t.Error("clientid from option-data: the server sets it")
	}
}
