package leasejson

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"xdhcp/lease"
)

var testSubnets6 = Subnets6{
	{ID: 1, Prefix: netip.MustParsePrefix("2001:db8:1::/64"), ValidLft: 4000},
	{ID: 2, Prefix: netip.MustParsePrefix("2001:db8:2::/64"), ValidLft: 5000},
}

// TestLease6RoundTrip: what lease6-get answers (and a partner's page
// holds) decodes to the same lease; HA's update form carries expire.
func TestLease6RoundTrip(t *testing.T) {
	l := lease.Lease6{Addr: netip.MustParseAddr("2001:db8:100::"), PrefixLen: 56, Type: lease.TypePD,
		DUID: []byte{0, 1, 2}, IAID: 9, PreferredLft: 100, ValidLft: 200, CLTT: 1700000000, SubnetID: 2,
		Hostname: "cpe", FqdnFwd: true, HWAddr: []byte{1, 2, 3, 4, 5, 6}, HWType: 1, State: lease.StateDefault,
		UserContext: `{"a":1}`}
	b, _ := json.Marshal(Encode6(&l))
	want := `{"cltt":1700000000,"duid":"00:01:02","fqdn-fwd":true,"fqdn-rev":false,"hostname":"cpe",` +
		`"hw-address":"01:02:03:04:05:06","iaid":9,"ip-address":"2001:db8:100::","preferred-lft":100,` +
		`"prefix-len":56,"state":0,"subnet-id":2,"type":"IA_PD","user-context":{"a":1},"valid-lft":200}`
	if string(b) != want {
		t.Errorf("Encode6:\n got %s\nwant %s", b, want)
	}
	back, err := Decode6(b)
	if err != nil || !reflect.DeepEqual(back, l) {
		t.Errorf("Decode6: %+v, %v\nwant %+v", back, err, l)
	}
	u, _ := json.Marshal(EncodeUpdate6(&l))
	if !strings.Contains(string(u), `"expire":1700000200`) || strings.Contains(string(u), "cltt") {
		t.Errorf("EncodeUpdate6: %s", u)
	}
	// What HA sends is what lease6-bulk-apply takes.
	got, force, err := DecodeArgs6(u, 0, testSubnets6)
	if err != nil || force || got.CLTT != l.CLTT || got.PrefixLen != 56 || got.Hostname != "cpe" {
		t.Errorf("DecodeArgs6 of an update: %+v, %v, %v", got, force, err)
	}
	if _, err := Decode6([]byte(`{"ip-address": "2001:db8::1"}`)); err == nil ||
		!strings.Contains(err.Error(), "cltt, duid") {
		t.Errorf("Decode6 of a partial lease: %v", err)
	}
}

func TestKeaText(t *testing.T) {
	for in, want := range map[string]string{
		`[1]`: `[ 1 ]`, `{"b":1,"a":[2,"x"]}`: `{ "a": [ 2, "x" ], "b": 1 }`, `[]`: `[  ]`, `"b"`: `"b"`,
	} {
		if got := KeaText([]byte(in)); got != want {
			t.Errorf("KeaText(%s) = %s, want %s", in, got, want)
		}
	}
}

func FuzzDecodeArgs6(f *testing.F) {
	f.Add(`{"ip-address": "2001:db8:1::1", "duid": "01:02", "iaid": 1}`)
	f.Add(`{"ip-address": "2001:db8:100::", "type": "IA_PD", "prefix-len": 56, "duid": "0a", "iaid": 7, "subnet-id": 2, "user-context": {"a": [1]}, "comment": "x"}`)
	f.Add(`{"ip-address": "2001:db8:1::1", "duid": "01", "iaid": 1, "expire": 10, "valid-lft": 5, "hostname": "A", "fqdn-fwd": true, "state": 1, "hw-address": "1:2:3", "force-create": true}`)
	f.Add(`{"ip-address": 5}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, args string) {
		l, _, err := DecodeArgs6(json.RawMessage(args), 1700000000, testSubnets6)
		if err != nil {
			return
		}
		switch {
		case !l.Addr.Is6() || l.Addr.Is4In6():
			t.Fatalf("%s: address %v", args, l.Addr)
		case len(l.DUID) < lease.MinDUIDLen || len(l.DUID) > lease.MaxDUIDLen:
			t.Fatalf("%s: DUID of %d bytes", args, len(l.DUID))
		case l.PrefixLen < 1 || l.PrefixLen > 128:
			t.Fatalf("%s: prefix length %d", args, l.PrefixLen)
		case l.SubnetID != 1 && l.SubnetID != 2:
			t.Fatalf("%s: subnet %d", args, l.SubnetID)
		case l.CLTT < 0:
			t.Fatalf("%s: cltt %d", args, l.CLTT)
		case l.UserContext != "" && !json.Valid([]byte(l.UserContext)):
			t.Fatalf("%s: user context %q", args, l.UserContext)
		}
	})
}
