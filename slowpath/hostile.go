package slowpath

import (
	"net/netip"

	"xdhcp/handoff"
	"xdhcp/internal/stats"
)

// Hostile input: every field a client (or a relay between it and us)
// controls is bounded here before the server derives anything from it.
// Each reason to drop has its own counter beside Kea's pkt4-receive-drop,
// so an operator can tell a broken relay from a flood.

// hostileStats are the drop counters Kea does not have. Every packet they
// count is also counted in pkt4-receive-drop (Kea's accept() checks fail the
// same way), except no-subnet-drop: Kea drops those without counting.
type hostileStats struct {
	badHlen     *stats.Stat // hlen > 16, Ethernet with hlen != 6, or no identity at all
	badOption   *stats.Stat // an option the server reads has an impossible length
	relayHops   *stats.Stat // hops > 16: a relay loop (RFC 1542 §4.1.1)
	otherServer *stats.Stat // server identifier names another server
	// discoverServerID: a DISCOVER with a server identifier (Kea's
	// sanityCheck forbids it).
	discoverServerID *stats.Stat
	noSubnet         *stats.Stat // giaddr / ciaddr / interface select no subnet
	// badGiaddr: a giaddr no relay can have (ours, loopback, multicast,
	// broadcast, "this network"); the reply would go to ourselves or
	// nowhere.
	badGiaddr   *stats.Stat
	clientFlood *stats.Stat // one client already has its share of the queue
	rateLimited *stats.Stat // xdhcp.rate-limit in socket mode
	// offerHoldLimited counts OFFERs sent without reserving the address,
	// because held offers already pin half of the subnet's free addresses.
	offerHoldLimited *stats.Stat
	// partnerPart counts requests for an address of the HA partner's
	// part of a pool, left to the partner (see PoolShare).
	partnerPart *stats.Stat
	dropListed  *stats.Stat // the client is on the operator's drop list
	// relayUntrusted: giaddr set, but the packet did not come from a relay
	// (see relayTrusted).
	relayUntrusted *stats.Stat
}

func newHostileStats(r *stats.Registry) *hostileStats {
	return &hostileStats{
		badHlen:          r.Counter("xdhcp-pkt4-bad-hlen-drop"),
		badOption:        r.Counter("xdhcp-pkt4-bad-option-drop"),
		relayHops:        r.Counter("xdhcp-pkt4-relay-hops-drop"),
		otherServer:      r.Counter("xdhcp-pkt4-other-server-drop"),
		discoverServerID: r.Counter("xdhcp-pkt4-discover-server-id-drop"),
		noSubnet:         r.Counter("xdhcp-pkt4-no-subnet-drop"),
		badGiaddr:        r.Counter("xdhcp-pkt4-bad-giaddr-drop"),
		clientFlood:      r.Counter("xdhcp-pkt4-client-flood-drop"),
		rateLimited:      r.Counter("xdhcp-pkt4-rate-limit-drop"),
		offerHoldLimited: r.Counter("xdhcp-offer-hold-limited"),
		partnerPart:      r.Counter("xdhcp-pkt4-ha-partner-part-drop"),
		dropListed:       r.Counter("xdhcp-pkt4-drop-list-drop"),
		relayUntrusted:   r.Counter("xdhcp-pkt4-untrusted-relay-drop"),
	}
}

// maxHops is the hop count past which a request has looped between relay
// agents. RFC 1542 §4.1.1 has relays discard such requests; a server that
// receives one anyway (a relay that does not check) drops it too, since
// the reply would follow the same loop.
const maxHops = 16

// BOOTP header offsets read from the raw message (insomniacslk caps hlen
// at 16 when it decodes, which hides a bogus value).
const (
	offHType   = 1
	offHLen    = 2
	offHops    = 3
	offGiaddr  = 24
	offChaddr  = 28
	offSname   = 44
	offFile    = 108
	offCookie  = 236
	offOptions = 240
	chaddrMax  = 16
)

// Client identifier bounds (RFC 2132 §9.14: at least two octets; Kea 2.2's
// ClientId refuses shorter or longer ones and drops the query).
const (
	minClientID = 2
	maxClientID = 255
)

// fixedLen are the options the server reads as fixed-size values. One of
// another length is not a value we could use, and Kea 2.2 fails to unpack
// it and drops the query; ignoring it instead would change the meaning of
// the request (a REQUEST whose mangled server identifier is ignored turns
// from SELECTING into INIT-REBOOT).
func fixedLen(code uint8) (int, bool) {
	switch code {
	case optMessageType:
		return 1, true
	case optMaxMsgSize:
		return 2, true
	case optRequestedIP, optLeaseTime, optServerID:
		return 4, true
	}
	return 0, false
}

// screen checks the fields of a decoded message that a client controls and
// that the rest of the server trusts to be bounded. It returns the counter
// of the reason to drop it and a reason for the log, or nil when the
// message may be handled.
func (s *Server) screen(p *handoff.Packet, msg *message) (*stats.Stat, string) {
	raw := p.Data
	if len(raw) <= offChaddr {
		return s.hs.badHlen, "message shorter than its header" // FromBytes refuses these; defensive
	}
	if raw[offHops] > maxHops {
		return s.hs.relayHops, "relay hop count over 16 (relay loop)"
	}
	if g := netip.AddrFrom4([4]byte(raw[offGiaddr : offGiaddr+4])); !g.IsUnspecified() {
		if g == p.IfAddr || g.IsLoopback() || g.IsMulticast() || g == netip.AddrFrom4([4]byte{255, 255, 255, 255}) || g.As4()[0] == 0 {
			return s.hs.badGiaddr, "giaddr is the server's own, loopback, multicast, broadcast or 0/8 address"
		}
	}
	hlen, htype := raw[offHLen], raw[offHType]
	switch {
	case hlen > chaddrMax:
		// chaddr is 16 bytes; anything longer is not an address we can
		// store or echo. (Kea 2.2 pads 17-20 with zeros and fails to
		// parse beyond; we refuse all of them alike.)
		return s.hs.badHlen, "hlen over 16"
	case htype == 1 && hlen != 6 && hlen != 0:
		// An Ethernet address is 6 bytes. The XDP drop list and rate
		// limiter key on 6 chaddr bytes: a client varying hlen or the
		// bytes past the sixth would be one client there and many here.
		return s.hs.badHlen, "Ethernet hlen is not 6"
	}
	for _, o := range msg.opts {
		if n, ok := fixedLen(o.code); ok && len(o.val) != n {
			return s.hs.badOption, "option of the wrong length"
		}
	}
	if cid, ok := msg.get(optClientID); ok && (len(cid) < minClientID || len(cid) > maxClientID) {
		return s.hs.badOption, "client identifier shorter than 2 or longer than 255 bytes"
	}
	if v, ok := msg.get(optRelayAgent); ok && len(v) > 255 {
		// One option's worth (RFC 3046): relays never split it, and we
		// echo it, so a client must not be able to grow our replies.
		return s.hs.badOption, "relay agent information longer than 255 bytes"
	}
	if hlen == 0 {
		if !msg.has(optClientID) {
			return s.hs.badHlen, "neither chaddr nor client identifier"
		}
	}
	return nil, ""
}

// clientHash is the client key of a packet in the intake (its share of
// the queue, its rate-limit bucket): the client's hardware type and chaddr
// (hlen bytes, at most 16) from the raw message, hashed with FNV-1a, read
// in place, no allocation. chaddr rather than the source MAC, which is the
// relay's for relayed requests.
func clientHash(b []byte) uint64 {
	h := uint64(14695981039346656037)
	if len(b) > offHLen {
		h = (h ^ uint64(b[offHType])) * 1099511628211
		n := int(min(b[offHLen], chaddrMax))
		if len(b) >= offChaddr+n {
			for _, c := range b[offChaddr : offChaddr+n] {
				h = (h ^ uint64(c)) * 1099511628211
			}
		}
	}
	return h
}
