package keadiff

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"xdhcp/internal/daemontest"
)

var xdhcpdBin = daemontest.NewBinary("kd-bin-")

func TestMain(m *testing.M) { os.Exit(xdhcpdBin.RunTests(m)) }

// keaExamples is where Debian's kea-doc installs Kea 2.2's example
// configurations.
const keaExamples = "/usr/share/doc/kea/examples/kea4"

// keaRefusesExamples are the examples kea-dhcp4 refuses, by -t or at
// start, even after Adapt, with a piece of what it says: the suite proves
// that they are all it leaves out.
var keaRefusesExamples = map[string]string{
	// A MySQL configuration backend: no database server in the lab.
	"all-keys.json":         "during update from config backend database",
	"all-keys-netconf.json": "during update from config backend database",
	"config-backend.json":   "during update from config backend database",
	// Passes -t, but Kea will not run a logger without a severity.
	"comments.json": "does not have a mandatory 'severity' element",
	// Hook libraries that Debian does not ship (made-up names; ISC's
	// premium RADIUS, host cache and flex-id hooks).
	"hooks.json":        "/opt/lib/security.so",
	"hooks-radius.json": "libdhcp_radius.so",
}

// suite gathers the cases of one TestDifferential run.
type suite struct {
	cases     []Case
	scenarios int
}

// run starts one scenario, runs its clients and fails t on a difference
// KnownDifferences does not list. It returns false when Kea refuses the
// configuration (nothing ran).
func (s *suite) run(t *testing.T, name string, doc map[string]any, clients func(*Plan) []Client) (keaRefused string) {
	t.Helper()
	r := Start(t, name, doc, xdhcpdBin.Path(t))
	if r.KeaRefused != "" {
		return r.KeaRefused
	}
	s.scenarios++
	if len(r.Adapted) > 0 {
		t.Logf("adapted: %s", strings.Join(r.Adapted, "; "))
	}
	if r.XDRefused == "" {
		for _, c := range clients(r.Plan) {
			r.Exchange(c)
		}
	}
	for _, cs := range r.Cases {
		if check, ok := keaShows[cs.Name]; ok {
			if err := check(cs.Kea); err != nil {
				t.Errorf("%s: the scenario does not exercise what it claims: Kea's answer: %v", cs.Name, err)
			}
		}
	}
	bad, _ := Explain(KnownDifferences, r.Cases)
	for _, b := range bad {
		t.Errorf("unlisted difference: %s", b)
	}
	for _, cs := range r.Cases {
		t.Log(cs.Summary())
	}
	s.cases = append(s.cases, r.Cases...)
	return ""
}

func TestDifferential(t *testing.T) {
	s := &suite{}
	examples, err := filepath.Glob(filepath.Join(keaExamples, "*.json"))
	if err != nil || len(examples) == 0 {
		t.Run("examples", func(t *testing.T) {
			t.Skipf("Kea's example configurations are not installed (%s, package kea-doc): %v", keaExamples, err)
		})
	}
	refused := map[string]string{}
	ran := 0
	for _, path := range examples {
		base := filepath.Base(path)
		t.Run("example/"+strings.TrimSuffix(base, ".json"), func(t *testing.T) {
			ran++
			text, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			doc, err := Decode(text)
			if err != nil {
				t.Fatal(err)
			}
			if why := s.run(t, strings.TrimSuffix(base, ".json"), doc, exampleClients); why != "" {
				refused[base] = why
				t.Logf("kea-dhcp4 refuses %s: %s", base, why)
			}
		})
	}
	for name, clients := range ispScenarios {
		t.Run("isp/"+name, func(t *testing.T) {
			ran++
			text, err := os.ReadFile(filepath.Join("testdata", name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			doc, err := Decode(text)
			if err != nil {
				t.Fatal(err)
			}
			if why := s.run(t, name, doc, clients); why != "" {
				t.Fatalf("kea-dhcp4 -t refuses testdata/%s.json: %s", name, why)
			}
		})
	}
	t.Logf("%d scenarios, %d cases", s.scenarios, len(s.cases))
	for name, why := range refused {
		t.Logf("left out (kea-dhcp4 refuses it): %s: %s", name, why)
	}
	if ran < len(examples)+len(ispScenarios) || len(examples) == 0 {
		return // a -run filter: the table's rows cannot all be judged
	}
	for name, why := range refused {
		if want, ok := keaRefusesExamples[name]; !ok || !strings.Contains(why, want) {
			t.Errorf("kea-dhcp4 refuses %s (%s); the suite expects %q", name, why, want)
		}
	}
	for name := range keaRefusesExamples {
		if _, ok := refused[name]; !ok {
			t.Errorf("kea-dhcp4 runs %s now: take it off keaRefusesExamples", name)
		}
	}
	_, hits := Explain(KnownDifferences, s.cases)
	for i, k := range KnownDifferences {
		if hits[i] == 0 {
			t.Errorf("known difference matches nothing (remove it): %+v", k)
		} else {
			t.Logf("%s difference, %d times: %s %s: %s", k.Kind, hits[i], k.Case, k.Field, k.Reason)
		}
	}
}

// mac returns a locally administered MAC unique per (group, i).
func mac(group, i int) net.HardwareAddr {
	return net.HardwareAddr{0x02, 0x6b, 0x64, byte(group), byte(i >> 8), byte(i)}
}

// hexBytes reads Kea's "01:02:…" (or plain hex) identifiers.
func hexBytes(s string) []byte {
	var out []byte
	s = strings.ReplaceAll(s, ":", "")
	for i := 0; i+1 < len(s); i += 2 {
		var b byte
		fmt.Sscanf(s[i:i+2], "%02x", &b)
		out = append(out, b)
	}
	return out
}

func opt(code uint8, v []byte) dhcpv4.Option {
	return dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(code), v)
}

func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// relayInfo is option 82 with a circuit-id and a remote-id.
func relayInfo(circuit, remote []byte) dhcpv4.Option {
	return dhcpv4.OptRelayAgentInfo(dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(1), circuit),
		dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(2), remote))
}

// shapes are the client kinds every example meets, chosen to hit what the
// examples' classes test (vendor class strings, the MAC, message type),
// identifiers, and the lifetime a client asks for.
var shapes = []struct {
	name string
	mac  net.HardwareAddr
	opts []dhcpv4.Option
}{
	{name: "aastra-phone", opts: []dhcpv4.Option{opt(60, []byte("Aastra 6739i"))}},
	{name: "docsis-modem", opts: []dhcpv4.Option{opt(60, []byte("docsis3.0:053701010102010201"))}},
	{name: "vendor-339", opts: []dhcpv4.Option{opt(60, []byte("339"))}},
	{name: "pxe", opts: []dhcpv4.Option{opt(60, []byte("PXEClient:Arch:00000:UNDI:002001")), opt(93, []byte{0, 0})}},
	{name: "mac-010203040506", mac: net.HardwareAddr{1, 2, 3, 4, 5, 6}},
	{name: "client-id", opts: []dhcpv4.Option{opt(61, []byte{1, 0xaa, 0xbb, 0xcc, 0, 0, 1})}},
	{name: "option82", opts: []dhcpv4.Option{relayInfo([]byte("eth0/1/1:100"), []byte("remote-1"))}},
	{name: "user-class", opts: []dhcpv4.Option{opt(77, []byte("\x04iPXE"))}},
	{name: "hostname", opts: []dhcpv4.Option{opt(12, []byte("host-a"))}},
	{name: "asks-long-lease", opts: []dhcpv4.Option{opt(51, u32(1000000))}},
	{name: "asks-short-lease", opts: []dhcpv4.Option{opt(51, u32(30))}},
	{name: "typical-prl", opts: []dhcpv4.Option{opt(55, []byte{1, 3, 6, 12, 15, 28, 42, 51, 54, 58, 59, 119, 121})}},
}

// exampleClients shapes clients after a configuration: per subnet (at
// most eight) one relayed client, and a direct one where the lab has an
// interface in it; one client per reservation, with its MAC, client-id or
// circuit-id; and every shape, relayed into the first subnet.
func exampleClients(p *Plan) []Client {
	var out []Client
	n := 0
	next := func() net.HardwareAddr { n++; return mac(1, n) }
	for i, s := range p.Subnets {
		if i >= 8 {
			break
		}
		// Named after the subnet's prefix: examples may leave ids out.
		name := strings.NewReplacer("/", "_").Replace(s.Prefix.String())
		out = append(out, Client{Name: name + "-relayed", MAC: next(), Subnet: i, Relayed: true})
		if p.IfaceFor(s) >= 0 {
			out = append(out, Client{Name: name + "-direct", MAC: next(), Subnet: i})
		}
	}
	if len(p.Subnets) == 0 {
		return out
	}
	reserve := func(h Host, subnet int, what string) {
		c := Client{Name: fmt.Sprintf("reserved-%s-%d", what, len(out)), MAC: next(), Subnet: subnet, Relayed: true}
		switch {
		case h.HWAddr != "":
			c.MAC = net.HardwareAddr(hexBytes(h.HWAddr))
			c.Name = "reserved-hw-" + h.HWAddr
		case h.ClientID != "":
			c.Options = []dhcpv4.Option{opt(61, hexBytes(h.ClientID))}
			c.Name = "reserved-client-id-" + h.ClientID
		case h.CircuitID != "":
			c.Options = []dhcpv4.Option{relayInfo(hexBytes(h.CircuitID), []byte("r"))}
			c.Name = "reserved-circuit-id-" + h.CircuitID
		default:
			return
		}
		out = append(out, c)
	}
	for i, s := range p.Subnets {
		for _, h := range s.Hosts {
			reserve(h, i, "subnet")
		}
	}
	for _, h := range p.Hosts {
		reserve(h, 0, "global")
	}
	for _, sh := range shapes {
		m := sh.mac
		if m == nil {
			m = next()
		}
		out = append(out, Client{Name: sh.name, MAC: m, Subnet: 0, Relayed: true, Options: sh.opts})
	}
	return out
}

// ispScenarios are the project's own configurations (testdata/NAME.json)
// and their clients.
var ispScenarios = map[string]func(*Plan) []Client{
	"isp-relay82": func(*Plan) []Client {
		o82 := func(circuit, remote string) dhcpv4.Option { return relayInfo([]byte(circuit), []byte(remote)) }
		lease := func(s uint32) dhcpv4.Option { return opt(51, u32(s)) }
		c := func(i int, name string, subnet int, opts ...dhcpv4.Option) Client {
			return Client{Name: name, MAC: mac(2, i), Subnet: subnet, Relayed: true, Options: opts}
		}
		return []Client{
			c(1, "ont-reserved-by-circuit", 0, o82("olt-1/pon-3/ont-7", "cpe-7")),
			c(2, "olt1-class", 0, o82("olt-1/pon-1/ont-2", "cpe-2")),
			c(3, "business-class-pool", 0, o82("olt-2/pon-1/ont-1", "biz-0042")),
			c(4, "business-asks-short", 0, o82("olt-2/pon-1/ont-1", "biz-0042"), lease(60)),
			c(5, "drop-class", 0, o82("olt-2/pon-9/ont-9", "blocked-cpe")),
			c(6, "asks-above-max", 0, o82("olt-2/pon-1/ont-3", "cpe-3"), lease(100000)),
			c(7, "asks-below-min", 0, o82("olt-2/pon-1/ont-4", "cpe-4"), lease(60)),
			c(8, "asks-within-bounds", 0, o82("olt-2/pon-1/ont-5", "cpe-5"), lease(5000)),
			{Name: "reserved-by-mac", MAC: net.HardwareAddr{0x02, 0, 0x5e, 0x10, 0, 1}, Subnet: 0, Relayed: true,
				Options: []dhcpv4.Option{o82("olt-3/pon-1/ont-1", "cpe-x")}},
			c(9, "relayed-without-82", 0),
			c(10, "client-id-and-82", 0, opt(61, []byte{1, 2, 0, 0x5e, 0x10, 0, 10}), o82("olt-1/pon-2/ont-1", "cpe-10")),
			c(11, "subnet-lifetime", 1, o82("olt-4/pon-1/ont-1", "cpe-11")),
			c(12, "subnet-lifetime-asks-long", 1, o82("olt-4/pon-1/ont-2", "cpe-12"), lease(100000)),
			c(13, "olt1-in-subnet20", 1, o82("olt-1/pon-7/ont-1", "cpe-13")),
			{Name: "direct", MAC: mac(2, 14), Subnet: 0},
			{Name: "direct-broadcast", MAC: mac(2, 15), Subnet: 0, Broadcast: true},
			// Option 12: what Kea makes of the name a client sends, and
			// when it sends a reservation's hostname.
			c(16, "hostname-mixed-case", 0, o82("olt-2/pon-2/ont-1", "cpe-16"), opt(12, []byte("Web_Cam-7"))),
			c(17, "hostname-fqdn", 0, o82("olt-2/pon-2/ont-2", "cpe-17"), opt(12, []byte("NAS.Home.Example."))),
			{Name: "reserved-hostname-asks", MAC: net.HardwareAddr{0x02, 0, 0x5e, 0x10, 0, 2}, Subnet: 0, Relayed: true,
				Options: []dhcpv4.Option{o82("olt-2/pon-2/ont-3", "cpe-18"), opt(55, []byte{1, 3, 12})}},
			{Name: "reserved-hostname-silent", MAC: net.HardwareAddr{0x02, 0, 0x5e, 0x10, 0, 3}, Subnet: 0, Relayed: true,
				Options: []dhcpv4.Option{o82("olt-2/pon-2/ont-4", "cpe-19")}},
			{Name: "reserved-hostname-names-itself", MAC: net.HardwareAddr{0x02, 0, 0x5e, 0x10, 0, 4}, Subnet: 0, Relayed: true,
				Options: []dhcpv4.Option{o82("olt-2/pon-2/ont-5", "cpe-20"), opt(12, []byte("own-name"))}},
		}
	},
	"isp-lifetimes": func(*Plan) []Client {
		var out []Client
		for i, sub := range []string{"subnet2", "subnet3", "subnet4", "subnet5-infinite", "net-a-subnet1"} {
			for j, ask := range []struct {
				name string
				opts []dhcpv4.Option
			}{{"default", nil}, {"asks-long", []dhcpv4.Option{opt(51, u32(100000))}}, {"asks-short", []dhcpv4.Option{opt(51, u32(10))}}} {
				out = append(out, Client{Name: sub + "-" + ask.name, MAC: mac(5, 3*i+j+1), Subnet: i, Relayed: true, Options: ask.opts})
			}
		}
		return out
	},
	"isp-vendor": vendorClients,
	"isp-docsis": vendorClients,
	"isp-bootp": func(*Plan) []Client {
		return []Client{
			{Name: "dhcp", MAC: mac(4, 1), Subnet: 0},
			{Name: "bootp", MAC: mac(4, 2), Subnet: 0, BOOTP: true},
			{Name: "bootp-relayed", MAC: mac(4, 3), Subnet: 0, BOOTP: true, Relayed: true},
			{Name: "bootp-reserved", MAC: net.HardwareAddr{0x02, 0, 0x5e, 0, 0xb0, 1}, Subnet: 0, BOOTP: true},
		}
	},
}

// vendorClients are CPEs and DOCSIS modems behind the shared network's
// relay, and two connected directly.
func vendorClients(*Plan) []Client {
	v := func(s string) dhcpv4.Option { return opt(60, []byte(s)) }
	prl := func(codes ...byte) dhcpv4.Option { return opt(55, codes) }
	c := func(i int, name string, relayed bool, opts ...dhcpv4.Option) Client {
		return Client{Name: name, MAC: mac(3, i), Subnet: 0, Relayed: relayed, Options: opts}
	}
	return []Client{
		c(1, "docsis-modem", true, v("docsis3.0:05240101010201020301"), opt(125, []byte{0, 0, 0x11, 0x8b, 3, 1, 1, 2})),
		c(2, "docsis-modem-prl", true, v("docsis3.0"), prl(1, 2, 3, 4, 7, 43, 125)),
		c(3, "cpe", true, v("ACME-CPE-1000")),
		c(4, "cpe-prl", true, v("ACME-CPE-1000"), prl(1, 3, 6, 15, 43)),
		c(5, "other-vendor", true, v("android-dhcp-13")),
		c(6, "no-vendor", true),
		c(7, "cpe-direct", false, v("ACME-CPE-2000")),
		c(8, "modem-direct", false, v("docsis3.1")),
	}
}

// keaShows are what Kea's answer must show for a case of the ISP
// scenarios: proof that the case exercises the feature it is named after
// (a class, a reservation, a bound), whatever xdhcpd answers.
var keaShows = map[string]func(*Reply) error{
	"isp-relay82/ont-reserved-by-circuit/REQUEST": all(yiaddr("100.64.10.200"), option(12, "ont-7")),
	"isp-relay82/olt1-class/REQUEST":              has(42),
	"isp-relay82/business-class-pool/REQUEST":     all(yiaddrIn("100.64.10.100", "100.64.10.149"), leaseTime(86400), option(15, "biz.isp.example")),
	"isp-relay82/drop-class/DISCOVER":             silent,
	"isp-relay82/asks-above-max/REQUEST":          leaseTime(7200),
	"isp-relay82/asks-below-min/REQUEST":          leaseTime(600),
	"isp-relay82/asks-within-bounds/REQUEST":      leaseTime(5000),
	"isp-relay82/subnet-lifetime/REQUEST":         leaseTime(1200),
	"isp-relay82/reserved-by-mac/REQUEST":         yiaddr("100.64.10.201"),
	"isp-docsis/docsis-modem/REQUEST":             all(yiaddrIn("10.10.1.10", "10.10.1.250"), has(125), header("siaddr", "10.10.0.5"), header("file", "modem.cfg")),
	"isp-docsis/cpe/REQUEST":                      all(yiaddrIn("100.70.0.10", "100.70.0.100"), has(43), option(66, "acs.isp.example"), option(6, "\x64\x46\x00\x35")),
	"isp-docsis/other-vendor/REQUEST":             all(yiaddrIn("100.70.0.101", "100.70.0.200"), has(7)),
	"isp-bootp/bootp-reserved/BOOTREQUEST":        all(yiaddr("192.0.2.60"), header("file", "special.0")),
}

func all(checks ...func(*Reply) error) func(*Reply) error {
	return func(r *Reply) error {
		for _, c := range checks {
			if err := c(r); err != nil {
				return err
			}
		}
		return nil
	}
}

func silent(r *Reply) error {
	if r != nil {
		return fmt.Errorf("answered: %s", describe(r))
	}
	return nil
}

func answered(r *Reply) error {
	if r == nil {
		return fmt.Errorf("no answer")
	}
	return nil
}

func yiaddr(want string) func(*Reply) error { return yiaddrIn(want, want) }

func yiaddrIn(first, last string) func(*Reply) error {
	return func(r *Reply) error {
		if err := answered(r); err != nil {
			return err
		}
		rg, err := ParseRange(first + "-" + last)
		if err != nil {
			return err
		}
		a, _ := netip.AddrFromSlice(r.Msg.YourIPAddr.To4())
		if !rg.Contains(a) {
			return fmt.Errorf("yiaddr %s, want %s-%s", a, first, last)
		}
		return nil
	}
}

func has(code uint8) func(*Reply) error {
	return func(r *Reply) error {
		if err := answered(r); err != nil {
			return err
		}
		if _, ok := r.Msg.Options[code]; !ok {
			return fmt.Errorf("no option %d", code)
		}
		return nil
	}
}

func option(code uint8, want string) func(*Reply) error {
	return func(r *Reply) error {
		if err := has(code)(r); err != nil {
			return err
		}
		if got := string(r.Msg.Options[code]); got != want {
			return fmt.Errorf("option %d is %q, want %q", code, got, want)
		}
		return nil
	}
}

func leaseTime(secs uint32) func(*Reply) error { return option(51, string(u32(secs))) }

func header(field, want string) func(*Reply) error {
	return func(r *Reply) error {
		if err := answered(r); err != nil {
			return err
		}
		got := map[string]string{"siaddr": r.Msg.ServerIPAddr.String(), "file": r.Msg.BootFileName}[field]
		if got != want {
			return fmt.Errorf("%s is %q, want %q", field, got, want)
		}
		return nil
	}
}
