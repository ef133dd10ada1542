package ha

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"xdhcp/lease"
	"xdhcp/lease/leasejson"
)

// compact strips Kea's pretty-printing from a captured body; Kea prints
// keys sorted, so after this our encoding must match byte for byte.
func compact(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

var capturedLease = lease.Lease{
	Addr: netip.MustParseAddr("192.0.2.10"), HWAddr: []byte{0, 0x0c, 1, 2, 3, 4},
	ClientID: []byte{1, 0, 0x0c, 1, 2, 3, 4}, ValidLft: 3600, CLTT: 1795292506 - 3600, SubnetID: 1,
}

func TestEncodeAgainstCaptures(t *testing.T) {
	tests := []struct {
		name, cmd string
		args      any
		captured  string
	}{
		{"heartbeat", cmdHeartbeat, nil, `{ "command": "ha-heartbeat", "service": [ "dhcp4" ] }`},
		{"lease4-update", cmdLeaseUpdate, leasejson.EncodeUpdate(&capturedLease, true),
			`{ "arguments": { "client-id": "01:00:0c:01:02:03:04", "expire": 1795292506, "force-create": true,
    "fqdn-fwd": false, "fqdn-rev": false, "hostname": "", "hw-address": "00:0c:01:02:03:04",
    "ip-address": "192.0.2.10", "state": 0, "subnet-id": 1, "valid-lft": 3600 },
  "command": "lease4-update", "service": [ "dhcp4" ] }`},
		{"lease4-del", cmdLeaseDel, leasejson.EncodeUpdate(&capturedLease, false),
			`{ "arguments": { "client-id": "01:00:0c:01:02:03:04", "expire": 1795292506, "fqdn-fwd": false,
    "fqdn-rev": false, "hostname": "", "hw-address": "00:0c:01:02:03:04", "ip-address": "192.0.2.10",
    "state": 0, "subnet-id": 1, "valid-lft": 3600 }, "command": "lease4-del", "service": [ "dhcp4" ] }`},
		{"lease4-get-page start", cmdLeaseGetPage, map[string]any{"from": "start", "limit": 3},
			`{ "arguments": { "from": "start", "limit": 3 }, "command": "lease4-get-page", "service": [ "dhcp4" ] }`},
		{"dhcp-disable", cmdDHCPDisable, map[string]any{"max-period": 60, "origin": "ha-partner"},
			`{ "arguments": { "max-period": 60, "origin": "ha-partner" }, "command": "dhcp-disable", "service": [ "dhcp4" ] }`},
		{"sync-complete", cmdSyncCompleteNotify, nil, `{ "command": "ha-sync-complete-notify", "service": [ "dhcp4" ] }`},
		{"maintenance-notify", cmdMaintenanceNotify, map[string]any{"cancel": false},
			`{ "arguments": { "cancel": false }, "command": "ha-maintenance-notify", "service": [ "dhcp4" ] }`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := encodeCommand(tt.cmd, tt.args)
			if err != nil {
				t.Fatal(err)
			}
			if want := compact(t, tt.captured); string(got) != want {
				t.Errorf("encoded\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func TestHeartbeatAnswer(t *testing.T) {
	captured := `[ { "arguments": { "date-time": "Sat, 21 Nov 2026 19:21:31 GMT", "scopes": [ "server1" ],
    "state": "hot-standby", "unsent-update-count": 0 }, "result": 0, "text": "HA peer status returned." } ]`
	a, err := decodeAnswer([]byte(captured))
	if err != nil || a.Result != 0 {
		t.Fatal(a, err)
	}
	hb, err := parseHeartbeat(a.Arguments)
	if err != nil {
		t.Fatal(err)
	}
	if hb.state != StateHotStandby || len(hb.scopes) != 1 || hb.scopes[0] != "server1" || !hb.hasUnsent {
		t.Errorf("parsed %+v", hb)
	}
	if want := time.Date(2026, 11, 21, 19, 21, 31, 0, time.UTC); !hb.time.Equal(want) {
		t.Errorf("time %v", hb.time)
	}
	// Our own answer encodes to the captured key names.
	body, _ := json.Marshal(heartbeatArgs{DateTime: "Sat, 21 Nov 2026 19:21:31 GMT", Scopes: []string{"server1"}, State: "hot-standby"})
	if want := compact(t, `{ "date-time": "Sat, 21 Nov 2026 19:21:31 GMT", "scopes": [ "server1" ], "state": "hot-standby", "unsent-update-count": 0 }`); string(body) != want {
		t.Errorf("heartbeat args %s, want %s", body, want)
	}
	bad := []struct{ name, args string }{
		{"no state", `{"date-time": "Sat, 21 Nov 2026 19:21:31 GMT"}`},
		{"unknown state", `{"state": "dancing", "date-time": "Sat, 21 Nov 2026 19:21:31 GMT"}`},
		{"unavailable is not a state a peer reports", `{"state": "unavailable", "date-time": "Sat, 21 Nov 2026 19:21:31 GMT"}`},
		{"no date", `{"state": "waiting"}`},
		{"bad date", `{"state": "waiting", "date-time": "yesterday"}`},
		{"non-integer unsent", `{"state": "waiting", "date-time": "Sat, 21 Nov 2026 19:21:31 GMT", "unsent-update-count": "x"}`},
	}
	for _, b := range bad {
		if _, err := parseHeartbeat(json.RawMessage(b.args)); err == nil {
			t.Errorf("%s: accepted", b.name)
		}
	}
	// Optional fields may be missing, and Kea ≥2.5 extras are ignored.
	hb, err = parseHeartbeat(json.RawMessage(`{"state": "waiting", "date-time": "Sat, 21 Nov 2026 19:21:31 GMT", "server-name": "x"}`))
	if err != nil || hb.hasUnsent || hb.scopes != nil {
		t.Errorf("minimal heartbeat: %+v %v", hb, err)
	}
}

func TestDecodeAnswer(t *testing.T) {
	if a, err := decodeAnswer([]byte(`[ { "result": 3, "text": "IPv4 lease not found." } ]`)); err != nil || !a.ok() {
		t.Errorf("result 3 must be success: %v %v", a, err)
	}
	if a, err := decodeAnswer([]byte(`[ { "result": 1, "text": "missing parameter 'hw-address' (<wire>:0:16)" } ]`)); err != nil || a.ok() {
		t.Errorf("result 1: %v %v", a, err)
	}
	// A bare map is what a Control Agent sends for 401/403: an error.
	if _, err := decodeAnswer([]byte(`{ "result": 403, "text": "Forbidden" }`)); err == nil || !strings.Contains(err.Error(), "Forbidden") {
		t.Errorf("bare map: %v", err)
	}
	for _, b := range []string{``, `[]`, `[1]`, `"x"`, `[{"text": "no result"}]`} {
		if _, err := decodeAnswer([]byte(b)); err == nil {
			t.Errorf("%q accepted", b)
		}
	}
}

func TestParseSyncLease(t *testing.T) {
	page := `[ { "arguments": { "count": 2, "leases": [ { "client-id": "01:00:0c:01:02:03:04", "cltt": 1795288906,
      "fqdn-fwd": false, "fqdn-rev": false, "hostname": "", "hw-address": "00:0c:01:02:03:04",
      "ip-address": "192.0.2.10", "state": 0, "subnet-id": 1, "valid-lft": 3600 },
      { "cltt": 1795288907, "fqdn-fwd": true, "fqdn-rev": false, "hostname": "a.example.", "hw-address": "",
      "ip-address": "192.0.2.11", "state": 1, "subnet-id": 1, "valid-lft": 86400, "user-context": { "a": 1 } } ] },
    "result": 0, "text": "2 IPv4 lease(s) found." } ]`
	a, err := decodeAnswer([]byte(page))
	if err != nil {
		t.Fatal(err)
	}
	var p pageArgs
	if err := json.Unmarshal(a.Arguments, &p); err != nil || *p.Count != 2 {
		t.Fatal(err)
	}
	l, err := leasejson.Decode(p.Leases[0])
	if err != nil {
		t.Fatal(err)
	}
	if l.Addr != capturedLease.Addr || !bytes.Equal(l.HWAddr, capturedLease.HWAddr) ||
		!bytes.Equal(l.ClientID, capturedLease.ClientID) || l.CLTT != 1795288906 || l.ValidLft != 3600 || l.SubnetID != 1 {
		t.Errorf("lease %+v", l)
	}
	l, err = leasejson.Decode(p.Leases[1])
	if err != nil || l.State != lease.StateDeclined || len(l.HWAddr) != 0 || l.UserContext != `{"a":1}` {
		t.Errorf("declined lease %+v %v", l, err)
	}
	for _, b := range []string{
		`{"ip-address": "192.0.2.1"}`,
		`{"cltt": 0, "fqdn-fwd": false, "fqdn-rev": false, "hostname": "", "hw-address": "", "ip-address": "192.0.2.1", "state": 0, "subnet-id": 1, "valid-lft": 1}`,
		`{"cltt": 5, "fqdn-fwd": false, "fqdn-rev": false, "hostname": "", "hw-address": "", "ip-address": "192.0.2.1", "state": 3, "subnet-id": 1, "valid-lft": 1}`,
		`{"cltt": 5, "fqdn-fwd": false, "fqdn-rev": false, "hostname": "", "hw-address": "", "ip-address": "2001:db8::1", "state": 0, "subnet-id": 1, "valid-lft": 1}`,
		`{"cltt": 5, "fqdn-fwd": false, "fqdn-rev": false, "hostname": "", "hw-address": "", "ip-address": "192.0.2.1", "state": 0, "subnet-id": 0, "valid-lft": 1}`,
	} {
		if _, err := leasejson.Decode(json.RawMessage(b)); err == nil {
			t.Errorf("accepted %s", b)
		}
	}
}

func FuzzDecodeAnswer(f *testing.F) {
	f.Add([]byte(`[ { "arguments": { "date-time": "Sat, 21 Nov 2026 19:21:31 GMT", "scopes": [ "server1" ], "state": "hot-standby", "unsent-update-count": 0 }, "result": 0 } ]`))
	f.Add([]byte(`[ { "arguments": { "count": 1, "leases": [ { "cltt": 5, "fqdn-fwd": false, "fqdn-rev": false, "hostname": "", "hw-address": "01", "ip-address": "192.0.2.1", "state": 0, "subnet-id": 1, "valid-lft": 1 } ] }, "result": 0 } ]`))
	f.Add([]byte(`{ "result": 401, "text": "Unauthorized" }`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := decodeAnswer(b)
		if err != nil {
			return
		}
		_, _ = parseHeartbeat(a.Arguments)
		var p pageArgs
		if json.Unmarshal(a.Arguments, &p) == nil {
			for _, l := range p.Leases {
				if got, err := leasejson.Decode(l); err == nil && (!got.Addr.Is4() || got.SubnetID == 0 || got.CLTT <= 0) {
					t.Fatalf("invalid lease accepted: %+v", got)
				}
			}
		}
	})
}
