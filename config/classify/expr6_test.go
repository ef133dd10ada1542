package classify

import (
	"net/netip"
	"testing"

	"xdhcp/config/optiondef"
)

// fakePacket6 implements Packet6 over plain fields: a Solicit relayed
// twice (relay 0 is the one closest to the server).
type fakePacket6 struct {
	fakePacket
	opts6  map[uint16][]byte
	relays []fakeRelay6
}

type fakeRelay6 struct {
	link, peer netip.Addr
	opts       map[uint16][]byte
}

func (f *fakePacket6) Option6(code uint16) ([]byte, bool) {
	b, ok := f.opts6[code]
	return b, ok
}
func (f *fakePacket6) MsgType() uint8  { return 1 }
func (f *fakePacket6) TransID() uint32 { return 0xabcdef }
func (f *fakePacket6) Relays() int     { return len(f.relays) }
func (f *fakePacket6) RelayOption(level int, code uint16) ([]byte, bool) {
	b, ok := f.relays[level].opts[code]
	return b, ok
}
func (f *fakePacket6) RelayAddrs(level int) (link, peer netip.Addr) {
	return f.relays[level].link, f.relays[level].peer
}

func newPacket6() *fakePacket6 {
	return &fakePacket6{
		fakePacket: fakePacket{iface: "eth1", classes: map[string]bool{"ALL": true}, fields: map[string][]byte{
			"src": netip.MustParseAddr("fe80::1").AsSlice(),
		}},
		opts6: map[uint16][]byte{
			1:  {0x00, 0x03, 0x00, 0x01, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55}, // DUID-LL
			15: {0x00, 0x04, 'i', 'p', 'x', 'e'},
			16: {0x00, 0x00, 0x11, 0x8b, 0x00, 0x05, 'm', 'o', 'd', 'e', 'm', 0x00, 0x02, 'c', 'm'},
			17: {0x00, 0x00, 0x11, 0x8b, 0x04, 0x02, 0x00, 0x06, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55},
			39: {0x01, 0x04, 'h', 'o', 's', 't', 0x00},
		},
		relays: []fakeRelay6{
			{link: netip.MustParseAddr("2001:db8:1::1"), peer: netip.MustParseAddr("fe80::a"),
				opts: map[uint16][]byte{18: []byte("agg-port-7")}},
			{link: netip.MustParseAddr("2001:db8:2::1"), peer: netip.MustParseAddr("fe80::b"),
				opts: map[uint16][]byte{18: []byte("access-3"), 37: {0x00, 0x00, 0x0d, 0xe9, 'r', 'i', 'd'}}},
		},
	}
}

func TestEval6(t *testing.T) {
	defs := Resolver6{
		Code: func(name string) (uint16, bool) { return 1000, name == "my-opt" },
		Def: func(code uint16) *optiondef.Def6 {
			if code == 1000 {
				return &optiondef.Def6{Name: "my-opt", Code: 1000, Type: optiondef.String}
			}
			return nil
		},
	}
	p := newPacket6()
	for _, c := range []struct {
		src  string
		want bool
	}{
		{"pkt6.msgtype == 1", true},
		{"pkt6.msgtype == 3", false},
		{"pkt6.transid == 0x00abcdef", true},
		{"option[clientid].hex == 0x0003000100112233 + 0x4455", true},
		{"option[1].exists and not option[2].exists", true},
		{"substring(option[user-class].hex, 2, all) == 'ipxe'", true},
		{"relay6[0].option[interface-id].hex == 'agg-port-7'", true},
		{"relay6[1].option[18].hex == 'access-3'", true},
		{"relay6[-1].option[18].hex == 'access-3'", true},
		{"relay6[2].option[18].exists", false},
		{"relay6[2].option[18].hex == ''", true},
		{"relay6[1].option[37].exists", true},
		{"addrtotext(relay6[0].linkaddr) == '2001:db8:1::1'", true},
		{"addrtotext(relay6[-1].peeraddr) == 'fe80::b'", true},
		{"relay6[5].linkaddr == ''", true},
		{"vendor[4491].exists", true},
		{"vendor[4491].option[1026].hex == 0x001122334455", true},
		{"vendor[4491].option[1026].exists and not vendor[4491].option[1].exists", true},
		{"vendor[9].exists", false},
		{"vendor.enterprise == 4491", true},
		{"vendor-class[4491].data == 'modem'", true},
		{"vendor-class[4491].data[1] == 'cm'", true},
		{"vendor-class[*].exists", true},
		{"option[my-opt].exists", false},
		{"member('ALL') and pkt.iface == 'eth1'", true},
		{"addrtotext(pkt.src) == 'fe80::1'", true},
	} {
		e, err := CompileWith6(c.src, defs, false)
		if err != nil {
			t.Errorf("%s: %v", c.src, err)
			continue
		}
		if got := e.Eval(p); got != c.want {
			t.Errorf("%s = %v, want %v", c.src, got, c.want)
		}
		if !e.IsV6() {
			t.Errorf("%s: not a DHCPv6 expression", c.src)
		}
		if e.Eval(newPacket()) {
			t.Errorf("%s matches a DHCPv4 packet", c.src)
		}
	}
}

func TestCompile6Errors(t *testing.T) {
	for _, src := range []string{
		"pkt4.mac == 0x00",
		"relay4[1].exists",
		"option[routers].exists",
		"option[70000].exists",
		"pkt6.hlen == 1",
		"relay6[x].option[18].exists",
		"relay6[0].option[18]",
		"relay6[99].peeraddr == ''",
		"relay6[0].hops == ''",
	} {
		if _, err := CompileWith6(src, Resolver6{}, false); err == nil {
			t.Errorf("%s: compiled", src)
		}
	}
	// And the DHCPv6 words stay refused in DHCPv4.
	for _, src := range []string{"pkt6.msgtype == 1", "relay6[0].option[18].exists"} {
		if _, err := Compile(src); err == nil {
			t.Errorf("%s compiled for DHCPv4", src)
		}
	}
}

func TestText6(t *testing.T) {
	p := newPacket6()
	for src, want := range map[string]string{
		"option[39].text":                      "type=00039, len=00007: 01:04:68:6f:73:74:00",
		"relay6[0].option[18].text":            "type=00018, len=00010: 61:67:67:2d:70:6f:72:74:2d:37",
		"vendor[4491].option[1026].text":       "type=01026, len=00006: 00:11:22:33:44:55",
		"substring(option[15].hex, 0, 2)":      "\x00\x04",
		"hexstring(option[clientid].hex, ':')": "00:03:00:01:00:11:22:33:44:55",
	} {
		e, err := CompileWith6(src, Resolver6{}, true)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if got, ok := e.EvalString(p); !ok || string(got) != want {
			t.Errorf("%s = %q %v, want %q", src, got, ok, want)
		}
	}
}

func TestEval6DoesNotAllocate(t *testing.T) {
	p := newPacket6()
	for _, src := range []string{
		"pkt6.msgtype == 1 and relay6[0].option[18].hex == 'agg-port-7'",
		"addrtotext(relay6[-1].linkaddr) == '2001:db8:2::1'",
		"vendor[4491].option[1026].exists or option[15].exists",
	} {
		e, err := CompileWith6(src, Resolver6{}, false)
		if err != nil {
			t.Fatal(err)
		}
		e.Eval(p)
		if n := testing.AllocsPerRun(100, func() { e.Eval(p) }); n != 0 {
			t.Errorf("%s: %v allocations per Eval", src, n)
		}
	}
}
