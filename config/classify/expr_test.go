package classify

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
)

func mustCompile(t testing.TB, src string) *Expr {
	t.Helper()
	e, err := Compile(src)
	if err != nil {
		t.Fatalf("Compile(%q): %v", src, err)
	}
	return e
}

func TestEval(t *testing.T) {
	tests := []struct {
		src  string
		want bool
	}{
		// Kea ARM examples.
		{`substring(option[60].hex,0,9) == 'PXEClient'`, true},
		{`relay4[1].hex == 0x0001`, true},
		{`pkt4.mac == 0x001122334455`, true},
		{`member('foo') and not member('bar')`, true},
		{`option[61].exists`, true},
		{`pkt.iface == 'eth0'`, true},
		{`option[vendor-class-identifier].text == 'PXEClient:Arch:00000:UNDI:002001'`, true},

		// Literals.
		{`'abc' == 'abc'`, true},
		{`'abc' == 'abd'`, false},
		{`'' == ''`, true},
		{`'A' == 0x41`, true},
		{`0x0a0B == 0x0A0b`, true},
		{`0xA == 0x0a`, true}, // odd digit count gets a leading 0
		{`0x123 == 0x0123`, true},
		{`192.0.2.1 == 0xc0000201`, true},
		{`1 == 0x00000001`, true}, // integers are 4 bytes, network order
		{`4294967295 == 0xffffffff`, true},
		{`'a b' == 0x612062`, true}, // strings keep their spaces

		// option[N].
		{`option[60].hex == 'PXEClient:Arch:00000:UNDI:002001'`, true},
		{`option[60].text == 'PXEClient:Arch:00000:UNDI:002001'`, true},
		{`option[61].hex == 0x01001122334455`, true},
		{`option[99].hex == ''`, true}, // missing option is the empty string
		{`option[99].exists`, false},
		{`option[77].exists`, true}, // present with an empty payload
		{`option[77].hex == ''`, true},
		{`option[host-name].text == 'Host-A'`, true},
		{`option[dhcp-client-identifier].hex == 0x01001122334455`, true},
		{`option[dhcp-message-type].hex == 0x01`, true},
		{`option[dhcp-requested-address].exists`, false},
		{`option[ host-name ].exists`, true},
		{`option[0].exists`, false},
		{`option[255].exists`, false},

		// relay4[N].
		// Kea's text of a binary sub-option is its debugging text.
		{`relay4[2].text == 'remote-id'`, false},
		{`relay4[2].text == 'type=002, len=009: 72:65:6d:6f:74:65:2d:69:64'`, true},
		{`relay4[2].hex == 'remote-id'`, true},
		{`relay4[2].exists`, true},
		{`relay4[3].exists`, false},
		{`relay4[3].hex == ''`, true},

		// pkt4 fields; hlen/htype/msgtype widen to 4 bytes as in Kea.
		{`pkt4.hlen == 6`, true},
		{`pkt4.hlen == 0x06`, false},
		{`pkt4.htype == 0x00000001`, true},
		{`pkt4.msgtype == 1`, true},
		{`pkt4.transid == 0x12345678`, true},
		{`pkt4.giaddr == 192.0.2.1`, true},
		{`pkt4.ciaddr == 0.0.0.0`, true},
		{`pkt4.yiaddr == 0.0.0.0`, true},
		{`pkt4.siaddr == 10.0.0.1`, true},
		{`pkt.iface == 'eth1'`, false},

		// substring.
		{`substring('foobar', 0, all) == 'foobar'`, true},
		{`substring('foobar', 0, 6) == 'foobar'`, true},
		{`substring('foobar', 0, 4) == 'foob'`, true},
		{`substring('foobar', 2, all) == 'obar'`, true},
		{`substring('foobar', 2, 100) == 'obar'`, true},
		{`substring('foobar', 2, 2) == 'ob'`, true},
		{`substring('foobar', 1, 0) == ''`, true},
		{`substring('foobar', -1, all) == 'r'`, true},
		{`substring('foobar', -1, -1) == 'a'`, true},
		{`substring('foobar', -1, -4) == 'ooba'`, true},
		{`substring('foobar', -1, -6) == 'fooba'`, true}, // length clipped to the left edge
		{`substring('foobar', 1, -1) == 'f'`, true},
		{`substring('foobar', 0, -1) == ''`, true},
		{`substring('foobar', -6, all) == 'foobar'`, true},
		{`substring('foobar', -7, all) == ''`, true}, // start before the string
		{`substring('foobar', 6, all) == ''`, true},  // start after the string
		{`substring('', 0, all) == ''`, true},
		{`substring(option[61].hex, 1, all) == pkt4.mac`, true},
		{`substring(substring('foobar', 1, all), 1, 2) == 'ob'`, true},

		// concat and +.
		{`concat('foo', 'bar') == 'foobar'`, true},
		{`concat('', '') == ''`, true},
		{`'foo' + 'bar' + 'baz' == 'foobarbaz'`, true},
		{`concat(relay4[1].hex, relay4[2].hex) == 0x0001 + 'remote-id'`, true},
		{`concat(option[60].hex, option[60].hex) == option[60].hex + option[60].hex`, true},

		// ifelse.
		{`ifelse(option[61].exists, 'yes', 'no') == 'yes'`, true},
		{`ifelse(option[62].exists, 'yes', 'no') == 'no'`, true},
		{`ifelse(member('foo') and member('bar'), 'a', 'b') == 'b'`, true},

		// hexstring.
		{`hexstring(pkt4.mac, ':') == '00:11:22:33:44:55'`, true},
		{`hexstring(0xABcd, '') == 'abcd'`, true},
		{`hexstring(0x0102, '--') == '01--02'`, true},
		{`hexstring('', ':') == ''`, true},

		// split (Kea 2.2): every delimiter byte separates, fields from 1.
		{`split('a.b.c', '.', 2) == 'b'`, true},
		{`split('a.b.c', '.', 3) == 'c'`, true},
		{`split('a.b.c', '.', 1) == 'a'`, true},
		{`split('a.b.c', '.', 4) == ''`, true},
		{`split('a.b.c', '.', 0) == ''`, true},
		{`split('a.b.c', '.', -1) == ''`, true},
		{`split('a..c', '.', 2) == ''`, true},
		{`split('a..c', '.', 3) == 'c'`, true},
		{`split('a.b|c', '.|', 3) == 'c'`, true},
		{`split('abc', '', 2) == 'abc'`, true}, // empty delimiter returns the input
		{`split('', '.', 1) == ''`, true},
		{`split(option[60].text, ':', 2) == 'Arch'`, true},

		// Conversions.
		{`addrtotext(pkt4.giaddr) == '192.0.2.1'`, true},
		{`addrtotext(0x20010db8000000000000000000000001) == '2001:db8::1'`, true},
		{`addrtotext('') == ''`, true},
		{`uint8totext(0xff) == '255'`, true},
		{`int8totext(0xff) == '-1'`, true},
		{`uint16totext(option[93].hex) == '7'`, true},
		{`int16totext(0x8000) == '-32768'`, true},
		{`uint32totext(pkt4.transid) == '305419896'`, true},
		{`int32totext(0xffffffff) == '-1'`, true},
		{`uint32totext(pkt4.msgtype) == '1'`, true},

		// Booleans and precedence: not > and > or.
		{`member('foo')`, true},
		{`member('bar')`, false},
		{`member('KNOWN') and not member('UNKNOWN')`, true},
		{`not member('foo')`, false},
		{`not not member('foo')`, true},
		{`member('bar') or member('foo')`, true},
		{`member('bar') or member('baz')`, false},
		{`member('foo') and member('bar')`, false},
		{`member('foo') or member('bar') and member('baz')`, true},    // or(foo, and(bar, baz))
		{`(member('foo') or member('bar')) and member('baz')`, false}, // parentheses override
		{`not member('bar') and member('foo')`, true},                 // (not bar) and foo
		{`not (member('bar') or member('foo'))`, false},
		{`member('foo') and member('KNOWN') and member('ALL')`, true},
		{`member('bar') or member('baz') or member('ALL')`, true},
		{`(option[60].hex) == ('PXEClient:Arch:00000:UNDI:002001')`, true},
		{`((option[61].exists))`, true},
		{"option[61].exists\n and\tpkt4.hlen == 6", true},

		// Runtime errors void the whole expression, as in Kea.
		{`uint8totext(0x0102) == '1'`, false},
		{`not (uint8totext(0x0102) == '1')`, false},
		{`member('foo') or uint8totext(0x0102) == '1'`, false}, // Kea evaluates every operand
		{`member('bar') and uint8totext(0x0102) == '1'`, false},
		{`addrtotext(0x010203) == ''`, false},
		{`ifelse(member('foo'), 'a', uint16totext(0x01)) == 'a'`, false},
		{`substring('abc', 2147483648, all) == ''`, false},       // Kea's lexical_cast<int> fails
		{`substring('', 2147483648, all) == ''`, true},           // ... but only for a non-empty string
		{`split('a.b', '.', 99999999999) == ''`, false},          // same for split
		{`member('foo') or substring('abc', 0, 1) == 'a'`, true}, // cannot fail: short-circuits
	}
	p := newPacket()
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			e := mustCompile(t, tt.src)
			if got := e.Eval(p); got != tt.want {
				t.Errorf("Eval(%q) = %v, want %v", tt.src, got, tt.want)
			}
			if e.String() != tt.src {
				t.Errorf("String() = %q, want %q", e.String(), tt.src)
			}
		})
	}
}

func TestEvalPacketVariants(t *testing.T) {
	// hlen etc. already 4 bytes wide are used as they are.
	p := newPacket()
	p.fields["hlen"] = []byte{0, 0, 0, 6}
	if !mustCompile(t, `pkt4.hlen == 6`).Eval(p) {
		t.Error("4-byte hlen not matched")
	}
	// A field the packet does not know is empty, like a missing option.
	delete(p.fields, "giaddr")
	if !mustCompile(t, `pkt4.giaddr == ''`).Eval(p) {
		t.Error("unknown field should be empty")
	}
	// Non-relayed packet.
	delete(p.opts, 82)
	if mustCompile(t, `relay4[1].exists`).Eval(p) {
		t.Error("relay4[1].exists true without option 82")
	}
	// A nil packet or nil Expr never matches and never panics.
	if mustCompile(t, `not member('x')`).Eval(nil) {
		t.Error("Eval(nil) = true")
	}
	var e *Expr
	if e.Eval(newPacket()) || e.String() != "" || e.Refs() != nil {
		t.Error("nil Expr misbehaves")
	}
	// Large values spill from the stack scratch space to the heap
	// correctly: earlier values must survive the arena growing.
	big := strings.Repeat("x", 300)
	p = newPacket()
	p.opts[43] = []byte(big)
	src := `concat(hexstring(option[43].hex, ''), concat(option[43].hex, option[43].hex)) == hexstring(option[43].hex, '') + option[43].hex + option[43].hex`
	if !mustCompile(t, src).Eval(p) {
		t.Error("arena growth corrupted values")
	}
}

func TestValueLimit(t *testing.T) {
	// Each hexstring level multiplies the size; the limit turns an
	// exponential blow-up into a non-match instead of exhausting memory.
	src := `hexstring(hexstring(hexstring(hexstring(hexstring(hexstring(hexstring(hexstring(hexstring(option[60].hex, ':'), ':'), ':'), ':'), ':'), ':'), ':'), ':'), ':') == ''`
	if mustCompile(t, src).Eval(newPacket()) {
		t.Error("oversized value should make the expression fail")
	}
	if !mustCompile(t, `not (hexstring(hexstring(option[60].hex, ':'), ':') == '')`).Eval(newPacket()) {
		t.Error("small nested hexstring should work")
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		src  string
		want string // exact error text
	}{
		{``, `col 1: unexpected end of expression`},
		{`option[60].hex and true`, `col 1: operand of 'and' is a string, not a boolean (compare it with '==')`},
		{`member('a') or option[60].hex`, `col 16: operand of 'or' is a string, not a boolean (compare it with '==')`},
		{`not option[60].hex`, `col 5: operand of 'not' is a string, not a boolean (compare it with '==')`},
		{`'abc'`, `col 1: expression is a string, not a boolean (compare it with '==')`},
		{`option[60].hex`, `col 1: expression is a string, not a boolean (compare it with '==')`},
		{`member('a') == 'true'`, `col 1: operand of '==' is a boolean; '==' compares strings`},
		{`'a' == 'a' == 'a'`, `col 12: '==' cannot be chained: its left side would be a boolean`},
		{`'a' + member('x') == 'a'`, `col 7: operand of '+' is a boolean; '+' concatenates strings`},
		{`substring(option[60].hex,0,9 == 'PXEClient'`, `col 30: expected ')' but found '=='`},
		{`(member('a')`, `col 13: expected ')' but found end of expression`},
		{`member('a'))`, `col 12: unexpected ')' after the expression`},
		{`member('foo'`, `col 13: expected ')' but found end of expression`},
		{`member(foo)`, `col 8: expected string but found 'foo'`},
		{`member('')`, `col 8: member() needs a class name`},
		{`option[256].hex == ''`, `col 8: option code 256 is out of range 0..255`},
		{`option[-1].hex == ''`, `col 8: option code -1 is out of range 0..255`},
		{`option[no-such-option].hex == ''`, `col 8: option 'no-such-option' is not defined`},
		{`option[60].raw == ''`, `col 12: expected hex, text, exists or option[...] but found 'raw'`},
		{`option[82].option[1].raw == ''`, `col 22: expected hex, text or exists but found 'raw'`},
		{`option[82].option[1].option[2].hex == ''`, `col 22: expected hex, text or exists but found 'option'`},
		{`option[60] == ''`, `col 12: expected '.' but found '=='`},
		{`option[82].option[agent].hex == ''`, `col 19: expected a sub-option code but found 'agent'`},
		{`relay4[host-name].hex == ''`, `col 8: expected a sub-option code but found 'host-name'`},
		{`pkt4.chaddr == ''`, `col 6: unknown packet field pkt4.chaddr`},
		{`pkt.source == ''`, `col 5: unknown packet field pkt.source (expected iface, src, dst or len)`},
		{`pkt6.msgtype == 1`, `col 1: pkt6 can only be used in DHCPv6`},
		{`vendor[4491].data == ''`, `col 14: expected exists or option[...] but found 'data'`},
		{`vendor[x].exists`, `col 8: expected an enterprise id or '*' but found 'x'`},
		{`vendor[4294967296].exists`, `col 8: enterprise id 4294967296 is not an unsigned 32-bit value`},
		{`vendor-class[4491].option[1].exists`, `col 20: expected exists or data but found 'option'`},
		{`vendor-class[4491].data[256] == ''`, `col 25: data index 256 is out of range 0..255`},
		{`vendor.exists`, `col 8: expected enterprise but found 'exists'`},
		{`lcase('A') == 'a'`, `col 1: unknown name 'lcase'`},
		{`ucase('a') == 'A'`, `col 1: unknown name 'ucase'`},
		{`'abc`, `col 1: unterminated string`},
		{"'ab\nc' == 'x'", `col 1: unterminated string`},
		{`'a' = 'a'`, `col 5: invalid character '='`},
		{`'a' == "a"`, `col 8: invalid character '"'`},
		{"'a' == \x01", `col 8: invalid character 0x01`},
		{`'a' == 'a' garbage`, `col 12: unexpected 'garbage' after the expression`},
		{`true`, `col 1: unknown name 'true'`},
		{`and member('x')`, `col 1: unexpected 'and'`},
		{`4294967296 == 'a'`, `col 1: integer 4294967296 is not an unsigned 32-bit value`},
		{`-1 == 'a'`, `col 1: integer -1 is not an unsigned 32-bit value`},
		{`999.0.2.1 == 'a'`, `col 1: invalid IPv4 address 999.0.2.1`},
		{`01.0.2.1 == 'a'`, `col 1: invalid IPv4 address 01.0.2.1`},
		{`substring('abc', 'x', 1) == ''`, `col 18: argument of substring() must be an integer, found string 'x'`},
		{`substring('abc', 0, none) == ''`, `col 21: argument of substring() must be an integer, found 'none'`},
		{`substring(member('a'), 0, 1) == ''`, `col 11: argument of substring() must be a string, not a boolean`},
		{`ifelse(option[60].hex, 'a', 'b') == 'a'`, `col 8: argument of ifelse() must be a boolean, not a string`},
		{`ifelse(member('a'), 'a', member('b')) == 'a'`, `col 26: argument of ifelse() must be a string, not a boolean`},
		{`concat('a') == 'a'`, `col 11: expected ',' but found ')'`},
		{`split('a', '.') == 'a'`, `col 15: expected ',' but found ')'`},
		{`addrtotext('a', 'b') == 'a'`, `col 15: expected ')' but found ','`},
		{`hexstring == 'a'`, `col 11: expected '(' but found '=='`},
		{strings.Repeat("(", 70) + "member('a')" + strings.Repeat(")", 70), `col 65: expression nested deeper than 64 levels`},
		{strings.Repeat("not ", 70) + "member('a')", `col 257: expression nested deeper than 64 levels`},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			e, err := Compile(tt.src)
			if err == nil {
				t.Fatalf("Compile(%q) = %v, want error %q", tt.src, e, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("Compile(%q) error\n got: %s\nwant: %s", tt.src, err, tt.want)
			}
			var se *SyntaxError
			if !errors.As(err, &se) || se.Col < 1 || se.Col > len(tt.src)+1 {
				t.Errorf("error %v is not a *SyntaxError with a column inside the source", err)
			}
		})
	}
}

func TestDeepButLegalNesting(t *testing.T) {
	src := strings.Repeat("(", 60) + "member('foo')" + strings.Repeat(")", 60)
	if !mustCompile(t, src).Eval(newPacket()) {
		t.Error("60 levels of parentheses should evaluate")
	}
	// Long flat chains are not nesting: they compile to one n-ary node.
	long := "member('x')" + strings.Repeat(" or member('x')", 5000) + " or member('foo')"
	if !mustCompile(t, long).Eval(newPacket()) {
		t.Error("long or-chain")
	}
	cat := "'a'" + strings.Repeat(" + 'a'", 999) + " == '" + strings.Repeat("a", 1000) + "'"
	if !mustCompile(t, cat).Eval(newPacket()) {
		t.Error("long + chain")
	}
}

func TestRefs(t *testing.T) {
	e := mustCompile(t, `member('b') and (member('a') or not member('b')) and member('KNOWN') and ifelse(member('c'), 'x', 'y') == 'x'`)
	if got, want := e.Refs(), []string{"b", "a", "KNOWN", "c"}; !slices.Equal(got, want) {
		t.Errorf("Refs() = %q, want %q", got, want)
	}
	// The returned slice is a copy: callers cannot change the Expr.
	e.Refs()[0] = "zzz"
	if e.Refs()[0] != "b" {
		t.Error("Refs() exposes internal state")
	}
	if got := mustCompile(t, `option[61].exists`).Refs(); got != nil {
		t.Errorf("Refs() = %q, want nil", got)
	}
}

func TestCompileWithNames(t *testing.T) {
	names := func(n string) (uint8, bool) {
		if n == "my-opt" {
			return 222, true
		}
		if n == "host-name" {
			return 200, true // standard names win, as in Kea
		}
		return 0, false
	}
	e, err := CompileWithNames(`option[my-opt].hex == 'x' and option[host-name].exists`, names)
	if err != nil {
		t.Fatal(err)
	}
	p := newPacket()
	p.opts[222] = []byte("x")
	if !e.Eval(p) {
		t.Error("custom option name not resolved to 222 or host-name not 12")
	}
	if _, err := Compile(`option[my-opt].exists`); err == nil {
		t.Error("Compile resolved a custom name without a resolver")
	}
}

func TestEvalAllocations(t *testing.T) {
	p := newPacket()
	srcs := []string{
		`substring(option[60].hex,0,9) == 'PXEClient'`,
		`relay4[1].hex == 0x0001 and pkt4.mac == 0x001122334455`,
		`member('foo') and not member('bar') or option[61].exists`,
		`pkt.iface == 'eth0' and pkt4.hlen == 6`,
		`concat(option[60].hex, 'x') == option[60].hex + 'x'`,
		`hexstring(pkt4.mac, ':') == '00:11:22:33:44:55'`,
		`split(option[60].text, ':', 1) == 'PXEClient'`,
		`option[82].option[2].hex == 'remote-id' and option[61].text == 'type=061, len=007: 01:00:11:22:33:44:55'`,
		`ifelse(option[61].exists, uint32totext(pkt4.transid), addrtotext(pkt4.giaddr)) == '305419896'`,
	}
	for _, src := range srcs {
		e := mustCompile(t, src)
		if !e.Eval(p) {
			t.Errorf("%q did not match", src)
		}
		if n := testing.AllocsPerRun(100, func() { e.Eval(p) }); n != 0 {
			t.Errorf("Eval(%q) allocates %v times per run, want 0", src, n)
		}
	}
}

func TestConcurrentEval(t *testing.T) {
	e := mustCompile(t, `concat(hexstring(pkt4.mac, ':'), pkt.iface) == '00:11:22:33:44:55eth0' and member('foo')`)
	other := newPacket()
	other.iface = "eth1"
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			p, want := newPacket(), true
			if g%2 == 1 {
				p, want = other, false
			}
			for i := 0; i < 2000; i++ {
				if e.Eval(p) != want {
					errs <- "wrong result under concurrency"
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
}

func BenchmarkEval(b *testing.B) {
	p := newPacket()
	e := mustCompile(b, `substring(option[60].hex,0,9) == 'PXEClient' and member('foo') and hexstring(pkt4.mac, ':') == '00:11:22:33:44:55'`)
	b.ReportAllocs()
	for b.Loop() {
		e.Eval(p)
	}
}
