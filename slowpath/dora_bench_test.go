package slowpath

import (
	"encoding/binary"
	"net/netip"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"xdhcp/handoff"
	"xdhcp/internal/stats"
	"xdhcp/lease/memfile"
)

// BenchmarkDORA measures the slow path's cost of one new lease (DISCOVER,
// OFFER, REQUEST, ACK) in process: decode, classify, allocate, commit,
// build the reply. With persist the commit is the real group-committed,
// fdatasync'd memfile, so run it on the disk the daemon would use.
func BenchmarkDORA(b *testing.B) {
	for _, persist := range []bool{false, true} {
		name := "memory"
		if persist {
			name = "memfile"
		}
		b.Run(name, func(b *testing.B) { benchDORA(b, persist, nil) })
	}
}

// yiaddrSender keeps only the offered address: decoding the reply with
// insomniacslk would cost more than what is measured. ACKs are sent from
// commit completions, possibly after the next client's OFFER: they are
// not recorded.
type yiaddrSender struct{ last atomic.Uint32 }

func (y *yiaddrSender) Send(_ *handoff.Meta, p []byte) error {
	if t := optionOffset(p, optMessageType); len(p) >= 20 && t > 0 && p[t] == byte(dhcpv4.MessageTypeOffer) {
		y.last.Store(binary.BigEndian.Uint32(p[16:20]))
	}
	return nil
}

// benchConfig is one /8 subnet: room for every client of a long run.
const benchConfig = `{ "Dhcp4": {
  "interfaces-config": { "interfaces": [ "eth0" ] },
  "valid-lifetime": 3600,
  "subnet4": [ { "id": 1, "subnet": "10.0.0.0/8", "pools": [ { "pool": "10.0.0.10 - 10.255.255.250" } ],
    "option-data": [ { "name": "routers", "data": "10.0.0.1" } ] } ] } }`

// benchDORA runs the benchmark; hooks, when not nil, adds lease event
// hooks to the server and the store.
func benchDORA(b *testing.B, persist bool, hooks func(*Deps, *memfile.Options)) {
	opts := memfile.Options{Persist: persist, Sync: persist, Path: filepath.Join(b.TempDir(), "leases4.csv")}
	deps := Deps{Stats: stats.New(20, 0), Now: time.Now}
	if hooks != nil {
		hooks(&deps, &opts)
	}
	deps.Store = openStore(b, opts)
	srv := newTestServer(b, benchConfig, deps)
	self := netip.MustParseAddr("10.0.0.1")
	var next atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		out := &yiaddrSender{}
		var pool handoff.PacketPool
		disc, _ := dhcpv4.NewDiscovery(make([]byte, 6))
		req, _ := dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
			dhcpv4.WithOption(dhcpv4.OptServerIdentifier(self.AsSlice())),
			dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(make([]byte, 4))))
		dbytes, rbytes := disc.ToBytes(), req.ToBytes()
		reqIP := optionOffset(rbytes, optRequestedIP)
		run := func(data []byte, mac uint64) {
			binary.BigEndian.PutUint16(data[28:], uint16(mac>>32))
			binary.BigEndian.PutUint32(data[30:], uint32(mac))
			binary.BigEndian.PutUint32(data[4:], uint32(mac))
			// As a transport hands it over: pooled, the payload copied in,
			// released by the server (the worker loop's bookkeeping).
			p := pool.Get()
			p.IfIndex, p.IfName, p.IfAddr, p.IfMAC = 2, "eth0", self, [6]byte{2, 0, 0, 0, 0, 1}
			p.Meta, p.Out = handoff.Meta{SrcPort: 68, DstPort: 67}, out
			p.SetData(data)
			copy(p.Meta.SrcMAC[:], data[28:34])
			r := srv.decode(p)
			if r == nil {
				p.Release()
				return
			}
			srv.process(r)
			if !r.detached {
				srv.serial.Release(r.key)
			}
			srv.reqs.unref(r)
		}
		for pb.Next() {
			mac := 0x020000000000 | next.Add(1)
			run(dbytes, mac)
			binary.BigEndian.PutUint32(rbytes[reqIP:], out.last.Load())
			run(rbytes, mac)
		}
	})
	// The last ACKs wait for their commit: part of the cost.
	srv.Close()
	b.StopTimer()
	if got := srv.st.ackSent.Load(); got < int64(b.N) {
		b.Fatalf("%d ACKs for %d DORAs", got, b.N)
	}
}

// optionOffset is where option code's value starts in a BOOTP message.
func optionOffset(p []byte, code byte) int {
	for i := 240; i+1 < len(p); {
		switch p[i] {
		case 0:
			i++
			continue
		case 255:
			return -1
		}
		if p[i] == code {
			return i + 2
		}
		i += 2 + int(p[i+1])
	}
	return -1
}
