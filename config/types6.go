package config

import (
	"encoding/json"
	"net/netip"
	"time"

	"xdhcp/config/classify"
)

// Config6 is a validated Dhcp6 configuration: what kea-dhcp6 2.2 reads
// from its file. It lives in Config.Dhcp6 (nil when the document has no
// Dhcp6 section). Like Config, nothing in it changes after Parse returns.
//
// Inherited parameters (lifetimes, timers, rapid-commit, cache, the
// reservation flags …) are resolved into every Subnet6; options are not
// merged: each level keeps its own option-data and the server applies
// Kea's precedence (reservation, pool or pd-pool, subnet, shared network,
// class, global).
type Config6 struct {
	// Interfaces from interfaces-config.interfaces: "eth0", "eth0/2001:db8::1"
	// (listen on that unicast address too) or "*".
	Interfaces []InterfaceSpec
	// Subnets holds every subnet6, including those inside shared networks,
	// in declaration order, inherited parameters resolved.
	Subnets        []*Subnet6
	SharedNetworks []*SharedNetwork6
	// Classes in declaration order (the order they are evaluated in).
	Classes []*Class6
	// Options is the global option-data.
	Options []Option6
	// Reservations declared at the global level.
	Reservations []*Reservation6
	// HostsDatabases are the databases holding more reservations
	// (hosts-database or hosts-databases), asked after the file's.
	HostsDatabases []HostsDatabase

	EarlyGlobalReservationsLookup bool
	IPReservationsUnique          bool // default true
	// HostReservationIdentifiers is the lookup order of reservation
	// identifiers ("hw-address", "duid", "flex-id"); Kea's default
	// ["hw-address", "duid"] when not configured.
	HostReservationIdentifiers []string
	// MACSources is where the server looks for a client's hardware address
	// (mac-sources): "any" (default), "raw", "duid", "ipv6-link-local",
	// "client-link-addr-option", "remote-id", "subscriber-id", "docsis-cmts",
	// "docsis-modem", with Kea's aliases mapped to these names.
	MACSources []string
	// RelaySuppliedOptions are the codes of options a relay may insert
	// that the server copies to its reply (RFC 6422); Kea's default is
	// [65] (erp-local-domain-name).
	RelaySuppliedOptions []uint16
	// ServerID is how the server's DUID is made and kept.
	ServerID ServerID
	// DataDirectory holds the server-id file (default /var/lib/kea).
	DataDirectory string
	// FlexID is the libdhcp_flex_id.so configuration, nil without it.
	FlexID *FlexID6
	// defs are the option definitions of the section (option-def), with
	// which the options of a host database's reservations are decoded.
	defs *def6Table

	DeclineProbationPeriod time.Duration // default 86400 s
	ExpiredLeases          ExpiredLeasesProcessing
	// LeaseDatabase is the leases6 store (default file
	// /var/lib/kea/kea-leases6.csv).
	LeaseDatabase  LeaseDatabase
	MultiThreading MultiThreading
	// ParkedPacketLimit is Kea's parked-packet-limit (default 256).
	ParkedPacketLimit           int
	StatisticDefaultSampleCount int
	StatisticDefaultSampleAge   time.Duration
	ServerTag                   string
	// ConfigControl is the configuration backend of the Dhcp6 section
	// (nil without one): the dhcp6_* tables merged into this section.
	ConfigControl *ConfigControl

	ControlSockets []ControlSocket
	Loggers        []Logger
	Hooks          []Hook
	// HA is the libdhcp_ha.so configuration, nil without that hook.
	HA *HA

	// InterfaceRefs are the interface names the section uses, with their
	// JSON paths, for CheckInterfaces.
	InterfaceRefs []InterfaceRef
	// Raw is the Dhcp6 section as written.
	Raw json.RawMessage
}

// Subnet6 is a subnet6 entry with inherited parameters resolved.
type Subnet6 struct {
	ID     uint32
	Prefix netip.Prefix
	// Pools are the address pools (IA_NA, IA_TA); PDPools the prefixes
	// to delegate (IA_PD).
	Pools   []Pool6
	PDPools []PDPool
	// Options is the subnet's own option-data.
	Options      []Option6
	Reservations []*Reservation6
	// Interface is the subnet's (or its shared network's) "interface":
	// directly connected clients on that link use the subnet.
	Interface string
	// InterfaceID selects the subnet for relayed traffic whose relay put
	// this interface-id option (18) in (subnet, else shared network);
	// nil when not set.
	InterfaceID []byte
	// RelayAddrs from relay.ip-addresses: relayed traffic whose relay's
	// link-address is one of them uses the subnet (subnet, else shared
	// network).
	RelayAddrs []netip.Addr
	// ClientClass guards the subnet; empty = any client.
	ClientClass          string
	RequireClientClasses []string
	// SharedNetwork is the enclosing shared network, or nil.
	SharedNetwork *SharedNetwork6

	// Valid and Preferred are the valid-lifetime and preferred-lifetime
	// bounds (seconds, min/max defaulting to the value). Kea's default
	// preferred lifetime is 3600 s and valid 7200 s.
	Valid, Preferred Lifetimes
	// Timers: T1/T2. RenewTimer/RebindTimer nil when not configured;
	// CalculateTeeTimes defaults to true for DHCPv6, with T1 at 0.5 and
	// T2 at 0.8 of the preferred lifetime.
	Timers      Timers
	RapidCommit bool // default false
	// CacheThreshold and CacheMaxAge are nil when not configured.
	CacheThreshold *float64
	CacheMaxAge    *uint32

	ReservationsGlobal    bool // default false
	ReservationsInSubnet  bool // default true
	ReservationsOutOfPool bool // default false
	StoreExtended         bool

	Hostnames HostnameRules
}

// Pool6 is an address range of a subnet6.
type Pool6 struct {
	First, Last          netip.Addr
	Options              []Option6
	ClientClass          string
	RequireClientClasses []string
}

// PDPool is a pd-pools entry: Prefix (prefix/prefix-len) is cut into
// prefixes of DelegatedLen bits; Excluded (excluded-prefix/-len, RFC 6603)
// is left out of each delegated prefix and sent in option 67. Excluded is
// the zero Prefix when not configured.
type PDPool struct {
	Prefix               netip.Prefix
	DelegatedLen         int
	Excluded             netip.Prefix
	Options              []Option6
	ClientClass          string
	RequireClientClasses []string
}

// SharedNetwork6 groups subnet6 entries on one link.
type SharedNetwork6 struct {
	Name        string
	Interface   string
	InterfaceID []byte
	Subnets     []*Subnet6
	Options     []Option6
	RelayAddrs  []netip.Addr
	// ClientClass guards the whole shared network.
	ClientClass          string
	RequireClientClasses []string
}

// Option6 is one DHCPv6 option-data entry, encoded to its wire payload
// (without the 4-byte code and length header); sub-options of the space
// it encapsulates are already packed in.
type Option6 struct {
	Code       uint16
	Name       string // canonical name when known ("dns-servers"), else ""
	Data       []byte
	AlwaysSend bool
	NeverSend  bool
	// VendorSpace marks an option of the space of enterprise number
	// Vendor ("vendor-N"): the server sends it inside a vendor-opts
	// option (17) for that vendor, not on its own.
	VendorSpace bool
	Vendor      uint32
	// Space is "" for an option of the dhcp6 space or a vendor space.
	// Otherwise the option belongs to Space, which no option of its own
	// level encapsulates: the server packs it into the option of another
	// level (subnet, shared network, class, global) that encapsulates
	// Space, as a reservation gives the rules of a subnet's softwire
	// container (s46-cont-mape and its s46-rule, s46-br).
	Space string
}

// Class6 is a client-classes entry of Dhcp6.
type Class6 struct {
	Name string
	// Test is nil for a class with no test. It is compiled for DHCPv6
	// packets: evaluate it with a classify.Packet6.
	Test           *classify.Expr
	OnlyIfRequired bool
	Options        []Option6
	// ValidLifetime and PreferredLifetime are nil unless the class sets
	// them.
	ValidLifetime     *Lifetimes
	PreferredLifetime *Lifetimes
}

// Reservation6 is a Dhcp6 host reservation. Exactly one identifier
// (DUID, HWAddr, FlexID) is set.
type Reservation6 struct {
	DUID   []byte
	HWAddr []byte
	// FlexID is matched against the flex-id hook's identifier-expression.
	FlexID []byte
	// IPAddresses are reserved IA_NA addresses, Prefixes reserved IA_PD
	// prefixes (each may be empty).
	IPAddresses []netip.Addr
	Prefixes    []netip.Prefix
	Hostname    string
	Options     []Option6
	// ClientClasses are assigned to the client; "DROP" drops it.
	ClientClasses []string
	// SubnetID is 0 for a global reservation.
	SubnetID uint32
}

// FlexID6 is libdhcp_flex_id.so's configuration for DHCPv6: the
// expression (compiled for DHCPv6 packets) that identifies the client,
// whether its value replaces the client identifier (DUID) in leases, and
// ignore-iaid.
type FlexID6 struct {
	Expr            *classify.Expr
	ReplaceClientID bool
	IgnoreIAID      bool
}

// ServerID is the server-id block: the DUID the server identifies itself
// with. Kea makes it the first time (from an interface's hardware address
// and the time) and keeps it in DataDirectory/kea-dhcp6-serverid, reusing
// it afterwards for every part the configuration leaves unset:
// ServerID.DUID does that composition.
type ServerID struct {
	// Type is "LLT" (default), "EN" or "LL".
	Type string
	// Identifier is the link-layer address (LLT, LL) or the
	// enterprise's identifier (EN); nil means unset.
	Identifier []byte
	// HType is the hardware type of LLT and LL (0: unset).
	HType uint16
	// Time is the LLT time, seconds since 2000-01-01 UTC (0: unset).
	Time uint32
	// EnterpriseID is the EN enterprise number (0: unset, which becomes
	// ISC's 2495 unless the kept DUID has one).
	EnterpriseID uint32
	// Persist keeps the DUID in File (default true).
	Persist bool
	// File is where the DUID is kept: DataDirectory/kea-dhcp6-serverid.
	File string
}

// SubnetByID returns the subnet6 with the given id, or nil.
func (c *Config6) SubnetByID(id uint32) *Subnet6 {
	for _, s := range c.Subnets {
		if s.ID == id {
			return s
		}
	}
	return nil
}

// Class returns the Dhcp6 client class with the given name, or nil.
func (c *Config6) Class(name string) *Class6 {
	for _, cl := range c.Classes {
		if cl.Name == name {
			return cl
		}
	}
	return nil
}
