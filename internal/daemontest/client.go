package daemontest

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"

	"xdhcp/internal/lab"
)

// NClient opens an nclient4 client on ifname in ns that sends with chaddr
// mac (several simulated clients may share one interface): a 1 s timeout
// and 3 retries unless opts say otherwise. t's cleanup closes it.
func NClient(t testing.TB, ns *lab.NS, ifname string, mac net.HardwareAddr, opts ...nclient4.ClientOpt) *nclient4.Client {
	t.Helper()
	var c *nclient4.Client
	err := ns.Do(func() error {
		var err error
		all := append([]nclient4.ClientOpt{
			nclient4.WithHWAddr(mac), nclient4.WithTimeout(time.Second), nclient4.WithRetry(3),
		}, opts...)
		c, err = nclient4.New(ifname, all...)
		return err
	})
	if err != nil {
		t.Fatalf("nclient4 on %s: %v", ifname, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// DORA runs DISCOVER-OFFER-REQUEST-ACK with c (10 s at most) and fails t
// on error.
func DORA(t testing.TB, c *nclient4.Client, mods ...dhcpv4.Modifier) *nclient4.Lease {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := c.Request(ctx, mods...)
	if err != nil {
		t.Fatalf("DORA for %s: %v", c.InterfaceAddr(), err)
	}
	return l
}

// RawConn opens a broadcast raw UDP socket on ifname in ns bound to the
// client port 68, for messages that get no answer (DECLINE) or must be
// sent exactly once. t's cleanup closes it.
func RawConn(t testing.TB, ns *lab.NS, ifname string) net.PacketConn {
	t.Helper()
	var pc net.PacketConn
	err := ns.Do(func() error {
		var err error
		pc, err = nclient4.NewRawUDPConn(ifname, nclient4.ClientPort)
		return err
	})
	if err != nil {
		t.Fatalf("raw DHCP socket on %s: %v", ifname, err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc
}

// FreshXID gives a renewal its own transaction ID. nclient4's Renew copies
// the one of the lease's ACK, so without it every renewal of a lease (and
// the DORA before them) shares one xid: a late or retransmitted reply to an
// earlier one, still queued on a client's socket on the same link, would
// be taken as the answer to the next. (The ID comes from crypto/rand,
// which does not fail.)
func FreshXID() dhcpv4.Modifier {
	xid, _ := dhcpv4.GenerateTransactionID()
	return dhcpv4.WithTransactionID(xid)
}
