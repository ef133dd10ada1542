package ha

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"xdhcp/control"
	ctlclient "xdhcp/control/client"
	"xdhcp/internal/stats"
	"xdhcp/lease"
	"xdhcp/slowpath"
)

// TestBulkApply6Wire: one DHCPv6 exchange's changes go as one
// lease6-bulk-apply in Kea's form: deleted-leases and leases (empty
// lists, not absent), "expire" in place of "cltt", origin ha-partner and
// "service": ["dhcp6"].
func TestBulkApply6Wire(t *testing.T) {
	duid := []byte{0, 1, 0, 1, 0xaa, 0xbb, 0xcc, 0xdd, 2, 0, 0, 0, 0, 1}
	na := lease.Lease6{Addr: netip.MustParseAddr("2001:db8:1::10"), PrefixLen: 128, Type: lease.TypeNA, DUID: duid,
		IAID: 7, PreferredLft: 3000, ValidLft: 4000, CLTT: 1700000000, SubnetID: 1}
	pd := na
	pd.Addr, pd.PrefixLen, pd.Type = netip.MustParseAddr("2001:db8:100:100::"), 56, lease.TypePD
	up := bulkApply6([]lease.Op6{{Kind: lease.OpPut, Lease: na}, {Kind: lease.OpPut, Lease: pd}})
	body, err := ctlclient.Encode(up.name, up.args, FamilyV6.Service())
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Command   string   `json:"command"`
		Service   []string `json:"service"`
		Arguments struct {
			Deleted []map[string]any `json:"deleted-leases"`
			Leases  []map[string]any `json:"leases"`
			Origin  string           `json:"origin"`
		} `json:"arguments"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Command != "lease6-bulk-apply" || len(got.Service) != 1 || got.Service[0] != "dhcp6" || got.Arguments.Origin != "ha-partner" {
		t.Errorf("envelope: %s", body)
	}
	if got.Arguments.Deleted == nil || len(got.Arguments.Deleted) != 0 || len(got.Arguments.Leases) != 2 {
		t.Fatalf("lists: %s", body)
	}
	for _, l := range got.Arguments.Leases {
		if _, ok := l["cltt"]; ok || l["expire"] != float64(1700004000) {
			t.Errorf("lease %v: want expire 1700004000 and no cltt", l)
		}
	}
	if got.Arguments.Leases[1]["type"] != "IA_PD" || got.Arguments.Leases[1]["prefix-len"] != float64(56) {
		t.Errorf("prefix lease: %v", got.Arguments.Leases[1])
	}
	del := bulkApply6([]lease.Op6{{Kind: lease.OpDelete, Lease: na}})
	if a := del.args.(bulkArgs); len(a.DeletedLeases) != 1 || len(a.Leases) != 0 {
		t.Errorf("delete: %+v", a)
	}
}

// TestHandlerFamily: a DHCPv6 peer listener answers the DHCPv6 partner
// commands only, refuses a command for another service, and gives one
// without a service the listener's.
func TestHandlerFamily(t *testing.T) {
	ctl := control.NewServer(nil)
	ctl.SetServices("dhcp4", "dhcp6")
	var seen []string
	ctl.Handle("lease6-bulk-apply", func(_ context.Context, req *control.Request) control.Answer {
		seen = append(seen, strings.Join(req.Service, ","))
		return control.Answer{Result: control.ResultSuccess}
	})
	h := Handler(ctl, Access{Families: []Family{FamilyV6}})
	post := func(body string) int {
		rec := &recorder{header: http.Header{}}
		req, _ := http.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(rec, req)
		return rec.code
	}
	for _, tc := range []struct {
		body string
		code int
	}{
		{`{"command": "lease6-bulk-apply", "service": ["dhcp6"], "arguments": {}}`, 200},
		{`{"command": "lease6-bulk-apply", "arguments": {}}`, 200},
		{`{"command": "lease6-bulk-apply", "service": ["dhcp4"], "arguments": {}}`, 403},
		{`{"command": "lease4-update", "service": ["dhcp6"], "arguments": {}}`, 403},
		{`{"command": "config-get", "service": ["dhcp6"]}`, 403},
	} {
		if got := post(tc.body); got != tc.code {
			t.Errorf("%s: HTTP %d, want %d", tc.body, got, tc.code)
		}
	}
	if strings.Join(seen, "|") != "dhcp6|dhcp6" {
		t.Errorf("services the command ran with: %q, want dhcp6 both times", seen)
	}
}

// TestFamilyScopes6: DHCPv6 load balancing hashes the DUID for Kea's
// HA message types; Information-request is always in scope.
func TestFamilyScopes6(t *testing.T) {
	for _, tc := range []struct {
		t  uint8
		ha bool
	}{{1, true}, {3, true}, {4, true}, {5, true}, {6, true}, {8, true}, {9, true}, {11, false}, {12, false}, {2, false}} {
		if got := FamilyV6.haType(tc.t); got != tc.ha {
			t.Errorf("DHCPv6 type %d: HA type %v, want %v", tc.t, got, tc.ha)
		}
	}
	if FamilyV4.haType(11) || !FamilyV4.haType(8) {
		t.Error("DHCPv4 types changed")
	}
}

type memLeases6 struct{}

func (memLeases6) Get(netip.Addr) (lease.Lease6, bool) { return lease.Lease6{}, false }

type nopApplier6 struct{}

func (nopApplier6) ApplyPartnerLease6(context.Context, lease.Lease6) error { return nil }

// TestListenSharedPeerURL: a DHCPv4 and a DHCPv6 relationship naming the
// same peer URL (one kea-ctrl-agent port for both families, as Kea lays
// it out) get one listener, which answers each family's heartbeat from
// its own relationship, by "service".
func TestListenSharedPeerURL(t *testing.T) {
	ln := listen(t)
	addr := ln.Addr().String()
	ln.Close()
	body := func(mode string) []byte {
		return []byte(`{"high-availability": [{"this-server-name": "server1", "mode": "` + mode + `",
  "peers": [{"name": "server1", "url": "http://` + addr + `/", "role": "primary"},
            {"name": "server2", "url": "http://127.0.0.1:1/", "role": "` + map[string]string{"hot-standby": "standby", "load-balancing": "secondary"}[mode] + `"}]}]}`)
	}
	c4, err := Parse(body("hot-standby"), 1)
	if err != nil {
		t.Fatal(err)
	}
	c6, err := Parse(body("load-balancing"), 1)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now
	s4, err := New(c4, Deps{Leases: memLeases{}, Apply: nopApplier{}, Network: slowpath.NewNetworkState(now)})
	if err != nil {
		t.Fatal(err)
	}
	s6, err := New(c6, Deps{Family: FamilyV6, Leases6: memLeases6{}, Apply6: nopApplier6{}, Network: slowpath.NewNetworkState(now)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s4.Close(); _ = s6.Close() })
	ctl := control.NewServer(nil)
	ctl.SetServices("dhcp4", "dhcp6")
	h4, h6 := s4.Commands(), s6.Commands()
	ctl.Handle("ha-heartbeat", func(ctx context.Context, req *control.Request) control.Answer {
		if len(req.Service) == 1 && req.Service[0] == "dhcp6" {
			return h6["ha-heartbeat"](ctx, req)
		}
		return h4["ha-heartbeat"](ctx, req)
	})
	for s, st := range map[*Service]State{s4: StateHotStandby, s6: StateLoadBalancing} {
		r := s.rels[0]
		r.mu.Lock()
		r.transitionLocked(st, "test")
		r.mu.Unlock()
	}
	l, err := Listen(ctl, ListenOptions{}, s4, s6)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	if n := len(l.Addrs()); n != 1 {
		t.Fatalf("%d listeners, want one for the shared peer URL", n)
	}
	for _, f := range []Family{FamilyV4, FamilyV6} {
		peer := c4.Relationships[0].Peers[0]
		cl, err := newClient(&peer, 1, f)
		if err != nil {
			t.Fatal(err)
		}
		a, err := cl.do(context.Background(), cmdHeartbeat, nil, 2*time.Second)
		cl.close()
		if err != nil || a.Result != 0 {
			t.Fatalf("%s heartbeat: %v %+v", f, err, a)
		}
		var hb heartbeatArgs
		_ = json.Unmarshal(a.Arguments, &hb)
		if want := map[Family]string{FamilyV4: "hot-standby", FamilyV6: "load-balancing"}[f]; hb.State != want {
			t.Errorf("%s heartbeat on the shared listener: state %q, want %q (its own relationship's)", f, hb.State, want)
		}
	}
}

// TestWriteMetricsBothFamilies: one scrape holds both families'
// relationships in one set of metric families, the DHCPv6 ones labelled
// family="dhcp6", the DHCPv4 ones as before.
func TestWriteMetricsBothFamilies(t *testing.T) {
	s4, _, _ := testRel(t, lbPair, time.Now)
	c6, err := Parse([]byte(lbPair), 1)
	if err != nil {
		t.Fatal(err)
	}
	s6, err := New(c6, Deps{Family: FamilyV6, Leases6: memLeases6{}, Apply6: nopApplier6{}, Network: slowpath.NewNetworkState(time.Now)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s6.Close() })
	var b strings.Builder
	e := stats.NewExposition(&b)
	WriteMetrics(e, s4, s6)
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		`xdhcp_ha_unsent_updates{server="server1",relationship="0"} 0`,
		`xdhcp_ha_unsent_updates{server="server1",relationship="0",family="dhcp6"} 0`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %s:\n%s", want, out)
		}
	}
}
