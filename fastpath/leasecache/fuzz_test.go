package leasecache

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"xdhcp/fastpath/dhcpview"
	"xdhcp/fastpath/frame"
	"xdhcp/handoff"
)

// FuzzBuildACK feeds arbitrary requests (outside input) and arbitrary entry
// options (slow-path input, checked by Validate) through Reusable and
// BuildACK. Whatever the request, a built reply must be a frame that
// frame.Parse and insomniacslk accept, echoing the request's xid and chaddr.
func FuzzBuildACK(f *testing.F) {
	sel, renew := requests(f, baseMods())
	e := baseEntry(f, sel, 1000)
	f.Add(renew.ToBytes(), e.Options, uint32(3500), int64(1100))
	f.Add(sel.ToBytes(), []byte{}, uint32(1), int64(0))
	f.Add(renew.ToBytes(), []byte{3, 0, 6, 8, 1, 2, 3, 4, 5, 6, 7, 8}, uint32(Infinite), int64(1000))
	_, relayed := requests(f, baseMods(), dhcpv4.WithRelay([]byte{10, 0, 0, 1}))
	f.Add(relayed.ToBytes(), []byte{82, 2, 1, 0}, uint32(60), int64(1900))

	f.Fuzz(func(t *testing.T, req, opts []byte, remaining uint32, now int64) {
		var v dhcpview.View
		if v.Parse(req) != nil {
			return
		}
		ent := *e
		ent.Options = opts
		if Validate(&ent) != nil {
			return
		}
		if r, ok := Reusable(&ent, &v, now); ok && r == 0 {
			t.Fatal("reusable with zero lifetime")
		}
		m := handoff.Meta{SrcMAC: [6]byte{2, 0, 0, 0, 0, 9}, NVLAN: 1, VLAN: [2]handoff.VLANTag{{TPID: frame.TPID8021Q, TCI: 5}}}
		dst := make([]byte, 2048)
		n, err := BuildACK(dst, &v, &m, &ent, remaining, serverMAC)
		if err != nil {
			if err == ErrNotAddressable && v.Giaddr() == [4]byte{} && v.Ciaddr() == [4]byte{} {
				return
			}
			t.Fatalf("BuildACK: %v", err)
		}
		var am handoff.Meta
		p, err := frame.Parse(dst[:n], &am)
		if err != nil {
			t.Fatalf("frame.Parse: %v", err)
		}
		ack, err := dhcpv4.FromBytes(p)
		if err != nil {
			t.Fatalf("insomniacslk: %v", err)
		}
		if binary.BigEndian.Uint32(ack.TransactionID[:]) != v.Xid() || !bytes.Equal(ack.ClientHWAddr, v.Chaddr()) {
			t.Fatal("xid or chaddr not echoed")
		}
		if ack.MessageType() != dhcpv4.MessageTypeAck || ack.IPAddressLeaseTime(0).Seconds() != float64(remaining) {
			t.Fatal("message type or lease time wrong")
		}
	})
}
