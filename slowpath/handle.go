package slowpath

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"slices"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"xdhcp/config"
	"xdhcp/hooks"
	"xdhcp/lease"
	"xdhcp/slowpath/alloc"
)

// handle runs one request through Kea's processing order, a stage at a
// time (see stages); the last stage answers it.
func (s *Server) handle(rt *liveConfig, r *request) {
	for _, step := range stages() {
		if !step(s, rt, r) {
			return
		}
	}
}

// A stage is one step of the processing of a request. It returns false
// when the request goes no further: dropped (and counted), or left to the
// HA partner.
type stage func(s *Server, rt *liveConfig, r *request) bool

// stages are the steps of Kea's processing order, after the operator's
// drop list and the relay checks (relaytrust.go): classification, DROP,
// the accept checks, subnet selection, HA scopes, reservations, the
// classes that depend on them, DROP again, and the message handler.
func stages() [14]stage {
	return [...]stage{
		bootpRequest,
		dropListed,
		relayTrust,
		classifyEarly,
		dropClass,
		clientMessage,
		addressedToUs,
		discoverSanity,
		chooseSubnet,
		haScope,
		reservation,
		classifyKnown,
		dropClass,
		respond,
	}
}

// classifyEarly puts the request in ALL, its VENDOR_CLASS_ class and the
// configured classes whose test does not depend on KNOWN/UNKNOWN.
func classifyEarly(_ *Server, rt *liveConfig, r *request) bool {
	r.addClass("ALL")
	if v, _ := r.msg.get(optVendorClass); len(v) > 0 {
		r.addClass("VENDOR_CLASS_" + string(v))
	}
	for _, c := range rt.early {
		if c.Test.Eval(r) {
			r.addClass(c.Name)
		}
	}
	return true
}

// dropClass drops a member of the DROP class.
func dropClass(s *Server, _ *liveConfig, r *request) bool {
	if r.member("DROP") {
		s.st.receiveDrop.Inc()
		return false
	}
	return true
}

// clientMessage drops server messages (OFFER, ACK, NAK) and unknown types
// from a client.
func clientMessage(s *Server, _ *liveConfig, r *request) bool {
	switch r.typ {
	case dhcpv4.MessageTypeDiscover, dhcpv4.MessageTypeRequest, dhcpv4.MessageTypeRelease,
		dhcpv4.MessageTypeDecline, dhcpv4.MessageTypeInform:
		return true
	}
	s.st.receiveDrop.Inc()
	return false
}

// addressedToUs drops a request whose server identifier names another
// server (Kea's acceptServerId, for every message type): a REQUEST means
// the client selected another server, so what we offered it is freed; a
// RELEASE or DECLINE naming another server is not ours to act on, spoofed
// or not.
func addressedToUs(s *Server, rt *liveConfig, r *request) bool {
	if !r.serverID.IsValid() || r.serverID == r.pkt.IfAddr || rt.serverIDs[r.serverID] {
		return true
	}
	s.st.receiveDrop.Inc()
	s.hs.otherServer.Inc()
	if r.typ == dhcpv4.MessageTypeRequest {
		s.withdrawOffer(rt, r.key)
	}
	return false
}

// discoverSanity drops a DISCOVER with a server identifier: RFC 2131
// table 5 says it MUST NOT carry one, and Kea's sanityCheck (FORBIDDEN)
// drops it even when it names us.
func discoverSanity(s *Server, _ *liveConfig, r *request) bool {
	if r.typ == dhcpv4.MessageTypeDiscover && r.msg.has(optServerID) {
		s.st.receiveDrop.Inc()
		s.hs.discoverServerID.Inc()
		return false
	}
	return true
}

// chooseSubnet selects the request's subnet (none is not a drop: the
// handlers decide what a request from an unknown network gets).
func chooseSubnet(s *Server, rt *liveConfig, r *request) bool {
	r.subnet = s.selectSubnet(rt, r)
	return true
}

// haScope leaves a query of the HA partner's scope to the partner: it only
// feeds failure detection (Kea counts no drop for it). A query we serve
// gets the HA_<server> class.
func haScope(s *Server, _ *liveConfig, r *request) bool {
	if s.scopes == nil || r.subnet == nil {
		return true
	}
	key := r.hw
	if len(r.cid) > 0 {
		key = r.cid
	}
	class, serve := s.scopes.Accept(r.subnet.cfg.ID, uint8(r.typ), key)
	if !serve {
		s.scopes.Observe(r.msg.secs, append(bytes.Clone(r.hw), r.cid...), uint8(r.typ))
		return false
	}
	if class != "" {
		r.addClass(class)
	}
	return true
}

// reservation finds the client's reservation, in its subnet and then
// globally as the subnet allows, and classes the request KNOWN (with the
// reservation's classes) or UNKNOWN.
func reservation(s *Server, rt *liveConfig, r *request) bool {
	flexIdentify(rt.cfg, r)
	sn := r.subnet
	var host *config.Reservation
	var err error
	if sn != nil && sn.cfg.ReservationsInSubnet {
		host, err = s.findHost(rt, sn.cfg.ID, r)
	}
	if host == nil && err == nil && (sn == nil || sn.cfg.ReservationsGlobal) {
		host, err = s.findHost(rt, 0, r)
	}
	if err != nil {
		// Kea drops a packet whose processing a database failed.
		s.hostLookupFailed(err)
		s.st.receiveDrop.Inc()
		return false
	}
	if host == nil {
		r.addClass("UNKNOWN")
		return true
	}
	r.host = &hostMatch{res: host}
	if len(host.ClientClasses) > 0 && sn != nil && sn.cfg.SharedNetwork == nil {
		// The subnet cannot change any more, so, as Kea 2.2 does, the
		// reservation's classes join now and the classes evaluated on
		// arrival are evaluated again after them (a test may name them).
		// In a shared network they join once the address is chosen (see
		// requireClasses).
		reclassify(rt, r, host.ClientClasses)
	} else if slices.Contains(host.ClientClasses, "DROP") {
		// A reservation that drops its client drops it in a shared
		// network too (there the other classes join later).
		r.addClass("DROP")
	}
	r.addClass("KNOWN")
	return true
}

// reclassify drops the classes evaluated on arrival, adds the
// reservation's classes, and evaluates the arrival classes again.
func reclassify(rt *liveConfig, r *request, reserved []string) {
	kept := r.classes[:0]
	for _, c := range r.classes {
		if !rt.evaluatedEarly(c) {
			kept = append(kept, c)
		}
	}
	r.classes = kept
	for _, c := range reserved {
		r.addClass(c)
	}
	for _, c := range rt.early {
		if c.Test.Eval(r) {
			r.addClass(c.Name)
		}
	}
}

// flexIdentify computes the flex-id hook's identifier when the
// configuration looks reservations up by flex-id, and with
// replace-client-id makes it the client identifier (0x00 then the value,
// as Kea records it in the lease).
func flexIdentify(cfg *config.Config, r *request) {
	f := cfg.FlexID
	if f == nil || f.Expr == nil || !slices.Contains(cfg.HostReservationIdentifiers, "flex-id") {
		return
	}
	v, ok := f.Expr.EvalString(r)
	if !ok || len(v) == 0 {
		return
	}
	r.flexID = v
	if f.ReplaceClientID {
		r.cid = append([]byte{0}, v...)
	}
}

// classifyKnown evaluates the classes whose test depends on KNOWN or
// UNKNOWN, after the reservation lookup, as Kea does.
func classifyKnown(_ *Server, rt *liveConfig, r *request) bool {
	for _, c := range rt.deferred {
		if c.Test.Eval(r) {
			r.addClass(c.Name)
		}
	}
	return true
}

// respond runs the message type's handler.
func respond(s *Server, rt *liveConfig, r *request) bool {
	switch r.typ {
	case dhcpv4.MessageTypeDiscover:
		s.discover(rt, r.subnet, r)
	case dhcpv4.MessageTypeRequest:
		if r.bootp {
			s.bootp(rt, r.subnet, r)
			return true
		}
		s.request(rt, r.subnet, r)
	case dhcpv4.MessageTypeRelease:
		s.release(rt, r)
	case dhcpv4.MessageTypeDecline:
		s.decline(rt, r)
	case dhcpv4.MessageTypeInform:
		s.inform(rt, r.subnet, r)
	}
	return true
}

// selectSubnet picks the request's subnet as Kea 2.2 does: an address
// named by link-selection or option 118 (see selectionAddr); a relayed
// request by the relay addresses of subnets and shared networks, then by
// the address that locates the client (giaddr; for a unicast request its
// ciaddr, else its source address; else the receiving interface, by the
// subnets' "interface" and then by its address). Every candidate must
// allow the client's classes; the first in configuration order that does
// is chosen, and when none does the request has no subnet (the shared
// network's other subnets are tried by allocation, not by selection).
func (s *Server) selectSubnet(rt *liveConfig, r *request) *subnetRT {
	if a, ok := selectionAddr(r); ok {
		return rt.subnetAt(a, r)
	}
	if r.giaddr.IsValid() {
		for _, sn := range rt.subnets {
			relayed := hasAddr(sn.cfg.RelayAddrs, r.giaddr) ||
				(sn.cfg.SharedNetwork != nil && hasAddr(sn.cfg.SharedNetwork.RelayAddrs, r.giaddr))
			if relayed && subnetAllowed(sn, r) {
				return sn
			}
		}
		return rt.subnetAt(r.giaddr, r)
	}
	unicast := r.pkt.Meta.DstIP != [4]byte{255, 255, 255, 255}
	if src := addrOf(r.pkt.Meta.SrcIP); unicast && (r.ciaddr.IsValid() || src.IsValid()) {
		if r.ciaddr.IsValid() {
			return rt.subnetAt(r.ciaddr, r)
		}
		return rt.subnetAt(src, r)
	}
	for _, sn := range rt.subnets {
		if sn.cfg.Interface != "" && sn.cfg.Interface == r.pkt.IfName && subnetAllowed(sn, r) {
			return sn
		}
	}
	if r.pkt.IfAddr.IsValid() {
		return rt.subnetAt(r.pkt.IfAddr, r)
	}
	return nil
}

// selectionAddr is the address the client's relay or the client itself
// names for subnet selection, which Kea 2.2 follows before anything else:
// the relay agent's link-selection sub-option (RFC 3527), else the subnet
// selection option (118, RFC 3011).
func selectionAddr(r *request) (netip.Addr, bool) {
	if v, ok := subOption(r.relay, optLinkSelection); ok && len(v) == 4 {
		return netip.AddrFrom4([4]byte(v)), true
	}
	if v, _ := r.msg.get(optSubnetSelection); len(v) == 4 {
		return netip.AddrFrom4([4]byte(v)), true
	}
	return netip.Addr{}, false
}

// subnetAt returns the first subnet whose prefix holds a and whose classes
// allow the client of r.
func (rt *liveConfig) subnetAt(a netip.Addr, r *request) *subnetRT {
	for _, sn := range rt.subnets {
		if sn.cfg.Prefix.Contains(a) && subnetAllowed(sn, r) {
			return sn
		}
	}
	return nil
}

func subnetAllowed(sn *subnetRT, r *request) bool {
	if c := sn.cfg.ClientClass; c != "" && !r.member(c) {
		return false
	}
	if n := sn.cfg.SharedNetwork; n != nil && n.ClientClass != "" && !r.member(n.ClientClass) {
		return false
	}
	return true
}

func poolAllowed(p *poolRT, r *request) bool {
	return p.cfg.ClientClass == "" || r.member(p.cfg.ClientClass)
}

func hasAddr(list []netip.Addr, a netip.Addr) bool {
	for _, b := range list {
		if a == b {
			return true
		}
	}
	return false
}

// clientLease returns the client's lease in one of the link's subnets
// (declined and reclaimed leases are not the client's any more).
func (s *Server) clientLease(sn *subnetRT, r *request) (lease.Lease, *subnetRT, bool) {
	try := func(ls []lease.Lease) (lease.Lease, *subnetRT, bool) {
		for _, l := range ls {
			if l.State != lease.StateDefault {
				continue
			}
			for _, m := range sn.link {
				if m.cfg.ID == l.SubnetID && subnetAllowed(m, r) && r.owns(l.HWAddr, l.ClientID, m.cfg.MatchClientID) {
					return l, m, true
				}
			}
		}
		return lease.Lease{}, nil, false
	}
	if len(r.cid) > 0 && sn.cfg.MatchClientID {
		if l, m, ok := try(s.store.ByClientID(r.cid)); ok {
			return l, m, true
		}
	}
	if len(r.hw) > 0 {
		return try(s.store.ByHWAddr(r.hw))
	}
	return lease.Lease{}, nil, false
}

// usable reports whether address a in subnet sn may be given to the client
// of r now: nobody else holds it (lease, offer, reservation) and it is in a
// pool the client may use or reserved for the client.
func (s *Server) usable(rt *liveConfig, sn *subnetRT, a netip.Addr, r *request, now int64) bool {
	if !sn.cfg.Prefix.Contains(a) || a == sn.cfg.Prefix.Masked().Addr() || a == broadcastOf(sn.cfg.Prefix) {
		return false
	}
	mine := r.host != nil && r.host.res.IP == a
	if res := rt.reservedIP[a]; res != nil && !mine && !sn.cfg.ReservationsOutOfPool {
		return false
	}
	if !mine && s.reservedForOther(rt, sn, a, r) {
		return false
	}
	if l, ok := s.store.Get(a); ok && l.State != lease.StateExpiredReclaimed && !l.Expired(now) {
		if l.State == lease.StateDeclined || !r.owns(l.HWAddr, l.ClientID, sn.cfg.MatchClientID) {
			return false
		}
	}
	if k, ok := s.offers.holder(a); ok && k != r.key {
		return false
	}
	if mine {
		return true
	}
	p := sn.poolFor(a)
	return p != nil && poolAllowed(p, r) && !s.partnersAddr(sn, p, a, r, now)
}

// part is the part of sn's pools HA lets this server take new leases from
// now (the whole pool without HA).
func (s *Server) part(sn *subnetRT) alloc.Part {
	if s.share == nil {
		return alloc.Part{}
	}
	return s.share.Part(sn.cfg.ID)
}

// partnersAddr reports whether a, in pool p of sn, is an address this
// server must leave alone now: outside its part of the pool while HA
// restricts new leases to that part, and neither reserved for the client
// of r nor its unexpired lease.
//
// Why renewing such a lease is safe: the lease was on both servers when
// the partner was last heard from (leases are replicated before they are
// acknowledged, and the partner's own part is the only place it takes new
// addresses from since), so the partner cannot have given the address to
// another client while this lease runs. An expired lease or an address
// this server never leased could since have gone to another client of the
// partner, so only the partner answers for those.
func (s *Server) partnersAddr(sn *subnetRT, p *poolRT, a netip.Addr, r *request, now int64) bool {
	pt := s.part(sn)
	if pt.Whole() || p.alloc.InPart(a, pt) {
		return false
	}
	if r.host != nil && r.host.res.IP == a {
		return false // a reservation: the same client on both servers
	}
	l, ok := s.store.Get(a)
	return !ok || l.State != lease.StateDefault || l.Expired(now) || !r.owns(l.HWAddr, l.ClientID, sn.cfg.MatchClientID)
}

// claim marks a used in its pool's bitmap. A bit that is already set is
// fine when the address is the client's own (its lease or its offer) or
// was left by an expired lease.
func (s *Server) claim(sn *subnetRT, a netip.Addr, r *request, now int64) (claimed, ok bool) {
	p := sn.poolFor(a)
	if p == nil {
		return false, true // out of pool: a reservation, unique by configuration
	}
	if p.alloc.Claim(a) {
		return true, true
	}
	if k, held := s.offers.holder(a); held {
		return false, k == r.key
	}
	if l, ok := s.store.Get(a); ok {
		if l.State == lease.StateExpiredReclaimed || l.Expired(now) {
			return false, l.State != lease.StateDeclined || l.Expired(now)
		}
		return false, l.State == lease.StateDefault && r.owns(l.HWAddr, l.ClientID, sn.cfg.MatchClientID)
	}
	// Set with no lease and no offer: an in-pool reservation for this
	// client (usable checked that), or a race with another allocation.
	return false, r.host != nil && r.host.res.IP == a
}

// release frees a's bit in its pool.
func (s *Server) freeAddr(rt *liveConfig, a netip.Addr) {
	if p := rt.poolFor(a); p != nil {
		p.alloc.Release(a)
	}
}

// withdrawOffer frees the address held for client key.
func (s *Server) withdrawOffer(rt *liveConfig, key string) {
	if a, ok := s.offers.forClient(key); ok {
		s.offers.drop(a)
		if _, leased := s.store.Get(a); !leased {
			s.freeAddr(rt, a)
		}
	}
}

// discover answers a DISCOVER with an OFFER: the client's lease, its
// reservation, the address it asked for, or a new one, in that order.
func (s *Server) discover(rt *liveConfig, sn *subnetRT, r *request) {
	if sn == nil {
		// Unknown network, or a giaddr naming no relay or subnet of
		// ours (spoofed or misconfigured): Kea drops it without a
		// statistic; we count it.
		s.hs.noSubnet.Inc()
		s.log.Debug("no subnet for client", "iface", r.pkt.IfName, "giaddr", r.giaddr, "mac", macString(r.hw))
		return
	}
	now := s.now().Unix()
	var p offerPick
	if !s.pickOffer(rt, sn, r, now, &p) {
		return // no address left (allocate counted why)
	}
	addr, target, cur, hasCur := p.addr, p.target, p.cur, p.hasCur
	if l, ok := s.store.Get(addr); ok && !hasCur && l.State == lease.StateDefault && r.owns(l.HWAddr, l.ClientID, target.cfg.MatchClientID) {
		cur, hasCur = l, true
	}
	valid := rt.lifetime(target, r)
	if hasCur {
		if rem, ok := reusable(target.cfg, &cur, valid, r, r.leaseHostname(&target.cfg.Hostnames, addr), now); ok {
			valid = rem
		}
	}
	requireClasses(rt, target, addr, r)
	rb := s.sendLease(rt, target, r, dhcpv4.MessageTypeOffer, addr, valid)
	s.tellOffer(r, target, addr, valid, rb.out)
	s.replies.put(rb)
}

// pickOffer picks the address to offer the client of r on sn's link into
// p. Where it comes from, in order: the client's reservation (which wins
// over its current lease), its lease, the address already offered to it,
// the address it asked for, a new one. (Called directly, not from a
// table, so that p stays on the stack.) It reports false when no address
// is left (allocate counted why).
func (s *Server) pickOffer(rt *liveConfig, sn *subnetRT, r *request, now int64, p *offerPick) bool {
	return offerReserved(s, rt, sn, r, now, p) ||
		offerLeased(s, rt, sn, r, now, p) ||
		offerHeld(s, rt, sn, r, now, p) ||
		offerRequested(s, rt, sn, r, now, p) ||
		offerNew(s, rt, sn, r, now, p)
}

// offerPick is the address an OFFER carries, the subnet of the link that
// holds it, and the client's lease of it when that is where it came from.
type offerPick struct {
	addr   netip.Addr
	target *subnetRT
	cur    lease.Lease
	hasCur bool
}

// The sources of an OFFER's address (see discover) each report whether
// they picked one for the client of r on sn's link, into p.

func offerReserved(s *Server, rt *liveConfig, sn *subnetRT, r *request, now int64, p *offerPick) bool {
	if r.host == nil || !r.host.res.IP.IsValid() {
		return false
	}
	t := linkSubnetFor(sn, r.host.res.IP)
	if t == nil {
		return false
	}
	if !s.usable(rt, t, r.host.res.IP, r, now) {
		s.st.reservationConflicts.Inc()
		t.st.conflicts.Inc()
		return false
	}
	p.addr, p.target = r.host.res.IP, t
	return true
}

func offerLeased(s *Server, rt *liveConfig, sn *subnetRT, r *request, now int64, p *offerPick) bool {
	l, t, ok := s.clientLease(sn, r)
	if !ok || !s.usable(rt, t, l.Addr, r, now) {
		return false
	}
	p.addr, p.target, p.cur, p.hasCur = l.Addr, t, l, true
	return true
}

func offerHeld(s *Server, rt *liveConfig, sn *subnetRT, r *request, now int64, p *offerPick) bool {
	a, ok := s.offers.forClient(r.key)
	if !ok {
		return false
	}
	t := linkSubnetFor(sn, a)
	if t == nil || !s.usable(rt, t, a, r, now) {
		return false
	}
	p.addr, p.target = a, t
	return true
}

func offerRequested(s *Server, rt *liveConfig, sn *subnetRT, r *request, now int64, p *offerPick) bool {
	if !r.requested.IsValid() {
		return false
	}
	t := linkSubnetFor(sn, r.requested)
	if t == nil || !s.usable(rt, t, r.requested, r, now) {
		return false
	}
	claimed, ok := s.claim(t, r.requested, r, now)
	if !ok {
		return false
	}
	p.addr, p.target = r.requested, t
	if claimed {
		s.holdOffer(rt, t, r, p.addr, now)
	}
	return true
}

// offerNew allocates a new address, after taking back offers held past
// their share of the link's pools.
func offerNew(s *Server, rt *liveConfig, sn *subnetRT, r *request, now int64, p *offerPick) bool {
	for _, t := range sn.link {
		s.rebalanceOffers(rt, t, r)
	}
	addr, target := s.allocate(rt, sn, r, now)
	if !addr.IsValid() {
		return false
	}
	s.holdOffer(rt, target, r, addr, now)
	p.addr, p.target = addr, target
	return true
}

// holdOffer remembers addr (just claimed in sn's pool) as offered to the
// client, freeing what it held.
//
// Held offers are capped per subnet (offerTable.hold): a client cycling
// MACs and sending only DISCOVERs would otherwise pin the whole pool for
// offerHold. Past the cap the address is offered without being held, which
// is what Kea 2.2 always does: it goes back to the pool at once, and if two
// clients are offered it, the second REQUEST gets a NAK and its client
// starts over. So a DISCOVER storm can pin at most half of the free
// addresses, and legitimate clients still get the other half.
func (s *Server) holdOffer(rt *liveConfig, sn *subnetRT, r *request, addr netip.Addr, now int64) {
	prev, had, held := s.offers.hold(r.key, addr, now+int64(offerHold.Seconds()), sn.cfg.ID, unclaimed(sn))
	if had {
		if _, leased := s.store.Get(prev); !leased {
			s.freeAddr(rt, prev)
		}
	}
	if !held {
		s.hs.offerHoldLimited.Inc()
		if l, ok := s.store.Get(addr); !ok || l.State == lease.StateExpiredReclaimed {
			s.freeAddr(rt, addr)
		}
	}
}

// unclaimed is the number of addresses of sn's pools that nothing (lease,
// offer, reservation) holds.
func unclaimed(sn *subnetRT) int {
	n := uint64(0)
	for _, p := range sn.pools {
		n += p.alloc.Size() - p.alloc.Used()
	}
	return int(min(n, 1<<31-1))
}

// allocate takes a new address from the link's pools the client may use.
func (s *Server) allocate(rt *liveConfig, sn *subnetRT, r *request, now int64) (netip.Addr, *subnetRT) {
	pools := 0
	for _, t := range sn.link {
		if !subnetAllowed(t, r) {
			continue
		}
		pt := s.part(t)
		for _, p := range t.pools {
			if !poolAllowed(p, r) {
				continue
			}
			pools++
			// The bitmap says free; the store must agree (an address can
			// be held by a lease of a subnet configured earlier).
			for tries := 0; tries < 8; tries++ {
				a, ok := p.alloc.NextIn(pt)
				if !ok {
					break
				}
				if l, exists := s.store.Get(a); exists && l.State != lease.StateExpiredReclaimed && !l.Expired(now) {
					continue // stays claimed: it is in use
				}
				if a == t.cfg.Prefix.Masked().Addr() || a == broadcastOf(t.cfg.Prefix) {
					continue // never hand out network or broadcast addresses
				}
				if s.reservedForOther(rt, t, a, r) {
					// A database reserves it for someone else; its bit
					// goes back so that it is free again once the
					// reservation goes.
					p.alloc.Release(a)
					continue
				}
				return a, t
			}
		}
	}
	s.st.allocFail.Inc()
	sn.st.allocFail.Inc()
	switch {
	case pools == 0 && len(sn.link) > 1:
		s.st.allocFailClasses.Inc()
	case pools == 0:
		s.st.allocFailNoPools.Inc()
	case len(sn.link) > 1:
		s.st.allocFailShared.Inc()
	default:
		s.st.allocFailSubnet.Inc()
	}
	if pt := s.part(sn); !pt.Whole() {
		s.log.Warn("address pool exhausted in this server's part (its HA partner may be serving the rest)",
			"subnet", sn.cfg.ID, "mac", macString(r.hw), "part", int(pt.Index)+1, "parts", pt.Parts)
	} else {
		s.log.Warn("address pool exhausted", "subnet", sn.cfg.ID, "mac", macString(r.hw))
	}
	return netip.Addr{}, nil
}

// linkSubnetFor returns the subnet of sn's link whose prefix holds a.
func linkSubnetFor(sn *subnetRT, a netip.Addr) *subnetRT {
	for _, t := range sn.link {
		if t.cfg.Prefix.Contains(a) {
			return t
		}
	}
	return nil
}

// request answers a DHCPREQUEST in SELECTING, INIT-REBOOT, RENEWING or
// REBINDING state with an ACK (after the lease is durable) or a NAK.
func (s *Server) request(rt *liveConfig, sn *subnetRT, r *request) {
	addr := r.requested
	if !addr.IsValid() {
		addr = r.ciaddr
	}
	if !addr.IsValid() {
		s.st.receiveDrop.Inc()
		return
	}
	selecting := r.serverID.IsValid()
	initReboot := !selecting && r.requested.IsValid() && !r.ciaddr.IsValid()
	now := s.now().Unix()
	if sn == nil {
		// A network we know nothing about: only the server the client
		// named may say no (RFC 2131 4.3.2).
		if selecting {
			s.nak(rt, nil, r, "no subnet for this network")
		} else {
			s.hs.noSubnet.Inc()
		}
		return
	}
	cur, curSubnet, hasCur := s.clientLease(sn, r)
	if initReboot && !hasCur && !sn.cfg.Authoritative {
		// RFC 2131 4.3.2: no record of the client, not authoritative: silent.
		return
	}
	target := linkSubnetFor(sn, addr)
	if target == nil || !subnetAllowed(target, r) {
		s.nak(rt, sn, r, "requested address is not on this network")
		return
	}
	if r.host != nil && r.host.res.IP.IsValid() && r.host.res.IP != addr && linkSubnetFor(sn, r.host.res.IP) != nil {
		s.nak(rt, sn, r, "client has a reservation for another address")
		return
	}
	if p := target.poolFor(addr); p != nil && s.partnersAddr(target, p, addr, r, now) {
		if selecting {
			// The client chose our offer, made before HA restricted
			// us to our part: nobody else will answer it.
			s.nak(rt, sn, r, "requested address is in the HA partner's part of the pool")
			return
		}
		// The HA partner may have given this address to the client
		// meanwhile: it answers, not us (a NAK would race its ACK).
		s.st.receiveDrop.Inc()
		s.hs.partnerPart.Inc()
		return
	}
	if !s.usable(rt, target, addr, r, now) {
		s.nak(rt, sn, r, "requested address is not available")
		return
	}
	mine := hasCur && cur.Addr == addr && curSubnet == target
	existing, exists := s.store.Get(addr)
	claimed, ok := s.claim(target, addr, r, now)
	if !ok {
		s.nak(rt, sn, r, "requested address is not available")
		return
	}
	valid := rt.lifetime(target, r)
	hostname := r.leaseHostname(&target.cfg.Hostnames, addr)
	if mine {
		if rem, ok := reusable(target.cfg, &cur, valid, r, hostname, now); ok {
			// Kea's lease reuse: no write, no HA update, remaining lifetime.
			s.offers.drop(addr)
			requireClasses(rt, target, addr, r)
			r.holdReply = s.holdsReply(true)
			rb := s.sendLease(rt, target, r, dhcpv4.MessageTypeAck, addr, rem)
			s.tellLeases(r, target, &cur, rb.out, eventState{renew: true}, true)
			s.sendHeld(r, addr, rb)
			s.replies.put(rb)
			return
		}
	}
	l := lease.Lease{
		Addr:     addr,
		HWAddr:   bytes.Clone(r.hw),
		ClientID: bytes.Clone(r.cid),
		ValidLft: valid,
		CLTT:     now,
		SubnetID: target.cfg.ID,
		Hostname: hostname,
		State:    lease.StateDefault,
	}
	prevCtx := ""
	if mine {
		prevCtx = cur.UserContext
	}
	l.UserContext = extendedInfo(target.cfg, r, prevCtx)
	ops := []lease.Op{{Kind: lease.OpPut, Lease: l}}
	moved := hasCur && !mine && curSubnet == target
	if moved {
		// The client moves to another address of the subnet: its old lease
		// goes, as in Kea.
		ops = append(ops, lease.Op{Kind: lease.OpDelete, Lease: cur})
	}
	s.attachRecord(r, hooks.Leases4Committed, target, ops)
	ctx := s.context()
	// The offer's work is done: while the commit is in flight the pool's
	// bit alone keeps the address (nothing frees a bit that has neither
	// offer nor lease), where an offer could expire or be evicted before
	// the lease reaches the index.
	held := s.offers.take(addr, r.key)
	s.commitAsync(r, ops, func(err error) {
		if err != nil {
			if claimed || (held && (!exists || existing.State == lease.StateExpiredReclaimed)) {
				// After a conflict the store holds the other
				// server's lease: the address stays used here.
				if _, taken := s.store.Get(addr); !taken || !errors.Is(err, lease.ErrConflict) {
					s.freeAddr(rt, addr)
				}
			}
			s.commitFailed("lease commit failed: no ACK sent", addr, r.hw, err)
			if errors.Is(err, lease.ErrConflict) {
				// A server sharing the lease database leased the address
				// first: the client starts over and is offered another.
				s.nak(rt, sn, r, "requested address is leased to another client in the shared lease database")
			}
			return
		}
		s.committed(ctx, rt, target, r, &l, ops, committedLease{
			addr: addr, valid: valid, mine: mine, moved: moved, cur: cur,
			newAddr: !exists || existing.State == lease.StateExpiredReclaimed || existing.SubnetID != target.cfg.ID,
		})
	})
}

// committedLease is what request decided, for its completion.
type committedLease struct {
	addr    netip.Addr
	valid   uint32
	mine    bool        // the client's own lease, renewed
	moved   bool        // the client moved off cur within the subnet
	newAddr bool        // the address had no lease of this subnet
	cur     lease.Lease // the client's lease before
}

// committed finishes a REQUEST whose lease is durable: statistics, the
// client's other offer, and the ACK (after the HA partner has the lease).
func (s *Server) committed(ctx context.Context, rt *liveConfig, target *subnetRT, r *request, l *lease.Lease, ops []lease.Op, c committedLease) {
	addr, valid, mine, moved, cur := c.addr, c.valid, c.mine, c.moved, c.cur
	if a, held := s.offers.forClient(r.key); held && a != addr {
		s.withdrawOffer(rt, r.key)
	}
	// assigned-addresses counts addresses with a lease of this subnet, so
	// it changes only when the address had none (or a reclaimed one).
	if c.newAddr {
		target.st.assigned.Inc()
	}
	if !mine {
		target.st.cumulativeAssigned.Inc()
		s.st.cumulativeAssigned.Inc()
	}
	if moved {
		target.st.assigned.Add(-1)
		s.freeAddr(rt, cur.Addr)
		s.forget(cur.Addr)
	}
	r.events = eventState{renew: mine, moved: moved, cur: cur}
	if s.replicator == nil {
		s.ack(rt, target, r, l, valid)
		return
	}
	// The ACK waits for the partner's answer, as Kea parks it.
	r.after = func() {
		if err := s.replicator.Replicate(ctx, ops); err != nil {
			// Debug: under overload this is every parked reply past the
			// limit; the HA service counts them and logs the partner's
			// state changes once each.
			s.log.Debug("lease update to partner failed: reply withheld", "addr", addr, "err", err)
			return
		}
		s.ack(rt, target, r, l, valid)
	}
}

// ack offers the committed lease l to the fast path's cache and sends its
// ACK. The cache comes first so that a renewal the client sends as soon as
// it has the ACK finds the lease there.
func (s *Server) ack(rt *liveConfig, target *subnetRT, r *request, l *lease.Lease, valid uint32) {
	requireClasses(rt, target, l.Addr, r)
	hold := s.holdsReply(false)
	r.holdReply = true
	rb := s.sendLease(rt, target, r, dhcpv4.MessageTypeAck, l.Addr, valid)
	if !r.bootp { // the fast path's renewals are DHCP's
		s.publish(rt, target, r, l, rb.w.b, rb.siaddr)
	}
	if !hold {
		s.sendHeld(r, l.Addr, rb)
	}
	s.tellLeases(r, target, l, rb.out, r.events, false)
	s.sendHeld(r, l.Addr, rb)
	s.replies.put(rb)
}

// sendHeld sends the ACK for addr that holdReply kept back.
func (s *Server) sendHeld(r *request, addr netip.Addr, rb *replyBuf) {
	if r.holdReply {
		r.holdReply = false
		s.transmit(r, dhcpv4.MessageTypeAck, addr, rb)
	}
}

// ownedLease looks up the lease on a that a RELEASE or DECLINE from r
// names: found says an active lease is there, owned that r's client holds
// it (by client-id too, unless its subnet, while still configured, says
// not to match on it). sn is the lease's subnet, nil when it is gone.
func (s *Server) ownedLease(rt *liveConfig, r *request, a netip.Addr) (l lease.Lease, sn *subnetRT, found, owned bool) {
	l, ok := s.store.Get(a)
	if !ok || l.State != lease.StateDefault {
		return l, nil, false, false
	}
	sn = rt.byID[l.SubnetID]
	return l, sn, true, r.owns(l.HWAddr, l.ClientID, sn == nil || sn.cfg.MatchClientID)
}

// commitThen commits the ops of a RELEASE or DECLINE for r and finishes
// the exchange with done once they are durable; a refused commit is counted
// and logged as failed, and the exchange ends without done.
func (s *Server) commitThen(rt *liveConfig, sn *subnetRT, r *request, a netip.Addr, ops []lease.Op, failed string,
	done func(s *Server, rt *liveConfig, sn *subnetRT, r *request, a netip.Addr, ops []lease.Op)) {
	s.commitAsync(r, ops, func(err error) {
		if err != nil {
			s.commitFailed(failed, a, r.hw, err)
			return
		}
		done(s, rt, sn, r, a, ops)
	})
}

// release handles DHCPRELEASE: the client's lease is deleted.
func (s *Server) release(rt *liveConfig, r *request) {
	a := r.ciaddr
	l, sn, found, owned := s.ownedLease(rt, r, a)
	if !found {
		return
	}
	if !owned {
		s.log.Debug("release of a lease the client does not own", "addr", a, "mac", macString(r.hw))
		return
	}
	ops := []lease.Op{{Kind: lease.OpDelete, Lease: l}}
	s.attachRecord(r, hooks.Lease4Release, sn, ops)
	s.commitThen(rt, sn, r, a, ops, "release commit failed", (*Server).released)
}

// released finishes a RELEASE whose deletion is durable.
func (s *Server) released(rt *liveConfig, sn *subnetRT, r *request, a netip.Addr, ops []lease.Op) {
	s.freeAddr(rt, a)
	if sn != nil {
		sn.st.assigned.Add(-1)
	}
	s.forget(a)
	s.tellLease(r, hooks.Lease4Release, sn, ops[0].Lease, false)
	s.tellFreed(r, sn, ops[0].Lease)
	s.replicateAfter(r, ops, a, "lease delete to partner failed")
}

// replicateAfter has the HA partner told of ops once the configuration
// lock is released (no reply waits for it); failed is logged if it fails.
func (s *Server) replicateAfter(r *request, ops []lease.Op, a netip.Addr, failed string) {
	if s.replicator == nil {
		return
	}
	r.after = func() {
		if err := s.replicator.Replicate(s.context(), ops); err != nil {
			s.log.Warn(failed, "addr", a, "err", err)
		}
	}
}

// decline handles DHCPDECLINE: the address is put on probation.
func (s *Server) decline(rt *liveConfig, r *request) {
	a := r.requested
	if !a.IsValid() {
		return
	}
	l, sn, _, owned := s.ownedLease(rt, r, a)
	if !owned {
		return
	}
	d := lease.Lease{
		Addr:     a,
		ValidLft: uint32(rt.cfg.DeclineProbationPeriod.Seconds()),
		CLTT:     s.now().Unix(),
		SubnetID: l.SubnetID,
		State:    lease.StateDeclined,
		// Kea keeps the user context (the relay information of
		// store-extended-info) on the declined lease.
		UserContext: l.UserContext,
	}
	ops := []lease.Op{{Kind: lease.OpPut, Lease: d}}
	if s.hooked() {
		// The record and the listeners name the lease the client gave
		// back, not the probation lease that replaces it.
		named := []lease.Op{{Lease: l}}
		s.attachRecord(r, hooks.Lease4Decline, sn, named)
		ops[0].Record = named[0].Record
		r.events.cur = l
	}
	s.commitThen(rt, sn, r, a, ops, "decline commit failed", (*Server).declined)
}

// declined finishes a DECLINE whose probation lease is durable.
func (s *Server) declined(rt *liveConfig, sn *subnetRT, r *request, a netip.Addr, ops []lease.Op) {
	s.st.declined.Inc()
	if sn != nil {
		sn.st.declined.Inc()
	}
	s.forget(a)
	s.tellLease(r, hooks.Lease4Decline, sn, r.events.cur, false)
	s.tellLease(r, hooks.Leases4Committed, sn, ops[0].Lease, false)
	s.log.Info("address declined by client, on probation", "addr", a, "mac", macString(r.hw),
		"probation_s", rt.cfg.DeclineProbationPeriod.Seconds())
	s.replicateAfter(r, ops, a, "lease update to partner failed")
}

// inform answers DHCPINFORM with configuration and no lease.
func (s *Server) inform(rt *liveConfig, sn *subnetRT, r *request) {
	requireClasses(rt, sn, netip.Addr{}, r)
	s.replies.put(s.sendReply(rt, sn, nil, r, dhcpv4.MessageTypeAck, netip.Addr{}, 0, false))
}

func (s *Server) nak(rt *liveConfig, sn *subnetRT, r *request, why string) {
	s.log.Debug("NAK", "mac", macString(r.hw), "requested", r.requested, "reason", why)
	s.sendNak(rt, r)
}

func (s *Server) context() context.Context {
	if s.ctx == nil {
		return context.Background()
	}
	return s.ctx
}

// lifetime is the valid lifetime for the client: the first of its classes
// that sets one, else the subnet's; a requested lease time (option 51) is
// honoured within [min, max].
func (rt *liveConfig) lifetime(sn *subnetRT, r *request) uint32 {
	if r.bootp {
		return lease.Infinite // a BOOTP client never renews
	}
	lt := rt.classLifetimes(sn, r)
	if v, _ := r.msg.get(optLeaseTime); len(v) == 4 {
		want := uint32(v[0])<<24 | uint32(v[1])<<16 | uint32(v[2])<<8 | uint32(v[3])
		return min(max(want, lt.Min), lt.Max)
	}
	return lt.Valid
}

// classLifetimes are the lifetime bounds for the client: the first of its
// classes that sets them, else the subnet's.
func (rt *liveConfig) classLifetimes(sn *subnetRT, r *request) config.Lifetimes {
	for _, name := range r.classes {
		if c := rt.cfg.Class(name); c != nil && c.ValidLifetime != nil {
			return *c.ValidLifetime
		}
	}
	return sn.cfg.Lifetimes
}

// leaseHostname is the name stored with the lease of addr: the one the
// client is told in option 12 (see replyHostname), as Kea stores it.
func (r *request) leaseHostname(h *config.HostnameRules, addr netip.Addr) string {
	var buf [64]byte
	v := r.replyHostname(buf[:0], h, addr)
	if len(v) == 0 || len(v) > 255 {
		return ""
	}
	for _, c := range v {
		if c < 0x21 || c > 0x7e || c == ',' {
			return "" // not a plain name: store nothing rather than junk
		}
	}
	return string(v)
}

// reusable implements Kea 2.2's lease reuse (cache-threshold and
// cache-max-age): the client's current lease is handed out again, unchanged,
// while it is younger than the threshold's share of the new lifetime and
// than cache-max-age, and nothing about it would change (subnet, client,
// hostname, a new lifetime shorter than the lease's). It returns the
// remaining lifetime to send.
func reusable(sn *config.Subnet, l *lease.Lease, newValid uint32, r *request, hostname string, now int64) (uint32, bool) {
	if sn.CacheThreshold == nil && sn.CacheMaxAge == nil {
		return 0, false
	}
	if l.State != lease.StateDefault || l.SubnetID != sn.ID || !bytes.Equal(l.HWAddr, r.hw) {
		return 0, false
	}
	if sn.MatchClientID && !bytes.Equal(l.ClientID, r.cid) {
		return 0, false
	}
	if newValid < l.ValidLft || l.Hostname != hostname {
		return 0, false
	}
	if extendedInfo(sn, r, l.UserContext) != l.UserContext {
		return 0, false // the relay information changed: Kea writes the lease
	}
	if l.ValidLft == lease.Infinite {
		return lease.Infinite, true
	}
	if now < l.CLTT {
		return 0, false
	}
	age := now - l.CLTT
	if age >= int64(l.ValidLft) {
		return 0, false
	}
	if m := sn.CacheMaxAge; m != nil && (*m == 0 || age > int64(*m)) {
		return 0, false
	}
	if t := sn.CacheThreshold; t != nil && (*t <= 0 || *t > 1 || float64(age) > float64(newValid)**t) {
		return 0, false
	}
	return l.ValidLft - uint32(age), true
}

func broadcastOf(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func macString(b []byte) string {
	const hexd = "0123456789abcdef"
	out := make([]byte, 0, len(b)*3)
	for i, c := range b {
		if i > 0 {
			out = append(out, ':')
		}
		out = append(out, hexd[c>>4], hexd[c&15])
	}
	return string(out)
}
