package hostcmd

import (
	"encoding/json"
	"net/netip"
	"testing"

	"xdhcp/config"
	"xdhcp/control"
	"xdhcp/host"
)

const testDoc6 = `{"Dhcp6": {
  "reservations": [{"duid": "01:02:03:04", "hostname": "global-six", "prefixes": ["2001:db8:ff00::/56"]}],
  "subnet6": [{"id": 5, "subnet": "2001:db8:5::/64", "pools": [{"pool": "2001:db8:5::100-2001:db8:5::1ff"}],
    "reservations": [
      {"duid": "00:03:00:01:0a:0b:0c:0d:0e:0f", "ip-addresses": ["2001:db8:5::10"], "prefixes": ["2001:db8:500::/56"],
       "hostname": "CPE-1", "client-classes": ["gold"],
       "option-data": [{"name": "dns-servers", "data": "2001:db8::53"}]},
      {"hw-address": "0a:0b:0c:0d:0e:01", "ip-addresses": ["2001:db8:5::11"], "hostname": "cpe-1"}]}]
}}`

func newCommands6(t testing.TB) *Commands6 {
	t.Helper()
	cfg, err := config.Parse([]byte(testDoc6))
	if err != nil {
		t.Fatal(err)
	}
	c := New6()
	c.Set(cfg.Dhcp6, nil)
	return c
}

// The DHCPv6 reads see the Dhcp6 section's reservations, rendered as Kea
// renders a DHCPv6 host, with Kea's IPv6 texts.
func TestReadsOfTheDhcp6Configuration(t *testing.T) {
	c := newCommands6(t)
	a := run(c.get, "reservation-get", `{"subnet-id": 5, "identifier-type": "duid", "identifier": "00:03:00:01:0a:0b:0c:0d:0e:0f"}`)
	b, _ := json.Marshal(a.Arguments)
	want := `{"client-classes":["gold"],"duid":"00:03:00:01:0a:0b:0c:0d:0e:0f","hostname":"CPE-1","ip-addresses":["2001:db8:5::10"],` +
		`"option-data":[{"always-send":false,"code":23,"csv-format":false,"data":"20010DB8000000000000000000000053","name":"dns-servers","space":"dhcp6"}],` +
		`"prefixes":["2001:db8:500::/56"],"subnet-id":5}`
	if a.Result != 0 || a.Text != "Host found." || string(b) != want {
		t.Errorf("reservation-get: %d %q\n%s\nwant %s", a.Result, a.Text, b, want)
	}
	for _, addr := range []string{"2001:db8:5::11", "2001:db8:500::"} {
		if a := run(c.get, "reservation-get", `{"subnet-id": 5, "ip-address": "`+addr+`"}`); a.Result != 0 || a.Text != "Host found." {
			t.Errorf("by address %s: %+v", addr, a)
		}
	}
	if a := run(c.get, "reservation-get", `{"subnet-id": 5, "ip-address": "2001:db8:5::12"}`); a.Result != 0 || a.Text != "Host not found." {
		t.Errorf("not found: %+v", a)
	}
	if a := run(c.getAll, "reservation-get-all", `{"subnet-id": 5}`); a.Text != "2 IPv6 host(s) found." || len(hostsOf(t, a)) != 2 {
		t.Errorf("get-all: %+v", a)
	}
	if a := run(c.getAll, "reservation-get-all", `{"subnet-id": 0}`); a.Text != "1 IPv6 host(s) found." || hostsOf(t, a)[0]["hostname"] != "global-six" {
		t.Errorf("get-all of the global reservations: %+v", a)
	}
	if a := run(c.getAll, "reservation-get-all", `{"subnet-id": 7}`); a.Result != 1 || a.Text != "IPv6 subnet with ID of '7' is not configured" {
		t.Errorf("get-all of an unknown subnet: %+v", a)
	}
	if a := run(c.getByHostname, "reservation-get-by-hostname", `{"hostname": "cpe-1"}`); a.Text != "2 IPv6 host(s) found." {
		t.Errorf("by hostname: %+v", a)
	}
	a = run(c.getByID, "reservation-get-by-id", `{"identifier-type": "hw-address", "identifier": "0a:0b:0c:0d:0e:01"}`)
	if hs := hostsOf(t, a); len(hs) != 1 || hs[0]["hw-address"] != "0a:0b:0c:0d:0e:01" || hs[0]["subnet-id"] != 5.0 {
		t.Errorf("by id: %+v", a)
	}
	if a := run(c.getPage, "reservation-get-page", `{"limit": 2, "source-index": 0, "from": 1}`); a.Text != "2 IPv6 host(s) found." {
		t.Errorf("get-page: %+v", a)
	}
	if a := run(c.getPage, "reservation-get-page", `{"limit": 2, "from": 3}`); a.Result != 3 || a.Text != "0 IPv6 host(s) found." {
		t.Errorf("get-page past the end: %+v", a)
	}
}

// DHCPv6 writes: without a database they fail as in Kea; a reservation
// that does not fit its subnet is refused with Kea's IPv6 texts.
func TestDhcp6WritesAndErrors(t *testing.T) {
	c := newCommands6(t)
	for _, tc := range []struct {
		h    control.HandlerFunc
		args string
		want string
	}{
		{c.add, `{"reservation": {"subnet-id": 5, "duid": "01:02", "ip-addresses": ["2001:db8:5::50"]}}`, "Host database not available, cannot add host."},
		{c.del, `{"subnet-id": 5, "ip-address": "2001:db8:5::10"}`, "Unable to delete a host because there is no hosts-database configured."},
		{c.add, `{"reservation": {"subnet-id": 5, "duid": "01:02"}}`,
			"specified reservation must include at least one resource, i.e. hostname, IPv4 address, IPv6 address/prefix, options"},
		{c.add, `{"reservation": {"duid": "01:02", "hostname": "x"}}`, "Mandatory 'subnet-id' parameter missing."},
		{c.add, `{"reservation": {"subnet-id": 5, "ip-address": "192.0.2.1", "duid": "01:02"}}`, "reservation.ip-address: unknown key"},
	} {
		if a := run(tc.h, "reservation-x", tc.args); a.Result != 1 || a.Text != tc.want {
			t.Errorf("%s: %d %q, want %q", tc.args, a.Result, a.Text, tc.want)
		}
	}
	cfg := c.st.Load()
	if err := cfg.subnetOK(9); err == nil || err.Error() != "IPv6 subnet with ID of '9' is not configured" {
		t.Errorf("unknown subnet: %v", err)
	}
	h := host.Host6{Res: &config.Reservation6{SubnetID: 5, IPAddresses: []netip.Addr{netip.MustParseAddr("2001:db8:6::1")}}}
	if err := cfg.fits(&h); err == nil ||
		err.Error() != "specified reservation '2001:db8:6::1' is not matching the IPv6 subnet prefix '2001:db8:5::/64'" {
		t.Errorf("address out of the subnet: %v", err)
	}
}

// FuzzArguments6 feeds the DHCPv6 reservation commands arbitrary
// arguments: an answer always comes back, never a panic.
func FuzzArguments6(f *testing.F) {
	for _, s := range []string{`{"subnet-id": 5, "identifier-type": "duid", "identifier": "01:02:03:04"}`,
		`{"subnet-id": 5, "ip-address": "2001:db8:5::10"}`, `{"limit": 2, "source-index": 1, "from": 3}`,
		`{"reservation": {"subnet-id": 5, "duid": "01:02", "prefixes": ["2001:db8::/48"], "option-data": [{"code": 23, "data": "2001:db8::1"}]}}`,
		`[]`, `null`} {
		f.Add(s)
	}
	c := newCommands6(f)
	handlers := c.handlers()
	f.Fuzz(func(t *testing.T, args string) {
		for _, h := range handlers {
			if a := run(h, "reservation-x", args); a.Result != 0 && a.Result != 1 && a.Result != 3 {
				t.Fatalf("result %d for %s", a.Result, args)
			}
		}
	})
}
