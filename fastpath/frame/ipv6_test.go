package frame

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"xdhcp/handoff"
)

func testMeta6(nvlan int) handoff.Meta6 {
	m := handoff.Meta6{
		SrcMAC:   [6]byte{0x02, 0, 0, 0, 0, 0x01},
		DstMAC:   [6]byte{0x33, 0x33, 0, 1, 0, 2},
		NVLAN:    nvlan,
		SrcIP:    [16]byte{0xfe, 0x80, 15: 1},
		DstIP:    [16]byte{0xff, 0x02, 13: 1, 15: 2},
		SrcPort:  546,
		DstPort:  547,
		HopLimit: 1,
	}
	if nvlan > 0 {
		m.VLAN[0] = handoff.VLANTag{TPID: TPID8021AD, TCI: 10}
	}
	if nvlan > 1 {
		m.VLAN[1] = handoff.VLANTag{TPID: TPID8021Q, TCI: 0x2064}
	}
	return m
}

// checkUDP6 verifies the UDP checksum of a built IPv6 frame over the
// pseudo-header, with refChecksum.
func checkUDP6(t *testing.T, f []byte, m *handoff.Meta6, plen int) {
	t.Helper()
	ip := f[14+4*m.NVLAN:]
	udp := ip[40 : 48+plen]
	pseudo := append(append([]byte{}, ip[8:40]...), 0, 0, byte(len(udp)>>8), byte(len(udp)), 0, 0, 0, 17)
	if binary.BigEndian.Uint16(udp[6:]) == 0 {
		t.Fatal("UDP checksum left zero")
	}
	if refChecksum(pseudo, udp) != 0 {
		t.Fatal("UDP checksum does not verify")
	}
}

func TestBuildParse6RoundTrip(t *testing.T) {
	for _, nvlan := range []int{0, 1, 2} {
		for _, plen := range []int{0, 1, 4, 99, 1400} {
			m := testMeta6(nvlan)
			payload := make([]byte, plen)
			for i := range payload {
				payload[i] = byte(i*7 + 3)
			}
			buf := bytes.Repeat([]byte{0xee}, 1600)
			n, err := Build6(buf, &m, payload)
			if err != nil {
				t.Fatalf("vlan %d len %d: %v", nvlan, plen, err)
			}
			if want := max(HeaderLen6(&m)+plen, MinFrameLen); n != want || HeaderLen6(&m) != 62+4*nvlan {
				t.Fatalf("vlan %d len %d: frame %d bytes, header %d", nvlan, plen, n, HeaderLen6(&m))
			}
			var got handoff.Meta6
			p, err := Parse6(buf[:n], &got)
			if err != nil {
				t.Fatalf("vlan %d len %d: parse: %v", nvlan, plen, err)
			}
			if got != m || !bytes.Equal(p, payload) || cap(p) != len(p) {
				t.Fatalf("vlan %d len %d: got %+v payload %d bytes", nvlan, plen, got, len(p))
			}
			checkUDP6(t, buf[:n], &m, plen)
			// An IPv6 frame is not IPv4, and the reverse.
			var m4 handoff.Meta
			if _, err := Parse(buf[:n], &m4); !errors.Is(err, ErrNotIPv4) {
				t.Fatalf("Parse of an IPv6 frame: %v", err)
			}
		}
	}
	m4 := testMeta(0)
	buf := make([]byte, 100)
	n, _ := Build(buf, &m4, []byte("x"))
	var m6 handoff.Meta6
	if _, err := Parse6(buf[:n], &m6); !errors.Is(err, ErrNotIPv6) {
		t.Fatalf("Parse6 of an IPv4 frame: %v", err)
	}
}

// withExt rebuilds an IPv6 frame from Build6 with extension headers (type,
// raw bytes whose first byte is overwritten with the next header) between
// the IPv6 and the UDP header.
func withExt(t *testing.T, exts ...[]byte) []byte {
	t.Helper()
	m := testMeta6(0)
	buf := make([]byte, 300)
	n, err := Build6(buf, &m, []byte("dhcpv6"))
	if err != nil {
		t.Fatal(err)
	}
	f := buf[:n]
	ip, udp := f[14:54], f[54:]
	var chain []byte
	first := byte(17)
	for i := len(exts) - 1; i >= 0; i-- {
		h := append([]byte{}, exts[i]...)
		h[0] = first
		first = exts[i][0]
		chain = append(h, chain...)
	}
	out := append(append([]byte{}, f[:14]...), ip...)
	out[14+6] = first
	binary.BigEndian.PutUint16(out[14+4:], uint16(len(chain)+len(udp)))
	return append(append(out, chain...), udp...)
}

func TestParse6Ext(t *testing.T) {
	hop := []byte{0, 0, 1, 4, 0, 0, 0, 0}
	dst := []byte{60, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	rt := append([]byte{43, 2, 0, 0, 0, 0, 0, 0}, make([]byte, 16)...)
	atomic := []byte{44, 0, 0, 0, 0, 0, 0, 1}
	first := []byte{44, 0, 0, 1, 0, 0, 0, 1}
	later := []byte{44, 0, 0, 8, 0, 0, 0, 1}
	cases := []struct {
		name string
		f    []byte
		want error
	}{
		{"hop-by-hop", withExt(t, hop), nil},
		{"hop, routing, destination, atomic fragment", withExt(t, hop, rt, dst, atomic), nil},
		{"8 headers", withExt(t, dst, dst, dst, dst, dst, dst, dst, dst), nil},
		{"9 headers", withExt(t, dst, dst, dst, dst, dst, dst, dst, dst, dst), ErrExtHeaders},
		{"first fragment", withExt(t, hop, first), ErrFragment},
		{"later fragment", withExt(t, later), ErrFragment},
	}
	for _, c := range cases {
		var m handoff.Meta6
		p, err := Parse6(c.f, &m)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
			continue
		}
		if err == nil && (string(p) != "dhcpv6" || m.DstPort != 547) {
			t.Errorf("%s: payload %q port %d", c.name, p, m.DstPort)
		}
	}
	esp := withExt(t, hop)
	esp[14+40] = 50
	if _, err := Parse6(esp, new(handoff.Meta6)); !errors.Is(err, ErrNotUDP) {
		t.Errorf("ESP after hop-by-hop: %v", err)
	}
}

func TestParse6Truncated(t *testing.T) {
	for _, f := range [][]byte{withExt(t, []byte{0, 0, 1, 4, 0, 0, 0, 0})} {
		for i := range len(f) - 1 {
			var m handoff.Meta6
			if p, err := Parse6(f[:i], &m); err == nil {
				t.Fatalf("cut at %d: parsed %d bytes", i, len(p))
			}
		}
	}
	m := testMeta6(0)
	if _, err := Build6(make([]byte, 59), &m, nil); !errors.Is(err, ErrShort) {
		t.Errorf("short dst: %v", err)
	}
	m.NVLAN = 3
	if _, err := Build6(make([]byte, 200), &m, nil); !errors.Is(err, ErrBadHeader) {
		t.Errorf("3 tags: %v", err)
	}
}

func TestAllocs6(t *testing.T) {
	m := testMeta6(1)
	payload := make([]byte, 200)
	buf := make([]byte, 1514)
	var got handoff.Meta6
	if n := testing.AllocsPerRun(100, func() {
		n, _ := Build6(buf, &m, payload)
		if _, err := Parse6(buf[:n], &got); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("Build6+Parse6 allocate %v times", n)
	}
}

func FuzzParse6(f *testing.F) {
	for _, nvlan := range []int{0, 2} {
		m := testMeta6(nvlan)
		buf := make([]byte, 200)
		n, _ := Build6(buf, &m, []byte("payload"))
		f.Add(buf[:n])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m handoff.Meta6
		p, err := Parse6(b, &m)
		if err != nil {
			return
		}
		if len(p) > len(b)-HeaderLen6(&m) {
			t.Fatalf("payload %d of %d bytes", len(p), len(b))
		}
		buf := make([]byte, len(b)+MinFrameLen)
		n, err := Build6(buf, &m, p)
		if err != nil {
			t.Fatalf("rebuild: %v", err)
		}
		var m2 handoff.Meta6
		p2, err := Parse6(buf[:n], &m2)
		if m.HopLimit == 0 {
			m.HopLimit = 64
		}
		if err != nil || m2 != m || !bytes.Equal(p, p2) {
			t.Fatalf("rebuild differs: %v %+v %+v", err, m, m2)
		}
	})
}
