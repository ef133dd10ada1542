package classify

import "testing"

func TestCompileStringEvaluates(t *testing.T) {
	p := newPacket()
	p.opts[82] = []byte{1, 5, 'p', 'o', 'r', 't', '7', 2, 2, 0xaa, 0xbb} // relay4[] reads option 82
	p.fields = map[string][]byte{"giaddr": {10, 0, 0, 1}}
	for src, want := range map[string]string{
		`'circuit ' + relay4[1].hex`: "circuit port7",
		`'remote ' + hexstring(relay4[2].hex, ':') + ' via ' + addrtotext(pkt4.giaddr)`: "remote aa:bb via 10.0.0.1",
		`ifelse(relay4[1].exists, 'relayed', 'direct')`:                                 "relayed",
	} {
		e, err := CompileString(src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if got := string(e.Append(nil, p)); got != want {
			t.Errorf("%s = %q, want %q", src, got, want)
		}
	}
	if _, err := CompileString(`option[61].exists`); err == nil {
		t.Error("a boolean expression compiled as a string one")
	}
}
