package lease

import (
	"bytes"
	"fmt"
	"net/netip"
)

// Type is the kind of a DHCPv6 lease: Kea's Lease::Type, whose numbers are
// the lease_type column of its DHCPv6 lease file.
type Type uint8

// DHCPv6 lease types.
const (
	TypeNA Type = 0 // a non-temporary address (IA_NA)
	TypeTA Type = 1 // a temporary address (IA_TA); read and kept, never handed out
	TypePD Type = 2 // a delegated prefix (IA_PD)
)

// String is the type as Kea's lease commands spell it.
func (t Type) String() string {
	switch t {
	case TypeNA:
		return "IA_NA"
	case TypeTA:
		return "IA_TA"
	case TypePD:
		return "IA_PD"
	}
	return fmt.Sprintf("Type(%d)", uint8(t))
}

// Hardware address sources (Kea's HWAddr::HWADDR_SOURCE_*), the
// hwaddr_source column: how the server learnt a DHCPv6 client's MAC.
const (
	HWAddrSourceUnknown     uint32 = 0x0000
	HWAddrSourceRaw         uint32 = 0x0001 // the packet's link-layer source
	HWAddrSourceLinkLocal   uint32 = 0x0002 // an EUI-64 link-local source address
	HWAddrSourceDUID        uint32 = 0x0004 // a DUID-LL or DUID-LLT
	HWAddrSourceClientRelay uint32 = 0x0008 // RFC 6939 client link-layer address option
	HWAddrSourceRemoteID    uint32 = 0x0010
	HWAddrSourceSubscriber  uint32 = 0x0020
	HWAddrSourceDocsisCMTS  uint32 = 0x0040
	HWAddrSourceDocsisModem uint32 = 0x0080
)

// HWTypeEthernet is the ARP hardware type Kea gives a MAC it was told
// without a type (lease6-add's hw-address).
const HWTypeEthernet = 1

// Lease6 is one DHCPv6 lease, as Kea's memfile stores it: an address
// (TypeNA, TypeTA; PrefixLen 128) or a delegated prefix (TypePD; Addr is
// the prefix's first address). Addr alone identifies the lease in a store.
type Lease6 struct {
	Addr         netip.Addr
	PrefixLen    uint8 // 128 for addresses
	Type         Type
	DUID         []byte // a declined lease's is EmptyDUID (stores read an empty one as that)
	IAID         uint32
	PreferredLft uint32 // seconds
	ValidLft     uint32 // seconds; Infinite = never expires
	CLTT         int64  // client last transmission time, unix seconds
	SubnetID     uint32
	FqdnFwd      bool
	FqdnRev      bool
	Hostname     string
	HWAddr       []byte // empty when unknown
	HWType       uint16 // ARP hardware type of HWAddr (meaningful only with one)
	HWAddrSource uint32 // HWAddrSource* of HWAddr
	State        State
	UserContext  string // JSON text, "" if none
}

// Expire is the unix time the lease expires (cltt + valid lifetime).
func (l *Lease6) Expire() int64 { return l.CLTT + int64(l.ValidLft) }

// Expired reports whether the lease has expired at unix time now.
func (l *Lease6) Expired(now int64) bool {
	return l.ValidLft != Infinite && now >= l.Expire()
}

// Prefix is the lease's address with its prefix length (a /128 for an
// address lease).
func (l *Lease6) Prefix() netip.Prefix {
	return netip.PrefixFrom(l.Addr, int(l.PrefixLen))
}

// Clone returns a copy of l that shares no memory with it, for keeping a
// lease seen through Store6.Range, whose lease and slices are reused.
func (l *Lease6) Clone() Lease6 {
	c := *l
	c.DUID = bytes.Clone(l.DUID)
	c.HWAddr = bytes.Clone(l.HWAddr)
	return c
}

// Op6 is one change in a Store6 commit: OpPut adds or replaces the lease
// for Lease.Addr, OpDelete removes it (writing the stored lease with valid
// lifetime 0 as Kea's deletion marker; the other fields are ignored).
type Op6 struct {
	Kind  OpKind
	Lease Lease6
	// Record is the op's forensic record, as in Op.
	Record []byte
}

// EmptyDUID is the DUID Kea gives a declined lease (whose client is
// forgotten): a single zero byte, "00" in the lease file.
var EmptyDUID = []byte{0}

// DUID length limits (RFC 8415: at most 128 octets of DUID after the type;
// Kea's DUID::MAX_DUID_LEN counts the whole DUID).
const (
	MinDUIDLen = 1
	MaxDUIDLen = 128
)
