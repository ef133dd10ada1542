package xdptest

// Harness: a lab (bench.NewLab, prefix "xx") with the server namespace
// (xd0 10.99.0.1/16) and the client namespace (xd1 10.99.0.2/16), a private
// bpffs for the daemon's pins, the daemon started through bench.StartXdhcpd,
// and helpers to read statistics and to put hand-made DHCP frames on the
// wire.

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"golang.org/x/sys/unix"

	"xdhcp/bench"
	"xdhcp/bench/loadgen"
	"xdhcp/fastpath/frame"
	"xdhcp/handoff"
	"xdhcp/internal/daemontest"
	"xdhcp/internal/lab"
)

const (
	labPrefix = "xx"
	serverIf  = "xd0" // bench.NewLab's names
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

func TestMain(m *testing.M) {
	code := m.Run()
	if err := xdhcpd.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "xdptest: remove build directory:", err)
	}
	os.Exit(code)
}

// requireRoot skips t unless it can build namespaces and load XDP programs.
func requireRoot(t testing.TB) {
	t.Helper()
	lab.SkipIfUnavailable(t)
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		t.Skipf("capget: %v", err)
	}
	// CAP_BPF (39) is in the second 32-bit word.
	if data[1].Effective&(1<<(unix.CAP_BPF-32)) == 0 {
		t.Skip("missing CAP_BPF (run as root)")
	}
}

// env is one lab with its scratch directory and private bpffs.
type env struct {
	t      testing.TB
	lab    *bench.Lab
	dir    string
	bpffs  string
	starts int
}

func newEnv(t testing.TB) *env {
	t.Helper()
	requireRoot(t)
	l, err := bench.NewLab(labPrefix, serverAddr, clientAddr)
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("close lab: %v", err)
		}
	})
	return &env{t: t, lab: l, dir: t.TempDir(), bpffs: mountBPFFS(t)}
}

// mountBPFFS mounts a private bpffs in a temporary directory and unmounts
// it in cleanup (which also releases every pin the daemon made there).
func mountBPFFS(t testing.TB) string {
	t.Helper()
	dir, err := daemontest.MountBPFFS(t)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// leasePath is the lease file of configs built by config.
func (e *env) leasePath() string { return filepath.Join(e.dir, "leases4.csv") }

// config is the Dhcp4 document the tests start from: XDP in mode on xd0,
// one /16 subnet, a CSV lease file without LFC, the HTTP control listener
// bench.Server talks to, the DROP class, pins in the private bpffs.
func (e *env) config(mode string) map[string]any {
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
		"xdhcp": map[string]any{"xdp": map[string]any{"mode": mode, "bpffs": e.bpffs}},
	}
}

// daemon is one xdhcpd process.
type daemon struct {
	*bench.Server
	e       *env
	stopped bool // by stop: cleanup must not report the exit as a crash
}

// start writes d4 as the configuration and starts xdhcpd on it; cleanup
// stops it and fails the test if it had crashed.
func (e *env) start(d4 map[string]any) *daemon {
	e.t.Helper()
	e.starts++
	b, err := json.MarshalIndent(map[string]any{"Dhcp4": d4}, "", "  ")
	if err != nil {
		e.t.Fatal(err)
	}
	cfg := filepath.Join(e.dir, fmt.Sprintf("xdhcpd-%d.json", e.starts))
	if err := os.WriteFile(cfg, b, 0o644); err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := bench.StartXdhcpd(ctx, e.lab, bench.ServerOptions{
		Bin: xdhcpd.Path(e.t), Config: cfg, CPU: -1,
		LogPath:      filepath.Join(e.dir, fmt.Sprintf("xdhcpd-%d.log", e.starts)),
		ReadyTimeout: 20 * time.Second,
	})
	if err != nil {
		e.t.Fatalf("start xdhcpd: %v", err)
	}
	d := &daemon{Server: s, e: e}
	e.t.Cleanup(func() {
		if d.stopped {
			return
		}
		if err := d.Stop(); err != nil {
			e.t.Errorf("xdhcpd: %v", err)
		}
		if e.t.Failed() {
			e.t.Logf("xdhcpd log %s:\n%s", s.LogPath, s.LogTail(40))
		}
	})
	return d
}

// stop sends SIGTERM and waits for the exit; a daemon that had crashed is
// an error.
func (d *daemon) stop() {
	d.e.t.Helper()
	d.stopped = true
	if err := d.Stop(); err != nil {
		d.e.t.Fatalf("stop xdhcpd: %v", err)
	}
}

// Try implements daemontest.Commander through bench.Server's control
// client, 10 s per command.
func (d *daemon) Try(command string, args any) (daemontest.Answer, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := d.Command(ctx, command, args)
	return daemontest.Answer(a), err
}

// cmd sends a control command that must succeed and decodes its arguments
// into out (when non-nil).
func (d *daemon) cmd(command string, args any, out any) daemontest.Answer {
	d.e.t.Helper()
	return daemontest.OK(d.e.t, d, command, args, out)
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

// kernelXDPMode reads how the kernel reports the program on xd0:
// 1 = driver (native), 2 = generic (skb).
func (e *env) kernelXDPMode() uint32 {
	e.t.Helper()
	mode, _ := e.xdpProg()
	return mode
}

// wantKernelMode fails t unless the program is attached in mode.
func (e *env) wantKernelMode(mode string) {
	e.t.Helper()
	want := map[string]uint32{"native": 1, "generic": 2}[mode]
	if got := e.kernelXDPMode(); got != want {
		e.t.Fatalf("kernel reports XDP attach mode %d on %s, want %d (%s)", got, serverIf, want, mode)
	}
}

// nclient opens an nclient4 client on xd1 sending with chaddr mac.
func (e *env) nclient(mac net.HardwareAddr) *nclient4.Client {
	e.t.Helper()
	return daemontest.NClient(e.t, e.lab.Client, clientIf, mac)
}

// dora runs a full exchange with c and fails the test on error.
func dora(t testing.TB, c *nclient4.Client, mods ...dhcpv4.Modifier) *nclient4.Lease {
	t.Helper()
	return daemontest.DORA(t, c, mods...)
}

// wire opens a raw AF_PACKET socket on xd1: it sends whole frames and
// receives UDP from port 67 to port 68 for any MAC.
func (e *env) wire() *loadgen.Socket {
	e.t.Helper()
	s, err := e.lab.OpenClientSocket(false)
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
