package slowpath

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"

	"xdhcp/handoff"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// sizeConfig configures options worth about 1060 bytes: 180 bytes each
// for codes 224-228 (requested), 150 for 229 (always sent).
func sizeConfig() string {
	var opts []string
	blob := func(n int, b byte) string { return hex.EncodeToString(bytes.Repeat([]byte{b}, n)) }
	for c := 224; c <= 228; c++ {
		opts = append(opts, fmt.Sprintf(`{ "code": %d, "csv-format": false, "data": "%s" }`, c, blob(180, byte(c))))
	}
	opts = append(opts, fmt.Sprintf(`{ "code": 229, "csv-format": false, "always-send": true, "data": "%s" }`, blob(150, 1)))
	return `{ "Dhcp4": {
  "interfaces-config": { "interfaces": [ "eth0" ] },
  "lease-database": { "type": "memfile", "persist": false },
  "valid-lifetime": 3600, "renew-timer": 900, "rebind-timer": 1800,
  "option-data": [ ` + strings.Join(opts, ",\n") + ` ],
  "subnet4": [ { "id": 1, "subnet": "192.0.2.0/24", "pools": [ { "pool": "192.0.2.100 - 192.0.2.199" } ],
    "option-data": [ { "name": "routers", "data": "192.0.2.1" } ] } ] } }`
}

// TestReplyFitsMaxMessageSize: a reply never exceeds what the client
// accepts (576 bytes without option 57, option 57 when larger), leaving out
// optional options from the least wanted (always-send, then the end of the
// PRL), never the lease's own options or the relay information; each
// shortened reply is counted.
func TestReplyFitsMaxMessageSize(t *testing.T) {
	prl := dhcpv4.WithRequestedOptions(dhcpv4.OptionRouter, dhcpv4.GenericOptionCode(224), dhcpv4.GenericOptionCode(225),
		dhcpv4.GenericOptionCode(226), dhcpv4.GenericOptionCode(227), dhcpv4.GenericOptionCode(228))
	relay := dhcpv4.WithOption(dhcpv4.OptRelayAgentInfo(dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(1), bytes.Repeat([]byte{'c'}, 40))))
	for _, tc := range []struct {
		name    string
		maxSize uint16 // option 57; 0: none
		limit   int
		want    []uint8 // optional options kept
		omitted int64
	}{
		{"no option 57: 576", 0, 576, []uint8{224}, 1},
		{"option 57 below 576 counts as 576", 300, 576, []uint8{224}, 1},
		{"option 57 of 1000", 1000, 1000, []uint8{224, 225, 226}, 1},
		{"option 57 of 1472: everything fits", 1472, 1472, []uint8{224, 225, 226, 227, 228, 229}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, sizeConfig())
			out := &sizes{capture: h.out}
			h.out = out.capture
			mods := []dhcpv4.Modifier{prl, relay, dhcpv4.WithGatewayIP(net.ParseIP("192.0.2.254"))} // a relay on the subnet
			if tc.maxSize > 0 {
				mods = append(mods, dhcpv4.WithOption(dhcpv4.OptMaxMessageSize(tc.maxSize)))
			}
			m := discover("00:11:22:33:44:01", mods...)
			p := &handoff.Packet{IfIndex: 2, IfName: "eth0", IfAddr: serverAddr, Data: m.ToBytes(), Out: out,
				Meta: handoff.Meta{SrcIP: [4]byte{192, 0, 2, 254}}} // from the relay
			r := h.srv.decode(p)
			if r == nil {
				t.Fatal("dropped")
			}
			h.srv.process(r)
			got := h.out.take()
			if len(got) != 1 || got[0].msg == nil {
				t.Fatalf("%d replies", len(got))
			}
			if out.n[0] > tc.limit {
				t.Fatalf("reply of %d bytes, limit %d", out.n[0], tc.limit)
			}
			o := got[0].msg.Options
			for _, c := range []uint8{53, 54, 51, 1, 3, 58, 59, 82} {
				if !o.Has(dhcpv4.GenericOptionCode(c)) {
					t.Errorf("option %d left out", c)
				}
			}
			var kept []uint8
			for c := uint8(224); c <= 229; c++ {
				if o.Has(dhcpv4.GenericOptionCode(c)) {
					kept = append(kept, c)
				}
			}
			if !bytes.Equal(kept, tc.want) {
				t.Errorf("optional options kept %v, want %v", kept, tc.want)
			}
			if n := h.stat("xdhcp-reply-options-omitted"); n != tc.omitted {
				t.Errorf("xdhcp-reply-options-omitted %d, want %d", n, tc.omitted)
			}
		})
	}
}

// TestOptWriterFit: optional options go from the last added, a split
// option goes whole, mandatory ones stay.
func TestOptWriterFit(t *testing.T) {
	var w optWriter
	w.reset()
	w.addByte(53, 2)
	w.optionalFrom()
	w.add(224, bytes.Repeat([]byte{1}, 10))
	w.add(225, bytes.Repeat([]byte{2}, 300)) // split in two instances
	w.mandatory()
	w.add(82, []byte{1, 1, 'x'})
	if !w.fit(3 + 12 + 5) {
		t.Fatal("nothing left out")
	}
	want := []byte{53, 1, 2, 224, 10, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 82, 3, 1, 1, 'x'}
	if !bytes.Equal(w.b, want) {
		t.Fatalf("options %v, want %v", w.b, want)
	}
	if w.fit(len(w.b)) {
		t.Fatal("left out options that fit")
	}
}

// TestEncodeReplyInPlace: the options are written where they go in the
// reply, so encoding copies nothing and allocates nothing; options that
// outgrew the buffer (a slice of their own) encode the same.
func TestEncodeReplyInPlace(t *testing.T) {
	h := newHarness(t, testConfig)
	var r request
	if err := r.msg.parse(discover("00:11:22:33:44:55").ToBytes()); err != nil {
		t.Fatal(err)
	}
	if why := r.derive(); why != "" {
		t.Fatal(why)
	}
	encode := func(rb *replyBuf) {
		rb.w.addByte(optMessageType, byte(dhcpv4.MessageTypeOffer))
		rb.w.addString(optHostName, "in-place")
		rb.out = encodeReply(rb.out, &r, netip.Addr{}, netip.MustParseAddr("192.0.2.100"), netip.Addr{}, "", "", rb.w.b, false)
	}
	rb := h.srv.replies.get()
	encode(rb)
	if &rb.out[offOptions] != &rb.w.b[0] {
		t.Fatal("the options were copied")
	}
	inPlace := bytes.Clone(rb.out)
	h.srv.replies.put(rb)

	rb = h.srv.replies.get()
	rb.w.b = make([]byte, 0, 16) // as if an odd reply had outgrown the buffer
	encode(rb)
	if !bytes.Equal(rb.out, inPlace) {
		t.Fatalf("outgrown options encode as\n%x\nnot\n%x", rb.out, inPlace)
	}
	h.srv.replies.put(rb)
	m, err := dhcpv4.FromBytes(inPlace)
	if err != nil || m.MessageType() != dhcpv4.MessageTypeOffer || m.HostName() != "in-place" ||
		!m.YourIPAddr.Equal(net.IP{192, 0, 2, 100}) || m.ClientHWAddr.String() != "00:11:22:33:44:55" {
		t.Fatalf("reply %v (%v)", m, err)
	}
	if n := testing.AllocsPerRun(100, func() {
		rb := h.srv.replies.get()
		encode(rb)
		h.srv.replies.put(rb)
	}); n != 0 {
		t.Fatalf("a reply allocates %v times", n)
	}
}
