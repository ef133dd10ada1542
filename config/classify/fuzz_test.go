package classify

import (
	"errors"
	"strings"
	"testing"
)

// fuzzSeeds covers every construct, plus broken and nasty inputs.
var fuzzSeeds = []string{
	`substring(option[60].hex,0,9) == 'PXEClient'`,
	`relay4[1].hex == 0x0001`,
	`pkt4.mac == 0x001122334455`,
	`member('foo') and not member('bar')`,
	`option[61].exists`,
	`pkt.iface == 'eth0'`,
	`option[host-name].text == 'a' or relay4[2].exists`,
	`pkt4.hlen == 6 and pkt4.htype == 1 and pkt4.msgtype == 1 and pkt4.transid == 0x12345678`,
	`pkt4.giaddr == 192.0.2.1 and pkt4.ciaddr == 0.0.0.0 and pkt4.yiaddr == pkt4.siaddr`,
	`substring(option[60].hex, -3, -2) == 'ab'`,
	`substring('foobar', 2, all) == 'obar'`,
	`concat('a', 'b') + 'c' == 'abc'`,
	`ifelse(member('KNOWN'), 'k', 'u') == 'k'`,
	`hexstring(pkt4.mac, ':') == '00:11:22:33:44:55'`,
	`split(option[60].text, ':', 2) == 'Arch'`,
	`vendor[4491].option[2].hex == 'x' or vendor-class[*].data[1] == 'y' or option[82].option[1].exists`,
	`pkt.len == 300 and pkt.src == 10.0.0.1 and vendor.enterprise == 4491`,
	`option[97].text == option[119].text + option[3].text + option[93].text`,
	`addrtotext(pkt4.giaddr) == '192.0.2.1' and uint8totext(0x01) == '1' and int16totext(option[93].hex) == '7'`,
	`(member('a') or member('b')) and not (member('c'))`,
	`substring('abc', 2147483648, all) == ''`,
	`member('foo') or uint8totext(0x0102) == '1'`,
	strings.Repeat("(", 70) + "member('a')" + strings.Repeat(")", 70),
	strings.Repeat("not ", 70) + "member('a')",
	strings.Repeat("hexstring(", 20) + "option[60].hex" + strings.Repeat(", ':')", 20) + " == ''",
	"",
	"'",
	"0x",
	"0xg",
	"1.2.3",
	"1.2.3.4.5 == ''",
	"option[",
	"option[60].",
	"member(",
	"'a' == ",
	"==",
	"-",
	"-5 == 'x'",
	"substring(",
	"\x00\xff",
}

// fixedPacket is what FuzzEval evaluates against, with the payload of
// option 60 and of the options read as structures (82, 124, 125) supplied
// by the fuzzer, so string functions and the parsers of sub-options and
// vendor blocks see arbitrary bytes.
func fixedPacket(opt60 []byte) *fakePacket {
	p := newPacket()
	for _, code := range []uint8{60, 82, 124, 125, 97, 119, 3, 93} {
		p.opts[code] = opt60
	}
	return p
}

func FuzzCompile(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		e, err := Compile(src)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Compile(%q) error %v is not a *SyntaxError", src, err)
			}
			if se.Col < 1 || se.Col > len(src)+1 {
				t.Fatalf("Compile(%q) error column %d outside 1..%d", src, se.Col, len(src)+1)
			}
			if e != nil {
				t.Fatalf("Compile(%q) returned both an Expr and an error", src)
			}
			return
		}
		if e.String() != src {
			t.Fatalf("String() = %q, want %q", e.String(), src)
		}
		seen := map[string]bool{}
		for _, r := range e.Refs() {
			if seen[r] || r == "" {
				t.Fatalf("Refs() = %q: duplicate or empty name", e.Refs())
			}
			seen[r] = true
			if !strings.Contains(src, "'"+r+"'") {
				t.Fatalf("Refs() name %q does not occur quoted in %q", r, src)
			}
		}
		// Compiling is deterministic.
		e2, err := Compile(src)
		if err != nil || e2.Eval(newPacket()) != e.Eval(newPacket()) {
			t.Fatalf("second Compile(%q) differs: %v", src, err)
		}
	})
}

func FuzzEval(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s, []byte("PXEClient:Arch:00000:UNDI:002001"))
		f.Add(s, []byte{})
	}
	f.Fuzz(func(t *testing.T, src string, opt60 []byte) {
		e, err := Compile(src)
		if err != nil {
			return
		}
		p := fixedPacket(opt60)
		got := e.Eval(p)
		// Eval is a pure function of the packet: repeating it (with a
		// recycled arena) gives the same answer.
		if again := e.Eval(p); again != got {
			t.Fatalf("Eval(%q) not deterministic: %v then %v", src, got, again)
		}
		// Negation is exact unless a runtime error voids both.
		neg, err := Compile("not (" + src + ")")
		if err != nil {
			return // e.g. nesting limit reached by the extra level
		}
		if got && neg.Eval(p) {
			t.Fatalf("both %q and its negation match", src)
		}
	})
}
