package bpf

import (
	"bytes"
	"fmt"
	"testing"

	"xdhcp/ha/lbhash"
)

// Frames whose options the program cannot judge: each hides or doubles what
// the filters key on. Before the program treated them as irregular, every one
// of them passed overload shedding and the HA scope filter.
var irregularFrames = []struct {
	name string
	f    frame
}{
	// 256 pad bytes use up the walk before option 53 is reached.
	{"256 pads before option 53", frame{preOpts: make([]byte, 256), msgType: discover}},
	// 300 empty options: the walk ends before END.
	{"300 options", frame{msgType: discover, rawOpts: bytes.Repeat([]byte{224, 0}, 300)}},
	// A REQUEST that says DISCOVER too: which one is it?
	{"option 53 twice", frame{msgType: request, ciaddr: [4]byte{10, 0, 0, 5}, rawOpts: []byte{53, 1, discover}}},
	// A client identifier in two pieces (RFC 3396 concatenation).
	{"option 61 split", frame{msgType: discover, rawOpts: []byte{61, 3, 1, 2, 3, 61, 4, 4, 5, 6, 7}}},
	// Option overload: more options in sname/file, which are not walked.
	{"option 52", frame{msgType: discover, rawOpts: []byte{52, 1, 3}}},
}

// regularFrames are close to the irregular ones but read whole.
var regularFrames = []struct {
	name string
	f    frame
}{
	{"200 pads before option 53", frame{preOpts: make([]byte, 200), msgType: discover}},
	{"padding after END", frame{msgType: discover, padTo: 548}},
	{"truncated last option", frame{msgType: discover, rawOpts: []byte{12, 200, 'a'}, noEnd: true}},
	{"200 options", frame{msgType: discover, rawOpts: bytes.Repeat([]byte{224, 0}, 200)}},
}

// TestIrregularNoPolicy: with no HA and no overload nothing would be
// dropped, so irregular requests go on to the slow path, which reads every
// option and enforces the drop list itself.
func TestIrregularNoPolicy(t *testing.T) {
	o := load(t, Options{})
	for _, tc := range append(irregularFrames, regularFrames...) {
		t.Run(tc.name, func(t *testing.T) { run(t, o, tc.f.bytes(), xdpPass, "xsk_missing") })
	}
}

// TestIrregularOutOfScope: with HA on, an irregular request is out of
// scope, even one whose client hashes to a scope this server serves; only
// a server that serves every scope (hot standby, partner down) takes it.
func TestIrregularOutOfScope(t *testing.T) {
	o := load(t, Options{HAEnabled: true})
	var mine, all [256]bool
	for h := range all {
		mine[h] = h == int(lbhash.Sum(defaultMAC))
		all[h] = true
	}
	if err := o.SetScopes(mine); err != nil {
		t.Fatal(err)
	}
	for _, tc := range irregularFrames {
		t.Run(tc.name, func(t *testing.T) { run(t, o, tc.f.bytes(), xdpDrop, "irregular_out_of_scope") })
	}
	for _, tc := range regularFrames {
		t.Run(tc.name, func(t *testing.T) { run(t, o, tc.f.bytes(), xdpPass, "xsk_missing") })
	}
	if err := o.SetScopes(all); err != nil {
		t.Fatal(err)
	}
	for _, tc := range irregularFrames {
		t.Run("all scopes served/"+tc.name, func(t *testing.T) { run(t, o, tc.f.bytes(), xdpPass, "xsk_missing") })
	}
}

// TestIrregularShed: at overload level 1 an irregular request is shed like
// a DISCOVER, whatever it claims to be.
func TestIrregularShed(t *testing.T) {
	o := load(t, Options{})
	if err := o.SetOverload(0, 1); err != nil {
		t.Fatal(err)
	}
	for _, tc := range irregularFrames {
		t.Run(tc.name, func(t *testing.T) { run(t, o, tc.f.bytes(), xdpDrop, "irregular_shed") })
	}
	for _, tc := range regularFrames {
		t.Run(tc.name, func(t *testing.T) { run(t, o, tc.f.bytes(), xdpDrop, "shed_discover") })
	}
	// A renewal hiding behind 256 pad bytes is shed too; without them it
	// passes level 2.
	renew := frame{msgType: request, ciaddr: [4]byte{10, 0, 0, 5}}
	padded := renew
	padded.preOpts = make([]byte, 256)
	if err := o.SetOverload(0, 2); err != nil {
		t.Fatal(err)
	}
	run(t, o, renew.bytes(), xdpPass, "xsk_missing")
	run(t, o, padded.bytes(), xdpDrop, "irregular_shed")
}

// TestDropListSplitClientID: a listed client identifier is dropped however
// it is split into option 61 instances, as the slow path (which fuses
// them) would see it.
func TestDropListSplitClientID(t *testing.T) {
	o := load(t, Options{})
	cid := []byte{0x01, 0x02, 0xde, 0xad, 0xbe, 0xef, 0x02}
	if err := o.DropClientID(cid, true); err != nil {
		t.Fatal(err)
	}
	// pieces builds option 61 instances of the given lengths from cid.
	pieces := func(lens ...int) []byte {
		var b []byte
		rest := cid
		for _, n := range lens {
			b = append(b, 61, byte(n))
			b = append(b, rest[:n]...)
			rest = rest[n:]
		}
		return b
	}
	for _, lens := range [][]int{{7}, {3, 4}, {1, 6}, {2, 0, 5}, {1, 2, 2, 2}} {
		t.Run(fmt.Sprint(lens), func(t *testing.T) {
			run(t, o, frame{msgType: discover, rawOpts: pieces(lens...)}.bytes(), xdpDrop, "drop_clientid")
		})
	}
	// Other options between the pieces change nothing.
	split := append(pieces(3), 12, 1, 'x')
	split = append(split, 61, 4)
	split = append(split, cid[3:]...)
	run(t, o, frame{msgType: discover, rawOpts: split}.bytes(), xdpDrop, "drop_clientid")
	// Five pieces are more than the program fuses: it leaves the request
	// to the slow path (and, with HA or overload, to the irregular rules).
	run(t, o, frame{msgType: discover, rawOpts: pieces(1, 1, 1, 1, 3)}.bytes(), xdpPass, "xsk_missing")
	// A different identifier in pieces is not listed.
	run(t, o, frame{msgType: discover, rawOpts: []byte{61, 3, 1, 2, 0xde, 61, 3, 0xad, 0xbe, 0xef}}.bytes(), xdpPass, "xsk_missing")
}
