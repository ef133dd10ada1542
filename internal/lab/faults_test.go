package lab

import (
	"bufio"
	"context"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

const faultPort = 7000

// faultLab is two namespaces joined by a veth, each with a TCP echo
// server on faultPort.
func faultLab(t *testing.T) (a, b *NS, aIP, bIP netip.Addr) {
	t.Helper()
	l := ForTest(t, "xft")
	var err error
	if a, err = l.NS("a"); err != nil {
		t.Fatal(err)
	}
	if b, err = l.NS("b"); err != nil {
		t.Fatal(err)
	}
	aIP, bIP = netip.MustParseAddr("10.97.0.1"), netip.MustParseAddr("10.97.0.2")
	if err := l.Veth(a, "ft0", netip.PrefixFrom(aIP, 24), b, "ft1", netip.PrefixFrom(bIP, 24)); err != nil {
		t.Fatal(err)
	}
	for _, x := range []struct {
		ns *NS
		ip netip.Addr
	}{{a, aIP}, {b, bIP}} {
		ln := OpenForTest(t, x.ns, func() (net.Listener, error) {
			return net.Listen("tcp4", netip.AddrPortFrom(x.ip, faultPort).String())
		})
		go echo(ln)
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skipf("nft not installed (make deps installs nftables): %v", err)
	}
	return a, b, aIP, bIP
}

func echo(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			r := bufio.NewReader(c)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if _, err := c.Write([]byte(line)); err != nil {
					return
				}
			}
		}()
	}
}

// dial opens a TCP connection from ns to addr:faultPort within timeout.
func dial(ns *NS, addr netip.Addr, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	err := ns.Do(func() (err error) {
		d := net.Dialer{Timeout: timeout}
		c, err = d.Dial("tcp4", netip.AddrPortFrom(addr, faultPort).String())
		return err
	})
	return c, err
}

// roundTrip sends one line over c and reads it back within timeout.
func roundTrip(c net.Conn, timeout time.Duration) error {
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return err
	}
	_, err := bufio.NewReader(c).ReadString('\n')
	return err
}

// reaches reports whether a fresh connection from ns to addr echoes a line.
func reaches(ns *NS, addr netip.Addr) bool {
	c, err := dial(ns, addr, 400*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	return roundTrip(c, 400*time.Millisecond) == nil
}

// reachesWant is reaches, retried for up to 3 s when a connection is
// expected: on a loaded machine the lab's first exchange can take longer
// than one attempt's timeout, which must not read as a cut.
func reachesWant(ns *NS, addr netip.Addr, want bool) bool {
	deadline := time.Now().Add(3 * time.Second)
	for {
		got := reaches(ns, addr)
		if got || !want || time.Now().After(deadline) {
			return got
		}
	}
}

func TestFaultCuts(t *testing.T) {
	a, b, aIP, bIP := faultLab(t)
	check := func(what string, ab, ba bool) {
		t.Helper()
		if got := reachesWant(a, bIP, ab); got != ab {
			t.Errorf("%s: a reaches b = %v, want %v", what, got, ab)
		}
		if got := reachesWant(b, aIP, ba); got != ba {
			t.Errorf("%s: b reaches a = %v, want %v", what, got, ba)
		}
	}
	check("no fault", true, true)
	if err := a.ClearFaults(); err != nil {
		t.Fatalf("clear without a fault: %v", err)
	}
	// An established connection is blackholed too, not only new ones.
	est, err := dial(a, bIP, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer est.Close()
	if err := roundTrip(est, time.Second); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		dir    Direction
		ab, ba bool
	}{{ToPeer, false, true}, {FromPeer, true, false}, {Both, false, false}} {
		f := Fault{Peer: bIP, Port: faultPort, Dir: c.dir}
		if err := a.InjectFault(f); err != nil {
			t.Fatal(err)
		}
		check(f.String(), c.ab, c.ba)
		if c.dir == ToPeer {
			if err := roundTrip(est, 500*time.Millisecond); err == nil {
				t.Errorf("%s: the established connection still answers", f)
			}
		}
	}
	if err := a.ClearFaults(); err != nil {
		t.Fatal(err)
	}
	check("cleared", true, true)
}

func TestFaultLoss(t *testing.T) {
	a, _, _, bIP := faultLab(t)
	if err := a.InjectFault(Fault{Peer: bIP, Port: faultPort, Dir: ToPeer, LossPercent: 50}); err != nil {
		t.Fatal(err)
	}
	// A SYN lost is retransmitted only after a second: a dial within
	// 200 ms succeeds as often as its first SYN passes.
	ok := 0
	const tries = 24
	for range tries {
		if c, err := dial(a, bIP, 200*time.Millisecond); err == nil {
			ok++
			c.Close()
		}
	}
	t.Logf("50%% loss: %d of %d connections opened at the first SYN", ok, tries)
	if ok < 3 || ok > tries-3 {
		t.Errorf("50%% loss: %d of %d connections opened, want about half", ok, tries)
	}
}

func TestFaultFlap(t *testing.T) {
	a, _, _, bIP := faultLab(t)
	fl, err := a.Flap(Fault{Peer: bIP, Port: faultPort, Dir: Both}, 400*time.Millisecond, 400*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[bool]int{}
	end := time.Now().Add(2500 * time.Millisecond)
	for time.Now().Before(end) {
		seen[reaches(a, bIP)]++
		time.Sleep(50 * time.Millisecond)
	}
	cycles, err := fl.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if seen[true] == 0 || seen[false] == 0 || cycles < 2 {
		t.Errorf("flapping: %d connections worked, %d failed, %d down periods; want both and ≥ 2 periods", seen[true], seen[false], cycles)
	}
	if !reachesWant(a, bIP, true) {
		t.Error("after Stop the link is still cut")
	}
}

func TestFaultInvalid(t *testing.T) {
	for _, f := range []Fault{
		{Peer: netip.MustParseAddr("::1"), Port: 1, Dir: Both},
		{Peer: netip.MustParseAddr("10.0.0.1"), Dir: Both},
		{Peer: netip.MustParseAddr("10.0.0.1"), Port: 1},
		{Peer: netip.MustParseAddr("10.0.0.1"), Port: 1, Dir: Both, LossPercent: 101},
	} {
		if _, err := f.rules(); err == nil {
			t.Errorf("%+v: no error", f)
		}
	}
}

func procState(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	// pid (comm) STATE ...
	s := string(b)
	return strings.Fields(s[strings.LastIndexByte(s, ')')+1:])[0]
}

func TestHang(t *testing.T) {
	cmd := exec.CommandContext(context.Background(), "sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	resume, err := Hang(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	// Signals are delivered asynchronously: wait for the state.
	waitState := func(stopped bool) string {
		deadline := time.Now().Add(2 * time.Second)
		for {
			s := procState(t, cmd.Process.Pid)
			if (s == "T") == stopped || time.Now().After(deadline) {
				return s
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if s := waitState(true); s != "T" {
		t.Errorf("hung process in state %s, want T (stopped)", s)
	}
	if err := resume(); err != nil {
		t.Fatal(err)
	}
	if s := waitState(false); s == "T" {
		t.Error("resumed process still stopped")
	}
}
