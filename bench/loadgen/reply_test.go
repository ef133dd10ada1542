package loadgen

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"xdhcp/fastpath/dhcpview"
	"xdhcp/fastpath/frame"
	"xdhcp/handoff"
)

// testReply encodes a server reply with insomniacslk/dhcp.
func testReply(t testing.TB, typ dhcpv4.MessageType, mods ...dhcpv4.Modifier) []byte {
	t.Helper()
	base := []dhcpv4.Modifier{
		dhcpv4.WithHwAddr([]byte{2, 0x58, 0, 0, 0, 7}), dhcpv4.WithMessageType(typ),
		dhcpv4.WithTransactionID(dhcpv4.TransactionID{1, 2, 3, 4}),
		dhcpv4.WithYourIP([]byte{10, 0, 0, 9}),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier([]byte{10, 0, 0, 1})),
		dhcpv4.WithLeaseTime(3600),
	}
	d, err := dhcpv4.New(append(base, mods...)...)
	if err != nil {
		t.Fatal(err)
	}
	d.OpCode = dhcpv4.OpcodeBootReply
	return d.ToBytes()
}

func TestParseReplyFields(t *testing.T) {
	p := testReply(t, dhcpv4.MessageTypeAck,
		dhcpv4.WithOption(dhcpv4.OptRenewTimeValue(1000_000_000_000)),
		dhcpv4.WithGatewayIP([]byte{10, 0, 0, 2}),
		dhcpv4.WithOption(dhcpv4.OptRelayAgentInfo(dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(1), []byte("c00000007")))))
	var v replyView
	if r := parseReply(p, &v); r != parseOK {
		t.Fatalf("parse: %d", r)
	}
	if v.op != 2 || v.xid != 0x01020304 || v.yiaddr != [4]byte{10, 0, 0, 9} || v.giaddr != [4]byte{10, 0, 0, 2} ||
		v.chaddr != [6]byte{2, 0x58, 0, 0, 0, 7} || v.msgType != dhcpview.MsgAck || !v.hasServerID || v.serverID != [4]byte{10, 0, 0, 1} ||
		!v.hasLease || v.leaseTime != 3600 || v.t1Seconds() != 1000 || string(v.circuit) != "c00000007" || v.odd {
		t.Fatalf("view %+v", v)
	}
	// Without option 58, T1 is half the lease (RFC 2131 4.4.5).
	p = testReply(t, dhcpv4.MessageTypeOffer)
	if parseReply(p, &v) != parseOK || v.t1Seconds() != 1800 || v.msgType != dhcpview.MsgOffer {
		t.Fatalf("view %+v", v)
	}
}

func TestParseReplyBadAndOdd(t *testing.T) {
	good := testReply(t, dhcpv4.MessageTypeAck)
	var v replyView
	for _, tc := range []struct {
		name string
		edit func(p []byte) []byte
		want int
		odd  bool
	}{
		{"short header", func(p []byte) []byte { return p[:200] }, parseShort, false},
		{"bad cookie", func(p []byte) []byte { p[dhcpview.HeaderLen] = 0; return p }, parseBadCookie, false},
		// Cut inside the options: the last option's length runs past the end.
		{"option past end", func(p []byte) []byte { return p[:dhcpview.HeaderLen+4+4] }, parseBadOption, false},
		{"lone option code at end", func(p []byte) []byte { return append(p[:dhcpview.HeaderLen+4], 53) }, parseBadOption, false},
		// BOOTP reply: options end before any message type.
		{"no message type", func(p []byte) []byte { return append(p[:dhcpview.HeaderLen+4], 255) }, parseNoType, false},
		{"overload", func(p []byte) []byte {
			return insertOpt(p, 52, 1, 3)
		}, parseOK, true},
		{"repeated type", func(p []byte) []byte {
			return insertOpt(p, 53, 1, 5)
		}, parseOK, true},
		{"server id of 3 bytes", func(p []byte) []byte {
			return insertOpt(p, 54, 3, 1, 2, 3)
		}, parseOK, true},
		{"no end option", func(p []byte) []byte { return bytes.TrimRight(p, "\x00\xff") }, parseOK, true},
		{"hlen 16", func(p []byte) []byte { p[2] = 16; return p }, parseOK, true},
	} {
		p := tc.edit(append([]byte(nil), good...))
		got := parseReply(p, &v)
		if got != tc.want || (got == parseOK || got == parseNoType) && v.odd != tc.odd {
			t.Errorf("%s: result %d odd %v, want %d odd %v", tc.name, got, v.odd, tc.want, tc.odd)
		}
	}
}

// insertOpt returns p with the option bytes inserted before the others.
func insertOpt(p []byte, opt ...byte) []byte {
	out := append([]byte(nil), p[:dhcpview.HeaderLen+4]...)
	return append(append(out, opt...), p[dhcpview.HeaderLen+4:]...)
}

func TestParseReplyAllocs(t *testing.T) {
	p := testReply(t, dhcpv4.MessageTypeAck)
	var v replyView
	if n := testing.AllocsPerRun(200, func() { parseReply(p, &v) }); n != 0 {
		t.Fatalf("%v allocations per parse", n)
	}
}

// renewingGenerator is a generator whose client 1 renews, and the frame of
// a canned server's ACK to it; handleACK hands it that ACK again.
func renewingGenerator(t testing.TB) (g *Generator, handleACK func()) {
	t.Helper()
	g, err := New(Config{Mode: Closed, Clients: 4, Count: 1, Duration: 1e9, FullCheckFirst: -1, FullCheckEvery: 1 << 30}, nopTransport{})
	if err != nil {
		t.Fatal(err)
	}
	g.st = &stats{}
	g.pipe = newChanPipeNoRx(g)
	c := &g.clients[1]
	c.state, c.xid, c.addr = stRenewing, 0x01020304, [4]byte{10, 0, 0, 9}
	p := testReply(t, dhcpv4.MessageTypeAck,
		dhcpv4.WithOption(dhcpv4.OptRenewTimeValue(1000e9)),
		dhcpv4.WithOption(dhcpv4.OptSubnetMask([]byte{255, 255, 0, 0})),
		dhcpv4.WithOption(dhcpv4.OptRouter([]byte{10, 0, 0, 1})),
		dhcpv4.WithOption(dhcpv4.OptDNS([]byte{10, 0, 0, 1}, []byte{10, 0, 0, 2})))
	p[dhcpview.OffChaddr+5] = 1
	fr := make([]byte, 1500)
	m := handoff.Meta{SrcMAC: [6]byte{2, 9, 9, 9, 9, 9}, DstMAC: g.MAC(1), SrcIP: [4]byte{10, 0, 0, 1}, DstIP: [4]byte{10, 0, 0, 9}, SrcPort: 67, DstPort: 68}
	n, err := frame.Build(fr, &m, p)
	if err != nil {
		t.Fatal(err)
	}
	fr = fr[:n]
	return g, func() {
		c.state, c.xid = stRenewing, 0x01020304
		g.inflight = 1
		g.handle(fr, 10, phase{mode: Closed, count: 1})
	}
}

// Handling a reply in place allocates nothing once sampling is past.
func TestHandleAllocs(t *testing.T) {
	g, handleACK := renewingGenerator(t)
	if allocs := testing.AllocsPerRun(100, handleACK); allocs != 0 {
		t.Fatalf("%v allocations per reply", allocs)
	}
	if g.st.kDone[kRenew] == 0 || g.st.wrongTotal() != 0 || g.st.malformed != 0 {
		t.Fatalf("done %v wrong %v malformed %d", g.st.kDone, g.st.wrong, g.st.malformed)
	}
}

// The cost of one reply: frame parsing, the in-place reading and the
// client's next request.
func BenchmarkHandleReply(b *testing.B) {
	_, handleACK := renewingGenerator(b)
	for b.Loop() {
		handleACK()
	}
}

// newChanPipeNoRx is a chanPipe with no receiver, for tests that call
// handle directly and need somewhere to queue follow-ups.
func newChanPipeNoRx(g *Generator) *chanPipe {
	c := &chanPipe{tr: nopTransport{}, g: g, bufs: make([][]byte, g.cfg.Batch), frames: make([][]byte, 0, g.cfg.Batch)}
	for i := range c.bufs {
		c.bufs[i] = make([]byte, FrameBufLen)
	}
	return c
}

// The in-place parser agrees with insomniacslk/dhcp on every field the
// engine uses, for replies the full decoder accepts and the cheap one does
// not call odd.
func FuzzParseReply(f *testing.F) {
	f.Add(testReply(f, dhcpv4.MessageTypeAck))
	f.Add(testReply(f, dhcpv4.MessageTypeOffer, dhcpv4.WithOption(dhcpv4.OptRenewTimeValue(5e9))))
	f.Add(testReply(f, dhcpv4.MessageTypeNak))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, p []byte) {
		var v replyView
		r := parseReply(p, &v)
		d, err := dhcpv4.FromBytes(p)
		if r != parseOK || v.odd {
			return
		}
		if err != nil {
			// The full decoder is stricter about some options'
			// contents (lengths of options we do not read); that is
			// what the sampled cross-check is for, not a parser bug.
			return
		}
		yi, _ := netip.AddrFromSlice(d.YourIPAddr.To4())
		if byte(d.OpCode) != v.op || binary.BigEndian.Uint32(d.TransactionID[:]) != v.xid || yi.As4() != v.yiaddr ||
			[6]byte(d.ClientHWAddr[:6]) != v.chaddr || byte(d.MessageType()) != v.msgType {
			t.Fatalf("fixed fields differ: %+v vs %v", v, d.Summary())
		}
		sid, ok := netip.AddrFromSlice(d.ServerIdentifier().To4())
		if ok != v.hasServerID || ok && sid.As4() != v.serverID {
			t.Fatalf("server id: %v vs %+v", d.ServerIdentifier(), v)
		}
		if t1 := uint32(d.IPAddressRenewalTime(d.IPAddressLeaseTime(0)/2) / 1e9); t1 != v.t1Seconds() {
			t.Fatalf("t1 %d vs %d", t1, v.t1Seconds())
		}
	})
}

// Template-built frames are byte-for-byte what buildFrame (frame.Build)
// writes, for every message shape the engine sends.
func TestTemplateMatchesBuildFrame(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var ts templates
	a, b, scr := make([]byte, FrameBufLen), make([]byte, FrameBufLen), make([]byte, maxPayload)
	rb := func() byte { return byte(rng.Uint32()) }
	for i := range 2000 {
		r := request{msgType: []byte{dhcpview.MsgDiscover, dhcpview.MsgRequest, dhcpview.MsgDecline, dhcpview.MsgRelease}[i%4], xid: rng.Uint32(), secs: uint16(rng.Uint32()),
			flags: uint16(rng.Uint32()) & 0x8000, mac: [6]byte{2, 0x58, rb(), rb(), rb(), rb()}, clientID: i%3 == 0, hops: byte(i % 2)}
		if i%5 < 2 {
			r.reqIP = [4]byte{10, rb(), rb(), rb() | 1}
		}
		if i%7 < 3 {
			r.serverID = [4]byte{10, 0, rb(), rb() | 1}
		}
		if i%2 == 1 {
			r.ciaddr, r.giaddr = [4]byte{10, rb(), rb(), rb()}, [4]byte{10, 0, 0, 2}
			r.circuit = []byte("c" + string([]byte{'0' + byte(i%10), 'a', 'b', 'c', 'd', 'e', 'f', '1'}))
		}
		m := handoff.Meta{SrcMAC: [6]byte{rb(), rb(), 3, 4, 5, 6}, DstMAC: [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, rb()},
			SrcIP: [4]byte{rb(), rb(), 0, 1}, DstIP: [4]byte{255, rb(), 255, 255}, SrcPort: 68, DstPort: 67}
		n1, err := buildFrame(a, &m, &r, scr)
		if err != nil {
			t.Fatal(err)
		}
		n2 := ts.get(&r).build(b, &m, &r)
		if n1 != n2 || !bytes.Equal(a[:n1], b[:n2]) {
			t.Fatalf("case %d (%+v): template frame differs from buildFrame\n%x\n%x", i, r, a[:n1], b[:n2])
		}
	}
	if len(ts.list) > 40 {
		t.Fatalf("%d templates for a handful of shapes", len(ts.list))
	}
	r := request{msgType: dhcpview.MsgRequest, xid: 1, mac: [6]byte{2, 0x58, 0, 0, 0, 1}, ciaddr: [4]byte{10, 0, 0, 9}}
	m := handoff.Meta{SrcIP: r.ciaddr, DstIP: [4]byte{10, 0, 0, 1}, SrcPort: 68, DstPort: 67}
	tp := ts.get(&r)
	if n := testing.AllocsPerRun(200, func() { r.xid++; tp.build(b, &m, &r) }); n != 0 {
		t.Fatalf("%v allocations per template build", n)
	}
}
