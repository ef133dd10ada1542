package main

import (
	"net"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"

	w6 "xdhcp/dhcp6"
)

// TestE2EDhcp6XDP: with XDP on, DHCPv6 goes through the XDP program and
// the AF_XDP workers to the DHCPv6 engine: dhclient -6 gets an address and
// a prefix; then a client's Renew of its bindings (cache-threshold 0.5) is
// answered by a worker from the lease cache, with the remaining lifetimes.
func TestE2EDhcp6XDP(t *testing.T) {
	e := newV6Env(t)
	e.mode = "native"
	cfg := e.baseConfig()
	s6 := e.dhcp6Section()
	s6["cache-threshold"] = 0.5
	cfg["Dhcp6"] = s6
	d := e.startDaemon(cfg)
	addr, prefix := e.dhclient6(t)
	e.checkV6Binding(t, addr, prefix)
	if d.stat("xdp-redirected6") < 1 || d.stat("fastpath-handoffs6") < 1 {
		t.Fatalf("dhclient -6 was not served through XDP: xdp-redirected6 %d, fastpath-handoffs6 %d",
			d.stat("xdp-redirected6"), d.stat("fastpath-handoffs6"))
	}

	// A client of the test's own: Solicit for the server's DUID, Request,
	// then Renew the address and prefix it got.
	conn := newClient6(t, e).direct
	duid := []byte{0, 3, 0, 1, 2, 0, 0, 0, 0x66, 0x01}
	exchange := func(msg []byte) *dhcpv6.Message {
		t.Helper()
		if _, err := conn.WriteToUDP(msg, &net.UDPAddr{IP: dhcpv6.AllDHCPRelayAgentsAndServers, Port: 547, Zone: e2eClientIf}); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 1500)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			n, _, err := conn.ReadFromUDP(buf)
			if err != nil {
				t.Fatalf("no answer to message type %d: %v", msg[0], err)
			}
			m, err := dhcpv6.MessageFromBytes(buf[:n])
			if err == nil && m.TransactionID == [3]byte(msg[1:4]) {
				return m
			}
		}
	}
	build := func(typ w6.MsgType, serverID []byte, addr, pfx net.IP, plen int) []byte {
		var b w6.Builder
		b.Header(typ, [3]byte{0x66, 0, byte(typ)})
		b.Option(w6.OptClientID, duid)
		if serverID != nil {
			b.Option(w6.OptServerID, serverID)
		}
		b.Option(w6.OptORO, []byte{0, 23})
		b.OptionU16(w6.OptElapsedTime, 0)
		m := b.IA(w6.OptIANA, 1, 0, 0)
		if addr != nil {
			b.End(b.IAAddr([16]byte(addr.To16()), 0, 0))
		}
		b.End(m)
		m = b.IA(w6.OptIAPD, 2, 0, 0)
		if pfx != nil {
			b.End(b.IAPrefix([16]byte(pfx.To16()), uint8(plen), 0, 0))
		}
		b.End(m)
		return b.B
	}
	adv := exchange(build(w6.Solicit, nil, nil, nil, 0))
	sid := adv.Options.ServerID().ToBytes()
	rep := exchange(build(w6.Request, sid, nil, nil, 0))
	na, pd := rep.Options.OneIANA(), rep.Options.OneIAPD()
	if na == nil || pd == nil || len(na.Options.Addresses()) != 1 || len(pd.Options.Prefixes()) != 1 {
		t.Fatalf("Request answered %v", rep)
	}
	a, p := na.Options.Addresses()[0].IPv6Addr, pd.Options.Prefixes()[0].Prefix
	plen, _ := p.Mask.Size()
	hits := d.stat("fastpath-cache-hits6")
	renewed := exchange(build(w6.Renew, sid, a, p.IP, plen))
	ra := renewed.Options.OneIANA().Options.Addresses()
	if renewed.MessageType != dhcpv6.MessageTypeReply || len(ra) != 1 || !ra[0].IPv6Addr.Equal(a) ||
		ra[0].ValidLifetime > 4000*time.Second || ra[0].ValidLifetime < 3990*time.Second {
		t.Fatalf("Renew answered %v", renewed)
	}
	if got := d.stat("fastpath-cache-hits6"); got != hits+1 {
		t.Errorf("fastpath-cache-hits6 %d, want %d: the Renew was not answered from the cache", got, hits+1)
	}
}
