package slowpath

import (
	"bytes"
	"testing"
)

// TestPktLen: pkt.len of the relayed DISCOVER kea-dhcp4 2.2 evaluated in
// the lab was 347 (0x15b): 236 plus its options, without the magic cookie
// and the end option.
func TestPktLen(t *testing.T) {
	opt := func(code byte, v ...byte) []byte { return append([]byte{code, byte(len(v))}, v...) }
	b := make([]byte, offOptions)
	b[0], b[1], b[2] = 1, 1, 6
	copy(b[offCookie:], magicCookie[:])
	for _, o := range [][]byte{
		opt(53, 1), opt(12, []byte("myhost")...), opt(61, 1, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff), opt(55, 1, 3, 6),
		opt(50, 10, 77, 0, 150), opt(57, 5, 220), opt(51, 0, 0, 2, 0x58), opt(60, []byte("docsis3.0")...),
		opt(43, 1, 2, 'A', 'B'), opt(124, 0, 0, 0x11, 0x8b, 4, 'd', 's', 'l', '1', 0, 0, 0x11, 0x8b, 3, 'x', 'y', 'z'),
		opt(125, 0, 0, 0x11, 0x8b, 7, 10, 3, 'E', 'C', 'M', 11, 0), opt(200, 0, 1, 2),
		opt(82, bytes.Join([][]byte{opt(1, []byte("eth0/1")...), opt(2, 0xaa, 0xbb, 0xcc)}, nil)...),
	} {
		b = append(b, o...)
	}
	b = append(b, 255)
	var m message
	if err := m.parse(b); err != nil {
		t.Fatal(err)
	}
	if n := kealen(&m); n != 347 {
		t.Errorf("pkt.len %d, want 347 as Kea computed", n)
	}
}
