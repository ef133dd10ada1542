package slowpath

import (
	"encoding/binary"
	"net/netip"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"xdhcp/fastpath/frame"
	"xdhcp/slowpath/config"
	"xdhcp/slowpath/lease"
)

// sendLease sends an OFFER or ACK for addr with lifetime valid. It returns
// the reply's options and siaddr (the fast path repeats them).
func (s *Server) sendLease(rt *runtime, sn *subnetRT, r *request, typ dhcpv4.MessageType, addr netip.Addr, valid uint32) ([]byte, netip.Addr) {
	return s.sendReply(rt, sn, sn.poolFor(addr), r, typ, addr, valid, true)
}

// sendReply builds and transmits a reply. withLease adds lease time, T1/T2.
func (s *Server) sendReply(rt *runtime, sn *subnetRT, pool *poolRT, r *request, typ dhcpv4.MessageType, yiaddr netip.Addr, valid uint32, withLease bool) ([]byte, netip.Addr) {
	var w optWriter
	w.add(optMessageType, []byte{byte(typ)})
	w.add(optServerID, r.pkt.IfAddr.AsSlice())
	if withLease {
		w.addUint32(optLeaseTime, valid)
		if sn != nil {
			t1, t2, ok1, ok2 := teeTimes(&sn.cfg.Timers, valid)
			if ok1 {
				w.addUint32(optRenewalTime, t1)
			}
			if ok2 {
				w.addUint32(optRebindingTime, t2)
			}
		}
	}
	levels := optionLevels(rt, sn, pool, r)
	if sn != nil {
		// Kea always sends the subnet mask; configured wins over derived.
		if o, ok := findOption(levels, optSubnetMask); ok {
			w.add(optSubnetMask, o.Data)
		} else {
			m := net4Mask(sn.cfg.Prefix.Bits())
			w.add(optSubnetMask, m[:])
		}
	}
	prl, _ := r.msg.get(optPRL)
	for _, code := range prl {
		if code == optHostName {
			if h := s.replyHostname(r); h != "" {
				w.add(optHostName, []byte(h))
				continue
			}
		}
		if o, ok := findOption(levels, code); ok && !o.NeverSend {
			w.add(code, o.Data)
		}
	}
	if r.msg.has(optHostName) {
		// A client that names itself is told the name it has (Kea sends
		// the reserved one back even when it was not requested).
		if h := s.replyHostname(r); h != "" {
			w.add(optHostName, []byte(h))
		}
	}
	for _, lvl := range levels {
		for _, o := range lvl {
			if o.AlwaysSend && !o.NeverSend {
				if best, ok := findOption(levels, o.Code); ok {
					w.add(o.Code, best.Data)
				}
			}
		}
	}
	if len(r.relay) > 0 {
		// RFC 3046: echo the relay agent information, last.
		w.add(optRelayAgent, r.relay)
	}

	siaddr, sname, file := bootFields(rt, sn, r)
	var ciaddr netip.Addr
	if typ == dhcpv4.MessageTypeAck {
		ciaddr = r.ciaddr
	}
	payload := encodeReply(r, ciaddr, yiaddr, siaddr, sname, file, w.b, false)
	s.transmit(r, typ, yiaddr, payload)
	return w.b, siaddr
}

// sendNak sends a DHCPNAK (RFC 2131 table 3: no lease fields, no options
// but server id and message).
func (s *Server) sendNak(r *request, why string) {
	var w optWriter
	w.add(optMessageType, []byte{byte(dhcpv4.MessageTypeNak)})
	w.add(optServerID, r.pkt.IfAddr.AsSlice())
	w.add(optMessage, []byte(why))
	if len(r.relay) > 0 {
		w.add(optRelayAgent, r.relay)
	}
	payload := encodeReply(r, netip.Addr{}, netip.Addr{}, netip.Addr{}, "", "", w.b, r.giaddr.IsValid())
	s.transmit(r, dhcpv4.MessageTypeNak, netip.Addr{}, payload)
}

// transmit picks the destination by RFC 2131 §4.1 and sends.
func (s *Server) transmit(r *request, typ dhcpv4.MessageType, yiaddr netip.Addr, payload []byte) {
	p := r.pkt
	m := frame.Meta{
		SrcMAC:  p.IfMAC,
		NVLAN:   p.Meta.NVLAN,
		VLAN:    p.Meta.VLAN,
		SrcIP:   p.IfAddr.As4(),
		SrcPort: 67,
		DstPort: 68,
		TTL:     64,
	}
	bcast := func() {
		m.DstIP = [4]byte{255, 255, 255, 255}
		m.DstMAC = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	}
	switch {
	case r.giaddr.IsValid():
		// Through the relay that sent it, on the relay's port.
		m.DstIP, m.DstMAC, m.DstPort = r.giaddr.As4(), p.Meta.SrcMAC, 67
	case typ == dhcpv4.MessageTypeNak:
		bcast()
	case r.ciaddr.IsValid():
		m.DstIP, m.DstMAC = r.ciaddr.As4(), p.Meta.SrcMAC
	case r.msg.broadcast():
		bcast()
	case typ == dhcpv4.MessageTypeAck && !yiaddr.IsValid() && p.Meta.SrcIP != [4]byte{}:
		// INFORM from a client that left ciaddr empty: back to its source.
		m.DstIP, m.DstMAC = p.Meta.SrcIP, p.Meta.SrcMAC
	case yiaddr.IsValid() && len(r.hw) == 6:
		// Unicast to an address the client does not have yet: only a raw
		// frame to chaddr can do this, which is why socket mode is raw.
		m.DstIP = yiaddr.As4()
		copy(m.DstMAC[:], r.hw)
	default:
		bcast()
	}
	if err := p.Out.Send(&m, payload); err != nil {
		s.st.sendFail.Inc()
		s.log.Debug("send reply", "iface", p.IfName, "err", err)
		return
	}
	s.st.sent.Inc()
	switch typ {
	case dhcpv4.MessageTypeOffer:
		s.st.offerSent.Inc()
	case dhcpv4.MessageTypeAck:
		s.st.ackSent.Inc()
	case dhcpv4.MessageTypeNak:
		s.st.nakSent.Inc()
	}
}

// encodeReply writes a BOOTREPLY with the given options (without End).
func encodeReply(r *request, ciaddr, yiaddr, siaddr netip.Addr, sname, file string, opts []byte, forceBroadcast bool) []byte {
	b := make([]byte, 240, 240+len(opts)+64)
	b[0] = 2 // BOOTREPLY
	b[1] = r.msg.htype
	b[2] = byte(len(r.hw))
	copy(b[4:8], r.msg.xid[:])
	flags := r.msg.flags
	if forceBroadcast {
		flags |= 0x8000
	}
	binary.BigEndian.PutUint16(b[10:12], flags)
	put4 := func(off int, a netip.Addr) {
		if a.IsValid() {
			v := a.As4()
			copy(b[off:off+4], v[:])
		}
	}
	put4(12, ciaddr)
	put4(16, yiaddr)
	put4(20, siaddr)
	put4(24, r.giaddr)
	copy(b[28:44], r.hw)
	copy(b[44:107], sname)
	copy(b[108:235], file)
	copy(b[236:240], []byte{99, 130, 83, 99})
	b = append(b, opts...)
	b = append(b, 255)
	// BOOTP relays and old clients expect at least 300 bytes.
	for len(b) < 300 {
		b = append(b, 0)
	}
	return b
}

// optWriter appends options once each, splitting long ones (RFC 3396).
type optWriter struct {
	b    []byte
	have [256]bool
}

func (w *optWriter) add(code byte, data []byte) {
	if w.have[code] {
		return
	}
	w.have[code] = true
	if len(data) == 0 {
		w.b = append(w.b, code, 0)
		return
	}
	for len(data) > 0 {
		n := min(len(data), 255)
		w.b = append(w.b, code, byte(n))
		w.b = append(w.b, data[:n]...)
		data = data[n:]
	}
}

func (w *optWriter) addUint32(code byte, v uint32) {
	w.add(code, []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// optionLevels lists option-data from most to least specific, as Kea 2.2
// looks them up: reservation, pool, subnet, shared network, classes (in
// membership order), global.
func optionLevels(rt *runtime, sn *subnetRT, pool *poolRT, r *request) [][]config.Option {
	levels := make([][]config.Option, 0, 8)
	if r.host != nil {
		levels = append(levels, r.host.res.Options)
	}
	if pool != nil {
		levels = append(levels, pool.cfg.Options)
	}
	if sn != nil {
		levels = append(levels, sn.cfg.Options)
		if n := sn.cfg.SharedNetwork; n != nil {
			levels = append(levels, n.Options)
		}
	}
	for _, name := range r.classes {
		if c := rt.cfg.Class(name); c != nil && len(c.Options) > 0 {
			levels = append(levels, c.Options)
		}
	}
	return append(levels, rt.cfg.Options)
}

func findOption(levels [][]config.Option, code byte) (config.Option, bool) {
	for _, lvl := range levels {
		for _, o := range lvl {
			if o.Code == code {
				return o, true
			}
		}
	}
	return config.Option{}, false
}

// bootFields are siaddr, sname and file: reservation, then classes, then
// the subnet.
func bootFields(rt *runtime, sn *subnetRT, r *request) (netip.Addr, string, string) {
	var siaddr netip.Addr
	var sname, file string
	set := func(a netip.Addr, n, f string) {
		if !siaddr.IsValid() && a.IsValid() {
			siaddr = a
		}
		if sname == "" {
			sname = n
		}
		if file == "" {
			file = f
		}
	}
	if r.host != nil {
		set(r.host.res.NextServer, r.host.res.ServerHostname, r.host.res.BootFileName)
	}
	for _, name := range r.classes {
		if c := rt.cfg.Class(name); c != nil {
			set(c.NextServer, c.ServerHostname, c.BootFileName)
		}
	}
	if sn != nil {
		set(sn.cfg.NextServer, sn.cfg.ServerHostname, sn.cfg.BootFileName)
	}
	return siaddr, sname, file
}

// replyHostname is the host name to return in option 12: the reservation's.
func (s *Server) replyHostname(r *request) string {
	if r.host != nil {
		return r.host.res.Hostname
	}
	return ""
}

// teeTimes computes T1/T2 as Kea 2.2 does: explicit timers win; otherwise
// they are calculated only with calculate-tee-times; a timer that is not
// below the next one (or the lifetime) is not sent.
func teeTimes(t *config.Timers, valid uint32) (t1, t2 uint32, ok1, ok2 bool) {
	if valid == lease.Infinite {
		return 0, 0, false, false
	}
	if t.RebindTimer != nil {
		t2, ok2 = *t.RebindTimer, true
	} else if t.CalculateTeeTimes {
		t2, ok2 = uint32(float64(valid)*t.T2Percent), true
	}
	if t.RenewTimer != nil {
		t1, ok1 = *t.RenewTimer, true
	} else if t.CalculateTeeTimes {
		t1, ok1 = uint32(float64(valid)*t.T1Percent), true
	}
	if ok2 && t2 >= valid {
		ok2 = false
	}
	limit := valid
	if ok2 {
		limit = t2
	}
	if ok1 && t1 >= limit {
		ok1 = false
	}
	return t1, t2, ok1, ok2
}

func net4Mask(bits int) [4]byte {
	m := ^uint32(0) << (32 - bits)
	if bits == 0 {
		m = 0
	}
	return [4]byte{byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)}
}
