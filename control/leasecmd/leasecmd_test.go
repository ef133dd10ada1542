package leasecmd

import (
	"context"
	"encoding/json"
	"net/netip"
	"testing"

	"xdhcp/config"
	"xdhcp/control"
	"xdhcp/internal/stats"
	"xdhcp/lease"
	"xdhcp/lease/leasejson"
	"xdhcp/lease/memfile"
	"xdhcp/slowpath"
)

const testDoc = `{"Dhcp4": {
  "lease-database": {"type": "memfile", "persist": false},
  "valid-lifetime": 3600,
  "subnet4": [{"id": 1, "subnet": "10.0.0.0/24", "pools": [{"pool": "10.0.0.10 - 10.0.0.250"}]}]
}}`

func newCommands(t *testing.T) (*Commands, *memfile.Store, *stats.Registry) {
	t.Helper()
	cfg, err := config.Parse([]byte(testDoc))
	if err != nil {
		t.Fatal(err)
	}
	store, err := memfile.Open(memfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	reg := stats.New(20, 0)
	srv, err := slowpath.New(cfg, slowpath.Deps{Store: store, Stats: reg})
	if err != nil {
		t.Fatal(err)
	}
	return New(srv, store), store, reg
}

func run(t *testing.T, h control.HandlerFunc, cmd, args string) control.Answer {
	t.Helper()
	req := &control.Request{Command: cmd}
	if args != "" {
		req.Arguments = json.RawMessage(args)
	}
	return h(context.Background(), req)
}

func assigned(t *testing.T, reg *stats.Registry) int64 {
	t.Helper()
	samples, ok := reg.Get("subnet[1].assigned-addresses")
	if !ok {
		t.Fatal("no subnet[1].assigned-addresses statistic")
	}
	return samples[0].Value
}

func TestLeaseLifecycle(t *testing.T) {
	h, store, reg := newCommands(t)
	steps := []struct {
		h             control.HandlerFunc
		cmd, args     string
		result        int
		text          string
		assignedAfter int64
	}{
		{h.put(true), "lease4-add", `{"ip-address": "10.0.0.20", "hw-address": "00:01:02:03:04:05"}`, 0, "Lease for address 10.0.0.20, subnet-id 1 added.", 1},
		{h.put(true), "lease4-add", `{"ip-address": "10.0.0.20", "hw-address": "00:01:02:03:04:05"}`, 1, "IPv4 lease already exists.", 1},
		{h.put(false), "lease4-update", `{"ip-address": "10.0.0.21", "hw-address": "00:01:02:03:04:06"}`, 1, "failed to update the lease with address 10.0.0.21 either because the lease has been deleted or it has changed in the database, in both cases a retry might succeed", 1},
		{h.put(false), "lease4-update", `{"ip-address": "10.0.0.21", "hw-address": "00:01:02:03:04:06", "force-create": true}`, 0, "IPv4 lease added.", 2},
		{h.put(false), "lease4-update", `{"ip-address": "10.0.0.21", "hw-address": "00:01:02:03:04:07"}`, 0, "IPv4 lease updated.", 2},
		{h.put(true), "lease4-add", `{"ip-address": "10.0.1.1", "hw-address": "00:01:02:03:04:08"}`, 1, "subnet-id not specified and no subnet contains 10.0.1.1", 2},
		{h.del, "lease4-del", `{"ip-address": "10.0.0.20"}`, 0, "IPv4 lease deleted.", 1},
		{h.del, "lease4-del", `{"ip-address": "10.0.0.20"}`, 3, "IPv4 lease not found.", 1},
		{h.wipe, "lease4-wipe", `{"subnet-id": 1}`, 0, "Deleted 1 IPv4 lease(s) from subnet 1.", 0},
		{h.wipe, "lease4-wipe", ``, 3, "Deleted 0 IPv4 lease(s) from all subnets.", 0},
	}
	for _, s := range steps {
		a := run(t, s.h, s.cmd, s.args)
		if a.Result != s.result || a.Text != s.text {
			t.Fatalf("%s %s: %d %q, want %d %q", s.cmd, s.args, a.Result, a.Text, s.result, s.text)
		}
		if got := assigned(t, reg); got != s.assignedAfter {
			t.Fatalf("%s %s: %d assigned, want %d", s.cmd, s.args, got, s.assignedAfter)
		}
	}
	if store.Len() != 0 {
		t.Errorf("%d leases left", store.Len())
	}
}

func TestLeaseGetAllKeepsEachLeasesIdentity(t *testing.T) {
	h, store, _ := newCommands(t)
	want := map[string]string{}
	for i, hw := range []string{"00:00:00:00:00:01", "00:00:00:00:00:02", "00:00:00:00:00:03"} {
		addr := netip.AddrFrom4([4]byte{10, 0, 0, byte(10 + i)})
		b, _ := leasejson.ParseHex(hw)
		l := lease.Lease{Addr: addr, HWAddr: b, ValidLft: 3600, CLTT: 1_800_000_000, SubnetID: 1}
		if err := store.Commit(context.Background(), lease.Op{Kind: lease.OpPut, Lease: l}); err != nil {
			t.Fatal(err)
		}
		want[addr.String()] = hw
	}
	ans := run(t, h.getAll, "lease4-get-all", "")
	got := ans.Arguments.(map[string]any)["leases"].([]leasejson.Element)
	if len(got) != len(want) {
		t.Fatalf("%d leases, want %d", len(got), len(want))
	}
	for _, l := range got {
		if want[l.IPAddress] != l.HWAddress {
			t.Errorf("lease %s has hw-address %s, want %s", l.IPAddress, l.HWAddress, want[l.IPAddress])
		}
	}
}

func TestApplyPartnerLease(t *testing.T) {
	h, store, reg := newCommands(t)
	l := lease.Lease{Addr: netip.MustParseAddr("10.0.0.30"), HWAddr: []byte{1, 2, 3, 4, 5, 6}, ValidLft: 3600,
		CLTT: 1_800_000_000, SubnetID: 1, Hostname: "Host.Example.", FqdnFwd: true}
	if err := h.ApplyPartnerLease(context.Background(), l); err != nil {
		t.Fatal(err)
	}
	got, ok := store.Get(l.Addr)
	if !ok || got.Hostname != "host.example." || got.CLTT != l.CLTT || assigned(t, reg) != 1 {
		t.Errorf("stored %+v %v, %d assigned", got, ok, assigned(t, reg))
	}
	l.SubnetID = 7
	if err := h.ApplyPartnerLease(context.Background(), l); err == nil {
		t.Error("lease of an unknown subnet applied")
	}
}
