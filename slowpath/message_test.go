package slowpath

import (
	"bytes"
	"net"
	"testing"

	"xdhcp/fastpath/dhcpview"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// FuzzMessage checks the in-place parser against insomniacslk's decoder:
// whatever insomniacslk accepts (it needs End and no option 52), parse
// accepts too, with the same header fields and the same option values
// (repeated options concatenated, RFC 3396).
func FuzzMessage(f *testing.F) {
	f.Add(seedDiscover(f))
	f.Add(rawMsg(53, 1, 3, 12, 2, 'a', 'b', 12, 1, 'c', 0, 0, 255)) // split host name
	f.Add(rawMsg(53, 1, 1, 12, 10, 'a'))                            // truncated last option
	f.Add(rawMsg(53, 1, 1, 52, 1, 3, 255))                          // overload, empty fields
	f.Add(withHeader(rawMsg(53, 1, 1, 255), 2, 200))                // hlen past chaddr
	f.Fuzz(func(t *testing.T, b []byte) {
		var m message
		err := m.parse(b)
		ref, refErr := dhcpv4.FromBytes(b)
		if refErr != nil || ref.Options.Has(dhcpv4.OptionOptionOverload) {
			return // parse may accept more (no End, truncated last option)
		}
		if err != nil {
			t.Fatalf("insomniacslk accepts, parse says %v", err)
		}
		if m.op != byte(ref.OpCode) || m.htype != byte(ref.HWType) || m.hops != ref.HopCount ||
			m.xid != ref.TransactionID || m.secs != ref.NumSeconds || m.flags != ref.Flags ||
			!bytes.Equal(m.chaddr, ref.ClientHWAddr) || !bytes.Equal(m.giaddr[:], ref.GatewayIPAddr.To4()) ||
			!bytes.Equal(m.ciaddr[:], ref.ClientIPAddr.To4()) {
			t.Fatalf("header differs: %+v vs %v", m, ref.Summary())
		}
		if len(m.opts) != len(ref.Options) {
			t.Fatalf("%d options, insomniacslk %d", len(m.opts), len(ref.Options))
		}
		for code, v := range ref.Options {
			got, ok := m.get(code)
			if !ok || !bytes.Equal(got, v) {
				t.Fatalf("option %d: %x %v, want %x", code, got, ok, v)
			}
		}
	})
}

// TestMessageParseKeepsPacketAndAllocatesOnlyForRepeats: a message with
// distinct options parses without allocating; a split option gets a value
// of its own and leaves the packet untouched.
func TestMessageParse(t *testing.T) {
	b := rawMsg(53, 1, 1, 61, 3, 1, 2, 3, 12, 2, 'a', 'b', 55, 2, 1, 3, 255)
	var m message
	if n := testing.AllocsPerRun(100, func() {
		if err := m.parse(b); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("parse allocates %v times", n)
	}
	split := rawMsg(53, 1, 1, 12, 2, 'a', 'b', 61, 2, 1, 2, 12, 1, 'c', 255)
	orig := bytes.Clone(split)
	if err := m.parse(split); err != nil {
		t.Fatal(err)
	}
	if v, _ := m.get(optHostName); string(v) != "abc" {
		t.Fatalf("split host name %q, want abc", v)
	}
	if !bytes.Equal(split, orig) {
		t.Fatal("concatenation wrote into the packet")
	}
	for _, tc := range []struct {
		name string
		b    []byte
		err  error
	}{
		{"short", rawMsg()[:239], errShortMessage},
		{"cookie", withHeader(rawMsg(53, 1, 1), 239, 0), errBadCookie},
		{"overload value 4", rawMsg(53, 1, 1, 52, 1, 4), errOverload},
		{"overload in the file field", withHeader(rawMsg(53, 1, 1, 52, 1, 1), offFile, optOverload), errOverload},
	} {
		if err := m.parse(tc.b); err != tc.err {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.err)
		}
	}
}

// FuzzFingerprint checks the fingerprint publish computes from the parsed
// message against the one the fast path computes from the packet, which
// the lease cache compares: equal whenever the fast path can read the
// packet, and none when it cannot.
func FuzzFingerprint(f *testing.F) {
	d, _ := dhcpv4.NewDiscovery(net.HardwareAddr{0, 1, 2, 3, 4, 5},
		dhcpv4.WithOption(dhcpv4.OptClientIdentifier([]byte{1, 0, 1, 2, 3, 4, 5})),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IP{192, 0, 2, 9})),
		dhcpv4.WithOption(dhcpv4.OptMaxMessageSize(1500)),
		dhcpv4.WithRequestedOptions(dhcpv4.OptionRouter, dhcpv4.OptionHostName))
	f.Add(d.ToBytes())
	f.Add(rawMsg(53, 1, 3, 12, 2, 'a', 'b', 12, 1, 'c', 0, 0, 255))        // split host name
	f.Add(rawMsg(53, 1, 3, 54, 4, 10, 0, 0, 1, 51, 4, 0, 0, 1, 0, 0, 255)) // excluded options
	f.Add(rawMsg(53, 1, 1, 12, 10, 'a'))                                   // truncated last option
	f.Add(rawMsg(53, 1, 1, 52, 1, 3, 255))                                 // overload
	f.Add(withHeader(rawMsg(53, 1, 1, 255), 2, 200))                       // hlen past chaddr
	f.Add(withHeader(rawMsg(53, 1, 3, 82, 3, 1, 1, 'x'), offGiaddr, 10))   // relayed, no End
	f.Fuzz(func(t *testing.T, b []byte) {
		var m message
		if m.parse(b) != nil {
			return // the slow path drops it: nothing is published
		}
		var v dhcpview.View
		viewErr := v.Parse(b)
		fp, ok := m.fingerprint()
		if ok != (viewErr == nil) {
			t.Fatalf("fingerprint ok %v, fast path parse %v", ok, viewErr)
		}
		if ok && fp != v.Fingerprint() {
			t.Fatalf("fingerprint %x, fast path %x", fp, v.Fingerprint())
		}
	})
}
