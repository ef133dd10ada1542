package xdptest

// Harness: a lab (prefix "xx") with the server namespace (xd0 10.99.0.1/16)
// and the client namespace (xd1 10.99.0.2/16), a private bpffs for the
// daemon's pins, the daemon run by daemontest, and helpers to read
// statistics and to put hand-made DHCP frames on the wire.

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"

	"xdhcp/bench/loadgen"
	"xdhcp/fastpath/frame"
	"xdhcp/handoff"
	"xdhcp/internal/daemontest"
	"xdhcp/internal/lab"
)

const (
	labPrefix = "xx"
	serverIf  = "xd0"
	clientIf  = "xd1"
	subnetStr = "10.99.0.0/16"
	poolStr   = "10.99.1.0 - 10.99.255.250"
)

var (
	serverAddr = netip.MustParsePrefix("10.99.0.1/16")
	clientAddr = netip.MustParsePrefix("10.99.0.2/16")
	broadcast  = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
)

// modes are the XDP attach modes every daemon test runs in.
var modes = []string{"native", "generic"}

// xdhcpd is the daemon under test: $XDHCP_BIN/xdhcpd, else one built once
// into a temporary directory that TestMain removes.
var xdhcpd = daemontest.NewBinary("xx-bin-")

func TestMain(m *testing.M) { os.Exit(xdhcpd.RunTests(m)) }

// env is one lab with its scratch directory and private bpffs.
type env struct {
	t      testing.TB
	pair   *lab.Pair
	mode   string // XDP attach mode of config; "" for tests without a daemon
	dir    string
	bpffs  string
	starts int
}

// newEnv builds a lab for a daemon in XDP mode, skipping t unless it can
// build namespaces and load XDP programs.
func newEnv(t testing.TB, mode string) *env {
	t.Helper()
	lab.SkipWithoutBPF(t)
	_, p := lab.PairForTest(t, labPrefix, serverIf, serverAddr, clientIf, clientAddr)
	bpffs, err := lab.MountBPFFS(t)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, pair: p, mode: mode, dir: t.TempDir(), bpffs: bpffs}
}

// forModes runs fn as a subtest per XDP attach mode, each in its own lab.
func forModes(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) { fn(t, newEnv(t, mode)) })
	}
}

// leasePath is the lease file of configs built by config.
func (e *env) leasePath() string { return filepath.Join(e.dir, "leases4.csv") }

// config is the Dhcp4 document the tests start from: XDP in e.mode on
// xd0, one /16 subnet, a CSV lease file without LFC, the HTTP control
// listener daemontest talks to, the DROP class, pins in the private bpffs.
func (e *env) config() map[string]any {
	return map[string]any{
		"interfaces-config": map[string]any{"interfaces": []any{serverIf}},
		"lease-database": map[string]any{
			"type": "memfile", "persist": true, "lfc-interval": 0, "name": e.leasePath(),
		},
		"valid-lifetime": 3600,
		"renew-timer":    900,
		"rebind-timer":   1800,
		"control-sockets": []any{map[string]any{
			"socket-type": "http", "socket-address": "127.0.0.1", "socket-port": 8000,
		}},
		"client-classes": []any{map[string]any{"name": "DROP"}},
		"subnet4": []any{map[string]any{
			"id":          1,
			"subnet":      subnetStr,
			"pools":       []any{map[string]any{"pool": poolStr}},
			"option-data": []any{map[string]any{"name": "routers", "data": serverAddr.Addr().String()}},
		}},
		"loggers": []any{map[string]any{
			"name": "kea-dhcp4", "severity": "INFO",
			"output_options": []any{map[string]any{"output": "stderr"}},
		}},
		"xdhcp": map[string]any{"xdp": map[string]any{"mode": e.mode, "bpffs": e.bpffs}, daemontest.InsecureControlKey: true},
	}
}

// daemon is one xdhcpd process.
type daemon struct {
	*daemontest.Daemon
	e *env
}

// quiet is for a daemon that logs above INFO and so never says it serves:
// it is ready when its control channel answers.
func quiet(o *daemontest.Options) { o.ReadyOnControl = true }

// start writes d4 as the configuration and starts xdhcpd on it, with opts
// applied to the harness's options; cleanup stops it and fails the test if
// it had crashed.
func (e *env) start(d4 map[string]any, opts ...func(*daemontest.Options)) *daemon {
	e.t.Helper()
	e.starts++
	o := daemontest.Options{
		NS:     e.pair.Server,
		Binary: xdhcpd.Path(e.t),
		Config: daemontest.WriteConfig(e.t, filepath.Join(e.dir, fmt.Sprintf("xdhcpd-%d.json", e.starts)),
			map[string]any{"Dhcp4": d4}),
		Log:            filepath.Join(e.dir, fmt.Sprintf("xdhcpd-%d.log", e.starts)),
		CommandTimeout: 10 * time.Second,
		ReadyTimeout:   20 * time.Second,
		StopAtEnd:      true,
	}
	for _, opt := range opts {
		opt(&o)
	}
	return &daemon{Daemon: daemontest.Start(e.t, o), e: e}
}

// serve starts xdhcpd on d4 and fails the test unless the kernel reports
// the program attached in e.mode.
func (e *env) serve(d4 map[string]any, opts ...func(*daemontest.Options)) *daemon {
	e.t.Helper()
	d := e.start(d4, opts...)
	e.wantKernelMode()
	return d
}

// stop sends SIGTERM and waits for a clean exit; a daemon that had crashed
// is an error.
func (d *daemon) stop() {
	d.e.t.Helper()
	if err := d.Stop(); err != nil {
		d.e.t.Fatalf("stop xdhcpd: %v", err)
	}
}

// cmd sends a control command that must succeed and decodes its arguments
// into out (when non-nil).
func (d *daemon) cmd(command string, args any, out any) daemontest.Answer {
	d.e.t.Helper()
	return daemontest.OK(d.e.t, d, command, args, out)
}

// dropList returns xdhcp-drop-list: the hardware addresses and client-ids
// XDP drops.
func (d *daemon) dropList() (hw, cid []string) {
	d.e.t.Helper()
	var list struct {
		HW  []string `json:"hw-addresses"`
		CID []string `json:"client-ids"`
	}
	d.cmd("xdhcp-drop-list", nil, &list)
	return list.HW, list.CID
}

// stats returns the newest sample of every statistic (statistic-get-all).
func (d *daemon) stats() map[string]int64 {
	d.e.t.Helper()
	return daemontest.Stats(d.e.t, d)
}

// stat returns one statistic, failing the test when the daemon does not
// have it (a renamed statistic must not make a test pass vacuously).
func (d *daemon) stat(name string) int64 {
	d.e.t.Helper()
	st := d.stats()
	v, ok := st[name]
	if !ok {
		d.e.t.Fatalf("statistic %s missing", name)
	}
	return v
}

// waitStat polls until cond holds for the statistic or timeout passes, and
// returns its last value.
func (d *daemon) waitStat(name string, timeout time.Duration, cond func(int64) bool) (int64, bool) {
	d.e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		v := d.stat(name)
		if cond(v) {
			return v, true
		}
		if time.Now().After(deadline) {
			return v, false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// wantDeltas fails t for every statistic that did not grow by its wanted
// amount from before to after.
func wantDeltas(t testing.TB, before, after map[string]int64, want map[string]int64) {
	t.Helper()
	for name, w := range want {
		if got := delta(t, before, after, name); got != w {
			t.Errorf("%s grew by %d, want %d", name, got, w)
		}
	}
}

// delta is after[name] - before[name], failing on a missing statistic.
func delta(t testing.TB, before, after map[string]int64, name string) int64 {
	t.Helper()
	a, ok1 := after[name]
	b, ok2 := before[name]
	if !ok1 || !ok2 {
		t.Fatalf("statistic %s missing", name)
	}
	return a - b
}

// xdpProg returns the kernel's attach mode and program id on xd0:
// mode 1 = driver (native), 2 = generic (skb), 0 = no program.
func (e *env) xdpProg() (mode uint32, id uint32) {
	e.t.Helper()
	l, err := e.pair.Server.Link(serverIf)
	if err != nil {
		e.t.Fatal(err)
	}
	if x := l.Attrs().Xdp; x != nil && x.Attached {
		return uint32(x.AttachMode), x.ProgId
	}
	return 0, 0
}

// kernelXDPMode reads how the kernel reports the program on xd0.
func (e *env) kernelXDPMode() uint32 {
	e.t.Helper()
	mode, _ := e.xdpProg()
	return mode
}

// wantKernelMode fails t unless the program is attached in e.mode.
func (e *env) wantKernelMode() {
	e.t.Helper()
	want := map[string]uint32{"native": 1, "generic": 2}[e.mode]
	if got := e.kernelXDPMode(); got != want {
		e.t.Fatalf("kernel reports XDP attach mode %d on %s, want %d (%s)", got, serverIf, want, e.mode)
	}
}

// nclient opens an nclient4 client on xd1 sending with chaddr mac.
func (e *env) nclient(mac net.HardwareAddr) *nclient4.Client {
	e.t.Helper()
	return daemontest.NClient(e.t, e.pair.Client, clientIf, mac)
}

// dora runs a full exchange with c and fails the test on error.
func dora(t testing.TB, c *nclient4.Client, mods ...dhcpv4.Modifier) *nclient4.Lease {
	t.Helper()
	return daemontest.DORA(t, c, mods...)
}

// wire opens a raw AF_PACKET socket on xd1: it sends whole frames and
// receives UDP from port 67 to port 68 for any MAC.
func (e *env) wire() *loadgen.Socket { return e.clientSocket(false) }

// clientSocket opens a load generator's socket on xd1, listening on port
// 67 as a relay does when relay is set; cleanup closes it.
func (e *env) clientSocket(relay bool) *loadgen.Socket {
	e.t.Helper()
	var opts loadgen.SocketOptions
	if relay {
		opts.ListenPort = 67
	}
	var s *loadgen.Socket
	err := e.pair.Client.Do(func() error {
		var err error
		s, err = loadgen.OpenSocket(clientIf, opts)
		return err
	})
	if err != nil {
		e.t.Fatalf("client socket: %v", err)
	}
	e.t.Cleanup(func() { s.Close() })
	return s
}

// testMAC is a locally administered MAC for test clients: 02:78:78:kind:n.
func testMAC(kind byte, n int) net.HardwareAddr {
	return net.HardwareAddr{0x02, 0x78, 0x78, kind, byte(n >> 8), byte(n)}
}

// discover is a DISCOVER from mac with optional extra options.
func discover(t testing.TB, mac net.HardwareAddr, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	t.Helper()
	m, err := dhcpv4.NewDiscovery(mac, mods...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// ethFrame wraps msg into Ethernet/IPv4/UDP 68→67: broadcast from 0.0.0.0,
// or, for a message with ciaddr set (a renewal), unicast from ciaddr to the
// server's address and MAC.
func ethFrame(t testing.TB, msg *dhcpv4.DHCPv4, serverMAC [6]byte) []byte {
	t.Helper()
	m := handoff.Meta{DstMAC: broadcast, DstIP: [4]byte{255, 255, 255, 255}, SrcPort: 68, DstPort: 67}
	copy(m.SrcMAC[:], msg.ClientHWAddr)
	if ci := msg.ClientIPAddr.To4(); ci != nil && !ci.IsUnspecified() {
		m.SrcIP = [4]byte(ci)
		m.DstMAC = serverMAC
		m.DstIP = serverAddr.Addr().As4()
	}
	buf := make([]byte, 1600)
	n, err := frame.Build(buf, &m, msg.ToBytes())
	if err != nil {
		t.Fatalf("build frame: %v", err)
	}
	return buf[:n]
}

// discoverFrame is a broadcast DISCOVER frame from mac with optional
// extra options.
func (e *env) discoverFrame(mac net.HardwareAddr, mods ...dhcpv4.Modifier) []byte {
	e.t.Helper()
	return ethFrame(e.t, discover(e.t, mac, mods...), e.pair.ServerMAC)
}

// stream sends frames, all in one batch, every interval until stop, in
// the background: a batch the kernel takes whole counts as sent, one it
// refuses as refused, one it takes in part as partial.
type stream struct {
	sent, refused, partial atomic.Int64
	stop                   func()
}

func startStream(s *loadgen.Socket, every time.Duration, frames [][]byte) *stream {
	st := &stream{}
	st.stop = tick(every, func() {
		n, err := s.WriteBatch(frames)
		if n == len(frames) && err == nil {
			st.sent.Add(1)
			return
		}
		st.refused.Add(1)
		if n > 0 && n < len(frames) {
			st.partial.Add(1)
		}
	})
	return st
}

// tick runs fn every interval in the background until the returned stop
// is called; stop returns once fn no longer runs.
func tick(every time.Duration, fn func()) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tk := time.NewTicker(every)
		defer tk.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tk.C:
				fn()
			}
		}
	}()
	return func() {
		close(quit)
		<-done
	}
}

// send puts frames on the wire, failing on any the kernel refuses.
func send(t testing.TB, s *loadgen.Socket, frames ...[]byte) {
	t.Helper()
	n, err := s.WriteBatch(frames)
	if err != nil || n != len(frames) {
		t.Fatalf("send %d frames: sent %d: %v", len(frames), n, err)
	}
}

// replyCounter reads the wire socket in the background and counts DHCP
// replies per chaddr and message type.
type replyCounter struct {
	mu     sync.Mutex
	counts map[string]int // key: mac + "/" + message type
	stop   chan struct{}
	done   chan struct{}
}

func countReplies(s *loadgen.Socket) *replyCounter {
	rc := &replyCounter{counts: map[string]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(rc.done)
		bufs := make([][]byte, 32)
		lens := make([]int, 32)
		for i := range bufs {
			bufs[i] = make([]byte, 2048)
		}
		for {
			select {
			case <-rc.stop:
				return
			default:
			}
			n, err := s.ReadBatch(bufs, lens)
			if err != nil {
				return
			}
			for i := range n {
				var m handoff.Meta
				p, err := frame.Parse(bufs[i][:lens[i]], &m)
				if err != nil {
					continue
				}
				d, err := dhcpv4.FromBytes(p)
				if err != nil {
					continue
				}
				rc.mu.Lock()
				rc.counts[d.ClientHWAddr.String()+"/"+d.MessageType().String()]++
				rc.mu.Unlock()
			}
		}
	}()
	return rc
}

// get returns the replies of type typ seen for mac.
func (rc *replyCounter) get(mac net.HardwareAddr, typ dhcpv4.MessageType) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.counts[mac.String()+"/"+typ.String()]
}

// close stops the reader (it returns within the socket's read timeout).
func (rc *replyCounter) close() {
	close(rc.stop)
	<-rc.done
}
