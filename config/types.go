// Package config turns a Kea Dhcp4 JSON document (with Kea's comment syntax)
// into an immutable, validated Config. Parsing happens in two stages: the
// document is decoded into raw tagged structs, then validated and resolved
// (global → shared-network → subnet inheritance) into the types in this file.
// Nothing in a *Config is modified after Parse returns; a reload builds a new
// one and swaps it in.
package config

import (
	"encoding/json"
	"net/netip"
	"regexp"
	"time"

	"xdhcp/config/classify"
)

// Config is a validated Dhcp4 configuration.
type Config struct {
	// Interfaces from interfaces-config.interfaces: "eth0", "eth0/192.0.2.1" or "*".
	Interfaces []InterfaceSpec
	// DHCPSocketType is "raw" (default) or "udp".
	DHCPSocketType string

	// Subnets holds every subnet, including those declared inside shared
	// networks, in declaration order. Each has its inherited parameters resolved.
	Subnets        []*Subnet
	SharedNetworks []*SharedNetwork
	// Classes in declaration order (evaluation order matters: member('X')
	// only sees classes evaluated before).
	Classes []*Class
	// Options is the global option-data.
	Options []Option
	// Reservations declared at the global level.
	Reservations []*Reservation
	// HostsDatabases are the databases holding more reservations
	// (hosts-database or hosts-databases), looked up in this order after
	// the configuration's own.
	HostsDatabases []HostsDatabase
	// ConfigControl is the configuration backend (nil without
	// config-control): the daemon merges what the database holds for
	// ServerTag into this configuration.
	ConfigControl *ConfigControl

	// EarlyGlobalReservationsLookup mirrors Kea's parameter of that name.
	EarlyGlobalReservationsLookup bool
	// IPReservationsUnique mirrors Kea (default true).
	IPReservationsUnique bool
	// EchoClientID mirrors Kea's echo-client-id (default true): send the
	// client identifier back (RFC 6842).
	EchoClientID bool
	// HostReservationIdentifiers is the lookup order of reservation
	// identifiers ("hw-address", "duid", "circuit-id", "client-id",
	// "flex-id"), Kea's default order when not configured.
	HostReservationIdentifiers []string
	// FlexID is the configuration of the libdhcp_flex_id.so hook, nil
	// without it.
	FlexID *FlexID

	DeclineProbationPeriod time.Duration // default 86400 s
	ExpiredLeases          ExpiredLeasesProcessing
	LeaseDatabase          LeaseDatabase
	MultiThreading         MultiThreading
	ParkedPacketLimit      int // default 256
	// StatisticDefaultSampleCount (default 20) and max age.
	StatisticDefaultSampleCount int
	StatisticDefaultSampleAge   time.Duration

	// ControlSockets merges the Kea 2.x "control-socket" (unix) and the
	// Kea 3 "control-sockets" list.
	ControlSockets []ControlSocket
	Loggers        []Logger
	Hooks          []Hook
	// BOOTP is set when libdhcp_bootp.so is among the hooks (any
	// directory): BOOTP requests are served, as that hook has Kea do.
	BOOTP bool
	// HA is the validated libdhcp_ha.so configuration, nil without that
	// hook.
	HA        *HA
	ServerTag string

	// XDHCP is the section for what Kea has no word for.
	XDHCP XDHCP

	// Dhcp6 is the document's Dhcp6 section (nil without one).
	Dhcp6 *Config6
	// HasDhcp4 is false for a document with a Dhcp6 section only: the
	// Dhcp4 fields then hold Kea's defaults and no subnet.
	HasDhcp4 bool

	// ControlAgent is the document's Control-agent section (nil without one).
	ControlAgent *ControlAgent

	// InterfaceRefs are the interface names the configuration uses
	// (interfaces-config, subnet and shared-network "interface"), with
	// their JSON paths, for CheckInterfaces.
	InterfaceRefs []InterfaceRef

	// Warnings lists what the operator should know and Kea would accept:
	// Kea keys xdhcp does not implement yet, Kea's syntax warnings, each
	// naming its JSON path.
	Warnings []string

	// defs resolves option definitions (the standard ones and option-def)
	// for reservations that come from outside the document.
	defs *defTable

	// Raw is the original document (the value of the top-level object,
	// including the "Dhcp4" key), for config-get. Use Redacted for output.
	Raw json.RawMessage
}

// InterfaceRef is one use of an interface name in the configuration.
type InterfaceRef struct {
	Path, Name string
}

// InterfaceSpec is one entry of interfaces-config.interfaces.
type InterfaceSpec struct {
	Name string     // "*" means all interfaces except loopback
	Addr netip.Addr // optional: "eth0/192.0.2.1"
}

// Subnet is a subnet4 entry with inherited parameters resolved.
type Subnet struct {
	ID     uint32
	Prefix netip.Prefix
	Pools  []Pool
	// Options is the subnet's own option-data (not including global or
	// shared-network options: the server merges levels by precedence).
	Options      []Option
	Reservations []*Reservation
	// RelayAddrs from relay.ip-addresses (subnet, else shared network).
	RelayAddrs []netip.Addr
	Interface  string // optional "interface"
	// ClientClass guards the subnet (only members may use it); empty = any.
	ClientClass          string
	RequireClientClasses []string
	// SharedNetwork is the enclosing shared network, or nil.
	SharedNetwork *SharedNetwork

	Lifetimes Lifetimes
	Timers    Timers

	MatchClientID bool // default true
	Authoritative bool // default false
	// CacheThreshold and CacheMaxAge are nil when not configured at any level
	// (Kea 2.2 has no default: caching is off unless configured).
	CacheThreshold *float64
	CacheMaxAge    *uint32

	ReservationsGlobal    bool // default false
	ReservationsInSubnet  bool // default true
	ReservationsOutOfPool bool // default false

	NextServer     netip.Addr // siaddr; zero if unset
	ServerHostname string     // sname
	BootFileName   string     // file
	StoreExtended  bool

	Hostnames HostnameRules
}

// HostnameRules decide the host name a client is told (option 12), as
// Kea 2.2's ddns-* naming parameters and hostname sanitizer do, whether
// or not DNS updates are sent.
type HostnameRules struct {
	// Replace is ddns-replace-client-name: never (the default), always,
	// when-present or when-not-present.
	Replace string
	// GeneratedPrefix starts a generated name (prefix-a-b-c-d).
	GeneratedPrefix string
	// QualifyingSuffix is appended to a single-label name.
	QualifyingSuffix string
	// CharSet matches what is replaced in a client's name by
	// CharReplacement; nil when hostname-char-set is empty.
	CharSet         *regexp.Regexp
	CharReplacement string
}

// Lifetimes are the valid-lifetime bounds in seconds.
type Lifetimes struct {
	Valid, Min, Max uint32 // Min/Max default to Valid
}

// Timers holds T1/T2 settings.
type Timers struct {
	RenewTimer, RebindTimer *uint32 // explicit values, nil if unset
	CalculateTeeTimes       bool    // default false
	T1Percent, T2Percent    float64 // defaults 0.5, 0.875
}

// Pool is an address range of a subnet.
type Pool struct {
	First, Last          netip.Addr
	Options              []Option
	ClientClass          string
	RequireClientClasses []string
}

// SharedNetwork groups subnets on one link.
type SharedNetwork struct {
	Name      string
	Interface string
	Subnets   []*Subnet
	Options   []Option
	// RelayAddrs of the shared network itself.
	RelayAddrs []netip.Addr
	// ClientClass guards the whole shared network; Subnet.ClientClass is
	// the subnet's own guard (the server checks both).
	ClientClass          string
	RequireClientClasses []string
}

// Option is one option-data entry, already encoded to its wire value.
type Option struct {
	Code       uint8
	Name       string // canonical name when known ("routers"), else ""
	Data       []byte // wire payload (without code and length)
	AlwaysSend bool
	NeverSend  bool
	// VendorSpace marks a sub-option of option 125 in the space of
	// enterprise number Vendor (Kea's "vendor-N" spaces): the server puts
	// it in option 125 for clients of that vendor, not on its own.
	VendorSpace bool
	Vendor      uint32
}

// Class is a client-classes entry.
type Class struct {
	Name string
	// Test is nil for a class with no test (assigned only by reservations
	// or by being required).
	Test           *classify.Expr
	OnlyIfRequired bool
	Options        []Option
	// ValidLifetime is nil unless the class sets valid-lifetime.
	ValidLifetime  *Lifetimes
	NextServer     netip.Addr
	ServerHostname string
	BootFileName   string
}

// FlexID is libdhcp_flex_id.so's configuration: the expression whose value
// identifies the client for reservations of type flex-id, and whether
// that value also replaces the client identifier (the lease then records
// 0x00 followed by it, as Kea does).
type FlexID struct {
	Expr            *classify.Expr
	ReplaceClientID bool
}

// Reservation is a host reservation. Exactly one identifier is set.
type Reservation struct {
	HWAddr    []byte
	ClientID  []byte
	CircuitID []byte
	// DUID is matched against the DUID of an RFC 4361 client identifier.
	DUID []byte
	// FlexID is matched against the value of the flex-id hook's
	// identifier-expression.
	FlexID   []byte
	IP       netip.Addr // zero when the reservation assigns no address
	Hostname string
	Options  []Option
	// ClientClasses are assigned to the client; "DROP" makes it dropped.
	ClientClasses []string
	// SubnetID is 0 for a global reservation.
	SubnetID       uint32
	NextServer     netip.Addr
	ServerHostname string
	BootFileName   string
}

// ExpiredLeasesProcessing mirrors Kea's expired-leases-processing.
type ExpiredLeasesProcessing struct {
	ReclaimTimerWaitTime    time.Duration // default 10 s
	FlushReclaimedTimerWait time.Duration // default 25 s
	HoldReclaimedTime       time.Duration // default 3600 s
	MaxReclaimLeases        int           // default 100
	MaxReclaimTime          time.Duration // default 250 ms
	UnwarnedReclaimCycles   int           // default 5
}

// LeaseDatabase is the lease-database configuration: Kea's lease file
// (memfile) or a PostgreSQL or MySQL database on Kea's schema.
type LeaseDatabase struct {
	Type         string        // "memfile", "postgresql" or "mysql"
	Persist      bool          // default true
	Name         string        // default /var/lib/kea/kea-leases4.csv
	LFCInterval  time.Duration // default 3600 s; 0 disables
	MaxRowErrors int
	// OnFail is Kea's on-fail policy: stop-retry-exit (default),
	// serve-retry-exit, serve-retry-continue. For memfile it applies to
	// lease file write and fdatasync failures.
	OnFail string
	// MaxReconnectTries is Kea's max-reconnect-tries (default 0). For
	// memfile, 0 means the store's default (lease.DefaultRetryLimit), not
	// "no retry": a full disk deserves a few attempts before an exit.
	MaxReconnectTries int
	// ReconnectWaitTime is Kea's reconnect-wait-time, given in ms (default
	// 0; for memfile 0 means lease.DefaultRetryWait).
	ReconnectWaitTime time.Duration

	// A database's connection (postgresql, mysql); Name is the database.
	Host           string // default localhost
	Port           int    // 0: the database's default port
	User, Password string
	ConnectTimeout time.Duration // connect-timeout, given in s; 0: the driver's default
	// read-timeout, write-timeout and tcp-user-timeout, given in s (0:
	// none), and retry-on-startup: the names later Kea versions give
	// them (Kea 2.2 refuses them). They bound how long a hung
	// connection can hold a lease write, and let the server start while
	// the database is away.
	ReadTimeout, WriteTimeout, TCPUserTimeout time.Duration
	RetryOnStartup                            bool
	// TLS to the database: CA file or directory, client certificate and
	// key, OpenSSL cipher list.
	TrustAnchor, CertFile, KeyFile, CipherList string
}

// MultiThreading mirrors Kea's multi-threading block.
type MultiThreading struct {
	Enable          bool // Kea 2.2 default false; we default to true
	ThreadPoolSize  int  // 0 = number of CPUs
	PacketQueueSize int  // default 64; 0 = unlimited
}

// ControlSocket is one control-channel listener.
type ControlSocket struct {
	Type                           string // "unix", "http" or "https"
	SocketName                     string // unix
	Address                        string // http(s): default 127.0.0.1
	Port                           int    // http(s): default 8000
	TrustAnchor, CertFile, KeyFile string
	CertRequired                   bool // default true when TLS is configured
	// Authentication: basic-auth clients.
	Auth *Authentication
	// AllowUnauthenticated is set by validation on an http(s) socket that
	// has neither authentication nor required client certificates and is
	// allowed anyway: loopback-only with the xdhcp section's
	// insecure-unauthenticated-loopback-control, or this server's own HA
	// peer URL (which the HA layer restricts to the partners). The control
	// server refuses such a socket without it.
	AllowUnauthenticated bool
}

// Authentication is Kea's "authentication" block (type "basic").
type Authentication struct {
	Type      string
	Realm     string
	Directory string
	Clients   []AuthClient
}

// AuthClient is one basic-auth client. Password is never printed.
type AuthClient struct {
	User, Password         string
	UserFile, PasswordFile string
}

// Logger is a loggers entry.
type Logger struct {
	Name       string
	Severity   string
	DebugLevel int
	Outputs    []string // "stdout", "stderr", "syslog", or a file path
	// OutputOptions are the outputs with their options, in order.
	OutputOptions []LogOutput
}

// LogOutput is one output_options entry of a logger.
type LogOutput struct {
	// Output is "stdout", "stderr", "syslog", "syslog:<name>" or a file.
	Output string
	// MaxSize rotates a file output when it would grow past this many
	// bytes (0: never), keeping MaxVer older versions (<file>.1 ...).
	MaxSize int64
	MaxVer  int
	// Format is "text" (the default) or "json" (an xdhcp extension):
	// one JSON object a line with the structured fields.
	Format string
	// Pattern is Kea's (log4cplus's) layout of a text line; "" is
	// xdhcp's own. Buffered (Kea's "flush": false) lets lines wait in a
	// buffer (a bounded while) rather than be written one by one.
	Pattern  string
	Buffered bool
}

// Hook is a hooks-libraries entry. The library is recognised, never loaded.
type Hook struct {
	Library    string
	Parameters json.RawMessage
}

// XDHCP is the "xdhcp" section of Dhcp4 (or a top-level "xdhcp" object).
type XDHCP struct {
	XDP XDPConfig
	// RateLimit is the per-client token bucket enforced in XDP.
	RateLimit RateLimit
	// Overload watermarks on parking-lot occupancy (fractions 0..1).
	OverloadHigh, OverloadLow float64
	// Durability: "fsync" (default: ACK after fdatasync) or "none".
	Durability string
	// CommitBatch bounds one group commit (rows); default 1024.
	CommitBatch int
	// Telemetry is the read-only listener for /metrics, /healthz and
	// /ready (xdhcp.telemetry); zero Port = none.
	Telemetry Telemetry
	// InsecureLoopbackControl (insecure-unauthenticated-loopback-control)
	// lets an http(s) control socket on a loopback address run without
	// authentication; without it such a socket is refused.
	InsecureLoopbackControl bool
	// SkipRelayCheck (relay-source-check false) serves a relayed packet
	// without checking that a relay sent it, as Kea does.
	SkipRelayCheck bool
	// TrustedInterfaces (trusted-interfaces) are the interfaces where
	// option 82 of a packet with giaddr 0 is used; "*" is every one.
	TrustedInterfaces []string
}

// Telemetry is the xdhcp.telemetry block: where the monitoring listener
// binds. It needs no credentials and answers nothing that changes state.
type Telemetry struct {
	Address string // default 127.0.0.1
	Port    int
}

// XDPConfig is the xdhcp.xdp block.
type XDPConfig struct {
	Mode     string // native | generic | auto | off  (default auto)
	Queues   int    // 0 = discover
	BPFFS    string // bpffs mount point for pins, default /sys/fs/bpf/xdhcp
	ZeroCopy bool
}

// RateLimit is a per-client token bucket.
type RateLimit struct {
	Rate  uint32 // packets per second, 0 = off
	Burst uint32
}
