package optiondef

// The DHCPv6 side of the table: Kea 2.2's dhcp6 space, the DOCSIS vendor
// space (vendor-4491, also called docsis3-v6) and the softwire (MAP-E,
// MAP-T, lw4over6) and DHCPv4-over-DHCPv6 spaces. DHCPv6 option codes are
// 16 bits wide, so its definitions are Def6; a Def6 encodes and decodes
// with the same Type vocabulary as a Def, except that a Tuple carries a
// two-byte length (RFC 8415 section 21.16's opaque data).

// The DHCPv6 option spaces Kea 2.2 knows without configuration.
const (
	// Space6 is the top-level DHCPv6 option space.
	Space6 = "dhcp6"
	// DOCSISSpace6 is Kea's own name of the DOCSIS DHCPv6 definitions
	// (the same table as vendor-4491).
	DOCSISSpace6 = "docsis3-v6"
)

// Well-known DHCPv6 codes the configuration and the engine treat
// specially.
const (
	CodeClientID6    = 1
	CodeServerID6    = 2
	CodeIANA6        = 3
	CodeIATA6        = 4
	CodeIAAddr6      = 5
	CodeORO6         = 6
	CodePreference6  = 7
	CodeElapsedTime6 = 8
	CodeRelayMsg6    = 9
	CodeUnicast6     = 12
	CodeStatusCode6  = 13
	CodeRapidCommit6 = 14
	CodeUserClass6   = 15
	CodeVendorClass6 = 16
	// CodeVendorOpts6 is vendor-opts: an enterprise number, then the
	// options of that vendor's space (vendor-N).
	CodeVendorOpts6  = 17
	CodeInterfaceID6 = 18
	CodeIAPD6        = 25
	CodeIAPrefix6    = 26
	CodeRemoteID6    = 37
	CodeSubscriber6  = 38
	CodeClientFQDN6  = 39
	CodePDExclude6   = 67
	CodeClientLLA6   = 79
)

// Def6 is a DHCPv6 option definition: a standard one or an option-def
// entry of a Dhcp6 configuration.
type Def6 struct {
	Name string
	Code uint16
	// Space is the option space the definition belongs to; "" means
	// Space6 (dhcp6).
	Space  string
	Type   Type
	Array  bool
	Fields []Type // the record's fields, for Type Record
	// Encapsulates names the option space whose options are this
	// option's sub-options, or "".
	Encapsulates string
}

// Layout returns d's data layout as a Def (its code left out), for the
// encoders shared with DHCPv4.
func (d *Def6) Layout() *Def {
	return &Def{Name: d.Name, Space: d.Space, Type: d.Type, Array: d.Array, Fields: d.Fields, Encapsulates: d.Encapsulates}
}

// Standard6 returns Kea 2.2's standard dhcp6 definitions, in Kea's order.
// The caller must not modify them.
func Standard6() []Def6 { return tables6[Space6] }

// Spaces6 returns the names of the DHCPv6 option spaces that have built-in
// definitions (dhcp6, vendor-4491 and the softwire and 4o6 spaces).
func Spaces6() []string {
	out := make([]string, 0, len(tables6))
	for s := range tables6 {
		out = append(out, s)
	}
	return out
}

// table6 is the built-in table of a DHCPv6 space ("" is dhcp6).
func table6(space string) []Def6 {
	switch space {
	case "":
		space = Space6
	case DOCSISSpace6:
		space = VendorSpace(DOCSISVendor)
	}
	return tables6[space]
}

// InSpace6 returns the built-in DHCPv6 definition of code in space, or nil.
func InSpace6(space string, code uint16) *Def6 {
	t := table6(space)
	for i := range t {
		if t[i].Code == code {
			return &t[i]
		}
	}
	return nil
}

// InSpace6ByName is InSpace6 by the option's name.
func InSpace6ByName(space, name string) *Def6 {
	t := table6(space)
	for i := range t {
		if t[i].Name == name {
			return &t[i]
		}
	}
	return nil
}

// ByCode6 returns the standard dhcp6 definition of code, or nil.
func ByCode6(code uint16) *Def6 { return InSpace6(Space6, code) }

// ByName6 returns the standard dhcp6 definition called name, or nil.
func ByName6(name string) *Def6 { return InSpace6ByName(Space6, name) }

// Encapsulated6 reports whether a built-in DHCPv6 definition encapsulates
// space.
func Encapsulated6(space string) bool {
	for _, t := range tables6 {
		for i := range t {
			if t[i].Encapsulates == space {
				return true
			}
		}
	}
	return false
}
