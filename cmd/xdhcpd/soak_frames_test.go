package main

// Hostile frames for the soak: every field a client controls, broken one
// way at a time, at the Ethernet, IPv4, UDP, BOOTP and option level. Each
// builder returns a whole Ethernet frame ready for an AF_PACKET socket.

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"xdhcp/fastpath/frame"
	"xdhcp/handoff"
)

// soakBcast is the Ethernet broadcast address.
var soakBcast = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// soakUDP builds an Ethernet/IPv4/UDP frame around payload.
func soakUDP(src, dst [6]byte, srcIP, dstIP [4]byte, sport, dport uint16, payload []byte) []byte {
	m := handoff.Meta{SrcMAC: src, DstMAC: dst, SrcIP: srcIP, DstIP: dstIP, SrcPort: sport, DstPort: dport}
	b := make([]byte, frame.HeaderLen(&m)+len(payload)+frame.MinFrameLen)
	n, err := frame.Build(b, &m, payload)
	if err != nil {
		// Only an oversized payload fails, and no builder makes one.
		panic(fmt.Sprintf("soak frame: %v", err))
	}
	return b[:n]
}

// soakClientFrame is a frame from a client (0.0.0.0:68) to the broadcast
// address's port 67.
func soakClientFrame(src [6]byte, payload []byte) []byte {
	return soakUDP(src, soakBcast, [4]byte{}, [4]byte{255, 255, 255, 255}, 68, 67, payload)
}

// bootp is a BOOTREQUEST being put together byte by byte, so that any field
// can be wrong.
type bootp struct {
	op, htype, hlen, hops byte
	xid                   uint32
	ciaddr, giaddr        [4]byte
	chaddr                [6]byte
	sname, file           []byte // raw contents (overloaded options), zero-padded
	noCookie              bool
	opts                  []byte // raw options, END included by the caller
}

func (p *bootp) bytes() []byte {
	b := make([]byte, 236, 236+4+len(p.opts))
	b[0], b[1], b[2], b[3] = p.op, p.htype, p.hlen, p.hops
	binary.BigEndian.PutUint32(b[4:], p.xid)
	copy(b[12:16], p.ciaddr[:])
	copy(b[24:28], p.giaddr[:])
	copy(b[28:44], p.chaddr[:])
	copy(b[44:108], p.sname)
	copy(b[108:236], p.file)
	if !p.noCookie {
		b = append(b, 99, 130, 83, 99)
	}
	return append(b, p.opts...)
}

// soakRequest is a well-formed BOOTREQUEST from chaddr with opts.
func soakRequest(chaddr [6]byte, xid uint32, opts ...byte) *bootp {
	return &bootp{op: 1, htype: 1, hlen: 6, xid: xid, chaddr: chaddr, opts: opts}
}

// soakOpt is one TLV option.
func soakOpt(code byte, v ...byte) []byte { return append([]byte{code, byte(len(v))}, v...) }

func soakCat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// soakHostile is a generator of hostile frames. Addresses it targets with
// RELEASE and DECLINE lie in pool (the start of the normal clients' range).
type soakHostile struct {
	rng       *rand.Rand
	serverMAC [6]byte
	serverIP  [4]byte
	pool      [4]byte // first address of the range that forged RELEASE/DECLINE name
	n         uint32
}

// soakHostileKinds names the kinds next(i) builds, by i.
var soakHostileKinds = []string{
	"hlen-0", "hlen-255", "htype-bogus", "option-truncated", "options-zero-length", "msgtype-zero-length",
	"oversized-options", "option82-bogus-suboptions", "overload-garbage", "overload-invalid-value",
	"relay-hops-17", "relay-hops-255", "giaddr-spoofed-server", "giaddr-spoofed-foreign", "giaddr-loopback",
	"server-id-spoofed", "release-foreign", "decline-foreign", "non-dhcp-udp", "udp-zero-length",
	"ip-truncated", "ip-ihl-bad", "ip-total-length-long", "ip-fragment", "udp-truncated", "udp-length-long",
	"bootreply-to-server", "bootp-truncated", "bad-magic-cookie", "msgtype-out-of-range", "msgtype-duplicate",
	"client-id-255", "hostname-garbage", "no-end-option", "vlan-3-tags", "inform-zero-ciaddr",
}

// chaddr returns a fresh MAC for a hostile frame (02:66:...), so that the
// per-client rate limit does not shield the parser from them.
func (h *soakHostile) chaddr() [6]byte {
	h.n++
	return [6]byte{0x02, 0x66, 0, byte(h.n >> 16), byte(h.n >> 8), byte(h.n)}
}

// poolAddr returns one of the first 512 addresses of the normal range.
func (h *soakHostile) poolAddr() [4]byte {
	v := binary.BigEndian.Uint32(h.pool[:]) + uint32(h.rng.IntN(512))
	var a [4]byte
	binary.BigEndian.PutUint32(a[:], v)
	return a
}

// next builds a frame of kind i mod len(soakHostileKinds).
func (h *soakHostile) next(i int) []byte {
	kind := i % len(soakHostileKinds)
	mac := h.chaddr()
	xid := h.rng.Uint32()
	disc := soakOpt(53, 1)
	end := []byte{255}
	simple := func(p *bootp) []byte { return soakClientFrame(mac, p.bytes()) }
	name := soakHostileKinds[kind]
	switch name {
	case "hlen-0":
		p := soakRequest(mac, xid, soakCat(disc, end)...)
		p.hlen = 0
		return simple(p)
	case "hlen-255":
		p := soakRequest(mac, xid, soakCat(disc, end)...)
		p.hlen = 255
		return simple(p)
	case "htype-bogus":
		p := soakRequest(mac, xid, soakCat(disc, end)...)
		p.htype, p.hlen = 0xee, 16
		return simple(p)
	case "option-truncated":
		// Host name claims 200 bytes; 5 follow, then the packet ends.
		return simple(soakRequest(mac, xid, soakCat(disc, []byte{12, 200, 'a', 'b', 'c', 'd', 'e'})...))
	case "options-zero-length":
		return simple(soakRequest(mac, xid, soakCat(disc, soakOpt(61), soakOpt(50), soakOpt(12), soakOpt(55),
			soakOpt(82), soakOpt(54), soakOpt(81), soakOpt(60), end)...))
	case "msgtype-zero-length":
		return simple(soakRequest(mac, xid, soakCat(soakOpt(53), end)...))
	case "oversized-options":
		// Options fill an unfragmented frame: 1472 bytes of UDP payload.
		var opts []byte
		opts = append(opts, disc...)
		for len(opts)+2+255 < 1472-240-1 {
			v := make([]byte, 255)
			for j := range v {
				v[j] = byte(h.rng.IntN(256))
			}
			opts = append(opts, soakOpt(byte(224+h.rng.IntN(30)), v...)...)
		}
		return simple(soakRequest(mac, xid, append(opts, 255)...))
	case "option82-bogus-suboptions":
		return simple(soakRequest(mac, xid, soakCat(disc, soakOpt(82, 1, 200, 'x', 2, 0, 9, 250), end)...))
	case "overload-garbage":
		// Option overload says sname and file hold options; they hold
		// lengths that run off their fields and another overload option.
		p := soakRequest(mac, xid, soakCat(disc, soakOpt(52, 3), end)...)
		p.sname = []byte{52, 1, 3, 12, 90, 'x'}
		p.file = []byte{53, 1, 3, 50, 4, 10, 88}
		return simple(p)
	case "overload-invalid-value":
		p := soakRequest(mac, xid, soakCat(disc, soakOpt(52, byte(4+h.rng.IntN(250))), soakOpt(52, 1, 2), end)...)
		return simple(p)
	case "relay-hops-17", "relay-hops-255":
		p := soakRequest(mac, xid, soakCat(disc, soakOpt(82, 1, 3, 'h', 'o', 'p'), end)...)
		p.hops = 17
		if name == "relay-hops-255" {
			p.hops = 255
		}
		p.giaddr = [4]byte{10, 88, 0, 99}
		return soakUDP(mac, h.serverMAC, [4]byte{10, 88, 0, 99}, h.serverIP, 67, 67, p.bytes())
	case "giaddr-spoofed-server":
		// A relay claiming to be the server itself.
		p := soakRequest(mac, xid, soakCat(disc, end)...)
		p.giaddr = h.serverIP
		return soakUDP(mac, h.serverMAC, h.serverIP, h.serverIP, 67, 67, p.bytes())
	case "giaddr-spoofed-foreign":
		p := soakRequest(mac, xid, soakCat(disc, end)...)
		p.giaddr = [4]byte{192, 0, 2, byte(h.rng.IntN(256))}
		return soakUDP(mac, h.serverMAC, p.giaddr, h.serverIP, 67, 67, p.bytes())
	case "giaddr-loopback":
		p := soakRequest(mac, xid, soakCat(disc, end)...)
		p.giaddr = [4]byte{127, 0, 0, 1}
		return soakUDP(mac, soakBcast, [4]byte{127, 0, 0, 1}, [4]byte{255, 255, 255, 255}, 67, 67, p.bytes())
	case "server-id-spoofed":
		// A REQUEST selecting another server's offer: not ours to answer.
		a := h.poolAddr()
		return simple(soakRequest(mac, xid, soakCat(soakOpt(53, 3), soakOpt(54, 10, 88, 0, 77), soakOpt(50, a[:]...), end)...))
	case "release-foreign":
		// A RELEASE of an address this MAC does not hold.
		p := soakRequest(mac, xid, soakCat(soakOpt(53, 7), soakOpt(54, h.serverIP[:]...), end)...)
		p.ciaddr = h.poolAddr()
		return soakUDP(mac, h.serverMAC, p.ciaddr, h.serverIP, 68, 67, p.bytes())
	case "decline-foreign":
		a := h.poolAddr()
		return simple(soakRequest(mac, xid, soakCat(soakOpt(53, 4), soakOpt(54, h.serverIP[:]...), soakOpt(50, a[:]...), end)...))
	case "non-dhcp-udp":
		v := make([]byte, 1+h.rng.IntN(300))
		for j := range v {
			v[j] = byte(h.rng.IntN(256))
		}
		return soakUDP(mac, soakBcast, [4]byte{10, 88, 0, 2}, [4]byte{255, 255, 255, 255}, uint16(1024+h.rng.IntN(60000)), 67, v)
	case "udp-zero-length":
		return soakUDP(mac, h.serverMAC, [4]byte{10, 88, 0, 2}, h.serverIP, 68, 67, nil)
	case "ip-truncated":
		// The frame ends ten bytes into the IPv4 header.
		f := simple(soakRequest(mac, xid, soakCat(disc, end)...))
		return f[:14+10]
	case "ip-ihl-bad":
		f := simple(soakRequest(mac, xid, soakCat(disc, end)...))
		f[14] = 0x40 | byte([]int{0, 3, 15}[h.rng.IntN(3)])
		return f
	case "ip-total-length-long":
		f := simple(soakRequest(mac, xid, soakCat(disc, end)...))
		binary.BigEndian.PutUint16(f[14+2:], 0xfff0)
		return f
	case "ip-fragment":
		f := simple(soakRequest(mac, xid, soakCat(disc, end)...))
		binary.BigEndian.PutUint16(f[14+6:], 0x2000|uint16(h.rng.IntN(2)*64)) // MF, offset 0 or 512
		return f
	case "udp-truncated":
		// IPv4 says 24 bytes: 4 of the UDP header's 8.
		f := simple(soakRequest(mac, xid, soakCat(disc, end)...))
		binary.BigEndian.PutUint16(f[14+2:], 24)
		return f[:14+24]
	case "udp-length-long":
		f := simple(soakRequest(mac, xid, soakCat(disc, end)...))
		binary.BigEndian.PutUint16(f[14+20+4:], 0xff00)
		return f
	case "bootreply-to-server":
		p := soakRequest(mac, xid, soakCat(soakOpt(53, 2), soakOpt(54, 10, 88, 0, 77), end)...)
		p.op = 2
		return simple(p)
	case "bootp-truncated":
		return soakClientFrame(mac, soakRequest(mac, xid).bytes()[:100+h.rng.IntN(136)])
	case "bad-magic-cookie":
		p := soakRequest(mac, xid, 99, 130, 83, 98, 53, 1, 1, 255)
		p.noCookie = true
		return simple(p)
	case "msgtype-out-of-range":
		return simple(soakRequest(mac, xid, soakCat(soakOpt(53, byte([]int{0, 19, 200, 255}[h.rng.IntN(4)])), end)...))
	case "msgtype-duplicate":
		return simple(soakRequest(mac, xid, soakCat(disc, soakOpt(53, 3), soakOpt(53, 7), end)...))
	case "client-id-255":
		v := make([]byte, 255)
		for j := range v {
			v[j] = byte(h.rng.IntN(256))
		}
		return simple(soakRequest(mac, xid, soakCat(disc, soakOpt(61, v...), end)...))
	case "hostname-garbage":
		return simple(soakRequest(mac, xid, soakCat(disc, soakOpt(12, 0, 0xff, '\n', 0xc3, 0x28, '%', 's'),
			soakOpt(81, 0xff, 0xff, 0xff, 63, 'a', 200), end)...))
	case "no-end-option":
		return simple(soakRequest(mac, xid, soakCat(disc, soakOpt(55, 1, 3, 6))...))
	case "vlan-3-tags":
		f := simple(soakRequest(mac, xid, soakCat(disc, end)...))
		tags := []byte{0x88, 0xa8, 0, 10, 0x81, 0, 0, 20, 0x81, 0, 0, 30}
		return soakCat(f[:12], tags, f[12:])
	case "inform-zero-ciaddr":
		return simple(soakRequest(mac, xid, soakCat(soakOpt(53, 8), end)...))
	}
	panic("soak: hostile kind without a builder: " + name)
}

// soakDiscover is a well-formed broadcast DISCOVER from mac.
func soakDiscover(mac [6]byte, xid uint32) []byte {
	d, err := dhcpv4.NewDiscovery(mac[:], dhcpv4.WithTransactionID(dhcpv4.TransactionID(binary.BigEndian.AppendUint32(nil, xid))))
	if err != nil {
		panic(fmt.Sprintf("soak discover: %v", err))
	}
	return soakClientFrame(mac, d.ToBytes())
}

// TestSoakHostileFrames checks the soak's frame builders: every kind
// builds, fits one unfragmented Ethernet frame, and the well-formed ones
// decode.
func TestSoakHostileFrames(t *testing.T) {
	h := &soakHostile{rng: rand.New(rand.NewPCG(1, 2)), serverMAC: [6]byte{2, 0, 0, 0, 0, 1},
		serverIP: [4]byte{10, 88, 0, 1}, pool: [4]byte{10, 88, 16, 0}}
	for i, name := range soakHostileKinds {
		f := h.next(i)
		if len(f) < 14+10 || len(f) > 1514+12 {
			t.Errorf("%s: frame of %d bytes", name, len(f))
		}
	}
	var m handoff.Meta
	payload, err := frame.Parse(soakDiscover([6]byte{2, 1, 2, 3, 4, 5}, 7), &m)
	if err != nil {
		t.Fatalf("discover: %v", err)
	}
	d, err := dhcpv4.FromBytes(payload)
	if err != nil || d.MessageType() != dhcpv4.MessageTypeDiscover || m.DstPort != 67 {
		t.Fatalf("discover decodes as %v (%v), port %d", d, err, m.DstPort)
	}
	// A kind that is only broken in one place stays parseable elsewhere:
	// the zero-length-options DISCOVER still has its frame headers right.
	if _, err := frame.Parse(h.next(4), &m); err != nil {
		t.Errorf("options-zero-length: frame headers: %v", err)
	}
}
