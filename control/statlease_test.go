package control

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"xdhcp/config"
	"xdhcp/internal/stats"
	"xdhcp/lease"
	"xdhcp/lease/memfile"
)

// TestStatLease4Get checks the answers against those of Kea 2.2's
// stat_cmds hook in the lab (one subnet, 101 addresses, one lease, one
// declined), texts included.
func TestStatLease4Get(t *testing.T) {
	cfg, err := config.Parse([]byte(`{"Dhcp4": {"subnet4": [
		{"id": 1, "subnet": "10.77.0.0/24", "pools": [{"pool": "10.77.0.100 - 10.77.0.200"}]},
		{"id": 9, "subnet": "10.78.0.0/24"}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	st, err := memfile.Open(memfile.Options{Persist: false})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now().Unix()
	for _, l := range []lease.Lease{
		{Addr: netip.MustParseAddr("10.77.0.100"), SubnetID: 1, State: lease.StateDeclined, ValidLft: 86400, CLTT: now},
		{Addr: netip.MustParseAddr("10.77.0.101"), SubnetID: 1, HWAddr: []byte{10, 0, 0, 0, 0, 0xa2}, ValidLft: 7200, CLTT: now},
		{Addr: netip.MustParseAddr("10.77.0.102"), SubnetID: 1, HWAddr: []byte{10, 0, 0, 0, 0, 0xa3}, State: lease.StateExpiredReclaimed, ValidLft: 7200, CLTT: now},
	} {
		if err := st.Commit(context.Background(), lease.Op{Kind: lease.OpPut, Lease: l}); err != nil {
			t.Fatal(err)
		}
	}
	reg := stats.New(20, 0)
	reg.Gauge("subnet[1].total-addresses").Set(101)
	reg.Counter("subnet[1].cumulative-assigned-addresses").Add(2)
	reg.Gauge("subnet[9].total-addresses").Set(0)
	s := newTestServer(t, nil)
	at := time.Date(2026, 12, 6, 10, 38, 8, 875048000, time.Local)
	RegisterStatLease(s, StatLeaseSource{Config: func() *config.Config { return cfg }, Stats: reg, Leases: st,
		Now: func() time.Time { return at }})

	const cols = `"columns":["subnet-id","total-addresses","cumulative-assigned-addresses","assigned-addresses","declined-addresses"]`
	const ts = `"timestamp":"2026-12-06 10:38:08.875048"`
	for _, tt := range []struct{ args, want string }{
		{``, `{"result":0,"text":"stat-lease4-get[all subnets]: 2 rows found","arguments":{"result-set":{` + cols + `,"rows":[[1,101,2,1,1],[9,0,0,0,0]],` + ts + `}}}`},
		{`{"subnet-id":1}`, `{"result":0,"text":"stat-lease4-get[subnet-id=1]: 1 rows found","arguments":{"result-set":{` + cols + `,"rows":[[1,101,2,1,1]],` + ts + `}}}`},
		{`{"foo":1}`, `{"result":0,"text":"stat-lease4-get[all subnets]: 2 rows found","arguments":{"result-set":{` + cols + `,"rows":[[1,101,2,1,1],[9,0,0,0,0]],` + ts + `}}}`},
		{`{"subnet-range":{"first-subnet-id":1,"last-subnet-id":5}}`, `{"result":0,"text":"stat-lease4-get[subnets 1 through 5]: 1 rows found","arguments":{"result-set":{` + cols + `,"rows":[[1,101,2,1,1]],` + ts + `}}}`},
		{`{"subnet-id":7}`, `{"result":3,"text":"stat-lease4-get[subnet-id=7]: no matching data, subnet-id: 7 does not exist","arguments":{}}`},
		{`{"subnet-range":{"first-subnet-id":2,"last-subnet-id":5}}`, `{"result":3,"text":"stat-lease4-get[subnets 2 through 5]: no matching data, selected ID range: 2 through 5 includes no known subnets","arguments":{}}`},
		{`{"subnet-range":{"first-subnet-id":5,"last-subnet-id":1}}`, `{"result":1,"text":"'last-subnet-id' must be greater than 'first-subnet-id'"}`},
		{`{"subnet-range":{"first-subnet-id":1,"last-subnet-id":1}}`, `{"result":1,"text":"LeaseStatsQuery: last_subnet_id_must be > first_subnet_id_"}`},
		{`{"subnet-range":{"first-subnet-id":1}}`, `{"result":1,"text":"'last-subnet-id' parameter missing or not an integer"}`},
		{`{"subnet-range":{"last-subnet-id":3}}`, `{"result":1,"text":"'first-subnet-id' parameter missing or not an integer"}`},
		{`{"subnet-range":{"first-subnet-id":0,"last-subnet-id":3}}`, `{"result":1,"text":"'first-subnet-id' parameter must be > 0"}`},
		{`{"subnet-range":5}`, `{"result":1,"text":"subnet-range parameter is not a map"}`},
		{`{"subnet-id":"x"}`, `{"result":1,"text":"'subnet-id' parameter is not integer"}`},
		{`{"subnet-id":0}`, `{"result":1,"text":"'subnet-id' parameter must be > 0"}`},
		{`{"subnet-id":-1}`, `{"result":1,"text":"'subnet-id' parameter must be > 0"}`},
		{`{"subnet-id":1,"subnet-range":{"first-subnet-id":1,"last-subnet-id":5}}`, `{"result":1,"text":"cannot specify both subnet-id and subnet-range"}`},
	} {
		body := `{"command":"stat-lease4-get"}`
		if tt.args != "" {
			body = `{"command":"stat-lease4-get","arguments":` + tt.args + `}`
		}
		a := s.Dispatch(context.Background(), []byte(body), "", "")
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(a)
		if got := strings.TrimSpace(buf.String()); got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.args, got, tt.want)
		}
	}
}
