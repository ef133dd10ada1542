package afpacket

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"xdhcp/fastpath/frame"
	"xdhcp/handoff"
	"xdhcp/internal/lab"
	"xdhcp/internal/testframe"
)

// pair is a veth between a client namespace and a server namespace, with an
// afpacket Conn on each end.
type pair struct {
	lab            *lab.Lab
	client, server *lab.NS
	cconn, sconn   *Conn
	cIface, sIface Iface
}

var (
	clientAddr = netip.MustParsePrefix("10.77.0.2/24")
	serverAddr = netip.MustParsePrefix("10.77.0.1/24")
)

func newPair(t *testing.T) *pair {
	t.Helper()
	l, lp := lab.PairForTest(t, "xf", "xfs", serverAddr, "xfc", clientAddr)
	p := &pair{lab: l, client: lp.Client, server: lp.Server}
	p.cconn = open(t, p.client, "xfc")
	p.sconn = open(t, p.server, "xfs")
	p.cIface, p.sIface = p.cconn.Iface(), p.sconn.Iface()
	return p
}

func open(t *testing.T, ns *lab.NS, ifname string) *Conn {
	t.Helper()
	return lab.OpenForTest(t, ns, func() (*Conn, error) { return Open(ifname, Options{}) })
}

// discover returns a minimal DHCPDISCOVER payload with xid.
func discover(mac [6]byte, xid uint32) []byte { return testframe.Discover(mac, xid, 244) }

// clientFrame builds a broadcast frame from the client's MAC with payload.
func (p *pair) clientFrame(t *testing.T, dstPort uint16, payload []byte) []byte {
	t.Helper()
	f, err := testframe.Broadcast(p.cIface.MAC, dstPort, payload)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// sendRead sends a broadcast frame with payload from the client to port 67
// and returns the header fields and the payload of the first frame the
// server reads (5 s at most).
func (p *pair) sendRead(t *testing.T, payload []byte) (handoff.Meta, []byte) {
	t.Helper()
	if err := p.cconn.WriteFrame(p.clientFrame(t, 67, payload)); err != nil {
		t.Fatal(err)
	}
	var m handoff.Meta
	got, err := frame.Parse(readOne(t, p.sconn, 5*time.Second), &m)
	if err != nil {
		t.Fatal(err)
	}
	return m, got
}

// readOne reads one frame from c or fails after timeout (closing c to wake
// the reader).
func readOne(t *testing.T, c *Conn, timeout time.Duration) []byte {
	t.Helper()
	type res struct {
		b   []byte
		err error
	}
	ch := make(chan res, 1)
	go func() {
		bufs := [][]byte{make([]byte, 2048)}
		lens := []int{0}
		n, err := c.ReadBatch(bufs, lens)
		if err == nil && n != 1 {
			err = errors.New("ReadBatch returned 0 frames and no error")
		}
		ch <- res{bufs[0][:lens[0]], err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r.b
	case <-time.After(timeout):
		c.Close()
		<-ch
		t.Fatal("no frame received")
		return nil
	}
}

func TestDiscoverArrives(t *testing.T) {
	p := newPair(t)
	if p.sIface.Name != "xfs" || p.sIface.Index == 0 || p.sIface.MAC == ([6]byte{}) {
		t.Fatalf("server iface %+v", p.sIface)
	}
	if !slices.Equal(p.sIface.Addrs, []netip.Addr{serverAddr.Addr()}) {
		t.Fatalf("server addrs %v, want %v", p.sIface.Addrs, serverAddr.Addr())
	}
	payload := discover(p.cIface.MAC, 0x1234)
	m, got := p.sendRead(t, payload)
	want := handoff.Meta{
		SrcMAC: p.cIface.MAC, DstMAC: [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		DstIP: [4]byte{255, 255, 255, 255}, SrcPort: 68, DstPort: 67, TTL: 64,
	}
	if m != want {
		t.Fatalf("meta\n got %+v\nwant %+v", m, want)
	}
	if !slices.Equal(got, payload) {
		t.Fatal("payload differs")
	}
	// PACKET_IGNORE_OUTGOING: the client does not read its own frame. The
	// server answers on port 67 too (as a relay would see it), so if the
	// client read outgoing frames it would see this one.
	rx, _, err := p.cconn.Stats()
	if err != nil || rx != 0 {
		t.Fatalf("client socket received %d frames (err %v), want 0", rx, err)
	}
}

func TestFilter(t *testing.T) {
	p := newPair(t)
	tcp := p.clientFrame(t, 67, discover(p.cIface.MAC, 1))
	tcp[14+9] = 6 // protocol TCP (header checksum now wrong, but the filter runs first)
	frag := p.clientFrame(t, 67, discover(p.cIface.MAC, 2))
	frag[14+6] = 0x20 // more fragments
	tagged := p.clientFrame(t, 67, discover(p.cIface.MAC, 3))
	tagged = slices.Concat(tagged[:12], []byte{0x81, 0x00, 0x00, 100}, tagged[12:]) // VID 100
	otherHost := p.clientFrame(t, 67, discover(p.cIface.MAC, 4))
	copy(otherHost[0:6], []byte{0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee}) // unicast to some other MAC
	unwanted := [][]byte{
		p.clientFrame(t, 68, discover(p.cIface.MAC, 5)), // to the client port
		tcp, frag, tagged, otherHost,
	}
	for i, f := range unwanted {
		if err := p.cconn.WriteFrame(f); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
	}
	// veth keeps order: if the marker is the first frame read, the
	// unwanted ones were filtered out.
	_, got := p.sendRead(t, discover(p.cIface.MAC, 0xfeed))
	if xid := binary.BigEndian.Uint32(got[4:]); xid != 0xfeed {
		t.Fatalf("first frame read has xid %#x: a frame that should be filtered got through", xid)
	}
	rx, drop, err := p.sconn.Stats()
	if err != nil || rx != 1 || drop != 0 {
		t.Fatalf("stats rx %d drop %d err %v, want 1 0", rx, drop, err)
	}
}

func TestCloseWakesReader(t *testing.T) {
	p := newPair(t)
	errc := make(chan error, 1)
	go func() {
		_, err := p.sconn.ReadBatch([][]byte{make([]byte, 2048)}, []int{0})
		errc <- err
	}()
	select {
	case err := <-errc:
		t.Fatalf("ReadBatch returned before Close: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	if err := p.sconn.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("ReadBatch after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not wake the blocked ReadBatch")
	}
	if _, err := p.sconn.ReadBatch([][]byte{make([]byte, 10)}, []int{0}); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("ReadBatch on closed conn: %v", err)
	}
	if err := p.sconn.WriteFrame(make([]byte, 60)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("WriteFrame on closed conn: %v", err)
	}
	if err := p.sconn.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestWriteBatch100(t *testing.T) {
	p := newPair(t)
	const total = 100
	frames := make([][]byte, total)
	for i := range frames {
		frames[i] = p.clientFrame(t, 67, discover(p.cIface.MAC, uint32(i)))
	}
	n, err := p.cconn.WriteBatch(frames)
	if err != nil || n != total {
		t.Fatalf("WriteBatch: %d, %v", n, err)
	}
	seen := make([]bool, total)
	bufs := make([][]byte, 32)
	for i := range bufs {
		bufs[i] = make([]byte, 2048)
	}
	lens := make([]int, len(bufs))
	aux := make([]Aux, len(bufs))
	count := 0
	timer := time.AfterFunc(5*time.Second, func() { p.sconn.Close() })
	defer timer.Stop()
	for count < total {
		n, err := p.sconn.ReadBatchAux(bufs, lens, aux)
		if err != nil {
			t.Fatalf("after %d frames: %v", count, err)
		}
		for i := range n {
			var m handoff.Meta
			payload, err := frame.Parse(bufs[i][:lens[i]], &m)
			if err != nil {
				t.Fatal(err)
			}
			if aux[i].Truncated || aux[i].HasVLAN || aux[i].OrigLen != lens[i] {
				t.Fatalf("aux %+v for a %d-byte untagged frame", aux[i], lens[i])
			}
			xid := binary.BigEndian.Uint32(payload[4:])
			if xid >= total || seen[xid] {
				t.Fatalf("unexpected or duplicate xid %d", xid)
			}
			seen[xid] = true
			count++
		}
	}
}

func TestTruncatedFrameReported(t *testing.T) {
	p := newPair(t)
	f := p.clientFrame(t, 67, discover(p.cIface.MAC, 9))
	if err := p.cconn.WriteFrame(f); err != nil {
		t.Fatal(err)
	}
	bufs, lens, aux := [][]byte{make([]byte, 100)}, []int{0}, []Aux{{}}
	timer := time.AfterFunc(5*time.Second, func() { p.sconn.Close() })
	defer timer.Stop()
	if _, err := p.sconn.ReadBatchAux(bufs, lens, aux); err != nil {
		t.Fatal(err)
	}
	if lens[0] != 100 || !aux[0].Truncated || aux[0].OrigLen != len(f) {
		t.Fatalf("len %d aux %+v, want 100 bytes of a truncated %d-byte frame", lens[0], aux[0], len(f))
	}
	var m handoff.Meta
	if _, err := frame.Parse(bufs[0][:lens[0]], &m); !errors.Is(err, frame.ErrShort) {
		t.Fatalf("parse of truncated frame: %v", err)
	}
}

// TestBuiltFrameReachesUDPSocket sends a frame.Build frame to a kernel UDP
// socket: the receiving stack verifies the IPv4 and UDP checksums, an
// independent check of both Build and WriteFrame. A corrupted copy sent
// first must not arrive.
func TestBuiltFrameReachesUDPSocket(t *testing.T) {
	p := newPair(t)
	var sock *net.UDPConn
	if err := p.server.Do(func() error {
		var err error
		sock, err = net.ListenUDP("udp4", &net.UDPAddr{Port: 4243})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	build := func(payload string) []byte {
		m := handoff.Meta{
			SrcMAC: p.cIface.MAC, DstMAC: p.sIface.MAC,
			SrcIP: clientAddr.Addr().As4(), DstIP: serverAddr.Addr().As4(),
			SrcPort: 5000, DstPort: 4243,
		}
		buf := make([]byte, 200)
		n, err := frame.Build(buf, &m, []byte(payload))
		if err != nil {
			t.Fatal(err)
		}
		return buf[:n]
	}
	bad := build("corrupt")
	bad[len(bad)-minPad(bad)-1] ^= 0x40 // flip a payload bit: UDP checksum now wrong
	if err := p.cconn.WriteFrame(bad); err != nil {
		t.Fatal(err)
	}
	if err := p.cconn.WriteFrame(build("good")); err != nil {
		t.Fatal(err)
	}
	_ = sock.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 100)
	n, from, err := sock.ReadFromUDP(buf)
	if err != nil {
		t.Fatal(err)
	}
	if string(buf[:n]) != "good" || from.Port != 5000 {
		t.Fatalf("got %q from %v, want \"good\" (a corrupt datagram passed the UDP checksum?)", buf[:n], from)
	}
}

// minPad returns how many padding bytes frame.Build added after the payload.
func minPad(f []byte) int {
	ipLen := int(binary.BigEndian.Uint16(f[14+2:]))
	return len(f) - 14 - ipLen
}

func TestRefresh(t *testing.T) {
	p := newPair(t)
	h, err := p.server.Handle()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Delete()
	link, err := h.LinkByName("xfs")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.AddrAdd(link, mustAddr(t, "10.77.0.9/24")); err != nil { // secondary: same subnet
		t.Fatal(err)
	}
	if err := h.AddrAdd(link, mustAddr(t, "10.78.0.1/24")); err != nil { // another primary
		t.Fatal(err)
	}
	if err := p.sconn.Refresh(); err != nil {
		t.Fatal(err)
	}
	got := p.sconn.Iface().Addrs
	want := []netip.Addr{serverAddr.Addr(), netip.MustParseAddr("10.78.0.1"), netip.MustParseAddr("10.77.0.9")}
	if !slices.Equal(got, want) {
		t.Fatalf("addrs %v, want %v (primaries first)", got, want)
	}
	if !slices.Equal(p.sIface.Addrs, []netip.Addr{serverAddr.Addr()}) {
		t.Fatalf("Refresh changed an Iface returned earlier: %v", p.sIface.Addrs)
	}
}

func TestReadWriteAllocs(t *testing.T) {
	p := newPair(t)
	f := p.clientFrame(t, 67, discover(p.cIface.MAC, 7))
	frames := [][]byte{f, f}
	bufs := [][]byte{make([]byte, 2048), make([]byte, 2048)}
	lens := make([]int, 2)
	timer := time.AfterFunc(10*time.Second, func() { p.sconn.Close() })
	defer timer.Stop()
	allocs := testing.AllocsPerRun(50, func() {
		if _, err := p.cconn.WriteBatch(frames); err != nil {
			t.Fatal(err)
		}
		for got := 0; got < 2; {
			n, err := p.sconn.ReadBatch(bufs, lens)
			if err != nil {
				t.Fatal(err)
			}
			got += n
		}
		if err := p.cconn.WriteFrame(f); err != nil {
			t.Fatal(err)
		}
		if _, err := p.sconn.ReadBatch(bufs[:1], lens[:1]); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("WriteBatch+ReadBatch+WriteFrame allocate %v times per run", allocs)
	}
}

func mustAddr(t *testing.T, s string) *netlink.Addr {
	t.Helper()
	p := netip.MustParsePrefix(s)
	return &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)}}
}

// TestConcurrentClose runs every method while Close happens (meaningful
// under -race): all of them must return, nil or net.ErrClosed.
func TestConcurrentClose(t *testing.T) {
	p := newPair(t)
	f := p.clientFrame(t, 67, discover(p.cIface.MAC, 1))
	done := make(chan error, 5)
	loop := func(op func() error) {
		for {
			if err := op(); err != nil {
				if errors.Is(err, net.ErrClosed) {
					err = nil
				}
				done <- err
				return
			}
		}
	}
	go loop(func() error { _, err := p.sconn.ReadBatch([][]byte{make([]byte, 2048)}, []int{0}); return err })
	go loop(func() error { return p.sconn.WriteFrame(f) })
	go loop(func() error { _, err := p.sconn.WriteBatch([][]byte{f, f}); return err })
	go loop(func() error { _, _, err := p.sconn.Stats(); return err })
	go loop(func() error { _ = p.sconn.Iface(); return p.sconn.Refresh() })
	for range 20 {
		if err := p.cconn.WriteFrame(f); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(50 * time.Millisecond)
	if err := p.sconn.Close(); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		select {
		case err := <-done:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("an operation did not return after Close")
		}
	}
}
