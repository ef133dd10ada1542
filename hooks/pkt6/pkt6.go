// Package pkt6 is the read-only view of a DHCPv6 message that lease event
// listeners evaluate: Kea's pkt6/relay6 expressions (the forensic log's
// request- and response-parser-format) and run-script's variables. It
// makes a received or sent datagram, relay wrappers and all, a
// classify.Packet6.
package pkt6

import (
	"encoding/binary"
	"net/netip"

	"xdhcp/config/classify"
	"xdhcp/dhcp6"
	"xdhcp/lease"
)

// Packet is a view of a DHCPv6 datagram. It points into the bytes it was
// parsed from.
type Packet struct {
	p       dhcp6.Packet
	size    int
	iface   string
	classes []string
	// src and dst are the IP source and destination (pkt.src, pkt.dst).
	src, dst netip.Addr
	// lease, when set, is the lease an expression is evaluated for: as in
	// Kea's forensic log, option[3] and option[25] then read only the IA
	// holding that lease, reduced to that lease's address or prefix.
	lease *lease.Lease6
}

var _ classify.Packet6 = (*Packet)(nil)

// Parse makes p a view of datagram b, received on iface from src to dst
// and classified into classes. It fails when b is not a DHCPv6 message.
func (p *Packet) Parse(b []byte, iface string, src, dst netip.Addr, classes []string) error {
	*p = Packet{size: len(b), iface: iface, src: src, dst: dst, classes: classes}
	return p.p.Parse(b)
}

// ForLease sets the lease expressions are evaluated for (nil: none).
func (p *Packet) ForLease(l *lease.Lease6) { p.lease = l }

// Msg is the client's (or the server's) message inside the relays.
func (p *Packet) Msg() *dhcp6.Message { return &p.p.Msg }

// Chain is the relay chain, outermost first.
func (p *Packet) Chain() []dhcp6.Relay { return p.p.Chain() }

// Option is DHCPv4's; a DHCPv6 message has none.
func (p *Packet) Option(uint8) ([]byte, bool) { return nil, false }

// MAC is DHCPv4's; a DHCPv6 message has none.
func (p *Packet) MAC() []byte { return nil }

// Field answers pkt.src, pkt.dst and pkt.len.
func (p *Packet) Field(name string) ([]byte, bool) {
	switch name {
	case "src":
		if p.src.IsValid() {
			return p.src.AsSlice(), true
		}
	case "dst":
		if p.dst.IsValid() {
			return p.dst.AsSlice(), true
		}
	case "len":
		return binary.BigEndian.AppendUint32(nil, uint32(p.size)), true
	}
	return nil, false
}

// Iface is the receiving interface.
func (p *Packet) Iface() string { return p.iface }

// Member reports membership of the query's classes.
func (p *Packet) Member(name string) bool {
	if name == "ALL" {
		return true
	}
	for _, c := range p.classes {
		if c == name {
			return true
		}
	}
	return false
}

// Option6 is a top-level option of the message; with a lease set, the IA
// options are those of that lease only (see ForLease).
func (p *Packet) Option6(code uint16) ([]byte, bool) {
	if p.lease != nil && (code == dhcp6.OptIANA || code == dhcp6.OptIAPD) {
		return p.leaseIA(code)
	}
	return p.p.Msg.Options.Get(code)
}

// leaseIA is the IA of type code holding p.lease, with that lease's
// address or prefix as its only one, and its other options: what Kea's
// forensic log makes of option[3] and option[25] for each lease it logs.
// The IA of the other type reads as absent.
func (p *Packet) leaseIA(code uint16) ([]byte, bool) {
	l := p.lease
	want, sub := uint16(dhcp6.OptIANA), uint16(dhcp6.OptIAAddr)
	if l.Type == lease.TypePD {
		want, sub = dhcp6.OptIAPD, dhcp6.OptIAPrefix
	}
	if code != want {
		return nil, false
	}
	for it := p.p.Msg.Options.Iter(); it.Next(); {
		if it.Code != code || len(it.Data) < 12 || binary.BigEndian.Uint32(it.Data) != l.IAID {
			continue
		}
		var match []byte
		for in := (dhcp6.Options(it.Data[12:])).Iter(); in.Next(); {
			if in.Code == sub && p.isLease(sub, in.Data) {
				match = in.Data
				break
			}
		}
		if match == nil {
			continue
		}
		out := append([]byte(nil), it.Data[:12]...)
		out = appendOption(out, sub, match)
		for in := (dhcp6.Options(it.Data[12:])).Iter(); in.Next(); {
			if in.Code != dhcp6.OptIAAddr && in.Code != dhcp6.OptIAPrefix {
				out = appendOption(out, in.Code, in.Data)
			}
		}
		return out, true
	}
	return nil, false
}

// isLease reports whether an IA Address or IA Prefix option names p.lease.
func (p *Packet) isLease(sub uint16, data []byte) bool {
	if sub == dhcp6.OptIAAddr {
		a, err := dhcp6.ParseIAAddr(data)
		return err == nil && netip.AddrFrom16(a.Addr) == p.lease.Addr
	}
	pf, err := dhcp6.ParseIAPrefix(data)
	return err == nil && netip.AddrFrom16(pf.Prefix) == p.lease.Addr && pf.Len == p.lease.PrefixLen
}

func appendOption(dst []byte, code uint16, data []byte) []byte {
	dst = binary.BigEndian.AppendUint16(dst, code)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(data)))
	return append(dst, data...)
}

// MsgType is the message's type.
func (p *Packet) MsgType() uint8 { return uint8(p.p.Msg.Type) }

// TransID is the message's transaction id.
func (p *Packet) TransID() uint32 {
	t := p.p.Msg.TxID
	return uint32(t[0])<<16 | uint32(t[1])<<8 | uint32(t[2])
}

// Relays is the number of relay encapsulations.
func (p *Packet) Relays() int { return p.p.NRelays }

// RelayOption is an option of relay level (0: the outermost).
func (p *Packet) RelayOption(level int, code uint16) ([]byte, bool) {
	return p.p.Relays[level].Options.Get(code)
}

// RelayAddrs are the link- and peer-address of relay level.
func (p *Packet) RelayAddrs(level int) (link, peer netip.Addr) {
	r := &p.p.Relays[level]
	return netip.AddrFrom16(r.LinkAddr), netip.AddrFrom16(r.PeerAddr)
}

// AnyRelayOption is the first relay option code found searching from the
// relay closest to the client outwards, as Kea's getAnyRelayOption with
// RELAY_SEARCH_FROM_CLIENT finds it.
func (p *Packet) AnyRelayOption(code uint16) ([]byte, bool) {
	for i := p.p.NRelays - 1; i >= 0; i-- {
		if v, ok := p.p.Relays[i].Options.Get(code); ok {
			return v, true
		}
	}
	return nil, false
}

// MessageTypeName is Kea's name of a DHCPv6 message type (Pkt6::getName).
func MessageTypeName(t uint8) string {
	names := [...]string{"UNKNOWN", "SOLICIT", "ADVERTISE", "REQUEST", "CONFIRM", "RENEW", "REBIND",
		"REPLY", "RELEASE", "DECLINE", "RECONFIGURE", "INFORMATION_REQUEST", "RELAY_FORWARD",
		"RELAY_REPLY", "LEASEQUERY", "LEASEQUERY_REPLY", "LEASEQUERY_DONE", "LEASEQUERY_DATA",
		"UNKNOWN", "UNKNOWN", "DHCPV4_QUERY", "DHCPV4_RESPONSE"}
	if int(t) < len(names) {
		return names[t]
	}
	return "UNKNOWN"
}
