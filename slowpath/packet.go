package slowpath

import (
	"bytes"
	"net/netip"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"xdhcp/fastpath"
)

// Packet is a request as a transport hands it over.
type Packet = fastpath.Packet

// Option codes the server reads or writes itself.
const (
	optSubnetMask    = 1
	optRouters       = 3
	optHostName      = 12
	optRequestedIP   = 50
	optLeaseTime     = 51
	optOverload      = 52
	optMessageType   = 53
	optServerID      = 54
	optPRL           = 55
	optMessage       = 56
	optMaxMsgSize    = 57
	optRenewalTime   = 58
	optRebindingTime = 59
	optVendorClass   = 60
	optClientID      = 61
	optRelayAgent    = 82
)

// request is a decoded request with what the server derives from it.
type request struct {
	pkt *Packet
	msg *dhcpv4.DHCPv4
	typ dhcpv4.MessageType

	hw        []byte // chaddr[:hlen]
	cid       []byte // option 61 payload, nil if absent
	key       string // per-client serialization key
	giaddr    netip.Addr
	ciaddr    netip.Addr
	requested netip.Addr // option 50
	serverID  netip.Addr // option 54
	relay     []byte     // option 82 payload
	circuitID []byte     // option 82 sub-option 1

	classes []string // class memberships, in order
	host    *hostMatch
	// after runs once the runtime lock is released (HA replication and
	// the replies that wait for it).
	after func()
	start time.Time // processing began (latency histograms)
	asyncState
}

// decodeRequest checks a message is a well-formed client request and
// derives the fields the server works with. It returns a reason for the
// log when it is not.
func decodeRequest(p *Packet, msg *dhcpv4.DHCPv4) (*request, string) {
	if msg.OpCode != dhcpv4.OpcodeBootRequest {
		return nil, "not a BOOTREQUEST"
	}
	r := &request{pkt: p, msg: msg, typ: msg.MessageType()}
	if r.typ == dhcpv4.MessageTypeNone {
		return nil, "no message type option (BOOTP is not served)"
	}
	r.hw = msg.ClientHWAddr
	if len(r.hw) == 0 && !msg.Options.Has(dhcpv4.OptionClientIdentifier) {
		return nil, "neither chaddr nor client identifier"
	}
	if cid := msg.Options.Get(dhcpv4.OptionClientIdentifier); len(cid) > 0 {
		r.cid = cid
		r.key = "c" + string(cid)
	} else {
		r.key = "h" + string(r.hw)
	}
	r.giaddr = addr4(msg.GatewayIPAddr)
	r.ciaddr = addr4(msg.ClientIPAddr)
	if v := msg.Options.Get(dhcpv4.OptionRequestedIPAddress); len(v) == 4 {
		r.requested = netip.AddrFrom4([4]byte(v))
	}
	if v := msg.Options.Get(dhcpv4.OptionServerIdentifier); len(v) == 4 {
		r.serverID = netip.AddrFrom4([4]byte(v))
	}
	if v := msg.Options.Get(dhcpv4.OptionRelayAgentInformation); len(v) > 0 {
		r.relay = v
		r.circuitID, _ = subOption(v, 1)
	}
	return r, ""
}

// addr4 converts a field decoded by insomniacslk (which may be nil or 16
// bytes long) to a netip.Addr; the zero address for 0.0.0.0.
func addr4(ip []byte) netip.Addr {
	if len(ip) == 16 {
		ip = ip[12:]
	}
	if len(ip) != 4 || (ip[0]|ip[1]|ip[2]|ip[3]) == 0 {
		return netip.Addr{}
	}
	return netip.AddrFrom4([4]byte(ip))
}

// subOption finds sub-option code in an RFC 3046 style payload.
func subOption(b []byte, code byte) ([]byte, bool) {
	for len(b) >= 2 {
		c, n := b[0], int(b[1])
		if len(b) < 2+n {
			return nil, false
		}
		if c == code {
			return b[2 : 2+n], true
		}
		b = b[2+n:]
	}
	return nil, false
}

// member reports whether the request belongs to class name.
func (r *request) member(name string) bool {
	for _, c := range r.classes {
		if c == name {
			return true
		}
	}
	return false
}

func (r *request) addClass(name string) {
	if !r.member(name) {
		r.classes = append(r.classes, name)
	}
}

// The classify.Packet implementation.

func (r *request) Option(code uint8) ([]byte, bool) {
	v, ok := r.msg.Options[code]
	return v, ok
}

func (r *request) RelayOption(code uint8) ([]byte, bool) { return subOption(r.relay, code) }
func (r *request) MAC() []byte                           { return r.hw }
func (r *request) Iface() string                         { return r.pkt.IfName }
func (r *request) Member(name string) bool               { return r.member(name) }

func (r *request) Field(name string) ([]byte, bool) {
	m := r.msg
	ip := func(a []byte) []byte {
		if len(a) == 16 {
			a = a[12:]
		}
		if len(a) != 4 {
			return []byte{0, 0, 0, 0}
		}
		return a
	}
	switch name {
	case "giaddr":
		return ip(m.GatewayIPAddr), true
	case "ciaddr":
		return ip(m.ClientIPAddr), true
	case "yiaddr":
		return ip(m.YourIPAddr), true
	case "siaddr":
		return ip(m.ServerIPAddr), true
	case "hlen":
		return []byte{0, 0, 0, byte(len(r.hw))}, true
	case "htype":
		return []byte{0, 0, 0, byte(m.HWType)}, true
	case "msgtype":
		return []byte{0, 0, 0, byte(r.typ)}, true
	case "transid":
		return m.TransactionID[:], true
	}
	return nil, false
}

// sameClient reports whether lease l belongs to the client of r, by Kea's
// rules: with match-client-id and a client identifier on both sides the
// identifier decides; otherwise the hardware address does.
func (r *request) owns(hw, cid []byte, matchClientID bool) bool {
	if matchClientID && len(r.cid) > 0 && len(cid) > 0 {
		return bytes.Equal(r.cid, cid)
	}
	if len(hw) == 0 || !bytes.Equal(r.hw, hw) {
		return false
	}
	// Same hardware address: a lease bound to another client identifier
	// belongs to another client (two OS installs on one NIC).
	return !matchClientID || len(cid) == 0 || len(r.cid) == 0 || bytes.Equal(r.cid, cid)
}
