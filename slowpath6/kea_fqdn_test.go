package slowpath6_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"xdhcp/config"
	"xdhcp/dhcp6"
)

// fqdnConfig is the Dhcp6 section both servers run for the host name
// comparison: DNS updates off, Kea's naming keys set globally (suffix,
// generated prefix, char set and replacement) and per subnet (the
// replace-client-name modes), a reservation with a host name.
func fqdnConfig(dir string) map[string]any {
	pools := func(n int) map[string]any {
		p := "2001:db8:" + string(rune('0'+n)) + "::"
		return map[string]any{"pool": p + "100-" + p + "1ff"}
	}
	// diffConfig's interfaces, server-id, lease file, control socket and
	// lifetimes, without its classes, options and subnets.
	d6 := diffConfig(dir)["Dhcp6"].(map[string]any)
	for _, k := range []string{"store-extended-info", "option-data", "client-classes", "shared-networks", "subnet6"} {
		delete(d6, k)
	}
	maps.Copy(d6, map[string]any{
		"dhcp-ddns":                 map[string]any{"enable-updates": false},
		"ddns-qualifying-suffix":    "Example.ORG",
		"ddns-generated-prefix":     "gen",
		"hostname-char-set":         "[^A-Za-z0-9.-]",
		"hostname-char-replacement": "x",
		"subnet6": []any{
			map[string]any{"id": 1, "subnet": "2001:db8:1::/64", "interface": "s0", "rapid-commit": true,
				"reservations": []any{
					map[string]any{"duid": "00:03:00:01:0a:00:00:00:00:ee", "ip-addresses": []any{"2001:db8:1::5"},
						"hostname": "Reserved-Host"},
					map[string]any{"duid": "00:03:00:01:0a:00:00:00:00:ef", "hostname": "full.reserved.example.net."}},
				"pools":    []any{pools(1)},
				"pd-pools": []any{map[string]any{"prefix": "2001:db8:100::", "prefix-len": 40, "delegated-len": 56}}},
			map[string]any{"id": 2, "subnet": "2001:db8:2::/64", "ddns-replace-client-name": "always",
				"pools": []any{pools(2)}},
			map[string]any{"id": 3, "subnet": "2001:db8:3::/64", "ddns-replace-client-name": "when-present",
				"ddns-qualifying-suffix": "", "pools": []any{pools(3)}},
			map[string]any{"id": 4, "subnet": "2001:db8:4::/64", "ddns-replace-client-name": "when-not-present",
				"hostname-char-set": "", "pools": []any{pools(4)}},
		},
		"hooks-libraries": []any{map[string]any{"library": leaseCmdsHook}},
	})
	return map[string]any{"Dhcp6": d6}
}

// leaseCmdsHook is Debian's lease commands library, for
// lease6-get-by-hostname.
const leaseCmdsHook = "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_lease_cmds.so"

// fqdnOption is a Client FQDN option's content: flags, then name in DNS
// wire format, closed by the root label unless partial.
func fqdnOption(flags byte, name string, partial bool) []byte {
	b := []byte{flags}
	for _, l := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		if l == "" {
			continue
		}
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	if !partial {
		b = append(b, 0)
	}
	return b
}

// The Client FQDN flags.
const (
	flagS = 1
	flagO = 2
	flagN = 4
)

// fqdnScenarios are the exchanges compared: names partial and full, the
// flag combinations, the replace modes, reservations with a host name,
// and the Renew, Rebind and Solicit that follow.
func fqdnScenarios() []scenario {
	ll := netip.MustParseAddr("fe80::a00:0:0:1")
	link := func(n int) []relayHop {
		return []relayHop{{link: netip.MustParseAddr("2001:db8:" + string(rune('0'+n)) + "::1"), peer: ll}}
	}
	with := func(m msgSpec, fqdn []byte) msgSpec { m.fqdn = fqdn; return m }
	sol := msgSpec{typ: dhcp6.Solicit, na: []uint32{1}, pd: []uint32{2}}
	req := msgSpec{typ: dhcp6.Request, serverID: sideServerID, copyIAs: true}
	ren := msgSpec{typ: dhcp6.Renew, serverID: sideServerID, copyIAs: true}
	reb := msgSpec{typ: dhcp6.Rebind, copyIAs: true}
	// bound: Solicit and Request with fqdn (through relays, if any), then
	// the further steps.
	bound := func(name string, c *client, fqdn []byte, relays []relayHop, more ...step) scenario {
		how, first := viaMulticast, sol
		if relays != nil {
			// The relayed links have no prefix pools: addresses only.
			how, first = viaRelay, msgSpec{typ: dhcp6.Solicit, na: []uint32{1}}
		}
		steps := []step{{spec: with(first, fqdn), how: how, relays: relays}, {spec: with(req, fqdn), how: how, relays: relays}}
		for _, m := range more {
			if m.relays == nil {
				m.how, m.relays = how, relays
			}
			steps = append(steps, m)
		}
		return scenario{name: name, c: c, steps: steps}
	}
	partial := fqdnOption(flagS, "MyHost", true)
	full := fqdnOption(0, "Laptop.Example.COM", false)
	reserved := func(last byte) *client {
		return &client{duid: []byte{0, 3, 0, 1, 0x0a, 0, 0, 0, 0, last}, last: map[*side]*dhcp6.Packet{}}
	}
	return []scenario{
		{name: "advertise, partial name", c: newClient(), steps: []step{{spec: with(sol, partial)}}},
		{name: "advertise, empty name", c: newClient(), steps: []step{{spec: with(sol, fqdnOption(flagS, "", true))}}},
		{name: "option without flags", c: newClient(), steps: []step{{spec: with(sol, []byte{})}}},
		{name: "name past the option", c: newClient(), steps: []step{{spec: with(sol, []byte{flagS, 9, 'a'})}}},
		bound("partial name, S", newClient(), partial, nil),
		bound("full name, no flags", newClient(), full, nil),
		bound("N flag", newClient(), fqdnOption(flagN, "quiet", true), nil),
		bound("O flag from the client", newClient(), fqdnOption(flagO|flagS, "over", true), nil),
		bound("S and N both", newClient(), fqdnOption(flagS|flagN, "both", true), nil),
		bound("reserved bits", newClient(), append([]byte{0x80 | flagS}, fqdnOption(0, "mbz", true)[1:]...), nil),
		bound("two labels, partial", newClient(), fqdnOption(flagS, "a.b", true), nil),
		bound("name to sanitize", newClient(), fqdnOption(flagS, "my_host.x y", true), nil),
		bound("empty name", newClient(), fqdnOption(flagS, "", true), nil),
		bound("empty full name", newClient(), fqdnOption(flagS, "", false), nil),
		bound("without FQDN", newClient(), nil, nil),
		bound("reservation, partial name", reserved(0xee), partial, nil),
		bound("reservation, no FQDN", reserved(0xee), nil, nil),
		bound("reservation with a full name", reserved(0xef), full, nil),
		bound("renew with the same name", newClient(), partial, nil, step{spec: with(ren, partial)}),
		bound("renew with another name", newClient(), partial, nil, step{spec: with(ren, fqdnOption(flagS, "other", true))}),
		bound("renew without FQDN", newClient(), partial, nil, step{spec: ren}),
		bound("rebind with the name", newClient(), partial, nil, step{spec: with(reb, partial)}),
		bound("solicit again after binding", newClient(), partial, nil, step{spec: with(sol, partial)}),
		bound("solicit with an empty name after binding", newClient(), partial, nil, step{spec: with(sol, fqdnOption(flagS, "", true))}),
		{name: "rapid commit", c: newClient(), steps: []step{{spec: with(msgSpec{typ: dhcp6.Solicit, na: []uint32{1}, rapid: true}, partial)}}},
		{name: "prefix only, empty name", c: newClient(), steps: []step{
			{spec: with(msgSpec{typ: dhcp6.Solicit, pd: []uint32{2}}, fqdnOption(flagS, "", true))},
			{spec: with(req, fqdnOption(flagS, "", true))}}},
		{name: "information-request", c: newClient(), steps: []step{{spec: with(msgSpec{typ: dhcp6.InformationRequest}, partial)}}},
		bound("replace always", newClient(), partial, link(2)),
		bound("replace always, no FQDN", newClient(), nil, link(2)),
		bound("replace when-present, no suffix", newClient(), partial, link(3)),
		bound("no suffix, renew with a name", newClient(), nil, link(3), step{spec: with(ren, partial)}),
		bound("no suffix, full name", newClient(), full, link(4)),
		bound("replace when-not-present", newClient(), partial, link(4)),
		bound("replace when-not-present, no FQDN", newClient(), nil, link(4)),
		bound("no sanitizer, odd characters", newClient(), fqdnOption(flagS, "A b;c,d\\x\xff.Ex", true), link(4)),
	}
}

// TestKeaFQDN runs the host name scenarios against kea-dhcp6 and the
// engine with one configuration and compares the replies (their Client
// FQDN option included), the lease files (hostname, fqdn_fwd, fqdn_rev)
// and what a look-up by host name finds.
func TestKeaFQDN(t *testing.T) {
	if _, err := exec.LookPath(keaDhcp6); err != nil {
		t.Skipf("kea-dhcp6 is not installed: %v", err)
	}
	kea, xd := newSide(t, "fk"), newSide(t, "fx")
	kea.startKeaWith(t, fqdnConfig(kea.dir))
	xd.startEngine(t, func(dir string) *config.Config6 {
		raw, err := json.Marshal(fqdnConfig(dir))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Parse(raw)
		if err != nil {
			t.Fatalf("fqdnConfig does not load: %v", err)
		}
		return cfg.Dhcp6
	})
	diffs := runScenarios(t, kea, xd, fqdnScenarios())
	diffs = append(diffs, compareStats(kea, xd, "pkt6-received", "pkt6-solicit-received", "pkt6-request-received",
		"pkt6-renew-received", "pkt6-receive-drop", "pkt6-parse-failed", "pkt6-sent", "subnet[1].assigned-nas",
		"cumulative-assigned-nas")...)
	diffs = append(diffs, compareLeaseFiles(filepath.Join(kea.dir, "leases6.csv"), filepath.Join(xd.dir, "leases6.csv"))...)
	// Kea lowercases the name asked for and compares it exactly with the
	// stored one, so it never finds a name stored with capitals (a
	// reservation's hostname, a generated name's suffix); xdhcp compares
	// without case and finds those too.
	caseOnly := map[string]bool{"Reserved-Host": true, "gen-2001-db8-2--100.example.org.": true}
	for _, name := range []string{"myhost.example.org.", "MyHost.example.org.", "myhost.example.org", "reserved-host.example.org.",
		"Reserved-Host", "laptop.example.com.", "other.example.org.", "gen-2001-db8-2--100.example.org."} {
		a, err := kea.ctl.Try("lease6-get-by-hostname", map[string]any{"hostname": name})
		if err != nil {
			t.Fatal(err)
		}
		var args struct {
			Leases []struct {
				Addr string `json:"ip-address"`
			} `json:"leases"`
		}
		if a.Result != 0 && a.Result != 3 {
			t.Fatalf("kea-dhcp6 lease6-get-by-hostname: %d %s", a.Result, a.Text)
		}
		_ = json.Unmarshal(a.Arguments, &args)
		var k, x []string
		for _, l := range args.Leases {
			k = append(k, l.Addr)
		}
		for _, l := range xd.store.ByHostname(strings.ToLower(name)) {
			x = append(x, l.Addr.String())
		}
		slices.Sort(k)
		slices.Sort(x)
		t.Logf("by hostname %q: kea %v, xdhcp %v", name, k, x)
		if caseOnly[name] {
			if len(k) != 0 || len(x) == 0 {
				diffs = append(diffs, fmt.Sprintf("leases of hostname %s: kea %v (want none), xdhcp %v (want some)", name, k, x))
			}
			continue
		}
		if !slices.Equal(k, x) {
			diffs = append(diffs, "leases of hostname "+name+": kea "+strings.Join(k, " ")+", xdhcp "+strings.Join(x, " "))
		}
	}
	for _, d := range diffs {
		t.Error(d)
	}
}
