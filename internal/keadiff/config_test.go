package keadiff

import (
	"encoding/json"
	"net/netip"
	"testing"
)

func TestDecodeKeaSyntax(t *testing.T) {
	doc, err := Decode([]byte(`# a comment
{ "Dhcp4": { // another
  "a": "x#y//z", /* block
  comment */ "b": [ 1, 2, ], "c": .5, "d": [.25],
}, }`))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(doc)
	if want := `{"Dhcp4":{"a":"x#y//z","b":[1,2],"c":0.5,"d":[0.25]}}`; string(got) != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	for _, bad := range []string{`{"a": "x`, `{"a": 1 /* x`, `{"a": }`} {
		if _, err := Decode([]byte(bad)); err == nil {
			t.Errorf("Decode(%q) accepted", bad)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"Dhcp4": {"subnet4": [{"subnet": "10.0.0.0/8", "pools": [{"pool": "10.0.0.1-10.0.0.9"}]},]}}`))
	f.Add([]byte("# x\n{\"a\": .5 /* y */}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		doc, err := Decode(b)
		if err != nil {
			return
		}
		_, _ = PlanOf(doc) // must not panic on any document
	})
}

func TestPlanChoosesFreeAddresses(t *testing.T) {
	doc, err := Decode([]byte(`{"Dhcp4": {
	  "interfaces-config": {"interfaces": ["eth1"]},
	  "subnet4": [
	    {"id": 1, "subnet": "192.0.2.0/24", "pools": [{"pool": "192.0.2.200 - 192.0.2.254"}],
	     "reservations": [{"hw-address": "02:00:00:00:00:01", "ip-address": "192.0.2.199"}]},
	    {"id": 2, "subnet": "198.51.100.0/24", "interface": "eth1", "pools": [{"pool": "198.51.100.0/25"}]}
	  ]}}`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := PlanOf(doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Ifaces) != 1 || p.Ifaces[0].Name != "eth1" || p.Ifaces[0].Addr != netip.MustParsePrefix("198.51.100.254/24") {
		t.Fatalf("interfaces %+v: want eth1 198.51.100.254/24 (the subnet bound to eth1)", p.Ifaces)
	}
	g, err := p.RelayFor(p.Subnets[0])
	if err != nil || g != netip.MustParseAddr("192.0.2.198") {
		t.Fatalf("relay of subnet 1: %v %v, want 192.0.2.198 (below the pool and the reservation)", g, err)
	}
	if p.PoolOf(netip.MustParseAddr("198.51.100.127")) == "" || p.PoolOf(netip.MustParseAddr("198.51.100.128")) != "" {
		t.Fatal("pool given as a prefix read wrongly")
	}
}
