package slowpath

import (
	"bytes"
	"encoding/binary"
	"math"
	"net/netip"
	"sync"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"xdhcp/config"
	"xdhcp/config/optiondef"
	"xdhcp/handoff"
)

// sendLease sends an OFFER or ACK for addr with lifetime valid. It returns
// the reply's buffer, whose options and siaddr the fast path repeats: the
// caller gives it back with replies.put.
func (s *Server) sendLease(rt *liveConfig, sn *subnetRT, r *request, typ dhcpv4.MessageType, addr netip.Addr, valid uint32) *replyBuf {
	return s.sendReply(rt, sn, sn.poolFor(addr), r, typ, addr, valid, true)
}

// replyBuf is the scratch space of one reply, pooled so that a reply
// allocates nothing: the options as they are chosen, the option levels,
// the encoded message and its destination. The options are written where
// they go in the message (w.b is out from offOptions on), so encoding the
// message around them copies nothing.
type replyBuf struct {
	w      optWriter
	levels [][]config.Option
	lvArr  [8][]config.Option
	out    []byte
	meta   handoff.Meta
	siaddr netip.Addr
	vendor vendorBuf
	host   []byte // option 12's value
}

func newReplyBuf() *replyBuf {
	// Room for the header and as many options as a reply can carry
	// before fit trims them.
	return &replyBuf{out: make([]byte, 0, offOptions+maxReplySize)}
}

// replyPool recycles reply buffers: a reply allocates nothing.
type replyPool struct{ p sync.Pool }

func (rp *replyPool) get() *replyBuf {
	rb, ok := rp.p.Get().(*replyBuf)
	if !ok {
		rb = newReplyBuf()
	}
	rb.w.reset()
	rb.w.b = rb.out[offOptions:offOptions]
	rb.levels = rb.lvArr[:0]
	rb.siaddr = netip.Addr{}
	return rb
}

// put gives rb back to the pool; nothing of it may be used after.
func (rp *replyPool) put(rb *replyBuf) {
	if rb == nil {
		return
	}
	clear(rb.lvArr[:]) // do not pin a replaced configuration's options
	clear(rb.vendor.sub[:])
	rb.levels = nil
	if cap(rb.out) > 4*maxReplySize || cap(rb.w.b) > 4*maxReplySize {
		return // grown by an odd reply: let it go
	}
	rp.p.Put(rb)
}

// Reply size (RFC 2131 §2, RFC 2132 §9.10). A client accepts a DHCP message
// of at least 576 bytes, and more only when it says so in option 57; a
// reply never exceeds what the client accepts, nor what one Ethernet frame
// carries (replies are not fragmented).
const (
	minMaxMessage = 576
	maxReplySize  = 1500 - 20 - 8 // IPv4 and UDP headers in a 1500-byte MTU
)

// replyLimit is the largest reply the client of r accepts.
func replyLimit(r *request) int {
	limit := minMaxMessage
	if v, _ := r.msg.get(optMaxMsgSize); len(v) == 2 {
		limit = max(limit, int(binary.BigEndian.Uint16(v)))
	}
	return min(limit, maxReplySize)
}

// sendReply builds and transmits a reply. withLease adds lease time, T1/T2.
// The caller gives the returned buffer back with replies.put.
func (s *Server) sendReply(rt *liveConfig, sn *subnetRT, pool *poolRT, r *request, typ dhcpv4.MessageType, yiaddr netip.Addr, valid uint32, withLease bool) *replyBuf {
	rb := s.replies.get()
	w := &rb.w
	rb.levels = optionLevels(rb.levels, rt, sn, pool, r)
	levels := rb.levels
	w.addByte(optMessageType, byte(typ))
	id := replyServerID(levels, r)
	w.add(optServerID, id[:])
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
	echoDefaults(w, rt, r)
	inform := r.typ == dhcpv4.MessageTypeInform
	if inform {
		// Kea 2.2 sends the subnet mask only with a lease: an INFORM's
		// answer has none (nor one from option-data).
		w.have[optSubnetMask] = true
	}
	if sn != nil {
		// Kea 2.2 always sends the subnet's own mask: a subnet-mask in
		// option-data is never sent.
		m := net4Mask(sn.cfg.Prefix.Bits())
		w.add(optSubnetMask, m[:])
		if o, ok := findOption(levels, optRouters); ok && !o.NeverSend {
			// Kea sends the routers it has whether asked or not. The
			// default route is what a lease is for: it is kept when the
			// reply must shrink, whatever the order of the PRL.
			w.add(optRouters, o.Data)
		}
	}
	// Everything from here on is optional: the client's requests in its
	// order of preference, then what the configuration always sends. A
	// reply too large for the client leaves them out from the last.
	w.optionalFrom()
	if !inform && sn != nil {
		// The name the client is given: it wins over a host-name in
		// option-data. Kea does not do this for an INFORM.
		rb.host = r.replyHostname(rb.host[:0], &sn.cfg.Hostnames, yiaddr)
		if len(rb.host) > 0 {
			w.add(optHostName, rb.host)
		}
	}
	prl, _ := r.msg.get(optPRL)
	vivso := false // option 125 is asked for or always-send: see vendorBuf
	for _, code := range prl {
		if code == optiondef.CodeVIVSO {
			vivso = true
			continue
		}
		if o, ok := findOption(levels, code); ok && !o.NeverSend {
			w.add(code, o.Data)
		}
	}
	for _, lvl := range levels {
		for _, o := range lvl {
			if o.AlwaysSend && !o.NeverSend && !o.VendorSpace {
				if o.Code == optiondef.CodeVIVSO {
					vivso = true
					continue
				}
				if best, ok := findOption(levels, o.Code); ok {
					w.add(o.Code, best.Data)
				}
			}
		}
	}
	if sn != nil {
		// Kea's basic options: sent when configured, asked for or not.
		for _, code := range [...]byte{optDNS, optDomainName} {
			if o, ok := findOption(levels, code); ok && !o.NeverSend {
				w.add(code, o.Data)
			}
		}
		rb.vendor.add(w, levels, r, vivso)
	}
	if len(r.relay) > 0 && !r.informDirect() {
		// RFC 3046: echo the relay agent information, last, always
		// (but not to a client answered directly).
		w.mandatory()
		w.add(optRelayAgent, r.relay)
	}

	if r.bootp {
		w.drop(dhcpOnly[:]...)
	}
	siaddr, sname, file := bootFields(rt, sn, r)
	rb.siaddr = siaddr
	if w.fit(replyLimit(r) - offOptions - 1) {
		s.st.replyOptionsOmitted.Inc()
	}
	w.sortByCode()
	var ciaddr netip.Addr
	if typ == dhcpv4.MessageTypeAck {
		ciaddr = r.ciaddr
	}
	rb.out = encodeReply(rb.out, r, ciaddr, yiaddr, siaddr, sname, file, w.b, false)
	if !r.holdReply {
		s.transmit(r, typ, yiaddr, rb)
	}
	return rb
}

// wants reports whether the client asked for option code.
func wants(r *request, code byte) bool {
	prl, _ := r.msg.get(optPRL)
	for _, c := range prl {
		if c == code {
			return true
		}
	}
	return false
}

// sendNak sends a DHCPNAK (RFC 2131 table 3: no lease fields, no options
// but server id and what every reply echoes). Like Kea, it carries no
// message (option 56): why is for the server's log.
func (s *Server) sendNak(rt *liveConfig, r *request) {
	rb := s.replies.get()
	defer s.replies.put(rb)
	w := &rb.w
	w.addByte(optMessageType, byte(dhcpv4.MessageTypeNak))
	ifAddr := r.pkt.IfAddr.As4()
	w.add(optServerID, ifAddr[:])
	echoDefaults(w, rt, r)
	if len(r.relay) > 0 {
		w.add(optRelayAgent, r.relay)
	}
	w.sortByCode()
	rb.out = encodeReply(rb.out, r, netip.Addr{}, netip.Addr{}, netip.Addr{}, "", "", w.b, r.giaddr.IsValid())
	s.transmit(r, dhcpv4.MessageTypeNak, netip.Addr{}, rb)
}

// transmit picks the destination by RFC 2131 §4.1 and sends rb.out.
func (s *Server) transmit(r *request, typ dhcpv4.MessageType, yiaddr netip.Addr, rb *replyBuf) {
	p := r.pkt
	m := &rb.meta
	*m = handoff.Meta{
		SrcMAC:  p.IfMAC,
		NVLAN:   p.Meta.NVLAN,
		VLAN:    p.Meta.VLAN,
		SrcIP:   p.IfAddr.As4(),
		SrcPort: 67,
		DstPort: 68,
		TTL:     64,
	}
	bcastIP := [4]byte{255, 255, 255, 255}
	bcastMAC := [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	switch {
	case r.informDirect():
		// RFC 2131 §4.3.5: the answer to an INFORM goes to ciaddr, also
		// when a relay forwarded it. As Kea sends it: in a frame to the
		// hop the request came from, the relay, which routes the client's
		// network (the server may have no route of its own to it).
		m.DstIP, m.DstMAC = r.ciaddr.As4(), p.Meta.SrcMAC
	case r.giaddr.IsValid():
		// Through the relay, on the relay's port, by IP: DstMAC stays
		// zero so that the transport routes it to giaddr. The frame's
		// source is whoever sent the request, which need not be the
		// relay the reply is for.
		m.DstIP, m.DstPort = r.giaddr.As4(), 67
	case typ == dhcpv4.MessageTypeNak:
		m.DstIP, m.DstMAC = bcastIP, bcastMAC
	case r.ciaddr.IsValid():
		m.DstIP, m.DstMAC = r.ciaddr.As4(), p.Meta.SrcMAC
	case r.msg.broadcast():
		m.DstIP, m.DstMAC = bcastIP, bcastMAC
	case typ == dhcpv4.MessageTypeAck && !yiaddr.IsValid() && p.Meta.SrcIP != [4]byte{}:
		// INFORM from a client that left ciaddr empty: back to its source.
		m.DstIP, m.DstMAC = p.Meta.SrcIP, p.Meta.SrcMAC
	case yiaddr.IsValid() && len(r.hw) == 6:
		// Unicast to an address the client does not have yet: only a raw
		// frame to chaddr can do this, which is why socket mode is raw.
		m.DstIP = yiaddr.As4()
		copy(m.DstMAC[:], r.hw)
	default:
		m.DstIP, m.DstMAC = bcastIP, bcastMAC
	}
	if err := p.Out.Send(m, rb.out); err != nil {
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

// encodeReply writes a BOOTREPLY with the given options (without End) into
// b, reusing its storage. Options already in place in b (replyPool.get
// has them written there) are not copied.
func encodeReply(b []byte, r *request, ciaddr, yiaddr, siaddr netip.Addr, sname, file string, opts []byte, forceBroadcast bool) []byte {
	if len(opts) > 0 && cap(b) > offOptions && &b[:offOptions+1][offOptions] == &opts[0] {
		b = b[:offOptions+len(opts)]
		clear(b[:offOptions])
	} else {
		// Options of their own (a reply that outgrew the buffer).
		b = append(b[:0], make([]byte, offOptions)...)
		b = append(b, opts...)
	}
	b[0] = 2 // BOOTREPLY
	b[1] = r.msg.htype
	b[2] = byte(len(r.hw))
	if r.typ != dhcpv4.MessageTypeInform || (r.giaddr.IsValid() && !r.informDirect()) {
		// As Kea: the request's hops are kept, but for an INFORM
		// answered straight to the client.
		b[3] = r.msg.hops
	}
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
	if !r.informDirect() {
		put4(24, r.giaddr)
	}
	copy(b[28:44], r.hw)
	copy(b[44:107], sname)
	copy(b[108:235], file)
	copy(b[offCookie:offOptions], magicCookie[:])
	b = append(b, 255)
	// BOOTP relays and old clients expect at least 300 bytes.
	for len(b) < 300 {
		b = append(b, 0)
	}
	return b
}

// splitChunk is the payload of each piece of an option longer than 255
// bytes (RFC 3396). Kea 2.2 cuts 253 bytes a piece (the 255 an option
// holds less its 2-byte header), and so does xdhcp, so that the pieces
// are the same.
const splitChunk = 253

// optWriter appends options once each, splitting long ones (RFC 3396), and
// remembers where each starts so that optional ones can be left out of a
// reply that would be too large.
type optWriter struct {
	b    []byte
	have [256]bool
	ents []optEnt
	// optional is set while the options being added may be left out.
	optional bool
	scratch  []byte // sortByCode's copy of b
}

type optEnt struct {
	start, end int
	optional   bool
}

func (w *optWriter) reset() {
	w.b = w.b[:0]
	w.have = [256]bool{}
	w.ents = w.ents[:0]
	w.optional = false
}

// optionalFrom marks the options added from now on as optional, and
// mandatory those added after a call to mandatory.
func (w *optWriter) optionalFrom() { w.optional = true }
func (w *optWriter) mandatory()    { w.optional = false }

func (w *optWriter) add(code byte, data []byte) {
	if w.have[code] {
		return
	}
	w.have[code] = true
	start := len(w.b)
	if len(data) == 0 {
		w.b = append(w.b, code, 0)
	}
	for len(data) > 0 {
		n := min(len(data), splitChunk)
		w.b = append(w.b, code, byte(n))
		w.b = append(w.b, data[:n]...)
		data = data[n:]
	}
	w.ents = append(w.ents, optEnt{start: start, end: len(w.b), optional: w.optional})
}

func (w *optWriter) addByte(code, v byte) { w.add(code, []byte{v}) }

func (w *optWriter) addString(code byte, v string) {
	// The conversion does not allocate: add copies and keeps nothing.
	w.add(code, []byte(v))
}

func (w *optWriter) addUint32(code byte, v uint32) {
	w.add(code, []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// sortByCode reorders the options as Kea 2.2 packs them: message type
// first, then by code, relay agent information last. The reply is then
// byte for byte Kea's.
func (w *optWriter) sortByCode() {
	rank := func(e optEnt) int {
		switch c := w.b[e.start]; c {
		case optMessageType:
			return -1
		case optRelayAgent:
			return 256
		default:
			return int(c)
		}
	}
	// Insertion sort: a reply has a few dozen options and this allocates
	// nothing.
	ents := w.ents
	for i := 1; i < len(ents); i++ {
		for j := i; j > 0 && rank(ents[j]) < rank(ents[j-1]); j-- {
			ents[j], ents[j-1] = ents[j-1], ents[j]
		}
	}
	w.scratch = append(w.scratch[:0], w.b...)
	w.b = w.b[:0]
	for k := range ents {
		e := &ents[k]
		n := e.end - e.start
		start := len(w.b)
		w.b = append(w.b, w.scratch[e.start:e.end]...)
		e.start, e.end = start, start+n
	}
}

// drop leaves out the options of the given codes.
func (w *optWriter) drop(codes ...byte) {
	for k := range w.ents {
		e := &w.ents[k]
		for _, c := range codes {
			if w.b[e.start] == c {
				e.end = e.start // marks it left out
				break
			}
		}
	}
	w.compact()
}

// fit leaves out optional options, the last added first, until the
// options take at most limit bytes. It reports whether it left any out.
// Mandatory options are never left out, even if they alone do not fit.
func (w *optWriter) fit(limit int) bool {
	size := len(w.b)
	if size <= limit {
		return false
	}
	omitted := false
	for k := len(w.ents) - 1; k >= 0 && size > limit; k-- {
		e := &w.ents[k]
		if e.optional {
			size -= e.end - e.start
			e.end = e.start // marks it left out
			omitted = true
		}
	}
	w.compact()
	return omitted
}

// compact removes the options marked left out (end == start).
func (w *optWriter) compact() {
	out, kept := w.b[:0], w.ents[:0]
	for _, e := range w.ents {
		if e.end > e.start {
			start := len(out)
			out = append(out, w.b[e.start:e.end]...) // moves left only: safe in place
			kept = append(kept, optEnt{start: start, end: len(out), optional: e.optional})
		}
	}
	w.b, w.ents = out, kept
}

// optionLevels lists option-data from most to least specific, as Kea 2.2
// looks them up: reservation, pool, subnet, shared network, classes (in
// membership order), global.
func optionLevels(levels [][]config.Option, rt *liveConfig, sn *subnetRT, pool *poolRT, r *request) [][]config.Option {
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

// findOption returns the most specific dhcp4 option code of levels.
func findOption(levels [][]config.Option, code byte) (config.Option, bool) {
	o, _, ok := findOptionLevel(levels, code)
	return o, ok
}

// findOptionLevel is findOption that also returns the level the option is
// set at.
func findOptionLevel(levels [][]config.Option, code byte) (config.Option, []config.Option, bool) {
	for _, lvl := range levels {
		for _, o := range lvl {
			if o.Code == code && !o.VendorSpace {
				return o, lvl, true
			}
		}
	}
	return config.Option{}, nil, false
}

// bootFields are siaddr, sname and file: reservation, then classes, then
// the subnet.
func bootFields(rt *liveConfig, sn *subnetRT, r *request) (netip.Addr, string, string) {
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

// Options the reply assembly adds besides those the server reads.
const (
	optDNS             = 6
	optDomainName      = 15
	optSubnetSelection = 118
)

// informDirect reports whether r is a relayed INFORM from a client that
// has an address: its answer goes straight to the client (RFC 2131
// §4.3.5), with giaddr 0 and no relay agent information, as Kea sends it.
func (r *request) informDirect() bool {
	return r.typ == dhcpv4.MessageTypeInform && r.giaddr.IsValid() && r.ciaddr.IsValid()
}

// replyHostname appends to b the host name to return in option 12, as
// Kea 2.2 chooses it with the subnet's rules h, for a client given yiaddr:
//   - the reservation's hostname, qualified and lowercased, whatever the
//     client sent or asked for;
//   - a name generated from yiaddr (prefix-a-b-c-d, qualified) when
//     ddns-replace-client-name says so, or when the client sent a name
//     of no label but the root;
//   - else the name the client sent, trimmed, cleaned by
//     hostname-char-set, lowercased, qualified when a single label.
//
// A client that sent no name, and whose name is not to be generated,
// gets none.
func (r *request) replyHostname(b []byte, h *config.HostnameRules, yiaddr netip.Addr) []byte {
	sent, hasSent := r.msg.get(optHostName)
	if r.host != nil && r.host.res.Hostname != "" {
		return lower(qualify(appendString(b, r.host.res.Hostname), len(b), h.QualifyingSuffix), len(b))
	}
	generate := h.Replace == "always" || (hasSent && h.Replace == "when-present") || (!hasSent && h.Replace == "when-not-present")
	if !hasSent && !generate {
		return b
	}
	name := bytes.TrimSpace(sent)
	labels := hostnameLabels(name)
	if hasSent && labels == 0 {
		return b // Kea ignores an empty name (RFC 2131 §3.14)
	}
	if generate || labels < 2 {
		if !yiaddr.IsValid() {
			return b
		}
		start := len(b)
		b = appendString(b, h.GeneratedPrefix)
		b = append(b, '-')
		var text [len("255.255.255.255")]byte
		for _, c := range yiaddr.AppendTo(text[:0]) {
			if c == '.' {
				c = '-'
			}
			b = append(b, c)
		}
		return qualify(b, start, h.QualifyingSuffix)
	}
	if h.CharSet != nil && h.CharSet.Match(name) {
		name = h.CharSet.ReplaceAllLiteral(name, []byte(h.CharReplacement))
	}
	start := len(b)
	b = lower(append(b, name...), start)
	if labels == 2 {
		b = qualify(b, start, h.QualifyingSuffix)
	}
	return b
}

// qualify makes the name b[start:] qualified as Kea's qualifyName does
// without a trailing dot: suffix appended when there is one, a final dot
// removed.
func qualify(b []byte, start int, suffix string) []byte {
	if suffix != "" {
		if len(b) > start && b[len(b)-1] != '.' {
			b = append(b, '.')
		}
		b = appendString(b, suffix)
	}
	if len(b) > start && b[len(b)-1] == '.' {
		b = b[:len(b)-1]
	}
	return b
}

func appendString(b []byte, s string) []byte { return append(b, s...) }

// lower lowercases b[start:] in place.
func lower(b []byte, start int) []byte {
	for i := start; i < len(b); i++ {
		if c := b[i]; c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return b
}

// hostnameLabels counts the labels of name as Kea does, the root
// included: "" has none, "." one, "host" and "host." two, "a.b" three.
func hostnameLabels(name []byte) int {
	if len(name) == 0 {
		return 0
	}
	if len(name) == 1 && name[0] == '.' {
		return 1
	}
	n := 2 + bytes.Count(name, []byte{'.'})
	if name[len(name)-1] == '.' {
		n--
	}
	return n
}

// teeTimes computes T1/T2 as Kea 2.2 does: explicit timers win; otherwise
// they are calculated only with calculate-tee-times, rounded to the
// nearest second; a timer that is zero or not below the next one (or the
// lifetime) is not sent.
func teeTimes(t *config.Timers, valid uint32) (t1, t2 uint32, ok1, ok2 bool) {
	if t.RebindTimer != nil {
		t2, ok2 = *t.RebindTimer, true
	} else if t.CalculateTeeTimes {
		t2, ok2 = share(t.T2Percent, valid), true
	}
	if t.RenewTimer != nil {
		t1, ok1 = *t.RenewTimer, true
	} else if t.CalculateTeeTimes {
		t1, ok1 = share(t.T1Percent, valid), true
	}
	// A zero timer is never sent, as in Kea.
	if ok2 && (t2 == 0 || t2 >= valid) {
		ok2 = false
	}
	limit := valid
	if ok2 {
		limit = t2
	}
	if ok1 && (t1 == 0 || t1 >= limit) {
		ok1 = false
	}
	return t1, t2, ok1, ok2
}

// share is pct of valid, rounded; 0 (not sent) when out of range.
func share(pct float64, valid uint32) uint32 {
	x := math.Round(pct * float64(valid))
	if !(x >= 0 && x <= math.MaxUint32) {
		return 0
	}
	return uint32(x)
}

func net4Mask(bits int) [4]byte {
	m := ^uint32(0) << (32 - bits)
	if bits == 0 {
		m = 0
	}
	return [4]byte{byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)}
}

// echoDefaults adds what Kea 2.2 copies from every request into its reply:
// the client identifier (RFC 6842, unless echo-client-id is false) and the
// subnet selection option (RFC 3011 §3: an identical copy, asked for or
// not). A client that does not find them discards the reply.
func echoDefaults(w *optWriter, rt *liveConfig, r *request) {
	w.mandatory()
	if rt.cfg.EchoClientID {
		if v, ok := r.msg.get(optClientID); ok {
			w.add(optClientID, v)
		}
	}
	if v, ok := r.msg.get(optSubnetSelection); ok {
		w.add(optSubnetSelection, v)
	}
}

// vendorBuf builds option 125 (RFC 3925 vendor-identifying vendor
// options) the way Kea 2.2 does: for one enterprise number, that of the
// configured option 125 the reply carries, else that of the client's
// first, the vendor-space options the client asks for (DOCSIS: the
// vendor option request, sub-option 1 of CableLabs' space) and those set
// always-send, each from the most specific level, in code order.
type vendorBuf struct {
	have [256]bool
	sub  [256][]byte
	b    []byte
}

func (v *vendorBuf) add(w *optWriter, levels [][]config.Option, r *request, vivso bool) {
	v.have = [256]bool{}
	v.b = v.b[:0]
	var vendor uint32
	var oro []byte
	known := false
	req, hasReq := r.msg.get(optiondef.CodeVIVSO)
	if hasReq && len(req) >= 5 && int(req[4]) <= len(req)-5 {
		vendor, known = binary.BigEndian.Uint32(req), true
		if vendor == optiondef.DOCSISVendor {
			oro, _ = subOption(req[5:5+int(req[4])], optiondef.CodeDOCSISORO)
		}
	}
	var configured []byte
	var ownLevel []config.Option
	if vivso {
		// Sent from option-data (asked for or always-send): its
		// enterprise number wins, and the sub-options go into it.
		if o, lvl, ok := findOptionLevel(levels, optiondef.CodeVIVSO); ok && !o.NeverSend && len(o.Data) >= 4 {
			configured, vendor, known = o.Data, config.VIVSOVendor(o.Data), true
			if r.host == nil || &lvl[0] != &r.host.res.Options[0] {
				// A reservation's options are not encapsulated in Kea.
				ownLevel = lvl
			}
		}
	}
	if !known {
		return
	}
	added := false
	pick := func(code byte) {
		if v.have[code] {
			return
		}
		for _, lvl := range levels {
			for _, o := range lvl {
				if o.VendorSpace && o.Vendor == vendor && o.Code == code && !o.NeverSend {
					v.have[code], v.sub[code], added = true, o.Data, true
					return
				}
			}
		}
	}
	if len(configured) > 5 {
		for rest := configured[5:]; len(rest) >= 2 && len(rest) >= 2+int(rest[1]); rest = rest[2+int(rest[1]):] {
			v.have[rest[0]], v.sub[rest[0]] = true, rest[2:2+int(rest[1])]
		}
	}
	for _, o := range ownLevel {
		// Kea puts the vendor's options set where the option 125 is set
		// (the same class, subnet, ...) into it, asked for or not.
		if o.VendorSpace && o.Vendor == vendor && !o.NeverSend && !v.have[o.Code] {
			v.have[o.Code], v.sub[o.Code], added = true, o.Data, true
		}
	}
	for _, code := range oro {
		pick(code)
	}
	for _, lvl := range levels {
		for _, o := range lvl {
			if o.VendorSpace && o.Vendor == vendor && o.AlwaysSend {
				pick(o.Code)
			}
		}
	}
	if !added && configured == nil {
		return
	}
	v.b = binary.BigEndian.AppendUint32(v.b, vendor)
	v.b = append(v.b, 0)
	for code := range v.have {
		if v.have[code] && len(v.b)+2+len(v.sub[code]) <= 255 {
			v.b = append(v.b, byte(code), byte(len(v.sub[code])))
			v.b = append(v.b, v.sub[code]...)
		}
	}
	v.b[4] = byte(len(v.b) - 5)
	w.add(optiondef.CodeVIVSO, v.b)
}
