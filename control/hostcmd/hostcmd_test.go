package hostcmd

import (
	"context"
	"encoding/json"
	"testing"

	"xdhcp/config"
	"xdhcp/control"
)

const testDoc = `{"Dhcp4": {
  "reservations": [{"hw-address": "aa:bb:cc:dd:ee:01", "hostname": "global-one"}],
  "subnet4": [{"id": 1, "subnet": "192.0.2.0/24", "pools": [{"pool": "192.0.2.100-192.0.2.200"}],
    "reservations": [
      {"hw-address": "01:02:03:04:05:06", "ip-address": "192.0.2.10", "hostname": "Printer",
       "next-server": "192.0.2.1", "boot-file-name": "boot.efi", "client-classes": ["office"],
       "option-data": [{"name": "domain-name-servers", "data": "192.0.2.53"}]},
      {"client-id": "01:0a:0b:0c", "ip-address": "192.0.2.11", "hostname": "printer"}]}]
}}`

func newCommands4(t *testing.T) *Commands {
	t.Helper()
	cfg, err := config.Parse([]byte(testDoc))
	if err != nil {
		t.Fatal(err)
	}
	c := New()
	c.Set(cfg, nil)
	return c
}

func run(h control.HandlerFunc, cmd, args string) control.Answer {
	req := &control.Request{Command: cmd}
	if args != "" {
		req.Arguments = json.RawMessage(args)
	}
	return h(context.Background(), req)
}

func hostsOf(t *testing.T, a control.Answer) []map[string]any {
	t.Helper()
	b, _ := json.Marshal(a.Arguments)
	var v struct {
		Hosts []map[string]any `json:"hosts"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v.Hosts
}

// The reads see the configuration's reservations, rendered as Kea renders
// a host, with the texts Kea 2.2 answers.
func TestReadsOfTheConfiguration(t *testing.T) {
	c := newCommands4(t)
	a := run(c.get, "reservation-get", `{"subnet-id": 1, "identifier-type": "hw-address", "identifier": "01:02:03:04:05:06"}`)
	b, _ := json.Marshal(a.Arguments)
	want := `{"boot-file-name":"boot.efi","client-classes":["office"],"hostname":"Printer","hw-address":"01:02:03:04:05:06","ip-address":"192.0.2.10","next-server":"192.0.2.1","option-data":[{"always-send":false,"code":6,"csv-format":false,"data":"C0000235","name":"domain-name-servers","space":"dhcp4"}],"server-hostname":"","subnet-id":1}`
	if a.Result != 0 || a.Text != "Host found." || string(b) != want {
		t.Errorf("reservation-get: %d %q\n%s\nwant %s", a.Result, a.Text, b, want)
	}
	if a := run(c.get, "reservation-get", `{"subnet-id": 1, "ip-address": "192.0.2.11"}`); a.Result != 0 || a.Text != "Host found." {
		t.Errorf("by address: %+v", a)
	}
	if a := run(c.get, "reservation-get", `{"subnet-id": 2, "ip-address": "192.0.2.11"}`); a.Result != 0 || a.Text != "Host not found." {
		t.Errorf("not found: %+v", a)
	}
	if a := run(c.getAll, "reservation-get-all", `{"subnet-id": 1}`); a.Text != "2 IPv4 host(s) found." || len(hostsOf(t, a)) != 2 {
		t.Errorf("get-all: %+v", a)
	}
	if a := run(c.getAll, "reservation-get-all", `{"subnet-id": 7}`); a.Result != 1 || a.Text != "IPv4 subnet with ID of '7' is not configured" {
		t.Errorf("get-all of an unknown subnet: %+v", a)
	}
	a = run(c.getByHostname, "reservation-get-by-hostname", `{"hostname": "PRINTER"}`)
	if a.Text != "2 IPv4 host(s) found." {
		t.Errorf("by hostname: %+v", a)
	}
	a = run(c.getByID, "reservation-get-by-id", `{"identifier-type": "client-id", "identifier": "01:0a:0b:0c"}`)
	if hs := hostsOf(t, a); len(hs) != 1 || hs[0]["client-id"] != "010A0B0C" || hs[0]["subnet-id"] != 1.0 {
		t.Errorf("by id: %+v", a)
	}
	// Paging over the configuration (source 0): one host a page, then
	// result 3 with no next.
	var seen []string
	next := `{"limit": 1}`
	for i := 0; i < 5; i++ {
		a := run(c.getPage, "reservation-get-page", next)
		if a.Result == 3 {
			break
		}
		hs := hostsOf(t, a)
		seen = append(seen, hs[0]["hostname"].(string))
		b, _ := json.Marshal(a.Arguments)
		var v struct {
			Next struct {
				Source int    `json:"source-index"`
				From   uint64 `json:"from"`
			} `json:"next"`
		}
		_ = json.Unmarshal(b, &v)
		nb, _ := json.Marshal(map[string]any{"limit": 1, "source-index": v.Next.Source, "from": v.Next.From})
		next = string(nb)
	}
	if len(seen) != 3 || seen[0] != "global-one" {
		t.Errorf("pages gave %v", seen)
	}
}

// Without a hosts-database, writes fail as in Kea 2.2.
func TestWritesNeedADatabase(t *testing.T) {
	c := newCommands4(t)
	if a := run(c.add, "reservation-add", `{"reservation": {"subnet-id": 1, "hw-address": "02:00:00:00:00:01", "ip-address": "192.0.2.50"}}`); a.Result != 1 || a.Text != "Host database not available, cannot add host." {
		t.Errorf("add: %+v", a)
	}
	if a := run(c.del, "reservation-del", `{"subnet-id": 1, "ip-address": "192.0.2.10"}`); a.Result != 1 || a.Text != "Unable to delete a host because there is no hosts-database configured." {
		t.Errorf("del: %+v", a)
	}
}

// Bad arguments get Kea 2.2's texts.
func TestArgumentErrors(t *testing.T) {
	c := newCommands4(t)
	for _, tc := range []struct {
		h         control.HandlerFunc
		cmd, args string
		want      string
	}{
		{c.get, "reservation-get", ``, "Parameters missing or are not a map."},
		{c.get, "reservation-get", `{}`, "Mandatory 'subnet-id' parameter missing."},
		{c.get, "reservation-get", `{"subnet-id": "1"}`, "'subnet-id' parameter is not integer."},
		{c.get, "reservation-get", `{"subnet-id": 1}`, "No 'ip-address' provided and 'identifier-type' is either missing or not a string."},
		{c.get, "reservation-get", `{"subnet-id": 1, "identifier-type": "hw-address"}`, "No 'ip-address' provided and 'identifier' is either missing or not a string."},
		{c.get, "reservation-get", `{"subnet-id": 1, "identifier-type": "color", "identifier": "01"}`, "Value of 'identifier-type' was not recognized."},
		{c.get, "reservation-get", `{"subnet-id": 1, "identifier-type": "hw-address", "identifier": "zz"}`, "Unable to parse 'identifier' value."},
		{c.get, "reservation-get", `{"subnet-id": 1, "ip-address": 5}`, "'ip-address' is not a string."},
		{c.getAll, "reservation-get-all", `{}`, "Mandatory 'subnet-id' parameter missing."},
		{c.getPage, "reservation-get-page", `{}`, "missing parameter 'limit'"},
		{c.getByHostname, "reservation-get-by-hostname", `{"hostname": ""}`, "Empty hostname"},
		{c.getByID, "reservation-get-by-id", `{"identifier-type": "hw-address", "identifier": "01:02", "subnet-id": 1}`, "'subnet-id' is forbidden in reservation-get-by-id"},
		{c.add, "reservation-add", ``, "no parameters specified for the command"},
		{c.add, "reservation-add", `{}`, "reservation must be specified"},
		{c.add, "reservation-add", `{"reservation": {"hw-address": "01:02:03:04:05:06"}}`, "Mandatory 'subnet-id' parameter missing."},
		{c.add, "reservation-add", `{"reservation": {"subnet-id": 1, "hw-address": "01:02:03:04:05:06", "option-data": []}}`,
			"specified reservation must include at least one resource, i.e. hostname, IPv4 address, IPv6 address/prefix, options"},
	} {
		if a := run(tc.h, tc.cmd, tc.args); a.Result != 1 || a.Text != tc.want {
			t.Errorf("%s %s: %d %q, want %q", tc.cmd, tc.args, a.Result, a.Text, tc.want)
		}
	}
}

// FuzzArguments feeds every reservation command arbitrary arguments: an
// answer always comes back, never a panic.
func FuzzArguments(f *testing.F) {
	for _, s := range []string{`{"subnet-id": 1, "identifier-type": "hw-address", "identifier": "01:02:03:04:05:06"}`,
		`{"subnet-id": 1, "ip-address": "192.0.2.10"}`, `{"limit": 2, "source-index": 1, "from": 3}`,
		`{"hostname": "x", "subnet-id": 1}`, `{"identifier-type": "flex-id", "identifier": "'abc'"}`,
		`{"reservation": {"subnet-id": 1, "hw-address": "01:02:03:04:05:06", "option-data": [{"code": 6, "data": "1.2.3.4"}]}}`,
		`[]`, `null`, `{"subnet-id": -1}`} {
		f.Add(s)
	}
	cfg, err := config.Parse([]byte(testDoc))
	if err != nil {
		f.Fatal(err)
	}
	c := New()
	c.Set(cfg, nil)
	handlers := []control.HandlerFunc{c.add, c.get, c.getAll, c.getPage, c.getByHostname, c.getByID, c.del}
	f.Fuzz(func(t *testing.T, args string) {
		for _, h := range handlers {
			a := run(h, "reservation-x", args)
			if a.Result != 0 && a.Result != 1 && a.Result != 3 {
				t.Fatalf("result %d for %s", a.Result, args)
			}
		}
	})
}
