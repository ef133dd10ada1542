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

// replyCounter counts the DHCP replies (UDP from port 67) that reach the
// client's interface addressed to its MAC, whatever their IP destination:
// a reply a spoofer could read off its own link.
func (e *e2eEnv) replyCounter(t *testing.T) *atomic.Int64 {
	t.Helper()
	var fd int
	if err := e.cli.Do(func() (err error) {
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_IP)))
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
	var n atomic.Int64
	done := make(chan struct{})
	stop := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			select {
			case <-stop:
				return
			default:
			}
			k, from, err := unix.Recvfrom(fd, buf, 0)
			if err != nil || k < 28 {
				continue
			}
			ll, ok := from.(*unix.SockaddrLinklayer)
			if !ok || ll.Pkttype != unix.PACKET_HOST {
				continue // only frames addressed to this interface's MAC
			}
			ihl := int(buf[0]&0x0f) * 4
			if buf[9] == unix.IPPROTO_UDP && k >= ihl+8 && binary.BigEndian.Uint16(buf[ihl:]) == 67 {
				n.Add(1)
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done; unix.Close(fd) })
	return &n
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
		replies := e.replyCounter(t)
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
				n.start(n.xdhcpdConfig(haServerCfg{ifaces: []string{ifc}, ctl: []string{n.ip(ifc)}, subnets: subnets,
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
