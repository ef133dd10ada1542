package loadgen

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"xdhcp/fastpath/afpacket"
	"xdhcp/fastpath/dhcpview"
	"xdhcp/fastpath/frame"
	"xdhcp/handoff"
	"xdhcp/internal/lab"
)

// fault selects how the fake responder misbehaves.
type fault int

const (
	faultNone        fault = iota
	faultSameAddr          // every client gets the same address
	faultGarbage           // every reply is cut to 20 bytes of DHCP
	faultDropHalf          // every second DISCOVER is ignored
	faultWrongXid          // replies carry another xid
	faultReofferDecl       // a declined address is offered again
)

// responder is a tiny DHCP server on an afpacket Conn: first free address
// per MAC from 10.99.1.0 upwards, OFFER/ACK/NAK, relay-aware.
type responder struct {
	conn  *afpacket.Conn
	fault fault

	mu        sync.Mutex
	leases    map[[6]byte]netip.Addr
	next      netip.Addr
	declined  netip.Addr
	discovers atomic.Int64
	releases  atomic.Int64
	declines  atomic.Int64
	renews    atomic.Int64
	writeErrs atomic.Int64
}

var (
	srvAddr = netip.MustParseAddr("10.99.0.1")
	cliAddr = netip.MustParseAddr("10.99.0.2")
	subnet  = netip.MustParsePrefix("10.99.0.0/16")
)

type testLab struct {
	resp *responder
	sock *Socket
	srvM [6]byte
}

// newTestLab builds a server and a client namespace joined by a veth and
// starts the responder; everything is closed by t.Cleanup.
func newTestLab(t *testing.T, f fault, relay bool) *testLab {
	t.Helper()
	_, p := lab.PairForTest(t, "xd-lg", "xds0", netip.PrefixFrom(srvAddr, 16), "xdc0", netip.PrefixFrom(cliAddr, 16))
	srv, cli := p.Server, p.Client
	tl := &testLab{}
	var conn *afpacket.Conn
	if err := srv.Do(func() error {
		var err error
		conn, err = afpacket.Open("xds0", afpacket.Options{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	tl.srvM = conn.Iface().MAC
	tl.resp = &responder{conn: conn, fault: f, leases: map[[6]byte]netip.Addr{}, next: netip.MustParseAddr("10.99.1.0")}
	done := make(chan struct{})
	go func() { defer close(done); tl.resp.serve() }()
	t.Cleanup(func() { conn.Close(); <-done })
	port := uint16(68)
	if relay {
		port = 67
	}
	if err := cli.Do(func() error {
		var err error
		tl.sock, err = OpenSocket("xdc0", SocketOptions{ListenPort: port})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tl.sock.Close() })
	return tl
}

func (r *responder) serve() {
	bufs := make([][]byte, 32)
	for i := range bufs {
		bufs[i] = make([]byte, 2048)
	}
	lens := make([]int, 32)
	out := make([]byte, 2048)
	for {
		n, err := r.conn.ReadBatch(bufs, lens)
		if err != nil {
			return
		}
		for i := range n {
			if f := r.reply(bufs[i][:lens[i]], out); f > 0 {
				if err := r.conn.WriteFrame(out[:f]); err != nil {
					r.writeErrs.Add(1)
				}
			}
		}
	}
}

// reply builds the answer to one request frame into out.
func (r *responder) reply(b, out []byte) int {
	var m handoff.Meta
	payload, err := frame.Parse(b, &m)
	if err != nil {
		return 0
	}
	req, err := dhcpv4.FromBytes(payload)
	if err != nil {
		return 0
	}
	mac := [6]byte(req.ClientHWAddr)
	r.mu.Lock()
	defer r.mu.Unlock()
	var typ dhcpv4.MessageType
	var yi netip.Addr
	switch req.MessageType() {
	case dhcpv4.MessageTypeDiscover:
		if r.discovers.Add(1)%2 == 0 && r.fault == faultDropHalf {
			return 0
		}
		typ, yi = dhcpv4.MessageTypeOffer, r.addrFor(mac)
	case dhcpv4.MessageTypeRequest:
		yi = r.addrFor(mac)
		want, _ := netip.AddrFromSlice(req.RequestedIPAddress())
		if !req.ClientIPAddr.IsUnspecified() {
			want, _ = netip.AddrFromSlice(req.ClientIPAddr.To4())
			r.renews.Add(1)
		}
		typ = dhcpv4.MessageTypeAck
		if want.Unmap() != yi {
			typ = dhcpv4.MessageTypeNak
		}
	case dhcpv4.MessageTypeRelease:
		r.releases.Add(1)
		delete(r.leases, mac)
		return 0
	case dhcpv4.MessageTypeDecline:
		r.declines.Add(1)
		r.declined, _ = netip.AddrFromSlice(req.RequestedIPAddress().To4())
		delete(r.leases, mac)
		return 0
	default:
		return 0
	}
	resp, err := dhcpv4.NewReplyFromRequest(req,
		dhcpv4.WithMessageType(typ),
		dhcpv4.WithServerIP(srvAddr.AsSlice()),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(srvAddr.AsSlice())),
		dhcpv4.WithLeaseTime(3600),
	)
	if err != nil {
		return 0
	}
	if typ != dhcpv4.MessageTypeNak {
		resp.YourIPAddr = yi.AsSlice()
	}
	if r.fault == faultWrongXid {
		resp.TransactionID[0] ^= 0xff
	}
	data := resp.ToBytes()
	if r.fault == faultGarbage {
		data = data[:20]
	}
	om := handoff.Meta{SrcMAC: m.DstMAC, DstMAC: mac, SrcIP: srvAddr.As4(), DstIP: [4]byte{255, 255, 255, 255}, SrcPort: 67, DstPort: 68}
	if gi := req.GatewayIPAddr.To4(); gi != nil && !gi.IsUnspecified() {
		om.DstMAC, om.DstIP, om.DstPort = m.SrcMAC, [4]byte(gi), 67
	}
	om.SrcMAC = r.conn.Iface().MAC
	n, err := frame.Build(out, &om, data)
	if err != nil {
		return 0
	}
	return n
}

// addrFor returns the client's address, allocating the next one.
func (r *responder) addrFor(mac [6]byte) netip.Addr {
	if r.fault == faultSameAddr {
		return netip.MustParseAddr("10.99.0.50")
	}
	if a, ok := r.leases[mac]; ok {
		return a
	}
	if r.fault == faultReofferDecl && r.declined.IsValid() {
		a := r.declined
		r.declined = netip.Addr{}
		r.leases[mac] = a
		return a
	}
	a := r.next
	r.next = r.next.Next()
	r.leases[mac] = a
	return a
}

func runGen(t *testing.T, tr Transport, cfg Config) *Report {
	t.Helper()
	_, rep := runGenerator(t, tr, cfg)
	return rep
}

// runGenerator runs a generator for cfg on tr (30 s at most), failing t on
// an error, and returns it with its report.
func runGenerator(t *testing.T, tr Transport, cfg Config) (*Generator, *Report) {
	t.Helper()
	g, err := New(cfg, tr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := g.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return g, rep
}

func TestDORARenewRebindRelease(t *testing.T) {
	tl := newTestLab(t, faultNone, false)
	rep := runGen(t, tl.sock, Config{
		Mode: Closed, Outstanding: 16, Clients: 200, Count: 200, Duration: 10 * time.Second,
		Renewals: 2, RenewAfter: 10 * time.Millisecond, Rebind: true, Release: true,
		Subnet: subnet, ClientID: true, Timeout: 500 * time.Millisecond, Retries: 2,
	})
	if err := rep.Failed(); err != nil {
		t.Fatalf("%v\n%+v", err, rep)
	}
	if rep.DORA.Completed != 200 || rep.Renew.Completed != 400 || rep.Rebind.Completed != 200 {
		t.Fatalf("completed dora %d renew %d rebind %d, want 200 400 200", rep.DORA.Completed, rep.Renew.Completed, rep.Rebind.Completed)
	}
	if got := tl.resp.releases.Load(); got != 200 || rep.Sent.Release != 200 {
		t.Fatalf("releases seen %d sent %d, want 200", got, rep.Sent.Release)
	}
	// Renewals are unicast to the server's MAC, learned from the OFFERs:
	// the responder sees ciaddr set in 600 requests (renew + rebind).
	if got := tl.resp.renews.Load(); got != 600 {
		t.Fatalf("responder saw %d renew/rebind requests, want 600", got)
	}
	if rep.Lost != 0 || rep.DORA.Latency.P50Ms <= 0 || rep.DORA.Latency.P99Ms < rep.DORA.Latency.P50Ms {
		t.Fatalf("lost %d, latency %+v", rep.Lost, rep.DORA.Latency)
	}
	if rep.Generator.CPUUserS+rep.Generator.CPUSysS <= 0 || rep.Generator.SocketRx < 200*2 {
		t.Fatalf("generator stats %+v", rep.Generator)
	}
	if len(rep.Series) == 0 {
		t.Fatal("no time series")
	}
}

func TestDoubleAssignmentIsWrong(t *testing.T) {
	tl := newTestLab(t, faultSameAddr, false)
	rep := runGen(t, tl.sock, Config{Mode: Closed, Outstanding: 1, Clients: 5, Count: 5, Duration: 5 * time.Second, Subnet: subnet, Timeout: 300 * time.Millisecond})
	// The first client binds 10.99.0.50; the four others get it too.
	if rep.DORA.Completed != 1 || rep.WrongReasons["address given to two clients"] != 4 {
		t.Fatalf("completed %d, wrong %v", rep.DORA.Completed, rep.WrongReasons)
	}
	if rep.Failed() == nil {
		t.Fatal("Failed() is nil for a double assignment")
	}
}

func TestOutsideSubnetIsWrong(t *testing.T) {
	tl := newTestLab(t, faultNone, false)
	rep := runGen(t, tl.sock, Config{Mode: Closed, Clients: 3, Count: 3, Duration: 3 * time.Second,
		Subnet: netip.MustParsePrefix("192.168.0.0/24"), Timeout: 200 * time.Millisecond})
	if rep.WrongReasons["address outside the subnet"] != 3 || rep.DORA.Completed != 0 || rep.DORA.Lost != 3 {
		t.Fatalf("wrong %v completed %d lost %d", rep.WrongReasons, rep.DORA.Completed, rep.DORA.Lost)
	}
}

func TestMalformedAndWrongXid(t *testing.T) {
	tl := newTestLab(t, faultGarbage, false)
	rep := runGen(t, tl.sock, Config{Mode: Closed, Clients: 4, Count: 4, Duration: 3 * time.Second, Timeout: 200 * time.Millisecond})
	if rep.Malformed != 4 || rep.Failed() == nil {
		t.Fatalf("malformed %d, want 4", rep.Malformed)
	}
	tl = newTestLab(t, faultWrongXid, false)
	rep = runGen(t, tl.sock, Config{Mode: Closed, Clients: 4, Count: 4, Duration: 3 * time.Second, Timeout: 200 * time.Millisecond})
	if rep.WrongReasons["unknown transaction id"] != 4 {
		t.Fatalf("wrong %v", rep.WrongReasons)
	}
}

func TestLossAndRetransmit(t *testing.T) {
	tl := newTestLab(t, faultDropHalf, false)
	// Without retries half the DISCOVERs are lost.
	rep := runGen(t, tl.sock, Config{Mode: Closed, Outstanding: 1, Clients: 20, Count: 20, Duration: 10 * time.Second, Timeout: 100 * time.Millisecond})
	if rep.DORA.Lost != 10 || rep.DORA.Completed != 10 || rep.LossPct != 50 {
		t.Fatalf("lost %d completed %d loss %.1f%%", rep.DORA.Lost, rep.DORA.Completed, rep.LossPct)
	}
	// With one retry every client gets through: after the first, each
	// client's DISCOVER is the dropped even one, its retransmission odd.
	tl = newTestLab(t, faultDropHalf, false)
	rep = runGen(t, tl.sock, Config{Mode: Closed, Outstanding: 1, Clients: 20, Count: 20, Duration: 10 * time.Second, Timeout: 100 * time.Millisecond, Retries: 1})
	if rep.DORA.Lost != 0 || rep.DORA.Completed != 20 || rep.Sent.Retransmits != 19 {
		t.Fatalf("lost %d completed %d retransmits %d", rep.DORA.Lost, rep.DORA.Completed, rep.Sent.Retransmits)
	}
}

func TestDecline(t *testing.T) {
	tl := newTestLab(t, faultNone, false)
	rep := runGen(t, tl.sock, Config{Mode: Closed, Clients: 10, Count: 10, Duration: 5 * time.Second, DeclineEvery: 5, Subnet: subnet, Timeout: 300 * time.Millisecond})
	// Clients 0 and 5 decline and bind again: 12 DORAs.
	if err := rep.Failed(); err != nil || rep.DORA.Completed != 12 || tl.resp.declines.Load() != 2 {
		t.Fatalf("err %v completed %d declines %d", err, rep.DORA.Completed, tl.resp.declines.Load())
	}
	tl = newTestLab(t, faultReofferDecl, false)
	rep = runGen(t, tl.sock, Config{Mode: Closed, Outstanding: 1, Clients: 2, Count: 2, Duration: 3 * time.Second, DeclineEvery: 2, Subnet: subnet, Timeout: 200 * time.Millisecond})
	if rep.WrongReasons["declined address given again"] != 1 {
		t.Fatalf("wrong %v", rep.WrongReasons)
	}
}

func TestRelayMode(t *testing.T) {
	tl := newTestLab(t, faultNone, true)
	rep := runGen(t, tl.sock, Config{
		Mode: Open, Rate: 2000, Clients: 500, Count: 500, Duration: 5 * time.Second,
		Relay: true, RelayAddr: cliAddr, ServerAddr: srvAddr, ServerMAC: tl.srvM,
		Renewals: 1, RenewAfter: time.Millisecond, Subnet: subnet, Timeout: 500 * time.Millisecond,
	})
	if err := rep.Failed(); err != nil || rep.DORA.Completed != 500 || rep.Renew.Completed != 500 {
		t.Fatalf("err %v dora %d renew %d lost %d; responder saw %d discovers, %d write errors", err, rep.DORA.Completed, rep.Renew.Completed, rep.Lost, tl.resp.discovers.Load(), tl.resp.writeErrs.Load())
	}
	// 500 clients at 2000/s take about 250 ms.
	if rep.OfferedRate < 1000 || rep.OfferedRate > 3000 {
		t.Fatalf("offered %.0f/s, want about 2000", rep.OfferedRate)
	}
}

func TestWarmupThenRenewals(t *testing.T) {
	tl := newTestLab(t, faultNone, false)
	rep := runGen(t, tl.sock, Config{
		Mode: Open, Rate: 1000, Clients: 100, WarmupClients: 100, RenewFraction: 1,
		Count: 300, Duration: 5 * time.Second, Subnet: subnet, Timeout: 300 * time.Millisecond,
	})
	if rep.Warmup == nil || rep.Warmup.Completed != 100 {
		t.Fatalf("warm-up %+v", rep.Warmup)
	}
	if err := rep.Failed(); err != nil || rep.Renew.Completed != 300 || rep.DORA.Started != 0 {
		t.Fatalf("err %v renew %d dora %d", err, rep.Renew.Completed, rep.DORA.Started)
	}
}

func TestStopsOnDuration(t *testing.T) {
	tl := newTestLab(t, faultNone, false)
	start := time.Now()
	rep := runGen(t, tl.sock, Config{Mode: Open, Rate: 100, Clients: 1000, Count: 1 << 30, Duration: 700 * time.Millisecond, Timeout: 200 * time.Millisecond})
	el := time.Since(start)
	if el > 2*time.Second || rep.DORA.Started < 50 || rep.DORA.Started > 90 {
		t.Fatalf("elapsed %v started %d", el, rep.DORA.Started)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []Config{
		{Mode: Open, Clients: 1, Count: 1, Duration: time.Second},                     // no rate
		{Mode: Closed, Clients: 0, Count: 1, Duration: time.Second},                   // no clients
		{Mode: Closed, Clients: 1, Duration: time.Second},                             // no count
		{Mode: Closed, Clients: 1, Count: 1},                                          // no duration
		{Mode: Closed, Clients: 1, Count: 1, Duration: time.Second, Relay: true},      // relay without addresses
		{Mode: "x", Clients: 1, Count: 1, Duration: time.Second},                      // unknown mode
		{Mode: Closed, Clients: 1, Count: 1, Duration: time.Second, WarmupClients: 2}, // more warm-up than clients
	} {
		if _, err := New(c, nil); err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
	}
}

// TestBuildPayloadDecodes checks our hand-built requests against the
// reference decoder.
func TestBuildPayloadDecodes(t *testing.T) {
	buf := make([]byte, maxPayload)
	r := request{msgType: dhcpview.MsgRequest, xid: 0xdeadbeef, secs: 3, mac: [6]byte{2, 0x58, 0, 0, 1, 2},
		reqIP: [4]byte{10, 0, 0, 9}, serverID: [4]byte{10, 0, 0, 1}, clientID: true,
		giaddr: [4]byte{10, 0, 0, 2}, hops: 1, circuit: []byte("c00000102")}
	n := buildPayload(buf, &r)
	d, err := dhcpv4.FromBytes(buf[:n])
	if err != nil {
		t.Fatal(err)
	}
	if d.MessageType() != dhcpv4.MessageTypeRequest || binary.BigEndian.Uint32(d.TransactionID[:]) != 0xdeadbeef ||
		d.NumSeconds != 3 || !d.RequestedIPAddress().Equal(net.IPv4(10, 0, 0, 9)) || !d.ServerIdentifier().Equal(net.IPv4(10, 0, 0, 1)) ||
		!d.GatewayIPAddr.Equal(net.IPv4(10, 0, 0, 2)) || d.HopCount != 1 {
		t.Fatalf("decoded %s", d.Summary())
	}
	if cid := d.GetOneOption(dhcpv4.OptionClientIdentifier); string(cid) != "\x01\x02\x58\x00\x00\x01\x02" {
		t.Fatalf("client-id %x", cid)
	}
	if got := d.RelayAgentInfo().Get(dhcpv4.GenericOptionCode(1)); string(got) != "c00000102" {
		t.Fatalf("circuit-id %q", got)
	}
	if n < 300 {
		t.Fatalf("payload %d bytes, want the 300-byte BOOTP minimum", n)
	}
}

// TestOfferedRateEndsWithLastStart: 20 exchanges at 100/s take 0.2 s to
// offer; the phase then waits for the scheduled renewals, which must not
// dilute the offered rate to 20/s.
func TestOfferedRateEndsWithLastStart(t *testing.T) {
	tl := newTestLab(t, faultNone, false)
	rep := runGen(t, tl.sock, Config{
		Mode: Open, Rate: 100, Clients: 20, Count: 20, Duration: 3 * time.Second,
		Renewals: 1, RenewAfter: time.Second, Subnet: subnet, Timeout: 500 * time.Millisecond,
	})
	if err := rep.Failed(); err != nil || rep.DORA.Completed != 20 {
		t.Fatalf("err %v dora %d", err, rep.DORA.Completed)
	}
	if rep.DurationS < 1 {
		t.Fatalf("window %.2f s: the renewals should have kept the phase open", rep.DurationS)
	}
	if rep.OfferedRate < 80 || rep.OfferedRate > 120 {
		t.Fatalf("offered %.1f/s over a %.2f s window, want about 100", rep.OfferedRate, rep.DurationS)
	}
}
