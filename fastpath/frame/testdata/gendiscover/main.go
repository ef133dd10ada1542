// Command gendiscover writes ../discover.frame: a DHCPDISCOVER made by
// insomniacslk/dhcp's dhcpv4.NewDiscovery, framed by frame.Build, the seed of
// FuzzParse and the input of TestParseDiscoverFrame. It also checks that
// frame.Parse gives back a payload that dhcpv4 decodes to the same message.
//
// Run from this directory: GOFLAGS=-mod=mod go run .
package main

import (
	"bytes"
	"fmt"
	"net"
	"os"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"xdhcp/fastpath/frame"
	"xdhcp/handoff"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gendiscover:", err)
		os.Exit(1)
	}
}

func run() error {
	mac := net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x20, 0x30}
	d, err := dhcpv4.NewDiscovery(mac, dhcpv4.WithTransactionID(dhcpv4.TransactionID{0xde, 0xad, 0xbe, 0xef}))
	if err != nil {
		return fmt.Errorf("new discovery: %w", err)
	}
	p := d.ToBytes()
	m := handoff.Meta{
		SrcMAC: [6]byte(mac), DstMAC: [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		DstIP: [4]byte{255, 255, 255, 255}, SrcPort: 68, DstPort: 67,
	}
	buf := make([]byte, 1514)
	n, err := frame.Build(buf, &m, p)
	if err != nil {
		return fmt.Errorf("build: %w", err)
	}
	var got handoff.Meta
	payload, err := frame.Parse(buf[:n], &got)
	if err != nil {
		return fmt.Errorf("parse: %w", err)
	}
	if !bytes.Equal(payload, p) {
		return fmt.Errorf("payload differs after parse")
	}
	d2, err := dhcpv4.FromBytes(payload)
	if err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	if d2.MessageType() != dhcpv4.MessageTypeDiscover || d2.TransactionID != d.TransactionID {
		return fmt.Errorf("decoded %v, want the DISCOVER", d2.Summary())
	}
	return os.WriteFile("../discover.frame", buf[:n], 0o644)
}
