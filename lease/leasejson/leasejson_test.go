package leasejson

import (
	"encoding/json"
	"errors"
	"net/netip"
	"reflect"
	"testing"

	"xdhcp/lease"
)

var testLease = lease.Lease{
	Addr: netip.MustParseAddr("192.0.2.10"), HWAddr: []byte{0, 0x0c, 1, 2, 3, 4},
	ClientID: []byte{1, 0, 0x0c, 1, 2, 3, 4}, ValidLft: 3600, CLTT: 1795292506 - 3600, SubnetID: 1,
}

func TestEncode(t *testing.T) {
	l := testLease
	l.UserContext = `{"a":1}`
	got, err := json.Marshal(Encode(&l))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"ip-address":"192.0.2.10","hw-address":"00:0c:01:02:03:04","client-id":"01:00:0c:01:02:03:04",` +
		`"subnet-id":1,"valid-lft":3600,"cltt":1795288906,"fqdn-fwd":false,"fqdn-rev":false,"hostname":"",` +
		`"state":0,"user-context":{"a":1}}`
	if string(got) != want {
		t.Errorf("encoded\n%s\nwant\n%s", got, want)
	}
}

func TestParseHex(t *testing.T) {
	for in, want := range map[string][]byte{
		"01:02:03": {1, 2, 3}, "01-02-03": {1, 2, 3}, "010203": {1, 2, 3}, "0x010203": {1, 2, 3},
		"1:2:3": {1, 2, 3}, "": nil, "123": {1, 0x23},
	} {
		got, err := ParseHex(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("ParseHex(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"0g", "001:02", "zz"} {
		if _, err := ParseHex(in); err == nil {
			t.Errorf("ParseHex(%q) accepted", in)
		}
	}
}

// TestPartnerUpdateIsTheUpdateCommand checks that writing a partner's
// lease directly stores what lease4-update with HA's arguments for it
// stores, or fails where it fails.
func TestPartnerUpdateIsTheUpdateCommand(t *testing.T) {
	subnetOf := func(id uint32, a netip.Addr) (uint32, uint32, error) {
		if id != 1 || !netip.MustParsePrefix("192.0.2.0/24").Contains(a) {
			return 0, 0, errors.New("no such subnet")
		}
		return 1, 7200, nil
	}
	mod := func(f func(l *lease.Lease)) lease.Lease {
		l := testLease
		f(&l)
		return l
	}
	for name, l := range map[string]lease.Lease{
		"plain":            testLease,
		"hostname case":    mod(func(l *lease.Lease) { l.Hostname, l.FqdnFwd = "Host.Example.", true }),
		"fqdn no hostname": mod(func(l *lease.Lease) { l.FqdnRev = true }),
		"user context":     mod(func(l *lease.Lease) { l.UserContext = `{"z":12345678901234567890,"a":"<&>"}` }),
		"empty context":    mod(func(l *lease.Lease) { l.UserContext = `{}` }),
		"declined no hw":   mod(func(l *lease.Lease) { l.HWAddr, l.ClientID, l.State = []byte{}, nil, lease.StateDeclined }),
		"other subnet":     mod(func(l *lease.Lease) { l.SubnetID = 2 }),
		"outside subnet":   mod(func(l *lease.Lease) { l.Addr = netip.MustParseAddr("198.51.100.1") }),
		"zero expire":      mod(func(l *lease.Lease) { l.CLTT, l.ValidLft = 0, 0 }),
		"bad state":        mod(func(l *lease.Lease) { l.State = 3 }),
	} {
		raw, err := json.Marshal(EncodeUpdate(&l, true))
		if err != nil {
			t.Fatal(err)
		}
		want, force, wantErr := DecodeArgs(raw, 99, subnetOf)
		got, gotErr := PartnerUpdate(l, subnetOf)
		if (wantErr == nil) != (gotErr == nil) || (wantErr != nil && wantErr.Error() != gotErr.Error()) {
			t.Errorf("%s: error %v, lease4-update's %v", name, gotErr, wantErr)
			continue
		}
		if wantErr == nil && (!force || !reflect.DeepEqual(got, want)) {
			t.Errorf("%s: stores\n%+v\nlease4-update stores\n%+v", name, got, want)
		}
	}
}
