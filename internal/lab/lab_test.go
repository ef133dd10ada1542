package lab

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"
)

func TestVethUDPReachability(t *testing.T) {
	l := ForTest(t, "xf")
	a, err := l.NS("a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.NS("b")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(a.Name(), "xf-") || a.Path() != "/run/netns/"+a.Name() {
		t.Fatalf("name %q path %q", a.Name(), a.Path())
	}
	if _, err := os.Stat(a.Path()); err != nil {
		t.Fatalf("namespace not bind-mounted: %v", err)
	}
	if err := l.Veth(a, "xf0", netip.MustParsePrefix("10.99.0.1/24"), b, "xf1", netip.MustParsePrefix("10.99.0.2/24")); err != nil {
		t.Fatal(err)
	}

	var rx *net.UDPConn
	if err := b.Do(func() error {
		var err error
		rx, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(10, 99, 0, 2), Port: 4242})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	var tx *net.UDPConn
	if err := a.Do(func() error {
		var err error
		tx, err = net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(10, 99, 0, 2), Port: 4242})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer tx.Close()

	// The sockets keep their namespaces: use them from this goroutine.
	// Resend until it arrives: the first datagram may wait on ARP.
	buf := make([]byte, 64)
	for i := 0; ; i++ {
		if _, err := tx.Write([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		_ = rx.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		n, from, err := rx.ReadFromUDP(buf)
		if err == nil {
			if string(buf[:n]) != "hello" || !from.IP.Equal(net.IPv4(10, 99, 0, 1)) {
				t.Fatalf("got %q from %v", buf[:n], from)
			}
			break
		}
		if i == 10 {
			t.Fatalf("no datagram across the veth: %v", err)
		}
	}

	// LinkMAC agrees with the interface as seen from inside, and names a
	// missing link in its error.
	mac, err := a.LinkMAC("xf0")
	if err != nil {
		t.Fatal(err)
	}
	var inside net.HardwareAddr
	if err := a.Do(func() error {
		ifc, err := net.InterfaceByName("xf0")
		if err == nil {
			inside = ifc.HardwareAddr
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if mac == [6]byte{} || net.HardwareAddr(mac[:]).String() != inside.String() {
		t.Errorf("LinkMAC %x, inside %s", mac, inside)
	}
	if _, err := a.LinkMAC("nope0"); err == nil || !strings.Contains(err.Error(), "nope0") {
		t.Errorf("missing link: %v", err)
	}

	// The host namespace must not have these links.
	if _, err := net.InterfaceByName("xf0"); err == nil {
		t.Fatal("xf0 exists in the test's own namespace")
	}
}

func TestCommandAndStart(t *testing.T) {
	l := ForTest(t, "xf")
	a, err := l.NS("cmd")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Bridge(a, "xfbr0", netip.MustParsePrefix("10.98.0.1/24")); err != nil {
		t.Fatal(err)
	}
	b, err := l.NS("port")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.VethToBridge(a, "xfbr0", "xfp0", b, "xfc0", netip.MustParsePrefix("10.98.0.2/24")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := a.Command(ctx, "ip", "-o", "addr", "show").CombinedOutput()
	if err != nil {
		t.Fatalf("ip addr: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "xfbr0") || !strings.Contains(string(out), "10.98.0.1/24") {
		t.Fatalf("ip addr inside the namespace does not show the bridge:\n%s", out)
	}
	out, err = a.Command(ctx, "ip", "-o", "link", "show", "master", "xfbr0").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "xfp0") {
		t.Fatalf("xfp0 is not a bridge port: %v\n%s", err, out)
	}
	out, err = b.Command(ctx, "ip", "-o", "addr", "show", "xfc0").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "10.98.0.2/24") {
		t.Fatalf("peer address: %v\n%s", err, out)
	}

	// A long-running process is killed and reaped by Close.
	cmd := a.Command(context.Background(), "sleep", "60")
	if err := a.Start(cmd); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if cmd.ProcessState == nil || cmd.ProcessState.Exited() {
		t.Fatalf("sleep was not killed by Close: %v", cmd.ProcessState)
	}
}

func TestCloseRemovesEverything(t *testing.T) {
	SkipIfUnavailable(t)
	l, err := New("xf")
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	var nss []*NS
	for _, name := range []string{"x", "y"} {
		ns, err := l.NS(name)
		if err != nil {
			l.Close()
			t.Fatal(err)
		}
		paths = append(paths, ns.Path())
		nss = append(nss, ns)
	}
	if err := l.Veth(nss[0], "xfv0", netip.Prefix{}, nss[1], "xfv1", netip.Prefix{}); err != nil {
		l.Close()
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for _, p := range paths {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s still exists after Close (%v)", p, err)
		}
	}
	entries, err := os.ReadDir(runDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), l.prefix) {
			t.Errorf("leftover %s/%s", runDir, e.Name())
		}
	}
	if _, err := l.NS("z"); err == nil {
		t.Error("NS after Close succeeded")
	}
}

func TestNewRejectsBadPrefix(t *testing.T) {
	for _, p := range []string{"", "a/b", "a b"} {
		if _, err := New(p); err == nil {
			t.Errorf("New(%q) succeeded", p)
		}
	}
}

func TestDoRunsInsideAndReturnsError(t *testing.T) {
	l := ForTest(t, "xf")
	ns, err := l.NS("do")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	if err := ns.Do(func() error {
		ifs, err := net.Interfaces()
		for _, i := range ifs {
			names = append(names, i.Name+"/"+i.Flags.String())
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// A fresh namespace has only its loopback, which NS brought up.
	if len(names) != 1 || !strings.HasPrefix(names[0], "lo/up") {
		t.Fatalf("interfaces inside the namespace: %v", names)
	}
	sentinel := errors.New("from fn")
	if err := ns.Do(func() error { return sentinel }); !errors.Is(err, sentinel) {
		t.Fatalf("Do returned %v, want fn's error", err)
	}
}
