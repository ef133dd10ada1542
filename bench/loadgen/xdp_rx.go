package loadgen

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
)

// XDP actions (linux/bpf.h enum xdp_action).
const (
	xdpAborted = 0
	xdpDrop    = 1
	xdpPass    = 2
)

// xdp_md field offsets (linux/bpf.h struct xdp_md).
const (
	xdpMDData     = 0
	xdpMDDataEnd  = 4
	xdpMDRxQueue  = 16
	ethTypeIPv4BE = 0x0008 // 0x0800 as a little-endian load of network-order bytes
	ethTypeIPv6BE = 0xdd86 // 0x86dd likewise
)

// rxInstructions is the generator's XDP program: an unfragmented IPv4/UDP
// frame (IP options allowed), or an IPv6/UDP frame without extension
// headers (what a DHCPv6 server sends), to UDP port `port` goes to the AF_XDP socket
// of its receive queue through the XSKMAP mapFD; everything else, and
// anything whose queue has no socket, gets `fallback` (XDP_PASS in
// production, so the namespace's ARP and ICMP keep working; tests use
// XDP_DROP to tell "redirect attempted" from "passed" under prog.Run,
// where the map has no socket). Written with the asm package so that
// building the generator needs no clang.
//
// Frames to our MAC that are not DHCP replies (ARP, ICMP) are left to the
// kernel on purpose: redirecting them would break neighbour resolution
// in the client namespace.
func rxInstructions(mapFD int, port uint16, fallback int32) asm.Instructions {
	portBE := int32(port>>8 | port<<8&0xff00)
	return asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.LoadMem(asm.R2, asm.R1, xdpMDData, asm.Word),
		asm.LoadMem(asm.R3, asm.R1, xdpMDDataEnd, asm.Word),
		// Ethernet (14) + minimal IPv4 (20) must be there.
		asm.Mov.Reg(asm.R4, asm.R2),
		asm.Add.Imm(asm.R4, 34),
		asm.JGT.Reg(asm.R4, asm.R3, "pass"),
		asm.LoadMem(asm.R5, asm.R2, 12, asm.Half),
		asm.JEq.Imm(asm.R5, ethTypeIPv6BE, "ipv6"),
		asm.JNE.Imm(asm.R5, ethTypeIPv4BE, "pass"),
		asm.LoadMem(asm.R5, asm.R2, 14+9, asm.Byte),
		asm.JNE.Imm(asm.R5, 17, "pass"),
		// Fragments (MF or an offset) carry no complete DHCP message.
		asm.LoadMem(asm.R5, asm.R2, 14+6, asm.Half),
		asm.JSet.Imm(asm.R5, 0xff3f, "pass"), // 0x3fff in network order
		// IHL in 32-bit words; below 5 is not IPv4.
		asm.LoadMem(asm.R5, asm.R2, 14, asm.Byte),
		asm.And.Imm(asm.R5, 0x0f),
		asm.JLT.Imm(asm.R5, 5, "pass"),
		asm.LSh.Imm(asm.R5, 2),
		asm.Mov.Reg(asm.R4, asm.R2),
		asm.Add.Imm(asm.R4, 14),
		asm.Add.Reg(asm.R4, asm.R5), // R4 = UDP header
		asm.Mov.Reg(asm.R5, asm.R4),
		asm.Add.Imm(asm.R5, 8),
		asm.JGT.Reg(asm.R5, asm.R3, "pass"),
		asm.LoadMem(asm.R5, asm.R4, 2, asm.Half), // destination port
		asm.JNE.Imm(asm.R5, portBE, "pass"),
		asm.Ja.Label("redirect"),
		// IPv6: Ethernet (14) + IPv6 (40) + UDP (8), next header UDP.
		asm.Mov.Reg(asm.R4, asm.R2).WithSymbol("ipv6"),
		asm.Add.Imm(asm.R4, 62),
		asm.JGT.Reg(asm.R4, asm.R3, "pass"),
		asm.LoadMem(asm.R5, asm.R2, 14+6, asm.Byte),
		asm.JNE.Imm(asm.R5, 17, "pass"),
		asm.LoadMem(asm.R5, asm.R2, 14+40+2, asm.Half), // destination port
		asm.JNE.Imm(asm.R5, portBE, "pass"),
		asm.LoadMapPtr(asm.R1, mapFD).WithSymbol("redirect"),
		asm.LoadMem(asm.R2, asm.R6, xdpMDRxQueue, asm.Word),
		asm.Mov.Imm(asm.R3, fallback),
		asm.FnRedirectMap.Call(),
		asm.Return(),
		asm.Mov.Imm(asm.R0, xdpPass).WithSymbol("pass"),
		asm.Return(),
	}
}

// rxProgram holds the XSKMAP and the program built over it.
type rxProgram struct {
	xsks *ebpf.Map
	prog *ebpf.Program
}

// newRxProgram creates an XSKMAP of queues entries and loads the program.
func newRxProgram(queues int, port uint16, fallback int32) (_ *rxProgram, err error) {
	m, err := ebpf.NewMap(&ebpf.MapSpec{Name: "lg_xsks", Type: ebpf.XSKMap, KeySize: 4, ValueSize: 4, MaxEntries: uint32(max(queues, 1))})
	if err != nil {
		return nil, fmt.Errorf("create xskmap: %w", err)
	}
	defer func() {
		if err != nil {
			m.Close()
		}
	}()
	p, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name:         "lg_xdp_rx",
		Type:         ebpf.XDP,
		License:      "GPL",
		Instructions: rxInstructions(m.FD(), port, fallback),
	})
	if err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("load rx program: %-50v", ve)
		}
		return nil, fmt.Errorf("load rx program: %w", err)
	}
	return &rxProgram{xsks: m, prog: p}, nil
}

// attach attaches the program to ifindex: native mode, or generic mode
// where the driver refuses native. It returns the link and the mode used.
// It must run in the interface's namespace (the ifindex is resolved there).
func (r *rxProgram) attach(ifindex int) (link.Link, string, error) {
	l, nerr := link.AttachXDP(link.XDPOptions{Program: r.prog, Interface: ifindex, Flags: link.XDPDriverMode})
	if nerr == nil {
		return l, "native", nil
	}
	l, gerr := link.AttachXDP(link.XDPOptions{Program: r.prog, Interface: ifindex, Flags: link.XDPGenericMode})
	if gerr != nil {
		return nil, "", fmt.Errorf("attach xdp to ifindex %d: native: %v; generic: %w", ifindex, nerr, gerr)
	}
	return l, "generic", nil
}

func (r *rxProgram) close() error {
	return errors.Join(r.prog.Close(), r.xsks.Close())
}
