package slowpath

// BOOTP (RFC 951) as Kea 2.2's libdhcp_bootp.so serves it, when that hook
// is configured: a BOOTREQUEST without a message type joins the class
// BOOTP and is handled as a DHCPREQUEST that gets its address at once
// (the client's reservation, its lease, or a new one) with an infinite
// lifetime, since a BOOTP client never renews. The BOOTREPLY carries the
// usual options less those only DHCP has (dhcpOnly), padded to BOOTP's
// 300 bytes. Without the hook such a request is dropped and counted.

// dhcpOnly are the options a BOOTREPLY leaves out: those of RFC 2132 §9
// (DHCP extensions), as Kea's bootp hook removes them.
var dhcpOnly = [...]byte{
	optRequestedIP, optLeaseTime, 52 /* option overload */, optMessageType, optServerID,
	optPRL, 56 /* message */, optMaxMsgSize, optRenewalTime, optRebindingTime, optClientID,
}

// bootpRequest is the first stage: it drops a BOOTP request unless the
// hook is configured, and puts a served one in the class BOOTP, before
// any other, as the hook does when it receives it.
func bootpRequest(s *Server, rt *liveConfig, r *request) bool {
	if !r.bootp {
		return true
	}
	if !rt.cfg.BOOTP {
		s.st.receiveDrop.Inc()
		s.log.Debug("drop request", "iface", r.pkt.IfName, "reason", "BOOTP request and libdhcp_bootp.so is not configured")
		return false
	}
	r.addClass("BOOTP")
	return true
}

// bootp answers a BOOTP request: the address a DISCOVER would be offered,
// committed at once as a REQUEST for it.
func (s *Server) bootp(rt *liveConfig, sn *subnetRT, r *request) {
	if sn == nil {
		s.hs.noSubnet.Inc()
		s.log.Debug("no subnet for BOOTP client", "iface", r.pkt.IfName, "giaddr", r.giaddr, "mac", macString(r.hw))
		return
	}
	var p offerPick
	if !s.pickOffer(rt, sn, r, s.now().Unix(), &p) {
		return
	}
	// As a client that selected this server's offer of that address.
	r.requested, r.serverID = p.addr, r.pkt.IfAddr
	s.request(rt, sn, r)
}
