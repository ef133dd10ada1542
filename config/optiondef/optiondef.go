// Package optiondef holds the standard DHCPv4 option definitions (Kea's
// names, codes and data types) and the type vocabulary of option-def
// entries. It is a leaf: the configuration (option-data, option-def) and
// the classification expressions (option[name]) both resolve names here,
// so the two always agree on what a name means.
package optiondef

// Space is the only option space xdhcp serves: the top-level DHCPv4 one.
const Space = "dhcp4"

// Type is the data type of an option (or of one record field), named as in
// Kea's option-def "type".
type Type uint8

// The types. Their order is not part of the interface.
const (
	Empty Type = iota
	Binary
	Bool
	Uint8
	Uint16
	Uint32
	Int8
	Int16
	Int32
	IPv4
	String
	FQDN
	Record
	// ClasslessRoutes is option 121 in Kea's text form
	// "10.0.0.0/8 - 10.0.0.1, 0.0.0.0/0 - 10.0.0.1" (RFC 3442 on the wire).
	ClasslessRoutes
	// PSID is Kea's "psid" field of v4-portparams: "len/psid".
	PSID
	// IPv6 is a 16-byte address field. Only standard definitions use it;
	// xdhcp cannot encode their data (see Def.Supported).
	IPv6
)

// typeNames maps Kea's option-def type names to types (read-only): the
// names xdhcp handles in option-def entries.
var typeNames = map[string]Type{
	"empty": Empty, "binary": Binary, "boolean": Bool,
	"uint8": Uint8, "uint16": Uint16, "uint32": Uint32,
	"int8": Int8, "int16": Int16, "int32": Int32,
	"ipv4-address": IPv4, "string": String, "fqdn": FQDN,
	"record": Record, "psid": PSID,
}

// TypeByName returns the type of a Kea option-def type name, for the names
// xdhcp handles in option-def entries.
func TypeByName(name string) (Type, bool) {
	t, ok := typeNames[name]
	return t, ok
}

// Def is an option definition: a standard one or an option-def entry.
type Def struct {
	Name   string
	Code   uint8
	Type   Type
	Array  bool
	Fields []Type // the record's fields, for Type Record
}

// Supported reports whether xdhcp can encode this option's data from
// option-data. Definitions it cannot encode are still known by name to
// classification expressions, which only look at codes.
func (d *Def) Supported() bool {
	if d.Type == IPv6 {
		return false
	}
	for _, f := range d.Fields {
		if f == IPv6 {
			return false
		}
	}
	return true
}

// standard is Kea's table of standard DHCPv4 option definitions
// (src/lib/dhcp/std_option_defs.h). Read-only. 124 and 125 use Kea's names;
// the RFC-style names are aliases (see aliases).
var standard = []Def{
	{Name: "subnet-mask", Code: 1, Type: IPv4},
	{Name: "time-offset", Code: 2, Type: Int32},
	{Name: "routers", Code: 3, Type: IPv4, Array: true},
	{Name: "time-servers", Code: 4, Type: IPv4, Array: true},
	{Name: "name-servers", Code: 5, Type: IPv4, Array: true},
	{Name: "domain-name-servers", Code: 6, Type: IPv4, Array: true},
	{Name: "log-servers", Code: 7, Type: IPv4, Array: true},
	{Name: "cookie-servers", Code: 8, Type: IPv4, Array: true},
	{Name: "lpr-servers", Code: 9, Type: IPv4, Array: true},
	{Name: "impress-servers", Code: 10, Type: IPv4, Array: true},
	{Name: "resource-location-servers", Code: 11, Type: IPv4, Array: true},
	{Name: "host-name", Code: 12, Type: String},
	{Name: "boot-size", Code: 13, Type: Uint16},
	{Name: "merit-dump", Code: 14, Type: String},
	{Name: "domain-name", Code: 15, Type: String},
	{Name: "swap-server", Code: 16, Type: IPv4},
	{Name: "root-path", Code: 17, Type: String},
	{Name: "extensions-path", Code: 18, Type: String},
	{Name: "ip-forwarding", Code: 19, Type: Bool},
	{Name: "non-local-source-routing", Code: 20, Type: Bool},
	{Name: "policy-filter", Code: 21, Type: IPv4, Array: true},
	{Name: "max-dgram-reassembly", Code: 22, Type: Uint16},
	{Name: "default-ip-ttl", Code: 23, Type: Uint8},
	{Name: "path-mtu-aging-timeout", Code: 24, Type: Uint32},
	{Name: "path-mtu-plateau-table", Code: 25, Type: Uint16, Array: true},
	{Name: "interface-mtu", Code: 26, Type: Uint16},
	{Name: "all-subnets-local", Code: 27, Type: Bool},
	{Name: "broadcast-address", Code: 28, Type: IPv4},
	{Name: "perform-mask-discovery", Code: 29, Type: Bool},
	{Name: "mask-supplier", Code: 30, Type: Bool},
	{Name: "router-discovery", Code: 31, Type: Bool},
	{Name: "router-solicitation-address", Code: 32, Type: IPv4},
	{Name: "static-routes", Code: 33, Type: IPv4, Array: true},
	{Name: "trailer-encapsulation", Code: 34, Type: Bool},
	{Name: "arp-cache-timeout", Code: 35, Type: Uint32},
	{Name: "ieee802-3-encapsulation", Code: 36, Type: Bool},
	{Name: "default-tcp-ttl", Code: 37, Type: Uint8},
	{Name: "tcp-keepalive-interval", Code: 38, Type: Uint32},
	{Name: "tcp-keepalive-garbage", Code: 39, Type: Bool},
	{Name: "nis-domain", Code: 40, Type: String},
	{Name: "nis-servers", Code: 41, Type: IPv4, Array: true},
	{Name: "ntp-servers", Code: 42, Type: IPv4, Array: true},
	// Kea defines 43 as an empty option encapsulating a vendor space; with
	// no sub-option spaces here its payload is given in hex.
	{Name: "vendor-encapsulated-options", Code: 43, Type: Binary},
	{Name: "netbios-name-servers", Code: 44, Type: IPv4, Array: true},
	{Name: "netbios-dd-server", Code: 45, Type: IPv4, Array: true},
	{Name: "netbios-node-type", Code: 46, Type: Uint8},
	{Name: "netbios-scope", Code: 47, Type: String},
	{Name: "font-servers", Code: 48, Type: IPv4, Array: true},
	{Name: "x-display-manager", Code: 49, Type: IPv4, Array: true},
	{Name: "dhcp-requested-address", Code: 50, Type: IPv4},
	{Name: "dhcp-lease-time", Code: 51, Type: Uint32},
	{Name: "dhcp-option-overload", Code: 52, Type: Uint8},
	{Name: "dhcp-message-type", Code: 53, Type: Uint8},
	{Name: "dhcp-server-identifier", Code: 54, Type: IPv4},
	{Name: "dhcp-parameter-request-list", Code: 55, Type: Uint8, Array: true},
	{Name: "dhcp-message", Code: 56, Type: String},
	{Name: "dhcp-max-message-size", Code: 57, Type: Uint16},
	{Name: "dhcp-renewal-time", Code: 58, Type: Uint32},
	{Name: "dhcp-rebinding-time", Code: 59, Type: Uint32},
	{Name: "vendor-class-identifier", Code: 60, Type: String},
	{Name: "dhcp-client-identifier", Code: 61, Type: Binary},
	{Name: "nwip-domain-name", Code: 62, Type: String},
	{Name: "nwip-suboptions", Code: 63, Type: Binary},
	{Name: "nisplus-domain-name", Code: 64, Type: String},
	{Name: "nisplus-servers", Code: 65, Type: IPv4, Array: true},
	{Name: "tftp-server-name", Code: 66, Type: String},
	{Name: "boot-file-name", Code: 67, Type: String},
	{Name: "mobile-ip-home-agent", Code: 68, Type: IPv4, Array: true},
	{Name: "smtp-server", Code: 69, Type: IPv4, Array: true},
	{Name: "pop-server", Code: 70, Type: IPv4, Array: true},
	{Name: "nntp-server", Code: 71, Type: IPv4, Array: true},
	{Name: "www-server", Code: 72, Type: IPv4, Array: true},
	{Name: "finger-server", Code: 73, Type: IPv4, Array: true},
	{Name: "irc-server", Code: 74, Type: IPv4, Array: true},
	{Name: "streettalk-server", Code: 75, Type: IPv4, Array: true},
	{Name: "streettalk-directory-assistance-server", Code: 76, Type: IPv4, Array: true},
	{Name: "user-class", Code: 77, Type: Binary},
	{Name: "slp-directory-agent", Code: 78, Type: Record, Array: true, Fields: []Type{Bool, IPv4}},
	{Name: "slp-service-scope", Code: 79, Type: Record, Fields: []Type{Bool, String}},
	{Name: "fqdn", Code: 81, Type: Record, Fields: []Type{Uint8, Uint8, Uint8, FQDN}},
	{Name: "dhcp-agent-options", Code: 82, Type: Binary},
	{Name: "nds-servers", Code: 85, Type: IPv4, Array: true},
	{Name: "nds-tree-name", Code: 86, Type: String},
	{Name: "nds-context", Code: 87, Type: String},
	{Name: "bcms-controller-names", Code: 88, Type: FQDN, Array: true},
	{Name: "bcms-controller-address", Code: 89, Type: IPv4, Array: true},
	{Name: "authenticate", Code: 90, Type: Binary},
	{Name: "client-last-transaction-time", Code: 91, Type: Uint32},
	{Name: "associated-ip", Code: 92, Type: IPv4, Array: true},
	{Name: "client-system", Code: 93, Type: Uint16, Array: true},
	{Name: "client-ndi", Code: 94, Type: Record, Fields: []Type{Uint8, Uint8, Uint8}},
	{Name: "uuid-guid", Code: 97, Type: Record, Fields: []Type{Uint8, Binary}},
	{Name: "uap-servers", Code: 98, Type: String},
	{Name: "geoconf-civic", Code: 99, Type: Binary},
	{Name: "pcode", Code: 100, Type: String},
	{Name: "tcode", Code: 101, Type: String},
	{Name: "netinfo-server-address", Code: 112, Type: IPv4, Array: true},
	{Name: "netinfo-server-tag", Code: 113, Type: String},
	{Name: "default-url", Code: 114, Type: String},
	{Name: "auto-config", Code: 116, Type: Uint8},
	{Name: "name-service-search", Code: 117, Type: Uint16, Array: true},
	{Name: "subnet-selection", Code: 118, Type: IPv4},
	{Name: "domain-search", Code: 119, Type: FQDN, Array: true},
	{Name: "classless-static-route", Code: 121, Type: ClasslessRoutes},
	{Name: "vivco-suboptions", Code: 124, Type: Record, Fields: []Type{Uint32, Binary}},
	{Name: "vivso-suboptions", Code: 125, Type: Uint32},
	{Name: "pana-agent", Code: 136, Type: IPv4, Array: true},
	{Name: "v4-lost", Code: 137, Type: FQDN},
	{Name: "capwap-ac-v4", Code: 138, Type: IPv4, Array: true},
	{Name: "sip-ua-cs-domains", Code: 141, Type: FQDN, Array: true},
	{Name: "rdnss-selection", Code: 146, Type: Record, Array: true, Fields: []Type{Uint8, IPv4, IPv4, FQDN}},
	{Name: "v4-portparams", Code: 159, Type: Record, Fields: []Type{Uint8, PSID}},
	{Name: "v4-captive-portal", Code: 160, Type: String},
	{Name: "option-6rd", Code: 212, Type: Record, Array: true, Fields: []Type{Uint8, Uint8, IPv6, IPv4}},
	{Name: "v4-access-domain", Code: 213, Type: FQDN},
}

// aliases are other names users write for standard options.
var aliases = map[string]uint8{
	"v-i-vendor-class": 124,
	"v-i-vendor-opts":  125,
}

// Standard returns the standard definitions in code order. The caller must
// not modify them.
func Standard() []Def { return standard }

// ByCode returns the standard definition of code, or nil.
func ByCode(code uint8) *Def {
	for i := range standard {
		if standard[i].Code == code {
			return &standard[i]
		}
	}
	return nil
}

// ByName returns the standard definition called name (Kea's name or an
// alias), or nil.
func ByName(name string) *Def {
	if code, ok := aliases[name]; ok {
		return ByCode(code)
	}
	for i := range standard {
		if standard[i].Name == name {
			return &standard[i]
		}
	}
	return nil
}
