package slowpath6

import (
	"bytes"
	"encoding/binary"
	"math"
	"net/netip"
	"slices"

	"xdhcp/config"
	"xdhcp/dhcp6"
	"xdhcp/handoff"
	"xdhcp/lease"
	"xdhcp/slowpath/alloc"
)

// exchange is one request and its answer: the parsed packet, the reply
// being built and the lease changes to commit before it leaves. Pooled:
// after finish nothing may point into it.
type exchange struct {
	s   *Server
	pkt *handoff.Packet6
	rt  *live
	p   dhcp6.Packet

	duid     []byte
	duidKey  string // duid as the engine's tables key it; made on first use
	hw       []byte
	hwSource uint32
	hwType   uint16
	now      int64
	sn       *subnet
	res      *config.Reservation6

	msg   dhcp6.Builder // the reply to the client
	out   dhcp6.Builder // the reply with its Relay-reply wrappers
	ias   dhcp6.Builder // IA options, composed into msg in code order
	ops   []lease.Op6
	holds []netip.Addr
	// reply is the type answered (0: none, the request is dropped).
	reply dhcp6.MsgType
	// rapid: a Solicit answered with a Reply.
	rapid bool
	// publish is set when the reply's bindings may go to the fast path's
	// cache; unbound is set when an IA got no binding (nothing is cached
	// then).
	publish, unbound bool
	cached           handoff.CachedLease6
	// topStatus is the reply's own Status Code (Release, Confirm), if any.
	topStatus status
	items     []item
	// cls are the client's classes.
	cls       classSet
	statusBuf []byte
	// declined are the client's leases a Decline declined, as they were
	// (for the lease6_decline event), when something listens.
	declined []lease.Lease6
	// levels, dst, req and onCommit are reused from exchange to exchange
	// so that serving a client allocates little.
	levels   [][]config.Option6
	dst      handoff.Meta6
	req      iaRequest
	onCommit func(error)
	// fq is the Client FQDN of the request and the reply (fqdn.go).
	fq fqdnState
}

// status is a Status Code option's content; an empty text means none.
type status struct {
	code uint16
	text string
}

func statusOf(code uint16, text string) status { return status{code, text} }

// finish returns the exchange and its packet to their pools.
func (ex *exchange) finish() {
	ex.pkt.Release()
	ex.pkt, ex.rt, ex.sn, ex.res, ex.duid, ex.hw, ex.duidKey = nil, nil, nil, nil, nil, nil, ""
	ex.ops, ex.holds, ex.declined = ex.ops[:0], ex.holds[:0], ex.declined[:0]
	ex.reply, ex.rapid, ex.publish, ex.unbound, ex.topStatus = 0, false, false, false, status{}
	ex.cached.IAs = ex.cached.IAs[:0]
	ex.cls.reset()
	ex.fq.reset()
	ex.s.exs.Put(ex)
}

// clientOpt says whether a message type must, may or must not carry an
// identifier option.
type presence uint8

const (
	forbidden presence = iota
	mandatory
	optional
)

// sanity is kea-dhcp6's sanity check per message type: client identifier,
// server identifier.
func sanity(t dhcp6.MsgType) (client, server presence, ok bool) {
	switch t {
	case dhcp6.Solicit, dhcp6.Rebind, dhcp6.Confirm:
		return mandatory, forbidden, true
	case dhcp6.Request, dhcp6.Renew, dhcp6.Release, dhcp6.Decline:
		return mandatory, mandatory, true
	case dhcp6.InformationRequest:
		return optional, optional, true
	}
	return 0, 0, false
}

func check(o dhcp6.Options, code uint16, want presence) bool {
	n := o.Count(code)
	switch want {
	case mandatory:
		return n == 1
	case forbidden:
		return n == 0
	}
	return n <= 1
}

// serve processes the packet. It returns true when a commit was started
// whose completion sends the reply and finishes the exchange.
func (ex *exchange) serve() (detached bool) {
	s := ex.s
	st := s.st
	// While the service is disabled packets are discarded before anything
	// is counted, as Kea does.
	if s.network != nil && !s.network.Enabled() {
		return false
	}
	st.received.Inc()
	if err := ex.p.Parse(ex.pkt.Data); err != nil {
		st.parseFailed.Inc()
		st.receiveDrop.Inc()
		return false
	}
	if !ex.readFQDN() {
		st.parseFailed.Inc()
		st.receiveDrop.Inc()
		return false
	}
	m := &ex.p.Msg
	st.countType(m.Type)
	if ex.p.NRelays > 0 && ex.p.Relays[0].Type != dhcp6.RelayForw {
		st.receiveDrop.Inc()
		return false
	}
	clientP, serverP, known := sanity(m.Type)
	if !known {
		st.receiveDrop.Inc()
		return false
	}
	// Messages a client must multicast are dropped when sent to a unicast
	// address of the server directly (relays unicast to servers anyway).
	if ex.p.NRelays == 0 && !isMulticast(ex.pkt.Meta.DstIP) {
		switch m.Type {
		case dhcp6.Solicit, dhcp6.Confirm, dhcp6.Rebind, dhcp6.InformationRequest:
			st.receiveDrop.Inc()
			return false
		}
	}
	if !check(m.Options, dhcp6.OptClientID, clientP) || !check(m.Options, dhcp6.OptServerID, serverP) {
		st.receiveDrop.Inc()
		return false
	}
	if sid, ok := m.Options.Get(dhcp6.OptServerID); ok && !bytes.Equal(sid, s.duid) {
		st.receiveDrop.Inc()
		return false
	}
	ex.duid, _ = m.Options.Get(dhcp6.OptClientID)
	if m.Type != dhcp6.InformationRequest && len(ex.duid) < 3 {
		st.receiveDrop.Inc()
		return false
	}
	ex.now = s.now().Unix()
	ex.hardware()
	ex.classify()
	ex.sn = ex.rt.selectSubnet(ex.pkt, &ex.p, ex.cls.has)
	if !ex.haScope() {
		return false
	}
	var err error
	if ex.res, err = ex.lookupHost(); err != nil {
		st.receiveDrop.Inc()
		return false
	}
	ex.classifyKnown()
	if ex.cls.has("DROP") {
		st.receiveDrop.Inc()
		return false
	}

	if !ex.prepareFQDN(m.Type) {
		st.receiveDrop.Inc()
		return false
	}
	ex.msg.Reset()
	ex.ias.Reset()
	switch m.Type {
	case dhcp6.Solicit:
		ex.rapid = m.Options.Has(dhcp6.OptRapidCommit) && ex.sn != nil && ex.sn.cfg.RapidCommit
		ex.reply = dhcp6.Advertise
		if ex.rapid {
			ex.reply = dhcp6.Reply
		}
		ex.assign(ex.rapid)
		ex.publish = ex.rapid
	case dhcp6.Request:
		ex.reply = dhcp6.Reply
		ex.assign(true)
		ex.publish = true
	case dhcp6.Renew, dhcp6.Rebind:
		if ex.partnersToExtend() {
			st.partnerPart.Inc()
			return false
		}
		ex.reply = dhcp6.Reply
		ex.extend(m.Type)
	case dhcp6.Release:
		ex.reply = dhcp6.Reply
		ex.release()
	case dhcp6.Decline:
		ex.reply = dhcp6.Reply
		ex.decline()
	case dhcp6.Confirm:
		if !ex.confirm() {
			return false // not counted as a drop: Kea does not either
		}
		ex.reply = dhcp6.Reply
	case dhcp6.InformationRequest:
		ex.reply = dhcp6.Reply
	}
	ex.finishFQDN()
	ex.compose()
	if len(ex.ops) == 0 {
		ex.send()
		return false
	}
	if s.recorder != nil {
		ex.attachRecord()
	}
	s.queue.BeginCommit(st.commitWaits)
	if ex.onCommit == nil {
		ex.onCommit = ex.committed // a method value allocates: made once per pooled exchange
	}
	s.store.CommitAsync(ex.ops, ex.onCommit)
	return true
}

// haScope leaves a query of the HA partner's scope to the partner: it only
// feeds failure detection (Kea counts no drop for it). A query this
// server serves gets the HA_<server> class.
func (ex *exchange) haScope() bool {
	s := ex.s
	if s.scopes == nil {
		return true
	}
	var subnetID uint32
	if ex.sn != nil {
		subnetID = ex.sn.cfg.ID
	}
	m := &ex.p.Msg
	class, serve := s.scopes.Accept(subnetID, uint8(m.Type), ex.duid)
	if !serve {
		var elapsed uint16
		if b, ok := m.Options.Get(dhcp6.OptElapsedTime); ok {
			elapsed, _ = dhcp6.ElapsedTime(b)
		}
		s.scopes.Observe(elapsed, ex.duid, uint8(m.Type))
		return false
	}
	if class != "" {
		ex.cls.add(class)
	}
	return true
}

// flexID is the flex-id hook's identifier of the client, when the
// configuration has the hook and looks reservations up by flex-id: its
// identifier-expression evaluated on the query (nil: none).
func (ex *exchange) flexID() []byte {
	cfg := ex.rt.cfg
	f := cfg.FlexID
	if f == nil || f.Expr == nil || !slices.Contains(cfg.HostReservationIdentifiers, "flex-id") {
		return nil
	}
	v, ok := f.Expr.EvalString(ex)
	if !ok || len(v) == 0 {
		return nil
	}
	return v
}

// committed is the commit's completion: the reply leaves only once its
// leases are durable, and with HA once the partner has them.
func (ex *exchange) committed(err error) {
	s := ex.s
	for _, a := range ex.holds {
		s.held.drop(a)
	}
	if err != nil {
		s.st.commitFail.Inc()
		s.log.Warn("DHCPv6 lease commit failed: reply withheld", "err", err)
		ex.done()
		return
	}
	if s.replicator == nil {
		ex.answer()
		ex.done()
		return
	}
	// The reply waits for the partner's answer, as Kea parks it; not on
	// the store's completion goroutine, which other commits wait for.
	go func() {
		if err := s.replicator.Replicate6(s.ctx, ex.ops); err != nil {
			s.log.Debug("lease update to HA partner failed: reply withheld", "err", err)
		} else {
			ex.answer()
		}
		ex.done()
	}()
}

// answer offers a committed exchange's bindings to the fast path's cache,
// sends its reply and tells the lease hooks of its events (before the reply
// when a listener must hold it until its record is written). The cache
// comes first so that a Renew the client sends as soon as it has the reply
// finds its bindings there.
func (ex *exchange) answer() {
	s := ex.s
	if ex.publish && !ex.unbound && len(ex.cached.IAs) > 0 && s.cache != nil && ex.completeCached() {
		_ = s.cache.Put6(&ex.cached)
	}
	switch {
	case s.events == nil:
		ex.send()
	case s.holdsReply():
		ex.tellEvents()
		ex.send()
	default:
		ex.send()
		ex.tellEvents()
	}
}

// done ends a committed exchange.
func (ex *exchange) done() {
	ex.s.queue.EndCommit(nil)
	ex.finish()
}

func isMulticast(a [16]byte) bool { return a[0] == 0xff }

// hardware finds the client's hardware address as Kea's mac-sources "any"
// does: the frame's source (direct clients, when the transport saw it),
// the DUID (LLT, LL), the EUI-64 link-local source address (direct), the
// relay's Client Link-Layer Address option.
func (ex *exchange) hardware() {
	ex.hw, ex.hwSource, ex.hwType = nil, lease.HWAddrSourceUnknown, 0
	if ex.p.NRelays == 0 && ex.pkt.Meta.SrcMAC != ([6]byte{}) {
		ex.hw, ex.hwSource, ex.hwType = ex.pkt.Meta.SrcMAC[:], lease.HWAddrSourceRaw, 1
		return
	}
	if d := ex.duid; len(d) >= 4 {
		switch binary.BigEndian.Uint16(d) {
		case duidLLT:
			if len(d) > 8 {
				ex.hw, ex.hwSource, ex.hwType = d[8:], lease.HWAddrSourceDUID, binary.BigEndian.Uint16(d[2:])
				return
			}
		case duidLL:
			if len(d) > 4 {
				ex.hw, ex.hwSource, ex.hwType = d[4:], lease.HWAddrSourceDUID, binary.BigEndian.Uint16(d[2:])
				return
			}
		}
	}
	if ex.p.NRelays == 0 {
		src := ex.pkt.Meta.SrcIP
		if src[0] == 0xfe && src[1]&0xc0 == 0x80 && src[11] == 0xff && src[12] == 0xfe {
			mac := make([]byte, 6)
			mac[0], mac[1], mac[2] = src[8]^0x02, src[9], src[10]
			mac[3], mac[4], mac[5] = src[13], src[14], src[15]
			ex.hw, ex.hwSource, ex.hwType = mac, lease.HWAddrSourceLinkLocal, 1
		}
		return
	}
	if r := ex.p.Innermost(); r != nil {
		if v, ok := r.Options.Get(dhcp6.OptClientLinkLayer); ok && len(v) > 2 {
			ex.hw, ex.hwSource, ex.hwType = v[2:], lease.HWAddrSourceClientRelay, binary.BigEndian.Uint16(v)
			return
		}
		// The relay's Remote-Id, after its enterprise number.
		if v, ok := r.Options.Get(dhcp6.OptRemoteID); ok && len(v) > 4 {
			ex.hw, ex.hwSource, ex.hwType = v[4:], lease.HWAddrSourceRemoteID, 1
		}
	}
}

// lifetimes are the preferred and valid lifetimes to grant, as kea-dhcp6
// chooses them: each from the first of the client's classes (in the order
// it joined them) that sets it, else from the subnet (sc); the client's
// hint clamped to that one's bounds, else its value.
func (ex *exchange) lifetimes(sc *config.Subnet6, prefHint, validHint uint32) (pref, valid uint32) {
	p, v := sc.Preferred, sc.Valid
	var classP, classV bool
	for _, name := range ex.cls.names {
		if classP && classV {
			break
		}
		c := ex.class(name)
		if c == nil {
			continue
		}
		if !classP && c.PreferredLifetime != nil {
			p, classP = *c.PreferredLifetime, true
		}
		if !classV && c.ValidLifetime != nil {
			v, classV = *c.ValidLifetime, true
		}
	}
	clamp := func(l config.Lifetimes, hint uint32) uint32 {
		if hint == 0 {
			return l.Valid
		}
		return min(max(hint, l.Min), l.Max)
	}
	return clamp(p, prefHint), clamp(v, validHint)
}

// timers are an IA's T1 and T2 for the smallest preferred lifetime of its
// bindings, as Kea sets them: configured values, else (calculate-tee-times)
// the configured shares of that lifetime; T1 is dropped to 0 when not below
// T2, and both are 0 for an IA without bindings.
func timers(sc *config.Subnet6, pref uint32) (t1, t2 uint32) {
	tm := sc.Timers
	switch {
	case tm.RebindTimer != nil:
		t2 = *tm.RebindTimer
	case tm.CalculateTeeTimes:
		t2 = uint32(math.Round(tm.T2Percent * float64(pref)))
	}
	switch {
	case tm.RenewTimer != nil:
		t1 = *tm.RenewTimer
	case tm.CalculateTeeTimes:
		t1 = uint32(math.Round(tm.T1Percent * float64(pref)))
	}
	if t2 > 0 && t1 >= t2 {
		t1 = 0
	}
	return t1, t2
}

// iaRequest is one IA of the request with what it asked for.
type iaRequest struct {
	code  uint16
	typ   lease.Type
	ia    dhcp6.IA
	hints []hint
}

type hint struct {
	addr        netip.Addr
	plen        uint8
	pref, valid uint32
}

// eachIA calls fn for every IA_NA and IA_PD of the request, in order.
// IA_TA is not served (Kea 2.2 does not either): it gets NoAddrsAvail.
func (ex *exchange) eachIA(fn func(r *iaRequest)) {
	it := ex.p.Msg.Options.Iter()
	r := &ex.req
	for it.Next() {
		if it.Code != dhcp6.OptIANA && it.Code != dhcp6.OptIAPD && it.Code != dhcp6.OptIATA {
			continue
		}
		ia, err := dhcp6.ParseIA(it.Code, it.Data)
		if err != nil {
			continue
		}
		*r = iaRequest{code: it.Code, typ: lease.TypeNA, ia: ia, hints: r.hints[:0]}
		if it.Code == dhcp6.OptIAPD {
			r.typ = lease.TypePD
		}
		in := ia.Options.Iter()
		for in.Next() {
			switch {
			case in.Code == dhcp6.OptIAAddr && it.Code != dhcp6.OptIAPD:
				if a, err := dhcp6.ParseIAAddr(in.Data); err == nil {
					r.hints = append(r.hints, hint{addrOf(a.Addr), 128, a.Preferred, a.Valid})
				}
			case in.Code == dhcp6.OptIAPrefix && it.Code == dhcp6.OptIAPD:
				if p, err := dhcp6.ParseIAPrefix(in.Data); err == nil && p.Len <= 128 {
					r.hints = append(r.hints, hint{addrOf(p.Prefix), p.Len, p.Preferred, p.Valid})
				}
			}
		}
		fn(r)
	}
}

// binding is one address or prefix going into a reply.
type binding struct {
	addr        netip.Addr
	plen        uint8
	pref, valid uint32
}

// writeIA writes an IA with its bindings, or with a status when it has
// none (or a status is given).
func (ex *exchange) writeIA(r *iaRequest, sc *config.Subnet6, bs []binding, status uint16, text string) {
	var t1, t2 uint32
	if len(bs) > 0 && sc != nil {
		minPref := uint32(math.MaxUint32)
		for _, b := range bs {
			if b.valid > 0 {
				minPref = min(minPref, b.pref)
			}
		}
		if minPref != math.MaxUint32 {
			t1, t2 = timers(sc, minPref)
		}
	}
	mark := ex.ias.IA(r.code, r.ia.IAID, t1, t2)
	for _, b := range bs {
		var m int
		if r.typ == lease.TypePD {
			m = ex.ias.IAPrefix(b.addr.As16(), b.plen, b.pref, b.valid)
		} else {
			m = ex.ias.IAAddr(b.addr.As16(), b.pref, b.valid)
		}
		ex.ias.End(m)
	}
	if text != "" {
		ex.ias.Status(status, text)
	}
	ex.ias.End(mark)
	if len(bs) == 0 || bs[0].valid == 0 {
		ex.unbound = true
	}
}

// key is the IA's identity across the engine's tables.
func (ex *exchange) key(r *iaRequest) iaKey {
	if ex.duidKey == "" && len(ex.duid) > 0 {
		ex.duidKey = string(ex.duid) // once per exchange: the tables keep it
	}
	return iaKey{duid: ex.duidKey, iaid: r.ia.IAID, typ: r.typ}
}

// free reports whether candidate a (of plen) can go to the IA k: no live
// lease of another client, no hold of another IA, no reservation for
// another client.
func (ex *exchange) free(k iaKey, a netip.Addr) bool {
	if !ex.notBound(k, a) {
		return false
	}
	if h := ex.reservedFor(a); h != nil && !sameHost(h, ex.res) {
		return false
	}
	return true
}

// notBound reports whether a has no live lease of another IA and no hold
// of another IA.
func (ex *exchange) notBound(k iaKey, a netip.Addr) bool {
	if h, ok := ex.s.held.holder(a, ex.now); ok && h != k {
		return false
	}
	if l, ok := ex.s.store.Get(a); ok && !l.Expired(ex.now) && l.State != lease.StateExpiredReclaimed {
		if !(bytes.Equal(l.DUID, ex.duid) && l.IAID == k.iaid && l.Type == k.typ) {
			return false
		}
	}
	return true
}

// reservedFor returns the reservation of a: the configuration's, else a
// host database's.
func (ex *exchange) reservedFor(a netip.Addr) *config.Reservation6 {
	if ex.sn != nil && ex.sn.res.byAddr != nil {
		if h, ok := ex.sn.res.byAddr[a]; ok {
			return h
		}
	}
	if ex.rt.global.byAddr != nil {
		if h, ok := ex.rt.global.byAddr[a]; ok {
			return h
		}
	}
	return ex.reservedInDB(a)
}

// current are the IA's live bindings in the store (in any subnet of the
// candidates) and those held for it.
func (ex *exchange) current(r *iaRequest, subnets []*subnet) []lease.Lease6 {
	var out []lease.Lease6
	for _, sn := range subnets {
		for _, l := range ex.s.store.ByIA(ex.duid, r.ia.IAID, r.typ, sn.cfg.ID) {
			if !l.Expired(ex.now) && l.State == lease.StateDefault {
				out = append(out, l)
			}
		}
	}
	return out
}

// assign answers a Solicit (commit false, unless rapid commit) or a
// Request (commit true): every IA gets its current bindings, or a
// reserved, hinted or new address or prefix, or a status.
func (ex *exchange) assign(commit bool) {
	ex.eachIA(func(r *iaRequest) {
		noneCode, noneText := dhcp6.StatusNoAddrsAvail, "Sorry, no address could be allocated."
		if r.typ == lease.TypePD {
			noneCode, noneText = dhcp6.StatusNoPrefixAvail, "Sorry, no prefixes could be allocated."
		}
		if r.code == dhcp6.OptIATA {
			ex.writeIA(r, nil, nil, noneCode, noneText)
			return
		}
		if ex.sn == nil {
			// Kea's texts, which differ by IA type.
			text := "Server could not select subnet for this client"
			if r.typ == lease.TypePD {
				text = "Sorry, no subnet available."
			}
			ex.writeIA(r, nil, nil, noneCode, text)
			return
		}
		b, sn, isNew, ok := ex.pick(r)
		if !ok {
			ex.allocFailed(r.typ)
			ex.writeIA(r, ex.sn.cfg, nil, noneCode, noneText)
			return
		}
		pref, valid := ex.lifetimes(sn.cfg, firstHint(r).pref, firstHint(r).valid)
		b.pref, b.valid = pref, valid
		k := ex.key(r)
		if commit {
			ex.bind(r, sn, b, isNew)
		} else if ex.s.held.put(k, b.addr, b.plen, ex.now+advertiseHold, ex.now) {
			// Held for the Request that should follow.
		}
		ex.writeIA(r, sn.cfg, []binding{b}, 0, "")
	})
}

// allocFailed counts an IA left without a binding as Kea does: the
// subnet (or shared network) failed, for want of pools or with them all
// busy, for a client of classes (every client is in ALL).
func (ex *exchange) allocFailed(t lease.Type) {
	g, sn := ex.s.st, ex.sn.st
	if ex.sn.cfg.SharedNetwork != nil {
		g.allocFailShared.Inc()
		sn.allocFailShared.Inc()
	} else {
		g.allocFailSubnet.Inc()
		sn.allocFailSubnet.Inc()
	}
	pools := 0
	for _, s := range ex.rt.siblings(ex.sn, ex.cls.has) {
		if t == lease.TypePD {
			pools += len(s.pd)
		} else {
			pools += len(s.na)
		}
	}
	if pools == 0 {
		g.allocFailNoPools.Inc()
		sn.allocFailNoPools.Inc()
	} else {
		g.allocFail.Inc()
		sn.allocFail.Inc()
	}
	g.allocFailClasses.Inc()
	sn.allocFailClasses.Inc()
}

func firstHint(r *iaRequest) hint {
	if len(r.hints) > 0 {
		return r.hints[0]
	}
	return hint{}
}

// pick chooses the IA's binding: its current lease, its reservation, a
// free hint in a pool, or the next free candidate of the pools.
func (ex *exchange) pick(r *iaRequest) (b binding, sn *subnet, isNew, ok bool) {
	subnets := ex.rt.siblings(ex.sn, ex.cls.has)
	if cur := ex.current(r, subnets); len(cur) > 0 {
		l := cur[0]
		return binding{addr: l.Addr, plen: l.PrefixLen}, ex.rt.byID[l.SubnetID], false, true
	}
	k := ex.key(r)
	if held, ok := ex.s.held.first(k, ex.now); ok {
		for _, s := range subnets {
			if p := s.poolOf(r.typ, held, ex.heldLen(r, held)); p != nil {
				return binding{addr: held, plen: p.plen}, s, true, true
			}
		}
	}
	if ex.res != nil {
		if r.typ == lease.TypeNA {
			for _, a := range ex.res.IPAddresses {
				if ex.free(k, a) {
					return binding{addr: a, plen: 128}, ex.sn, true, true
				}
			}
		} else {
			for _, p := range ex.res.Prefixes {
				if ex.free(k, p.Addr()) {
					return binding{addr: p.Addr(), plen: uint8(p.Bits())}, ex.sn, true, true
				}
			}
		}
	}
	for _, h := range r.hints {
		if h.addr.IsUnspecified() {
			continue
		}
		for _, s := range subnets {
			if p := s.poolOf(r.typ, h.addr, h.plen); p != nil && ex.free(k, h.addr) {
				if !p.inPart(h.addr, ex.part(s)) {
					ex.s.st.partnerPart.Inc()
					continue
				}
				return binding{addr: h.addr, plen: p.plen}, s, true, true
			}
		}
	}
	for _, s := range subnets {
		pools := s.na
		if r.typ == lease.TypePD {
			pools = s.pd
		}
		for _, p := range pools {
			if !ex.poolAllowed(p) {
				continue
			}
			a, found := p.nextIn(ex.part(s), func(a netip.Addr) bool { return ex.notBound(k, a) && ex.reservedFor(a) == nil })
			if found {
				return binding{addr: a, plen: p.plen}, s, true, true
			}
		}
	}
	return binding{}, nil, false, false
}

// partnersToExtend reports whether a Renew or Rebind names, in an IA
// this server holds no lease for, an address or prefix of the HA
// partner's part of a pool while the pools are split: the partner may
// have leased it meanwhile and answers for it, and this server's answer
// (another binding, that one with lifetimes 0) would race the partner's.
func (ex *exchange) partnersToExtend() bool {
	if ex.s.share == nil || ex.sn == nil {
		return false
	}
	subnets := ex.rt.siblings(ex.sn, ex.cls.has)
	found := false
	ex.eachIA(func(r *iaRequest) {
		if found || r.code == dhcp6.OptIATA {
			return
		}
		partners := false
		for _, h := range r.hints {
			for _, s := range subnets {
				if p := s.poolOf(r.typ, h.addr, h.plen); p != nil && !p.inPart(h.addr, ex.part(s)) {
					partners = true
				}
			}
		}
		found = partners && len(ex.current(r, subnets)) == 0
	})
	return found
}

// part is the part of subnet s's pools new leases come from: the whole
// pool unless HA splits it (a server that may serve beside a partner it
// does not hear from takes only its own half). The client's current
// leases, its reservations and what this server advertised to it are
// given wherever they are.
func (ex *exchange) part(s *subnet) alloc.Part {
	if ex.s.share == nil {
		return alloc.Part{}
	}
	return ex.s.share.Part(s.cfg.ID)
}

func (ex *exchange) heldLen(r *iaRequest, a netip.Addr) uint8 {
	if r.typ == lease.TypeNA {
		return 128
	}
	ex.s.held.mu.Lock()
	defer ex.s.held.mu.Unlock()
	return ex.s.held.byA[a].plen
}

// poolAllowed: pools guarded by a class are for its members only.
func (ex *exchange) poolAllowed(p *pool) bool {
	var c string
	if p.addrs != nil {
		c = p.addrs.ClientClass
	} else {
		c = p.pd.ClientClass
	}
	return c == "" || ex.cls.has(c)
}

// bind records the lease of b for the IA, to commit before the reply.
func (ex *exchange) bind(r *iaRequest, sn *subnet, b binding, isNew bool) {
	l := lease.Lease6{
		Addr: b.addr, PrefixLen: b.plen, Type: r.typ, DUID: ex.duid, IAID: r.ia.IAID,
		PreferredLft: b.pref, ValidLft: b.valid, CLTT: ex.now, SubnetID: sn.cfg.ID,
		HWAddr: ex.hw, HWType: ex.hwType, HWAddrSource: ex.hwSource,
	}
	old, had := ex.s.store.Get(b.addr)
	if had && old.State == lease.StateDefault && !old.Expired(ex.now) &&
		bytes.Equal(old.DUID, ex.duid) && old.IAID == r.ia.IAID {
		isNew = false
		l.UserContext = old.UserContext
	}
	l.Hostname = ex.fq.host // DNS updates are off: fqdn_fwd and fqdn_rev stay false
	if sn.cfg.StoreExtended && ex.p.NRelays > 0 {
		l.UserContext = ex.extendedInfo()
	}
	ex.ops = append(ex.ops, lease.Op6{Kind: lease.OpPut, Lease: l})
	if ex.s.held.put(ex.key(r), b.addr, b.plen, ex.now+advertiseHold, ex.now) {
		ex.holds = append(ex.holds, b.addr)
	}
	var prev *lease.Lease6
	if had {
		prev = &old
	}
	// kea-dhcp6 counts an address reserved outside the pools in neither
	// assigned-nas nor cumulative-assigned-nas (checked against it).
	if sn.inPool(r.typ, b.addr, b.plen) {
		ex.s.leases.Changed(prev, &l)
		if isNew {
			ex.s.leases.Assigned(&l)
		}
	}
	ex.cached.IAs = addCached(ex.cached.IAs, r.code, r.ia.IAID, sn.cfg.ID, handoff.CachedLease6Addr{Addr: b.addr.As16(),
		PrefixLen: b.plen, CLTT: ex.now, ValidLft: b.valid, PreferredLft: b.pref, NewValid: b.valid, NewPreferred: b.pref})
}

// addCached adds lease l to the IA (code, iaid) of ias, adding the IA
// when it is not there yet.
func addCached(ias []handoff.CachedIA6, code uint16, iaid, subnetID uint32, l handoff.CachedLease6Addr) []handoff.CachedIA6 {
	for i := range ias {
		if ias[i].Type == code && ias[i].IAID == iaid {
			ias[i].Leases = append(ias[i].Leases, l)
			return ias
		}
	}
	// An entry beyond the length keeps its Leases array from an earlier
	// exchange (the cache stores copies): reuse it.
	var leases []handoff.CachedLease6Addr
	if len(ias) < cap(ias) {
		leases = ias[:len(ias)+1][len(ias)].Leases[:0]
	}
	return append(ias, handoff.CachedIA6{Type: code, IAID: iaid, SubnetID: subnetID, Leases: append(leases, l)})
}

// extend answers a Renew or a Rebind: the IA's bindings get new lifetimes;
// addresses the client names that are not its own come back with
// lifetimes 0; an IA without bindings gets new ones if the pools allow,
// else NoAddrsAvail or NoPrefixAvail (RFC 8415 18.3.4: the server could
// neither extend nor assign), counted as an allocation failure, as Kea
// 2.2 answers.
func (ex *exchange) extend(t dhcp6.MsgType) {
	ex.eachIA(func(r *iaRequest) {
		if r.code == dhcp6.OptIATA {
			ex.writeIA(r, nil, nil, dhcp6.StatusNoBinding, "Sorry, no known leases for this duid/iaid.")
			return
		}
		if ex.sn == nil {
			// Not on a link the server knows: a Rebind's addresses are
			// no longer appropriate; a Renew's binding is unknown here.
			if t == dhcp6.Rebind {
				ex.zeroHints(r, nil)
				return
			}
			ex.writeIA(r, nil, nil, dhcp6.StatusNoBinding, "Sorry, no known leases for this duid/iaid.")
			return
		}
		subnets := ex.rt.siblings(ex.sn, ex.cls.has)
		cur := ex.current(r, subnets)
		if len(cur) == 0 {
			b, sn, isNew, ok := ex.pick(r)
			if !ok {
				ex.allocFailed(r.typ)
				if r.typ == lease.TypePD {
					ex.writeIA(r, ex.sn.cfg, nil, dhcp6.StatusNoPrefixAvail, "Sorry, no prefixes could be assigned at this time.")
				} else {
					ex.writeIA(r, ex.sn.cfg, nil, dhcp6.StatusNoAddrsAvail, "Sorry, no addresses could be assigned at this time.")
				}
				return
			}
			b.pref, b.valid = ex.lifetimes(sn.cfg, firstHint(r).pref, firstHint(r).valid)
			ex.bind(r, sn, b, isNew)
			bs := []binding{b}
			bs = ex.appendZeroed(r, bs)
			ex.writeIA(r, sn.cfg, bs, 0, "")
			return
		}
		var bs []binding
		var sc *config.Subnet6
		for _, l := range cur {
			sn := ex.rt.byID[l.SubnetID]
			pref, valid := ex.lifetimes(sn.cfg, firstHint(r).pref, firstHint(r).valid)
			b := binding{addr: l.Addr, plen: l.PrefixLen, pref: pref, valid: valid}
			ex.bind(r, sn, b, false)
			bs = append(bs, b)
			sc = sn.cfg
		}
		bs = ex.appendZeroed(r, bs)
		ex.writeIA(r, sc, bs, 0, "")
	})
	ex.publish = true
}

// appendZeroed adds the hints that are not among bs with lifetimes 0: the
// client must stop using them.
func (ex *exchange) appendZeroed(r *iaRequest, bs []binding) []binding {
	for _, h := range r.hints {
		if h.addr.IsUnspecified() {
			continue
		}
		known := false
		for _, b := range bs {
			if b.addr == h.addr && (r.typ == lease.TypeNA || b.plen == h.plen) {
				known = true
			}
		}
		if !known {
			bs = append(bs, binding{addr: h.addr, plen: h.plen})
		}
	}
	return bs
}

func (ex *exchange) zeroHints(r *iaRequest, sc *config.Subnet6) {
	ex.writeIA(r, sc, ex.appendZeroed(r, nil), 0, "")
}

// release answers a Release: each IA's named bindings that are the
// client's leave the store; the others get NoBinding.
func (ex *exchange) release() {
	general := dhcp6.StatusSuccess
	ex.eachIA(func(r *iaRequest) {
		if r.code == dhcp6.OptIATA {
			return
		}
		ok := len(r.hints) > 0
		for _, h := range r.hints {
			l, found := ex.s.store.Get(h.addr)
			if !found || !bytes.Equal(l.DUID, ex.duid) || l.IAID != r.ia.IAID || l.Type != r.typ {
				ok = false
				continue
			}
			ex.ops = append(ex.ops, lease.Op6{Kind: lease.OpDelete, Lease: l})
			ex.s.leases.Changed(&l, nil)
			ex.s.held.drop(h.addr)
		}
		if ok {
			ex.writeIA(r, nil, nil, dhcp6.StatusSuccess, "Lease released. Thank you, please come again.")
		} else {
			general = dhcp6.StatusNoBinding
			ex.writeIA(r, nil, nil, dhcp6.StatusNoBinding, "Sorry, no known leases for this duid/iaid, can't release.")
		}
	})
	if ex.s.cache != nil {
		ex.s.cache.Delete6(ex.duid)
	}
	if general == dhcp6.StatusSuccess {
		ex.topStatus = statusOf(dhcp6.StatusSuccess, "Summary status for all processed IA_NAs")
	} else {
		ex.topStatus = statusOf(dhcp6.StatusNoBinding, "Summary status for all processed IA_NAs")
	}
}

// decline answers a Decline: each named address that is the client's
// becomes declined for the probation period.
func (ex *exchange) decline() {
	ex.eachIA(func(r *iaRequest) {
		if r.code != dhcp6.OptIANA {
			return
		}
		ok := len(r.hints) > 0
		for _, h := range r.hints {
			l, found := ex.s.store.Get(h.addr)
			if !found || !bytes.Equal(l.DUID, ex.duid) || l.IAID != r.ia.IAID || l.Type != lease.TypeNA {
				ok = false
				continue
			}
			probation := uint32(ex.rt.cfg.DeclineProbationPeriod.Seconds())
			if ex.s.hooked() {
				ex.declined = append(ex.declined, l)
			}
			d := l
			d.DUID, d.HWAddr, d.HWType, d.HWAddrSource = []byte{0}, nil, 0, 0
			d.State, d.CLTT, d.ValidLft, d.PreferredLft = lease.StateDeclined, ex.now, probation, 0
			d.Hostname, d.FqdnFwd, d.FqdnRev = "", false, false
			ex.ops = append(ex.ops, lease.Op6{Kind: lease.OpPut, Lease: d})
			ex.s.leases.Changed(&l, &d)
		}
		if ok {
			ex.writeIA(r, nil, nil, dhcp6.StatusSuccess, "Lease declined. Hopefully the next one will be better.")
		} else {
			ex.writeIA(r, nil, nil, dhcp6.StatusNoBinding, "Server does not know about such an address.")
		}
	})
	if ex.s.cache != nil {
		ex.s.cache.Delete6(ex.duid)
	}
}

// confirm answers a Confirm: Success when every address named is on the
// client's link, NotOnLink otherwise. A Confirm naming no address, or from
// a link the server cannot place, gets no answer.
func (ex *exchange) confirm() bool {
	n, on := 0, true
	var off netip.Addr // the first address not on link, which Kea's text names
	ex.eachIA(func(r *iaRequest) {
		if r.typ != lease.TypeNA {
			return
		}
		for _, h := range r.hints {
			n++
			if on && (ex.sn == nil || !ex.onLink(h.addr)) {
				on, off = false, h.addr
			}
		}
	})
	if n == 0 || ex.sn == nil {
		return false
	}
	ex.ias.Reset() // Confirm's answer carries no IA
	if on {
		ex.topStatus = statusOf(dhcp6.StatusSuccess, "All addresses are on-link")
	} else {
		ex.topStatus = statusOf(dhcp6.StatusNotOnLink, "Address "+off.String()+" is not on link.")
	}
	return true
}

func (ex *exchange) onLink(a netip.Addr) bool {
	for _, sn := range ex.rt.siblings(ex.sn, ex.cls.has) {
		if sn.cfg.Prefix.Contains(a) {
			return true
		}
	}
	return false
}
