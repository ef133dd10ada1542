package main

// The same configuration and the same relayed packets go to Debian's
// kea-dhcp4 2.2 and then to xdhcpd in one lab; their answers are compared
// field by field: client classes at every level (required classes of the
// shared network, subnet and pool), classes on option 82 sub-options,
// vendor and packet fields, reservations by circuit-id in the configured
// identifier order, the relay information kept with the lease
// (store-extended-info) and stat-lease4-get.

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"xdhcp/internal/daemontest"
)

// keaStatCmds is Debian's path of Kea's stat_cmds hook.
const keaStatCmds = "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_stat_cmds.so"

// classesConfig is the configuration both servers run (Kea's section only;
// xdhcpd gets its socket mode and control listener added).
func classesConfig(leases string) map[string]any {
	opt := func(name, data string) map[string]any { return map[string]any{"name": name, "data": data} }
	class := func(name, test string, only bool, opts ...map[string]any) map[string]any {
		c := map[string]any{"name": name, "option-data": opts}
		if test != "" {
			c["test"] = test
		}
		if only {
			c["only-if-required"] = true
		}
		return c
	}
	return map[string]any{"Dhcp4": map[string]any{
		"interfaces-config":            map[string]any{"interfaces": []any{e2eServerIf}, "dhcp-socket-type": "udp"},
		"lease-database":               map[string]any{"type": "memfile", "persist": true, "lfc-interval": 0, "name": leases},
		"valid-lifetime":               3600,
		"store-extended-info":          true,
		"host-reservation-identifiers": []any{"circuit-id", "hw-address"},
		"option-data":                  []any{opt("domain-name", "global")},
		"client-classes": []any{
			class("early", "option[60].exists", false, opt("nisplus-domain-name", "early")),
			class("circuit", "option[82].option[1].hex == 'port-A'", false, opt("root-path", "circuit")),
			class("circuit-text", "relay4[1].text == 'port-A'", false, opt("extensions-path", "text")),
			class("remote", "substring(relay4[2].hex, 0, 4) == 'rack'", false, opt("merit-dump", "remote")),
			class("docsis", "vendor-class[4491].data == 'docsis3.0' and vendor[4491].exists", false, opt("nwip-domain-name", "docsis")),
			class("vendor-any", "vendor[*].option[2].exists", false, opt("nds-tree-name", "vendor")),
			class("fields", "pkt4.giaddr == 10.88.0.2 and pkt4.hlen == 6 and pkt4.htype == 1", false, opt("nds-context", "fields")),
			class("bigpkt", "pkt.len == 300", false, opt("uap-servers", "len300")),
			class("net-req", "option[60].text == 'docsis3.0'", true, opt("domain-name", "net")),
			class("sub-req", "pkt4.msgtype == 1 or pkt4.msgtype == 3", true, opt("domain-name", "sub"), opt("tftp-server-name", "sub")),
			class("dep", "member('sub-req')", true, opt("nis-domain", "dep")),
			class("pool-req", "", true, opt("tftp-server-name", "pool"), opt("boot-file-name", "pool")),
			class("unreq", "option[60].exists", true, opt("pcode", "unreq")),
			class("hostcls", "", false, opt("nisplus-domain-name", "hostcls"), opt("domain-name", "hostcls")),
		},
		"shared-networks": []any{map[string]any{
			"name": "net", "require-client-classes": []any{"net-req"},
			"subnet4": []any{map[string]any{
				"id": 1, "subnet": "10.88.0.0/16", "require-client-classes": []any{"sub-req", "dep"},
				"pools": []any{map[string]any{"pool": "10.88.1.0 - 10.88.1.250", "require-client-classes": []any{"pool-req"}}},
				"reservations": []any{
					map[string]any{"circuit-id": "'port-R'", "ip-address": "10.88.2.7", "option-data": []any{opt("pcode", "resv")}},
					map[string]any{"hw-address": "02:78:65:07:00:01", "ip-address": "10.88.2.8"},
					map[string]any{"hw-address": "02:78:65:07:00:14", "client-classes": []any{"hostcls"}},
				},
			}},
		}},
		"hooks-libraries": []any{map[string]any{"library": keaLeaseCmds}, map[string]any{"library": keaStatCmds}},
		"loggers": []any{map[string]any{
			"name": "kea-dhcp4", "severity": "INFO",
			"output_options": []any{map[string]any{"output": "stdout"}},
		}},
	}}
}

// classCase is one client: its chaddr and what its DISCOVER carries.
type classCase struct {
	name string
	mac  net.HardwareAddr
	mods []dhcpv4.Modifier
}

func classCases() []classCase {
	rai := func(subs ...[]byte) dhcpv4.Modifier {
		return dhcpv4.WithGeneric(dhcpv4.OptionRelayAgentInformation, bytes.Join(subs, nil))
	}
	sub := func(code byte, v string) []byte { return append([]byte{code, byte(len(v))}, v...) }
	vivco := []byte{0, 0, 0x11, 0x8b, 9}
	vivco = append(vivco, "docsis3.0"...)
	vivso := []byte{0, 0, 0x11, 0x8b, 6, 2, 4, 10, 88, 0, 1}
	prl := dhcpv4.WithRequestedOptions(dhcpv4.OptionDomainName, dhcpv4.OptionNetworkInformationServiceDomain,
		dhcpv4.OptionNetworkInformationServicePlusDomain, dhcpv4.OptionTFTPServerName, dhcpv4.OptionBootfileName,
		dhcpv4.OptionRootPath, dhcpv4.OptionExtensionsPath, dhcpv4.OptionMeritDumpFile, dhcpv4.OptionNetWareIPDomainName,
		dhcpv4.OptionNDSTreeName, dhcpv4.OptionNDSContext, dhcpv4.OptionOpenGroupUserAuthentication, dhcpv4.OptionIEEE10031TZString,
		dhcpv4.OptionRouter)
	return []classCase{
		{"plain", mac(7, 10), []dhcpv4.Modifier{prl}},
		{"option60", mac(7, 11), []dhcpv4.Modifier{prl, dhcpv4.WithOption(dhcpv4.OptClassIdentifier("docsis3.0"))}},
		{"circuit", mac(7, 12), []dhcpv4.Modifier{prl, rai(sub(1, "port-A"), sub(2, "rack-9"))}},
		{"circuit-reversed", mac(7, 13), []dhcpv4.Modifier{prl, rai(sub(2, "rack-1"), sub(1, "port-B"))}},
		{"vendor", mac(7, 14), []dhcpv4.Modifier{prl, dhcpv4.WithGeneric(dhcpv4.GenericOptionCode(124), vivco),
			dhcpv4.WithGeneric(dhcpv4.GenericOptionCode(125), vivso), dhcpv4.WithOption(dhcpv4.OptClassIdentifier("docsis3.0"))}},
		{"reserved-circuit", mac(7, 1), []dhcpv4.Modifier{prl, rai(sub(1, "port-R"))}}, // also hw-reserved: circuit-id first
		{"reserved-hw", mac(7, 1), []dhcpv4.Modifier{prl, rai(sub(1, "port-X"))}},
		// The reservation's class outranks the classes evaluated on
		// arrival and the required ones.
		{"reserved-classes", mac(7, 20), []dhcpv4.Modifier{prl, dhcpv4.WithOption(dhcpv4.OptClassIdentifier("docsis3.0"))}},
	}
}

// reply is what the comparison looks at.
type reply struct {
	Type, Yiaddr, Siaddr, Sname, File string
	Options                           map[string]string // code -> hex
}

func replyOf(m *dhcpv4.DHCPv4) reply {
	r := reply{Type: m.MessageType().String(), Yiaddr: m.YourIPAddr.String(), Siaddr: m.ServerIPAddr.String(),
		Sname: m.ServerHostName, File: m.BootFileName, Options: map[string]string{}}
	for code, v := range m.Options {
		r.Options[fmt.Sprint(code)] = hex.EncodeToString(v)
	}
	return r
}

// runClassCases sends every case's DISCOVER and REQUEST through the relay
// socket and returns the answers by case name, then the lease's user
// context and the stat-lease4-get rows as c reports them.
func runClassCases(t *testing.T, relay *net.UDPConn, c daemontest.Commander) (map[string][2]reply, map[string]string, string) {
	t.Helper()
	gi := net.ParseIP(e2eClientIP).To4()
	out := map[string][2]reply{}
	ctxs := map[string]string{}
	for _, cc := range classCases() {
		mods := append([]dhcpv4.Modifier{dhcpv4.WithGatewayIP(gi), func(m *dhcpv4.DHCPv4) { m.HopCount = 1 }}, cc.mods...)
		disc, err := dhcpv4.NewDiscovery(cc.mac, mods...)
		if err != nil {
			t.Fatal(err)
		}
		offer, _ := sendRelayed(t, relay, disc)
		req, err := dhcpv4.NewRequestFromOffer(offer, mods...)
		if err != nil {
			t.Fatal(err)
		}
		ack, _ := sendRelayed(t, relay, req)
		out[cc.name] = [2]reply{replyOf(offer), replyOf(ack)}
		a, err := c.Try("lease4-get", map[string]any{"ip-address": ack.YourIPAddr.String()})
		if err != nil || a.Result != 0 {
			t.Fatalf("%s: lease4-get %s: %v %+v", cc.name, ack.YourIPAddr, err, a)
		}
		var l struct {
			UserContext json.RawMessage `json:"user-context"`
		}
		_ = json.Unmarshal(a.Arguments, &l)
		ctxs[cc.name] = string(l.UserContext)
	}
	a, err := c.Try("stat-lease4-get", nil)
	if err != nil || a.Result != 0 {
		t.Fatalf("stat-lease4-get: %v %+v", err, a)
	}
	var rs struct {
		Set struct {
			Columns []string  `json:"columns"`
			Rows    [][]int64 `json:"rows"`
		} `json:"result-set"`
	}
	if err := json.Unmarshal(a.Arguments, &rs); err != nil {
		t.Fatalf("stat-lease4-get arguments %s: %v", a.Arguments, err)
	}
	stat, _ := json.Marshal(rs.Set)
	return out, ctxs, a.Text + " " + string(stat)
}

func TestE2EClassesAgainstKea(t *testing.T) {
	bin, err := exec.LookPath("kea-dhcp4")
	if err != nil {
		t.Skipf("kea-dhcp4 is not installed: %v", err)
	}
	for _, lib := range []string{keaLeaseCmds, keaStatCmds} {
		if _, err := os.Stat(lib); err != nil {
			t.Skipf("Kea hook %s is not installed: %v", lib, err)
		}
	}
	e := newEnv(t)

	// Kea first.
	sock := filepath.Join(e.dir, "kea.sock")
	kcfg := classesConfig(filepath.Join(e.dir, "kea-leases4.csv"))
	dhcp4(kcfg)["control-socket"] = map[string]any{"socket-type": "unix", "socket-name": sock}
	k := &kea{e: e, sock: sock}
	k.Process = daemontest.NewProcess(t, daemontest.ProcessOptions{
		Name: "kea-dhcp4", NS: e.srv,
		Args: []string{bin, "-c", e.writeConfig("kea-classes.json", kcfg)},
		Env:  []string{"KEA_PIDFILE_DIR=" + e.dir, "KEA_LOCKFILE_DIR=" + e.dir},
		Log:  filepath.Join(e.dir, "kea-dhcp4.log"),
	})
	k.Launch()
	k.WaitUntil(15*time.Second, "started", func() error { return answers(k, "version-get") })
	relay := e.udpConn("0.0.0.0:67")
	keaAns, keaCtx, keaStat := runClassCases(t, relay, k)
	k.stop()

	// Then xdhcpd, on the same configuration.
	xcfg := classesConfig(e.leasePath())
	dhcp4(xcfg)["xdhcp"] = map[string]any{"xdp": map[string]any{"mode": "off"}, daemontest.InsecureControlKey: true}
	dhcp4(xcfg)["control-sockets"] = []any{map[string]any{
		"socket-type": "http", "socket-address": "127.0.0.1", "socket-port": e2eCtlPort,
	}}
	d := e.startDaemon(xcfg)
	xAns, xCtx, xStat := runClassCases(t, relay, d)

	names := make([]string, 0, len(keaAns))
	for n := range keaAns {
		names = append(names, n)
	}
	sort.Strings(names)
	compared := 0
	for _, n := range names {
		for i, what := range []string{"OFFER", "ACK"} {
			kr, xr := keaAns[n][i], xAns[n][i]
			compared++
			// Both allocate from the pool; which free address comes first
			// is not part of the behaviour compared.
			if kr.Yiaddr != xr.Yiaddr {
				ka, xa := netip.MustParseAddr(kr.Yiaddr), netip.MustParseAddr(xr.Yiaddr)
				pool := func(a netip.Addr) bool {
					return a.Compare(netip.MustParseAddr(e2ePoolStart)) >= 0 && a.Compare(netip.MustParseAddr(e2ePoolEnd)) <= 0
				}
				if !pool(ka) || !pool(xa) {
					t.Errorf("%s %s: yiaddr Kea %s, xdhcpd %s", n, what, ka, xa)
				}
			}
			kr.Yiaddr, xr.Yiaddr = "", ""
			kj, _ := json.Marshal(kr)
			xj, _ := json.Marshal(xr)
			if !bytes.Equal(kj, xj) {
				t.Errorf("%s %s differs:\n  Kea    %s\n  xdhcpd %s", n, what, kj, xj)
			}
		}
		if keaCtx[n] != xCtx[n] && !sameJSON(json.RawMessage(keaCtx[n]), xCtx[n]) {
			t.Errorf("%s: lease user-context Kea %s, xdhcpd %s", n, keaCtx[n], xCtx[n])
		}
	}
	if keaStat != xStat {
		t.Errorf("stat-lease4-get:\n  Kea    %s\n  xdhcpd %s", keaStat, xStat)
	}
	t.Logf("%d answers compared over %d clients; stat-lease4-get: %s", compared, len(names), strings.TrimSpace(keaStat))
}
