package config

import (
	"fmt"
	"slices"
	"strings"

	"xdhcp/config/optiondef"
)

// maxOption6Len is the largest payload a DHCPv6 option (or sub-option)
// can carry: its length field has 16 bits.
const maxOption6Len = 0xffff

// serverManaged6 are DHCPv6 option codes the server builds itself per
// exchange (identifiers, IAs, status, relay framing); option-data setting
// them is ignored with a warning.
func serverManaged6(code uint16) bool {
	switch code {
	case optiondef.CodeClientID6, optiondef.CodeServerID6, optiondef.CodeIANA6, optiondef.CodeIATA6,
		optiondef.CodeIAAddr6, optiondef.CodeORO6, optiondef.CodeElapsedTime6, optiondef.CodeRelayMsg6,
		optiondef.CodeStatusCode6, optiondef.CodeRapidCommit6, optiondef.CodeIAPD6, optiondef.CodeIAPrefix6:
		return true
	}
	return false
}

// def6Key names a DHCPv6 definition within its option space.
type def6Key struct {
	space string
	code  uint16
}

// def6Table resolves DHCPv6 option names and codes for one scope: the
// built-in definitions plus the configuration's option-def entries.
type def6Table struct {
	byCode map[def6Key]*optiondef.Def6
	byName map[defName]*optiondef.Def6
	parent *def6Table
}

func newDef6Table(parent *def6Table) *def6Table {
	return &def6Table{byCode: map[def6Key]*optiondef.Def6{}, byName: map[defName]*optiondef.Def6{}, parent: parent}
}

func (t *def6Table) add(space string, d *optiondef.Def6) {
	t.byCode[def6Key{space, d.Code}] = d
	t.byName[defName{space, d.Name}] = d
}

func (t *def6Table) code(space string, code uint16) *optiondef.Def6 {
	for ; t != nil; t = t.parent {
		if d, ok := t.byCode[def6Key{space, code}]; ok {
			return d
		}
	}
	return optiondef.InSpace6(space, code)
}

func (t *def6Table) name(space, name string) *optiondef.Def6 {
	for ; t != nil; t = t.parent {
		if d, ok := t.byName[defName{space, name}]; ok {
			return d
		}
	}
	return optiondef.InSpace6ByName(space, name)
}

// space6Name is the option space a Dhcp6 entry names: "" is dhcp6.
func space6Name(s *string) string {
	if s == nil || *s == "" {
		return optiondef.Space6
	}
	return *s
}

// opt6Entry is one parsed Dhcp6 option-data entry of a level.
type opt6Entry struct {
	opt   Option6
	space string
	def   *optiondef.Def6
	path  string
}

// optionData6 parses a Dhcp6 option-data list at o[key]. As in Kea, the
// options of a space that an option of the same level encapsulates become
// its sub-options; options of the dhcp6 space and of vendor spaces (sent
// inside vendor-opts, option 17, for that vendor) are returned.
func (d *diag) optionData6(o *jobj, key string, defs *def6Table) []Option6 {
	var entries []opt6Entry
	seen := map[def6Key]string{}
	d.list(o, key, func(path string, it *jobj) {
		e, ok := d.optionEntry6(path, it, defs)
		d.finish(it)
		if !ok {
			return
		}
		k := def6Key{e.space, e.opt.Code}
		if prev, dup := seen[k]; dup {
			d.warnf(path, "option %d of space %s is also set at %s; both are kept and the server sends the first", e.opt.Code, e.space, prev)
		} else {
			seen[k] = path
		}
		entries = append(entries, e)
	})
	var out []Option6
	used := map[string]bool{}
	for i := range entries {
		e := &entries[i]
		vendor, isVendor := optiondef.VendorOf(e.space)
		if e.space != optiondef.Space6 && !isVendor {
			continue // a sub-option: sent inside the option that encapsulates its space
		}
		// Two leasequery options (44, 45) encapsulate dhcp6 itself: a
		// server never sends them from option-data, and packing every
		// option of the level into them would be meaningless, so they
		// keep their own data.
		if e.def != nil && e.def.Encapsulates != "" && e.def.Encapsulates != optiondef.Space6 {
			subs, err := encapsulate6(e.opt.Data, e.def, entries, map[string]bool{e.space: true}, used)
			if err != nil {
				d.errorf(e.path, "%v", err)
				continue
			}
			e.opt.Data = subs
		}
		if len(e.opt.Data) > maxOption6Len {
			d.errorf(e.path+".data", "encodes to %d bytes, more than the %d an option can hold", len(e.opt.Data), maxOption6Len)
			continue
		}
		e.opt.VendorSpace, e.opt.Vendor = isVendor, vendor
		out = append(out, e.opt)
	}
	return append(out, d.detached6(entries, used, defs)...)
}

// detached6 returns the options of entries that belong to a space no
// option of their level encapsulates, with their Space set: the server
// packs them into the option of another level that encapsulates it (the
// softwire containers of a subnet take the rules of a reservation that
// way). Options of such a space nested in one another are packed
// first. An option whose space no definition encapsulates at all can
// never be sent: it gets a warning.
func (d *diag) detached6(entries []opt6Entry, used map[string]bool, defs *def6Table) []Option6 {
	var orphans []int
	for i := range entries {
		e := &entries[i]
		if _, isVendor := optiondef.VendorOf(e.space); e.space == optiondef.Space6 || isVendor || used[e.space] {
			continue
		}
		orphans = append(orphans, i)
	}
	inner := map[string]bool{}
	for _, i := range orphans {
		e := &entries[i]
		if e.def == nil || e.def.Encapsulates == "" || e.def.Encapsulates == optiondef.Space6 {
			continue
		}
		subs, err := encapsulate6(e.opt.Data, e.def, entries, map[string]bool{e.space: true}, inner)
		if err != nil {
			d.errorf(e.path, "%v", err)
			continue
		}
		e.opt.Data = subs
	}
	var out []Option6
	for _, i := range orphans {
		e := entries[i]
		if inner[e.space] {
			continue // packed into another detached option
		}
		if !defs.encapsulated(e.space) {
			d.warnf(e.path, "option %d of space %s is never sent: no option encapsulates that space (as in Kea)", e.opt.Code, e.space)
			continue
		}
		e.opt.Space = e.space
		out = append(out, e.opt)
	}
	return out
}

// encapsulated reports whether some definition (built-in or option-def)
// encapsulates space.
func (t *def6Table) encapsulated(space string) bool {
	for ; t != nil; t = t.parent {
		for _, d := range t.byCode {
			if d.Encapsulates == space {
				return true
			}
		}
	}
	return optiondef.Encapsulated6(space)
}

// sub6Opt is one DHCPv6 sub-option as it is packed.
type sub6Opt struct {
	code uint16
	data []byte
}

// encapsulate6 is encapsulate for DHCPv6: sub-options have a two-byte
// code and a two-byte length.
func encapsulate6(data []byte, def *optiondef.Def6, entries []opt6Entry, inPath, used map[string]bool) ([]byte, error) {
	space := def.Encapsulates
	if inPath[space] {
		return nil, fmt.Errorf("option space %s encapsulates itself", space)
	}
	inPath[space], used[space] = true, true
	defer delete(inPath, space)
	own, subs := data, []sub6Opt(nil)
	if def.Type == optiondef.Empty {
		var err error
		if subs, err = parseSubOptions6(data); err != nil {
			return nil, fmt.Errorf("option %d: %w", def.Code, err)
		}
		own = nil
	}
	for i := range entries {
		e := &entries[i]
		if e.space != space || slices.ContainsFunc(subs, func(s sub6Opt) bool { return s.code == e.opt.Code }) {
			continue
		}
		sub := e.opt.Data
		if e.def != nil && e.def.Encapsulates != "" {
			var err error
			if sub, err = encapsulate6(sub, e.def, entries, inPath, used); err != nil {
				return nil, err
			}
		}
		subs = append(subs, sub6Opt{e.opt.Code, sub})
	}
	slices.SortStableFunc(subs, func(a, b sub6Opt) int { return int(a.code) - int(b.code) })
	out := append([]byte(nil), own...)
	for _, s := range subs {
		if len(s.data) > maxOption6Len {
			return nil, fmt.Errorf("sub-option %d of space %s encodes to %d bytes, more than %d", s.code, space, len(s.data), maxOption6Len)
		}
		out = append(out, byte(s.code>>8), byte(s.code), byte(len(s.data)>>8), byte(len(s.data)))
		out = append(out, s.data...)
	}
	return out, nil
}

// parseSubOptions6 splits a payload into DHCPv6 code-length-value options.
func parseSubOptions6(b []byte) ([]sub6Opt, error) {
	var out []sub6Opt
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, fmt.Errorf("sub-option data truncated at %x", b)
		}
		n := int(b[2])<<8 | int(b[3])
		if len(b) < 4+n {
			return nil, fmt.Errorf("sub-option data truncated at %x", b)
		}
		out = append(out, sub6Opt{uint16(b[0])<<8 | uint16(b[1]), b[4 : 4+n]})
		b = b[4+n:]
	}
	return out, nil
}

// optionEntry6 parses one Dhcp6 option-data entry.
func (d *diag) optionEntry6(path string, it *jobj, defs *def6Table) (opt6Entry, bool) {
	name := d.str(it, "name")
	code := d.integer(it, "code", 0, 65535)
	data := d.str(it, "data")
	csv := d.boolean(it, "csv-format")
	always := d.boolean(it, "always-send")
	space := space6Name(d.str(it, "space"))
	it.ignore("comment", "user-context")
	if name == nil && code == nil {
		d.errorf(path, "option needs a name or a code")
		return opt6Entry{}, false
	}
	var def *optiondef.Def6
	switch {
	case name != nil:
		def = defs.name(space, *name)
		if def == nil {
			d.errorf(path+".name", "%q is not a known option of space %s (define it with option-def)", *name, space)
			return opt6Entry{}, false
		}
		if code != nil && int64(def.Code) != *code {
			d.errorf(path+".code", "%d does not match option %q (code %d)", *code, *name, def.Code)
			return opt6Entry{}, false
		}
	default:
		def = defs.code(space, uint16(*code))
	}
	c := uint16(0)
	if def != nil {
		c = def.Code
	} else {
		c = uint16(*code)
	}
	if space == optiondef.Space6 {
		if c == 0 {
			d.errorf(path+".code", "0 is not a DHCPv6 option code")
			return opt6Entry{}, false
		}
		if serverManaged6(c) {
			d.warnf(path, "option %d (%s) is set by the server itself, ignored", c, Option6Name(c))
			return opt6Entry{}, false
		}
	}
	e := opt6Entry{opt: Option6{Code: c}, space: space, def: def, path: path}
	if def != nil {
		e.opt.Name = def.Name
	}
	e.opt.AlwaysSend = boolOr(always, false)
	text := ""
	if data != nil {
		text = *data
	}
	var err error
	switch {
	case def == nil:
		if csv == nil || *csv {
			d.errorf(path, "option %d of space %s has no definition: define it with option-def or give its data in hex with csv-format false", c, space)
			return opt6Entry{}, false
		}
		e.opt.Data, err = decodeHex(text)
	case csv != nil && !*csv:
		if e.opt.Data, err = decodeHex(text); err == nil {
			err = checkWire(def.Layout(), e.opt.Data, true)
		}
	default:
		e.opt.Data, err = encodeOption(def.Layout(), text, true)
	}
	if err == nil && space == optiondef.Space6 {
		err = checkSpecial6(c, e.opt.Data)
	}
	if err != nil {
		d.errorf(path+".data", "%q: %v", text, err)
		return opt6Entry{}, false
	}
	return e, true
}

// checkSpecial6 checks the options Kea 2.2 builds with their own wire
// format: vendor-class (16: an enterprise number, then data tuples with
// two-byte lengths) and vendor-opts (17: an enterprise number, then
// options of that vendor's space).
func checkSpecial6(code uint16, b []byte) error {
	switch code {
	case optiondef.CodeVendorClass6:
		if len(b) < 4 {
			return fmt.Errorf("vendor-class needs an enterprise number")
		}
		for rest := b[4:]; len(rest) > 0; {
			if len(rest) < 2 || len(rest) < 2+(int(rest[0])<<8|int(rest[1])) {
				return fmt.Errorf("vendor class data %x is not a sequence of tuples with two-byte lengths", b[4:])
			}
			rest = rest[2+(int(rest[0])<<8|int(rest[1])):]
		}
	case optiondef.CodeVendorOpts6:
		if len(b) < 4 {
			return fmt.Errorf("vendor-opts needs an enterprise number")
		}
		if _, err := parseSubOptions6(b[4:]); err != nil {
			return err
		}
	}
	return nil
}

// Option6Name returns Kea's name of a standard DHCPv6 option
// ("dns-servers" for 23), or "".
func Option6Name(code uint16) string {
	if d := optiondef.ByCode6(code); d != nil {
		return d.Name
	}
	return ""
}

// optionDefs6 parses a Dhcp6 option-def list at o[key] into table.
func (d *diag) optionDefs6(o *jobj, key string, table *def6Table) {
	d.list(o, key, func(path string, it *jobj) {
		defer d.finish(it)
		e, ok := d.defEntry(path, it, 65535, space6Name)
		if !ok {
			return
		}
		name, typ, array, rec, space, encap := e.name, e.typ, e.array, e.rec, e.space, e.encap
		c := uint16(e.code)
		if space == optiondef.Space6 && c == 0 {
			d.errorf(path+".code", "0 is not a DHCPv6 option code")
			return
		}
		if std := optiondef.InSpace6(space, c); std != nil {
			d.errorf(path+".code", "%d: cannot redefine standard option %q of space %s", c, std.Name, space)
			return
		}
		if std := optiondef.InSpace6ByName(space, *name); std != nil && std.Code != c {
			d.errorf(path+".name", "%q is the name of standard option %d of space %s", *name, std.Code, space)
			return
		}
		if _, dup := table.byCode[def6Key{space, c}]; dup {
			d.errorf(path+".code", "option %d of space %s is defined twice", c, space)
			return
		}
		if _, dup := table.byName[defName{space, *name}]; dup {
			d.errorf(path+".name", "option %q of space %s is defined twice", *name, space)
			return
		}
		def := &optiondef.Def6{Name: *name, Code: c, Space: space}
		shape, ok := d.defShape(path, *typ, boolOr(array, false), rec, encap)
		if !ok {
			return
		}
		def.Type, def.Array, def.Fields, def.Encapsulates = shape.Type, shape.Array, shape.Fields, shape.Encapsulates
		table.add(space, def)
	})
}

// defShape checks the data layout of an option-def entry (type, array,
// record-types, encapsulate), the same for both families.
func (d *diag) defShape(path, typ string, array bool, rec, encap *string) (*optDef, bool) {
	t, ok := optiondef.TypeByName(typ)
	if !ok {
		d.errorf(path+".type", "%q is not an option data type", typ)
		return nil, false
	}
	def := &optDef{Type: t, Array: array}
	if encap != nil && *encap != "" {
		if !validSpaceName(*encap) {
			d.errorf(path+".encapsulate", "%q is not a valid option space name", *encap)
			return nil, false
		}
		def.Encapsulates = *encap
	}
	if t == optiondef.Record {
		if rec == nil || strings.TrimSpace(*rec) == "" {
			d.errorf(path+".record-types", "a record needs record-types")
			return nil, false
		}
		for _, f := range splitCSV(*rec) {
			ft, ok := optiondef.TypeByName(f)
			if !ok || ft == optiondef.Record || ft == optiondef.Empty {
				d.errorf(path+".record-types", "%q cannot be a record field", f)
				return nil, false
			}
			def.Fields = append(def.Fields, ft)
		}
		for _, f := range def.Fields[:len(def.Fields)-1] {
			if f == optiondef.String || f == optiondef.Binary {
				d.errorf(path+".record-types", "a %s field must be the record's last", f)
				return nil, false
			}
		}
	} else if rec != nil && strings.TrimSpace(*rec) != "" {
		d.errorf(path+".record-types", "record-types is only for type record")
		return nil, false
	}
	last := t
	if t == optiondef.Record {
		last = def.Fields[len(def.Fields)-1]
	}
	if def.Array && (last == optiondef.String || last == optiondef.Binary || last == optiondef.Empty) {
		d.errorf(path+".array", "type %s cannot be an array", typ)
		return nil, false
	}
	if def.Array && def.Encapsulates != "" {
		d.errorf(path+".encapsulate", "an array option cannot encapsulate a space")
		return nil, false
	}
	return def, true
}
