package stats6

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"xdhcp/internal/stats"
	"xdhcp/lease"
	"xdhcp/lease/memfile"
)

func value(t *testing.T, r *stats.Registry, name string) int64 {
	t.Helper()
	s, ok := r.Get(name)
	if !ok {
		t.Fatalf("no statistic %s", name)
	}
	return s[0].Value
}

func TestLeaseStatistics(t *testing.T) {
	r := stats.New(20, 0)
	s := New(r)
	s.SetSubnet(1, 256, 0)
	s.SetSubnet(2, 0, 65536)
	// The names kea-dhcp6 2.2 answers statistic-get-all with for two such
	// subnets (its pkt6-* and v6-allocation-fail* are the server's).
	want := []string{"cumulative-assigned-nas", "cumulative-assigned-pds", "declined-addresses",
		"reclaimed-declined-addresses", "reclaimed-leases"}
	for _, id := range []string{"1", "2"} {
		for _, n := range []string{"assigned-nas", "assigned-pds", "cumulative-assigned-nas",
			"cumulative-assigned-pds", "declined-addresses", "reclaimed-declined-addresses", "reclaimed-leases",
			"total-nas", "total-pds"} {
			want = append(want, "subnet["+id+"]."+n)
		}
	}
	slices.Sort(want)
	if got := r.Names(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("names:\n got %v\nwant %v", got, want)
	}

	store, err := memfile.Open6(memfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	mk := func(a string, typ lease.Type, subnet uint32, st lease.State) lease.Lease6 {
		return lease.Lease6{Addr: netip.MustParseAddr(a), Type: typ, PrefixLen: 128, DUID: []byte{1, 2}, ValidLft: 60,
			CLTT: 1, SubnetID: subnet, State: st}
	}
	pd := mk("2001:db8:100::", lease.TypePD, 2, 0)
	pd.PrefixLen = 56
	leases := []lease.Lease6{mk("2001:db8:1::1", lease.TypeNA, 1, 0), mk("2001:db8:1::2", lease.TypeNA, 1, lease.StateDeclined),
		mk("2001:db8:1::3", lease.TypeNA, 1, lease.StateExpiredReclaimed), pd}
	for _, l := range leases {
		if err := store.Commit(context.Background(), lease.Op6{Kind: lease.OpPut, Lease: l}); err != nil {
			t.Fatal(err)
		}
	}
	s.Recount(store)
	// As kea-dhcp6 2.2 counted the same leases added by lease6-add: a
	// declined address is assigned and declined, a reclaimed one neither.
	for name, v := range map[string]int64{"subnet[1].assigned-nas": 2, "subnet[1].declined-addresses": 1,
		"declined-addresses": 1, "subnet[2].assigned-pds": 1, "subnet[2].total-pds": 65536, "subnet[1].total-nas": 256} {
		if got := value(t, r, name); got != v {
			t.Errorf("after recount %s = %d, want %d", name, got, v)
		}
	}

	// A new lease, then its reclamation, then a decline of another.
	n := mk("2001:db8:1::4", lease.TypeNA, 1, 0)
	s.Changed(nil, &n)
	s.Assigned(&n)
	s.Assigned(&pd)
	reclaimed := n
	reclaimed.State = lease.StateExpiredReclaimed
	s.Reclaimed(&n)
	s.Changed(&n, &reclaimed)
	declined := leases[0]
	declined.State = lease.StateDeclined
	s.Changed(&leases[0], &declined)
	for name, v := range map[string]int64{"subnet[1].assigned-nas": 2, "subnet[1].cumulative-assigned-nas": 1,
		"cumulative-assigned-nas": 1, "cumulative-assigned-pds": 1, "subnet[2].cumulative-assigned-pds": 1,
		"subnet[1].reclaimed-leases": 1, "reclaimed-leases": 1, "subnet[1].declined-addresses": 2, "declined-addresses": 2} {
		if got := value(t, r, name); got != v {
			t.Errorf("%s = %d, want %d", name, got, v)
		}
	}
}
