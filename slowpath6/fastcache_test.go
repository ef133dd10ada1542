package slowpath6_test

import (
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"

	"xdhcp/dhcp6"
	"xdhcp/fastpath/leasecache"
	"xdhcp/handoff"
	"xdhcp/internal/stats"
	"xdhcp/slowpath6"
)

// sent6 records the engine's replies.
type sent6 chan []byte

func (s sent6) Send6(_ *handoff.Meta6, payload []byte) error {
	s <- append([]byte(nil), payload...)
	return nil
}

// TestPublishedBindingsAnswerRenew: the bindings the engine publishes
// after a Request let the fast path's cache answer the client's Renew,
// with what the engine itself answers to that Renew: the same address and
// prefix, lifetimes, timers and options.
func TestPublishedBindingsAnswerRenew(t *testing.T) {
	cfg := engineConfig(t.TempDir())
	half := 0.5
	for _, sc := range cfg.Subnets {
		sc.CacheThreshold = &half
	}
	cache := leasecache.NewCache6(16)
	srv, err := slowpath6.New(cfg, slowpath6.Deps{Store: newMemStore(), Stats: stats.New(0, 0), ServerDUID: serverDUID, Cache: cache})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start(t.Context())
	t.Cleanup(func() { srv.Close() })

	duid := []byte{0, 3, 0, 1, 2, 0, 0, 0, 0, 0x77}
	clientLL := [16]byte{0xfe, 0x80, 15: 0x77}
	meta := handoff.Meta6{SrcMAC: [6]byte{2, 0, 0, 0, 0, 0x77}, DstMAC: [6]byte{0x33, 0x33, 0, 1, 0, 2},
		SrcIP: clientLL, DstIP: [16]byte(dhcpv6.AllDHCPRelayAgentsAndServers), SrcPort: 546, DstPort: 547}
	out := make(sent6, 4)
	ask := func(msg []byte) *dhcpv6.Message {
		t.Helper()
		p := &handoff.Packet6{IfIndex: 7, IfName: "s0", Meta: meta, Out: out, Received: time.Now()}
		p.SetData(msg)
		srv.Enqueue6(p)
		select {
		case r := <-out:
			m, err := dhcpv6.MessageFromBytes(r)
			if err != nil {
				t.Fatal(err)
			}
			return m
		case <-time.After(3 * time.Second):
			t.Fatal("no reply")
			return nil
		}
	}
	build := func(typ dhcp6.MsgType, addr [16]byte, pfx [16]byte, plen uint8) []byte {
		var b dhcp6.Builder
		b.Header(typ, [3]byte{1, 2, byte(typ)})
		b.Option(dhcp6.OptClientID, duid)
		b.Option(dhcp6.OptServerID, serverDUID)
		b.Option(dhcp6.OptORO, []byte{0, 23})
		b.OptionU16(dhcp6.OptElapsedTime, 0)
		m := b.IA(dhcp6.OptIANA, 1, 0, 0)
		if addr != ([16]byte{}) {
			b.End(b.IAAddr(addr, 0, 0))
		}
		b.End(m)
		m = b.IA(dhcp6.OptIAPD, 2, 0, 0)
		if plen != 0 {
			b.End(b.IAPrefix(pfx, plen, 0, 0))
		}
		b.End(m)
		return b.B
	}
	req := ask(build(dhcp6.Request, [16]byte{}, [16]byte{}, 0))
	na, pd := req.Options.OneIANA(), req.Options.OneIAPD()
	if na == nil || pd == nil || len(na.Options.Addresses()) != 1 || len(pd.Options.Prefixes()) != 1 {
		t.Fatalf("Request answered %v", req)
	}
	if _, ok := cache.Lookup(duid); !ok {
		t.Fatal("the Request's bindings were not published")
	}
	addr := [16]byte(na.Options.Addresses()[0].IPv6Addr.To16())
	p := pd.Options.Prefixes()[0]
	ones, _ := p.Prefix.Mask.Size()
	renew := build(dhcp6.Renew, addr, [16]byte(p.Prefix.IP.To16()), uint8(ones))

	e, _ := cache.Lookup(duid)
	buf := make([]byte, 1514)
	var r leasecache.Reply6
	n, err := leasecache.AnswerRenew6(buf, &r, renew, &meta, 7, e, time.Now().Unix(), [6]byte{2, 0, 0, 0, 0, 1}, [16]byte{0xfe, 0x80, 15: 1})
	if err != nil {
		t.Fatalf("the cache does not answer the Renew: %v", err)
	}
	fast := decodeFrame6(t, buf[:n])
	slow := ask(renew)
	fna, sna := fast.Options.OneIANA(), slow.Options.OneIANA()
	fpd, spd := fast.Options.OneIAPD(), slow.Options.OneIAPD()
	t.Logf("fast %v %v", fna, fpd)
	if fna.String() != sna.String() || fpd.String() != spd.String() {
		t.Errorf("IAs differ:\nfast %v %v\nslow %v %v", fna, fpd, sna, spd)
	}
	if dns, sdns := fast.Options.DNS(), slow.Options.DNS(); len(dns) != 1 || !dns[0].Equal(sdns[0]) {
		t.Errorf("DNS fast %v slow %v", dns, sdns)
	}
	if fast.Options.ServerID().String() != slow.Options.ServerID().String() {
		t.Errorf("server-id fast %v slow %v", fast.Options.ServerID(), slow.Options.ServerID())
	}
}

func decodeFrame6(t *testing.T, f []byte) *dhcpv6.Message {
	t.Helper()
	// Ethernet 14 + IPv6 40 + UDP 8.
	m, err := dhcpv6.MessageFromBytes(f[62:])
	if err != nil {
		t.Fatal(err)
	}
	return m
}
