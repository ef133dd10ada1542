package main

// Relay trust end to end: a subscriber on the server's link that claims to
// be another subnet's relay gets nothing, while perfdhcp's broadcast mode
// (a relay on the server's link, as in Kea's HA quickstart test
// procedure) is still served.

import (
	"encoding/binary"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"xdhcp/fastpath/frame"
	"xdhcp/handoff"
)

// otherSubnet is a subnet behind a relay that is not on the test link.
const (
	otherSubnet = "192.168.77.0/24"
	otherRelay  = "192.168.77.1"
	otherPoolIP = "192.168.77.10"
)

func (e *e2eEnv) twoSubnetConfig() map[string]any {
	cfg := e.bigPoolConfig()
	dhcp4(cfg)["subnet4"] = append(dhcp4(cfg)["subnet4"].([]any), map[string]any{
		"id": 2, "subnet": otherSubnet,
		"pools": []any{map[string]any{"pool": otherPoolIP + " - 192.168.77.50"}},
	})
	return cfg
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// addServerRoute routes dst via gw in the server namespace: relays'
// networks, which replies to relays are routed to.
func (e *e2eEnv) addServerRoute(dst netip.Prefix, gw string) {
	e.t.Helper()
	h, err := e.srv.Handle()
	if err != nil {
		e.t.Fatal(err)
	}
	defer h.Close()
	if err := h.RouteAdd(&netlink.Route{Dst: &net.IPNet{IP: dst.Addr().AsSlice(), Mask: net.CIDRMask(dst.Bits(), 32)},
		Gw: net.ParseIP(gw)}); err != nil {
		e.t.Fatalf("route %s via %s in the server namespace: %v", dst, gw, err)
	}
}

// TestE2ESpoofedRelay: a subscriber broadcasting a DISCOVER and a REQUEST
// with another subnet's router as giaddr gets no lease and no reply, and
// the drops are counted. Before relay trust, it got an OFFER and an ACK
// from the other subnet, sent to its own MAC.
func TestE2ESpoofedRelay(t *testing.T) {
	forModes(t, func(t *testing.T, e *e2eEnv) {
		d := e.startDaemon(e.twoSubnetConfig())
		// Replies a spoofer could read off its own link: to its MAC.
		replies, _ := e.frameCounter(t, [6]byte(e.cMAC), [6]byte{})
		hw := mac(7, 1)
		giaddr := dhcpv4.WithGatewayIP(net.ParseIP(otherRelay))
		disc, err := dhcpv4.NewDiscovery(hw, giaddr)
		if err != nil {
			t.Fatal(err)
		}
		req, err := dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest), dhcpv4.WithHwAddr(hw), giaddr,
			dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.ParseIP(e2eServerIP))),
			dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.ParseIP(otherPoolIP))))
		if err != nil {
			t.Fatal(err)
		}
		conn := e.rawConn()
		for _, m := range []*dhcpv4.DHCPv4{disc, req} {
			if _, err := conn.WriteTo(m.ToBytes(), e2eBcastUDP); err != nil {
				t.Fatal(err)
			}
		}
		if !poll(3*time.Second, func() bool { return d.stat("xdhcp-pkt4-untrusted-relay-drop") >= 2 }) {
			t.Errorf("xdhcp-pkt4-untrusted-relay-drop = %d, want 2", d.stat("xdhcp-pkt4-untrusted-relay-drop"))
		}
		time.Sleep(300 * time.Millisecond) // a reply, if any, has arrived
		if n := replies.Load(); n != 0 {
			t.Errorf("%d replies reached the spoofer's MAC", n)
		}
		for _, l := range d.leases() {
			t.Errorf("spoofed relay got lease %s (%s)", l.IPAddress, l.HWAddress)
		}
		if n := d.stat("pkt4-ack-sent") + d.stat("pkt4-offer-sent"); n != 0 {
			t.Errorf("%d OFFERs/ACKs sent", n)
		}
	})
}

// TestE2EPerfdhcpBroadcast: perfdhcp in broadcast mode (-l <interface>),
// as Kea's HA quickstart test procedure runs it, is a relay on the
// server's link (giaddr = its own address) and is served in full.
func TestE2EPerfdhcpBroadcast(t *testing.T) {
	pd := needBinary(t, "perfdhcp")
	forModesSerial(t, func(t *testing.T, e *e2eEnv) {
		d := e.startDaemon(e.twoSubnetConfig())
		out, err := e.runClient(60*time.Second, pd, "-4", "-l", e2eClientIf, "-R", "200", "-r", "50", "-p", "3", "-W", "2000000")
		t.Logf("perfdhcp:\n%s", out)
		if err != nil && !strings.Contains(out, "REQUEST-ACK") {
			t.Fatalf("perfdhcp: %v", err)
		}
		st := parsePerfdhcp(t, out)
		do, ra := st["DISCOVER-OFFER"], st["REQUEST-ACK"]
		if do.sent == 0 || do.drops != 0 || ra.sent == 0 || ra.drops != 0 {
			t.Errorf("perfdhcp broadcast: DISCOVER-OFFER %+v, REQUEST-ACK %+v: want traffic and zero drops", do, ra)
		}
		if n := d.stat("xdhcp-pkt4-untrusted-relay-drop"); n != 0 {
			t.Errorf("xdhcp-pkt4-untrusted-relay-drop = %d for perfdhcp's broadcasts", n)
		}
		if acks := d.stat("pkt4-ack-sent"); acks != int64(ra.received) {
			t.Errorf("pkt4-ack-sent %d, perfdhcp received %d ACKs", acks, ra.received)
		}
	})
}

// withSplitClientID returns the encoded message m with a client
// identifier in two option-61 pieces (RFC 3396) before its End option.
func withSplitClientID(t *testing.T, m *dhcpv4.DHCPv4, cid []byte, cut int) []byte {
	t.Helper()
	b := m.ToBytes()
	for i := 240; i < len(b); {
		switch b[i] {
		case 0:
			i++
			continue
		case 255:
			split := []byte{61, byte(cut)}
			split = append(split, cid[:cut]...)
			split = append(split, 61, byte(len(cid)-cut))
			split = append(split, cid[cut:]...)
			return append(append(append([]byte(nil), b[:i]...), split...), b[i:]...)
		}
		if i+1 >= len(b) {
			break
		}
		i += 2 + int(b[i+1])
	}
	t.Fatal("no End option in the encoded message")
	return nil
}

// TestE2EDropListEveryPath: a client identifier put on the drop list at
// run time is honoured in socket mode too (the engine enforces the list;
// before, the command answered that there was no drop list there), and a
// listed identifier split into two option-61 pieces is dropped (in XDP,
// which joins the pieces, or by the engine; before, it passed XDP and was
// served).
func TestE2EDropListEveryPath(t *testing.T) {
	forModes(t, func(t *testing.T, e *e2eEnv) {
		d := e.startDaemon(e.baseConfig())
		cid := []byte{0x01, 0x02, 0x78, 0x78, 0x09, 0x00, 0x01}
		d.ok("xdhcp-drop-add", map[string]any{"client-id": "01:02:78:78:09:00:01"}, nil)
		disc, err := dhcpv4.NewDiscovery(mac(9, 1))
		if err != nil {
			t.Fatal(err)
		}
		conn := e.rawConn()
		if _, err := conn.WriteTo(withSplitClientID(t, disc, cid, 3), e2eBcastUDP); err != nil {
			t.Fatal(err)
		}
		counter := "xdhcp-pkt4-drop-list-drop"
		if e.mode != "off" {
			counter = "xdp-drop-client-id"
		}
		if !poll(3*time.Second, func() bool { return d.stat(counter) == 1 }) {
			t.Errorf("%s = %d, want 1", counter, d.stat(counter))
		}
		time.Sleep(200 * time.Millisecond)
		if n := d.stat("pkt4-offer-sent"); n != 0 {
			t.Fatalf("a listed client-id split in two was offered an address (%d OFFERs)", n)
		}
		d.ok("xdhcp-drop-del", map[string]any{"client-id": "01:02:78:78:09:00:01"}, nil)
		if _, err := conn.WriteTo(withSplitClientID(t, disc, cid, 3), e2eBcastUDP); err != nil {
			t.Fatal(err)
		}
		if !poll(3*time.Second, func() bool { return d.stat("pkt4-offer-sent") == 1 }) {
			t.Errorf("after xdhcp-drop-del: pkt4-offer-sent = %d, want 1", d.stat("pkt4-offer-sent"))
		}
	})
}

// TestE2EHAPerfdhcpBroadcast: Kea's HA test procedure, perfdhcp in
// broadcast mode on the link of a load-balancing pair, keeps working with
// relay trust: every exchange is answered by the server whose scope the
// client hashes to, and neither server counts an untrusted relay.
func TestE2EHAPerfdhcpBroadcast(t *testing.T) {
	pd := needBinary(t, "perfdhcp")
	for _, mode := range []string{"off", "native"} {
		t.Run("xdp="+mode, func(t *testing.T) {
			_, seg, s1, s2 := haPair(t)
			bpffs := ""
			if mode != "off" {
				bpffs = mountBPFFS(t)
			}
			peers := []haPeer{{"server1", haURL("10.99.0.1"), "primary"}, {"server2", haURL("10.99.0.2"), "secondary"}}
			subnets := []any{haSubnet(1, "10.99.0.0/16",
				[]string{"10.99.1.1 - 10.99.1.250|HA_server1", "10.99.2.1 - 10.99.2.250|HA_server2"}, nil)}
			for _, n := range []*haNode{s1, s2} {
				ifc := map[*haNode]string{s1: "s1", s2: "s2"}[n]
				n.start(n.xdhcpdConfig(haServerCfg{ifaces: []string{ifc}, subnets: subnets,
					rels: []any{haRel(n.name, "load-balancing", peers, nil)}, xdp: mode, bpffs: bpffs}))
			}
			waitPair(t, s1.d, s2.d, "load-balancing", 20*time.Second)
			// perfdhcp's giaddr is its interface's address on the link.
			if err := seg.cli.AddAddr(e2eClientIf, netip.MustParsePrefix("10.99.0.200/16")); err != nil {
				t.Fatal(err)
			}
			out, err := seg.env.runClient(60*time.Second, pd, "-4", "-l", e2eClientIf, "-R", "100", "-r", "20", "-p", "4", "-W", "2000000")
			t.Logf("perfdhcp:\n%s", out)
			if err != nil && !strings.Contains(out, "REQUEST-ACK") {
				t.Fatalf("perfdhcp: %v", err)
			}
			st := parsePerfdhcp(t, out)
			do, ra := st["DISCOVER-OFFER"], st["REQUEST-ACK"]
			if do.sent == 0 || do.drops != 0 || ra.sent == 0 || ra.drops != 0 {
				t.Errorf("perfdhcp broadcast against the pair: DISCOVER-OFFER %+v, REQUEST-ACK %+v: want traffic and zero drops", do, ra)
			}
			var acks int64
			for _, n := range []*haNode{s1, s2} {
				if v := n.d.stat("xdhcp-pkt4-untrusted-relay-drop"); v != 0 {
					t.Errorf("%s: xdhcp-pkt4-untrusted-relay-drop = %d", n.name, v)
				}
				acks += n.d.stat("pkt4-ack-sent")
			}
			if acks != int64(ra.received) {
				t.Errorf("the pair sent %d ACKs, perfdhcp received %d", acks, ra.received)
			}
		})
	}
}

// TestE2ERelayReplyByRoute: a relayed request that passes the relay check
// (here its source claims to be giaddr) is answered along the route to
// giaddr, never to the Ethernet source of the frame. The frame comes from
// a MAC that is not the relay's; the server routes giaddr's network via
// the relay 10.88.0.2. Before, the OFFER went to the frame's source MAC.
func TestE2ERelayReplyByRoute(t *testing.T) {
	forModes(t, func(t *testing.T, e *e2eEnv) {
		d := e.startDaemon(e.twoSubnetConfig())
		e.addServerRoute(netip.MustParsePrefix(otherSubnet), e2eClientIP)
		srvMAC, err := e.srv.LinkMAC(e2eServerIf)
		if err != nil {
			t.Fatal(err)
		}
		intruder := [6]byte{0x02, 0x66, 0x66, 0, 0, 1}
		relayMAC := [6]byte(e.cMAC)
		toIntruder, toRelay := e.frameCounter(t, intruder, relayMAC)

		disc, err := dhcpv4.NewDiscovery(mac(8, 1), dhcpv4.WithGatewayIP(net.ParseIP(otherRelay)))
		if err != nil {
			t.Fatal(err)
		}
		m := handoff.Meta{SrcMAC: intruder, DstMAC: srvMAC, SrcIP: netip.MustParseAddr(otherRelay).As4(),
			DstIP: netip.MustParseAddr(e2eServerIP).As4(), SrcPort: 67, DstPort: 67, TTL: 64}
		e.injectFrame(t, &m, disc.ToBytes())
		if !poll(3*time.Second, func() bool { return toRelay.Load() >= 1 }) {
			t.Errorf("no reply reached the relay's MAC along the route (pkt4-offer-sent %d)", d.stat("pkt4-offer-sent"))
		}
		time.Sleep(200 * time.Millisecond)
		if n := toIntruder.Load(); n != 0 {
			t.Errorf("%d replies went to the frame's source MAC", n)
		}
	})
}

// frameCounter counts the frames from UDP port 67 seen on the client's
// interface addressed to each of two MACs (the interface is not
// promiscuous, but a veth delivers every frame to its peer).
func (e *e2eEnv) frameCounter(t *testing.T, a, b [6]byte) (toA, toB *atomic.Int64) {
	t.Helper()
	var fd int
	if err := e.cli.Do(func() (err error) {
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_IP)))
		if err != nil {
			return err
		}
		ifc, err := net.InterfaceByName(e2eClientIf)
		if err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: ifc.Index})
	}); err != nil {
		t.Fatalf("capture socket: %v", err)
	}
	tv := unix.NsecToTimeval(int64(100 * time.Millisecond))
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	toA, toB = new(atomic.Int64), new(atomic.Int64)
	done, stop := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			select {
			case <-stop:
				return
			default:
			}
			k, _, err := unix.Recvfrom(fd, buf, 0)
			if err != nil || k < 14+28 {
				continue
			}
			ip := buf[14:k]
			ihl := int(ip[0]&0x0f) * 4
			if ip[9] != unix.IPPROTO_UDP || len(ip) < ihl+8 || binary.BigEndian.Uint16(ip[ihl:]) != 67 {
				continue
			}
			switch [6]byte(buf[:6]) {
			case a:
				toA.Add(1)
			case b:
				toB.Add(1)
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done; unix.Close(fd) })
	return toA, toB
}

// injectFrame sends one Ethernet frame built from m out of the client's
// interface, whatever its source MAC and IP.
func (e *e2eEnv) injectFrame(t *testing.T, m *handoff.Meta, payload []byte) {
	t.Helper()
	buf := make([]byte, 2048)
	n, err := frame.Build(buf, m, payload)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.cli.Do(func() error {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		ifc, err := net.InterfaceByName(e2eClientIf)
		if err != nil {
			return err
		}
		return unix.Sendto(fd, buf[:n], 0, &unix.SockaddrLinklayer{Ifindex: ifc.Index, Halen: 6, Addr: [8]byte(append(m.DstMAC[:], 0, 0))})
	}); err != nil {
		t.Fatalf("inject frame: %v", err)
	}
}
