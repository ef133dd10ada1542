package slowpath

import (
	"net/netip"
)

// Relay trust. A request with giaddr set asks for an address of the
// relay's network and gets its reply through that relay; believing any
// giaddr lets a subscriber broadcast with another subnet's router as
// giaddr, drain that subnet's pools and read its parameters. So a relayed
// request is served only when a relay sent it:
//
//   - sent by unicast from giaddr itself, or from an address listed in the
//     relay ip-addresses of a subnet or shared network: a relay forwarding
//     to the server (RFC 1542 §4.1), possibly from another of its
//     addresses than giaddr (a relay the configuration names for one
//     subnet may forward for others, as Kea's own examples do);
//   - sent by broadcast with a giaddr inside a subnet of the receiving
//     interface's own link: a relay on the server's link (and perfdhcp,
//     which always acts as a relay, in its broadcast mode). Such a sender
//     could get an address of that link anyway.
//
// Anything else is dropped and counted (xdhcp-pkt4-untrusted-relay-drop).
// xdhcp.relay-source-check false turns the check off, as Kea 2.2 has none.
// A request forwarded through a relay never has its option 82 ignored; one
// with giaddr 0 has it only on the interfaces the operator trusts
// (xdhcp.trusted-interfaces): a client inserting option 82 itself must not
// pick its class or its reservation.

var limitedBroadcast = [4]byte{255, 255, 255, 255}

// relayTrust is the stage that applies both rules.
func relayTrust(s *Server, rt *liveConfig, r *request) bool {
	if !r.giaddr.IsValid() {
		if len(r.msg.optionValue(optRelayAgent)) > 0 && !rt.cfg.XDHCP.TrustsInterface(r.pkt.IfName) {
			r.ignoreRelayInfo()
		}
		return true
	}
	if rt.cfg.XDHCP.SkipRelayCheck || rt.relaySent(r) {
		return true
	}
	s.hs.relayUntrusted.Inc()
	s.st.receiveDrop.Inc()
	s.log.Debug("drop request", "iface", r.pkt.IfName, "reason", "giaddr set but not sent by that relay",
		"giaddr", r.giaddr, "src", netip.AddrFrom4(r.pkt.Meta.SrcIP))
	return false
}

// relaySent reports whether a request with giaddr set came from a relay
// (see the rules above).
func (rt *liveConfig) relaySent(r *request) bool {
	m := &r.pkt.Meta
	if m.DstIP == limitedBroadcast || m.DstMAC == [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff} {
		return rt.onReceivingLink(r)
	}
	src := netip.AddrFrom4(m.SrcIP)
	if src == r.giaddr {
		return true
	}
	for _, sn := range rt.subnets {
		if hasAddr(sn.cfg.RelayAddrs, src) || (sn.cfg.SharedNetwork != nil && hasAddr(sn.cfg.SharedNetwork.RelayAddrs, src)) {
			return true
		}
	}
	return false
}

// onReceivingLink reports whether giaddr lies inside a subnet of the link
// the request came in on: the subnets a request without giaddr on that
// interface could be given (bound to the interface by name, or containing
// the server's address on it), with their shared networks.
func (rt *liveConfig) onReceivingLink(r *request) bool {
	for _, sn := range rt.subnets {
		local := (sn.cfg.Interface != "" && sn.cfg.Interface == r.pkt.IfName) ||
			(r.pkt.IfAddr.IsValid() && sn.cfg.Prefix.Contains(r.pkt.IfAddr))
		if !local {
			continue
		}
		for _, m := range sn.link {
			if m.cfg.Prefix.Contains(r.giaddr) {
				return true
			}
		}
	}
	return false
}

// ignoreRelayInfo makes the request's option 82 invisible: to
// classification, to the reservation lookup by circuit-id, and to the
// reply, which would otherwise echo it.
func (r *request) ignoreRelayInfo() {
	r.relay, r.circuitID = nil, nil
	r.relayIgnored = true
}
