package classify

import (
	"encoding/binary"
	"testing"

	"xdhcp/config/optiondef"
)

// keaPacket is a relayed DISCOVER as kea-dhcp4 2.2 received it in the lab;
// the wanted values below are what Kea's evaluation log showed for it.
func keaPacket() *fakePacket {
	opt := func(code byte, v []byte) []byte { return append([]byte{code, byte(len(v))}, v...) }
	vivco := binary.BigEndian.AppendUint32(nil, 4491)
	vivco = append(vivco, 4, 'd', 's', 'l', '1')
	vivco = binary.BigEndian.AppendUint32(vivco, 4491)
	vivco = append(vivco, 3, 'x', 'y', 'z')
	vivso := binary.BigEndian.AppendUint32(nil, 4491)
	vivso = append(vivso, 7)
	vivso = append(vivso, opt(10, []byte("ECM"))...)
	vivso = append(vivso, 11, 0)
	return &fakePacket{
		opts: map[uint8][]byte{
			53:  {1},
			12:  []byte("myhost"),
			61:  {0x01, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff},
			55:  {1, 3, 6},
			50:  {10, 77, 0, 150},
			57:  {0x05, 0xdc},
			51:  {0, 0, 0x02, 0x58},
			60:  []byte("docsis3.0"),
			43:  {1, 2, 'A', 'B'},
			124: vivco,
			125: vivso,
			200: {0, 1, 2},
			82:  append(opt(1, []byte("eth0/1")), opt(2, []byte{0xaa, 0xbb, 0xcc})...),
		},
		mac: []byte{0x0a, 0, 0, 0, 0, 1},
		fields: map[string][]byte{
			"len": {0, 0, 0x01, 0x5b}, "src": {10, 77, 0, 2}, "dst": {10, 77, 0, 1},
			"hlen": {0, 0, 0, 6}, "msgtype": {0, 0, 0, 1}, "transid": {0x11, 0x22, 0x33, 0x44},
		},
		iface:   "clsx0",
		classes: map[string]bool{},
	}
}

// TestKeaValues checks every accessor against the value Kea 2.2 computed
// for the same packet.
func TestKeaValues(t *testing.T) {
	p := keaPacket()
	tests := []struct{ expr, want string }{
		{`option[82].text`, "type=082, len=013:,\noptions:\n  type=001, len=006: 65:74:68:30:2f:31\n  type=002, len=003: aa:bb:cc"},
		{`option[82].option[1].text`, "type=001, len=006: 65:74:68:30:2f:31"},
		{`relay4[1].text`, "type=001, len=006: 65:74:68:30:2f:31"},
		{`option[82].option[2].hex`, "\xaa\xbb\xcc"},
		{`option[12].text`, "myhost"},
		{`option[61].text`, "type=061, len=007: 01:aa:bb:cc:dd:ee:ff"},
		{`option[55].text`, "type=055, len=003: 1(uint8) 3(uint8) 6(uint8)"},
		{`option[50].text`, "type=050, len=004: 10.77.0.150 (ipv4-address)"},
		{`option[57].text`, "type=057, len=002: 1500 (uint16)"},
		{`option[51].text`, "type=051, len=004: 600 (uint32)"},
		{`option[124].text`, "type=124, len=17,  enterprise id=0x118b, data-len0=4, vendor-class-data0='dsl1', enterprise id=0x118b, data-len1=3, vendor-class-data1='xyz'"},
		{`option[125].text`, "type=125, len=012: 4491 (uint32) 7 (uint8),\noptions:\n  type=010, len=003: 45:43:4d\n  type=011, len=000: "},
		{`option[60].text`, "docsis3.0"},
		{`option[43].text`, "type=043, len=004: 01:02:41:42"},
		{`option[43].hex`, "\x01\x02AB"},
		{`option[82].hex`, "\x01\x06eth0/1\x02\x03\xaa\xbb\xcc"},
		{`option[125].hex`, "\x00\x00\x11\x8b\x07\x0a\x03ECM\x0b\x00"},
		{`option[200].text`, "type=200, len=003: 00:01:02"},
		{`pkt.len`, "\x00\x00\x01\x5b"},
		{`pkt.src`, "\x0a\x4d\x00\x02"},
		{`pkt.dst`, "\x0a\x4d\x00\x01"},
		{`pkt.iface`, "clsx0"},
		{`vendor.enterprise`, "\x00\x00\x11\x8b"},
		{`vendor-class.enterprise`, "\x00\x00\x11\x8b"},
		{`vendor[4491].option[10].hex`, "ECM"},
		{`vendor[4491].option[10].text`, "type=010, len=003: 45:43:4d"},
		{`vendor[4491].option[3].hex`, ""},
		{`vendor[9].option[10].hex`, ""},
		{`vendor-class[4491].data`, "dsl1"},
		{`vendor-class[4491].data[1]`, "xyz"},
		{`vendor-class[*].data[2]`, ""},
		{`vendor-class[1].data`, ""},
	}
	for _, tt := range tests {
		e := mustCompile(t, tt.expr+` == `+hexLiteral(tt.want))
		if !e.Eval(p) {
			var ev evaluator
			got, _ := ev.str(p, e.root.kids[0])
			t.Errorf("%s = %q, want %q", tt.expr, got, tt.want)
		}
	}
	bools := []struct {
		expr string
		want bool
	}{
		{`vendor[*].exists`, true},
		{`vendor[4491].exists`, true},
		{`vendor[4492].exists`, false},
		{`vendor[4491].option[11].exists`, true},
		{`vendor[4491].option[12].exists`, false},
		{`vendor-class[*].exists`, true},
		{`vendor-class[1].exists`, false},
		{`option[82].option[9].exists`, false},
		{`option[82].option[1].exists`, true},
		{`option[43].option[1].exists`, false}, // Kea parses 43 after classification
		{`option[61].option[1].exists`, false},
	}
	for _, tt := range bools {
		if got := mustCompile(t, tt.expr).Eval(p); got != tt.want {
			t.Errorf("%s = %v, want %v", tt.expr, got, tt.want)
		}
	}
	delete(p.opts, 124)
	delete(p.opts, 125)
	for _, src := range []string{`vendor[*].exists`, `vendor-class[*].exists`, `vendor.enterprise == ''`} {
		if got := mustCompile(t, src).Eval(p); got != (src == `vendor.enterprise == ''`) {
			t.Errorf("without options 124/125: %s = %v", src, got)
		}
	}
}

// TestSubOptionOrder: Kea keeps sub-options by code, so .hex and .text
// list them in code order whatever order the relay sent.
func TestSubOptionOrder(t *testing.T) {
	p := keaPacket()
	p.opts[82] = []byte{2, 1, 0xbb, 1, 1, 0xaa}
	if !mustCompile(t, `option[82].hex == 0x0101aa0201bb`).Eval(p) {
		t.Error("sub-options not in code order")
	}
}

// hexLiteral writes s as an expression literal: ” or 0x....
func hexLiteral(s string) string {
	if s == "" {
		return "''"
	}
	const digits = "0123456789abcdef"
	out := []byte("0x")
	for i := 0; i < len(s); i++ {
		out = append(out, digits[s[i]>>4], digits[s[i]&15])
	}
	return string(out)
}

// TestConfiguredDefinitionText: .text of an option the configuration
// defines follows that definition, as in Kea.
func TestConfiguredDefinitionText(t *testing.T) {
	defs := map[uint8]*optiondef.Def{
		222: {Name: "foo", Code: 222, Type: optiondef.String},
		223: {Name: "bar", Code: 223, Type: optiondef.Uint16},
	}
	r := Resolver{
		Code: func(name string) (uint8, bool) {
			for c, d := range defs {
				if d.Name == name {
					return c, true
				}
			}
			return 0, false
		},
		Def: func(code uint8) *optiondef.Def { return defs[code] },
	}
	p := keaPacket()
	p.opts[222] = []byte("cpe-7")
	p.opts[223] = []byte{0, 7}
	p.opts[224] = []byte{0, 7}
	for _, src := range []string{
		`option[foo].text == 'cpe-7'`,
		`option[bar].text == 'type=223, len=002: 7 (uint16)'`,
		`option[224].text == 'type=224, len=002: 00:07'`,
	} {
		e, err := CompileWith(src, r, false)
		if err != nil {
			t.Fatal(err)
		}
		if !e.Eval(p) {
			t.Errorf("%s did not match", src)
		}
	}
	s, err := CompileWith(`option[foo].hex`, r, true)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := s.EvalString(p); !ok || string(v) != "cpe-7" {
		t.Errorf("EvalString = %q, %v", v, ok)
	}
	if _, err := CompileWith(`option[foo].hex`, r, false); err == nil {
		t.Error("a string expression compiled as a test")
	}
}

// TestKeaTextTypes: more of Kea 2.2's texts, as its evaluation log showed
// them for the same payloads.
func TestKeaTextTypes(t *testing.T) {
	p := keaPacket()
	p.opts[82] = []byte{1, 2, 'p', '1', 5, 4, 10, 77, 0, 9, 6, 5, 's', 'u', 'b', '-', '9'}
	p.opts[3] = []byte{10, 0, 0, 1, 10, 0, 0, 2}
	p.opts[19] = []byte{1}
	p.opts[93] = []byte{0, 7, 0, 9}
	p.opts[2] = []byte{0xff, 0xff, 0xff, 0xf6}
	p.opts[23] = []byte{0x40}
	p.opts[121] = []byte{0x18, 0x0a, 0x01, 0x02, 0x0a, 0x00, 0x00, 0x01}
	p.opts[77] = []byte{3, 'a', 'b', 'c'}
	p.opts[97] = append([]byte{0}, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
	p.opts[119] = append([]byte{7}, "example\x03com\x00"...)
	for _, tt := range []struct{ expr, want string }{
		{`relay4[5].text`, "type=005, len=004: 0a:4d:00:09"},
		{`relay4[6].text`, "type=006, len=005: 73:75:62:2d:39"},
		{`option[82].text`, "type=082, len=017:,\noptions:\n  type=001, len=002: 70:31\n  type=005, len=004: 0a:4d:00:09\n  type=006, len=005: 73:75:62:2d:39"},
		{`option[3].text`, "type=003, len=008: 10.0.0.1 10.0.0.2"},
		{`option[19].text`, "type=019, len=001: true (boolean)"},
		{`option[93].text`, "type=093, len=004: 7(uint16) 9(uint16)"},
		{`option[2].text`, "type=002, len=004: -10 (int32)"},
		{`option[23].text`, "type=023, len=001: 64 (uint8)"},
		{`option[121].text`, "type=121, len=008: 18:0a:01:02:0a:00:00:01"},
		{`option[77].text`, "type=077, len=004: 03:61:62:63"},
		{`option[97].text`, "type=097, len=017: 0 (uint8) 000102030405060708090A0B0C0D0E0F (binary)"},
		{`option[119].text`, `type=119, len=013: "example.com." (fqdn)`},
	} {
		e := mustCompile(t, tt.expr+` == `+hexLiteral(tt.want))
		if !e.Eval(p) {
			var ev evaluator
			got, _ := ev.str(p, e.root.kids[0])
			t.Errorf("%s = %q, want %q", tt.expr, got, tt.want)
		}
	}
}
