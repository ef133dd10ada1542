// Package dhcp6 is the DHCPv6 wire format (RFC 8415): views over received
// messages and a builder for replies. Parsing never copies and never
// allocates — a Packet holds the relay chain in a fixed array and every
// option is a slice of the datagram — so the engine and the fast path read
// requests at line rate. It imports nothing of the project.
package dhcp6

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// MsgType is a DHCPv6 message type.
type MsgType uint8

// Message types.
const (
	Solicit            MsgType = 1
	Advertise          MsgType = 2
	Request            MsgType = 3
	Confirm            MsgType = 4
	Renew              MsgType = 5
	Rebind             MsgType = 6
	Reply              MsgType = 7
	Release            MsgType = 8
	Decline            MsgType = 9
	Reconfigure        MsgType = 10
	InformationRequest MsgType = 11
	RelayForw          MsgType = 12
	RelayRepl          MsgType = 13
)

var msgNames = [...]string{
	Solicit: "SOLICIT", Advertise: "ADVERTISE", Request: "REQUEST", Confirm: "CONFIRM", Renew: "RENEW",
	Rebind: "REBIND", Reply: "REPLY", Release: "RELEASE", Decline: "DECLINE", Reconfigure: "RECONFIGURE",
	InformationRequest: "INFORMATION-REQUEST", RelayForw: "RELAY-FORW", RelayRepl: "RELAY-REPL",
}

// String is the name Kea's logs use.
func (t MsgType) String() string {
	if int(t) < len(msgNames) && msgNames[t] != "" {
		return msgNames[t]
	}
	return fmt.Sprintf("UNKNOWN(%d)", uint8(t))
}

// IsRelay reports whether t is Relay-forw or Relay-reply, whose header is
// the relay header.
func (t MsgType) IsRelay() bool { return t == RelayForw || t == RelayRepl }

// Option codes (RFC 8415 and the ones a server meets in practice).
const (
	OptClientID          uint16 = 1
	OptServerID          uint16 = 2
	OptIANA              uint16 = 3
	OptIATA              uint16 = 4
	OptIAAddr            uint16 = 5
	OptORO               uint16 = 6
	OptPreference        uint16 = 7
	OptElapsedTime       uint16 = 8
	OptRelayMsg          uint16 = 9
	OptAuth              uint16 = 11
	OptUnicast           uint16 = 12
	OptStatusCode        uint16 = 13
	OptRapidCommit       uint16 = 14
	OptUserClass         uint16 = 15
	OptVendorClass       uint16 = 16
	OptVendorOpts        uint16 = 17
	OptInterfaceID       uint16 = 18
	OptReconfMsg         uint16 = 19
	OptReconfAccept      uint16 = 20
	OptDNSServers        uint16 = 23
	OptDomainList        uint16 = 24
	OptIAPD              uint16 = 25
	OptIAPrefix          uint16 = 26
	OptInfoRefreshTime   uint16 = 32
	OptRemoteID          uint16 = 37
	OptSubscriberID      uint16 = 38
	OptClientFQDN        uint16 = 39
	OptClientLinkLayer   uint16 = 79
	OptRelaySourcePort   uint16 = 135
	OptSolMaxRT          uint16 = 82
	OptInfMaxRT          uint16 = 83
	OptPDExclude         uint16 = 67
	OptERORelayRequested uint16 = 43
)

// Status codes (the Status Code option).
const (
	StatusSuccess       uint16 = 0
	StatusUnspecFail    uint16 = 1
	StatusNoAddrsAvail  uint16 = 2
	StatusNoBinding     uint16 = 3
	StatusNotOnLink     uint16 = 4
	StatusUseMulticast  uint16 = 5
	StatusNoPrefixAvail uint16 = 6
)

// HopCountLimit is the deepest relay nesting RFC 8415 allows (and so the
// longest relay chain a Packet holds).
const HopCountLimit = 32

// Errors of the parser. They are values, not formatted per packet, so a
// flood of malformed datagrams costs no allocation.
var (
	ErrShort        = errors.New("dhcpv6: message shorter than its header")
	ErrOptionFrame  = errors.New("dhcpv6: option runs past the end of its container")
	ErrNoRelayMsg   = errors.New("dhcpv6: relay message without a Relay Message option")
	ErrTooDeep      = errors.New("dhcpv6: relay messages nested deeper than 32")
	ErrBadIA        = errors.New("dhcpv6: IA option shorter than its fixed fields")
	ErrBadIAAddr    = errors.New("dhcpv6: IA Address option shorter than its fixed fields")
	ErrBadIAPrefix  = errors.New("dhcpv6: IA Prefix option shorter than its fixed fields")
	ErrBadStatus    = errors.New("dhcpv6: Status Code option shorter than its code")
	ErrNotARelay    = errors.New("dhcpv6: not a relay message")
	ErrRelayInInner = errors.New("dhcpv6: relay message where a client message belongs")
)

// Options is an encoded option sequence (code, length, data; big endian).
// Its methods read it in place.
type Options []byte

// Valid checks the framing of every option of o (not of options nested in
// their data).
func (o Options) Valid() error {
	for b := []byte(o); len(b) > 0; {
		if len(b) < 4 {
			return ErrOptionFrame
		}
		n := int(binary.BigEndian.Uint16(b[2:4]))
		if len(b) < 4+n {
			return ErrOptionFrame
		}
		b = b[4+n:]
	}
	return nil
}

// Get returns the data of the first option code in o.
func (o Options) Get(code uint16) ([]byte, bool) {
	it := o.Iter()
	for it.Next() {
		if it.Code == code {
			return it.Data, true
		}
	}
	return nil, false
}

// Has reports whether o holds an option code.
func (o Options) Has(code uint16) bool {
	_, ok := o.Get(code)
	return ok
}

// Count is the number of options code in o.
func (o Options) Count(code uint16) int {
	n := 0
	it := o.Iter()
	for it.Next() {
		if it.Code == code {
			n++
		}
	}
	return n
}

// Iter returns an iterator over o. It stops at the first option whose
// framing is broken (Valid tells such a sequence apart beforehand).
func (o Options) Iter() OptionIter { return OptionIter{rest: o} }

// OptionIter walks an option sequence: for it.Next() { it.Code, it.Data }.
type OptionIter struct {
	rest []byte
	Code uint16
	Data []byte
}

// Next advances to the next option; false at the end (or a broken frame).
func (it *OptionIter) Next() bool {
	if len(it.rest) < 4 {
		return false
	}
	n := int(binary.BigEndian.Uint16(it.rest[2:4]))
	if len(it.rest) < 4+n {
		it.rest = nil
		return false
	}
	it.Code = binary.BigEndian.Uint16(it.rest[0:2])
	it.Data = it.rest[4 : 4+n : 4+n]
	it.rest = it.rest[4+n:]
	return true
}

// Message is a client/server message: type, transaction id and options.
type Message struct {
	Type    MsgType
	TxID    [3]byte
	Options Options
}

// ParseMessage reads a client/server message in place.
func ParseMessage(b []byte) (Message, error) {
	if len(b) < 4 {
		return Message{}, ErrShort
	}
	m := Message{Type: MsgType(b[0]), Options: Options(b[4:])}
	copy(m.TxID[:], b[1:4])
	if m.Type.IsRelay() {
		return m, ErrRelayInInner
	}
	if err := m.Options.Valid(); err != nil {
		return m, err
	}
	return m, nil
}

// Relay is a Relay-forw or Relay-reply: the relay header and its options
// (one of them the Relay Message option, the message relayed).
type Relay struct {
	Type     MsgType
	HopCount uint8
	LinkAddr [16]byte
	PeerAddr [16]byte
	Options  Options
}

// relayHeaderLen is msg-type, hop-count, link-address and peer-address.
const relayHeaderLen = 34

// ParseRelay reads a relay message in place.
func ParseRelay(b []byte) (Relay, error) {
	if len(b) < relayHeaderLen {
		return Relay{}, ErrShort
	}
	r := Relay{Type: MsgType(b[0]), HopCount: b[1], Options: Options(b[relayHeaderLen:])}
	if !r.Type.IsRelay() {
		return r, ErrNotARelay
	}
	copy(r.LinkAddr[:], b[2:18])
	copy(r.PeerAddr[:], b[18:34])
	if err := r.Options.Valid(); err != nil {
		return r, err
	}
	return r, nil
}

// InterfaceID is the relay's Interface-Id option, if any.
func (r *Relay) InterfaceID() ([]byte, bool) { return r.Options.Get(OptInterfaceID) }

// Packet is a whole received datagram: the relay chain, outermost (the
// last relay, which sent it to the server) first, and the client's
// message inside it.
type Packet struct {
	Relays  [HopCountLimit]Relay
	NRelays int
	Msg     Message
}

// Parse reads b into p, following Relay Message options down to the
// client's message. It allocates nothing; p's slices point into b.
func (p *Packet) Parse(b []byte) error {
	p.NRelays = 0
	for len(b) > 0 && MsgType(b[0]).IsRelay() {
		if p.NRelays == HopCountLimit {
			return ErrTooDeep
		}
		r, err := ParseRelay(b)
		if err != nil {
			return err
		}
		inner, ok := r.Options.Get(OptRelayMsg)
		if !ok {
			return ErrNoRelayMsg
		}
		p.Relays[p.NRelays] = r
		p.NRelays++
		b = inner
	}
	m, err := ParseMessage(b)
	if err != nil {
		return err
	}
	p.Msg = m
	return nil
}

// Chain is the relay chain, outermost first.
func (p *Packet) Chain() []Relay { return p.Relays[:p.NRelays] }

// Innermost is the relay closest to the client (nil when not relayed):
// its link-address and interface-id locate the client's link.
func (p *Packet) Innermost() *Relay {
	if p.NRelays == 0 {
		return nil
	}
	return &p.Relays[p.NRelays-1]
}

// IA is an IA_NA, IA_TA or IA_PD option: its identifier, timers (zero for
// IA_TA, which has none) and the options it holds (addresses, prefixes,
// status).
type IA struct {
	Code    uint16
	IAID    uint32
	T1, T2  uint32
	Options Options
}

// ParseIA reads the data of an IA option code (OptIANA, OptIATA or
// OptIAPD).
func ParseIA(code uint16, data []byte) (IA, error) {
	ia := IA{Code: code}
	fixed := 12
	if code == OptIATA {
		fixed = 4
	}
	if len(data) < fixed {
		return ia, ErrBadIA
	}
	ia.IAID = binary.BigEndian.Uint32(data[0:4])
	if code != OptIATA {
		ia.T1 = binary.BigEndian.Uint32(data[4:8])
		ia.T2 = binary.BigEndian.Uint32(data[8:12])
	}
	ia.Options = Options(data[fixed:])
	if err := ia.Options.Valid(); err != nil {
		return ia, err
	}
	return ia, nil
}

// IAAddr is an IA Address option.
type IAAddr struct {
	Addr             [16]byte
	Preferred, Valid uint32
	Options          Options
}

// ParseIAAddr reads an IA Address option's data.
func ParseIAAddr(data []byte) (IAAddr, error) {
	var a IAAddr
	if len(data) < 24 {
		return a, ErrBadIAAddr
	}
	copy(a.Addr[:], data[0:16])
	a.Preferred = binary.BigEndian.Uint32(data[16:20])
	a.Valid = binary.BigEndian.Uint32(data[20:24])
	a.Options = Options(data[24:])
	if err := a.Options.Valid(); err != nil {
		return a, err
	}
	return a, nil
}

// IAPrefix is an IA Prefix option.
type IAPrefix struct {
	Preferred, Valid uint32
	Len              uint8
	Prefix           [16]byte
	Options          Options
}

// ParseIAPrefix reads an IA Prefix option's data.
func ParseIAPrefix(data []byte) (IAPrefix, error) {
	var p IAPrefix
	if len(data) < 25 {
		return p, ErrBadIAPrefix
	}
	p.Preferred = binary.BigEndian.Uint32(data[0:4])
	p.Valid = binary.BigEndian.Uint32(data[4:8])
	p.Len = data[8]
	copy(p.Prefix[:], data[9:25])
	p.Options = Options(data[25:])
	if err := p.Options.Valid(); err != nil {
		return p, err
	}
	return p, nil
}

// ParseStatus reads a Status Code option's data: the code and the UTF-8
// message.
func ParseStatus(data []byte) (code uint16, msg []byte, err error) {
	if len(data) < 2 {
		return 0, nil, ErrBadStatus
	}
	return binary.BigEndian.Uint16(data[0:2]), data[2:], nil
}

// ORO is an Option Request option's data: a list of 2-byte codes.
type ORO []byte

// Has reports whether the client asked for code.
func (o ORO) Has(code uint16) bool {
	for i := 0; i+1 < len(o); i += 2 {
		if binary.BigEndian.Uint16(o[i:]) == code {
			return true
		}
	}
	return false
}

// Len is the number of codes requested.
func (o ORO) Len() int { return len(o) / 2 }

// At is the i-th code requested.
func (o ORO) At(i int) uint16 { return binary.BigEndian.Uint16(o[2*i:]) }

// ElapsedTime reads an Elapsed Time option (hundredths of a second).
func ElapsedTime(data []byte) (uint16, bool) {
	if len(data) != 2 {
		return 0, false
	}
	return binary.BigEndian.Uint16(data), true
}

// Fingerprint hashes what in a request decides the reply besides its IAs
// and identifiers: every relay's link-address, Interface-Id, Remote-Id and
// Subscriber-Id, and the client's Option Request. The engine stores it
// with a cached binding and the fast path computes it for each Renew, so
// both must use this one function. FNV-1a, allocation-free.
func Fingerprint(p *Packet) uint64 {
	h := uint64(14695981039346656037)
	mix := func(b []byte) {
		for _, c := range b {
			h ^= uint64(c)
			h *= 1099511628211
		}
		h ^= 0xff
		h *= 1099511628211
	}
	for i := range p.NRelays {
		r := &p.Relays[i]
		mix(r.LinkAddr[:])
		for _, code := range [...]uint16{OptInterfaceID, OptRemoteID, OptSubscriberID} {
			v, _ := r.Options.Get(code)
			mix(v)
		}
	}
	oro, _ := p.Msg.Options.Get(OptORO)
	mix(oro)
	return h
}
