package slowpath

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"xdhcp/handoff"
	"xdhcp/lease"
	"xdhcp/slowpath/intake"
)

// rawMsg is a BOOTREQUEST from Ethernet chaddr 00:11:22:33:44:01 (xid
// 01020304, no addresses) with the magic cookie, followed by opts exactly as
// given: no End is added.
func rawMsg(opts ...byte) []byte {
	b := make([]byte, 240, 240+len(opts))
	b[0], b[1], b[2] = 1, 1, 6
	copy(b[4:8], []byte{1, 2, 3, 4})
	copy(b[28:], []byte{0, 0x11, 0x22, 0x33, 0x44, 0x01})
	copy(b[236:], []byte{99, 130, 83, 99})
	return append(b, opts...)
}

// sizes records the length of every payload sent, beside the capture.
type sizes struct {
	*capture
	mu sync.Mutex
	n  []int
}

func (s *sizes) Send(dst *handoff.Meta, payload []byte) error {
	s.mu.Lock()
	s.n = append(s.n, len(payload))
	s.mu.Unlock()
	return s.capture.Send(dst, payload)
}

// raw runs a raw payload through the server synchronously (as exchange
// does) and returns what it sent. A relayed payload comes from its giaddr,
// as a relay sends it.
func (h *harness) raw(b []byte) []sent {
	h.t.Helper()
	p := &handoff.Packet{IfIndex: 2, IfName: "eth0", IfAddr: serverAddr, IfMAC: [6]byte{2, 0, 0, 0, 0, 1},
		Meta: handoff.Meta{SrcPort: 68, DstPort: 67}, Data: b, Out: h.out}
	if len(b) >= offGiaddr+4 {
		p.Meta.SrcIP = [4]byte(b[offGiaddr : offGiaddr+4])
	}
	if r := h.srv.decode(p); r != nil {
		h.srv.process(r)
	}
	return h.out.take()
}

// counts snapshots the statistics a hostile packet may move.
func (h *harness) counts() map[string]int64 {
	m := map[string]int64{}
	for _, n := range []string{"pkt4-receive-drop", "pkt4-parse-failed", "pkt4-received",
		"xdhcp-pkt4-bad-hlen-drop", "xdhcp-pkt4-bad-option-drop", "xdhcp-pkt4-relay-hops-drop",
		"xdhcp-pkt4-other-server-drop", "xdhcp-pkt4-no-subnet-drop", "xdhcp-pkt4-client-flood-drop",
		"xdhcp-pkt4-discover-server-id-drop", "xdhcp-pkt4-bad-giaddr-drop",
		"xdhcp-offer-hold-limited"} {
		m[n] = h.stat(n)
	}
	return m
}

// wantDelta fails unless exactly the named statistics moved, by one each.
func wantDelta(t *testing.T, before, after map[string]int64, names ...string) {
	t.Helper()
	want := map[string]int64{"pkt4-received": 1}
	for _, n := range names {
		want[n] = 1
	}
	for n := range after {
		if d := after[n] - before[n]; d != want[n] {
			t.Errorf("%s moved by %d, want %d", n, d, want[n])
		}
	}
}

func TestHostileHeaderAndOptions(t *testing.T) {
	const (
		drop   = "pkt4-receive-drop"
		parse  = "pkt4-parse-failed"
		hlen   = "xdhcp-pkt4-bad-hlen-drop"
		option = "xdhcp-pkt4-bad-option-drop"
		hops   = "xdhcp-pkt4-relay-hops-drop"
	)
	disc := []byte{53, 1, 1}
	cid := []byte{61, 7, 1, 0, 0x11, 0x22, 0x33, 0x44, 0x01}
	end := []byte{255}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	long := func(code byte, pieces int) []byte {
		// pieces instances of a 255-byte option: RFC 3396 concatenates
		// them into one value.
		var b []byte
		for i := 0; i < pieces; i++ {
			b = append(b, code, 255)
			b = append(b, bytes.Repeat([]byte{1}, 255)...)
		}
		return b
	}
	for _, tc := range []struct {
		name  string
		b     []byte
		stats []string             // statistics that move (besides pkt4-received)
		reply dhcpv4.MessageType   // 0: no reply
		check func(*dhcpv4.DHCPv4) // on the reply
	}{
		{name: "well-formed DISCOVER", b: rawMsg(cat(disc, end)...), reply: dhcpv4.MessageTypeOffer},
		{name: "hops 16 is still served", b: withHeader(rawMsg(cat(disc, end)...), 3, 16), reply: dhcpv4.MessageTypeOffer},
		{name: "hops 17: relay loop", b: withHeader(rawMsg(cat(disc, end)...), 3, 17), stats: []string{drop, hops}},
		{name: "hops 255", b: withHeader(rawMsg(cat(disc, end)...), 3, 255), stats: []string{drop, hops}},
		{name: "hlen 17", b: withHeader(rawMsg(cat(disc, end)...), 2, 17), stats: []string{drop, hlen}},
		{name: "hlen 255", b: withHeader(rawMsg(cat(disc, end)...), 2, 255), stats: []string{drop, hlen}},
		{name: "Ethernet hlen 7", b: withHeader(rawMsg(cat(disc, end)...), 2, 7), stats: []string{drop, hlen}},
		{name: "Ethernet hlen 16", b: withHeader(rawMsg(cat(disc, end)...), 2, 16), stats: []string{drop, hlen}},
		{name: "hlen 0 and no client id", b: withHeader(rawMsg(cat(disc, end)...), 2, 0), stats: []string{drop, hlen}},
		{
			// IPoIB style (RFC 4390): no chaddr, the client id names
			// the client; the reply is broadcast.
			name: "hlen 0 with client id", b: withHeader(withHeader(rawMsg(cat(disc, cid, end)...), 2, 0), 1, 32),
			reply: dhcpv4.MessageTypeOffer,
			check: func(m *dhcpv4.DHCPv4) {
				if len(m.ClientHWAddr) != 0 {
					t.Errorf("reply chaddr %x, want none", m.ClientHWAddr)
				}
			},
		},
		{name: "IEEE 802 htype 6 hlen 6", b: withHeader(rawMsg(cat(disc, end)...), 1, 6), reply: dhcpv4.MessageTypeOffer},
		{name: "message type of length 0", b: rawMsg(53, 0, 255), stats: []string{drop, option}},
		{name: "message type of length 2", b: rawMsg(53, 2, 1, 1, 255), stats: []string{drop, option}},
		{name: "requested address of length 0", b: rawMsg(cat(disc, []byte{50, 0}, end)...), stats: []string{drop, option}},
		{name: "requested address of length 3", b: rawMsg(cat(disc, []byte{50, 3, 192, 0, 2}, end)...), stats: []string{drop, option}},
		{name: "server id of length 0", b: rawMsg(53, 1, 3, 50, 4, 192, 0, 2, 150, 54, 0, 255), stats: []string{drop, option}},
		{name: "lease time of length 2", b: rawMsg(cat(disc, []byte{51, 2, 1, 1}, end)...), stats: []string{drop, option}},
		{name: "max message size of length 0", b: rawMsg(cat(disc, []byte{57, 0}, end)...), stats: []string{drop, option}},
		{name: "client id of length 0", b: rawMsg(cat(disc, []byte{61, 0}, end)...), stats: []string{drop, option}},
		{name: "client id of length 1", b: rawMsg(cat(disc, []byte{61, 1, 1}, end)...), stats: []string{drop, option}},
		{name: "client id concatenated past 255 bytes", b: rawMsg(cat(disc, long(61, 2), end)...), stats: []string{drop, option}},
		{name: "relay information concatenated past 255 bytes", b: rawMsg(cat(disc, long(82, 2), end)...), stats: []string{drop, option}},
		{
			// Split options concatenate (RFC 3396): the two halves of a
			// message type make a 2-byte value.
			name: "message type split in two", b: rawMsg(53, 1, 1, 53, 1, 1, 255), stats: []string{drop, option},
		},
		// A truncated last option is left out and the options before it
		// are kept (Kea's unpackOptions4): the DISCOVER is answered.
		{name: "option length past the end", b: rawMsg(cat(disc, []byte{12, 10, 'a', 'b'})...), reply: dhcpv4.MessageTypeOffer,
			check: func(m *dhcpv4.DHCPv4) {
				if m.Options.Has(dhcpv4.OptionHostName) {
					t.Error("the truncated host name was used")
				}
			}},
		{name: "option code without a length", b: rawMsg(cat(disc, []byte{12})...), reply: dhcpv4.MessageTypeOffer},
		{name: "truncated option before the message type", b: rawMsg(12, 10, 'a', 'b', 53, 1, 1), stats: []string{drop}},
		{name: "no End option (Kea accepts it)", b: rawMsg(disc...), reply: dhcpv4.MessageTypeOffer},
		{name: "header only", b: rawMsg()[:236], stats: []string{drop, parse}},
		{name: "bad cookie", b: withHeader(rawMsg(cat(disc, end)...), 236, 0), stats: []string{drop, parse}},
		{
			// Relayed, so that its option 82 is believed and echoed.
			name: "1400-byte request with every option requested",
			b: withGiaddr(rawMsg(cat(disc, []byte{55, 254}, seq(1, 254), long(43, 3), []byte{82, 255}, bytes.Repeat([]byte{1}, 255),
				[]byte{12, 255}, bytes.Repeat([]byte{'a'}, 255), end)...), 198, 51, 100, 1),
			reply: dhcpv4.MessageTypeOffer,
			check: func(m *dhcpv4.DHCPv4) {
				if got := m.Options.Get(dhcpv4.OptionRelayAgentInformation); len(got) != 255 {
					t.Errorf("relay information echoed with %d bytes, want 255", len(got))
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, testConfig)
			out := &sizes{capture: h.out}
			before := h.counts()
			p := &handoff.Packet{IfIndex: 2, IfName: "eth0", IfAddr: serverAddr, IfMAC: [6]byte{2, 0, 0, 0, 0, 1},
				Meta: handoff.Meta{SrcPort: 68, DstPort: 67}, Data: append([]byte(nil), tc.b...), Out: out}
			if len(tc.b) >= offGiaddr+4 {
				p.Meta.SrcIP = [4]byte(tc.b[offGiaddr : offGiaddr+4]) // a relay sends from giaddr
			}
			if r := h.srv.decode(p); r != nil {
				h.srv.process(r)
			}
			wantDelta(t, before, h.counts(), tc.stats...)
			got := h.out.take()
			if tc.reply == 0 {
				if len(got) != 0 {
					t.Fatalf("answered with %s", got[0].msg.MessageType())
				}
				return
			}
			if len(got) != 1 || got[0].msg == nil || got[0].msg.MessageType() != tc.reply {
				t.Fatalf("got %d replies, want one %s", len(got), tc.reply)
			}
			// RFC 2131 §2: a reply fits in 576 bytes unless the client
			// said it accepts more (option 57), whatever it sent.
			if out.n[0] > 576 {
				t.Errorf("reply of %d bytes", out.n[0])
			}
			if tc.check != nil {
				tc.check(got[0].msg)
			}
		})
	}
}

// withHeader returns b with byte off set to v.
func withHeader(b []byte, off int, v byte) []byte {
	b[off] = v
	return b
}

// withGiaddr returns b with giaddr a.b.c.d.
func withGiaddr(b []byte, a, bb, c, d byte) []byte {
	copy(b[offGiaddr:], []byte{a, bb, c, d})
	return b
}

func seq(from, to byte) []byte {
	var b []byte
	for c := int(from); c <= int(to); c++ {
		b = append(b, byte(c))
	}
	return b
}

func TestOptionOverload(t *testing.T) {
	h := newHarness(t, testConfig)
	// Options continue in file (52 = 1): the message type itself is there.
	b := rawMsg(52, 1, 1, 61, 3, 1, 0xaa, 0xbb, 255)
	copy(b[offFile:], []byte{53, 1, 1, 61, 2, 0xcc, 0xdd, 255})
	copy(b[offSname:], []byte{61, 1, 0xee, 255}) // not overloaded: not read
	out := h.raw(b)
	if len(out) != 1 || out[0].msg.MessageType() != dhcpv4.MessageTypeOffer {
		t.Fatalf("DISCOVER with its type in file: %d replies", len(out))
	}
	// Both fields (52 = 3): RFC 3396 order is options, file, sname.
	b = rawMsg(52, 1, 3, 61, 3, 1, 0xaa, 0xbb, 255)
	copy(b[offFile:], []byte{53, 1, 1, 61, 2, 0xcc, 0xdd, 0, 0, 255})
	copy(b[offSname:], []byte{61, 1, 0xee}) // no End: the field ends it
	r := h.srv.decode(&handoff.Packet{IfName: "eth0", IfAddr: serverAddr, Data: b, Out: h.out})
	if r == nil {
		t.Fatal("overloaded DISCOVER dropped")
	}
	if want := []byte{1, 0xaa, 0xbb, 0xcc, 0xdd, 0xee}; !bytes.Equal(r.cid, want) {
		t.Errorf("client id %x, want %x", r.cid, want)
	}
	for _, tc := range []struct {
		name      string
		overload  byte
		file, sn  []byte
		wantParse bool
	}{
		{name: "overload value 0", overload: 0},
		{name: "overload value 4", overload: 4},
		{name: "option running past file", overload: 1, file: append([]byte{53, 1, 1, 12, 200}, bytes.Repeat([]byte{'x'}, 122)...)},
		{name: "option 52 again in file", overload: 1, file: []byte{52, 1, 2, 255}},
		{name: "code byte at the end of sname", overload: 2, sn: append(bytes.Repeat([]byte{0}, 63), 12)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := rawMsg(53, 1, 1, 52, 1, tc.overload, 255)
			copy(b[offFile:offCookie], tc.file)
			copy(b[offSname:offFile], tc.sn)
			before := h.counts()
			if out := h.raw(b); len(out) != 0 {
				t.Fatalf("answered a malformed overload")
			}
			wantDelta(t, before, h.counts(), "pkt4-receive-drop", "pkt4-parse-failed", "xdhcp-pkt4-bad-option-drop")
		})
	}
}

func TestServerIDOfAnotherServer(t *testing.T) {
	h := newHarness(t, testConfig)
	other := dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.ParseIP("192.0.2.254")))
	ack := h.dora("00:11:22:33:44:55")
	ip := netip.MustParseAddr(ack.YourIPAddr.String())

	// A RELEASE naming another server is not ours to act on: the lease
	// stays (a spoofed RELEASE cannot free it through us).
	rel, _ := dhcpv4.NewReleaseFromACK(ack)
	rel.UpdateOption(dhcpv4.OptServerIdentifier(net.ParseIP("192.0.2.254")))
	before := h.counts()
	if out := h.exchange(rel); len(out) != 0 {
		t.Fatal("answered a RELEASE")
	}
	wantDelta(t, before, h.counts(), "pkt4-receive-drop", "xdhcp-pkt4-other-server-drop")
	if l, ok := h.store.Get(ip); !ok || l.State != lease.StateDefault {
		t.Fatalf("lease after a RELEASE to another server: %+v %v", l, ok)
	}
	// The same RELEASE to us frees it.
	rel.UpdateOption(dhcpv4.OptServerIdentifier(net.IP(serverAddr.AsSlice())))
	h.exchange(rel)
	if _, ok := h.store.Get(ip); ok {
		t.Fatal("RELEASE to us kept the lease")
	}

	// A DISCOVER addressed to another server is dropped too (Kea's
	// acceptServerId), and a REQUEST selecting another server frees our
	// offer (RFC 2131 §4.3.2) without an answer.
	before = h.counts()
	if out := h.exchange(discover("00:11:22:33:44:66", other)); len(out) != 0 {
		t.Fatal("answered a DISCOVER for another server")
	}
	wantDelta(t, before, h.counts(), "pkt4-receive-drop", "xdhcp-pkt4-other-server-drop")
	// Naming us does not make it valid: a DISCOVER carries no server
	// identifier (RFC 2131 table 5), and Kea's sanityCheck drops it.
	before = h.counts()
	if out := h.exchange(discover("00:11:22:33:44:66", dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IP(serverAddr.AsSlice()))))); len(out) != 0 {
		t.Fatal("answered a DISCOVER with a server identifier")
	}
	wantDelta(t, before, h.counts(), "pkt4-receive-drop", "xdhcp-pkt4-discover-server-id-drop")
	offer := h.one(discover("00:11:22:33:44:77"))
	if h.srv.offers.len() != 1 {
		t.Fatalf("%d offers held, want 1", h.srv.offers.len())
	}
	req := requestFor(offer.msg)
	req.UpdateOption(dhcpv4.OptServerIdentifier(net.ParseIP("192.0.2.254")))
	if out := h.exchange(req); len(out) != 0 {
		t.Fatal("answered a REQUEST selecting another server")
	}
	if h.srv.offers.len() != 0 {
		t.Fatal("offer still held after the client chose another server")
	}
}

func TestSpoofedGiaddr(t *testing.T) {
	h := newHarness(t, testConfig)
	bogus := dhcpv4.WithGatewayIP(net.ParseIP("10.77.0.1"))
	before := h.counts()
	if out := h.exchange(discover("00:11:22:33:44:55", bogus)); len(out) != 0 {
		t.Fatal("offered through a relay of no subnet")
	}
	// Kea drops it without a statistic; ours is the named one only.
	wantDelta(t, before, h.counts(), "xdhcp-pkt4-no-subnet-drop")
	before = h.counts()
	if out := h.exchange(renew("00:11:22:33:44:55", netip.MustParseAddr("192.0.2.150"), bogus)); len(out) != 0 {
		t.Fatal("answered a renewal through a relay of no subnet")
	}
	wantDelta(t, before, h.counts(), "xdhcp-pkt4-no-subnet-drop")
	// A client that selected us is told no (RFC 2131 §4.3.2).
	sel, _ := dhcpv4.New(dhcpv4.WithHwAddr(mac("00:11:22:33:44:55")), dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest), bogus,
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IP(serverAddr.AsSlice()))),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.ParseIP("192.0.2.150"))))
	if got := h.one(sel); got.msg.MessageType() != dhcpv4.MessageTypeNak {
		t.Fatalf("got %s, want NAK", got.msg.MessageType())
	}
}

// TestDiscoverStormOneMAC: one chaddr flooding the queue gets its share of
// it and no more, so the other clients' packets are still queued and
// answered.
func TestDiscoverStormOneMAC(t *testing.T) {
	h := newHarness(t, testConfig) // packet-queue-size 64
	pkt := func(m *dhcpv4.DHCPv4) *handoff.Packet {
		return &handoff.Packet{IfName: "eth0", IfAddr: serverAddr, Meta: handoff.Meta{SrcMAC: [6]byte(m.ClientHWAddr)}, Data: m.ToBytes(), Out: h.out}
	}
	flood := discover("00:66:66:66:66:66")
	for range 1000 {
		h.srv.Enqueue(pkt(flood))
	}
	if got := h.srv.QueueLen(); got != intake.PerClientQueued {
		t.Fatalf("flooder holds %d queue slots, want %d", got, intake.PerClientQueued)
	}
	if got := h.stat("xdhcp-pkt4-client-flood-drop"); got != 1000-intake.PerClientQueued {
		t.Errorf("client-flood-drop %d, want %d", got, 1000-intake.PerClientQueued)
	}
	const n = 50
	for i := range n {
		h.srv.Enqueue(pkt(discover(fmt.Sprintf("02:00:00:00:01:%02x", i))))
		h.srv.Enqueue(pkt(flood)) // still flooding in between
	}
	if got := h.stat("xdhcp-pkt4-queue-full-drop"); got != 0 {
		t.Fatalf("queue-full-drop %d: the flood pushed others out", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h.srv.Start(ctx)
	defer h.srv.Close()
	// While the workers run, the flood goes on.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				h.srv.Enqueue(pkt(flood))
			}
		}
	}()
	answered := map[string]bool{}
	deadline := time.Now().Add(10 * time.Second)
	for len(answered) < n && time.Now().Before(deadline) {
		for _, s := range h.out.take() {
			if hw := s.msg.ClientHWAddr.String(); hw != "00:66:66:66:66:66" {
				answered[hw] = true
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if len(answered) != n {
		t.Fatalf("%d of %d clients answered during the flood", len(answered), n)
	}
}

// TestMACCyclingCannotExhaustPool: DISCOVERs from ever new MACs (never
// followed by a REQUEST) pin at most half of the free addresses, legitimate
// clients still get leases, and the offer table stays bounded.
func TestMACCyclingCannotExhaustPool(t *testing.T) {
	h := newHarness(t, testConfig)
	n := 0
	storm := func(count int, mods ...dhcpv4.Modifier) {
		for range count {
			n++
			h.exchange(discover(fmt.Sprintf("0a:%02x:%02x:%02x:00:01", n>>16&0xff, n>>8&0xff, n&0xff), mods...))
		}
	}
	// Subnet 2: three addresses, reached through relay 198.51.100.1.
	gi := dhcpv4.WithGatewayIP(net.ParseIP("198.51.100.1"))
	storm(500, gi)
	if got := h.srv.offers.heldIn(2); got > 1 {
		t.Fatalf("%d offers held in a 3-address pool", got)
	}
	seen := map[string]bool{}
	for i := range 3 {
		storm(100, gi)
		a := h.dora(fmt.Sprintf("00:00:00:00:00:%02x", i+1), gi)
		if seen[a.YourIPAddr.String()] {
			t.Fatalf("%s leased twice", a.YourIPAddr)
		}
		seen[a.YourIPAddr.String()] = true
	}
	if got := h.stat("subnet[2].assigned-addresses"); got != 3 {
		t.Fatalf("assigned %d of 3 addresses to legitimate clients", got)
	}
	if h.stat("xdhcp-offer-hold-limited") == 0 {
		t.Error("xdhcp-offer-hold-limited did not count the unheld offers")
	}

	// Subnet 1: 100 addresses. The storm holds at most half, however long
	// it runs, and memory does not grow with the number of MACs.
	storm(2000)
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	storm(20000)
	held := h.srv.offers.heldIn(1)
	if held > 50 || h.srv.offers.len() > 51 {
		t.Fatalf("%d offers held in subnet 1 (%d in all), want at most half of 100", held, h.srv.offers.len())
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	if grow := int64(m1.HeapAlloc) - int64(m0.HeapAlloc); grow > 4<<20 {
		t.Errorf("heap grew by %d bytes over 20000 MACs", grow)
	}
	for i := range 10 {
		h.dora(fmt.Sprintf("00:00:00:00:01:%02x", i))
	}
	// Held offers expire after offerHold; then the pool is whole again.
	h.now = h.now.Add(offerHold + time.Second)
	h.srv.expireOffers(h.now.Unix())
	if got := h.srv.offers.len(); got != 0 {
		t.Fatalf("%d offers left after expiry", got)
	}
	used := uint64(0)
	for _, p := range h.srv.rt.byID[1].pools {
		used += p.alloc.Used()
	}
	if used != 10 {
		t.Fatalf("%d addresses of subnet 1 in use after expiry, want the 10 leases", used)
	}
}

// TestSocketModeRateLimit: without XDP, xdhcp.rate-limit is enforced per
// client in front of the queue, and a reload changes it.
func TestSocketModeRateLimit(t *testing.T) {
	cfg := strings.Replace(testConfig, `"authoritative": true,`,
		`"authoritative": true, "xdhcp": { "rate-limit": { "rate": 2, "burst": 3 } },`, 1)
	h := newHarness(t, cfg)
	pkt := func(hw string) *handoff.Packet {
		return &handoff.Packet{IfName: "eth0", IfAddr: serverAddr, Data: discover(hw).ToBytes(), Out: h.out}
	}
	for range 10 {
		h.srv.Enqueue(pkt("00:66:66:66:66:66"))
	}
	if q, d := h.srv.QueueLen(), h.stat("xdhcp-pkt4-rate-limit-drop"); q != 3 || d != 7 {
		t.Fatalf("burst of 3: %d queued, %d rate-limited", q, d)
	}
	h.srv.Enqueue(pkt("00:11:11:11:11:11")) // another client has its own bucket
	// A packet the XDP program already policed (an interface served
	// through XDP) is not limited twice: it is queued, up to the client's
	// share of the queue.
	policed := pkt("00:66:66:66:66:66")
	policed.Policed = true
	h.srv.Enqueue(policed)
	if q, d := h.srv.QueueLen(), h.stat("xdhcp-pkt4-rate-limit-drop"); q != 5 || d != 7 {
		t.Fatalf("policed packet: %d queued, %d rate-limited; want 5 and 7", q, d)
	}
	h.now = h.now.Add(time.Second) // two tokens later
	for range 5 {
		h.srv.Enqueue(pkt("00:66:66:66:66:66"))
	}
	if q, d, f := h.srv.QueueLen(), h.stat("xdhcp-pkt4-rate-limit-drop"), h.stat("xdhcp-pkt4-client-flood-drop"); q != 3+1+1 || d != 7+3 || f != 2 {
		// The flooder's share of the queue (4) is full with the policed
		// packet: its two new tokens find no slot (client-flood drops),
		// the other three are rate-limited.
		t.Fatalf("after a second: %d queued, %d rate-limited", q, d)
	}
	if err := h.srv.Reload(mustConfig(t, testConfig)); err != nil {
		t.Fatal(err)
	}
	h.srv.Enqueue(pkt("00:22:22:22:22:22"))
	h.srv.Enqueue(pkt("00:22:22:22:22:22"))
	h.srv.Enqueue(pkt("00:22:22:22:22:22"))
	h.srv.Enqueue(pkt("00:22:22:22:22:22"))
	if d := h.stat("xdhcp-pkt4-rate-limit-drop"); d != 10 {
		t.Fatalf("rate limit still on after a reload without it: %d drops", d)
	}
}

// TestImpossibleGiaddr: a relay address no relay can have is refused and
// counted; the reply would go to the server itself or nowhere.
func TestImpossibleGiaddr(t *testing.T) {
	h := newHarness(t, testConfig)
	for _, g := range []string{serverAddr.String(), "127.0.0.1", "224.0.0.5", "255.255.255.255", "0.1.2.3"} {
		before := h.counts()
		if out := h.exchange(discover("00:11:22:33:44:55", dhcpv4.WithGatewayIP(net.ParseIP(g)))); len(out) != 0 {
			t.Errorf("giaddr %s: answered %d times", g, len(out))
		}
		wantDelta(t, before, h.counts(), "pkt4-receive-drop", "xdhcp-pkt4-bad-giaddr-drop")
	}
	// A real relay of a known subnet is still served.
	if out := h.exchange(discover("00:11:22:33:44:55", dhcpv4.WithGatewayIP(net.ParseIP("198.51.100.1")))); len(out) != 1 {
		t.Fatalf("relayed DISCOVER: %d replies, want 1", len(out))
	}
}
