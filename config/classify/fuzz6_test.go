package classify

import (
	"testing"
)

// FuzzCompile6 checks that no input makes the DHCPv6 compiler or
// evaluator panic or hang, and that what compiles evaluates on a DHCPv6
// packet and never matches a DHCPv4 one.
func FuzzCompile6(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	for _, s := range []string{
		`pkt6.msgtype == 1 and pkt6.transid == 0x00abcdef`,
		`relay6[0].option[interface-id].hex == 'x' or relay6[-1].option[37].exists`,
		`addrtotext(relay6[1].peeraddr) == addrtotext(relay6[-2].linkaddr)`,
		`vendor[4491].option[1026].text == '' and vendor-class[4491].data[2] == 'cm'`,
		`option[65535].option[2].hex == 0x01 and option[dns-servers].text == ''`,
		`relay6[-33].option[1].exists`, `relay6[0].option[70000].exists`, `pkt6.hops == 1`,
	} {
		f.Add(s)
	}
	p6, p4 := newPacket6(), newPacket()
	f.Fuzz(func(t *testing.T, src string) {
		for _, asString := range []bool{false, true} {
			e, err := CompileWith6(src, Resolver6{}, asString)
			if err != nil {
				continue
			}
			if asString {
				e.EvalString(p6)
				if _, ok := e.EvalString(p4); ok {
					t.Fatalf("%q evaluates on a DHCPv4 packet", src)
				}
				continue
			}
			e.Eval(p6)
			if e.Eval(p4) {
				t.Fatalf("%q matches a DHCPv4 packet", src)
			}
		}
	})
}
