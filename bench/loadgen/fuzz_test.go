package loadgen

import (
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"xdhcp/fastpath/frame"
	"xdhcp/handoff"
)

// nopTransport discards frames; the fuzz target drives handle directly.
type nopTransport struct{}

func (nopTransport) ReadBatch([][]byte, []int) (int, error) { return 0, nil }
func (nopTransport) WriteBatch(f [][]byte) (int, error)     { return len(f), nil }
func (nopTransport) Stats() (uint64, uint64, error)         { return 0, 0, nil }
func (nopTransport) MAC() [6]byte                           { return [6]byte{2, 0, 0, 0, 0, 1} }
func (nopTransport) Close() error                           { return nil }

// FuzzHandle feeds arbitrary frames to the reply validator of a generator
// whose client 0 is selecting: it must never panic, and every frame must be
// counted as received.
func FuzzHandle(f *testing.F) {
	// Seed: a valid OFFER to client 0, and a truncated one.
	g0, _ := New(Config{Mode: Closed, Clients: 1, Count: 1, Duration: time.Second}, nopTransport{})
	mac := g0.MAC(0)
	offer, _ := dhcpv4.New(dhcpv4.WithHwAddr(mac[:]), dhcpv4.WithMessageType(dhcpv4.MessageTypeOffer),
		dhcpv4.WithReply(&dhcpv4.DHCPv4{}), dhcpv4.WithYourIP([]byte{10, 0, 0, 5}),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier([]byte{10, 0, 0, 1})))
	offer.OpCode = dhcpv4.OpcodeBootReply
	buf := make([]byte, 1500)
	m := handoff.Meta{SrcMAC: [6]byte{2, 9, 9, 9, 9, 9}, DstMAC: mac, SrcIP: [4]byte{10, 0, 0, 1}, DstIP: [4]byte{255, 255, 255, 255}, SrcPort: 67, DstPort: 68}
	n, err := frame.Build(buf, &m, offer.ToBytes())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(buf[:n])
	f.Add(buf[:60])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := New(Config{Mode: Closed, Clients: 1, Count: 1, Duration: time.Second}, nopTransport{})
		if err != nil {
			t.Fatal(err)
		}
		g.st = &stats{}
		g.pipe = newChanPipeNoRx(g)
		g.startDORA(0, 0)
		// Accept the fuzzer's transaction id so that deeper paths run.
		if p, err := frame.Parse(b, &handoff.Meta{}); err == nil {
			if d, err := dhcpv4.FromBytes(p); err == nil {
				g.clients[0].xid = uint32(d.TransactionID[0])<<24 | uint32(d.TransactionID[1])<<16 | uint32(d.TransactionID[2])<<8 | uint32(d.TransactionID[3])
			}
		}
		g.handle(b, 1000, phase{mode: Closed, count: 1})
		if g.st.received != 1 {
			t.Fatalf("received %d", g.st.received)
		}
	})
}
