package xsk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf/link"

	"xdhcp/bpf"
	"xdhcp/fastpath/afpacket"
	"xdhcp/fastpath/frame"
	"xdhcp/handoff"
	"xdhcp/internal/lab"
	"xdhcp/internal/testframe"
	"xdhcp/internal/testlog"
)

// TestOptions: defaults are filled in, and options that cannot work are
// rejected (not capped), each naming its field.
func TestOptions(t *testing.T) {
	o, err := Options{Ifindex: 1}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if o.FrameSize != 2048 || o.NumFrames != 4096 || o.RxSize != 2048 || o.TxSize != 2048 ||
		o.FillSize != 2048 || o.CompSize != 2048 || o.DisableNeedWakeup {
		t.Errorf("defaults = %+v", o)
	}
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"no ifindex", Options{}, "Ifindex 0"},
		{"negative queue", Options{Ifindex: 1, Queue: -1}, "Queue -1"},
		{"frame not a power of two", Options{Ifindex: 1, FrameSize: 3000}, "FrameSize 3000"},
		{"frame below the kernel minimum", Options{Ifindex: 1, FrameSize: 1024}, "FrameSize 1024"},
		{"frame above the page", Options{Ifindex: 1, FrameSize: 8192}, "FrameSize 8192"},
		{"one frame", Options{Ifindex: 1, NumFrames: 1}, "NumFrames 1"},
		{"rx not a power of two", Options{Ifindex: 1, RxSize: 1000}, "RxSize 1000"},
		{"tx negative", Options{Ifindex: 1, TxSize: -2}, "TxSize -2"},
		{"comp too big", Options{Ifindex: 1, CompSize: 1 << 21}, "CompSize 2097152"},
		// More frames than twice the fill ring: Open could not put half
		// of them in it.
		{"fill too small", Options{Ifindex: 1, FillSize: 1024}, "FillSize 1024 cannot hold half"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.o.withDefaults()
			if !errors.Is(err, ErrBadOption) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want ErrBadOption mentioning %q", err, tc.want)
			}
			if _, err := Open(tc.o); !errors.Is(err, ErrBadOption) {
				t.Errorf("Open: err = %v, want ErrBadOption", err)
			}
		})
	}
	// All errors at once, not just the first.
	_, err = Options{Queue: -1, RxSize: 3}.withDefaults()
	for _, want := range []string{"Ifindex", "Queue", "RxSize"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("joined error %v does not mention %s", err, want)
		}
	}
}

var (
	srvAddr = netip.MustParsePrefix("10.78.0.1/24")
	cliAddr = netip.MustParsePrefix("10.78.0.2/24")
)

// env is a server namespace with the XDP program attached to its end of a
// veth, and a client namespace with an AF_PACKET socket on the other end.
type env struct {
	srv, cli       *lab.NS
	srvIdx, cliIdx int
	srvMAC, cliMAC [6]byte
	objs           *bpf.Objects
	cconn          *afpacket.Conn
}

func newEnv(t testing.TB, mode bpf.Mode) *env {
	t.Helper()
	lab.SkipWithoutBPF(t)
	_, p := lab.PairForTest(t, "xk", "xk-s", srvAddr, "xk-c", cliAddr)
	e := &env{srv: p.Server, cli: p.Client, srvIdx: p.ServerIndex, cliIdx: p.ClientIndex, srvMAC: p.ServerMAC}
	var err error
	if e.objs, err = bpf.Load(bpf.Options{Logger: testlog.New(t)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.objs.Close() })
	var lk link.Link
	if err := e.srv.Do(func() (err error) {
		lk, err = e.objs.Attach(e.srvIdx, mode)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lk.Close() })

	e.cconn = lab.OpenForTest(t, e.cli, func() (*afpacket.Conn, error) {
		return afpacket.Open("xk-c", afpacket.Options{Logger: testlog.New(t)})
	})
	e.cliMAC = e.cconn.Iface().MAC
	return e
}

// open opens a socket on queue 0 of the server's veth end and registers it
// with the XDP program; it is closed in cleanup.
func (e *env) open(t testing.TB, opts Options) *Socket {
	t.Helper()
	opts.Ifindex, opts.Queue = e.srvIdx, 0
	if opts.Logger == nil {
		opts.Logger = testlog.New(t)
	}
	s := lab.OpenForTest(t, e.srv, func() (*Socket, error) { return Open(opts) })
	if err := e.objs.RegisterXSK(0, s.FD()); err != nil {
		t.Fatal(err)
	}
	return s
}

// discover is a minimal DHCPDISCOVER payload with xid.
func discover(mac [6]byte, xid uint32) []byte { return testframe.Discover(mac, xid, 300) }

// clientFrames builds n broadcast DISCOVER frames from the client, xids
// base..base+n-1.
func (e *env) clientFrames(t testing.TB, base uint32, n int) [][]byte {
	t.Helper()
	out := make([][]byte, n)
	for i := range n {
		f, err := testframe.Broadcast(e.cliMAC, 67, discover(e.cliMAC, base+uint32(i)))
		if err != nil {
			t.Fatal(err)
		}
		out[i] = f
	}
	return out
}

// receive collects want packets from s (copies), releasing each frame, or
// fails after timeout.
func receive(t testing.TB, s *Socket, want int, timeout time.Duration) [][]byte {
	t.Helper()
	var got [][]byte
	descs := make([]Desc, 64)
	deadline := time.Now().Add(timeout)
	for len(got) < want {
		if time.Now().After(deadline) {
			t.Fatalf("received %d packets in %v, want %d", len(got), timeout, want)
		}
		if _, err := s.Poll(50 * time.Millisecond); err != nil {
			t.Fatal(err)
		}
		n := s.Receive(descs)
		for _, d := range descs[:n] {
			got = append(got, bytes.Clone(s.Frame(d)))
			if err := s.Release(d.Addr); err != nil {
				t.Fatal(err)
			}
		}
	}
	return got
}

func TestNetNS(t *testing.T) {
	for _, mode := range []bpf.Mode{bpf.ModeNative, bpf.ModeGeneric} {
		t.Run(mode.String(), func(t *testing.T) {
			testNetNS(t, mode)
		})
	}
}

func testNetNS(t *testing.T, mode bpf.Mode) {
	e := newEnv(t, mode)
	// Zero copy asked for on veth: granted copy mode, and said so.
	var logBuf testlog.Buffer
	s := e.open(t, Options{ZeroCopy: true, Logger: slog.New(slog.NewTextHandler(&logBuf, nil))})
	if s.Mode() != ModeCopy {
		t.Errorf("Mode() = %q on veth, want %q", s.Mode(), ModeCopy)
	}
	if !strings.Contains(logBuf.String(), "falling back to copy mode") {
		t.Errorf("no fallback message in the log:\n%s", logBuf.String())
	}
	if got := s.FreeFrames(); got != s.NumFrames()/2 {
		t.Errorf("free frames after Open = %d, want %d (half in the fill ring)", got, s.NumFrames()/2)
	}

	// A UDP socket on port 9999 in the server namespace: traffic to it
	// must reach the stack (XDP_PASS), not the AF_XDP socket.
	var pc net.PacketConn
	if err := e.srv.Do(func() (err error) {
		pc, err = net.ListenPacket("udp4", ":9999")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	other := handoff.Meta{SrcMAC: e.cliMAC, DstMAC: e.srvMAC, SrcIP: cliAddr.Addr().As4(), DstIP: srvAddr.Addr().As4(),
		SrcPort: 40000, DstPort: 9999}
	obuf := make([]byte, 1514)
	on, err := frame.Build(obuf, &other, []byte("not dhcp"))
	if err != nil {
		t.Fatal(err)
	}

	const nDisc = 64
	frames := e.clientFrames(t, 0x1000, nDisc)
	if err := e.cconn.WriteFrame(obuf[:on]); err != nil {
		t.Fatal(err)
	}
	if n, err := e.cconn.WriteBatch(frames); err != nil || n != nDisc {
		t.Fatalf("WriteBatch = %d, %v", n, err)
	}
	got := receive(t, s, nDisc, 5*time.Second)
	xids := map[uint32]bool{}
	for i, f := range got {
		var m handoff.Meta
		p, err := frame.Parse(f, &m)
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if m.DstPort != 67 || m.SrcMAC != e.cliMAC || len(p) != 300 {
			t.Fatalf("packet %d: %+v, payload %d bytes", i, m, len(p))
		}
		xid := binary.BigEndian.Uint32(p[4:])
		if want := discover(e.cliMAC, xid); !bytes.Equal(p, want) {
			t.Fatalf("packet %d (xid %#x): payload differs from what was sent", i, xid)
		}
		xids[xid] = true
	}
	if len(xids) != nDisc {
		t.Errorf("%d distinct xids among %d packets", len(xids), nDisc)
	}
	pc.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 100)
	n, _, err := pc.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "not dhcp" {
		t.Errorf("UDP port 9999 socket: %q, %v; want the non-DHCP packet passed to the stack", buf[:n], err)
	}
	// Nothing else arrives on the AF_XDP socket.
	time.Sleep(100 * time.Millisecond)
	if extra := s.Receive(make([]Desc, 8)); extra != 0 {
		t.Errorf("%d more packets on the AF_XDP socket, want none", extra)
	}
	c, err := e.objs.Counters()
	if err != nil {
		t.Fatal(err)
	}
	if c.Redirected != nDisc || c.NotDHCP == 0 {
		t.Errorf("xdp counters %+v: want %d redirected and the UDP packet passed", c, nDisc)
	}

	testTransmit(t, e, s)

	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.RxInvalidDescs != 0 || st.TxInvalidDescs != 0 || st.OwnershipErrors != 0 {
		t.Errorf("invalid descriptors: %+v", st)
	}
	if st.Rx != nDisc {
		t.Errorf("Rx = %d, want %d", st.Rx, nDisc)
	}

	// Ownership is enforced: a frame released twice, a frame never
	// taken, and a descriptor past the end of its frame are refused.
	addr, _, ok := s.GetTxFrame()
	if !ok {
		t.Fatal("no free frame")
	}
	if _, err := s.Transmit([]Desc{{Addr: addr, Len: uint32(s.FrameSize()) + 1}}); !errors.Is(err, ErrBadDesc) {
		t.Errorf("Transmit past the frame: %v, want ErrBadDesc", err)
	}
	if _, err := s.Transmit([]Desc{{Addr: addr, Len: 60}, {Addr: addr, Len: 60}}); !errors.Is(err, ErrNotOwned) {
		t.Errorf("Transmit of one frame twice: %v, want ErrNotOwned", err)
	}
	if err := s.Release(addr); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(addr); !errors.Is(err, ErrNotOwned) {
		t.Errorf("second Release: %v, want ErrNotOwned", err)
	}
	if _, err := s.Transmit([]Desc{{Addr: addr, Len: 60}}); !errors.Is(err, ErrNotOwned) {
		t.Errorf("Transmit of a free frame: %v, want ErrNotOwned", err)
	}

	// Close is idempotent and makes the socket inert.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := s.Stats(); !errors.Is(err, ErrClosed) {
		t.Errorf("Stats after Close: %v", err)
	}
	if _, err := s.Transmit(nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Transmit after Close: %v", err)
	}
	if n := s.Receive(make([]Desc, 1)); n != 0 {
		t.Errorf("Receive after Close = %d", n)
	}
	if _, err := s.Poll(0); !errors.Is(err, ErrClosed) {
		t.Errorf("Poll after Close: %v", err)
	}

	// Reopen on the same queue: the old socket left the XSKMAP when it
	// closed, and the new one receives and sends, this time without
	// need-wakeup (every kick is a syscall).
	s2 := e.open(t, Options{DisableNeedWakeup: true})
	if err := e.cconn.WriteFrame(e.clientFrames(t, 0x2000, 1)[0]); err != nil {
		t.Fatal(err)
	}
	f := receive(t, s2, 1, 5*time.Second)[0]
	var m handoff.Meta
	if p, err := frame.Parse(f, &m); err != nil || binary.BigEndian.Uint32(p[4:]) != 0x2000 {
		t.Errorf("after reopen: %v, %x", err, f)
	}
	testTransmit(t, e, s2)
}

// testTransmit sends 1000 replies (relay-style, unicast to the client's
// address, UDP port 67) in one Transmit and checks that the client receives
// every one: with copy mode's 32 descriptors per kick, this takes the kick
// loop through dozens of rounds.
func testTransmit(t *testing.T, e *env, s *Socket) {
	const nTx = 1000
	m := handoff.Meta{SrcMAC: e.srvMAC, DstMAC: e.cliMAC, SrcIP: srvAddr.Addr().As4(), DstIP: cliAddr.Addr().As4(),
		SrcPort: 67, DstPort: 67}
	payload := discover(e.cliMAC, 0)
	payload[0] = 2 // BOOTREPLY
	descs := make([]Desc, nTx)
	for i := range nTx {
		addr, buf, ok := s.GetTxFrame()
		if !ok {
			t.Fatalf("no free frame for reply %d", i)
		}
		binary.BigEndian.PutUint32(payload[4:], uint32(i))
		n, err := frame.Build(buf, &m, payload)
		if err != nil {
			t.Fatal(err)
		}
		descs[i] = Desc{Addr: addr, Len: uint32(n)}
	}

	// The client reads until it has them all or the deadline closes the
	// reader's way out.
	type result struct {
		seen map[uint32]bool
		err  error
	}
	done := make(chan result, 1)
	stop := make(chan struct{})
	go func() {
		seen := map[uint32]bool{}
		bufs := make([][]byte, 64)
		for i := range bufs {
			bufs[i] = make([]byte, 2048)
		}
		lens := make([]int, 64)
		for len(seen) < nTx {
			n, err := e.cconn.ReadBatch(bufs, lens)
			if err != nil {
				select {
				case <-stop:
					err = nil // the deadline closed the socket
				default:
				}
				done <- result{seen, err}
				return
			}
			for i := range n {
				var m handoff.Meta
				p, err := frame.Parse(bufs[i][:lens[i]], &m)
				if err != nil || len(p) < 8 || p[0] != 2 || m.SrcMAC != e.srvMAC {
					continue
				}
				seen[binary.BigEndian.Uint32(p[4:])] = true
			}
		}
		done <- result{seen, nil}
	}()

	before, _ := s.Stats()
	n, err := s.Transmit(descs)
	if err != nil || n != nTx {
		t.Fatalf("Transmit = %d, %v; want %d", n, err, nTx)
	}
	var r result
	select {
	case r = <-done:
	case <-time.After(5 * time.Second):
		close(stop)
		e.cconn.Close()
		r = <-done
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	if len(r.seen) != nTx {
		st, _ := s.Stats()
		t.Fatalf("client received %d of %d replies (stats %+v)", len(r.seen), nTx, st)
	}
	after, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if got := after.Tx - before.Tx; got != nTx {
		t.Errorf("Tx counted %d, want %d", got, nTx)
	}
	if kicks := after.TxKicks - before.TxKicks; kicks < nTx/copyTxBudget {
		t.Errorf("%d kicks for %d descriptors in copy mode, want at least %d", kicks, nTx, nTx/copyTxBudget)
	}
	t.Logf("1000 replies: %d kicks, %d retries, %d stalls", after.TxKicks-before.TxKicks,
		after.TxRetries-before.TxRetries, after.TxStalls-before.TxStalls)

	// Every frame comes back: the completions return the TX frames to the
	// free list, and the fill ring holds the other half.
	deadline := time.Now().Add(2 * time.Second)
	for s.FreeFrames() != s.NumFrames()/2 {
		if time.Now().After(deadline) {
			t.Fatalf("free frames = %d after the replies completed, want %d", s.FreeFrames(), s.NumFrames()/2)
		}
		if _, err := s.Transmit(nil); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if after.TxCompleted < nTx {
		if st, _ := s.Stats(); st.TxCompleted-before.TxCompleted != nTx {
			t.Errorf("TxCompleted grew by %d, want %d", st.TxCompleted-before.TxCompleted, nTx)
		}
	}
}

// TestAllocs: the per-packet methods do not allocate, with packets flowing
// through them (a reply is sent in place of each request and from a fresh
// TX frame).
func TestAllocs(t *testing.T) {
	e := newEnv(t, bpf.ModeGeneric)
	s := e.open(t, Options{})
	const runs = 50
	if _, err := e.cconn.WriteBatch(e.clientFrames(t, 0, runs+10)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		c, err := e.objs.Counters()
		if err != nil {
			t.Fatal(err)
		}
		if c.Redirected >= runs+10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d frames redirected", c.Redirected)
		}
		time.Sleep(10 * time.Millisecond)
	}
	template := e.clientFrames(t, 0, 1)[0]
	descs := make([]Desc, 1)
	tx := make([]Desc, 1)
	received := 0
	allocs := testing.AllocsPerRun(runs, func() {
		n := s.Receive(descs)
		for _, d := range descs[:n] {
			if f := s.Frame(d); len(f) == 0 {
				t.Fatal("empty frame")
			}
		}
		received += n
		if _, err := s.Transmit(descs[:n]); err != nil {
			t.Fatal(err)
		}
		addr, buf, ok := s.GetTxFrame()
		if !ok {
			t.Fatal("no free frame")
		}
		tx[0] = Desc{Addr: addr, Len: uint32(copy(buf, template))}
		if _, err := s.Transmit(tx); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per Receive+Frame+GetTxFrame+Transmit, want 0", allocs)
	}
	if received < runs {
		t.Errorf("only %d packets went through the measured calls, want >= %d", received, runs)
	}
}

// BenchmarkReceiveTransmit: a second AF_XDP socket in the client namespace
// sends batches of 32 DISCOVERs; the server socket receives them and sends
// each back in place, as the fast path answers a renewal.
func BenchmarkReceiveTransmit(b *testing.B) {
	e := newEnv(b, bpf.ModeNative)
	s := e.open(b, Options{})
	var gen *Socket
	if err := e.cli.Do(func() (err error) {
		gen, err = Open(Options{Ifindex: e.cliIdx})
		return err
	}); err != nil {
		b.Fatal(err)
	}
	defer gen.Close()
	template := e.clientFrames(b, 0, 1)[0]
	const batch = 32
	out := make([]Desc, batch)
	in := make([]Desc, batch)
	lost := 0
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for i := range out {
			addr, buf, ok := gen.GetTxFrame()
			if !ok {
				b.Fatal("generator out of frames")
			}
			out[i] = Desc{Addr: addr, Len: uint32(copy(buf, template))}
		}
		if _, err := gen.Transmit(out); err != nil {
			b.Fatal(err)
		}
		for got := 0; got < batch; {
			ready, err := s.Poll(20 * time.Millisecond)
			if err != nil {
				b.Fatal(err)
			}
			if !ready {
				lost += batch - got
				break
			}
			n := s.Receive(in[:batch-got])
			got += n
			if _, err := s.Transmit(in[:n]); err != nil {
				b.Fatal(err)
			}
		}
		// The replies land on the generator's side, in its stack.
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/packet")
	b.ReportMetric(float64(lost)/float64(b.N*batch), "lost/packet")
}
