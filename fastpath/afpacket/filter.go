package afpacket

import "golang.org/x/sys/unix"

// ServerPort is the UDP port the socket filter lets through.
const ServerPort = 67

// Classic BPF ancillary load of skb->pkt_type (linux/filter.h SKF_AD_OFF +
// SKF_AD_PKTTYPE); x/sys/unix does not define these.
const skfAdPktType = 0xfffff000 + 4 // SKF_AD_OFF is -0x1000

// filterProgram is a classic BPF program over the frame as AF_PACKET/SOCK_RAW
// sees it (starting at the Ethernet header) that accepts only unfragmented
// IPv4/UDP datagrams to ServerPort, not addressed to another host.
//
// Why PACKET_OTHERHOST is dropped: besides unicast frames for other MACs seen
// in promiscuous mode (never ours to answer), it is how a VLAN-tagged frame
// arrives when the interface has no VLAN device for its VID: the kernel has
// already removed the tag (into skb metadata, then cleared it before
// protocol delivery), so the frame would look untagged and we would answer
// on the wrong VLAN. Priority-tagged frames (VID 0) arrive as untagged ones.
//
// The IPv4 header length is read with the MSH idiom (X = 4*(P[14]&0xf)), so
// IPv4 options are handled. The socket is bound to ETH_P_IP, but the
// EtherType is checked anyway because the filter is attached before bind.
var filterProgram = [...]unix.SockFilter{
	/* 0 */ {Code: unix.BPF_LD | unix.BPF_B | unix.BPF_ABS, K: skfAdPktType},
	/* 1 */ {Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: unix.PACKET_OTHERHOST, Jt: 10, Jf: 0},
	/* 2 */ {Code: unix.BPF_LD | unix.BPF_H | unix.BPF_ABS, K: 12}, // EtherType
	/* 3 */ {Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: unix.ETH_P_IP, Jt: 0, Jf: 8},
	/* 4 */ {Code: unix.BPF_LD | unix.BPF_B | unix.BPF_ABS, K: 14 + 9}, // IPv4 protocol
	/* 5 */ {Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: unix.IPPROTO_UDP, Jt: 0, Jf: 6},
	/* 6 */ {Code: unix.BPF_LD | unix.BPF_H | unix.BPF_ABS, K: 14 + 6}, // flags, fragment offset
	/* 7 */ {Code: unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K, K: 0x3fff, Jt: 4, Jf: 0}, // MF or offset: fragment
	/* 8 */ {Code: unix.BPF_LDX | unix.BPF_B | unix.BPF_MSH, K: 14}, // X = IPv4 header length
	/* 9 */ {Code: unix.BPF_LD | unix.BPF_H | unix.BPF_IND, K: 14 + 2}, // UDP destination port
	/* 10 */ {Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: ServerPort, Jt: 0, Jf: 1},
	/* 11 */ {Code: unix.BPF_RET | unix.BPF_K, K: 0x40000}, // accept the whole frame
	/* 12 */ {Code: unix.BPF_RET | unix.BPF_K, K: 0}, // drop
}
