package fastpath

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"xdhcp/handoff"
	"xdhcp/internal/lab"
)

// TestRouterRepliesToRelayByIP: a reply addressed to a relay by IP alone
// goes through the kernel while the relay's MAC is unknown (the kernel
// resolves it), and afterwards leaves with the MAC the neighbour table
// holds for giaddr: the relay's, whoever sent the request.
func TestRouterRepliesToRelayByIP(t *testing.T) {
	_, p := lab.PairForTest(t, "rtr", "rs0", netip.MustParsePrefix("10.61.0.1/24"), "rc0", netip.MustParsePrefix("10.61.0.2/24"))
	relay := netip.MustParseAddr("10.61.0.2")

	var conn *net.UDPConn
	if err := p.Client.Do(func() (err error) {
		conn, err = net.ListenUDP("udp4", &net.UDPAddr{IP: relay.AsSlice(), Port: 67})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	var r *Router
	if err := p.Server.Do(func() (err error) {
		r, err = NewRouter(p.ServerIndex)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	if _, ok := r.Lookup(relay.As4()); ok {
		t.Fatal("next hop cached before anything was sent")
	}
	m := handoff.Meta{SrcMAC: p.ServerMAC, SrcIP: [4]byte{10, 61, 0, 1}, DstIP: relay.As4(), SrcPort: 67, DstPort: 67, TTL: 64}
	kernel, err := route(r, &m, []byte("offer for the relay"))
	if err != nil {
		t.Fatal(err)
	}
	if !kernel {
		t.Fatalf("unresolved relay: sent by frame to %x, want through the kernel", m.DstMAC)
	}
	buf := make([]byte, 512)
	conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	n, from, err := conn.ReadFromUDP(buf)
	if err != nil {
		t.Fatalf("the relay got nothing: %v", err)
	}
	if string(buf[:n]) != "offer for the relay" || from.Port != 67 || !from.IP.Equal(net.IPv4(10, 61, 0, 1)) {
		t.Fatalf("relay got %q from %v", buf[:n], from)
	}

	// The kernel resolved the relay while sending: the next reply is
	// addressed to its MAC, for the AF_XDP or AF_PACKET frame.
	deadline := time.Now().Add(3 * time.Second)
	for {
		m2 := handoff.Meta{SrcIP: [4]byte{10, 61, 0, 1}, DstIP: relay.As4(), SrcPort: 67, DstPort: 67}
		kernel, err := route(r, &m2, []byte("ack"))
		if err != nil {
			t.Fatal(err)
		}
		if !kernel {
			if m2.DstMAC != p.ClientMAC {
				t.Fatalf("next hop %x, want the relay's %x", m2.DstMAC, p.ClientMAC)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("relay's MAC never resolved")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if mac, ok := r.Lookup(relay.As4()); !ok || mac != p.ClientMAC {
		t.Errorf("Lookup = %x, %v after resolution", mac, ok)
	}
	// A MAC already set (a client's, by chaddr) is left alone.
	direct := handoff.Meta{DstMAC: [6]byte{2, 1, 2, 3, 4, 5}, DstIP: [4]byte{10, 61, 0, 50}}
	if kernel, err := route(r, &direct, nil); kernel || err != nil || direct.DstMAC != [6]byte{2, 1, 2, 3, 4, 5} {
		t.Errorf("route changed a reply with a MAC: %v %v %x", kernel, err, direct.DstMAC)
	}
	// Without a router a reply by IP alone is refused, never sent to a
	// guessed MAC.
	if kernel, err := route(nil, &handoff.Meta{DstIP: relay.As4()}, nil); !kernel || err == nil {
		t.Errorf("route without a router: %v %v", kernel, err)
	}
}
