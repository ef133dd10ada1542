package main

// RFC 2131 message flows against the running daemon with nclient4 in the
// client namespace: DORA, renew (unicast), rebind (broadcast), inform,
// decline, release, and NAKs for addresses the client may not have.

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"

	"xdhcp/internal/daemontest"
)

var (
	e2eServerUDP = &net.UDPAddr{IP: net.ParseIP(e2eServerIP).To4(), Port: nclient4.ServerPort}
	e2eBcastUDP  = &net.UDPAddr{IP: net.IPv4bcast, Port: nclient4.ServerPort}
)

// inPool reports whether ip is inside the test pool.
func inPool(ip net.IP) bool {
	a, ok := netip.AddrFromSlice(ip.To4())
	if !ok {
		return false
	}
	return a.Compare(netip.MustParseAddr(e2ePoolStart)) >= 0 && a.Compare(netip.MustParseAddr(e2ePoolEnd)) <= 0
}

// rowsFor returns the CSV rows of one address, in file order.
func rowsFor(rows []csvRow, ip string) []csvRow {
	var out []csvRow
	for _, r := range rows {
		if r.Address == ip {
			out = append(out, r)
		}
	}
	return out
}

func TestE2EProtocolNclient4(t *testing.T) { forModes(t, testE2EProtocolNclient4) }

func testE2EProtocolNclient4(t *testing.T, e *e2eEnv) {
	d := e.startDaemon(e.baseConfig())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// DORA with the veth's own MAC, so that unicast replies reach xc0.
	a := e.nclient(e.cMAC)
	la := dora(t, a)
	ack := la.ACK
	ipA := ack.YourIPAddr.String()
	t.Run("DORA", func(t *testing.T) {
		if !inPool(ack.YourIPAddr) {
			t.Errorf("ACK yiaddr %s outside pool %s-%s", ipA, e2ePoolStart, e2ePoolEnd)
		}
		if !ack.YourIPAddr.Equal(la.Offer.YourIPAddr) {
			t.Errorf("ACK %s differs from OFFER %s", ipA, la.Offer.YourIPAddr)
		}
		if sid := ack.ServerIdentifier(); !sid.Equal(e2eServerUDP.IP) {
			t.Errorf("server identifier %v, want %s", sid, e2eServerIP)
		}
		if lt := ack.IPAddressLeaseTime(0); lt != time.Hour {
			t.Errorf("lease time %v, want 1h", lt)
		}
		if r := ack.Router(); len(r) != 1 || !r[0].Equal(e2eServerUDP.IP) {
			t.Errorf("routers %v, want [%s]", r, e2eServerIP)
		}
		if m := ack.SubnetMask(); !bytes.Equal(m, net.CIDRMask(16, 32)) {
			t.Errorf("subnet mask %v, want /16", m)
		}
		l, ok := d.lease(ipA)
		if !ok {
			t.Fatalf("lease4-get %s: not found after ACK", ipA)
		}
		if l.HWAddress != e.cMAC.String() || l.State != 0 || l.SubnetID != 1 || l.ValidLft != 3600 {
			t.Errorf("lease4-get %s = %+v, want hw %s state 0 subnet 1 valid 3600", ipA, l, e.cMAC)
		}
		rows := rowsFor(readCSV(t, e.leasePath()), ipA)
		if len(rows) != 1 || rows[0].HWAddr != e.cMAC.String() || rows[0].ValidLft != 3600 {
			t.Errorf("CSV rows for %s = %+v, want one row with %s, 3600", ipA, rows, e.cMAC)
		}
	})

	t.Run("RenewUnicast", func(t *testing.T) {
		// A RENEWING client has its address and talks to the server by
		// unicast UDP from it (RFC 2131 4.4.5): give xc0 the address and
		// use an ordinary socket bound to it, so only a unicast reply to
		// ciaddr can arrive.
		e.addClientAddr(netip.PrefixFrom(netip.MustParseAddr(ipA), 16))
		u := e.nclient(e.cMAC, nclient4.WithUnicast(&net.UDPAddr{IP: ack.YourIPAddr, Port: nclient4.ClientPort}),
			nclient4.WithServerAddr(e2eServerUDP))
		before := len(readCSV(t, e.leasePath()))
		l2, err := u.Renew(ctx, la, daemontest.FreshXID())
		if err != nil {
			t.Fatalf("unicast renew of %s: %v", ipA, err)
		}
		if !l2.ACK.YourIPAddr.Equal(ack.YourIPAddr) || !l2.ACK.ClientIPAddr.Equal(ack.YourIPAddr) {
			t.Errorf("renew ACK yiaddr %s ciaddr %s, want both %s", l2.ACK.YourIPAddr, l2.ACK.ClientIPAddr, ipA)
		}
		if lt := l2.ACK.IPAddressLeaseTime(0); lt != time.Hour {
			t.Errorf("renew lease time %v, want 1h (no cache-threshold configured)", lt)
		}
		// Without cache-threshold every renewal is written (Kea 2.2).
		if after := len(readCSV(t, e.leasePath())); after != before+1 {
			t.Errorf("CSV rows %d -> %d after renew, want +1", before, after)
		}
	})

	t.Run("Rebind", func(t *testing.T) {
		// REBINDING: ciaddr set, no server identifier, broadcast.
		before := len(readCSV(t, e.leasePath()))
		l2, err := a.Renew(ctx, la, dhcpv4.WithBroadcast(true), daemontest.FreshXID())
		if err != nil {
			t.Fatalf("rebind of %s: %v", ipA, err)
		}
		if !l2.ACK.YourIPAddr.Equal(ack.YourIPAddr) {
			t.Errorf("rebind ACK yiaddr %s, want %s", l2.ACK.YourIPAddr, ipA)
		}
		if after := len(readCSV(t, e.leasePath())); after != before+1 {
			t.Errorf("CSV rows %d -> %d after rebind, want +1", before, after)
		}
	})

	t.Run("Inform", func(t *testing.T) {
		// An INFORM from a host with a static address: configuration,
		// no lease (RFC 2131 4.3.5: no yiaddr, no lease time).
		c := e.nclient(mac(1, 1))
		r, err := c.Inform(ctx, net.ParseIP(e2eClientIP),
			dhcpv4.WithRequestedOptions(dhcpv4.OptionRouter, dhcpv4.OptionDomainNameServer))
		if err != nil {
			t.Fatalf("INFORM: %v", err)
		}
		if !r.YourIPAddr.IsUnspecified() {
			t.Errorf("INFORM ACK yiaddr %s, want 0.0.0.0", r.YourIPAddr)
		}
		if r.Options.Has(dhcpv4.OptionIPAddressLeaseTime) {
			t.Errorf("INFORM ACK carries a lease time (option 51)")
		}
		if rt := r.Router(); len(rt) != 1 || !rt[0].Equal(e2eServerUDP.IP) {
			t.Errorf("INFORM ACK routers %v, want [%s]", rt, e2eServerIP)
		}
		if _, ok := d.lease(e2eClientIP); ok {
			t.Errorf("INFORM created a lease for %s", e2eClientIP)
		}
	})

	t.Run("Decline", func(t *testing.T) {
		m := mac(1, 2)
		lb := dora(t, e.nclient(m))
		ipB := lb.ACK.YourIPAddr
		declinedBefore := d.stat("declined-addresses")
		dec, err := dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeDecline), dhcpv4.WithHwAddr(m),
			dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ipB)),
			dhcpv4.WithOption(dhcpv4.OptServerIdentifier(e2eServerUDP.IP)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.rawConn().WriteTo(dec.ToBytes(), e2eBcastUDP); err != nil {
			t.Fatal(err)
		}
		var l leaseJSON
		if !poll(3*time.Second, func() bool { l, _ = d.lease(ipB.String()); return l.State == 1 }) {
			t.Fatalf("lease4-get %s after DECLINE = %+v, want state 1 (declined)", ipB, l)
		}
		if got := d.stat("declined-addresses"); got != declinedBefore+1 {
			t.Errorf("declined-addresses %d, want %d", got, declinedBefore+1)
		}
		if got := d.stat("subnet[1].declined-addresses"); got < 1 {
			t.Errorf("subnet[1].declined-addresses %d, want >= 1", got)
		}
		// The declined address is on probation: the next client gets
		// another one.
		lc := dora(t, e.nclient(mac(1, 3)))
		if lc.ACK.YourIPAddr.Equal(ipB) {
			t.Errorf("declined address %s handed out again", ipB)
		}
	})

	t.Run("NAK", func(t *testing.T) {
		m := mac(1, 4)
		c := e.nclient(m)
		lc := dora(t, c)
		other := dora(t, e.nclient(mac(1, 5))).ACK.YourIPAddr
		initReboot := func(want net.IP) *dhcpv4.DHCPv4 {
			req, err := dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest), dhcpv4.WithHwAddr(m),
				dhcpv4.WithBroadcast(true), dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(want)))
			if err != nil {
				t.Fatal(err)
			}
			r, err := c.SendAndRead(ctx, e2eBcastUDP, req,
				nclient4.IsMessageType(dhcpv4.MessageTypeAck, dhcpv4.MessageTypeNak))
			if err != nil {
				t.Fatalf("INIT-REBOOT for %s: %v", want, err)
			}
			return r
		}
		nakBefore := d.stat("pkt4-nak-sent")
		// A client that moved from another network asks for its old
		// address: it must be told no.
		if r := initReboot(net.ParseIP("10.99.99.5")); r.MessageType() != dhcpv4.MessageTypeNak {
			t.Errorf("INIT-REBOOT for an address outside the subnet: %s, want NAK", r.MessageType())
		}
		// Another client's address.
		if r := initReboot(other); r.MessageType() != dhcpv4.MessageTypeNak {
			t.Errorf("INIT-REBOOT for another client's %s: %s (yiaddr %s), want NAK", other, r.MessageType(), r.YourIPAddr)
		}
		// The counter moves once the NAK is sent, which may be just after
		// the client has read it.
		if !poll(2*time.Second, func() bool { return d.stat("pkt4-nak-sent") == nakBefore+2 }) {
			t.Errorf("pkt4-nak-sent %d, want %d", d.stat("pkt4-nak-sent"), nakBefore+2)
		}
		if l, ok := d.lease(other.String()); !ok || l.HWAddress != mac(1, 5).String() {
			t.Errorf("other client's lease after the NAK: %+v %v", l, ok)
		}
		// Its own address is confirmed.
		if r := initReboot(lc.ACK.YourIPAddr); r.MessageType() != dhcpv4.MessageTypeAck ||
			!r.YourIPAddr.Equal(lc.ACK.YourIPAddr) {
			t.Errorf("INIT-REBOOT for its own %s: %s %s, want ACK", lc.ACK.YourIPAddr, r.MessageType(), r.YourIPAddr)
		}
	})

	t.Run("Release", func(t *testing.T) {
		assigned := d.stat("subnet[1].assigned-addresses")
		if err := a.Release(la); err != nil {
			t.Fatal(err)
		}
		if !poll(3*time.Second, func() bool { _, ok := d.lease(ipA); return !ok }) {
			l, _ := d.lease(ipA)
			t.Fatalf("lease4-get %s after RELEASE still finds %+v, want result 3", ipA, l)
		}
		rows := rowsFor(readCSV(t, e.leasePath()), ipA)
		if last := rows[len(rows)-1]; last.ValidLft != 0 {
			t.Errorf("last CSV row for released %s = %+v, want a deletion row (valid_lifetime 0)", ipA, last)
		}
		if got := d.stat("subnet[1].assigned-addresses"); got != assigned-1 {
			t.Errorf("subnet[1].assigned-addresses %d after release, want %d", got, assigned-1)
		}
	})
}

// sendRelayed sends msg from the relay socket to the server's unicast
// address and waits for the reply with msg's xid.
func sendRelayed(t *testing.T, relay *net.UDPConn, msg *dhcpv4.DHCPv4) (*dhcpv4.DHCPv4, *net.UDPAddr) {
	t.Helper()
	if _, err := relay.WriteToUDP(msg.ToBytes(), e2eServerUDP); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	deadline := time.Now().Add(3 * time.Second)
	for {
		relay.SetReadDeadline(deadline)
		n, from, err := relay.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("relay: no reply to %s xid %s: %v", msg.MessageType(), msg.TransactionID, err)
		}
		r, err := dhcpv4.FromBytes(buf[:n])
		if err == nil && r.TransactionID == msg.TransactionID && r.OpCode == dhcpv4.OpcodeBootReply {
			return r, from
		}
	}
}

func TestE2ERelayOption82(t *testing.T) { forModes(t, testE2ERelayOption82) }

func testE2ERelayOption82(t *testing.T, e *e2eEnv) {
	cfg := e.baseConfig()
	// Subnet 2 is chosen by relay.ip-addresses (the relay 10.88.0.2 is
	// outside it); subnet 3 by giaddr inside its prefix.
	dhcp4(cfg)["subnet4"] = append(dhcp4(cfg)["subnet4"].([]any),
		map[string]any{
			"id": 2, "subnet": "10.99.0.0/24",
			"pools": []any{map[string]any{"pool": "10.99.0.10 - 10.99.0.20"}},
			"relay": map[string]any{"ip-addresses": []any{e2eClientIP}},
		},
		map[string]any{
			"id": 3, "subnet": "10.77.0.0/24",
			"pools": []any{map[string]any{"pool": "10.77.0.50 - 10.77.0.60"}},
		})
	d := e.startDaemon(cfg)
	// The second relay address must be local to the client namespace so
	// that replies to it (giaddr, port 67) are delivered to our socket.
	e.addClientAddr(netip.MustParsePrefix("10.77.0.1/24"))
	// Replies to a relay are routed to giaddr, so the server needs a
	// route to it, as a real server has to its relays' networks.
	e.addServerRoute(netip.MustParsePrefix("10.77.0.0/24"), e2eClientIP)
	relay := e.udpConn("0.0.0.0:67")

	// Circuit-id "port-7", remote-id "rack".
	opt82 := []byte{1, 6, 'p', 'o', 'r', 't', '-', '7', 2, 4, 'r', 'a', 'c', 'k'}
	for _, tc := range []struct {
		giaddr   string
		subnetID uint32
		prefix   string
	}{
		{e2eClientIP, 2, "10.99.0.0/24"},
		{"10.77.0.1", 3, "10.77.0.0/24"},
	} {
		t.Run(tc.giaddr, func(t *testing.T) {
			m := mac(2, int(tc.subnetID))
			gi := net.ParseIP(tc.giaddr).To4()
			mods := []dhcpv4.Modifier{
				func(m *dhcpv4.DHCPv4) { m.HopCount = 1 }, dhcpv4.WithGatewayIP(gi),
				dhcpv4.WithGeneric(dhcpv4.OptionRelayAgentInformation, opt82),
			}
			disc, err := dhcpv4.NewDiscovery(m, mods...)
			if err != nil {
				t.Fatal(err)
			}
			offer, from := sendRelayed(t, relay, disc)
			check := func(r *dhcpv4.DHCPv4, from *net.UDPAddr, want dhcpv4.MessageType) {
				t.Helper()
				if r.MessageType() != want {
					t.Fatalf("got %s, want %s", r.MessageType(), want)
				}
				if from.Port != 67 || !from.IP.Equal(e2eServerUDP.IP) {
					t.Errorf("%s came from %s, want %s:67", want, from, e2eServerIP)
				}
				if got := r.Options.Get(dhcpv4.OptionRelayAgentInformation); !bytes.Equal(got, opt82) {
					t.Errorf("%s option 82 = %x, want %x echoed", want, got, opt82)
				}
				if !r.GatewayIPAddr.Equal(gi) {
					t.Errorf("%s giaddr %s, want %s", want, r.GatewayIPAddr, gi)
				}
				a, _ := netip.AddrFromSlice(r.YourIPAddr.To4())
				if !netip.MustParsePrefix(tc.prefix).Contains(a) {
					t.Errorf("%s yiaddr %s, want one from %s", want, a, tc.prefix)
				}
			}
			check(offer, from, dhcpv4.MessageTypeOffer)
			req, err := dhcpv4.NewRequestFromOffer(offer, mods...)
			if err != nil {
				t.Fatal(err)
			}
			ack, from := sendRelayed(t, relay, req)
			check(ack, from, dhcpv4.MessageTypeAck)
			l, ok := d.lease(ack.YourIPAddr.String())
			if !ok || l.SubnetID != tc.subnetID || l.HWAddress != m.String() {
				t.Errorf("lease4-get %s = %+v (found %v), want subnet %d hw %s", ack.YourIPAddr, l, ok, tc.subnetID, m)
			}
		})
	}
}

func TestE2EReservationsAndDrop(t *testing.T) { forModes(t, testE2EReservationsAndDrop) }

func testE2EReservationsAndDrop(t *testing.T, e *e2eEnv) {
	cfg := e.baseConfig()
	reserved, dropRes, dropTest := mac(3, 1), mac(3, 2), mac(3, 3)
	dhcp4(cfg)["client-classes"] = []any{map[string]any{
		// Members get no answer at all: by test expression here, and by
		// the reservation below.
		"name": "DROP", "test": "pkt4.mac == 0x" + hexNoColon(dropTest),
	}}
	subnet(cfg, 0)["reservations"] = []any{
		map[string]any{"hw-address": reserved.String(), "ip-address": "10.88.0.10", "hostname": "reserved-host"},
		map[string]any{"hw-address": dropRes.String(), "client-classes": []any{"DROP"}},
	}
	d := e.startDaemon(cfg)

	t.Run("FixedAddress", func(t *testing.T) {
		l := dora(t, e.nclient(reserved), dhcpv4.WithOption(dhcpv4.OptHostName("whatever")),
			dhcpv4.WithRequestedOptions(dhcpv4.OptionHostName))
		if got := l.ACK.YourIPAddr.String(); got != "10.88.0.10" {
			t.Errorf("reserved client got %s, want 10.88.0.10", got)
		}
		if h := l.ACK.HostName(); h != "reserved-host" {
			t.Errorf("ACK host name %q, want the reserved reserved-host", h)
		}
		lj, ok := d.lease("10.88.0.10")
		if !ok || lj.Hostname != "reserved-host" || lj.HWAddress != reserved.String() {
			t.Errorf("lease4-get 10.88.0.10 = %+v (found %v), want hostname reserved-host hw %s", lj, ok, reserved)
		}
		// Nobody else gets the reserved address, even when asking for it:
		// another address is offered, and a REQUEST for it is refused.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		other := e.nclient(mac(3, 9))
		want := dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.ParseIP("10.88.0.10")))
		offer, err := other.DiscoverOffer(ctx, want)
		if err != nil {
			t.Fatal(err)
		}
		if offer.YourIPAddr.String() == "10.88.0.10" {
			t.Errorf("another client was offered the reserved address")
		}
		_, err = other.RequestFromOffer(ctx, offer, want)
		var nak *nclient4.ErrNak
		if !errors.As(err, &nak) {
			t.Errorf("REQUEST by another client for the reserved address: %v, want a NAK", err)
		}
	})

	for _, tc := range []struct {
		name string
		m    net.HardwareAddr
	}{{"DropByReservation", dropRes}, {"DropByTest", dropTest}} {
		t.Run(tc.name, func(t *testing.T) {
			// Kea counts a DROP-class packet in pkt4-receive-drop; in XDP
			// mode a DROP reservation dies in the driver and is counted in
			// xdp-drop-mac instead (0 when there is no such statistic).
			drops := func() int64 { return d.stat("pkt4-receive-drop") + d.stat("xdp-drop-mac") }
			before := drops()
			c := e.nclient(tc.m, nclient4.WithRetry(2), nclient4.WithTimeout(700*time.Millisecond))
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			offer, err := c.DiscoverOffer(ctx)
			if !errors.Is(err, nclient4.ErrNoResponse) {
				t.Fatalf("DROP-class client %s: got %v / %v, want no response", tc.m, offer, err)
			}
			// Two DISCOVERs went out (retry 2), both dropped and counted.
			var got int64
			poll(2*time.Second, func() bool { got = drops(); return got >= before+2 })
			if got != before+2 {
				t.Errorf("pkt4-receive-drop + xdp-drop-mac %d -> %d, want +2 (pkt4-receive-drop %d, xdp-drop-mac %d)",
					before, got, d.stat("pkt4-receive-drop"), d.stat("xdp-drop-mac"))
			}
		})
	}
}

func hexNoColon(m net.HardwareAddr) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(m))
	for _, b := range m {
		out = append(out, digits[b>>4], digits[b&15])
	}
	return string(out)
}

func TestE2ECacheThreshold(t *testing.T) { forModes(t, testE2ECacheThreshold) }

func testE2ECacheThreshold(t *testing.T, e *e2eEnv) {
	cfg := e.baseConfig()
	// 20 s leases, reuse for 10% = 2 s: short enough to test both sides.
	dhcp4(cfg)["valid-lifetime"] = 20
	dhcp4(cfg)["cache-threshold"] = 0.1
	d := e.startDaemon(cfg)
	c := e.nclient(mac(4, 1))
	l := dora(t, c)
	ip := l.ACK.YourIPAddr.String()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	before, err := os.ReadFile(e.leasePath())
	if err != nil {
		t.Fatal(err)
	}
	lj, _ := d.lease(ip)

	// Within the threshold: ACK with the remaining lifetime, no write.
	time.Sleep(1100 * time.Millisecond)
	r, err := c.Renew(ctx, l, dhcpv4.WithBroadcast(true), daemontest.FreshXID())
	if err != nil {
		t.Fatal(err)
	}
	age := time.Now().Unix() - lj.CLTT
	lt := uint32(r.ACK.IPAddressLeaseTime(0).Seconds())
	if lt >= 20 || int64(lt) < 20-age-1 {
		t.Errorf("reused lease: lease time %d s at age %d s, want the remaining %d", lt, age, 20-age)
	}
	after, err := os.ReadFile(e.leasePath())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("renewal within cache-threshold wrote to the lease file: %d -> %d bytes", len(before), len(after))
	}
	if lj2, _ := d.lease(ip); lj2.CLTT != lj.CLTT {
		t.Errorf("reused lease cltt changed %d -> %d", lj.CLTT, lj2.CLTT)
	}

	// Past the threshold (age > 2 s): a full lease and a new row.
	for time.Now().Unix()-lj.CLTT <= 2 {
		time.Sleep(200 * time.Millisecond)
	}
	r, err = c.Renew(ctx, l, dhcpv4.WithBroadcast(true), daemontest.FreshXID())
	if err != nil {
		t.Fatal(err)
	}
	if lt := r.ACK.IPAddressLeaseTime(0); lt != 20*time.Second {
		t.Errorf("renewal past the threshold: lease time %v, want 20s", lt)
	}
	rows := rowsFor(readCSV(t, e.leasePath()), ip)
	if len(rows) != 2 {
		t.Errorf("CSV rows for %s = %d, want 2 (DORA + renewal past the threshold)", ip, len(rows))
	}
}
