package frame

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"testing"

	"xdhcp/handoff"
)

// refChecksum is RFC 1071 done the slow, obvious way (16-bit words, fold at
// the end), independent of Checksum/Fold.
func refChecksum(chunks ...[]byte) uint16 {
	var all []byte
	for _, c := range chunks {
		all = append(all, c...)
	}
	if len(all)%2 == 1 {
		all = append(all, 0)
	}
	var s uint64
	for i := 0; i < len(all); i += 2 {
		s += uint64(all[i])<<8 | uint64(all[i+1])
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}

func TestChecksumRFC1071Example(t *testing.T) {
	// RFC 1071 section 3: these bytes sum to 0xddf2, checksum 0x220d.
	b := []byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}
	if got := Fold(Checksum(b, 0)); got != 0x220d {
		t.Fatalf("checksum = %#04x, want 0x220d", got)
	}
	// Split across calls at an even boundary gives the same.
	if got := Fold(Checksum(b[4:], Checksum(b[:4], 0))); got != 0x220d {
		t.Fatalf("chained checksum = %#04x, want 0x220d", got)
	}
}

func TestChecksumMatchesReference(t *testing.T) {
	// Lengths 0..300, odd ones included, with bytes that make carries.
	b := make([]byte, 300)
	for i := range b {
		b[i] = byte(0xff - i*7)
	}
	for n := 0; n <= len(b); n++ {
		if got, want := Fold(Checksum(b[:n], 0)), refChecksum(b[:n]); got != want {
			t.Fatalf("len %d: checksum %#04x, reference %#04x", n, got, want)
		}
	}
	// A 64 KiB buffer of 0xff with a large initial value must not overflow.
	big := bytes.Repeat([]byte{0xff}, 65536)
	if got, want := Fold(Checksum(big, 0xffffffff)), refChecksum(big, []byte{0xff, 0xff, 0xff, 0xff}); got != want {
		t.Fatalf("big: %#04x, reference %#04x", got, want)
	}
}

func TestFoldIncrementalUpdate(t *testing.T) {
	hdr := []byte{0x45, 0x00, 0x01, 0x48, 0x00, 0x00, 0x00, 0x00, 0x40, 0x11, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2}
	hc := Fold(Checksum(hdr, 0))
	// Change TTL/proto word 0x4011 to 0x3f11, update incrementally (RFC 1624).
	old := binary.BigEndian.Uint16(hdr[8:])
	hdr[8] = 0x3f
	updated := Fold(uint32(^hc) + uint32(^old) + uint32(binary.BigEndian.Uint16(hdr[8:])))
	if want := Fold(Checksum(hdr, 0)); updated != want {
		t.Fatalf("incremental %#04x, full %#04x", updated, want)
	}
}

func testMeta(nvlan int) handoff.Meta {
	m := handoff.Meta{
		SrcMAC:  [6]byte{0x02, 0, 0, 0, 0, 1},
		DstMAC:  [6]byte{0x02, 0, 0, 0, 0, 2},
		SrcIP:   [4]byte{192, 0, 2, 1},
		DstIP:   [4]byte{198, 51, 100, 7},
		SrcPort: 67, DstPort: 68, TTL: 17,
		NVLAN: nvlan,
	}
	switch nvlan {
	case 1:
		m.VLAN[0] = handoff.VLANTag{TPID: TPID8021Q, TCI: 0x2064} // PCP 1, VID 100
	case 2:
		m.VLAN[0] = handoff.VLANTag{TPID: TPID8021AD, TCI: 0x000a}
		m.VLAN[1] = handoff.VLANTag{TPID: TPID8021Q, TCI: 0xe0c8} // PCP 7, VID 200
	}
	return m
}

func TestBuildParseRoundTrip(t *testing.T) {
	for _, nvlan := range []int{0, 1, 2} {
		for _, plen := range []int{0, 1, 5, 300, 1400} {
			m := testMeta(nvlan)
			payload := make([]byte, plen)
			for i := range payload {
				payload[i] = byte(i*13 + 1)
			}
			buf := make([]byte, 1600)
			for i := range buf {
				buf[i] = 0xee // Build must overwrite or pad every byte it returns
			}
			n, err := Build(buf, &m, payload)
			if err != nil {
				t.Fatalf("vlan %d len %d: build: %v", nvlan, plen, err)
			}
			if want := max(HeaderLen(&m)+plen, MinFrameLen); n != want {
				t.Fatalf("vlan %d len %d: frame length %d, want %d", nvlan, plen, n, want)
			}
			if HeaderLen(&m) != 42+4*nvlan {
				t.Fatalf("HeaderLen = %d", HeaderLen(&m))
			}
			for i := HeaderLen(&m) + plen; i < n; i++ {
				if buf[i] != 0 {
					t.Fatalf("padding byte %d = %#x", i, buf[i])
				}
			}
			var got handoff.Meta
			p, err := Parse(buf[:n], &got)
			if err != nil {
				t.Fatalf("vlan %d len %d: parse: %v", nvlan, plen, err)
			}
			if got != m {
				t.Fatalf("vlan %d len %d: meta\n got %+v\nwant %+v", nvlan, plen, got, m)
			}
			if !bytes.Equal(p, payload) || cap(p) != len(p) {
				t.Fatalf("vlan %d len %d: payload len %d cap %d differs", nvlan, plen, len(p), cap(p))
			}
			checkChecksums(t, buf[:n], &m, plen)
		}
	}
}

// checkChecksums verifies the IPv4 and UDP checksums of a built frame with
// refChecksum.
func checkChecksums(t *testing.T, f []byte, m *handoff.Meta, plen int) {
	t.Helper()
	ipOff := 14 + 4*m.NVLAN
	ip := f[ipOff : ipOff+20]
	if refChecksum(ip) != 0 {
		t.Fatalf("IPv4 header checksum does not verify: %x", ip)
	}
	udp := f[ipOff+20 : ipOff+28+plen]
	pseudo := append(append([]byte{}, ip[12:20]...), 0, 17, byte(len(udp)>>8), byte(len(udp)))
	if binary.BigEndian.Uint16(udp[6:]) == 0 {
		t.Fatal("UDP checksum left zero")
	}
	if refChecksum(pseudo, udp) != 0 {
		t.Fatalf("UDP checksum does not verify")
	}
}

func TestBuildDefaultsAndErrors(t *testing.T) {
	m := testMeta(1)
	m.TTL = 0
	m.VLAN[0].TPID = 0
	buf := make([]byte, 100)
	n, err := Build(buf, &m, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if ttl := buf[18+8]; ttl != 64 {
		t.Errorf("default TTL = %d, want 64", ttl)
	}
	if tpid := binary.BigEndian.Uint16(buf[12:]); tpid != TPID8021Q {
		t.Errorf("zero TPID written as %#x, want 0x8100", tpid)
	}
	if flags := binary.BigEndian.Uint16(buf[18+6:]); flags != 0 {
		t.Errorf("flags/fragment = %#x, want 0 (DF unset)", flags)
	}
	if n != MinFrameLen {
		t.Errorf("short frame length %d, want %d", n, MinFrameLen)
	}

	if _, err := Build(make([]byte, 59), &m, nil); !errors.Is(err, ErrShort) {
		t.Errorf("dst of 59 bytes: %v, want ErrShort", err)
	}
	if _, err := Build(make([]byte, 100), &m, make([]byte, 60)); !errors.Is(err, ErrShort) {
		t.Errorf("dst too small for payload: %v, want ErrShort", err)
	}
	bad := []func(*handoff.Meta){
		func(m *handoff.Meta) { m.NVLAN = 3 },
		func(m *handoff.Meta) { m.NVLAN = -1 },
		func(m *handoff.Meta) { m.VLAN[0].TPID = 0x9100 },
		func(m *handoff.Meta) { m.NVLAN = 2; m.VLAN[1].TPID = TPID8021AD },
	}
	for i, f := range bad {
		m := testMeta(1)
		f(&m)
		if _, err := Build(make([]byte, 200), &m, nil); !errors.Is(err, ErrBadHeader) {
			t.Errorf("bad meta %d: %v, want ErrBadHeader", i, err)
		}
	}
	if _, err := Build(make([]byte, 70000), &m, make([]byte, 65536-28)); !errors.Is(err, ErrBadHeader) {
		t.Errorf("oversized payload: %v, want ErrBadHeader", err)
	}
}

// handFrame is a DHCP-ish frame written out byte by byte, with no help from
// Build: one 802.1Q tag (VID 5), an IPv4 header with 8 bytes of options
// (IHL 7: a Router Alert and an end-of-options list), UDP 68→67 with checksum
// 0 (none), 4 bytes of payload, and 6 bytes of Ethernet padding after it.
func handFrame() []byte {
	f := []byte{
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // dst MAC
		0x02, 0x11, 0x22, 0x33, 0x44, 0x55, // src MAC
		0x81, 0x00, 0x00, 0x05, // 802.1Q, VID 5
		0x08, 0x00, // IPv4
		0x47, 0x10, 0x00, 0x28, // v4 IHL 7, TOS 0x10, total 40 = 28 + 8 + 4
		0x12, 0x34, 0x40, 0x00, // ID, DF set
		0x01, 0x11, 0x00, 0x00, // TTL 1, UDP, checksum (filled below)
		0x00, 0x00, 0x00, 0x00, // src 0.0.0.0
		0xff, 0xff, 0xff, 0xff, // dst 255.255.255.255
		0x94, 0x04, 0x00, 0x00, // option: router alert
		0x00, 0x00, 0x00, 0x00, // end of options + padding
		0x00, 0x44, 0x00, 0x43, // UDP 68 -> 67
		0x00, 0x0c, 0x00, 0x00, // length 12, no checksum
		0xde, 0xad, 0xbe, 0xef, // payload
		0, 0, 0, 0, 0, 0, // Ethernet padding (not counted by IPv4)
	}
	binary.BigEndian.PutUint16(f[18+10:], refChecksum(f[18:18+28]))
	return f
}

func TestParseHandEncoded(t *testing.T) {
	f := handFrame()
	var m handoff.Meta
	p, err := Parse(f, &m)
	if err != nil {
		t.Fatal(err)
	}
	want := handoff.Meta{
		DstMAC: [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		SrcMAC: [6]byte{0x02, 0x11, 0x22, 0x33, 0x44, 0x55},
		NVLAN:  1, VLAN: [2]handoff.VLANTag{{TPID: 0x8100, TCI: 5}},
		DstIP: [4]byte{255, 255, 255, 255}, SrcPort: 68, DstPort: 67, TTL: 1,
	}
	if m != want {
		t.Fatalf("meta\n got %+v\nwant %+v", m, want)
	}
	if !bytes.Equal(p, []byte{0xde, 0xad, 0xbe, 0xef}) {
		t.Fatalf("payload %x", p)
	}
}

func TestParseDiscoverFrame(t *testing.T) {
	f, err := os.ReadFile("testdata/discover.frame")
	if err != nil {
		t.Fatal(err)
	}
	var m handoff.Meta
	p, err := Parse(f, &m)
	if err != nil {
		t.Fatal(err)
	}
	if m.SrcPort != 68 || m.DstPort != 67 || m.DstIP != [4]byte{255, 255, 255, 255} || m.NVLAN != 0 {
		t.Fatalf("meta %+v", m)
	}
	// BOOTREQUEST, xid deadbeef, magic cookie, option 53 = DISCOVER.
	if len(p) != 300 || p[0] != 1 || !bytes.Equal(p[4:8], []byte{0xde, 0xad, 0xbe, 0xef}) ||
		!bytes.Equal(p[236:240], []byte{99, 130, 83, 99}) || !bytes.Equal(p[240:243], []byte{53, 1, 1}) {
		t.Fatalf("payload is not the DISCOVER: % x", p[:16])
	}
	checkChecksums(t, f, &m, len(p))
}

func TestParseErrors(t *testing.T) {
	base := handFrame()
	edit := func(f func(b []byte)) []byte {
		b := append([]byte(nil), base...)
		f(b)
		return b
	}
	// fixIP recomputes the IPv4 header checksum after an edit, so that the
	// test hits the check it means to.
	fixIP := func(b []byte) {
		b[28], b[29] = 0, 0
		ihl := int(b[18]&0xf) * 4
		if ihl >= 20 && 18+ihl <= len(b) {
			binary.BigEndian.PutUint16(b[28:], refChecksum(b[18:18+ihl]))
		}
	}
	cases := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrShort},
		{"arp", edit(func(b []byte) { b[16], b[17] = 0x08, 0x06 }), ErrNotIPv4},
		{"ipv6 after tag", edit(func(b []byte) { b[16], b[17] = 0x86, 0xdd }), ErrNotIPv4},
		{"inner S-tag", append(append(append([]byte{}, base[:12]...), 0x81, 0x00, 0, 1, 0x88, 0xa8, 0, 2), base[12:]...), ErrBadHeader},
		{"three tags", append(append(append([]byte{}, base[:12]...), 0x88, 0xa8, 0, 1, 0x81, 0x00, 0, 2), base[12:]...), ErrNotIPv4},
		{"version 6", edit(func(b []byte) { b[18] = 0x67; fixIP(b) }), ErrBadHeader},
		{"ihl 4", edit(func(b []byte) { b[18] = 0x44 }), ErrBadHeader},
		{"total < ihl+8", edit(func(b []byte) { b[21] = 30; fixIP(b) }), ErrBadHeader},
		{"total > frame", edit(func(b []byte) { b[21] = 60; fixIP(b) }), ErrShort},
		{"more fragments", edit(func(b []byte) { b[24] = 0x20; fixIP(b) }), ErrFragment},
		{"fragment offset", edit(func(b []byte) { b[24], b[25] = 0, 1; fixIP(b) }), ErrFragment},
		{"tcp", edit(func(b []byte) { b[27] = 6; fixIP(b) }), ErrNotUDP},
		{"ip checksum", edit(func(b []byte) { b[28] ^= 1 }), ErrBadHeader},
		{"udp length > ip", edit(func(b []byte) { b[51] = 13 }), ErrBadHeader},
		{"udp length < 8", edit(func(b []byte) { b[51] = 7 }), ErrBadHeader},
	}
	for _, c := range cases {
		var m handoff.Meta
		if _, err := Parse(c.b, &m); !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
	}
	// The unedited frame parses: the cases above fail for their reason.
	var m handoff.Meta
	if _, err := Parse(base, &m); err != nil {
		t.Fatal(err)
	}
}

func TestParseTruncatedEverywhere(t *testing.T) {
	frames := [][]byte{handFrame()}
	for _, nvlan := range []int{0, 1, 2} {
		m := testMeta(nvlan)
		buf := make([]byte, 400)
		n, err := Build(buf, &m, make([]byte, 300))
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, buf[:n])
	}
	for fi, f := range frames {
		// The hand frame carries 6 bytes of padding that Parse ignores.
		end := len(f)
		if fi == 0 {
			end -= 6
		}
		for i := range end {
			var m handoff.Meta
			if p, err := Parse(f[:i], &m); err == nil {
				t.Fatalf("frame %d cut at %d: parsed, payload %d bytes", fi, i, len(p))
			}
		}
	}
}

func TestAllocs(t *testing.T) {
	m := testMeta(2)
	payload := make([]byte, 300)
	buf := make([]byte, 1514)
	var got handoff.Meta
	allocs := testing.AllocsPerRun(100, func() {
		n, err := Build(buf, &m, payload)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(buf[:n], &got); err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(buf[:10], &got); err != ErrShort {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Build+Parse allocate %v times per run", allocs)
	}
}

func FuzzParse(f *testing.F) {
	// Seeds: the dhcpv4.NewDiscovery frame from testdata/gendiscover, the
	// hand-encoded frame with IP options and a VLAN tag, and Build output
	// with 0, 1 and 2 tags.
	disc, err := os.ReadFile("testdata/discover.frame")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(disc)
	f.Add(handFrame())
	for _, nvlan := range []int{0, 1, 2} {
		m := testMeta(nvlan)
		buf := make([]byte, 200)
		n, err := Build(buf, &m, []byte("payload"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(buf[:n])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m handoff.Meta
		p, err := Parse(b, &m)
		if err != nil {
			return
		}
		// A successful parse must be consistent with the input...
		if m.NVLAN < 0 || m.NVLAN > MaxVLAN || len(p) > len(b)-HeaderLen(&m) {
			t.Fatalf("inconsistent parse: %+v, payload %d of %d", m, len(p), len(b))
		}
		// ...and rebuilding from it must parse back to the same Meta and
		// payload (TTL 0 becomes 64 by design).
		buf := make([]byte, len(b)+MinFrameLen)
		n, err := Build(buf, &m, p)
		if err != nil {
			t.Fatalf("rebuild: %v", err)
		}
		var m2 handoff.Meta
		p2, err := Parse(buf[:n], &m2)
		if err != nil {
			t.Fatalf("reparse: %v", err)
		}
		if m.TTL == 0 {
			m.TTL = 64
		}
		if m2 != m || !bytes.Equal(p, p2) {
			t.Fatalf("rebuild differs: %+v vs %+v", m, m2)
		}
	})
}
