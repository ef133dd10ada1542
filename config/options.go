package config

import (
	"strings"

	"xdhcp/config/optiondef"
)

// maxOptionLen is the largest payload one DHCPv4 option can carry. Long
// options (RFC 3396 splitting) are not produced by the server.
const maxOptionLen = 255

// optionData parses an option-data list at o[key] using defs.
func (d *diag) optionData(o *jobj, key string, defs *defTable) []Option {
	var out []Option
	seen := map[uint8]string{}
	d.list(o, key, func(path string, it *jobj) {
		opt, ok := d.optionEntry(path, it, defs)
		d.finish(it)
		if !ok {
			return
		}
		if prev, dup := seen[opt.Code]; dup {
			d.warnf(path, "option %d is also set at %s; both are kept and the server sends the first", opt.Code, prev)
		} else {
			seen[opt.Code] = path
		}
		out = append(out, opt)
	})
	return out
}

func (d *diag) optionEntry(path string, it *jobj, defs *defTable) (Option, bool) {
	name := d.str(it, "name")
	code := d.integer(it, "code", 0, 255)
	data := d.str(it, "data")
	csv := d.boolean(it, "csv-format")
	always := d.boolean(it, "always-send")
	never := d.boolean(it, "never-send")
	space := d.str(it, "space")
	it.ignore("comment", "user-context")
	if space != nil && *space != optiondef.Space {
		d.warnf(path+".space", "option space %q not supported by xdhcp (only dhcp4), option ignored", *space)
		return Option{}, false
	}
	if name == nil && code == nil {
		d.errorf(path, "option needs a name or a code")
		return Option{}, false
	}
	var def *optDef
	switch {
	case name != nil:
		def = defs.name(*name)
		if def == nil {
			d.errorf(path+".name", "%q is not a known DHCPv4 option (define it with option-def)", *name)
			return Option{}, false
		}
		if code != nil && int64(def.Code) != *code {
			d.errorf(path+".code", "%d does not match option %q (code %d)", *code, *name, def.Code)
			return Option{}, false
		}
	default:
		def = defs.code(uint8(*code))
	}
	var c uint8
	if def != nil {
		c = def.Code
	} else {
		c = uint8(*code)
	}
	if c == 0 || c == 255 {
		d.errorf(path+".code", "%d is reserved (pad/end) and cannot be configured", c)
		return Option{}, false
	}
	if serverManaged(c) {
		d.warnf(path, "option %d (%s) is set by the server itself, ignored", c, OptionName(c))
		return Option{}, false
	}
	opt := Option{Code: c}
	if def != nil {
		opt.Name = def.Name
	}
	if always != nil {
		opt.AlwaysSend = *always
	}
	if never != nil {
		opt.NeverSend = *never
	}
	text := ""
	if data != nil {
		text = *data
	}
	var err error
	switch {
	case csv != nil && !*csv:
		opt.Data, err = decodeHex(text)
	case def == nil:
		if csv != nil && *csv {
			d.errorf(path, "option %d has no definition, so its data must be hex with csv-format false", c)
			return Option{}, false
		}
		// No definition and csv-format not given: the only readable form is hex.
		opt.Data, err = decodeHex(text)
	case data == nil && def.Type != optiondef.Empty:
		// Kea accepts an entry without data only to tweak flags of an option
		// whose payload comes from elsewhere; without data we have nothing
		// to send.
		d.errorf(path, "option %q needs data", def.Name)
		return Option{}, false
	default:
		opt.Data, err = encodeOption(def, text)
	}
	if err != nil {
		d.errorf(path+".data", "%q: %v", text, err)
		return Option{}, false
	}
	if len(opt.Data) > maxOptionLen {
		d.errorf(path+".data", "encodes to %d bytes, more than the %d an option can hold", len(opt.Data), maxOptionLen)
		return Option{}, false
	}
	return opt, true
}

// optionDefs parses an option-def list at o[key] into table. classLevel
// restricts it to option 43, as Kea does for client-class option-def.
func (d *diag) optionDefs(o *jobj, key string, table *defTable, classLevel bool) {
	d.list(o, key, func(path string, it *jobj) {
		defer d.finish(it)
		name := d.str(it, "name")
		code := d.integer(it, "code", 1, 254)
		typ := d.str(it, "type")
		array := d.boolean(it, "array")
		rec := d.str(it, "record-types")
		space := d.str(it, "space")
		encap := d.str(it, "encapsulate")
		it.ignore("comment", "user-context")
		if name == nil || code == nil || typ == nil {
			d.errorf(path, "option-def needs name, code and type")
			return
		}
		if space != nil && *space != optiondef.Space {
			d.warnf(path+".space", "option space %q not supported by xdhcp, definition ignored", *space)
			return
		}
		if encap != nil && *encap != "" {
			d.warnf(path+".encapsulate", "sub-option spaces not supported by xdhcp; option %d data must be given in hex", *code)
		}
		c := uint8(*code)
		if classLevel && c != 43 {
			d.errorf(path+".code", "%d: a client class may only define option 43", c)
			return
		}
		if std := stdDefByCode(c); std != nil && c != 43 {
			d.errorf(path+".code", "%d: cannot redefine standard option %q", c, std.Name)
			return
		}
		if std := stdDefByName(*name); std != nil && std.Code != c {
			d.errorf(path+".name", "%q is the name of standard option %d", *name, std.Code)
			return
		}
		if _, dup := table.byCode[c]; dup {
			d.errorf(path+".code", "option %d is defined twice", c)
			return
		}
		t, ok := optiondef.TypeByName(*typ)
		if !ok || t == optiondef.PSID {
			d.warnf(path+".type", "option type %q not supported by xdhcp, definition ignored", *typ)
			return
		}
		def := &optDef{Name: *name, Code: c, Type: t, Array: array != nil && *array}
		if encap != nil && *encap != "" && t == optiondef.Empty {
			// An encapsulating empty option really carries sub-options; take
			// them as hex.
			def.Type = optiondef.Binary
		}
		if t == optiondef.Record {
			if rec == nil || strings.TrimSpace(*rec) == "" {
				d.errorf(path+".record-types", "a record needs record-types")
				return
			}
			for _, f := range splitCSV(*rec) {
				ft, ok := optiondef.TypeByName(f)
				if !ok || ft == optiondef.Record || ft == optiondef.Empty {
					d.warnf(path+".record-types", "record field type %q not supported by xdhcp, definition ignored", f)
					return
				}
				def.Fields = append(def.Fields, ft)
			}
		}
		if def.Array && (t == optiondef.String || t == optiondef.Binary || t == optiondef.Empty || t == optiondef.Record && len(def.Fields) > 0 && (def.Fields[len(def.Fields)-1] == optiondef.String || def.Fields[len(def.Fields)-1] == optiondef.Binary)) {
			d.errorf(path+".array", "type %s cannot be an array", *typ)
			return
		}
		table.byCode[c] = def
		table.byName[def.Name] = def
	})
}
