// Package testframe builds the hand-made DHCP messages and frames the
// transport tests use: a minimal DISCOVER and its broadcast Ethernet frame,
// a frame parsed back as a transport reads it, and one client's DORA and
// renewal built with insomniacslk's constructors.
package testframe

import (
	"encoding/binary"
	"fmt"
	"net"
	"slices"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"xdhcp/fastpath/frame"
	"xdhcp/handoff"
)

// Discover is a minimal DHCPDISCOVER payload of size bytes (244 at least:
// the fixed header, the magic cookie and three option bytes) from chaddr
// mac with transaction ID xid and the broadcast flag set.
func Discover(mac [6]byte, xid uint32, size int) []byte {
	p := make([]byte, max(size, 244))
	p[0], p[1], p[2] = 1, 1, 6 // BOOTREQUEST, Ethernet, hlen 6
	binary.BigEndian.PutUint32(p[4:], xid)
	binary.BigEndian.PutUint16(p[10:], 0x8000) // broadcast flag
	copy(p[28:], mac[:])
	copy(p[236:], []byte{99, 130, 83, 99, 53, 1, 1, 255}) // cookie, DISCOVER, end
	return p
}

// Broadcast wraps payload into an Ethernet/IPv4/UDP frame from src,
// 0.0.0.0 port 68, to the broadcast MAC and address on dstPort.
func Broadcast(src [6]byte, dstPort uint16, payload []byte) ([]byte, error) {
	m := handoff.Meta{
		SrcMAC: src, DstMAC: [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		DstIP: [4]byte{255, 255, 255, 255}, SrcPort: 68, DstPort: dstPort,
	}
	buf := make([]byte, 1514)
	n, err := frame.Build(buf, &m, payload)
	if err != nil {
		return nil, fmt.Errorf("build frame: %w", err)
	}
	return buf[:n], nil
}

// Arrived builds the frame payload travels in with the headers of m and
// parses it back as a transport does: it returns the frame, the headers
// as read from it and the payload within it.
func Arrived(m handoff.Meta, payload []byte) (f []byte, got handoff.Meta, p []byte, err error) {
	buf := make([]byte, max(frame.HeaderLen(&m)+len(payload), frame.MinFrameLen))
	n, err := frame.Build(buf, &m, payload)
	if err != nil {
		return nil, got, nil, fmt.Errorf("build frame: %w", err)
	}
	if p, err = frame.Parse(buf[:n], &got); err != nil {
		return nil, got, nil, fmt.Errorf("parse frame: %w", err)
	}
	return buf[:n], got, p, nil
}

// Requests builds the DISCOVER of client mac, its SELECTING REQUEST for an
// OFFER of yiaddr from server, and its RENEWING REQUEST after the ACK, with
// insomniacslk's constructors. mods apply to every request (a client sends
// the same options each time), renewMods to the renewal only.
func Requests(mac net.HardwareAddr, yiaddr, server net.IP, mods []dhcpv4.Modifier, renewMods ...dhcpv4.Modifier) (disc, sel, renew *dhcpv4.DHCPv4, err error) {
	disc, err = dhcpv4.NewDiscovery(mac, mods...)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("discover: %w", err)
	}
	offer, err := dhcpv4.NewReplyFromRequest(disc,
		dhcpv4.WithMessageType(dhcpv4.MessageTypeOffer),
		dhcpv4.WithYourIP(yiaddr),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(server)))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("offer: %w", err)
	}
	sel, err = dhcpv4.NewRequestFromOffer(offer, mods...)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("selecting request: %w", err)
	}
	ack, err := dhcpv4.NewReplyFromRequest(sel,
		dhcpv4.WithMessageType(dhcpv4.MessageTypeAck), dhcpv4.WithYourIP(yiaddr))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("ack: %w", err)
	}
	renew, err = dhcpv4.NewRenewFromAck(ack, append(slices.Clip(mods), renewMods...)...)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("renewing request: %w", err)
	}
	return disc, sel, renew, nil
}
