package fastpath

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/cilium/ebpf/link"
	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/iana"

	"xdhcp/bpf"
	"xdhcp/fastpath/leasecache"
	"xdhcp/fastpath/xsk"
	"xdhcp/handoff"
	"xdhcp/internal/lab"
)

type handler6Func func(*handoff.Packet6)

func (f handler6Func) Enqueue6(p *handoff.Packet6) { f(p) }

// worker6Env is a worker on the server end of a veth whose XDP program
// (native mode, DHCPv6 on) steers DHCPv6 to its AF_XDP socket, and a
// DHCPv6 client socket (port 546) at the other end.
type worker6Env struct {
	w        *Worker
	objs     *bpf.Objects
	cache    *leasecache.Cache6
	svc6     *service
	handed   chan *handoff.Packet6
	client   *net.UDPConn
	clientIf string
	cliMAC   [6]byte
	cliLL    [16]byte
	srvLL    [16]byte
}

func linkLocal(ifname string) ([16]byte, error) {
	ifc, err := net.InterfaceByName(ifname)
	if err != nil {
		return [16]byte{}, err
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		return [16]byte{}, err
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.IsLinkLocalUnicast() && n.IP.To4() == nil {
			return [16]byte(n.IP.To16()), nil
		}
	}
	return [16]byte{}, net.InvalidAddrError("no link-local address on " + ifname)
}

func newWorker6Env(t *testing.T) *worker6Env {
	t.Helper()
	e := newIdleWorker6Env(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- e.w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
	})
	return e
}

// newIdleWorker6Env is newWorker6Env with the worker not running.
func newIdleWorker6Env(t *testing.T) *worker6Env {
	t.Helper()
	l := lab.ForTest(t, "f6")
	srv, err := l.NS("srv")
	if err != nil {
		t.Fatal(err)
	}
	cli, err := l.NS("cli")
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range []*lab.NS{srv, cli} {
		if err := ns.EnableIPv6(); err != nil {
			t.Fatal(err)
		}
	}
	const srvIf, cliIf = "f6-a", "f6-b"
	if err := l.Veth(srv, srvIf, netip.Prefix{}, cli, cliIf, netip.Prefix{}); err != nil {
		t.Fatal(err)
	}
	e := &worker6Env{cache: leasecache.NewCache6(16), svc6: &service{}, handed: make(chan *handoff.Packet6, 8), clientIf: cliIf}
	srvMAC, err := srv.LinkMAC(srvIf)
	if err != nil {
		t.Fatal(err)
	}
	if e.cliMAC, err = cli.LinkMAC(cliIf); err != nil {
		t.Fatal(err)
	}
	e.objs, err = bpf.Load(bpf.Options{DHCPv6: true})
	if err != nil {
		t.Skipf("cannot load the XDP program here: %v", err)
	}
	t.Cleanup(func() { e.objs.Close() })
	var (
		ifindex int
		lk      link.Link
		sock    *xsk.Socket
	)
	if err := srv.Do(func() error {
		ifc, err := net.InterfaceByName(srvIf)
		if err != nil {
			return err
		}
		ifindex = ifc.Index
		if e.srvLL, err = linkLocal(srvIf); err != nil {
			return err
		}
		if lk, err = e.objs.Attach(ifindex, bpf.ModeNative); err != nil {
			return err
		}
		sock, err = xsk.Open(xsk.Options{Ifindex: ifindex, Queue: 0})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lk.Close() })
	t.Cleanup(func() { sock.Close() })
	if err := e.objs.RegisterXSK(0, sock.FD()); err != nil {
		t.Fatal(err)
	}
	if err := cli.Do(func() (err error) {
		if e.cliLL, err = linkLocal(cliIf); err != nil {
			return err
		}
		e.client, err = net.ListenUDP("udp6", &net.UDPAddr{IP: net.IP(e.cliLL[:]), Port: 546, Zone: cliIf})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.client.Close() })

	e.w, err = NewWorker(WorkerConfig{
		Socket: sock, Queue: 0, CPU: -1, IfIndex: ifindex, IfName: srvIf, IfMAC: srvMAC,
		Handler:  handlerFunc(func(p *handoff.Packet) { p.Release() }),
		Handler6: handler6Func(func(p *handoff.Packet6) { e.handed <- p }),
		Cache6:   e.cache, IfLinkLocal: e.srvLL, Service6: e.svc6,
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

var (
	c6DUID = &dhcpv6.DUIDLLT{HWType: iana.HWTypeEthernet, Time: 700000000, LinkLayerAddr: net.HardwareAddr{2, 0, 0, 0, 0, 0x61}}
	s6DUID = &dhcpv6.DUIDLL{HWType: iana.HWTypeEthernet, LinkLayerAddr: net.HardwareAddr{2, 0, 0, 0, 0, 0xfe}}
	c6Addr = net.ParseIP("2001:db8:6::42")
	c6Pfx  = &net.IPNet{IP: net.ParseIP("2001:db8:ff00:4200::"), Mask: net.CIDRMask(56, 128)}
)

// renew6 is the client's Renew of its address (IA_NA 1) and prefix (IA_PD 2).
func renew6(t *testing.T) *dhcpv6.Message {
	t.Helper()
	m, err := dhcpv6.NewMessage(dhcpv6.WithClientID(c6DUID), dhcpv6.WithServerID(s6DUID),
		dhcpv6.WithRequestedOptions(dhcpv6.OptionDNSRecursiveNameServer),
		dhcpv6.WithIANA(dhcpv6.OptIAAddress{IPv6Addr: c6Addr, PreferredLifetime: 3000 * time.Second, ValidLifetime: 4000 * time.Second}),
		dhcpv6.WithIAPD([4]byte{0, 0, 0, 2}, &dhcpv6.OptIAPrefix{Prefix: c6Pfx, PreferredLifetime: 3000 * time.Second, ValidLifetime: 4000 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	m.MessageType = dhcpv6.MessageTypeRenew
	return m
}

// exchange6 sends m to ff02::1:2 and returns the reply with its
// transaction id.
func (e *worker6Env) exchange6(t *testing.T, m *dhcpv6.Message) *dhcpv6.Message {
	t.Helper()
	if _, err := e.client.WriteToUDP(m.ToBytes(), &net.UDPAddr{IP: dhcpv6.AllDHCPRelayAgentsAndServers, Port: 547, Zone: e.clientIf}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	e.client.SetReadDeadline(time.Now().Add(3 * time.Second))
	for {
		n, _, err := e.client.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("no reply to %v: %v", m.MessageType, err)
		}
		d, err := dhcpv6.FromBytes(buf[:n])
		if err != nil {
			t.Fatalf("reply does not parse: %v", err)
		}
		if r, ok := d.(*dhcpv6.Message); ok && r.TransactionID == m.TransactionID {
			return r
		}
	}
}

// TestWorker6: with native XDP on a veth, DHCPv6 reaches the AF_XDP
// worker: a Solicit is handed to the v6 engine (whose Advertise goes out
// through the worker), a Renew of cached bindings is answered by the
// worker itself with the remaining lifetimes, and a DUID on the drop list
// reaches neither.
func TestWorker6(t *testing.T) {
	e := newWorker6Env(t)
	s := &e.w.Stats

	// 1. A Solicit goes to the engine, which answers through Send6.
	sol, err := dhcpv6.NewSolicit(e.cliMAC[:])
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		p := <-e.handed
		defer p.Release()
		if p.Meta.SrcIP != e.cliLL || p.Meta.DstIP != [16]byte(dhcpv6.AllDHCPRelayAgentsAndServers) ||
			p.Meta.SrcPort != 546 || p.Meta.DstPort != 547 || !p.Policed || p.Out != e.w || p.IfName != "f6-a" {
			t.Errorf("handed-off packet %+v policed %v out %T if %s", p.Meta, p.Policed, p.Out, p.IfName)
		}
		req, err := dhcpv6.MessageFromBytes(p.Data)
		if err != nil {
			t.Errorf("handed-off payload: %v", err)
			return
		}
		adv, _ := dhcpv6.NewAdvertiseFromSolicit(req, dhcpv6.WithServerID(s6DUID))
		// As the engine answers a multicast request: the source is left
		// to the transport.
		dst := handoff.Meta6{DstMAC: p.Meta.SrcMAC, DstIP: p.Meta.SrcIP, SrcPort: 547, DstPort: 546}
		if err := p.Out.Send6(&dst, adv.ToBytes()); err != nil {
			t.Errorf("send6: %v", err)
		}
	}()
	if r := e.exchange6(t, sol); r.MessageType != dhcpv6.MessageTypeAdvertise {
		t.Fatalf("reply %v, want the engine's Advertise", r.MessageType)
	}

	// 2. A Renew of cached bindings, 100 s after they were granted.
	const age = 100
	m := renew6(t)
	e.publish(t, m, age)
	r := e.exchange6(t, m)
	if r.MessageType != dhcpv6.MessageTypeReply || !bytes.Equal(r.Options.ServerID().ToBytes(), s6DUID.ToBytes()) {
		t.Fatalf("reply %v from %v", r.MessageType, r.Options.ServerID())
	}
	within := func(got time.Duration, full int64) bool {
		return got <= time.Duration(full-age)*time.Second && got >= time.Duration(full-age-2)*time.Second
	}
	a := r.Options.OneIANA().Options.Addresses()
	if len(a) != 1 || !a[0].IPv6Addr.Equal(c6Addr) || !within(a[0].ValidLifetime, 4000) || !within(a[0].PreferredLifetime, 3000) {
		t.Errorf("IA_NA addresses %v, want %v with %d/%d s left", a, c6Addr, 3000-age, 4000-age)
	}
	p := r.Options.OneIAPD().Options.Prefixes()
	if len(p) != 1 || p[0].Prefix.String() != c6Pfx.String() || !within(p[0].ValidLifetime, 4000) || !within(p[0].PreferredLifetime, 3000) {
		t.Errorf("IA_PD prefixes %v, want %v with %d/%d s left", p, c6Pfx, 3000-age, 4000-age)
	}
	txSettle(s, 2)
	if s.CacheHits6.Load() != 1 || s.Handoffs6.Load() != 1 || s.SlowReplies6.Load() != 1 || s.RxFrames6.Load() < 2 {
		t.Errorf("v6 hits %d handoffs %d slow replies %d rx %d; want 1, 1, 1, >= 2",
			s.CacheHits6.Load(), s.Handoffs6.Load(), s.SlowReplies6.Load(), s.RxFrames6.Load())
	}

	// With the DHCPv6 service off, the Renew goes to the engine.
	e.svc6.off.Store(true)
	go func() {
		p := <-e.handed
		defer p.Release()
		req, err := dhcpv6.MessageFromBytes(p.Data)
		if err != nil {
			t.Errorf("handed-off payload: %v", err)
			return
		}
		rep, _ := dhcpv6.NewReplyFromMessage(req)
		dst := handoff.Meta6{DstMAC: p.Meta.SrcMAC, DstIP: p.Meta.SrcIP, SrcPort: 547, DstPort: 546}
		if err := p.Out.Send6(&dst, rep.ToBytes()); err != nil {
			t.Errorf("send6: %v", err)
		}
	}()
	e.exchange6(t, renew6(t))
	if s.CacheHits6.Load() != 1 || s.Handoffs6.Load() != 2 {
		t.Errorf("service off: v6 hits %d handoffs %d; want 1, 2", s.CacheHits6.Load(), s.Handoffs6.Load())
	}
	e.svc6.off.Store(false)

	// 3. Dropped by DUID in the driver: neither the engine nor the cache
	// sees it.
	if err := e.objs.DropDUID(c6DUID.ToBytes(), true); err != nil {
		t.Fatal(err)
	}
	before, _ := e.objs.Counters()
	if _, err := e.client.WriteToUDP(renew6(t).ToBytes(), &net.UDPAddr{IP: dhcpv6.AllDHCPRelayAgentsAndServers, Port: 547, Zone: e.clientIf}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		c, _ := e.objs.Counters()
		if c.DropDUID > before.DropDUID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the listed DUID's Renew was not dropped: %+v", c)
		}
		time.Sleep(5 * time.Millisecond)
	}
	c, _ := e.objs.Counters()
	if c.Redirected6 < 3 || s.CacheHits6.Load() != 1 || s.Handoffs6.Load() != 2 {
		t.Errorf("redirected6 %d, hits %d, handoffs %d after the drop", c.Redirected6, s.CacheHits6.Load(), s.Handoffs6.Load())
	}
}

// publish puts the client's bindings (the address and prefix m renews),
// granted age seconds ago for 4000/3000 s, in the cache.
func (e *worker6Env) publish(t *testing.T, m *dhcpv6.Message, age int64) {
	t.Helper()
	fp, ok := handoff.Fingerprint6(m.ToBytes())
	if !ok {
		t.Fatal("no fingerprint")
	}
	granted := time.Now().Unix() - age
	lease := func(a net.IP, plen uint8) handoff.CachedLease6Addr {
		return handoff.CachedLease6Addr{Addr: [16]byte(a.To16()), PrefixLen: plen, CLTT: granted,
			ValidLft: 4000, PreferredLft: 3000, NewValid: 4000, NewPreferred: 3000}
	}
	if err := e.cache.Put6(&handoff.CachedLease6{DUID: c6DUID.ToBytes(), ServerDUID: s6DUID.ToBytes(), Fingerprint: fp,
		Threshold: 0.5, MaxAge: -1, Options: []byte{0, 23, 0, 16, 0x20, 0x01, 0x0d, 0xb8, 15 + 4: 0x53},
		IAs: []handoff.CachedIA6{
			{Type: handoff.OptionIANA, IAID: 0, CalcTee: true, T1Pct: 0.5, T2Pct: 0.8, Leases: []handoff.CachedLease6Addr{lease(c6Addr, 128)}},
			{Type: handoff.OptionIAPD, IAID: 2, CalcTee: true, T1Pct: 0.5, T2Pct: 0.8, Leases: []handoff.CachedLease6Addr{lease(c6Pfx.IP, 56)}},
		}}); err != nil {
		t.Fatal(err)
	}
}

// TestWorker6AnswerAllocs: answering a cached Renew allocates nothing.
func TestWorker6AnswerAllocs(t *testing.T) {
	e := newIdleWorker6Env(t)
	m := renew6(t)
	e.publish(t, m, 10)
	payload := m.ToBytes()
	meta := handoff.Meta6{SrcMAC: e.cliMAC, DstMAC: [6]byte{0x33, 0x33, 0, 1, 0, 2}, SrcIP: e.cliLL,
		DstIP: [16]byte(dhcpv6.AllDHCPRelayAgentsAndServers), SrcPort: 546, DstPort: 547}
	now := time.Now().Unix()
	sock := e.w.cfg.Socket
	allocs := testing.AllocsPerRun(200, func() {
		d, ok := e.w.answer6(payload, &meta, now)
		if !ok {
			t.Fatal("cached Renew not answered")
		}
		sock.Release(d.Addr)
	})
	if allocs != 0 {
		t.Errorf("answer6 allocates %.1f times per Renew, want 0", allocs)
	}
}
