package keadiff

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"xdhcp/internal/daemontest"
	"xdhcp/internal/lab"
)

// Side is one server of a comparison in a lab of its own: namespace "srv"
// holds the server's interfaces, named and addressed as the Plan says;
// namespace "cli" holds their peers c0, c1, … where the clients and relays
// of the test live.
type Side struct {
	Name string
	t    testing.TB
	plan *Plan
	dir  string
	srv  *lab.NS
	cli  *lab.NS

	srvMAC []net.HardwareAddr
	cliMAC []net.HardwareAddr
	links  []*linkConn
	l      *listener
	relays map[netip.Addr]bool // addresses given to "cli" (addAddr)

	proc *daemontest.Process
	ctl  *daemontest.Control

	args, env []string // of the last launch, for Restart
	started   string
}

// newSide builds the lab of one server (prefix names its namespaces).
func newSide(t testing.TB, name, prefix string, plan *Plan) *Side {
	t.Helper()
	lb := lab.ForTest(t, prefix)
	s := &Side{Name: name, t: t, plan: plan, dir: filepath.Join(t.TempDir(), name), relays: map[netip.Addr]bool{}}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var err error
	if s.srv, err = lb.NS("srv"); err != nil {
		t.Fatal(err)
	}
	if s.cli, err = lb.NS("cli"); err != nil {
		t.Fatal(err)
	}
	for i, ifc := range plan.Ifaces {
		peer := fmt.Sprintf("c%d", i)
		if err := lb.Veth(s.srv, ifc.Name, ifc.Addr, s.cli, peer, netip.Prefix{}); err != nil {
			t.Fatal(err)
		}
		sm, err := s.srv.LinkMAC(ifc.Name)
		if err != nil {
			t.Fatal(err)
		}
		cl, err := s.cli.Link(peer)
		if err != nil {
			t.Fatal(err)
		}
		s.srvMAC = append(s.srvMAC, net.HardwareAddr(sm[:]))
		s.cliMAC = append(s.cliMAC, cl.Attrs().HardwareAddr)
		var lc *linkConn
		if err := s.cli.Do(func() (err error) { lc, err = openLink(cl.Attrs().Index); return err }); err != nil {
			t.Fatal(err)
		}
		s.links = append(s.links, lc)
	}
	for _, a := range plan.Local {
		if err := s.srv.AddAddr("lo", netip.PrefixFrom(a, 32)); err != nil {
			t.Fatal(err)
		}
	}
	// Answers go to port 67 of a relay's address or port 68 of a client's
	// in "cli": bound sockets keep the kernel from answering
	// port-unreachable.
	for _, port := range []string{":67", ":68"} {
		lab.OpenForTest(t, s.cli, func() (net.PacketConn, error) { return net.ListenPacket("udp4", port) })
	}
	if XDPMode() != "off" {
		daemontest.UnpinAtEnd(t, s.srv)
	}
	s.l = newListener(s.links)
	t.Cleanup(func() {
		if err := s.l.close(); err != nil {
			t.Errorf("close %s links: %v", name, err)
		}
	})
	return s
}

// addAddr gives the address g (a relay's, or a client's leased address) to
// link i of "cli", so that "cli" answers ARP for it, and the server a route
// to it when g is not on the link's subnet.
func (s *Side) addAddr(i int, g netip.Addr) error {
	if s.relays[g] {
		return nil
	}
	if err := s.cli.AddAddr(fmt.Sprintf("c%d", i), netip.PrefixFrom(g, 32)); err != nil {
		return err
	}
	s.relays[g] = true
	ifc := s.plan.Ifaces[i]
	if ifc.Addr.IsValid() && ifc.Addr.Masked().Contains(g) {
		return nil
	}
	h, err := s.srv.Handle()
	if err != nil {
		return err
	}
	defer h.Delete()
	link, err := h.LinkByName(ifc.Name)
	if err != nil {
		return fmt.Errorf("find %s: %w", ifc.Name, err)
	}
	err = h.RouteReplace(&netlink.Route{LinkIndex: link.Attrs().Index, Scope: netlink.SCOPE_LINK,
		Dst: &net.IPNet{IP: g.AsSlice(), Mask: net.CIDRMask(32, 32)}})
	if err != nil {
		return fmt.Errorf("route to relay %s via %s: %w", g, ifc.Name, err)
	}
	return nil
}

// writeConfig writes doc as JSON into the side's directory.
func (s *Side) writeConfig(doc map[string]any) string {
	s.t.Helper()
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		s.t.Fatal(err)
	}
	p := filepath.Join(s.dir, "config.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		s.t.Fatal(err)
	}
	return p
}

// launch runs the server (args, env) in "srv" and waits until its control
// socket answers and, within a grace period, its log shows started (the
// log may be quieter than INFO, so it is not required). It returns an
// error, with the end of the log, when the server exits or never answers.
func (s *Side) launch(args, env []string, started string) error {
	s.args, s.env, s.started = args, env, started
	s.proc = daemontest.NewProcess(s.t, daemontest.ProcessOptions{
		Name: s.Name, NS: s.srv, Args: args, Env: env, Log: filepath.Join(s.dir, s.Name+".log"),
	})
	s.ctl = daemontest.NewUnixControl(filepath.Join(s.dir, "control.sock"), 5*time.Second)
	s.proc.Launch()
	for deadline := time.Now().Add(20 * time.Second); ; {
		a, err := s.ctl.Try("version-get", nil)
		if err == nil && a.Result == 0 {
			break
		}
		if !s.proc.Running() {
			return fmt.Errorf("%s exited at start (%v): %s", s.Name, s.proc.Err(), lastLines(s.proc.Log(), 3))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s does not answer on its control socket: %v", s.Name, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); {
		if strings.Contains(s.proc.LogSince(), started) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// lastLines is the last n lines of text, joined with " | ".
func lastLines(text string, n int) string {
	lines := strings.Split(strings.TrimSpace(text), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], " | ")
}

// Control is the server's UNIX control socket.
func (s *Side) Control() *daemontest.Control { return s.ctl }

// Process is the server process.
func (s *Side) Process() *daemontest.Process { return s.proc }

// Dir is the side's directory (configuration, lease file, log, socket).
func (s *Side) Dir() string { return s.dir }

// check runs a configuration check (kea-dhcp4 -t, xdhcpd -t) in "srv",
// where the configuration's interfaces exist, and returns "" when it
// passes, else the exit status and the last lines of its output.
func (s *Side) check(env []string, args ...string) string {
	cmd := s.srv.Command(context.Background(), args[0], args[1:]...)
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	out, err := cmd.CombinedOutput()
	if err == nil {
		return ""
	}
	return fmt.Sprintf("%v: %s", err, lastLines(string(out), 2))
}

// Stop stops the server with SIGTERM and waits for it to exit.
func (s *Side) Stop() error {
	if err := s.proc.Stop(); err != nil && s.proc.Running() {
		return fmt.Errorf("stop %s: %w", s.Name, err)
	}
	return nil
}

// Restart starts the server again as it was last launched; it must have
// stopped.
func (s *Side) Restart() error { return s.launch(s.args, s.env, s.started) }

// LeaseFile is the server's memfile lease file (see Adapt).
func (s *Side) LeaseFile() string { return filepath.Join(s.dir, "leases4.csv") }
