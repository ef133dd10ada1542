package main

// DHCPv6 host names (the Client FQDN option, reservations' hostname)
// against what kea-dhcp6 2.2 does with the same configuration, DNS
// updates off.

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	w6 "xdhcp/dhcp6"
	"xdhcp/internal/daemontest"
)

// fqdn6 is a Client FQDN option (flags, then the name's labels; the root
// label closes a full name).
func fqdn6(flags byte, name string, full bool) []byte {
	b := w6.Builder{}
	mk := b.Begin(w6.OptClientFQDN)
	b.B = append(b.B, flags)
	for _, l := range strings.Split(name, ".") {
		if l != "" {
			b.B = append(append(b.B, byte(len(l))), l...)
		}
	}
	if full {
		b.B = append(b.B, 0)
	}
	b.End(mk)
	return b.B
}

// hostnameSteps6 drives clients that send names (and one with a reserved
// hostname, and dhclient -6 sending its own) against whichever server
// runs. Each step's record is its script calls, sorted, then one
// pseudo-call "answer" with the Reply's Client FQDN option and what
// lease6-get says of the client's address and prefix.
func hostnameSteps6(t *testing.T, e *e2eEnv, dir string) [][]scriptCall {
	c := newClient6(t, e)
	ctl := daemontest.NewUnixControl(filepath.Join(e.dir, "ctl6.sock"), 5*time.Second)
	var steps [][]scriptCall
	step := func(want int, reply *w6.Packet, b *binding6) {
		t.Helper()
		calls := sortCalls6(settledCalls(t, dir, want))
		ans := scriptCall{arg: "answer", vars: map[string]string{}}
		if reply != nil {
			v, ok := reply.Msg.Options.Get(w6.OptClientFQDN)
			ans.vars["FQDN_OPTION"] = fmt.Sprintf("%v %s", ok, hex.EncodeToString(v))
		}
		if b != nil {
			for key, q := range map[string]map[string]any{"LEASE_NA": {"ip-address": b.addr.String()},
				"LEASE_PD": {"ip-address": b.prefix.String(), "type": "IA_PD"}} {
				a, err := ctl.Try("lease6-get", q)
				if err != nil {
					t.Fatal(err)
				}
				var l map[string]any
				_ = json.Unmarshal(a.Arguments, &l)
				ans.vars[key] = fmt.Sprintf("hostname=%q fqdn-fwd=%v fqdn-rev=%v", l["hostname"], l["fqdn-fwd"], l["fqdn-rev"])
			}
		}
		steps = append(steps, append(calls, ans))
	}
	// bind: Solicit and Request with the option fqdn, naming hint if any
	// (both servers then lease the same address, whose generated name
	// shows it).
	bind := func(txid byte, duid, fqdn []byte, hint *binding6) (*w6.Packet, *binding6) {
		adv := c.exchange(append(c.msg6(w6.Solicit, txid, duid, hint), fqdn...), false)
		c.serverID, _ = adv.Msg.Options.Get(w6.OptServerID)
		rep := c.exchange(append(c.msg6(w6.Request, txid+1, duid, hint), fqdn...), false)
		return rep, bindingOf(t, rep)
	}
	duidA := []byte{0, 3, 0, 1, 2, 0, 0, 0, 0x71, 1}
	rep, ba := bind(1, duidA, fqdn6(1, "MyHost", false), nil)
	step(1, rep, ba)
	rep = c.exchange(append(c.msg6(w6.Renew, 3, duidA, ba), fqdn6(1, "Other", false)...), false)
	step(3, rep, ba)
	rep = c.exchange(c.msg6(w6.Renew, 4, duidA, ba), false)
	step(3, rep, ba)
	rep, bb := bind(5, []byte{0, 3, 0, 1, 2, 0, 0, 0, 0x71, 2}, fqdn6(0, "Laptop.Example.COM", true), nil)
	step(1, rep, bb)
	rep, bc := bind(7, []byte{0, 3, 0, 1, 2, 0, 0, 0, 0x71, 3}, fqdn6(1, "", false),
		&binding6{addr: netip.MustParseAddr("2001:db8:1::1c0"), prefix: netip.MustParseAddr("2001:db8:1c0::"), plen: 56})
	step(1, rep, bc)
	rep, bd := bind(9, reservedHostDUID, nil, nil)
	step(1, rep, bd)
	// ISC dhclient -6 sending its name (as a full name: "dhc-Host."), from a lease file that holds only
	// its DUID (the same for both servers).
	c.close() // dhclient takes port 546
	if err := os.WriteFile(filepath.Join(e.dir, "dhclient6.leases"),
		[]byte(`default-duid "\000\003\000\001\002\000\000\000\161\004";`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(e.dir, "dhclient6.conf")
	if err := os.WriteFile(conf, []byte("send fqdn.fqdn \"dhc-Host\";\nsend fqdn.server-update on;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.dhclient6(t, "-cf", conf)
	calls := settledCalls(t, dir, 1)
	byName := scriptCall{arg: "lease6-get-by-hostname", vars: map[string]string{}}
	for _, name := range []string{"dhc-host.", "DHC-Host.", "myhost.example.org.", "other.example.org.", "laptop.example.com."} {
		a, err := ctl.Try("lease6-get-by-hostname", map[string]any{"hostname": name})
		if err != nil {
			t.Fatal(err)
		}
		var args struct {
			Leases []map[string]any `json:"leases"`
		}
		_ = json.Unmarshal(a.Arguments, &args)
		var types []string
		for _, l := range args.Leases {
			types = append(types, fmt.Sprint(l["type"]))
		}
		sort.Strings(types)
		byName.vars[name] = fmt.Sprint(a.Result, types)
	}
	steps = append(steps, append(calls, byName))
	return steps
}

// reservedHostDUID is the client the configuration reserves a hostname
// for.
var reservedHostDUID = []byte{0, 3, 0, 1, 2, 0, 0, 0, 0x71, 0xee}

// TestE2EDHCPv6HostnamesMatchKea: kea-dhcp6 2.2 and xdhcpd with the same
// Dhcp6 section (DNS updates off, a qualifying suffix, a reservation with
// a hostname, Debian's run_script and lease_cmds libraries), driven by
// the same clients (names partial and full, an empty one, a Renew
// changing and dropping the name, ISC dhclient -6 sending its own),
// answer the same Client FQDN option, store the same hostname and
// fqdn-fwd/fqdn-rev, give the scripts the same LEASE6_HOSTNAME and find
// the same leases by hostname.
func TestE2EDHCPv6HostnamesMatchKea(t *testing.T) {
	e, scripted := runScriptEnv6(t)
	section := func(dir string, _ bool) map[string]any {
		s := scripted(dir)
		s["hooks-libraries"] = append(s["hooks-libraries"].([]any), map[string]any{"library": keaHooksDir + "/libdhcp_lease_cmds.so"})
		s["dhcp-ddns"] = map[string]any{"enable-updates": false}
		s["ddns-qualifying-suffix"] = "example.org"
		s["ddns-generated-prefix"] = "host"
		sn := s["subnet6"].([]any)[0].(map[string]any)
		sn["reservations"] = []any{map[string]any{"duid": hex.EncodeToString(reservedHostDUID), "hostname": "Reserved-Host"}}
		return s
	}
	keaSteps, xSteps, _ := runPair6(t, e, section, hostnameSteps6)
	compareSteps(t, keaSteps, xSteps, leaseAddrs6)
	// What the comparison rests on: Kea answers names and stores them.
	first := keaSteps[0][len(keaSteps[0])-1].vars
	if first["FQDN_OPTION"] != "true 06066d79686f7374076578616d706c65036f726700" ||
		first["LEASE_NA"] != `hostname="myhost.example.org." fqdn-fwd=false fqdn-rev=false` {
		t.Errorf("kea-dhcp6's first answer: %v", first)
	}
	last := keaSteps[len(keaSteps)-1]
	if h := last[0].vars["LEASES6_AT0_HOSTNAME"]; h != "dhc-host." || last[len(last)-1].vars["dhc-host."] != "0 [IA_NA IA_PD]" {
		t.Errorf("kea-dhcp6 and dhclient -6: hostname %q, found by it: %v", h, last[len(last)-1].vars)
	}
}
