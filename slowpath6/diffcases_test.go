package slowpath6_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"

	"xdhcp/config"
	"xdhcp/dhcp6"
)

// engineConfig is diffConfig without its client classes, for the tests
// of what the engine publishes to the fast path (which classes rule out).
func engineConfig(dir string) *config.Config6 {
	cfg := diffEngineConfig(dir)
	cfg.Classes = nil
	return cfg
}

// diffEngineConfig is diffConfig read by the configuration reader, as
// xdhcpd reads it.
func diffEngineConfig(dir string) *config.Config6 {
	raw, err := json.Marshal(diffConfig(dir))
	if err != nil {
		panic(err)
	}
	cfg, err := config.Parse(raw)
	if err != nil {
		panic(fmt.Sprintf("diffConfig does not load: %v", err))
	}
	return cfg.Dhcp6
}

// answer is a reply read for comparison: the relay wrappers and the
// message, as text per field.
type answer struct {
	raw    []byte
	fields []string
}

func (a *answer) String() string {
	if a == nil {
		return "(no answer)"
	}
	return strings.Join(a.fields, " ")
}

// describe reads a reply into fields: relay headers and echoed options,
// message type, top-level options in order, and every IA with its
// bindings and status.
func describe(raw []byte) *answer {
	if raw == nil {
		return nil
	}
	a := &answer{raw: raw}
	var p dhcp6.Packet
	if err := p.Parse(raw); err != nil {
		a.fields = append(a.fields, "unparsable:"+err.Error())
		return a
	}
	for _, r := range p.Chain() {
		f := fmt.Sprintf("%v(hops=%d,link=%v,peer=%v", r.Type, r.HopCount, netip.AddrFrom16(r.LinkAddr), netip.AddrFrom16(r.PeerAddr))
		it := r.Options.Iter()
		for it.Next() {
			if it.Code != dhcp6.OptRelayMsg {
				f += fmt.Sprintf(",opt%d=%x", it.Code, it.Data)
			} else {
				f += ",relay-msg"
			}
		}
		a.fields = append(a.fields, f+")")
	}
	a.fields = append(a.fields, p.Msg.Type.String())
	it := p.Msg.Options.Iter()
	for it.Next() {
		switch it.Code {
		case dhcp6.OptIANA, dhcp6.OptIAPD, dhcp6.OptIATA:
			ia, err := dhcp6.ParseIA(it.Code, it.Data)
			if err != nil {
				a.fields = append(a.fields, "bad-ia")
				continue
			}
			f := fmt.Sprintf("IA%d(iaid=%d,t1=%d,t2=%d", it.Code, ia.IAID, ia.T1, ia.T2)
			in := ia.Options.Iter()
			for in.Next() {
				switch in.Code {
				case dhcp6.OptIAAddr:
					x, _ := dhcp6.ParseIAAddr(in.Data)
					f += fmt.Sprintf(",addr=%v/%d/%d", netip.AddrFrom16(x.Addr), x.Preferred, x.Valid)
					if st, ok := x.Options.Get(dhcp6.OptStatusCode); ok {
						c, msg, _ := dhcp6.ParseStatus(st)
						f += fmt.Sprintf("[status=%d %q]", c, msg)
					}
				case dhcp6.OptIAPrefix:
					x, _ := dhcp6.ParseIAPrefix(in.Data)
					f += fmt.Sprintf(",prefix=%v/%d/%d/%d", netip.AddrFrom16(x.Prefix), x.Len, x.Preferred, x.Valid)
				case dhcp6.OptStatusCode:
					c, msg, _ := dhcp6.ParseStatus(in.Data)
					f += fmt.Sprintf(",status=%d %q", c, msg)
				default:
					f += fmt.Sprintf(",opt%d", in.Code)
				}
			}
			a.fields = append(a.fields, f+")")
		case dhcp6.OptStatusCode:
			c, msg, _ := dhcp6.ParseStatus(it.Data)
			a.fields = append(a.fields, fmt.Sprintf("status=%d %q", c, msg))
		case dhcp6.OptClientID, dhcp6.OptServerID:
			a.fields = append(a.fields, fmt.Sprintf("opt%d=%x", it.Code, it.Data))
		default:
			a.fields = append(a.fields, fmt.Sprintf("opt%d=%x", it.Code, it.Data))
		}
	}
	return a
}

func compareAnswers(kea, xd *answer) []string {
	switch {
	case kea == nil && xd == nil:
		return nil
	case kea == nil:
		return []string{"kea drops it, xdhcp answers " + xd.String()}
	case xd == nil:
		return []string{"xdhcp drops it, kea answers " + kea.String()}
	}
	if kea.String() == xd.String() {
		return nil
	}
	return []string{fmt.Sprintf("kea: %s\n\txdhcp: %s", kea, xd)}
}

// client is one DHCPv6 client of the scenarios: its DUID and what it
// learnt from each server.
type client struct {
	duid []byte
	// last is the last answer's message per side, to build the next
	// request from (server id, IAs).
	last map[*side]*dhcp6.Packet
}

var nextClient byte

// reservedDUID is the client the configuration reserves an address and a
// prefix for.
var reservedDUID = []byte{0, 3, 0, 1, 0x0a, 0, 0, 0, 0, 0xee}

func newClient() *client {
	nextClient++
	return &client{duid: []byte{0, 3, 0, 1, 0x0a, 0, 0, 0, 0, nextClient}, last: map[*side]*dhcp6.Packet{}}
}

type msgSpec struct {
	typ      dhcp6.MsgType
	na, pd   []uint32 // IAIDs asked for, empty IAs
	rapid    bool
	serverID []byte // nil: none; use sideServerID for the side's
	copyIAs  bool   // the IAs of the side's last answer
	addrs    []netip.Addr
	noClient bool
	oro      []uint16
	fqdn     []byte // a Client FQDN option's content; nil: none
}

var sideServerID = []byte("side")

func (c *client) build(sd *side, m msgSpec) []byte {
	var b dhcp6.Builder
	b.Header(m.typ, [3]byte{byte(m.typ), 0x42, nextClient})
	if !m.noClient {
		b.Option(dhcp6.OptClientID, c.duid)
	}
	if m.serverID != nil {
		sid := m.serverID
		if bytes.Equal(sid, sideServerID) {
			sid = nil
			if last := c.last[sd]; last != nil {
				sid, _ = last.Msg.Options.Get(dhcp6.OptServerID)
			}
		}
		b.Option(dhcp6.OptServerID, sid)
	}
	b.OptionU16(dhcp6.OptElapsedTime, 0)
	if len(m.oro) > 0 {
		var o []byte
		for _, c := range m.oro {
			o = binary.BigEndian.AppendUint16(o, c)
		}
		b.Option(dhcp6.OptORO, o)
	}
	if m.rapid {
		b.Option(dhcp6.OptRapidCommit, nil)
	}
	if m.fqdn != nil {
		b.Option(dhcp6.OptClientFQDN, m.fqdn)
	}
	if m.copyIAs {
		if last := c.last[sd]; last != nil {
			it := last.Msg.Options.Iter()
			for it.Next() {
				if it.Code == dhcp6.OptIANA || it.Code == dhcp6.OptIAPD {
					b.Option(it.Code, it.Data)
				}
			}
		}
	}
	for _, iaid := range m.na {
		mk := b.IA(dhcp6.OptIANA, iaid, 0, 0)
		for _, a := range m.addrs {
			b.End(b.IAAddr(a.As16(), 0, 0))
		}
		b.End(mk)
	}
	for _, iaid := range m.pd {
		b.End(b.IA(dhcp6.OptIAPD, iaid, 0, 0))
	}
	return b.B
}

// relayed wraps msg in Relay-forw messages, innermost first.
func relayed(msg []byte, relays ...relayHop) []byte {
	for _, r := range relays {
		var b dhcp6.Builder
		b.RelayHeader(dhcp6.RelayForw, r.hops, r.link.As16(), r.peer.As16())
		if r.ifaceID != "" {
			b.Option(dhcp6.OptInterfaceID, []byte(r.ifaceID))
		}
		if r.remoteID != nil {
			b.Option(dhcp6.OptRemoteID, r.remoteID)
		}
		if r.subscriberID != nil {
			b.Option(dhcp6.OptSubscriberID, r.subscriberID)
		}
		b.Option(dhcp6.OptRelayMsg, msg)
		msg = b.B
	}
	return msg
}

type relayHop struct {
	hops       uint8
	link, peer netip.Addr
	ifaceID    string
	remoteID   []byte
	// subscriberID is the Subscriber-Id option (38).
	subscriberID []byte
}

type step struct {
	spec   msgSpec
	how    route
	relays []relayHop
}

type scenario struct {
	name  string
	c     *client
	steps []step
}

// run sends the scenario's steps to sd; the answer to the last step is
// the one compared (the earlier ones set the client up).
func (sc scenario) run(sd *side) *answer {
	var a *answer
	for _, st := range sc.steps {
		msg := sc.c.build(sd, st.spec)
		if len(st.relays) > 0 {
			msg = relayed(msg, st.relays...)
		}
		raw := sd.exchange(msg, st.how)
		a = describe(raw)
		if raw != nil {
			var p dhcp6.Packet
			if p.Parse(raw) == nil {
				sc.c.last[sd] = &p
			}
		}
	}
	return a
}

func scenarios() []scenario {
	ll := netip.MustParseAddr("fe80::a00:0:0:1")
	link2 := netip.MustParseAddr("2001:db8:2::1")
	nowhere := netip.MustParseAddr("2001:db8:99::1")
	shared := netip.MustParseAddr("2001:db8:4::1")
	sol := msgSpec{typ: dhcp6.Solicit, na: []uint32{1}, pd: []uint32{2}, oro: []uint16{23}}
	req := msgSpec{typ: dhcp6.Request, serverID: sideServerID, copyIAs: true, oro: []uint16{23}}
	ren := msgSpec{typ: dhcp6.Renew, serverID: sideServerID, copyIAs: true, oro: []uint16{23}}
	reb := msgSpec{typ: dhcp6.Rebind, copyIAs: true, oro: []uint16{23}}
	bound := func(name string, last ...step) scenario {
		steps := append([]step{{spec: sol}, {spec: req}}, last...)
		return scenario{name: name, c: newClient(), steps: steps}
	}
	one := func(name string, s msgSpec, how route, relays ...relayHop) scenario {
		return scenario{name: name, c: newClient(), steps: []step{{spec: s, how: how, relays: relays}}}
	}
	return []scenario{
		one("solicit NA+PD", sol, viaMulticast),
		bound("request NA+PD"),
		bound("renew", step{spec: ren}),
		bound("rebind", step{spec: reb}),
		bound("renew by unicast", step{spec: ren, how: viaUnicast}),
		bound("release", step{spec: msgSpec{typ: dhcp6.Release, serverID: sideServerID, copyIAs: true}}),
		bound("decline", step{spec: msgSpec{typ: dhcp6.Decline, serverID: sideServerID, copyIAs: true}}),
		bound("confirm on-link", step{spec: msgSpec{typ: dhcp6.Confirm, copyIAs: true}}),
		one("confirm off-link", msgSpec{typ: dhcp6.Confirm, na: []uint32{1}, addrs: []netip.Addr{nowhere}}, viaMulticast),
		one("confirm without address", msgSpec{typ: dhcp6.Confirm, na: []uint32{1}}, viaMulticast),
		one("solicit rapid commit", msgSpec{typ: dhcp6.Solicit, na: []uint32{1}, pd: []uint32{2}, rapid: true}, viaMulticast),
		one("solicit two IA_NA two IA_PD", msgSpec{typ: dhcp6.Solicit, na: []uint32{1, 2}, pd: []uint32{3, 4}}, viaMulticast),
		one("solicit asking for the unicast option", msgSpec{typ: dhcp6.Solicit, na: []uint32{1}, oro: []uint16{12, 23}}, viaMulticast),
		one("information-request asking for the unicast option", msgSpec{typ: dhcp6.InformationRequest, oro: []uint16{12}}, viaMulticast),
		one("information-request", msgSpec{typ: dhcp6.InformationRequest, oro: []uint16{23}}, viaMulticast),
		one("information-request unicast", msgSpec{typ: dhcp6.InformationRequest, oro: []uint16{23}}, viaUnicast),
		one("solicit unicast", sol, viaUnicast),
		one("solicit without client-id", msgSpec{typ: dhcp6.Solicit, na: []uint32{1}, noClient: true}, viaMulticast),
		one("solicit with server-id", msgSpec{typ: dhcp6.Solicit, na: []uint32{1}, serverID: serverDUID}, viaMulticast),
		one("request wrong server-id", msgSpec{typ: dhcp6.Request, na: []uint32{1}, serverID: []byte{0, 2, 0, 0, 0, 9, 1}}, viaMulticast),
		one("renew unknown binding", msgSpec{typ: dhcp6.Renew, na: []uint32{7}, serverID: serverDUID, addrs: []netip.Addr{netip.MustParseAddr("2001:db8:1::1ff")}}, viaMulticast),
		one("rebind unknown binding", msgSpec{typ: dhcp6.Rebind, na: []uint32{7}, addrs: []netip.Addr{netip.MustParseAddr("2001:db8:1::1fe")}}, viaMulticast),
		one("renew unknown NA+PD", msgSpec{typ: dhcp6.Renew, na: []uint32{7}, pd: []uint32{8}, serverID: serverDUID}, viaMulticast),
		one("relayed renew unknown NA+PD, subnet without pd-pools", msgSpec{typ: dhcp6.Renew, na: []uint32{7}, pd: []uint32{8}, serverID: serverDUID},
			viaRelay, relayHop{link: netip.MustParseAddr("2001:db8:77::1"), peer: ll, ifaceID: "port-3"}),
		one("relayed renew unknown NA+PD, subnet without pools", msgSpec{typ: dhcp6.Renew, na: []uint32{7}, pd: []uint32{8}, serverID: serverDUID},
			viaRelay, relayHop{link: netip.MustParseAddr("2001:db8:77::1"), peer: ll, ifaceID: "port-6"}),
		one("relayed rebind unknown NA+PD, subnet without pd-pools", msgSpec{typ: dhcp6.Rebind, na: []uint32{7}, pd: []uint32{8}},
			viaRelay, relayHop{link: netip.MustParseAddr("2001:db8:77::1"), peer: ll, ifaceID: "port-3"}),
		one("request with hint outside pools", msgSpec{typ: dhcp6.Request, na: []uint32{1}, serverID: serverDUID, addrs: []netip.Addr{nowhere}}, viaMulticast),
		one("relayed solicit by link-address", sol, viaRelay, relayHop{link: link2, peer: ll}),
		one("relayed solicit, interface-id", sol, viaRelay, relayHop{link: netip.MustParseAddr("2001:db8:77::1"), peer: ll, ifaceID: "port-3"}),
		one("two relays", sol, viaRelay, relayHop{link: link2, peer: ll, ifaceID: "inner", remoteID: []byte{0, 0, 0, 9, 1, 2}},
			relayHop{hops: 1, link: netip.IPv6Unspecified(), peer: relayAddr, ifaceID: "outer"}),
		{name: "relayed request, remote-id and subscriber-id", c: newClient(), steps: []step{
			{spec: sol, how: viaRelay, relays: []relayHop{{link: link2, peer: ll, remoteID: []byte{0, 0, 0x0d, 0xe9, 2, 0, 0, 0, 0, 0x42},
				subscriberID: []byte("sub-42")}}},
			{spec: req, how: viaRelay, relays: []relayHop{{link: link2, peer: ll, remoteID: []byte{0, 0, 0x0d, 0xe9, 2, 0, 0, 0, 0, 0x42},
				subscriberID: []byte("sub-42")}}}}},
		{name: "relayed request, DUID-EN, remote-id", c: &client{duid: []byte{0, 2, 0, 0, 0x0d, 0xe9, 1, 2, 3, 4}, last: map[*side]*dhcp6.Packet{}},
			steps: []step{
				{spec: sol, how: viaRelay, relays: []relayHop{{link: link2, peer: ll, remoteID: []byte{0, 0, 0x0d, 0xe9, 2, 0, 0, 0, 0, 0x43}}}},
				{spec: req, how: viaRelay, relays: []relayHop{{link: link2, peer: ll, remoteID: []byte{0, 0, 0x0d, 0xe9, 2, 0, 0, 0, 0, 0x43}}}}}},
		scenario{name: "shared network, first subnet", c: newClient(), steps: []step{
			{spec: sol, how: viaRelay, relays: []relayHop{{link: shared, peer: ll}}},
			{spec: req, how: viaRelay, relays: []relayHop{{link: shared, peer: ll}}}}},
		scenario{name: "shared network, first subnet full", c: newClient(), steps: []step{
			{spec: sol, how: viaRelay, relays: []relayHop{{link: shared, peer: ll}}},
			{spec: req, how: viaRelay, relays: []relayHop{{link: shared, peer: ll}}}}},
		one("relayed solicit, unknown link", sol, viaRelay, relayHop{link: nowhere, peer: ll}),
		{name: "reserved address and prefix", c: &client{duid: reservedDUID, last: map[*side]*dhcp6.Packet{}},
			steps: []step{{spec: sol}, {spec: req}}},
		{name: "DROP class", c: &client{duid: []byte{0, 3, 0, 1, 0x0a, 0, 0, 0, 0, 0xdd}, last: map[*side]*dhcp6.Packet{}},
			steps: []step{{spec: sol}}},
		{name: "class option", c: &client{duid: reservedDUID, last: map[*side]*dhcp6.Packet{}},
			steps: []step{{spec: msgSpec{typ: dhcp6.InformationRequest, oro: []uint16{23, 31}}}}},
		one("reconfigure from a client", msgSpec{typ: dhcp6.Reconfigure, na: []uint32{1}}, viaMulticast),
	}
}

// subnet1 is the subnet on the server's own link (id 1).
func subnet1(cfg *config.Config6) *config.Subnet6 {
	for _, s := range cfg.Subnets {
		if s.ID == 1 {
			return s
		}
	}
	panic("no subnet 1")
}
