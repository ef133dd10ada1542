package config

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// One document exercising every inherited parameter: global values, a shared
// network overriding some, and subnets overriding some more.
const inheritDoc = `{"Dhcp4": {
	"valid-lifetime": 1000, "min-valid-lifetime": 500, "max-valid-lifetime": 2000,
	"renew-timer": 100, "rebind-timer": 200,
	"calculate-tee-times": true, "t1-percent": 0.4, "t2-percent": 0.7,
	"match-client-id": false, "authoritative": true,
	"cache-threshold": 0.25, "cache-max-age": 600,
	"reservations-global": true, "reservations-in-subnet": false, "reservations-out-of-pool": true,
	"next-server": "192.0.2.1", "server-hostname": "global-sname", "boot-file-name": "global.efi",
	"store-extended-info": true,
	"shared-networks": [{
		"name": "net",
		"interface": "eth1",
		"relay": {"ip-addresses": ["10.9.9.1", "10.9.9.2"]},
		"valid-lifetime": 1500,
		"renew-timer": 150,
		"match-client-id": true,
		"cache-threshold": 0.5,
		"reservations-in-subnet": true,
		"boot-file-name": "net.efi",
		"subnet4": [
			{"id": 1, "subnet": "10.1.0.0/24"},
			{"id": 2, "subnet": "10.2.0.0/24",
			 "valid-lifetime": 4000, "max-valid-lifetime": 5000,
			 "rebind-timer": 3500, "authoritative": false, "cache-max-age": 60,
			 "reservations-out-of-pool": false, "next-server": "192.0.2.2",
			 "server-hostname": "sub-sname", "relay": {"ip-address": "10.2.0.254"},
			 "interface": "eth2", "t1-percent": 0.3, "store-extended-info": false}
		]
	}],
	"subnet4": [{"id": 3, "subnet": "10.3.0.0/24"}]
}}`

func TestInheritance(t *testing.T) {
	c := mustParse(t, []byte(inheritDoc))
	u := func(v uint32) *uint32 { return &v }
	f := func(v float64) *float64 { return &v }
	relayNet := []netip.Addr{netip.MustParseAddr("10.9.9.1"), netip.MustParseAddr("10.9.9.2")}
	want := map[uint32]Subnet{
		// Subnet 1 takes everything from the shared network, else global.
		// The shared network's valid-lifetime keeps the global bounds:
		// Kea inherits each of the three keys on its own.
		1: {Lifetimes: Lifetimes{1500, 500, 2000},
			Timers:        Timers{RenewTimer: u(150), RebindTimer: u(200), CalculateTeeTimes: true, T1Percent: 0.4, T2Percent: 0.7},
			MatchClientID: true, Authoritative: true, CacheThreshold: f(0.5), CacheMaxAge: u(600),
			ReservationsGlobal: true, ReservationsInSubnet: true, ReservationsOutOfPool: true,
			NextServer: netip.MustParseAddr("192.0.2.1"), ServerHostname: "global-sname", BootFileName: "net.efi",
			StoreExtended: true, RelayAddrs: relayNet, Interface: "eth1"},
		2: {Lifetimes: Lifetimes{4000, 500, 5000},
			Timers:        Timers{RenewTimer: u(150), RebindTimer: u(3500), CalculateTeeTimes: true, T1Percent: 0.3, T2Percent: 0.7},
			MatchClientID: true, Authoritative: false, CacheThreshold: f(0.5), CacheMaxAge: u(60),
			ReservationsGlobal: true, ReservationsInSubnet: true, ReservationsOutOfPool: false,
			NextServer: netip.MustParseAddr("192.0.2.2"), ServerHostname: "sub-sname", BootFileName: "net.efi",
			StoreExtended: false, RelayAddrs: []netip.Addr{netip.MustParseAddr("10.2.0.254")}, Interface: "eth2"},
		// Subnet 3 is outside the shared network: global values only, and
		// no relay or interface (those do not exist globally).
		3: {Lifetimes: Lifetimes{1000, 500, 2000},
			Timers:        Timers{RenewTimer: u(100), RebindTimer: u(200), CalculateTeeTimes: true, T1Percent: 0.4, T2Percent: 0.7},
			MatchClientID: false, Authoritative: true, CacheThreshold: f(0.25), CacheMaxAge: u(600),
			ReservationsGlobal: true, ReservationsInSubnet: false, ReservationsOutOfPool: true,
			NextServer: netip.MustParseAddr("192.0.2.1"), ServerHostname: "global-sname", BootFileName: "global.efi",
			StoreExtended: true},
	}
	for id, w := range want {
		s := c.SubnetByID(id)
		if s == nil {
			t.Fatalf("subnet %d missing", id)
		}
		if s.Lifetimes != w.Lifetimes {
			t.Errorf("subnet %d lifetimes %+v, want %+v", id, s.Lifetimes, w.Lifetimes)
		}
		if !eqU32(s.Timers.RenewTimer, w.Timers.RenewTimer) || !eqU32(s.Timers.RebindTimer, w.Timers.RebindTimer) ||
			s.Timers.CalculateTeeTimes != w.Timers.CalculateTeeTimes || s.Timers.T1Percent != w.Timers.T1Percent || s.Timers.T2Percent != w.Timers.T2Percent {
			t.Errorf("subnet %d timers %+v, want %+v", id, s.Timers, w.Timers)
		}
		if s.MatchClientID != w.MatchClientID || s.Authoritative != w.Authoritative {
			t.Errorf("subnet %d match-client-id %v authoritative %v", id, s.MatchClientID, s.Authoritative)
		}
		if *s.CacheThreshold != *w.CacheThreshold || !eqU32(s.CacheMaxAge, w.CacheMaxAge) {
			t.Errorf("subnet %d cache %v %v", id, *s.CacheThreshold, s.CacheMaxAge)
		}
		if s.ReservationsGlobal != w.ReservationsGlobal || s.ReservationsInSubnet != w.ReservationsInSubnet || s.ReservationsOutOfPool != w.ReservationsOutOfPool {
			t.Errorf("subnet %d reservation flags %v %v %v", id, s.ReservationsGlobal, s.ReservationsInSubnet, s.ReservationsOutOfPool)
		}
		if s.NextServer != w.NextServer || s.ServerHostname != w.ServerHostname || s.BootFileName != w.BootFileName || s.StoreExtended != w.StoreExtended {
			t.Errorf("subnet %d boot fields %v %q %q ext %v", id, s.NextServer, s.ServerHostname, s.BootFileName, s.StoreExtended)
		}
		if !slices.Equal(s.RelayAddrs, w.RelayAddrs) || s.Interface != w.Interface {
			t.Errorf("subnet %d relay %v interface %q", id, s.RelayAddrs, s.Interface)
		}
	}
	sn := c.SharedNetworks[0]
	if sn.Name != "net" || sn.Interface != "eth1" || !slices.Equal(sn.RelayAddrs, relayNet) || len(sn.Subnets) != 2 || c.SubnetByID(2).SharedNetwork != sn {
		t.Errorf("shared network %+v", sn)
	}
	// Declaration order: shared-networks came first in the document.
	var ids []uint32
	for _, s := range c.Subnets {
		ids = append(ids, s.ID)
	}
	if !slices.Equal(ids, []uint32{1, 2, 3}) {
		t.Errorf("subnet order %v", ids)
	}
}

func eqU32(a, b *uint32) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// The deprecated reservation-mode maps onto the three flags.
func TestReservationMode(t *testing.T) {
	tests := []struct {
		mode                     string
		global, inSubnet, outOfP bool
	}{
		{"disabled", false, false, false},
		{"global", true, false, false},
		{"out-of-pool", false, true, true},
		{"all", false, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			c := mustParse(t, dhcp4(`"subnet4": [{"id": 1, "subnet": "10.0.0.0/8", "reservation-mode": "`+tt.mode+`"}]`))
			s := c.Subnets[0]
			if s.ReservationsGlobal != tt.global || s.ReservationsInSubnet != tt.inSubnet || s.ReservationsOutOfPool != tt.outOfP {
				t.Errorf("flags %v %v %v", s.ReservationsGlobal, s.ReservationsInSubnet, s.ReservationsOutOfPool)
			}
			if !hasWarning(c, "Dhcp4.subnet4[0].reservation-mode: deprecated") {
				t.Errorf("warnings %q", c.Warnings)
			}
		})
	}
}

func TestSubnetIDAutoAssign(t *testing.T) {
	c := mustParse(t, dhcp4(`"subnet4": [
		{"subnet": "10.0.0.0/24", "reservations": [{"hw-address": "01:02:03:04:05:06", "ip-address": "10.0.0.9"}]},
		{"id": 40, "subnet": "10.0.1.0/24"},
		{"subnet": "10.0.2.0/24"},
		{"id": 7, "subnet": "10.0.3.0/24"}]`))
	var ids []uint32
	for _, s := range c.Subnets {
		ids = append(ids, s.ID)
	}
	// Missing ids follow the highest explicit one, in declaration order.
	if !slices.Equal(ids, []uint32{41, 40, 42, 7}) {
		t.Errorf("ids %v", ids)
	}
	if c.Subnets[0].Reservations[0].SubnetID != 41 {
		t.Errorf("reservation subnet id %d", c.Subnets[0].Reservations[0].SubnetID)
	}
	if !hasWarning(c, "Dhcp4.subnet4[2]: no id given, assigned 42") {
		t.Errorf("warnings %q", c.Warnings)
	}
}

func TestPools(t *testing.T) {
	c := mustParse(t, dhcp4(`"subnet4": [{"id": 1, "subnet": "10.0.0.0/16", "pools": [
		{"pool": "10.0.1.0/24", "client-class": "a", "require-client-classes": ["b"],
		 "option-data": [{"name": "routers", "data": "10.0.1.1"}]},
		{"pool": " 10.0.2.10 -10.0.2.20 "},
		{"pool": "10.0.3.5-10.0.3.5"}]}],
		"client-classes": [{"name": "a"}, {"name": "b", "only-if-required": true}]`))
	p := c.Subnets[0].Pools
	want := [][2]string{{"10.0.1.0", "10.0.1.255"}, {"10.0.2.10", "10.0.2.20"}, {"10.0.3.5", "10.0.3.5"}}
	for i, w := range want {
		if p[i].First != netip.MustParseAddr(w[0]) || p[i].Last != netip.MustParseAddr(w[1]) {
			t.Errorf("pool %d = %v-%v, want %v", i, p[i].First, p[i].Last, w)
		}
	}
	if p[0].ClientClass != "a" || !slices.Equal(p[0].RequireClientClasses, []string{"b"}) || len(p[0].Options) != 1 {
		t.Errorf("pool 0 %+v", p[0])
	}
	if len(c.Warnings) != 0 {
		t.Errorf("warnings %q", c.Warnings)
	}
	// Pools touching end to start do not overlap.
	mustParse(t, dhcp4(`"subnet4": [{"id": 1, "subnet": "10.0.0.0/24", "pools": [{"pool": "10.0.0.10-10.0.0.19"}, {"pool": "10.0.0.20-10.0.0.29"}]}]`))
}

func TestReservations(t *testing.T) {
	c := mustParse(t, dhcp4(`
		"ip-reservations-unique": false,
		"reservations": [{"hw-address": "aa:bb:cc:dd:ee:ff", "ip-address": "192.168.7.7", "hostname": "g"}],
		"subnet4": [{"id": 9, "subnet": "10.0.0.0/24", "reservations": [
			{"hw-address": "0x0a0b0c0d0e0f", "ip-address": "10.0.0.5"},
			{"client-id": "'client-one'", "ip-address": "10.0.0.5"},
			{"circuit-id": "01 02 03", "client-classes": ["DROP"]},
			{"client-id": "a:b:c"}]}]`))
	g := c.Reservations[0]
	if g.SubnetID != 0 || g.IP != netip.MustParseAddr("192.168.7.7") || g.Hostname != "g" {
		t.Errorf("global %+v", g)
	}
	rs := c.Subnets[0].Reservations
	if len(rs) != 4 {
		t.Fatalf("reservations %d", len(rs))
	}
	if string(rs[0].HWAddr) != "\x0a\x0b\x0c\x0d\x0e\x0f" || rs[0].SubnetID != 9 {
		t.Errorf("r0 %+v", rs[0])
	}
	// Quoted text identifiers are taken as bytes, as Kea does.
	if string(rs[1].ClientID) != "client-one" {
		t.Errorf("r1 %+v", rs[1])
	}
	if string(rs[2].CircuitID) != "\x01\x02\x03" || !slices.Equal(rs[2].ClientClasses, []string{"DROP"}) || rs[2].IP.IsValid() {
		t.Errorf("r2 %+v", rs[2])
	}
	// Single-digit groups are zero-padded.
	if string(rs[3].ClientID) != "\x0a\x0b\x0c" {
		t.Errorf("r3 %x", rs[3].ClientID)
	}
}

func TestClasses(t *testing.T) {
	c := mustParse(t, dhcp4(`"client-classes": [
		{"name": "DROP", "test": "option[60].text == 'evil'"},
		{"name": "voip", "test": "member('HA_server1') and not member('DROP')", "valid-lifetime": 600, "max-valid-lifetime": 900,
		 "next-server": "10.0.0.1", "server-hostname": "tftp", "boot-file-name": "phone.cfg",
		 "option-data": [{"name": "tftp-server-name", "data": "tftp.example"}]},
		{"name": "late", "only-if-required": true, "test": "member('voip')"},
		{"name": "plain"}]`))
	if len(c.Classes) != 4 || c.Classes[0].Name != "DROP" || c.Classes[0].Test == nil {
		t.Fatalf("classes %+v", c.Classes)
	}
	v := c.Class("voip")
	if v.ValidLifetime == nil || *v.ValidLifetime != (Lifetimes{600, 600, 900}) || v.NextServer != netip.MustParseAddr("10.0.0.1") ||
		v.ServerHostname != "tftp" || v.BootFileName != "phone.cfg" || len(v.Options) != 1 || string(v.Options[0].Data) != "tftp.example" {
		t.Errorf("voip %+v", v)
	}
	if refs := v.Test.Refs(); !slices.Equal(refs, []string{"HA_server1", "DROP"}) {
		t.Errorf("refs %q", refs)
	}
	if !c.Class("late").OnlyIfRequired || c.Class("plain").Test != nil || c.Class("plain").ValidLifetime != nil {
		t.Errorf("late/plain %+v %+v", c.Class("late"), c.Class("plain"))
	}
	if c.Class("nope") != nil {
		t.Error("Class found an undefined class")
	}
}

func TestClassWarnings(t *testing.T) {
	c := mustParse(t, dhcp4(`"client-classes": [{"name": "DROP"}],
		"subnet4": [{"id": 1, "subnet": "10.0.0.0/24", "client-class": "phnoes",
			"pools": [{"pool": "10.0.0.10-10.0.0.20", "client-class": "KNOWN"}]}]`))
	for _, w := range []string{
		`Dhcp4.subnet4[0].client-class: class "phnoes" is not defined in client-classes`,
		"Dhcp4.client-classes: class DROP has no test and no reservation assigns it",
	} {
		if !hasWarning(c, w) {
			t.Errorf("missing %q in %q", w, c.Warnings)
		}
	}
	if hasWarning(c, `"KNOWN"`) {
		t.Errorf("built-in class warned: %q", c.Warnings)
	}
}

// TestLaterClassKeys: Kea 2.2 knows neither only-in-additional-list nor
// evaluate-additional-classes (later names of only-if-required and
// require-client-classes), so they must not take effect; the key checks
// report them.
func TestLaterClassKeys(t *testing.T) {
	c, err := Parse(dhcp4(`"client-classes": [{"name": "a", "only-in-additional-list": true, "test": "member('ALL')"}],
		"subnet4": [{"id": 1, "subnet": "10.0.0.0/24", "evaluate-additional-classes": ["a"]}]`))
	if err == nil {
		if c.Class("a").OnlyIfRequired || len(c.Subnets[0].RequireClientClasses) != 0 {
			t.Error("a later key took effect")
		}
		w := strings.Join(c.Warnings, "\n")
		if !strings.Contains(w, "only-in-additional-list") || !strings.Contains(w, "evaluate-additional-classes") {
			t.Errorf("no warning or error names the keys: %q", c.Warnings)
		}
		return
	}
	if !strings.Contains(err.Error(), "only-in-additional-list") && !strings.Contains(err.Error(), "evaluate-additional-classes") {
		t.Errorf("error does not name the keys: %v", err)
	}
}
