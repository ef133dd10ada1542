package slowpath6_test

import (
	"encoding/binary"
	"net/netip"
	"sync/atomic"
	"testing"

	"xdhcp/dhcp6"
	"xdhcp/handoff"
	"xdhcp/lease/memfile"
)

// BenchmarkSolicitRequest is the engine's cost of one new client (a
// Solicit for an address and a prefix, then its Request), on the memfile
// store in memory. Packets come from a pool, as the transports' do, and
// replies are counted, not kept, so the figures are the engine's own.
func BenchmarkSolicitRequest(b *testing.B) {
	store, err := memfile.Open6(memfile.Options{Persist: false})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	cfg := engineConfig(b.TempDir())
	subnet1(cfg).Pools[0].Last = netip.MustParseAddr("2001:db8:1::ffff:ffff")
	srv := newEngineOn(b, cfg, store)
	out := &countSender{}
	var pool handoff.PacketPool6
	packet := func(data []byte) *handoff.Packet6 {
		p := pool.Get()
		p.IfIndex, p.IfName, p.Out = 2, "s0", out
		p.Meta.SrcIP, p.Meta.DstIP = clientLL, allDHCP
		p.Meta.SrcPort, p.Meta.DstPort = 546, 547
		p.SetData(data)
		return p
	}
	duid := []byte{0, 3, 0, 1, 0x0a, 0, 0, 0, 0, 0}
	var sol, req dhcp6.Builder
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		binary.BigEndian.PutUint32(duid[6:], uint32(i))
		sol.Reset()
		sol.Header(dhcp6.Solicit, [3]byte{1, 2, 3})
		sol.Option(dhcp6.OptClientID, duid)
		sol.End(sol.IA(dhcp6.OptIANA, 1, 0, 0))
		sol.End(sol.IA(dhcp6.OptIAPD, 2, 0, 0))
		srv.ServeNow(packet(sol.B))
		req.Reset()
		req.Header(dhcp6.Request, [3]byte{4, 5, 6})
		req.Option(dhcp6.OptClientID, duid)
		req.Option(dhcp6.OptServerID, serverDUID)
		req.End(req.IA(dhcp6.OptIANA, 1, 0, 0))
		req.End(req.IA(dhcp6.OptIAPD, 2, 0, 0))
		srv.ServeNow(packet(req.B))
	}
	b.StopTimer()
	if out.n.Load() != int64(2*b.N) {
		b.Fatalf("%d replies to %d clients", out.n.Load(), b.N)
	}
}

// countSender counts the replies it is given.
type countSender struct{ n atomic.Int64 }

func (c *countSender) Send6(*handoff.Meta6, []byte) error {
	c.n.Add(1)
	return nil
}

var allDHCP = netip.MustParseAddr("ff02::1:2").As16()
