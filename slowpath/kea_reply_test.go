package slowpath

import (
	"bytes"
	"encoding/hex"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"xdhcp/config"
)

// TestReplyKeepsHops: an answer carries the request's hops, as Kea's
// does, but for an INFORM answered straight to the client (0).
func TestReplyKeepsHops(t *testing.T) {
	h := newHarness(t, testConfig)
	m := discover("00:11:22:33:44:55", dhcpv4.WithGatewayIP(net.ParseIP("198.51.100.1")))
	m.HopCount = 3
	if o := h.one(m); o.msg.HopCount != 3 {
		t.Fatalf("OFFER hops %d, want 3", o.msg.HopCount)
	}
	direct := inform("00:11:22:33:44:56", "192.0.2.150")
	direct.HopCount = 1
	if o := h.one(direct); o.msg.HopCount != 0 {
		t.Fatalf("INFORM answered straight to the client: hops %d, want 0", o.msg.HopCount)
	}
}

// TestInformAnswer: the answer to an INFORM has no subnet mask and no
// hostname (not even a reservation's, asked for), as Kea's; a relayed
// INFORM from a client with an address is answered straight to ciaddr:68
// (in a frame to the relay that forwarded it), with giaddr and hops 0 and
// without the relay's option 82 (RFC 2131 §4.3.5); one without ciaddr goes
// back through the relay.
func TestInformAnswer(t *testing.T) {
	h := newHarness(t, testConfig)
	prl := dhcpv4.WithRequestedOptions(dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter, dhcpv4.OptionHostName)
	inf := inform("aa:bb:cc:00:00:01", "192.0.2.10") // reserved, with hostname "fixed"
	prl(inf)
	dhcpv4.WithOption(dhcpv4.OptHostName("me"))(inf)
	r := h.one(inf)
	if r.msg.MessageType() != dhcpv4.MessageTypeAck || r.msg.Options.Has(dhcpv4.OptionSubnetMask) ||
		r.msg.Options.Has(dhcpv4.OptionHostName) || len(r.msg.Router()) != 1 {
		t.Fatalf("direct INFORM answered %s with options %v", r.msg.MessageType(), r.msg.Options)
	}

	rai := dhcpv4.OptRelayAgentInfo(dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(1), []byte("port7")))
	relayed := inform("00:11:22:33:44:66", "198.51.100.20")
	relayed.HopCount = 2
	for _, mod := range []dhcpv4.Modifier{prl, dhcpv4.WithGatewayIP(net.ParseIP("198.51.100.1")), dhcpv4.WithOption(rai)} {
		mod(relayed)
	}
	r = h.one(relayed)
	if r.dst.DstIP != [4]byte{198, 51, 100, 20} || r.dst.DstPort != 68 || r.dst.DstMAC != [6]byte{2, 0, 0, 0, 0, 0x99} || r.msg.HopCount != 0 {
		t.Errorf("relayed INFORM answered to %v:%d mac %x hops %d, want 198.51.100.20:68 through the relay's MAC, hops 0",
			r.dst.DstIP, r.dst.DstPort, r.dst.DstMAC, r.msg.HopCount)
	}
	if !r.msg.GatewayIPAddr.IsUnspecified() || r.msg.Options.Has(dhcpv4.OptionRelayAgentInformation) ||
		r.msg.Options.Has(dhcpv4.OptionSubnetMask) || len(r.msg.Router()) != 1 || r.msg.Router()[0].String() != "198.51.100.1" {
		t.Errorf("relayed INFORM answer: giaddr %s options %v", r.msg.GatewayIPAddr, r.msg.Options)
	}

	noAddr := inform("00:11:22:33:44:67", "0.0.0.0")
	dhcpv4.WithGatewayIP(net.ParseIP("198.51.100.1"))(noAddr)
	dhcpv4.WithOption(rai)(noAddr)
	r = h.one(noAddr)
	if r.dst.DstIP != [4]byte{198, 51, 100, 1} || r.dst.DstPort != 67 || !r.msg.GatewayIPAddr.Equal(net.IP{198, 51, 100, 1}) ||
		!r.msg.Options.Has(dhcpv4.OptionRelayAgentInformation) {
		t.Errorf("relayed INFORM without ciaddr answered to %v:%d giaddr %s", r.dst.DstIP, r.dst.DstPort, r.msg.GatewayIPAddr)
	}
}

// TestReplyHostname: option 12 as Kea 2.2 sends it with its default rules:
// a reservation's hostname, lowercased, whatever the client sent or asked
// for; otherwise the client's own name, cleaned of what
// Kea's default hostname-char-set removes, lowercased, a single label
// without its dot.
func TestReplyHostname(t *testing.T) {
	h := newHarness(t, testConfig)
	noPRL := func(m *dhcpv4.DHCPv4) { m.Options.Del(dhcpv4.OptionParameterRequestList) }
	name := func(s string) dhcpv4.Modifier { return dhcpv4.WithOption(dhcpv4.OptHostName(s)) }
	for _, tc := range []struct {
		desc, hw string
		mods     []dhcpv4.Modifier
		want     string // "": no option 12
	}{
		{"reserved, asks in the PRL", "aa:bb:cc:00:00:01", nil, "fixed"},
		{"reserved, names itself", "aa:bb:cc:00:00:01", []dhcpv4.Modifier{noPRL, name("other")}, "fixed"},
		{"reserved, neither", "aa:bb:cc:00:00:01", []dhcpv4.Modifier{noPRL}, "fixed"},
		{"unreserved, asks only", "00:11:22:33:44:01", nil, ""},
		{"single label", "00:11:22:33:44:02", []dhcpv4.Modifier{name("Web_Cam-7")}, "webcam-7"},
		{"single label with its dot", "00:11:22:33:44:03", []dhcpv4.Modifier{name("pc.")}, "pc"},
		{"qualified", "00:11:22:33:44:04", []dhcpv4.Modifier{name("NAS.Home.Example.")}, "nas.home.example."},
		// Kea's placeholder for "to be replaced": a name made of the address.
		{"root only", "00:11:22:33:44:05", []dhcpv4.Modifier{name(".")}, "myhost-{ip}"},
		{"blank", "00:11:22:33:44:06", []dhcpv4.Modifier{name("  ")}, ""},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			o := h.one(discover(tc.hw, tc.mods...))
			got, has := o.msg.Options[uint8(dhcpv4.OptionHostName)]
			want := withAddr(tc.want, o.msg)
			switch {
			case want == "" && has:
				t.Errorf("option 12 %q, want none", got)
			case want != "" && !bytes.Equal(got, []byte(want)):
				t.Errorf("option 12 %q, want %q", got, want)
			}
		})
	}
}

// TestTeeTimesZero: a zero renew or rebind timer is not sent, as in Kea.
func TestTeeTimesZero(t *testing.T) {
	zero, t2 := uint32(0), uint32(1800)
	t1v, t2v, ok1, ok2 := teeTimes(&config.Timers{RenewTimer: &zero, RebindTimer: &t2}, 3600)
	if ok1 || !ok2 || t2v != 1800 {
		t.Fatalf("T1 %d (%v) T2 %d (%v)", t1v, ok1, t2v, ok2)
	}
}

// TestVIVSOCarriesItsLevelsSubOptions: an option 125 from option-data
// carries the vendor's sub-options set at the same level, asked for or
// not, as Kea 2.2 encapsulates them.
func TestVIVSOCarriesItsLevelsSubOptions(t *testing.T) {
	raw := &rawCapture{}
	h := newHarness(t, strings.Replace(strings.Replace(vendorConfig, "ECHO", "", 1),
		`{ "name": "domain-name", "data": "example.org" },`,
		`{ "name": "domain-name", "data": "example.org" }, { "name": "vivso-suboptions", "data": "4491" },`, 1))
	m := discover("02:00:00:00:00:11", dhcpv4.WithRequestedOptions(dhcpv4.GenericOptionCode(125)))
	_, vals := replyOptions(t, h.sendRaw(t, raw, m))
	// enterprise, length, 2 tftp-servers, 3 cfg: both set beside it.
	want := "0000118b" + "11" + "0204c0000245" + "0309" + hex.EncodeToString([]byte("modem.cfg"))
	if got := hex.EncodeToString(vals[125]); got != want {
		t.Errorf("option 125 = %s, want %s", got, want)
	}
}

// TestReplyHostnameRules: the ddns-* naming parameters and the hostname
// sanitizer, inherited global → subnet, shape option 12 as in Kea 2.2.
func TestReplyHostnameRules(t *testing.T) {
	cfg := strings.Replace(testConfig, `"authoritative": true,`, `"authoritative": true,
  "ddns-replace-client-name": "when-present", "ddns-generated-prefix": "gen",
  "ddns-qualifying-suffix": "isp.example.", "hostname-char-set": "[^a-z]", "hostname-char-replacement": "x",`, 1)
	cfg = strings.Replace(cfg, `{ "id": 2, "subnet": "198.51.100.0/24",`,
		`{ "id": 2, "subnet": "198.51.100.0/24", "ddns-replace-client-name": "never",`, 1)
	h := newHarness(t, cfg)
	name := func(s string) dhcpv4.Modifier { return dhcpv4.WithOption(dhcpv4.OptHostName(s)) }
	relay2 := dhcpv4.WithGatewayIP(net.ParseIP("198.51.100.1"))
	for _, tc := range []struct {
		desc, hw string
		mods     []dhcpv4.Modifier
		want     string
	}{
		{"replaced when present", "00:11:22:33:45:01", []dhcpv4.Modifier{name("pc")}, "gen-{ip}.isp.example"},
		{"none sent, none generated", "00:11:22:33:45:02", nil, ""},
		{"reservation qualified", "aa:bb:cc:00:00:01", nil, "fixed.isp.example"},
		{"subnet says never: sanitized, qualified", "00:11:22:33:45:03", []dhcpv4.Modifier{relay2, name("Pc_1")}, "xcxx.isp.example"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			o := h.one(discover(tc.hw, tc.mods...))
			got := string(o.msg.Options[uint8(dhcpv4.OptionHostName)])
			if want := withAddr(tc.want, o.msg); got != want {
				t.Errorf("option 12 %q, want %q", got, want)
			}
		})
	}
	// The lease keeps the name the client is told, as Kea's does.
	ack := h.dora("00:11:22:33:45:09", name("Laptop"))
	a, _ := netip.AddrFromSlice(ack.YourIPAddr.To4())
	if l, ok := h.store.Get(a); !ok || l.Hostname != withAddr("gen-{ip}.isp.example", ack) {
		t.Errorf("lease hostname %q (%v), want the generated name", l.Hostname, ok)
	}
}

// withAddr puts the address m offers, dashed, for {ip} in want.
func withAddr(want string, m *dhcpv4.DHCPv4) string {
	return strings.ReplaceAll(want, "{ip}", strings.ReplaceAll(m.YourIPAddr.String(), ".", "-"))
}
