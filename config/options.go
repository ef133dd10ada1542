package config

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"xdhcp/config/optiondef"
)

// maxOptionLen is the largest payload one DHCPv4 option can carry. A
// longer dhcp4 option is sent split in several (RFC 3396), as Kea 2.2
// does; a sub-option cannot be.
const maxOptionLen = 255

// serverManaged are option codes the server computes per exchange; xdhcp
// ignores them in option-data (with a warning). Option 54 is not one: a
// configured server identifier replaces the interface's address, as in
// Kea.
func serverManaged(code uint8) bool {
	switch code {
	case 50, 51, 53, 55, 58, 59, 61, 82:
		return true
	}
	return false
}

// optEntry is one parsed option-data entry of a level, before its level's
// sub-options are folded into the options that encapsulate them.
type optEntry struct {
	opt   Option
	space string
	def   *optDef // nil for an option known only by code
	path  string
}

// optionData parses an option-data list at o[key] using defs. As in Kea,
// the options of a space that an option of the same level encapsulates
// become its sub-options; options of the dhcp4 space and of vendor spaces
// (the sub-options of option 125, chosen per client) are returned.
func (d *diag) optionData(o *jobj, key string, defs *defTable) []Option {
	var entries []optEntry
	seen := map[defKey]string{}
	d.list(o, key, func(path string, it *jobj) {
		e, ok := d.optionEntry(path, it, defs)
		d.finish(it)
		if !ok {
			return
		}
		k := defKey{e.space, e.opt.Code}
		if prev, dup := seen[k]; dup {
			d.warnf(path, "option %d of space %s is also set at %s; both are kept and the server sends the first", e.opt.Code, e.space, prev)
		} else {
			seen[k] = path
		}
		entries = append(entries, e)
	})
	var out []Option
	used := map[string]bool{} // the spaces options of this level encapsulate
	for i := range entries {
		e := &entries[i]
		vendor, isVendor := optiondef.VendorOf(e.space)
		if e.space != optiondef.Space && !isVendor {
			continue // a sub-option: sent inside the option that encapsulates its space
		}
		if e.def != nil && e.def.Encapsulates != "" {
			subs, err := encapsulate(e.opt.Data, e.def, entries, map[string]bool{e.space: true}, used)
			if err != nil {
				d.errorf(e.path, "%v", err)
				continue
			}
			e.opt.Data = subs
		}
		if isVendor && len(e.opt.Data) > maxOptionLen {
			d.errorf(e.path+".data", "encodes to %d bytes, more than the %d a vendor option can hold", len(e.opt.Data), maxOptionLen)
			continue
		}
		e.opt.VendorSpace, e.opt.Vendor = isVendor, vendor
		out = append(out, e.opt)
	}
	for _, e := range entries {
		if _, isVendor := optiondef.VendorOf(e.space); e.space != optiondef.Space && !isVendor && !used[e.space] {
			d.warnf(e.path, "option %d of space %s is never sent: no option of this level encapsulates that space (as in Kea)", e.opt.Code, e.space)
		}
	}
	return out
}

// subOpt is one sub-option as it is packed.
type subOpt struct {
	code uint8
	data []byte
}

// encapsulate returns the payload of an option of definition def: its own
// data, then the sub-options of the space it encapsulates, in code order.
// Sub-options come from data (given in hex) and then from the level's
// entries of that space whose code data lacks, first entry first; theirs
// are encapsulated in turn. inPath guards against spaces encapsulating
// each other; used collects the spaces encapsulated.
func encapsulate(data []byte, def *optDef, entries []optEntry, inPath, used map[string]bool) ([]byte, error) {
	space := def.Encapsulates
	if inPath[space] {
		return nil, fmt.Errorf("option space %s encapsulates itself", space)
	}
	inPath[space], used[space] = true, true
	defer delete(inPath, space)
	own, subs := data, []subOpt(nil)
	if def.Type == optiondef.Empty {
		// The whole payload is sub-options.
		var err error
		if subs, err = parseSubOptions(data); err != nil {
			return nil, fmt.Errorf("option %d: %w", def.Code, err)
		}
		own = nil
	}
	for i := range entries {
		e := &entries[i]
		if e.space != space || slices.ContainsFunc(subs, func(s subOpt) bool { return s.code == e.opt.Code }) {
			continue
		}
		sub := e.opt.Data
		if e.def != nil && e.def.Encapsulates != "" {
			var err error
			if sub, err = encapsulate(sub, e.def, entries, inPath, used); err != nil {
				return nil, err
			}
		}
		subs = append(subs, subOpt{e.opt.Code, sub})
	}
	slices.SortStableFunc(subs, func(a, b subOpt) int { return int(a.code) - int(b.code) })
	out := append([]byte(nil), own...)
	for _, s := range subs {
		if len(s.data) > maxOptionLen {
			return nil, fmt.Errorf("sub-option %d of space %s encodes to %d bytes, more than %d", s.code, space, len(s.data), maxOptionLen)
		}
		out = append(out, s.code, byte(len(s.data)))
		out = append(out, s.data...)
	}
	return out, nil
}

// parseSubOptions splits a payload into code-length-value sub-options.
func parseSubOptions(b []byte) ([]subOpt, error) {
	var out []subOpt
	for len(b) > 0 {
		if len(b) < 2 || len(b) < 2+int(b[1]) {
			return nil, fmt.Errorf("sub-option data truncated at %x", b)
		}
		out = append(out, subOpt{b[0], b[2 : 2+int(b[1])]})
		b = b[2+int(b[1]):]
	}
	return out, nil
}

// optionEntry parses one option-data entry.
func (d *diag) optionEntry(path string, it *jobj, defs *defTable) (optEntry, bool) {
	name := d.str(it, "name")
	code := d.integer(it, "code", 0, 255)
	data := d.str(it, "data")
	csv := d.boolean(it, "csv-format")
	always := d.boolean(it, "always-send")
	never := d.boolean(it, "never-send")
	space := spaceName(d.str(it, "space"))
	it.ignore("comment", "user-context")
	if name == nil && code == nil {
		d.errorf(path, "option needs a name or a code")
		return optEntry{}, false
	}
	var def *optDef
	switch {
	case name != nil:
		def = defs.name(space, *name)
		if def == nil {
			d.errorf(path+".name", "%q is not a known option of space %s (define it with option-def)", *name, space)
			return optEntry{}, false
		}
		if code != nil && int64(def.Code) != *code {
			d.errorf(path+".code", "%d does not match option %q (code %d)", *code, *name, def.Code)
			return optEntry{}, false
		}
	default:
		def = defs.code(space, uint8(*code))
	}
	var c uint8
	if def != nil {
		c = def.Code
	} else {
		c = uint8(*code)
	}
	if space == optiondef.Space {
		if c == 0 || c == 255 {
			d.errorf(path+".code", "%d is reserved (pad/end) and cannot be configured", c)
			return optEntry{}, false
		}
		if serverManaged(c) {
			d.warnf(path, "option %d (%s) is set by the server itself, ignored", c, OptionName(c))
			return optEntry{}, false
		}
		if c == 1 {
			d.warnf(path, "subnet-mask is never sent from option-data: replies carry the subnet's own mask, as in Kea")
		}
	}
	e := optEntry{opt: Option{Code: c}, space: space, def: def, path: path}
	if def != nil {
		e.opt.Name = def.Name
	}
	if always != nil {
		e.opt.AlwaysSend = *always
	}
	if never != nil {
		e.opt.NeverSend = *never
	}
	text := ""
	if data != nil {
		text = *data
	}
	var err error
	switch {
	case def == nil:
		if csv == nil || *csv {
			d.errorf(path, "option %d of space %s has no definition: define it with option-def or give its data in hex with csv-format false", c, space)
			return optEntry{}, false
		}
		e.opt.Data, err = decodeHex(text)
	case csv != nil && !*csv:
		if e.opt.Data, err = decodeHex(text); err == nil {
			err = checkWire(def, e.opt.Data, false)
		}
	default:
		// No data is an option without payload: Kea accepts it for empty
		// and array types (the sub-options of its level may follow).
		e.opt.Data, err = encodeOption(def, text, false)
	}
	if err == nil && space == optiondef.Space {
		err = checkSpecial(c, e.opt.Data)
	}
	if err != nil {
		d.errorf(path+".data", "%q: %v", text, err)
		return optEntry{}, false
	}
	return e, true
}

// checkSpecial checks the options Kea 2.2 builds with their own wire
// format: 124 (enterprise number then length-prefixed class data) and 125
// (an enterprise number; its sub-options are chosen per client).
func checkSpecial(code uint8, b []byte) error {
	switch code {
	case optiondef.CodeVIVCO:
		if len(b) < 4 {
			return fmt.Errorf("vivco-suboptions needs an enterprise number")
		}
		for rest := b[4:]; len(rest) > 0; rest = rest[1+int(rest[0]):] {
			if 1+int(rest[0]) > len(rest) {
				return fmt.Errorf("vendor class data %x is not a sequence of length-prefixed items", b[4:])
			}
		}
	case optiondef.CodeVIVSO:
		if len(b) < 4 {
			return fmt.Errorf("vivso-suboptions needs an enterprise number")
		}
		if len(b) > 4 {
			if n := int(b[4]); n != len(b)-5 {
				return fmt.Errorf("vivso-suboptions data length %d does not match the %d bytes that follow", n, len(b)-5)
			}
			if _, err := parseSubOptions(b[5:]); err != nil {
				return err
			}
		}
	}
	return nil
}

// VIVSOVendor is the enterprise number of a configured option 125 payload.
func VIVSOVendor(data []byte) uint32 {
	if len(data) < 4 {
		return 0
	}
	return binary.BigEndian.Uint32(data)
}

// optionDefs parses an option-def list at o[key] into table. classLevel
// restricts it to option 43, as Kea does for client-class option-def.
func (d *diag) optionDefs(o *jobj, key string, table *defTable, classLevel bool) {
	d.list(o, key, func(path string, it *jobj) {
		defer d.finish(it)
		e, ok := d.defEntry(path, it, 255, spaceName)
		if !ok {
			return
		}
		name, typ, array, rec, space, encap := e.name, e.typ, e.array, e.rec, e.space, e.encap
		c := uint8(e.code)
		if space == optiondef.Space && (c == 0 || c == 255) {
			d.errorf(path+".code", "%d is reserved (pad/end) and cannot be defined", c)
			return
		}
		if classLevel && (space != optiondef.Space || c != optiondef.CodeVendorEncapsulated) {
			d.errorf(path+".code", "%d: a client class may only define option 43", c)
			return
		}
		if std := optiondef.InSpace(space, c); std != nil && !(space == optiondef.Space && c == optiondef.CodeVendorEncapsulated) {
			d.errorf(path+".code", "%d: cannot redefine standard option %q of space %s", c, std.Name, space)
			return
		}
		if std := optiondef.InSpaceByName(space, *name); std != nil && std.Code != c {
			d.errorf(path+".name", "%q is the name of standard option %d of space %s", *name, std.Code, space)
			return
		}
		if _, dup := table.byCode[defKey{space, c}]; dup {
			d.errorf(path+".code", "option %d of space %s is defined twice", c, space)
			return
		}
		if _, dup := table.byName[defName{space, *name}]; dup {
			d.errorf(path+".name", "option %q of space %s is defined twice", *name, space)
			return
		}
		shape, ok := d.defShape(path, *typ, array != nil && *array, rec, encap)
		if !ok {
			return
		}
		def := shape
		def.Name, def.Code, def.Space = *name, c, space
		table.add(space, def)
	})
}

// defEntryKeys are the keys of an option-def entry, the same for both
// families but for the range of code and the default space.
type defEntryKeys struct {
	name, typ, rec, encap *string
	array                 *bool
	code                  int64
	space                 string
}

// defEntry reads the keys of the option-def entry it and checks that name,
// code and type are given and the names are valid.
func (d *diag) defEntry(path string, it *jobj, maxCode int64, spaceName func(*string) string) (defEntryKeys, bool) {
	var e defEntryKeys
	e.name = d.str(it, "name")
	code := d.integer(it, "code", 0, maxCode)
	e.typ = d.str(it, "type")
	e.array = d.boolean(it, "array")
	e.rec = d.str(it, "record-types")
	e.space = spaceName(d.str(it, "space"))
	e.encap = d.str(it, "encapsulate")
	it.ignore("comment", "user-context")
	switch {
	case e.name == nil || code == nil || e.typ == nil:
		d.errorf(path, "option-def needs name, code and type")
		return e, false
	case !validSpaceName(e.space):
		d.errorf(path+".space", "%q is not a valid option space name", e.space)
		return e, false
	case !validOptionName(*e.name):
		d.errorf(path+".name", "%q is not a valid option name", *e.name)
		return e, false
	}
	e.code = *code
	return e, true
}

// validSpaceName is Kea's rule for option space names: letters, digits,
// hyphens and underscores, not starting or ending with a hyphen or
// underscore.
func validSpaceName(s string) bool {
	if s == "" || strings.ContainsAny(s[:1], "-_") || strings.ContainsAny(s[len(s)-1:], "-_") {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	})
}

// validOptionName is Kea's rule for option names: not empty, no spaces.
func validOptionName(s string) bool {
	return s != "" && !strings.ContainsAny(s, " \t\n\r")
}
