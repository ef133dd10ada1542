package handoff

import "testing"

// opt6 encodes one DHCPv6 option.
func opt6(code uint16, data ...byte) []byte {
	return append([]byte{byte(code >> 8), byte(code), byte(len(data) >> 8), byte(len(data))}, data...)
}

func msg6(typ byte, opts ...[]byte) []byte {
	m := []byte{typ, 0x12, 0x34, 0x56}
	for _, o := range opts {
		m = append(m, o...)
	}
	return m
}

func TestFingerprint6(t *testing.T) {
	duid := opt6(1, 0, 3, 0, 1, 2, 4, 6, 8, 10, 12)
	oro := opt6(6, 0, 23, 0, 24)
	request := msg6(3, duid, opt6(2, 0, 1, 9), opt6(8, 0, 0), oro, opt6(3, make([]byte, 12)...))
	renew := msg6(5, duid, opt6(2, 0, 1, 9), opt6(8, 0, 100), oro, opt6(3, make([]byte, 40)...), opt6(25, make([]byte, 12)...))
	rebind := msg6(6, opt6(8, 1, 0), duid, oro)
	fp, ok := Fingerprint6(request)
	if !ok {
		t.Fatal("request does not parse")
	}
	for name, m := range map[string][]byte{"renew": renew, "rebind": rebind} {
		if got, ok := Fingerprint6(m); !ok || got != fp {
			t.Errorf("%s: fingerprint %x ok %v, want %x as the Request", name, got, ok, fp)
		}
	}
	for name, m := range map[string][]byte{
		"other ORO":    msg6(5, duid, opt6(6, 0, 23)),
		"no ORO":       msg6(5, duid),
		"vendor class": msg6(5, duid, oro, opt6(16, 0, 0, 0, 9)),
		"ORO moved":    msg6(5, opt6(15, 1), duid, oro),
	} {
		if got, ok := Fingerprint6(m); !ok || got == fp {
			t.Errorf("%s: fingerprint %x ok %v, want a different one", name, got, ok)
		}
	}
	for name, m := range map[string][]byte{
		"short":          {5, 0, 0},
		"truncated head": append(msg6(5, duid), 0, 6, 0),
		"truncated data": append(msg6(5, duid), 0, 6, 0, 4, 0),
	} {
		if _, ok := Fingerprint6(m); ok {
			t.Errorf("%s: parsed", name)
		}
	}
	if n := testing.AllocsPerRun(100, func() { Fingerprint6(renew) }); n != 0 {
		t.Errorf("Fingerprint6 allocates %v times", n)
	}
}

func relayed6(inner []byte, link byte, ifaceID string) []byte {
	m := make([]byte, 34)
	m[0], m[2], m[17] = 12, 0x20, link
	m = append(m, opt6(18, []byte(ifaceID)...)...)
	return append(m, opt6(9, inner...)...)
}

func TestFingerprint6Relayed(t *testing.T) {
	duid := opt6(1, 0, 3, 0, 1, 2, 4, 6, 8, 10, 12)
	request := msg6(3, duid, opt6(2, 0, 1, 9), opt6(6, 0, 23), opt6(3, make([]byte, 12)...))
	renew := msg6(5, duid, opt6(2, 0, 1, 9), opt6(6, 0, 23), opt6(3, make([]byte, 40)...))
	direct, _ := Fingerprint6(request)
	fp, ok := Fingerprint6(relayed6(request, 1, "port-1"))
	if !ok || fp == direct {
		t.Fatalf("relayed request: %x ok %v (direct %x)", fp, ok, direct)
	}
	if got, ok := Fingerprint6(relayed6(renew, 1, "port-1")); !ok || got != fp {
		t.Errorf("the Renew through the same relay: %x, want %x", got, fp)
	}
	for name, m := range map[string][]byte{
		"another link":         relayed6(renew, 2, "port-1"),
		"another interface-id": relayed6(renew, 1, "port-2"),
		"two relays":           relayed6(relayed6(renew, 1, "port-1"), 1, "port-1"),
	} {
		if got, ok := Fingerprint6(m); !ok || got == fp {
			t.Errorf("%s: %x ok %v, want another fingerprint", name, got, ok)
		}
	}
	noMsg := relayed6(renew, 1, "x")
	if _, ok := Fingerprint6(noMsg[:34+4+1]); ok {
		t.Error("a relay without Relay Message parsed")
	}
	deep := renew
	for range 33 {
		deep = relayed6(deep, 1, "x")
	}
	if _, ok := Fingerprint6(deep); ok {
		t.Error("33 relays parsed")
	}
}

// FuzzFingerprint6: any datagram is hashed or refused without a panic, the
// same way every time, and a client message's fingerprint ignores its
// transaction id.
func FuzzFingerprint6(f *testing.F) {
	duid := opt6(1, 0, 3, 0, 1, 2, 4, 6, 8, 10, 12)
	renew := msg6(5, duid, opt6(2, 0, 1, 9), opt6(6, 0, 23), opt6(3, make([]byte, 40)...))
	f.Add(renew)
	f.Add(relayed6(relayed6(renew, 1, "a"), 2, "b"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fp, ok := Fingerprint6(b)
		if fp2, ok2 := Fingerprint6(b); fp2 != fp || ok2 != ok {
			t.Fatal("not deterministic")
		}
		if ok && len(b) >= 4 && b[0] != 12 {
			c := append([]byte(nil), b...)
			c[1] ^= 0xff
			if fp3, ok3 := Fingerprint6(c); !ok3 || fp3 != fp {
				t.Fatal("the transaction id changed the fingerprint")
			}
		}
	})
}
