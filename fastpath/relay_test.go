package fastpath

import (
	"net"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"xdhcp/fastpath/dhcpview"
	"xdhcp/handoff"
	"xdhcp/internal/testframe"
)

// knownHops is a NextHop whose neighbour table is a map.
type knownHops map[[4]byte][6]byte

func (k knownHops) Lookup(dst [4]byte) ([6]byte, bool)  { m, ok := k[dst]; return m, ok }
func (k knownHops) Resolve(dst [4]byte) ([6]byte, bool) { return k.Lookup(dst) }
func (k knownHops) SendIP(*handoff.Meta, []byte) error  { return nil }

// TestWorkerRelayedRenewal: the worker answers a relayed renewal from
// its lease cache only when the request came by unicast from giaddr and
// the relay's next hop is known, and then addresses the ACK to that next
// hop, not to the Ethernet source of the request. Everything else goes to
// the slow path, which checks the relay.
func TestWorkerRelayedRenewal(t *testing.T) {
	e := newIdleWorkerEnv(t)
	relay := [4]byte{10, 79, 0, 254}
	relayMAC := [6]byte{2, 0xee, 0, 0, 0, 1}
	m := e.renewal(t)
	m.GatewayIPAddr = net.IP(relay[:])
	if err := e.cache.Put(e.entry(t, m, 10)); err != nil {
		t.Fatal(err)
	}
	spoofer := [6]byte{2, 0xbb, 0, 0, 0, 1}
	arrive := func(src [4]byte, dst [4]byte) (handoff.Meta, []byte) {
		t.Helper()
		_, meta, payload, err := testframe.Arrived(handoff.Meta{SrcMAC: spoofer, DstMAC: e.w.cfg.IfMAC, SrcIP: src, DstIP: dst,
			SrcPort: 67, DstPort: 67, TTL: 64}, m.ToBytes())
		if err != nil {
			t.Fatal(err)
		}
		return meta, payload
	}
	now := time.Now().Unix()
	var view dhcpview.View
	server := wtServer.Addr().As4()
	for _, tc := range []struct {
		name     string
		hops     NextHop
		src, dst [4]byte
		answered bool
	}{
		{"from giaddr, relay known", knownHops{relay: relayMAC}, relay, server, true},
		{"from giaddr, relay not resolved yet", knownHops{}, relay, server, false},
		{"no router", nil, relay, server, false},
		{"from another address", knownHops{relay: relayMAC}, [4]byte{10, 79, 0, 77}, server, false},
		{"broadcast", knownHops{relay: relayMAC}, relay, [4]byte{255, 255, 255, 255}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.w.cfg.NextHop = tc.hops
			meta, payload := arrive(tc.src, tc.dst)
			d, ok := e.w.answer(&view, payload, &meta, now)
			if ok != tc.answered {
				t.Fatalf("answered from the cache: %v, want %v", ok, tc.answered)
			}
			if !ok {
				return
			}
			defer e.w.cfg.Socket.Release(d.Addr)
			f := e.w.cfg.Socket.Frame(d)
			if [6]byte(f[:6]) != relayMAC {
				t.Errorf("ACK to %x, want the relay's next hop %x (the request came from %x)", f[:6], relayMAC, spoofer)
			}
			reply, err := dhcpv4.FromBytes(f[42:d.Len])
			if err != nil {
				t.Fatal(err)
			}
			if reply.MessageType() != dhcpv4.MessageTypeAck || !reply.GatewayIPAddr.Equal(net.IP(relay[:])) {
				t.Errorf("reply %v giaddr %v", reply.MessageType(), reply.GatewayIPAddr)
			}
		})
	}
}
