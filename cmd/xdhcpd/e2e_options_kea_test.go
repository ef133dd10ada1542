package main

// Option definitions and option data as Kea 2.2 has them, proven against
// Kea itself: one configuration using the option features an ISP relies
// on, the same DISCOVER and REQUEST sent to Debian's kea-dhcp4 and to
// xdhcpd, and the replies compared byte for byte (everything but yiaddr,
// which each server picks from the pool).

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"xdhcp/config/optiondef"
	"xdhcp/internal/daemontest"
)

// optionFeatures is the Dhcp4 content both servers get: every option data
// type, records, arrays, encapsulated custom spaces, option 43 from
// vendor-encapsulated-options-space and from a per-vendor-class
// definition, option 125 (DOCSIS vendor-4491 and a custom vendor space),
// option 124, hex data, always-send, a configured server identifier, and
// the client-id echo (default on).
func optionFeatures() map[string]any {
	o := func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	// Standard options by name and csv data.
	var plain []any
	for _, nd := range [][2]string{
		{"domain-name", "isp.example"},
		{"domain-search", "isp.example, example.net"},
		{"ntp-servers", "10.88.0.1, 10.88.0.3"},
		{"time-offset", "-3600"},
		{"interface-mtu", "1500"},
		{"ip-forwarding", "false"},
		{"default-ip-ttl", "0x40"},
		{"slp-directory-agent", "true, 10.88.0.1, 10.88.0.2"},
		{"v4-portparams", "2, 0x3f/6"},
		{"option-6rd", "16, 48, 2001:db8::, 10.88.0.1"},
		{"v6-only-preferred", "1800"},
		{"v4-captive-portal", "https://portal.isp.example/"},
		{"dhcp-message", `hello\, world`},
		{"vivco-suboptions", "4491, 03616263"},
		{"root-path", strings.Repeat("/long", 60)}, // 300 bytes: sent as two options 17 (RFC 3396)
	} {
		plain = append(plain, o("name", nd[0], "data", nd[1]))
	}
	return map[string]any{
		"valid-lifetime": 3600,
		"option-def": []any{
			o("name", "acs-url", "code", 1, "space", "vendor-encapsulated-options-space", "type", "string"),
			o("name", "acs-port", "code", 2, "space", "vendor-encapsulated-options-space", "type", "uint16"),
			o("name", "box", "code", 222, "type", "uint8", "encapsulate", "box-space"),
			o("name", "box-flag", "code", 1, "space", "box-space", "type", "boolean"),
			o("name", "box-addrs", "code", 4, "space", "box-space", "type", "ipv4-address", "array", true),
			o("name", "v6pfx", "code", 223, "type", "ipv6-prefix"),
			o("name", "tuples", "code", 224, "type", "tuple", "array", true),
			o("name", "rec", "code", 225, "type", "record", "record-types", "int8, int16, int32, uint32, ipv6-address, psid, fqdn", "array", true),
			o("name", "flag-less", "code", 226, "type", "empty"),
			o("name", "acme-url", "code", 7, "space", "vendor-9999", "type", "string"),
			o("name", "modem-cfg", "code", 3, "space", "vendor-4491", "type", "string"),
		},
		"option-data": append(plain,
			o("name", "vendor-encapsulated-options"),
			o("name", "acs-port", "space", "vendor-encapsulated-options-space", "data", "7547"),
			o("name", "acs-url", "space", "vendor-encapsulated-options-space", "data", "http://acs.isp.example"),
			o("name", "box", "data", "7", "always-send", true),
			o("name", "box-addrs", "space", "box-space", "data", "10.88.0.5, 10.88.0.6"),
			o("name", "box-flag", "space", "box-space", "data", "true"),
			o("name", "v6pfx", "data", "2001:db8:ff00::/40"),
			o("name", "tuples", "data", "ab, cde"),
			o("name", "rec", "data", "-1, -2, -3, 4, 2001:db8::1, 4/3, a.example, b.example"),
			o("name", "flag-less", "always-send", true),
			o("code", 254, "csv-format", false, "data", "01:02:0a:ff", "always-send", true),
			o("name", "tftp-servers", "space", "vendor-4491", "data", "10.88.0.69"),
			o("name", "modem-cfg", "space", "vendor-4491", "data", "modem.cfg", "always-send", true),
			o("name", "acme-url", "space", "vendor-9999", "data", "http://acme"),
		),
		"client-classes": []any{o(
			"name", "cpe",
			"test", "option[vendor-class-identifier].text == 'cpe'",
			"option-def", []any{o("name", "vendor-encapsulated-options", "code", 43, "type", "record", "record-types", "uint8, string")},
			"option-data", []any{o("name", "vendor-encapsulated-options", "data", "4, cpe-acs")},
		), o(
			// The class every client sending option 60 "docsis3.0" is in.
			"name", "VENDOR_CLASS_docsis3.0",
			"option-def", []any{o("name", "vendor-encapsulated-options", "code", 43, "type", "string")},
			"option-data", []any{o("name", "vendor-encapsulated-options", "data", "docsis-43")},
		)},
		"subnet4": []any{o(
			"id", 1, "subnet", "10.88.0.0/16",
			"pools", []any{o("pool", e2ePoolStart+" - "+e2ePoolEnd)},
			"option-data", []any{
				o("name", "routers", "data", e2eServerIP),
				o("name", "domain-name-servers", "data", e2eServerIP+", 10.88.0.4"),
				// Replies name this server identifier, and requests
				// naming it are answered.
				o("name", "dhcp-server-identifier", "data", "10.88.0.77"),
				// A sub-option without its option at this level: the
				// global option 43 does not take it.
				o("name", "acs-url", "space", "vendor-encapsulated-options-space", "data", "http://subnet"),
			},
		)},
	}
}

// optionClients are the clients each server answers: what they send on
// top of a DISCOVER (and the REQUEST built from the OFFER).
var optionClients = []struct {
	name string
	mods []dhcpv4.Modifier
}{
	{"plain client, everything asked", []dhcpv4.Modifier{
		dhcpv4.WithRequestedOptions(codes(1, 2, 3, 6, 15, 17, 19, 23, 26, 42, 43, 56, 78, 108, 114, 119, 124, 159, 212, 223, 224, 225)...),
		dhcpv4.WithOption(dhcpv4.OptClientIdentifier([]byte{1, 2, 0x78, 0x65, 0, 0, 1})),
		// Kea sends replies above 576 bytes to anyone; xdhcpd only to a
		// client that says it takes them.
		dhcpv4.WithOption(dhcpv4.OptMaxMessageSize(1500)),
	}},
	{"DOCSIS modem", []dhcpv4.Modifier{
		dhcpv4.WithRequestedOptions(codes(1, 3, 43, 125)...),
		dhcpv4.WithOption(dhcpv4.OptClassIdentifier("docsis3.0")),
		// enterprise 4491, sub-option 1 (ORO) asking for sub-option 2
		dhcpv4.WithGeneric(dhcpv4.GenericOptionCode(125), []byte{0, 0, 0x11, 0x8b, 3, 1, 1, 2}),
	}},
	{"CPE of vendor class cpe", []dhcpv4.Modifier{
		dhcpv4.WithRequestedOptions(codes(1, 3, 6, 43)...),
		dhcpv4.WithOption(dhcpv4.OptClassIdentifier("cpe")),
		dhcpv4.WithOption(dhcpv4.OptClientIdentifier([]byte("cpe-0001"))),
	}},
	{"other vendor in option 125", []dhcpv4.Modifier{
		dhcpv4.WithRequestedOptions(codes(125)...),
		dhcpv4.WithGeneric(dhcpv4.GenericOptionCode(125), []byte{0, 0, 0x27, 0x0f, 0}),
	}},
}

// relayedMods make a request relayed by an agent at the client end's
// address, with circuit and remote id, from a client that names its
// subnet (RFC 3011) and itself (option 61).
var relayedMods = []dhcpv4.Modifier{
	dhcpv4.WithGatewayIP(net.ParseIP(e2eClientIP)),
	dhcpv4.WithRequestedOptions(codes(1, 3, 6, 15, 43)...),
	dhcpv4.WithOption(dhcpv4.OptClientIdentifier([]byte("relayed-1"))),
	dhcpv4.WithGeneric(dhcpv4.GenericOptionCode(118), []byte{10, 88, 0, 0}),
	dhcpv4.WithOption(dhcpv4.OptRelayAgentInfo(
		dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(1), []byte("olt1/1/7")),
		dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(2), []byte("cpe-serial-7")))),
}

func codes(cs ...byte) []dhcpv4.OptionCode {
	out := make([]dhcpv4.OptionCode, len(cs))
	for i, c := range cs {
		out[i] = dhcpv4.GenericOptionCode(c)
	}
	return out
}

// keaOptionsBin is Debian's kea-dhcp4.
const keaOptionsBin = "/usr/sbin/kea-dhcp4"

func TestE2EOptionsMatchKea(t *testing.T) {
	if _, err := os.Stat(keaOptionsBin); err != nil {
		t.Skipf("kea-dhcp4 is not installed: %v", err)
	}
	e := newEnv(t)
	// Kea's answers first.
	k := e.startKeaWith(optionFeatures())
	conn := e.clientConn()
	kea := make([][2][]byte, len(optionClients))
	for i, c := range optionClients {
		kea[i] = exchangeRaw(t, conn, byte(i), 20*time.Second, c.mods)
	}
	relay := e.relayConn()
	keaRelayed := exchangeRaw(t, relay, 0x20, 10*time.Second, relayedMods)
	keaNak := nakFor(t, conn)
	if err := k.Stop(); k.Running() {
		t.Fatalf("kea-dhcp4 did not stop: %v", err)
	}

	// The same document (xdhcpd's own listener and lease file added) to xdhcpd.
	xcfg := e.baseConfig() // Kea's document and xdhcpd's own section (its control listener allowed)
	maps.Copy(dhcp4(xcfg), optionFeatures())
	e.startDaemon(xcfg)
	for i, c := range optionClients {
		got := exchangeRaw(t, conn, byte(i), 10*time.Second, c.mods)
		for j, what := range []string{"OFFER", "ACK"} {
			if diff := compareReplies(kea[i][j], got[j]); diff != "" {
				t.Errorf("%s, %s differs from Kea 2.2's:\n%s", c.name, what, diff)
			}
		}
	}
	for j, what := range []string{"OFFER", "ACK"} {
		if diff := compareReplies(keaRelayed[j], exchangeRaw(t, relay, 0x20, 10*time.Second, relayedMods)[j]); diff != "" {
			t.Errorf("relayed client, %s differs from Kea 2.2's:\n%s", what, diff)
		}
	}
	if diff := compareReplies(keaNak, nakFor(t, conn)); diff != "" {
		t.Errorf("NAK differs from Kea 2.2's:\n%s", diff)
	}
}

// nakFor sends an INIT-REBOOT REQUEST from the first client (which holds
// a lease) for an address of the subnet outside the pool, which both
// servers refuse, and returns the NAK.
func nakFor(t *testing.T, conn dhcpConn) []byte {
	t.Helper()
	m, err := dhcpv4.New(append([]dhcpv4.Modifier{dhcpv4.WithHwAddr(mac(0x0b, 0)), dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
		dhcpv4.WithTransactionID(dhcpv4.TransactionID{0x78, 0x65, 0x0b, 99}), dhcpv4.WithBroadcast(true),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.ParseIP("10.88.0.250")))}, optionClients[0].mods...)...)
	if err != nil {
		t.Fatal(err)
	}
	nak, err := roundTrip(conn, m, 5*time.Second)
	if err != nil {
		t.Fatalf("INIT-REBOOT for an address not given: %v", err)
	}
	return nak
}

// exchangeRaw sends a DISCOVER and then the REQUEST for its OFFER from
// client n with mods, returning the raw OFFER and ACK. It retries the
// DISCOVER until the server answers or wait passes (the server may still
// be starting).
func exchangeRaw(t *testing.T, conn dhcpConn, n byte, wait time.Duration, mods []dhcpv4.Modifier) [2][]byte {
	t.Helper()
	hw := mac(0x0b, int(n))
	// The same xid for both servers: the headers compare whole.
	xid := dhcpv4.TransactionID{0x78, 0x65, 0x0b, n}
	d, err := dhcpv4.NewDiscovery(hw, append([]dhcpv4.Modifier{dhcpv4.WithBroadcast(true), dhcpv4.WithTransactionID(xid)}, mods...)...)
	if err != nil {
		t.Fatal(err)
	}
	var offer []byte
	for deadline := time.Now().Add(wait); offer == nil; {
		if time.Now().After(deadline) {
			t.Fatalf("client %d: no OFFER", n)
		}
		offer, _ = roundTrip(conn, d, time.Second)
	}
	om, err := dhcpv4.FromBytes(offer)
	if err != nil {
		t.Fatal(err)
	}
	req, err := dhcpv4.NewRequestFromOffer(om, append([]dhcpv4.Modifier{dhcpv4.WithBroadcast(true)}, mods...)...)
	if err != nil {
		t.Fatal(err)
	}
	ack, err := roundTrip(conn, req, 5*time.Second)
	if err != nil {
		t.Fatalf("client %d: REQUEST: %v", n, err)
	}
	return [2][]byte{offer, ack}
}

// dhcpConn is where a client sends from and the server it sends to.
type dhcpConn struct {
	net.PacketConn
	to net.Addr
}

// clientConn broadcasts from port 68 of xc0, as a client on the link.
func (e *e2eEnv) clientConn() dhcpConn {
	return dhcpConn{e.rawConn(), &net.UDPAddr{IP: net.IPv4bcast, Port: dhcpv4.ServerPort}}
}

// relayConn sends from port 67 of the client end's address to the server,
// as a relay agent whose giaddr is that address.
func (e *e2eEnv) relayConn() dhcpConn {
	return dhcpConn{e.udpConn(e2eClientIP + ":67"), &net.UDPAddr{IP: net.ParseIP(e2eServerIP), Port: dhcpv4.ServerPort}}
}

// roundTrip sends m and returns the first reply with its xid.
func roundTrip(conn dhcpConn, m *dhcpv4.DHCPv4, wait time.Duration) ([]byte, error) {
	if _, err := conn.WriteTo(m.ToBytes(), conn.to); err != nil {
		return nil, err
	}
	buf := make([]byte, 1500)
	deadline := time.Now().Add(wait)
	for {
		if err := conn.SetReadDeadline(deadline); err != nil {
			return nil, err
		}
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			return nil, err
		}
		if n > 240 && buf[0] == 2 && bytes.Equal(buf[4:8], m.TransactionID[:]) {
			return append([]byte(nil), buf[:n]...), nil
		}
		if time.Now().After(deadline) {
			return nil, errors.New("no reply")
		}
	}
}

// compareReplies describes how two raw replies differ, yiaddr aside, or
// returns "".
func compareReplies(kea, ours []byte) string {
	if len(kea) < 240 || len(ours) < 240 {
		return fmt.Sprintf("short reply: kea %d bytes, xdhcpd %d", len(kea), len(ours))
	}
	var diff bytes.Buffer
	hdr := func(b []byte) []byte {
		h := append([]byte(nil), b[:240]...)
		clear(h[16:20]) // yiaddr: each server picks its own
		return h
	}
	if kh, oh := hdr(kea), hdr(ours); !bytes.Equal(kh, oh) {
		fmt.Fprintf(&diff, "header:\n  kea    %x\n  xdhcpd %x\n", kh, oh)
	}
	ko, oo := optionBytes(kea), optionBytes(ours)
	if !bytes.Equal(ko, oo) {
		fmt.Fprintf(&diff, "options:\n  kea    %s\n  xdhcpd %s\n", optionList(ko), optionList(oo))
	}
	return diff.String()
}

// optionBytes is a reply's options up to and without End.
func optionBytes(b []byte) []byte {
	o := b[240:]
	for i := 0; i < len(o); {
		switch {
		case o[i] == 255:
			return o[:i]
		case o[i] == 0:
			i++
		case i+1 < len(o):
			i += 2 + int(o[i+1])
		default:
			return o
		}
	}
	return o
}

// optionList writes options one per line, for a readable difference.
func optionList(o []byte) string {
	var s bytes.Buffer
	for i := 0; i+1 < len(o); i += 2 + int(o[i+1]) {
		end := min(len(o), i+2+int(o[i+1]))
		fmt.Fprintf(&s, "\n    %3d %s", o[i], hex.EncodeToString(o[i+2:end]))
	}
	return s.String()
}

// TestE2EOptionTableMatchesKea sets every standard option of xdhcp's
// table by name, with data shaped by its type, and has two clients ask for
// all of them: Kea 2.2 must accept each name and both servers must send
// the same bytes, which checks every code, name, type, array flag and
// record layout of the table against Kea itself. Left out: the options
// the server computes (50-59, 61, 82) and those Kea builds from the
// client's own (12 host-name, 81 client FQDN).
func TestE2EOptionTableMatchesKea(t *testing.T) {
	if _, err := os.Stat(keaOptionsBin); err != nil {
		t.Skipf("kea-dhcp4 is not installed: %v", err)
	}
	var data []any
	var low, high []byte
	for _, d := range optiondef.Standard() {
		switch c := d.Code; {
		case c >= 50 && c <= 59, c == 61, c == 82, c == 12, c == 81:
			continue
		case c < 100:
			low = append(low, c)
		default:
			high = append(high, c)
		}
		data = append(data, map[string]any{"name": d.Name, "data": sampleData(&d)})
	}
	features := map[string]any{"valid-lifetime": 3600, "option-data": data,
		"subnet4": []any{map[string]any{"id": 1, "subnet": "10.88.0.0/16",
			"pools": []any{map[string]any{"pool": e2ePoolStart + " - " + e2ePoolEnd}}}}}
	clients := [][]dhcpv4.Modifier{
		{dhcpv4.WithRequestedOptions(codes(low...)...), dhcpv4.WithOption(dhcpv4.OptMaxMessageSize(1500))},
		{dhcpv4.WithRequestedOptions(codes(high...)...), dhcpv4.WithOption(dhcpv4.OptMaxMessageSize(1500))},
	}
	e := newEnv(t)
	conn := e.clientConn()
	k := e.startKeaWith(features)
	var kea [][2][]byte
	for i, mods := range clients {
		kea = append(kea, exchangeRaw(t, conn, byte(0x40+i), 20*time.Second, mods))
	}
	if err := k.Stop(); k.Running() {
		t.Fatalf("kea-dhcp4 did not stop: %v", err)
	}
	xcfg := e.baseConfig() // Kea's document and xdhcpd's own section (its control listener allowed)
	maps.Copy(dhcp4(xcfg), features)
	e.startDaemon(xcfg)
	for i, mods := range clients {
		got := exchangeRaw(t, conn, byte(0x40+i), 10*time.Second, mods)
		for j, what := range []string{"OFFER", "ACK"} {
			if diff := compareReplies(kea[i][j], got[j]); diff != "" {
				t.Errorf("client %d, %s differs from Kea 2.2's:\n%s", i, what, diff)
			}
		}
	}
	t.Logf("%d standard options compared on the wire", len(data))
}

// sampleData is csv data for an option of definition d.
func sampleData(d *optiondef.Def) string {
	fields := []optiondef.Type{d.Type}
	if d.Type == optiondef.Record {
		fields = d.Fields
	}
	var vals []string
	for _, f := range fields {
		vals = append(vals, sampleValue(f, d.Code))
	}
	if d.Array {
		vals = append(vals, sampleValue(fields[len(fields)-1], d.Code+1))
	}
	return strings.Join(vals, ", ")
}

func sampleValue(t optiondef.Type, code uint8) string {
	n := strconv.Itoa(int(code))
	switch t {
	case optiondef.IPv4:
		return "10.88.7." + n
	case optiondef.IPv6:
		return "2001:db8::" + n
	case optiondef.IPv6Prefix:
		return "2001:db8:ff00::/40"
	case optiondef.Bool:
		return "true"
	case optiondef.Uint8, optiondef.Uint16, optiondef.Uint32:
		return n
	case optiondef.Int8, optiondef.Int16, optiondef.Int32:
		return "-" + n
	case optiondef.PSID:
		return "3/4"
	case optiondef.FQDN:
		return "o" + n + ".example"
	case optiondef.Binary:
		// a length-prefixed item, which option 124 needs
		return "020b" + hex.EncodeToString([]byte{code})
	}
	return "s-" + n // string, tuple
}

// startKeaWith runs kea-dhcp4 in the server namespace on features (a Dhcp4
// body) with raw sockets on xs0 and leases in memory, after kea-dhcp4 -t
// has accepted it.
func (e *e2eEnv) startKeaWith(features map[string]any) *daemontest.Process {
	t := e.t
	t.Helper()
	kcfg := map[string]any{"Dhcp4": maps.Clone(features)}
	maps.Copy(dhcp4(kcfg), map[string]any{
		"interfaces-config": map[string]any{"interfaces": []any{e2eServerIf}, "dhcp-socket-type": "raw"},
		"lease-database":    map[string]any{"type": "memfile", "persist": false},
		"loggers": []any{map[string]any{"name": "kea-dhcp4", "severity": "WARN",
			"output_options": []any{map[string]any{"output": "stdout"}}}},
	})
	kpath := e.writeConfig("kea-options.json", kcfg)
	env := []string{"KEA_PIDFILE_DIR=" + e.dir, "KEA_LOCKFILE_DIR=" + e.dir}
	check := e.srv.Command(context.Background(), keaOptionsBin, "-t", kpath)
	check.Env = append(os.Environ(), env...)
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("kea-dhcp4 -t refuses the configuration: %v\n%s", err, out)
	}
	k := daemontest.NewProcess(t, daemontest.ProcessOptions{
		Name: "kea-dhcp4", NS: e.srv, Args: []string{keaOptionsBin, "-c", kpath}, Env: env,
		Log: filepath.Join(e.dir, "kea-dhcp4.log"),
	})
	k.Launch()
	return k
}

// TestE2EEchoClientIDOffMatchesKea: with echo-client-id false neither
// server copies option 61 into its replies.
func TestE2EEchoClientIDOffMatchesKea(t *testing.T) {
	if _, err := os.Stat(keaOptionsBin); err != nil {
		t.Skipf("kea-dhcp4 is not installed: %v", err)
	}
	features := map[string]any{"valid-lifetime": 3600, "echo-client-id": false,
		"subnet4": []any{map[string]any{"id": 1, "subnet": "10.88.0.0/16",
			"pools": []any{map[string]any{"pool": e2ePoolStart + " - " + e2ePoolEnd}}}}}
	mods := []dhcpv4.Modifier{dhcpv4.WithOption(dhcpv4.OptClientIdentifier([]byte{1, 2, 0x78, 0x65, 0, 0, 0x50}))}
	e := newEnv(t)
	conn := e.clientConn()
	k := e.startKeaWith(features)
	kea := exchangeRaw(t, conn, 0x50, 20*time.Second, mods)
	if err := k.Stop(); k.Running() {
		t.Fatalf("kea-dhcp4 did not stop: %v", err)
	}
	xcfg := e.baseConfig() // Kea's document and xdhcpd's own section (its control listener allowed)
	maps.Copy(dhcp4(xcfg), features)
	e.startDaemon(xcfg)
	got := exchangeRaw(t, conn, 0x50, 10*time.Second, mods)
	for j, what := range []string{"OFFER", "ACK"} {
		if strings.Contains(optionList(optionBytes(got[j])), "  61 ") {
			t.Errorf("xdhcpd's %s echoes the client id", what)
		}
		if diff := compareReplies(kea[j], got[j]); diff != "" {
			t.Errorf("%s differs from Kea 2.2's:\n%s", what, diff)
		}
	}
}
