package slowpath6_test

import (
	"bytes"
	"net/netip"
	"sync"
	"testing"

	"xdhcp/config"
	"xdhcp/dhcp6"
	"xdhcp/handoff"
	"xdhcp/internal/stats"
	"xdhcp/lease"
	"xdhcp/slowpath6"
)

// capture is a Sender6 keeping what it is asked to send.
type capture struct {
	mu   sync.Mutex
	sent [][]byte
	dst  []handoff.Meta6
}

func (c *capture) Send6(dst *handoff.Meta6, payload []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent = append(c.sent, bytes.Clone(payload))
	c.dst = append(c.dst, *dst)
	return nil
}

// cache6 is a LeaseCache6 recording what the engine publishes.
type cache6 struct {
	mu  sync.Mutex
	put map[string]handoff.CachedLease6
}

func (c *cache6) Put6(e *handoff.CachedLease6) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	cp := *e
	cp.IAs = append([]handoff.CachedIA6(nil), e.IAs...)
	cp.Options = bytes.Clone(e.Options)
	c.put[string(e.DUID)] = cp
	return nil
}
func (c *cache6) Delete6(duid []byte) { c.mu.Lock(); delete(c.put, string(duid)); c.mu.Unlock() }
func (c *cache6) Purge6()             {}

func newEngine(t testing.TB, cache handoff.LeaseCache6) *slowpath6.Server {
	t.Helper()
	srv, err := slowpath6.New(engineConfig(t.TempDir()), slowpath6.Deps{Store: newMemStore(), Stats: stats.New(0, 0),
		ServerDUID: serverDUID, Cache: cache})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

func newEngineOn(t testing.TB, cfg *config.Config6, store lease.Store6) *slowpath6.Server {
	t.Helper()
	srv, err := slowpath6.New(cfg, slowpath6.Deps{Store: store, Stats: stats.New(0, 0), ServerDUID: serverDUID})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// requestBoth is a client's Request for an address (IA_NA 1) and a
// prefix (IA_PD 2) of this server, with oro as its option request option
// when given.
func requestBoth(duid []byte, oro ...byte) []byte {
	var b dhcp6.Builder
	b.Header(dhcp6.Request, [3]byte{1, 2, 3})
	b.Option(dhcp6.OptClientID, duid)
	b.Option(dhcp6.OptServerID, serverDUID)
	if len(oro) > 0 {
		b.Option(dhcp6.OptORO, oro)
	}
	b.End(b.IA(dhcp6.OptIANA, 1, 0, 0))
	b.End(b.IA(dhcp6.OptIAPD, 2, 0, 0))
	return b.B
}

var clientLL = netip.MustParseAddr("fe80::211:22ff:fe33:4455").As16()

func packetOn(data []byte, out handoff.Sender6) *handoff.Packet6 {
	p := &handoff.Packet6{IfIndex: 2, IfName: "s0", Out: out}
	p.Meta.SrcIP = clientLL
	p.Meta.DstIP = netip.MustParseAddr("ff02::1:2").As16()
	p.Meta.SrcPort, p.Meta.DstPort = 546, 547
	p.SetData(data)
	return p
}

// TestRequestPublishesBindings: a Reply to a Request goes to the client's
// link-local address, port 546, and its bindings to the fast path's cache
// with the timers, the server's DUID and the other options of the reply.
func TestRequestPublishesBindings(t *testing.T) {
	c := &cache6{put: map[string]handoff.CachedLease6{}}
	cfg := engineConfig(t.TempDir())
	threshold := 0.25 // without cache parameters Kea reuses nothing, and nothing is published
	for _, sc := range cfg.Subnets {
		sc.CacheThreshold = &threshold
	}
	srv, err := slowpath6.New(cfg, slowpath6.Deps{Store: newMemStore(), Stats: stats.New(0, 0), ServerDUID: serverDUID, Cache: c})
	if err != nil {
		t.Fatal(err)
	}
	out := &capture{}
	cl := newClient()
	srv.ServeNow(packetOn(requestBoth(cl.duid, 0, 23), out))
	if len(out.sent) != 1 {
		t.Fatalf("%d replies", len(out.sent))
	}
	if d := out.dst[0]; d.DstIP != clientLL || d.DstPort != 546 {
		t.Errorf("reply to %v port %d, want the client's link-local, port 546", netip.AddrFrom16(d.DstIP), d.DstPort)
	}
	e, ok := c.put[string(cl.duid)]
	if !ok {
		t.Fatal("nothing published to the cache")
	}
	if !bytes.Equal(e.ServerDUID, serverDUID) || len(e.IAs) != 2 || e.Threshold != threshold || e.IfIndex != 2 {
		t.Fatalf("published %+v", e)
	}
	for _, ia := range e.IAs {
		if ia.SubnetID != 1 || !ia.HasT1 || ia.RenewTimer != 1000 || !ia.HasT2 || ia.RebindTimer != 2000 || len(ia.Leases) != 1 ||
			ia.Leases[0].NewValid != 4000 || ia.Leases[0].NewPreferred != 3000 {
			t.Errorf("published IA %+v: want subnet 1, T1 1000, T2 2000, one lease of 3000/4000", ia)
		}
	}
	if o := dhcp6.Options(e.Options); !o.Has(23) || o.Has(dhcp6.OptClientID) || o.Has(dhcp6.OptIANA) {
		t.Errorf("published options %x: want dns-servers only", e.Options)
	}
	var p dhcp6.Packet
	if err := p.Parse(out.sent[0]); err != nil {
		t.Fatal(err)
	}
	if e.Fingerprint == 0 {
		t.Error("no fingerprint")
	}
}

// FuzzServe feeds arbitrary datagrams to the engine, direct and as if
// relayed: it must answer or drop, never fail, and what it answers must
// parse.
func FuzzServe(f *testing.F) {
	srv := newEngine(f, nil)
	cl := newClient()
	var b dhcp6.Builder
	b.Header(dhcp6.Solicit, [3]byte{1, 2, 3})
	b.Option(dhcp6.OptClientID, cl.duid)
	b.Option(dhcp6.OptRapidCommit, nil)
	b.End(b.IA(dhcp6.OptIANA, 1, 0, 0))
	b.End(b.IA(dhcp6.OptIAPD, 2, 0, 0))
	f.Add(b.B)
	f.Add(relayed(b.B, relayHop{link: netip.MustParseAddr("2001:db8:2::1"), peer: netip.AddrFrom16(clientLL), ifaceID: "x"}))
	var r dhcp6.Builder
	r.Header(dhcp6.Renew, [3]byte{4, 5, 6})
	r.Option(dhcp6.OptClientID, cl.duid)
	r.Option(dhcp6.OptServerID, serverDUID)
	m := r.IA(dhcp6.OptIANA, 1, 0, 0)
	r.End(r.IAAddr(netip.MustParseAddr("2001:db8:1::100").As16(), 1, 2))
	r.End(m)
	f.Add(r.B)
	f.Fuzz(func(t *testing.T, data []byte) {
		out := &capture{}
		srv.ServeNow(packetOn(data, out))
		for _, s := range out.sent {
			var p dhcp6.Packet
			if err := p.Parse(s); err != nil {
				t.Fatalf("reply does not parse (%v): %x", err, s)
			}
		}
	})
}
