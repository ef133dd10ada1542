package dhcpview

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"

	"xdhcp/internal/testframe"
)

var testMAC = net.HardwareAddr{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}

// dora builds the DISCOVER, SELECTING REQUEST and RENEWING REQUEST of one
// client with insomniacslk's constructors, each with the same extra
// modifiers (client-id, hostname, parameter list...).
func dora(t testing.TB, mods ...dhcpv4.Modifier) (disc, sel, renew *dhcpv4.DHCPv4) {
	t.Helper()
	disc, sel, renew, err := testframe.Requests(testMAC, net.IPv4(192, 0, 2, 10), net.IPv4(192, 0, 2, 1), mods)
	if err != nil {
		t.Fatal(err)
	}
	return disc, sel, renew
}

func clientMods() []dhcpv4.Modifier {
	return []dhcpv4.Modifier{
		dhcpv4.WithOption(dhcpv4.OptClientIdentifier([]byte{1, 2, 0x11, 0x22, 0x33, 0x44, 0x55})),
		dhcpv4.WithOption(dhcpv4.OptHostName("host-a")),
		dhcpv4.WithOption(dhcpv4.OptClassIdentifier("vendor-x")),
		dhcpv4.WithRequestedOptions(dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter, dhcpv4.OptionDomainNameServer),
	}
}

func mustParse(t testing.TB, b []byte) *View {
	t.Helper()
	var v View
	if err := v.Parse(b); err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return &v
}

func TestParseRenewal(t *testing.T) {
	_, sel, renew := dora(t, clientMods()...)
	renew.GatewayIPAddr = net.IPv4(10, 9, 8, 7)
	renew.NumSeconds = 0x1234
	renew.HopCount = 2
	b := renew.ToBytes()
	v := mustParse(t, b)

	if v.Op() != 1 || v.HType() != 1 || v.HLen() != 6 || v.Hops() != 2 {
		t.Errorf("op/htype/hlen/hops = %d/%d/%d/%d", v.Op(), v.HType(), v.HLen(), v.Hops())
	}
	if got, want := v.Xid(), binary.BigEndian.Uint32(renew.TransactionID[:]); got != want {
		t.Errorf("xid %#x, want %#x", got, want)
	}
	if v.Secs() != 0x1234 || v.Flags() != 0 {
		t.Errorf("secs %#x flags %#x", v.Secs(), v.Flags())
	}
	if v.Ciaddr() != [4]byte{192, 0, 2, 10} || v.Giaddr() != [4]byte{10, 9, 8, 7} || v.Yiaddr() != [4]byte{} {
		t.Errorf("ciaddr %v giaddr %v yiaddr %v", v.Ciaddr(), v.Giaddr(), v.Yiaddr())
	}
	if !bytes.Equal(v.Chaddr(), testMAC) {
		t.Errorf("chaddr %x", v.Chaddr())
	}
	if v.MsgType() != MsgRequest {
		t.Errorf("msg type %d", v.MsgType())
	}
	if !bytes.Equal(v.ClientID(), []byte{1, 2, 0x11, 0x22, 0x33, 0x44, 0x55}) {
		t.Errorf("client id %x", v.ClientID())
	}
	if d, ok := v.Option(OptHostName); !ok || string(d) != "host-a" {
		t.Errorf("hostname %q %v", d, ok)
	}
	if d, ok := v.Option(OptVendorClass); !ok || string(d) != "vendor-x" {
		t.Errorf("vendor class %q %v", d, ok)
	}
	if _, ok := v.Requested(); ok {
		t.Error("renewal has option 50")
	}
	if !v.IsRenewal() {
		t.Error("renewal not recognised")
	}

	vs := mustParse(t, sel.ToBytes())
	if vs.IsRenewal() {
		t.Error("SELECTING request taken for a renewal")
	}
	if a, ok := vs.Requested(); !ok || a != [4]byte{192, 0, 2, 10} {
		t.Errorf("requested %v %v", a, ok)
	}
	if a, ok := vs.ServerID(); !ok || a != [4]byte{192, 0, 2, 1} {
		t.Errorf("server id %v %v", a, ok)
	}
	// Untracked codes are reported absent even when present (option 1
	// is not in the message anyway; 55 is tracked).
	if _, ok := vs.Option(1); ok {
		t.Error("untracked option reported")
	}
	if d, ok := vs.Option(OptParamRequest); !ok || len(d) != 4 {
		t.Errorf("param request list %v %v", d, ok)
	}
}

// msg builds a 240-byte header+cookie followed by raw option bytes.
func msg(opts ...byte) []byte {
	b := make([]byte, MinLen, MinLen+len(opts))
	b[0], b[1], b[2] = 1, 1, 6
	binary.BigEndian.PutUint32(b[HeaderLen:], Magic)
	return append(b, opts...)
}

func TestParseTable(t *testing.T) {
	badCookie := msg(53, 1, 3, 255)
	badCookie[HeaderLen] = 98
	tests := []struct {
		name string
		b    []byte
		err  error
		msg  uint8
	}{
		{"empty", nil, ErrShort, 0},
		{"header only", make([]byte, HeaderLen), ErrShort, 0},
		{"bad cookie", badCookie, ErrCookie, 0},
		// No options at all: legal, no message type.
		{"no options", msg(), nil, 0},
		{"simple", msg(53, 1, 3, 255), nil, 3},
		// Pads before, between and after, and garbage after End.
		{"pads and trailing", msg(0, 0, 53, 1, 1, 0, 255, 1, 2, 3), nil, 1},
		// Kea tolerates a missing End; so do we.
		{"no end", msg(53, 1, 5), nil, 5},
		{"code without length", msg(53, 1, 3, 61), ErrTruncated, 0},
		{"length past end", msg(53, 1, 3, 61, 5, 1, 2), ErrTruncated, 0},
		{"duplicate tracked", msg(53, 1, 3, 53, 1, 3, 255), ErrDuplicate, 0},
		// Split option 55 (RFC 3396) cannot be concatenated in place.
		{"duplicate split", msg(55, 2, 1, 3, 55, 1, 6, 255), ErrDuplicate, 0},
		{"duplicate untracked", msg(43, 1, 1, 43, 1, 2, 255), ErrDuplicate, 0},
		{"overload", msg(53, 1, 3, 52, 1, 3, 255), ErrOverload, 0},
		// Zero-length options are legal.
		{"zero length", msg(53, 1, 3, 61, 0, 255), nil, 3},
		// A malformed message type is reported as 0, not as an error:
		// the slow path decides what to do with it.
		{"long msg type", msg(53, 2, 3, 3, 255), nil, 0},
		// After End nothing is parsed, not even an apparent duplicate.
		{"duplicate after end", msg(53, 1, 3, 255, 53, 1, 3), nil, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v View
			err := v.Parse(tt.b)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err %v, want %v", err, tt.err)
			}
			if err != nil {
				if v.Valid() || v.MsgType() != 0 || v.Chaddr() != nil || v.Xid() != 0 {
					t.Fatal("failed parse left a usable view")
				}
				return
			}
			if v.MsgType() != tt.msg {
				t.Fatalf("msg type %d, want %d", v.MsgType(), tt.msg)
			}
		})
	}
}

func TestZeroLengthOptionPresent(t *testing.T) {
	v := mustParse(t, msg(53, 1, 3, 61, 0, 255))
	d, ok := v.Option(OptClientID)
	if !ok || len(d) != 0 {
		t.Fatalf("option 61: %v %v", d, ok)
	}
	if _, ok := v.Requested(); ok {
		t.Fatal("absent option 50 reported")
	}
	// A short option 54 is present but not an address.
	v = mustParse(t, msg(53, 1, 3, 54, 3, 1, 2, 3, 255))
	if _, ok := v.ServerID(); ok || !v.Has(OptServerID) {
		t.Fatal("3-byte server id: want present but not ok")
	}
}

func TestChaddrCapped(t *testing.T) {
	b := msg(255)
	b[OffHLen] = 200 // hlen over 16: capped, as insomniacslk does
	for i := range 16 {
		b[OffChaddr+i] = byte(i + 1)
	}
	v := mustParse(t, b)
	if v.HLen() != 200 || len(v.Chaddr()) != 16 || v.Chaddr()[15] != 16 {
		t.Fatalf("hlen %d chaddr %x", v.HLen(), v.Chaddr())
	}
	b[OffHLen] = 0
	v = mustParse(t, b)
	if len(v.Chaddr()) != 0 {
		t.Fatalf("hlen 0: chaddr %x", v.Chaddr())
	}
}

func TestIsRenewal(t *testing.T) {
	ci := func(b []byte) []byte { copy(b[OffCiaddr:], []byte{10, 0, 0, 5}); return b }
	tests := []struct {
		name string
		b    []byte
		want bool
	}{
		{"renewing", ci(msg(53, 1, 3, 255)), true},
		{"no ciaddr (selecting/init-reboot)", msg(53, 1, 3, 255), false},
		{"with option 50 (init-reboot with ciaddr, broken client)", ci(msg(53, 1, 3, 50, 4, 10, 0, 0, 5, 255)), false},
		{"with option 54", ci(msg(53, 1, 3, 54, 4, 10, 0, 0, 1, 255)), false},
		// Even a malformed (empty) option 50 makes it not a renewal.
		{"empty option 50", ci(msg(53, 1, 3, 50, 0, 255)), false},
		{"inform", ci(msg(53, 1, 8, 255)), false},
		{"release", ci(msg(53, 1, 7, 255)), false},
		{"no message type (BOOTP)", ci(msg(255)), false},
	}
	for _, tt := range tests {
		v := mustParse(t, tt.b)
		if got := v.IsRenewal(); got != tt.want {
			t.Errorf("%s: IsRenewal %v, want %v", tt.name, got, tt.want)
		}
	}
	var empty View
	if empty.IsRenewal() {
		t.Error("empty view is a renewal")
	}
}

// optionBoundaries returns the offsets at which an option list ends: after
// each complete option or pad. Truncating there leaves a valid message
// without End.
func optionBoundaries(b []byte) map[int]bool {
	ok := map[int]bool{MinLen: true}
	for i := MinLen; i < len(b); {
		switch b[i] {
		case OptPad:
			i++
		case OptEnd:
			return ok
		default:
			i += 2 + int(b[i+1])
		}
		ok[i] = true
	}
	return ok
}

func TestTruncationEveryOffset(t *testing.T) {
	_, sel, _ := dora(t, clientMods()...)
	full := sel.ToBytes()
	endAt := bytes.LastIndexByte(bytes.TrimRight(full, "\x00"), OptEnd)
	bound := optionBoundaries(full)
	want := mustParse(t, full)
	for n := range len(full) {
		// A fresh copy of exactly n bytes: a read past n is a panic.
		b := bytes.Clone(full[:n])
		var v View
		err := v.Parse(b)
		switch {
		case n < MinLen:
			if err != ErrShort {
				t.Fatalf("len %d: %v, want ErrShort", n, err)
			}
		case n > endAt || bound[n]:
			if err != nil {
				t.Fatalf("len %d (option boundary or after End): %v", n, err)
			}
			if v.Xid() != want.Xid() || !bytes.Equal(v.Chaddr(), want.Chaddr()) {
				t.Fatalf("len %d: header differs", n)
			}
			if n > endAt && v.Fingerprint() != want.Fingerprint() {
				t.Fatalf("len %d: fingerprint differs after End", n)
			}
		default:
			if err != ErrTruncated {
				t.Fatalf("len %d: %v, want ErrTruncated", n, err)
			}
		}
	}
}

func TestFingerprint(t *testing.T) {
	disc, sel, renew := dora(t, clientMods()...)
	fp := func(m *dhcpv4.DHCPv4) uint64 { return mustParse(t, m.ToBytes()).Fingerprint() }
	base := fp(renew)
	if fp(sel) != base {
		t.Error("SELECTING request and renewal differ (50/54 must be ignored)")
	}
	if fp(disc) == base {
		t.Error("DISCOVER and REQUEST share a fingerprint (option 53 must count)")
	}
	same := []struct {
		name string
		mod  func(*dhcpv4.DHCPv4)
	}{
		{"xid", func(m *dhcpv4.DHCPv4) { m.TransactionID = dhcpv4.TransactionID{9, 9, 9, 9} }},
		{"secs", func(m *dhcpv4.DHCPv4) { m.NumSeconds = 77 }},
		{"flags", func(m *dhcpv4.DHCPv4) { m.SetBroadcast() }},
		{"ciaddr", func(m *dhcpv4.DHCPv4) { m.ClientIPAddr = net.IPv4(1, 2, 3, 4) }},
		{"hops", func(m *dhcpv4.DHCPv4) { m.HopCount = 3 }},
		{"lease time hint", func(m *dhcpv4.DHCPv4) { m.UpdateOption(dhcpv4.OptIPAddressLeaseTime(3600e9)) }},
		{"max message size", func(m *dhcpv4.DHCPv4) { m.UpdateOption(dhcpv4.OptMaxMessageSize(1500)) }},
	}
	for _, tt := range same {
		_, _, r := dora(t, clientMods()...)
		tt.mod(r)
		if fp(r) != base {
			t.Errorf("%s changed the fingerprint", tt.name)
		}
	}
	differ := []struct {
		name string
		mod  func(*dhcpv4.DHCPv4)
	}{
		{"chaddr", func(m *dhcpv4.DHCPv4) { m.ClientHWAddr = net.HardwareAddr{2, 0, 0, 0, 0, 9} }},
		{"hlen", func(m *dhcpv4.DHCPv4) { m.ClientHWAddr = append(m.ClientHWAddr, 0) }},
		{"htype", func(m *dhcpv4.DHCPv4) { m.HWType = iana.HWTypeIEEE802 }},
		{"giaddr", func(m *dhcpv4.DHCPv4) { m.GatewayIPAddr = net.IPv4(10, 0, 0, 1) }},
		{"client id", func(m *dhcpv4.DHCPv4) { m.UpdateOption(dhcpv4.OptClientIdentifier([]byte{1, 9})) }},
		{"hostname", func(m *dhcpv4.DHCPv4) { m.UpdateOption(dhcpv4.OptHostName("host-b")) }},
		{"prl", func(m *dhcpv4.DHCPv4) {
			m.UpdateOption(dhcpv4.OptParameterRequestList(dhcpv4.OptionSubnetMask))
		}},
		{"relay info", func(m *dhcpv4.DHCPv4) {
			m.UpdateOption(dhcpv4.OptRelayAgentInfo(dhcpv4.OptGeneric(dhcpv4.AgentCircuitIDSubOption, []byte("eth0"))))
		}},
		{"untracked option", func(m *dhcpv4.DHCPv4) { m.UpdateOption(dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(224), []byte{1})) }},
	}
	for _, tt := range differ {
		_, _, r := dora(t, clientMods()...)
		tt.mod(r)
		if fp(r) == base {
			t.Errorf("%s did not change the fingerprint", tt.name)
		}
	}
	// Option order counts (documented: "in order").
	a := mustParse(t, msg(53, 1, 3, 12, 1, 'a', 60, 1, 'b', 255)).Fingerprint()
	b := mustParse(t, msg(53, 1, 3, 60, 1, 'b', 12, 1, 'a', 255)).Fingerprint()
	if a == b {
		t.Error("option order ignored")
	}
	// Pads do not count.
	c := mustParse(t, msg(0, 53, 1, 3, 0, 0, 12, 1, 'a', 60, 1, 'b', 255)).Fingerprint()
	if a != c {
		t.Error("pads changed the fingerprint")
	}
}

func TestZeroAllocs(t *testing.T) {
	_, _, renew := dora(t, clientMods()...)
	b := renew.ToBytes()
	var v View
	var sink uint64
	n := testing.AllocsPerRun(200, func() {
		if err := v.Parse(b); err != nil {
			t.Fatal(err)
		}
		sink += uint64(v.Xid()) + uint64(v.MsgType()) + uint64(len(v.Chaddr())) + uint64(len(v.ClientID()))
		sink += v.Fingerprint()
		if v.IsRenewal() {
			sink++
		}
		a, _ := v.Requested()
		s, _ := v.ServerID()
		g := v.Giaddr()
		sink += uint64(a[0] + s[0] + g[0] + v.HType() + v.HLen() + v.Op())
		d, _ := v.Option(OptParamRequest)
		sink += uint64(len(d)) + uint64(v.Secs()+v.Flags())
	})
	if n != 0 {
		t.Fatalf("%v allocations per parse", n)
	}
	_ = sink
}

// genMessage builds a random but well-formed message with insomniacslk:
// one of the DORA requests, random header fields, random extra options.
func genMessage(t testing.TB, r *rand.Rand) []byte {
	var mods []dhcpv4.Modifier
	for range r.IntN(6) {
		code := uint8(r.IntN(254) + 1)
		if code == OptOverload || code == OptMessageType {
			continue
		}
		data := make([]byte, r.IntN(40))
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		mods = append(mods, dhcpv4.WithGeneric(dhcpv4.GenericOptionCode(code), data))
	}
	disc, sel, renew := dora(t, mods...)
	m := [...]*dhcpv4.DHCPv4{disc, sel, renew}[r.IntN(3)]
	m.HopCount = uint8(r.IntN(4))
	m.NumSeconds = uint16(r.Uint32())
	m.Flags = uint16(r.Uint32())
	if r.IntN(2) == 0 {
		m.GatewayIPAddr = net.IPv4(10, byte(r.IntN(256)), byte(r.IntN(256)), 1)
	}
	hw := make(net.HardwareAddr, r.IntN(17))
	for i := range hw {
		hw[i] = byte(r.Uint32())
	}
	m.ClientHWAddr = hw
	return m.ToBytes()
}

// compareWithReference checks every field of v against insomniacslk's
// decoding of the same bytes.
func compareWithReference(t testing.TB, b []byte, v *View, p *dhcpv4.DHCPv4) {
	t.Helper()
	ip4 := func(a [4]byte) net.IP { return net.IP(a[:]) }
	switch {
	case v.Op() != uint8(p.OpCode), v.HType() != uint8(p.HWType), v.Hops() != p.HopCount:
		t.Fatalf("op/htype/hops differ: %d/%d/%d vs %v/%v/%d", v.Op(), v.HType(), v.Hops(), p.OpCode, p.HWType, p.HopCount)
	case v.Xid() != binary.BigEndian.Uint32(p.TransactionID[:]):
		t.Fatalf("xid differs")
	case v.Secs() != p.NumSeconds, v.Flags() != p.Flags:
		t.Fatalf("secs/flags differ")
	case !ip4(v.Ciaddr()).Equal(p.ClientIPAddr), !ip4(v.Yiaddr()).Equal(p.YourIPAddr),
		!ip4(v.Siaddr()).Equal(p.ServerIPAddr), !ip4(v.Giaddr()).Equal(p.GatewayIPAddr):
		t.Fatalf("addresses differ")
	case !bytes.Equal(v.Chaddr(), p.ClientHWAddr):
		t.Fatalf("chaddr %x vs %x", v.Chaddr(), p.ClientHWAddr)
	}
	for _, code := range []uint8{53, 50, 54, 61, 55, 82, 12, 51, 57, 58, 60, 77} {
		d, ok := v.Option(code)
		if ok != p.Options.Has(dhcpv4.GenericOptionCode(code)) {
			t.Fatalf("option %d presence %v", code, ok)
		}
		if !bytes.Equal(d, p.Options.Get(dhcpv4.GenericOptionCode(code))) {
			t.Fatalf("option %d: %x vs %x", code, d, p.Options.Get(dhcpv4.GenericOptionCode(code)))
		}
	}
	if v.MsgType() != 0 && v.MsgType() != uint8(p.MessageType()) {
		t.Fatalf("msg type %d vs %v", v.MsgType(), p.MessageType())
	}
}

func TestDifferentialGenerated(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		b := genMessage(t, r)
		var v View
		if err := v.Parse(b); err != nil {
			t.Fatalf("message %d: %v\n%x", i, err, b)
		}
		p, err := dhcpv4.FromBytes(b)
		if err != nil {
			t.Fatalf("message %d: reference: %v", i, err)
		}
		compareWithReference(t, b, &v, p)
	}
}

func BenchmarkParseFingerprint(b *testing.B) {
	_, _, renew := dora(b, clientMods()...)
	m := renew.ToBytes()
	var v View
	b.ReportAllocs()
	b.SetBytes(int64(len(m)))
	for b.Loop() {
		if err := v.Parse(m); err != nil {
			b.Fatal(err)
		}
		if !v.IsRenewal() {
			b.Fatal("not a renewal")
		}
	}
}

// Every tracked code has a slot of its own, and only tracked codes are
// recorded.
func TestTrackedSlots(t *testing.T) {
	owner := map[int]int{}
	for c := range 256 {
		if !tracked(uint8(c)) {
			continue
		}
		if o, dup := owner[c%optSlots]; dup {
			t.Fatalf("tracked options %d and %d share slot %d", o, c, c%optSlots)
		}
		owner[c%optSlots] = c
	}
	if len(owner) != 12 {
		t.Fatalf("%d tracked options", len(owner))
	}
	// Each option with its own code and length as data.
	var opts []byte
	for c := 1; c < 255; c++ {
		if c != OptOverload {
			opts = append(opts, byte(c), 1, byte(c))
		}
	}
	v := mustParse(t, msg(append(opts, OptEnd)...))
	for c := range 256 {
		d, ok := v.Option(uint8(c))
		if ok != tracked(uint8(c)) || ok != v.Has(uint8(c)) || ok && (len(d) != 1 || d[0] != byte(c)) {
			t.Errorf("option %d: %x %v", c, d, ok)
		}
	}
}

func TestParseNoFingerprint(t *testing.T) {
	b := msg(OptMessageType, 1, MsgAck, OptRenewalTime, 4, 0, 0, 3, 0xe8, OptEnd)
	var v View
	if err := v.ParseNoFingerprint(b); err != nil {
		t.Fatal(err)
	}
	if v.MsgType() != MsgAck || v.Fingerprint() != 0 || !v.Ended() {
		t.Fatalf("type %d fingerprint %x ended %v", v.MsgType(), v.Fingerprint(), v.Ended())
	}
	if d, ok := v.Option(OptRenewalTime); !ok || len(d) != 4 || d[3] != 0xe8 {
		t.Fatalf("option 58: %x %v", d, ok)
	}
	if err := v.ParseNoFingerprint(b[:len(b)-1]); err != nil || v.Ended() {
		t.Fatalf("without End: %v ended %v", err, v.Ended())
	}
	if err := v.Parse(b); err != nil || v.Fingerprint() == 0 {
		t.Fatalf("Parse: %v fingerprint %x", err, v.Fingerprint())
	}
}
