// Package optiondef holds Kea 2.2's DHCPv4 option definitions (names, codes,
// data types, encapsulated spaces) and the type vocabulary of option-def
// entries. It is a leaf: the configuration (option-data, option-def) and the
// classification expressions (option[name]) both resolve names here, so the
// two always agree on what a name means.
package optiondef

import (
	"strconv"
	"strings"
)

// The option spaces Kea 2.2 knows without configuration.
const (
	// Space is the top-level DHCPv4 option space.
	Space = "dhcp4"
	// VendorEncapsulatedSpace holds the sub-options of option 43.
	VendorEncapsulatedSpace = "vendor-encapsulated-options-space"
	// AgentSpace holds the sub-options of option 82.
	AgentSpace = "dhcp-agent-options-space"
	// DOCSISSpace is Kea's own name of the DOCSIS definitions. Options
	// set in it take those definitions but, not being in a vendor-N
	// space, are not sent in option 125.
	DOCSISSpace = "docsis3-v4"
	// vendorPrefix starts the name of a vendor's space of option 125
	// sub-options: "vendor-4491" is the space of enterprise number 4491.
	vendorPrefix = "vendor-"
)

// Well-known codes the configuration and the engine treat specially.
const (
	CodeVendorEncapsulated = 43
	CodeAgent              = 82
	CodeVIVCO              = 124
	CodeVIVSO              = 125
	// DOCSISVendor is CableLabs' enterprise number, the one vendor space
	// Kea defines sub-options for.
	DOCSISVendor = 4491
	// CodeDOCSISORO is the DOCSIS vendor space's option request option:
	// the vendor sub-options the client asks for.
	CodeDOCSISORO = 1
)

// Type is the data type of an option (or of one record field), named as in
// Kea's option-def "type".
type Type uint8

// The types. Their order is not part of the interface.
const (
	Empty Type = iota
	Binary
	Bool
	Int8
	Int16
	Int32
	Uint8
	Uint16
	Uint32
	IPv4
	IPv6
	// IPv6Prefix is a prefix length (one byte) then the prefix, in as
	// many bytes as the length needs.
	IPv6Prefix
	// PSID is "len/psid": the length (one byte) then the PSID
	// left-aligned in 16 bits (RFC 7597).
	PSID
	String
	// Tuple is a length byte then that many bytes of text.
	Tuple
	FQDN
	Record
)

// typeNames are Kea's option-def type names, in Type order.
var typeNames = [...]string{
	Empty: "empty", Binary: "binary", Bool: "boolean",
	Int8: "int8", Int16: "int16", Int32: "int32",
	Uint8: "uint8", Uint16: "uint16", Uint32: "uint32",
	IPv4: "ipv4-address", IPv6: "ipv6-address", IPv6Prefix: "ipv6-prefix",
	PSID: "psid", String: "string", Tuple: "tuple", FQDN: "fqdn", Record: "record",
}

// String is Kea's name of the type.
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "type" + strconv.Itoa(int(t))
}

// TypeByName returns the type of a Kea option-def type name.
func TypeByName(name string) (Type, bool) {
	for t, n := range typeNames {
		if n == name {
			return Type(t), true
		}
	}
	return 0, false
}

// Size is the fixed wire size of a value of type t, or 0 when its size
// varies.
func (t Type) Size() int {
	switch t {
	case Bool, Int8, Uint8:
		return 1
	case Int16, Uint16:
		return 2
	case Int32, Uint32, IPv4:
		return 4
	case IPv6:
		return 16
	case PSID:
		return 3
	}
	return 0
}

// Def is an option definition: a standard one or an option-def entry.
type Def struct {
	Name string
	Code uint8
	// Space is the option space the definition belongs to; "" means
	// Space (dhcp4).
	Space  string
	Type   Type
	Array  bool
	Fields []Type // the record's fields, for Type Record
	// Encapsulates names the option space whose options are this
	// option's sub-options, or "".
	Encapsulates string
}

// standard is Kea 2.2's table of standard DHCPv4 option definitions, in
// code order. Read-only. Option 43 is not in it: see lastResort.
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
	{Name: "dhcp-agent-options", Code: 82, Type: Empty, Encapsulates: "dhcp-agent-options-space"},
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
	{Name: "v6-only-preferred", Code: 108, Type: Uint32},
	{Name: "netinfo-server-address", Code: 112, Type: IPv4, Array: true},
	{Name: "netinfo-server-tag", Code: 113, Type: String},
	{Name: "v4-captive-portal", Code: 114, Type: String},
	{Name: "auto-config", Code: 116, Type: Uint8},
	{Name: "name-service-search", Code: 117, Type: Uint16, Array: true},
	{Name: "subnet-selection", Code: 118, Type: IPv4},
	{Name: "domain-search", Code: 119, Type: FQDN, Array: true},
	{Name: "vivco-suboptions", Code: 124, Type: Record, Fields: []Type{Uint32, Binary}},
	{Name: "vivso-suboptions", Code: 125, Type: Uint32},
	{Name: "pana-agent", Code: 136, Type: IPv4, Array: true},
	{Name: "v4-lost", Code: 137, Type: FQDN},
	{Name: "capwap-ac-v4", Code: 138, Type: IPv4, Array: true},
	{Name: "sip-ua-cs-domains", Code: 141, Type: FQDN, Array: true},
	{Name: "rdnss-selection", Code: 146, Type: Record, Array: true, Fields: []Type{Uint8, IPv4, IPv4, FQDN}},
	{Name: "v4-portparams", Code: 159, Type: Record, Fields: []Type{Uint8, PSID}},
	{Name: "option-6rd", Code: 212, Type: Record, Array: true, Fields: []Type{Uint8, Uint8, IPv6, IPv4}},
	{Name: "v4-access-domain", Code: 213, Type: FQDN},
}

// lastResort is how Kea 2.2 reads option 43 when neither the configuration
// nor the client's class defines it: an empty option carrying the
// sub-options of VendorEncapsulatedSpace.
var lastResort = Def{Name: "vendor-encapsulated-options", Code: CodeVendorEncapsulated, Type: Empty,
	Encapsulates: VendorEncapsulatedSpace}

// docsis is Kea 2.2's table of the DOCSIS 3 vendor space (vendor-4491).
var docsis = []Def{
	{Name: "oro", Code: CodeDOCSISORO, Space: "vendor-4491", Type: Uint8, Array: true},
	{Name: "tftp-servers", Code: 2, Space: "vendor-4491", Type: IPv4, Array: true},
}

// Standard returns the standard dhcp4 definitions in code order, without
// option 43 (see LastResort). The caller must not modify them.
func Standard() []Def { return standard }

// LastResort returns the definition of option 43 used when nothing else
// defines it. The caller must not modify it.
func LastResort() *Def { return &lastResort }

// ByCode returns the standard dhcp4 definition of code (option 43's
// last-resort one included), or nil.
func ByCode(code uint8) *Def {
	if code == CodeVendorEncapsulated {
		return &lastResort
	}
	for i := range standard {
		if standard[i].Code == code {
			return &standard[i]
		}
	}
	return nil
}

// ByName returns the standard dhcp4 definition called name, or nil.
func ByName(name string) *Def {
	if name == lastResort.Name {
		return &lastResort
	}
	for i := range standard {
		if standard[i].Name == name {
			return &standard[i]
		}
	}
	return nil
}

// InSpace returns the built-in definition of code in space, or nil: the
// standard table for dhcp4, the DOCSIS table for vendor-4491 and
// docsis3-v4.
func InSpace(space string, code uint8) *Def {
	if space == "" || space == Space {
		return ByCode(code)
	}
	return inVendorTable(space, func(d *Def) bool { return d.Code == code })
}

// InSpaceByName is InSpace by the option's name.
func InSpaceByName(space, name string) *Def {
	if space == "" || space == Space {
		return ByName(name)
	}
	return inVendorTable(space, func(d *Def) bool { return d.Name == name })
}

// inVendorTable finds the first definition of space's built-in vendor
// table that match accepts.
func inVendorTable(space string, match func(*Def) bool) *Def {
	if space != VendorSpace(DOCSISVendor) && space != DOCSISSpace {
		return nil
	}
	for i := range docsis {
		if match(&docsis[i]) {
			return &docsis[i]
		}
	}
	return nil
}

// VendorSpace is the name of the option space of vendor's option 125
// sub-options ("vendor-4491").
func VendorSpace(vendor uint32) string {
	return vendorPrefix + strconv.FormatUint(uint64(vendor), 10)
}

// VendorOf returns the enterprise number of a vendor space name
// ("vendor-4491" gives 4491), or false for other spaces.
func VendorOf(space string) (uint32, bool) {
	digits, ok := strings.CutPrefix(space, vendorPrefix)
	if !ok || digits == "" || digits[0] == '+' {
		return 0, false
	}
	v, err := strconv.ParseUint(digits, 10, 32)
	if err != nil {
		return 0, false
	}
	return uint32(v), true
}
