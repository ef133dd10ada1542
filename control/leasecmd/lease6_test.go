package leasecmd

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"xdhcp/control"
	"xdhcp/lease"
	"xdhcp/lease/leasejson"
	"xdhcp/lease/memfile"
)

// TestLease6Changed: every lease a command writes or removes reaches
// Changed, so the server's statistics follow.
func TestLease6Changed(t *testing.T) {
	store, err := memfile.Open6(memfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var log []string
	srv := control.NewServer(nil)
	New6(store, Options6{
		Subnets: func() leasejson.Subnets6 { return subnets6 },
		Changed: func(old, new *lease.Lease6) {
			var o, n string
			if old != nil {
				o = old.Prefix().String()
			}
			if new != nil {
				n = new.Prefix().String()
			}
			log = append(log, o+">"+n)
		},
	}).Register(srv)
	for _, body := range []string{
		`{"command": "lease6-add", "arguments": {"ip-address": "2001:db8:1::1", "duid": "01", "iaid": 1}}`,
		`{"command": "lease6-update", "arguments": {"ip-address": "2001:db8:1::1", "duid": "02", "iaid": 1}}`,
		`{"command": "lease6-bulk-apply", "arguments": {"leases": [{"ip-address": "2001:db8:2::", "type": "IA_PD", "prefix-len": 64, "duid": "03", "iaid": 1, "subnet-id": 2}]}}`,
		`{"command": "lease6-del", "arguments": {"ip-address": "2001:db8:1::1"}}`,
		`{"command": "lease6-wipe"}`,
	} {
		if a := srv.Dispatch(context.Background(), []byte(body), "test", ""); a.Result != control.ResultSuccess {
			t.Fatalf("%s: %+v", body, a)
		}
	}
	want := ">2001:db8:1::1/128 2001:db8:1::1/128>2001:db8:1::1/128 >2001:db8:2::/64 2001:db8:1::1/128> 2001:db8:2::/64>"
	if got := strings.Join(log, " "); got != want {
		t.Errorf("Changed calls:\n got %s\nwant %s", got, want)
	}
	// A prefix length Kea would store but no client could use is refused.
	a := srv.Dispatch(context.Background(), []byte(`{"command": "lease6-add", "arguments": {"ip-address": "2001:db8:2::", "type": "IA_PD", "prefix-len": 200, "duid": "03", "iaid": 1, "subnet-id": 2}}`), "test", "")
	if a.Result != control.ResultError || !strings.Contains(a.Text, "prefix-len 200") {
		t.Errorf("prefix-len 200: %+v", a)
	}
}

// FuzzCommands6 sends arbitrary arguments to every lease6 command: each
// answers, with a Kea result code, and never panics.
func FuzzCommands6(f *testing.F) {
	for _, body := range keaScript6 {
		f.Add(body)
	}
	store, err := memfile.Open6(memfile.Options{})
	if err != nil {
		f.Fatal(err)
	}
	srv := control.NewServer(nil)
	New6(store, Options6{Subnets: func() leasejson.Subnets6 { return subnets6 }}).Register(srv)
	f.Fuzz(func(t *testing.T, body string) {
		a := srv.Dispatch(context.Background(), []byte(body), "fuzz", "")
		switch a.Result {
		case control.ResultSuccess, control.ResultError, control.ResultEmpty, control.ResultUnsupported:
		default:
			t.Fatalf("%s: result %d", body, a.Result)
		}
		if store.Len() > 10000 {
			t.Fatal("store grows without bound")
		}
	})
}

// TestApplyPartnerLease6: a lease from the HA partner's synchronization
// is written, over an older one too; one of a subnet not configured here
// is refused (Kea skips such stale leases).
func TestApplyPartnerLease6(t *testing.T) {
	store, err := memfile.Open6(memfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	h := New6(store, Options6{Subnets: func() leasejson.Subnets6 { return subnets6 }})
	l := lease.Lease6{Addr: netip.MustParseAddr("2001:db8:1::7"), PrefixLen: 128, Type: lease.TypeNA, DUID: []byte{1, 2, 3},
		IAID: 1, ValidLft: 4000, PreferredLft: 3000, CLTT: 1000, SubnetID: 1}
	for _, cltt := range []int64{1000, 2000} {
		l.CLTT = cltt
		if err := h.ApplyPartnerLease6(context.Background(), l); err != nil {
			t.Fatal(err)
		}
		if got, ok := store.Get(l.Addr); !ok || got.CLTT != cltt {
			t.Fatalf("after the partner's lease with cltt %d: %+v %v", cltt, got, ok)
		}
	}
	stale := l
	stale.Addr, stale.SubnetID = netip.MustParseAddr("2001:db8:9::1"), 99
	if err := h.ApplyPartnerLease6(context.Background(), stale); err == nil {
		t.Error("a lease of subnet 99, not configured, was written")
	}
}
