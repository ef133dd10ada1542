package slowpath

import (
	"bytes"
	"net/netip"
	"sync"
	"time"

	"xdhcp/config/classify"
	"xdhcp/handoff"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

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
	// optLinkSelection is the link-selection sub-option of option 82.
	optLinkSelection = 5
)

// request is a decoded request with what the server derives from it.
type request struct {
	pkt *handoff.Packet
	// ev is the event told to the lease hooks (see newEvent).
	ev requestEvent
	// record holds the forensic record of the request's lease commit
	// (lease.Op.Record). The store copies it before the commit completes,
	// and the request outlives that (the completion holds a reference),
	// so the buffer is kept when the request goes back to the pool.
	record []byte
	msg    message
	typ    dhcpv4.MessageType

	hw        []byte // chaddr[:hlen]
	cid       []byte // the client identifier: option 61, or the flex-id replacing it
	msgCID    []byte // option 61 payload as received, nil if absent
	flexID    []byte // the flex-id hook's identifier, nil if none
	key       string // per-client serialization key
	giaddr    netip.Addr
	ciaddr    netip.Addr
	requested netip.Addr // option 50
	serverID  netip.Addr // option 54
	relay     []byte     // option 82 payload
	circuitID []byte     // option 82 sub-option 1
	// relayIgnored: option 82 came from an untrusted client (giaddr 0 on
	// an interface not in trusted-interfaces) and is treated as absent.
	relayIgnored bool
	// bootp: a BOOTREQUEST without a message type (RFC 951 BOOTP),
	// handled as a DHCPREQUEST when the BOOTP hook is configured.
	bootp bool

	lenBuf [4]byte // pkt.len as Field returns it

	classes []string // class memberships, in order
	// classArr backs classes: ALL, UNKNOWN/KNOWN and a few of the
	// configuration's fit without allocating.
	classArr [6]string
	host     *hostMatch
	subnet   *subnetRT // selected for the request; nil: none of ours
	// after runs once the configuration lock is released (HA replication and
	// the replies that wait for it).
	after func()
	start time.Time // processing began (latency histograms)
	// evTime is the time of the request's lease events: when processing
	// began, then when its commit completed (one clock read for the
	// events told then).
	evTime time.Time
	events eventState
	// holdReply: the reply is built but not sent until the lease event
	// listeners that wait for durability have been told (see holdsReply).
	holdReply bool
	asyncState
}

// requestPool recycles requests: decoding one allocates nothing.
type requestPool struct{ p sync.Pool }

// get returns a cleared request from the pool, with one reference (the
// caller's).
func (rp *requestPool) get() *request {
	r, ok := rp.p.Get().(*request)
	if !ok {
		r = new(request)
	}
	r.classes = r.classArr[:0]
	r.refs.Store(1)
	return r
}

// unref drops a reference to r; the last one frees it.
func (rp *requestPool) unref(r *request) {
	if r.refs.Add(-1) == 0 {
		rp.free(r)
	}
}

// free releases r's packet and puts r back in the pool, cleared so
// that nothing it pointed to is kept alive, and so that a use after free
// finds zeroes rather than another client's request.
func (rp *requestPool) free(r *request) {
	if r.pkt != nil {
		r.pkt.Release()
	}
	record := r.record[:0]
	if cap(record) > maxKeptRecord {
		record = nil
	}
	*r = request{record: record}
	rp.p.Put(r)
}

// maxKeptRecord bounds the record buffer a pooled request keeps.
const maxKeptRecord = 4 << 10

// derive checks the parsed message is a well-formed client request and
// derives the fields the server works with. It returns a reason for the
// log when it is not.
func (r *request) derive() string {
	msg := &r.msg
	if msg.op != 1 {
		return "not a BOOTREQUEST"
	}
	if v, ok := msg.get(optMessageType); ok && len(v) == 1 {
		r.typ = dhcpv4.MessageType(v[0])
	}
	if r.typ == dhcpv4.MessageTypeNone {
		// BOOTP: served as Kea's bootp hook does, if configured (see
		// bootpRequest).
		r.typ, r.bootp = dhcpv4.MessageTypeRequest, true
	}
	r.hw = msg.chaddr
	if len(r.hw) == 0 && !msg.has(optClientID) {
		return "neither chaddr nor client identifier"
	}
	if cid, _ := msg.get(optClientID); len(cid) > 0 {
		r.cid, r.msgCID = cid, cid
		r.key = "c" + string(cid)
	} else {
		r.key = "h" + string(r.hw)
	}
	r.giaddr = addrOf(msg.giaddr)
	r.ciaddr = addrOf(msg.ciaddr)
	if v, _ := msg.get(optRequestedIP); len(v) == 4 {
		r.requested = netip.AddrFrom4([4]byte(v))
	}
	if v, _ := msg.get(optServerID); len(v) == 4 {
		r.serverID = netip.AddrFrom4([4]byte(v))
	}
	if v, _ := msg.get(optRelayAgent); len(v) > 0 {
		// Kea keeps the sub-options by code and echoes them in that
		// order; a relay that sent them otherwise gets them sorted back
		// (the only case that copies).
		if classify.ValidSubOptions(v) && !subOptionsSorted(v) {
			v = classify.AppendSorted(make([]byte, 0, len(v)), v)
		}
		r.relay = v
		r.circuitID, _ = subOption(v, 1)
	}
	return ""
}

// subOption finds sub-option code in a payload of sub-options.
func subOption(b []byte, code byte) ([]byte, bool) { return classify.SubOption(b, code) }

// subOptionsSorted reports whether the sub-options of b (a whole
// sequence) come in non-decreasing code order.
func subOptionsSorted(b []byte) bool {
	prev := -1
	for len(b) >= 2 {
		if int(b[0]) < prev {
			return false
		}
		prev = int(b[0])
		b = b[2+int(b[1]):]
	}
	return true
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
	if code == optRelayAgent && r.relayIgnored {
		return nil, false
	}
	return r.msg.get(code)
}

func (r *request) MAC() []byte             { return r.hw }
func (r *request) Iface() string           { return r.pkt.IfName }
func (r *request) Member(name string) bool { return r.member(name) }

func (r *request) Field(name string) ([]byte, bool) {
	m := &r.msg
	switch name {
	case "giaddr":
		return m.giaddr[:], true
	case "ciaddr":
		return m.ciaddr[:], true
	case "yiaddr":
		return m.yiaddr[:], true
	case "siaddr":
		return m.siaddr[:], true
	case "hlen":
		return []byte{0, 0, 0, byte(len(r.hw))}, true
	case "htype":
		return []byte{0, 0, 0, m.htype}, true
	case "msgtype":
		return []byte{0, 0, 0, byte(r.typ)}, true
	case "transid":
		return m.xid[:], true
	case "src":
		return r.pkt.Meta.SrcIP[:], true
	case "dst":
		return r.pkt.Meta.DstIP[:], true
	case "len":
		n := kealen(m)
		r.lenBuf = [4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
		return r.lenBuf[:], true
	}
	return nil, false
}

// kealen is the packet length Kea's pkt.len gives: the fixed header and
// the options as Kea would encode them (long ones split every 255 bytes),
// without the magic cookie and the end option.
func kealen(m *message) int {
	n := 236
	for _, o := range m.opts {
		n += len(o.val) + 2*max(1, (len(o.val)+254)/255)
	}
	return n
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
