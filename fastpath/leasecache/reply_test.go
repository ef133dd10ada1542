package leasecache

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"xdhcp/fastpath/dhcpview"
	"xdhcp/fastpath/frame"
	"xdhcp/handoff"
	"xdhcp/internal/testframe"
)

var serverMAC = [6]byte{0x02, 0x5e, 0, 0, 0, 0x01}

// requestFrame wraps a request payload in the frame it arrived in.
func requestFrame(t testing.TB, payload []byte, m handoff.Meta) ([]byte, *handoff.Meta, *dhcpview.View) {
	t.Helper()
	f, got, p, err := testframe.Arrived(m, payload)
	if err != nil {
		t.Fatal(err)
	}
	var v dhcpview.View
	if err := v.Parse(p); err != nil {
		t.Fatal(err)
	}
	return f, &got, &v
}

func TestBuildACK(t *testing.T) {
	const cltt = 1_000_000
	relay := net.IPv4(10, 1, 2, 3).To4()
	tests := []struct {
		name      string
		relayed   bool
		nvlan     int
		entry     func(*Entry)
		remaining uint32
		t1, t2    time.Duration
	}{
		{name: "direct", remaining: 3500, t1: 1750 * time.Second, t2: 3063 * time.Second},
		{name: "relayed, QinQ", relayed: true, nvlan: 2, remaining: 1234, t1: 617 * time.Second, t2: 1080 * time.Second},
		{name: "one VLAN, explicit timers, siaddr", nvlan: 1, remaining: 3000,
			entry: func(e *Entry) {
				e.HasT1, e.RenewTimer, e.HasT2, e.RebindTimer = true, 1000, true, 2000
				e.Siaddr = [4]byte{192, 0, 2, 99}
			}, t1: 1000 * time.Second, t2: 2000 * time.Second},
		{name: "no timers, no options", remaining: 60,
			entry: func(e *Entry) { e.CalcTee, e.Options = false, nil }},
		{name: "large options", remaining: 600, t1: 300 * time.Second, t2: 525 * time.Second,
			entry: func(e *Entry) {
				e.Options = nil
				for i := range 4 {
					e.Options = append(e.Options, byte(224+i), 255)
					e.Options = append(e.Options, bytes.Repeat([]byte{byte(i)}, 255)...)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var renewMods []dhcpv4.Modifier
			if tt.relayed {
				renewMods = append(renewMods, dhcpv4.WithRelay(relay))
			}
			sel, renew := requests(t, baseMods(), renewMods...)
			renew.HopCount = 1
			renew.Flags = 0x8000
			renew.NumSeconds = 9
			e := baseEntry(t, sel, cltt)
			if tt.entry != nil {
				tt.entry(e)
			}
			reqM := handoff.Meta{
				SrcMAC: [6]byte(clientMAC), DstMAC: serverMAC,
				SrcIP: [4]byte(leaseIP), DstIP: [4]byte(serverIP),
				SrcPort: 68, DstPort: 67, NVLAN: tt.nvlan,
				VLAN: [2]handoff.VLANTag{{TPID: frame.TPID8021AD, TCI: 100}, {TPID: frame.TPID8021Q, TCI: 0x2000 | 200}},
			}
			if tt.nvlan == 1 {
				reqM.VLAN[0] = handoff.VLANTag{TPID: frame.TPID8021Q, TCI: 42}
			}
			if tt.relayed {
				reqM.SrcMAC = [6]byte{0x02, 0x77, 0, 0, 0, 7} // the relay's router port
				reqM.SrcIP, reqM.SrcPort = [4]byte(relay), 67
			}
			_, rm, rv := requestFrame(t, renew.ToBytes(), reqM)

			dst := make([]byte, 2048)
			for i := range dst {
				dst[i] = 0xee // a used TX frame: garbage must not leak
			}
			n, err := BuildACK(dst, rv, rm, e, tt.remaining, serverMAC)
			if err != nil {
				t.Fatal(err)
			}

			var am handoff.Meta
			payload, err := frame.Parse(dst[:n], &am) // checks the IPv4 header checksum
			if err != nil {
				t.Fatalf("frame.Parse: %v", err)
			}
			checkUDPChecksum(t, dst[:n], &am)
			if am.SrcMAC != serverMAC || am.DstMAC != reqM.SrcMAC {
				t.Errorf("MACs %x -> %x", am.SrcMAC, am.DstMAC)
			}
			if am.NVLAN != tt.nvlan || am.VLAN != rm.VLAN {
				t.Errorf("VLAN %d %v, want %d %v", am.NVLAN, am.VLAN, tt.nvlan, rm.VLAN)
			}
			if am.SrcIP != [4]byte(serverIP) || am.SrcPort != 67 {
				t.Errorf("source %v:%d", am.SrcIP, am.SrcPort)
			}
			wantDst, wantPort := [4]byte(leaseIP), uint16(68)
			if tt.relayed {
				wantDst, wantPort = [4]byte(relay), 67
			}
			if am.DstIP != wantDst || am.DstPort != wantPort {
				t.Errorf("destination %v:%d, want %v:%d", am.DstIP, am.DstPort, wantDst, wantPort)
			}
			if len(payload) != ACKLen(e) {
				t.Errorf("payload %d bytes, ACKLen %d", len(payload), ACKLen(e))
			}

			ack, err := dhcpv4.FromBytes(payload)
			if err != nil {
				t.Fatalf("insomniacslk: %v", err)
			}
			switch {
			case ack.OpCode != dhcpv4.OpcodeBootReply:
				t.Errorf("op %v", ack.OpCode)
			case ack.MessageType() != dhcpv4.MessageTypeAck:
				t.Errorf("type %v", ack.MessageType())
			case ack.TransactionID != renew.TransactionID:
				t.Errorf("xid %v", ack.TransactionID)
			case ack.HWType != renew.HWType || !bytes.Equal(ack.ClientHWAddr, clientMAC):
				t.Errorf("hw %v %v", ack.HWType, ack.ClientHWAddr)
			case ack.HopCount != 1 || ack.Flags != 0x8000 || ack.NumSeconds != 0:
				t.Errorf("hops %d flags %#x secs %d", ack.HopCount, ack.Flags, ack.NumSeconds)
			case !ack.ClientIPAddr.Equal(leaseIP) || !ack.YourIPAddr.Equal(leaseIP):
				t.Errorf("ciaddr %v yiaddr %v", ack.ClientIPAddr, ack.YourIPAddr)
			case !ack.ServerIPAddr.Equal(net.IP(e.Siaddr[:])):
				t.Errorf("siaddr %v", ack.ServerIPAddr)
			case !ack.GatewayIPAddr.Equal(renew.GatewayIPAddr) && !(ack.GatewayIPAddr.IsUnspecified() && renew.GatewayIPAddr == nil):
				t.Errorf("giaddr %v, want %v", ack.GatewayIPAddr, renew.GatewayIPAddr)
			case ack.ServerHostName != "" || ack.BootFileName != "":
				t.Errorf("sname %q file %q", ack.ServerHostName, ack.BootFileName)
			case !ack.ServerIdentifier().Equal(serverIP):
				t.Errorf("server id %v", ack.ServerIdentifier())
			case ack.IPAddressLeaseTime(0) != time.Duration(tt.remaining)*time.Second:
				t.Errorf("lease time %v", ack.IPAddressLeaseTime(0))
			case ack.IPAddressRenewalTime(0) != tt.t1 || ack.IPAddressRebindingTime(0) != tt.t2:
				t.Errorf("T1 %v T2 %v, want %v %v", ack.IPAddressRenewalTime(0), ack.IPAddressRebindingTime(0), tt.t1, tt.t2)
			}
			if (tt.t1 == 0) == ack.Options.Has(dhcpv4.OptionRenewTimeValue) {
				t.Errorf("option 58 presence wrong")
			}
			// Every entry option is there, verbatim, and nothing else.
			want := map[uint8][]byte{53: {5}, 54: serverIP, 51: binary.BigEndian.AppendUint32(nil, tt.remaining)}
			if tt.t1 != 0 {
				want[58] = binary.BigEndian.AppendUint32(nil, uint32(tt.t1/time.Second))
			}
			if tt.t2 != 0 {
				want[59] = binary.BigEndian.AppendUint32(nil, uint32(tt.t2/time.Second))
			}
			for i := 0; i < len(e.Options); i += 2 + int(e.Options[i+1]) {
				want[e.Options[i]] = e.Options[i+2 : i+2+int(e.Options[i+1])]
			}
			if len(ack.Options) != len(want) {
				t.Errorf("%d options, want %d: %v", len(ack.Options), len(want), ack.Options)
			}
			for code, data := range want {
				if !bytes.Equal(ack.Options.Get(dhcpv4.GenericOptionCode(code)), data) {
					t.Errorf("option %d = %x, want %x", code, ack.Options.Get(dhcpv4.GenericOptionCode(code)), data)
				}
			}
			// Options order: 53 first (RFC 2131 does not require it,
			// but some clients do), and End followed only by zeros.
			if payload[240] != 53 {
				t.Errorf("first option %d", payload[240])
			}
			end := 240 + 3 + 6 + 6 + len(e.Options)
			if tt.t1 != 0 {
				end += 6
			}
			if tt.t2 != 0 {
				end += 6
			}
			if payload[end] != 255 || !allZero(payload[end+1:]) || !allZero(payload[44:236]) {
				t.Errorf("End/padding/sname/file not clean")
			}
		})
	}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// checkUDPChecksum recomputes the UDP checksum of frame f independently of
// the builder: pseudo-header plus UDP header and payload must fold to zero.
func checkUDPChecksum(t *testing.T, f []byte, m *handoff.Meta) {
	t.Helper()
	ipOff := 14 + 4*m.NVLAN
	ihl := int(f[ipOff]&0x0f) * 4
	udp := f[ipOff+ihl:]
	udpLen := int(binary.BigEndian.Uint16(udp[4:]))
	udp = udp[:udpLen]
	if binary.BigEndian.Uint16(udp[6:]) == 0 {
		t.Fatal("UDP checksum not filled in")
	}
	pseudo := make([]byte, 0, 12+udpLen+1)
	pseudo = append(pseudo, m.SrcIP[:]...)
	pseudo = append(pseudo, m.DstIP[:]...)
	pseudo = append(pseudo, 0, 17)
	pseudo = binary.BigEndian.AppendUint16(pseudo, uint16(udpLen))
	pseudo = append(pseudo, udp...)
	if len(pseudo)%2 == 1 {
		pseudo = append(pseudo, 0)
	}
	var s uint32
	for i := 0; i < len(pseudo); i += 2 {
		s += uint32(binary.BigEndian.Uint16(pseudo[i:]))
	}
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	if s != 0xffff {
		t.Fatalf("UDP checksum wrong: sum %#x", s)
	}
}

func TestBuildACKErrors(t *testing.T) {
	sel, renew := requests(t, baseMods())
	e := baseEntry(t, sel, 0)
	_, rm, rv := requestFrame(t, renew.ToBytes(), handoff.Meta{SrcPort: 68, DstPort: 67})
	need := 42 + ACKLen(e)
	if _, err := BuildACK(make([]byte, need-1), rv, rm, e, 10, serverMAC); !errors.Is(err, ErrNoRoom) {
		t.Fatalf("short buffer: %v", err)
	}
	if n, err := BuildACK(make([]byte, need), rv, rm, e, 10, serverMAC); err != nil || n != need {
		t.Fatalf("exact buffer: %d %v", n, err)
	}
	// Neither giaddr nor ciaddr: nowhere to send a renewal reply.
	_, _, sv := requestFrame(t, sel.ToBytes(), handoff.Meta{SrcPort: 68, DstPort: 67})
	if _, err := BuildACK(make([]byte, 2048), sv, rm, e, 10, serverMAC); !errors.Is(err, ErrNotAddressable) {
		t.Fatalf("no address: %v", err)
	}
	bad := *e
	bad.Options = make([]byte, MaxOptionsLen+1)
	if _, err := BuildACK(make([]byte, 4096), rv, rm, &bad, 10, serverMAC); !errors.Is(err, ErrBadEntryOptions) {
		t.Fatalf("oversized options: %v", err)
	}
}
