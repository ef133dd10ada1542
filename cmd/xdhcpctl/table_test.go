package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// render prints answer as xdhcpctl does for command with tables on.
func render(t *testing.T, command, answer string) string {
	t.Helper()
	var b bytes.Buffer
	if err := printAnswer(&b, command, []byte(answer), true, time.UTC); err != nil {
		t.Fatalf("%s: %v", command, err)
	}
	return b.String()
}

func TestLeaseTable(t *testing.T) {
	// An HTTP answer list (one service) with two leases: the second has no
	// client id and no hostname, is declined, and never expires.
	got := render(t, "lease4-get-all", `[{"result":0,"text":"2 IPv4 lease(s) found.","arguments":{"leases":[
		{"ip-address":"10.77.0.10","hw-address":"02:00:00:00:00:0a","client-id":"01:02:00:00:00:00:0a","subnet-id":1,
		 "valid-lft":3600,"cltt":1796554800,"fqdn-fwd":false,"fqdn-rev":false,"hostname":"printer-2nd-floor","state":0},
		{"ip-address":"10.77.0.200","hw-address":"02:00:00:00:00:c8","subnet-id":12,
		 "valid-lft":4294967295,"cltt":1796554800,"hostname":"","state":1}]}}]`)
	want := `IP ADDRESS   HW ADDRESS         CLIENT ID             SUBNET  STATE     EXPIRES              HOSTNAME
10.77.0.10   02:00:00:00:00:0a  01:02:00:00:00:00:0a  1       default   2026-12-06 12:00:00  printer-2nd-floor
10.77.0.200  02:00:00:00:00:c8  -                     12      declined  never                -
`
	if got != want {
		t.Errorf("lease4-get-all table:\n%s\nwant:\n%s", got, want)
	}

	// lease4-get answers with the lease itself; the time is shown in the
	// zone asked for.
	var b bytes.Buffer
	berlin := time.FixedZone("CET", 3600)
	if err := printAnswer(&b, "lease4-get", []byte(`{"result":0,"text":"IPv4 lease found.","arguments":
		{"ip-address":"10.77.0.10","hw-address":"02:00:00:00:00:0a","subnet-id":1,"valid-lft":60,"cltt":1796554800,"state":2}}`),
		true, berlin); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(b.String(), "\n"); len(lines) != 3 || !strings.Contains(lines[1], "expired-reclaimed  2026-12-06 12:01:00") {
		t.Errorf("lease4-get table:\n%s", b.String())
	}

	// An empty result prints Kea's text, and a page says where the next
	// one starts.
	if got := render(t, "lease4-get-all", `[{"result":3,"text":"0 IPv4 lease(s) found.","arguments":{"leases":[]}}]`); got != "0 IPv4 lease(s) found.\n" {
		t.Errorf("empty lease4-get-all: %q", got)
	}
	page := render(t, "lease4-get-page", `{"result":0,"arguments":{"count":2,"leases":[
		{"ip-address":"10.0.0.1","hw-address":"aa:bb:cc:dd:ee:01","subnet-id":1,"valid-lft":10,"cltt":0,"state":0},
		{"ip-address":"10.0.0.2","hw-address":"aa:bb:cc:dd:ee:02","subnet-id":1,"valid-lft":10,"cltt":0,"state":0}]}}`)
	if !strings.HasSuffix(page, "\n2 leases on this page; the next page: lease4-get-page from=10.0.0.2 limit=2\n") {
		t.Errorf("lease4-get-page table:\n%s", page)
	}
}

func TestStatisticTable(t *testing.T) {
	got := render(t, "statistic-get-all", `[{"result":0,"arguments":{
		"subnet[10].assigned-addresses":[[4,"2026-12-06 11:00:02.000001"],[3,"2026-12-06 11:00:01.000000"]],
		"subnet[2].assigned-addresses":[[7,"2026-12-06 11:00:03.000000"]],
		"pkt4-received":[[1234567,"2026-12-06 11:00:00.500000"]],
		"cumulative-assigned-addresses":[[0.5,"2026-12-06 11:00:00.000000"]]}}]`)
	// Natural order (subnet[2] before subnet[10]); only the latest sample.
	want := `NAME                           VALUE    SAMPLED
cumulative-assigned-addresses  0.5      2026-12-06 11:00:00.000000
pkt4-received                  1234567  2026-12-06 11:00:00.500000
subnet[2].assigned-addresses   7        2026-12-06 11:00:03.000000
subnet[10].assigned-addresses  4        2026-12-06 11:00:02.000001
`
	if got != want {
		t.Errorf("statistic-get-all table:\n%s\nwant:\n%s", got, want)
	}
	// statistic-get of an unknown name answers an empty map: a header only.
	if got := render(t, "statistic-get", `{"result":0,"arguments":{}}`); got != "NAME  VALUE  SAMPLED\n" {
		t.Errorf("statistic-get of nothing: %q", got)
	}
}

func TestStatusTable(t *testing.T) {
	got := render(t, "status-get", `[{"result":0,"arguments":{"pid":4242,"uptime":3725,"reload":60,
		"multi-threading-enabled":true,"thread-pool-size":4,"packet-queue-size":64,
		"dhcp-state":{"enabled":false,"disabled-by":["user","ha-local"]},
		"xdp":[{"interface":"srv0","mode":"native"}],
		"high-availability":[{"ha-mode":"load-balancing","ha-servers":{
			"local":{"role":"primary","scopes":["server1"],"state":"load-balancing"},
			"remote":{"age":3,"analyzed-packets":12,"communication-interrupted":true,"connecting-clients":2,
				"in-touch":true,"last-scopes":["server2"],"last-state":"load-balancing","role":"secondary",
				"unacked-clients":1,"unacked-clients-left":9}}}]}}]`)
	want := `pid:              4242
uptime:           1h2m5s
since reload:     1m0s
dhcp:             disabled by user, ha-local
multi-threading:  on, 4 threads
xdp:              srv0 native

high availability (load-balancing):
SERVER  ROLE       STATE           SCOPES   IN TOUCH  AGE  INTERRUPTED  UNACKED     CONNECTING  ANALYZED
local   primary    load-balancing  server1  -         -    -            -           -           -
remote  secondary  load-balancing  server2  yes       3s   yes          1 (9 left)  2           12
`
	if got != want {
		t.Errorf("status-get table:\n%s\nwant:\n%s", got, want)
	}
	// Without HA, the daemon's part alone.
	if got := render(t, "status-get", `{"result":0,"arguments":{"pid":1,"uptime":0,"reload":0}}`); strings.Contains(got, "high availability") {
		t.Errorf("status-get without HA:\n%s", got)
	}
}

func TestHeartbeatTable(t *testing.T) {
	got := render(t, "ha-heartbeat", `[{"result":0,"text":"HA peer status returned.","arguments":
		{"date-time":"Sun, 06 Dec 2026 11:00:00 GMT","scopes":["server1","server2"],"state":"partner-down","unsent-update-count":17}}]`)
	want := `STATE         SCOPES           DATE-TIME                      UNSENT UPDATES
partner-down  server1,server2  Sun, 06 Dec 2026 11:00:00 GMT  17
`
	if got != want {
		t.Errorf("ha-heartbeat table:\n%s\nwant:\n%s", got, want)
	}
}

// TestTableFailures: a failing answer prints nothing in a table and its
// text becomes the error; a command without a table view prints JSON;
// JSON output is unchanged.
func TestTableFailures(t *testing.T) {
	var b bytes.Buffer
	err := printAnswer(&b, "lease4-get-all", []byte(`[{"result":1,"text":"lease database unavailable"}]`), true, time.UTC)
	if err == nil || !strings.Contains(err.Error(), "result 1: lease database unavailable") || b.Len() != 0 {
		t.Errorf("failing answer: %v, printed %q", err, b.String())
	}
	b.Reset()
	if err := printAnswer(&b, "version-get", []byte(`[{"result":0,"text":"1.0"}]`), true, time.UTC); err != nil || !strings.HasPrefix(b.String(), "{\n  \"result\": 0") {
		t.Errorf("command without a table: %v %q", err, b.String())
	}
	b.Reset()
	if err := printAnswer(&b, "lease4-get-all", []byte(`[{"result":0,"arguments":{"leases":[]}}]`), false, time.UTC); err != nil || !strings.Contains(b.String(), `"leases": []`) {
		t.Errorf("JSON output: %v %q", err, b.String())
	}
	b.Reset()
	if err := printAnswer(&b, "lease4-get-all", []byte(`[{"result":0,"arguments":{"leases":"not a list"}}]`), true, time.UTC); err == nil {
		t.Errorf("a malformed lease list printed as a table: %q", b.String())
	}
}

func TestNaturalLess(t *testing.T) {
	for _, c := range []struct {
		a, b string
		less bool
	}{
		{"subnet[2]", "subnet[10]", true}, {"subnet[10]", "subnet[2]", false}, {"a", "b", true},
		{"a1", "a01", false}, {"x", "x1", true}, {"pkt4-ack-sent", "pkt4-nak-sent", true},
	} {
		if got := naturalLess(c.a, c.b); got != c.less {
			t.Errorf("naturalLess(%q, %q) = %v", c.a, c.b, got)
		}
	}
}
