package slowpath6

import (
	"encoding/binary"
	"net/netip"

	"xdhcp/config"
	"xdhcp/config/classify"
)

// classSet is the client's classes, in the order it joined them.
type classSet struct {
	names []string
}

func (c *classSet) reset() { c.names = c.names[:0] }

func (c *classSet) add(name string) {
	if !c.has(name) {
		c.names = append(c.names, name)
	}
}

// has reports membership; every client is in ALL.
func (c *classSet) has(name string) bool {
	if name == "ALL" {
		return true
	}
	for _, n := range c.names {
		if n == name {
			return true
		}
	}
	return false
}

// classify evaluates the configured classes in order, as Kea's first pass
// does before subnet selection: a class with a test joins when the test
// holds; only-if-required classes wait for a subnet, pool or shared
// network that requires them; classes whose test reads KNOWN or UNKNOWN
// are evaluated again once the reservation is known (classifyKnown).
func (ex *exchange) classify() {
	for _, c := range ex.rt.cfg.Classes {
		if c.OnlyIfRequired || c.Test == nil {
			continue
		}
		if c.Test.Eval(ex) {
			ex.cls.add(c.Name)
		}
	}
}

// classifyKnown adds the reservation's classes and KNOWN or UNKNOWN, then
// the classes that hold now (tests reading KNOWN, UNKNOWN or a reserved
// class), then those the selected subnet, its shared network and pools
// require.
func (ex *exchange) classifyKnown() {
	if ex.res != nil {
		ex.cls.add("KNOWN")
		for _, c := range ex.res.ClientClasses {
			ex.cls.add(c)
		}
	} else {
		ex.cls.add("UNKNOWN")
	}
	ex.classify()
	if ex.sn == nil {
		return
	}
	var req []string
	req = append(req, ex.sn.cfg.RequireClientClasses...)
	if sh := ex.sn.cfg.SharedNetwork; sh != nil {
		req = append(req, sh.RequireClientClasses...)
	}
	for _, p := range ex.sn.cfg.Pools {
		req = append(req, p.RequireClientClasses...)
	}
	for _, p := range ex.sn.cfg.PDPools {
		req = append(req, p.RequireClientClasses...)
	}
	for _, name := range req {
		if c := ex.class(name); c != nil && (c.Test == nil || c.Test.Eval(ex)) {
			ex.cls.add(c.Name)
		}
	}
}

func (ex *exchange) class(name string) *config.Class6 {
	for _, c := range ex.rt.cfg.Classes {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// The exchange is the packet class expressions read (classify.Packet6).
var _ classify.Packet6 = (*exchange)(nil)

// Option is DHCPv4's; never called for a DHCPv6 expression.
func (ex *exchange) Option(uint8) ([]byte, bool) { return nil, false }

// MAC is DHCPv4's; never called for a DHCPv6 expression.
func (ex *exchange) MAC() []byte { return nil }

// Field answers pkt.src, pkt.dst and pkt.len.
func (ex *exchange) Field(name string) ([]byte, bool) {
	switch name {
	case "src":
		return ex.pkt.Meta.SrcIP[:], true
	case "dst":
		return ex.pkt.Meta.DstIP[:], true
	case "len":
		return binary.BigEndian.AppendUint32(nil, uint32(len(ex.pkt.Data))), true
	}
	return nil, false
}

// Iface is the receiving interface.
func (ex *exchange) Iface() string { return ex.pkt.IfName }

// Member reports membership of the classes joined so far.
func (ex *exchange) Member(name string) bool { return ex.cls.has(name) }

// Option6 is a top-level option of the client's message.
func (ex *exchange) Option6(code uint16) ([]byte, bool) { return ex.p.Msg.Options.Get(code) }

// MsgType is the client's message type.
func (ex *exchange) MsgType() uint8 { return uint8(ex.p.Msg.Type) }

// TransID is the client's transaction id.
func (ex *exchange) TransID() uint32 {
	t := ex.p.Msg.TxID
	return uint32(t[0])<<16 | uint32(t[1])<<8 | uint32(t[2])
}

// Relays is the number of relay encapsulations.
func (ex *exchange) Relays() int { return ex.p.NRelays }

// RelayOption is an option of relay level (0: the outermost).
func (ex *exchange) RelayOption(level int, code uint16) ([]byte, bool) {
	return ex.p.Relays[level].Options.Get(code)
}

// RelayAddrs are the link- and peer-address of relay level.
func (ex *exchange) RelayAddrs(level int) (link, peer netip.Addr) {
	r := &ex.p.Relays[level]
	return netip.AddrFrom16(r.LinkAddr), netip.AddrFrom16(r.PeerAddr)
}
