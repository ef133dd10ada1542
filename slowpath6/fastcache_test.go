package slowpath6_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"

	"xdhcp/dhcp6"
	"xdhcp/fastpath/frame"
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
// prefix, lifetimes, timers, options and relay wrapping; straight from the
// client, and through two relays.
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
	t.Cleanup(func() { srv.Close() })

	relays := []relayHop{
		{link: netip.MustParseAddr("2001:db8:2::1"), peer: netip.MustParseAddr("fe80::77"), ifaceID: "port-7"},
		{hops: 1, link: netip.MustParseAddr("2001:db8:ffff::1"), peer: netip.MustParseAddr("2001:db8:2::1"), ifaceID: "uplink"},
	}
	for _, tc := range []struct {
		name   string
		relays []relayHop
		last   byte
	}{{"direct", nil, 0x77}, {"relayed twice", relays, 0x78}} {
		t.Run(tc.name, func(t *testing.T) {
			duid := []byte{0, 3, 0, 1, 2, 0, 0, 0, 0, tc.last}
			meta := handoff.Meta6{SrcMAC: [6]byte{2, 0, 0, 0, 0, tc.last}, DstMAC: [6]byte{0x33, 0x33, 0, 1, 0, 2},
				SrcIP: [16]byte{0xfe, 0x80, 15: tc.last}, DstIP: [16]byte(dhcpv6.AllDHCPRelayAgentsAndServers), SrcPort: 546, DstPort: 547}
			if tc.relays != nil {
				meta.SrcIP, meta.DstIP = netip.MustParseAddr("2001:db8:ffff::1").As16(), serverGlobal.As16()
				meta.SrcPort = 547
			}
			out := make(sent6, 4)
			ask := func(msg []byte) []byte {
				t.Helper()
				p := &handoff.Packet6{IfIndex: 7, IfName: "s0", Meta: meta, Out: out, Received: time.Now()}
				p.SetData(msg)
				srv.ServeNow(p) // returns once the reply is sent and the bindings published
				select {
				case r := <-out:
					return r
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
				return relayed(b.B, tc.relays...)
			}
			req := innerMessage(t, ask(build(dhcp6.Request, [16]byte{}, [16]byte{}, 0)))
			na, pd := req.Options.OneIANA(), req.Options.OneIAPD()
			if na == nil || pd == nil || len(na.Options.Addresses()) != 1 || len(pd.Options.Prefixes()) != 1 {
				t.Fatalf("Request answered %v", req)
			}
			e, ok := cache.Lookup(duid)
			if !ok {
				t.Fatal("the Request's bindings were not published")
			}
			addr := [16]byte(na.Options.Addresses()[0].IPv6Addr.To16())
			p := pd.Options.Prefixes()[0]
			ones, _ := p.Prefix.Mask.Size()
			renew := build(dhcp6.Renew, addr, [16]byte(p.Prefix.IP.To16()), uint8(ones))

			buf := make([]byte, 1514)
			var r leasecache.Reply6
			n, err := leasecache.AnswerRenew6(buf, &r, renew, &meta, 7, e, time.Now().Unix(), [6]byte{2, 0, 0, 0, 0, 1}, [16]byte{0xfe, 0x80, 15: 1})
			if err != nil {
				t.Fatalf("the cache does not answer the Renew: %v", err)
			}
			var fm handoff.Meta6
			fastRaw, err := frame.Parse6(buf[:n], &fm)
			if err != nil {
				t.Fatal(err)
			}
			slowRaw := ask(renew)
			fast, slow := innerMessage(t, fastRaw), innerMessage(t, slowRaw)
			fna, sna := fast.Options.OneIANA(), slow.Options.OneIANA()
			fpd, spd := fast.Options.OneIAPD(), slow.Options.OneIAPD()
			t.Logf("fast %v %v", fna, fpd)
			if fna.String() != sna.String() || fpd.String() != spd.String() {
				t.Errorf("IAs differ:\nfast %v %v\nslow %v %v", fna, fpd, sna, spd)
			}
			if dns, sdns := fast.Options.DNS(), slow.Options.DNS(); len(dns) != 1 || len(sdns) != 1 || !dns[0].Equal(sdns[0]) {
				t.Errorf("DNS fast %v slow %v", dns, sdns)
			}
			if fast.Options.ServerID().String() != slow.Options.ServerID().String() {
				t.Errorf("server-id fast %v slow %v", fast.Options.ServerID(), slow.Options.ServerID())
			}
			if got, want := relayChain(t, fastRaw), relayChain(t, slowRaw); got != want {
				t.Errorf("relay wrapping\nfast %s\nslow %s", got, want)
			}
		})
	}
}

// innerMessage decodes a reply with insomniacslk's decoder, down to the
// client's message.
func innerMessage(t *testing.T, raw []byte) *dhcpv6.Message {
	t.Helper()
	d, err := dhcpv6.FromBytes(raw)
	if err != nil {
		t.Fatal(err)
	}
	m, err := d.GetInnerMessage()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// relayChain describes a reply's Relay-reply levels.
func relayChain(t *testing.T, raw []byte) string {
	t.Helper()
	var p dhcp6.Packet
	if err := p.Parse(raw); err != nil {
		t.Fatal(err)
	}
	s := ""
	for _, r := range p.Chain() {
		id, _ := r.InterfaceID()
		s += netip.AddrFrom16(r.LinkAddr).String() + "/" + netip.AddrFrom16(r.PeerAddr).String() + "/" + string(id) + " "
	}
	return s
}
