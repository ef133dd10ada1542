package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// FieldError is one validation error, naming the JSON path of the offending
// value, e.g. `Dhcp4.subnet4[2].pools[0].pool: "10.0.0.50-10.0.0.10":
// first address after last`. Parse joins all of them with errors.Join.
type FieldError struct {
	Path string
	Msg  string
}

func (e *FieldError) Error() string { return e.Path + ": " + e.Msg }

// diag collects the errors and warnings of one Parse run, so that every
// problem is reported at once instead of stopping at the first.
type diag struct {
	errs  []error
	warns []string
}

func (d *diag) errorf(path, format string, args ...any) {
	d.errs = append(d.errs, &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (d *diag) warnf(path, format string, args ...any) {
	d.warns = append(d.warns, path+": "+fmt.Sprintf(format, args...))
}

// jobj is one decoded JSON object. Keys keep their document order so that
// warnings come out in a stable, readable order; used records which keys the
// parser consumed, so that the rest can be reported by finish.
type jobj struct {
	path string
	keys []string
	vals map[string]json.RawMessage
	used map[string]bool
	// skipped are keys accepted without effect (comment, user-context):
	// finish checks them against Kea's grammar but does not warn.
	skipped map[string]bool
}

// decodeObject splits a JSON object into its members. Duplicate keys are
// reported through dups (the last value wins, as in encoding/json).
func decodeObject(raw json.RawMessage) (keys []string, vals map[string]json.RawMessage, dups []string, err error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, nil, nil, errors.New("not an object")
	}
	vals = make(map[string]json.RawMessage)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, nil, nil, errors.New("object key is not a string")
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, nil, nil, err
		}
		if _, seen := vals[key]; seen {
			dups = append(dups, key)
		} else {
			keys = append(keys, key)
		}
		vals[key] = v
	}
	if _, err := dec.Token(); err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, nil, err
	}
	return keys, vals, dups, nil
}

// object decodes raw as an object at path; it records an error and returns
// nil when raw is not an object.
func (d *diag) object(path string, raw json.RawMessage) *jobj {
	keys, vals, dups, err := decodeObject(raw)
	if err != nil {
		d.errorf(path, "expected a JSON object, got %s", kindOf(raw))
		return nil
	}
	// A document read by keaJSON has none (Kea refuses them); raw JSON
	// handed in directly (HA hook parameters) may.
	for _, k := range dups {
		d.warnf(path+"."+k, "duplicate key, the last value is used")
	}
	return &jobj{path: path, keys: keys, vals: vals, used: make(map[string]bool, len(keys)), skipped: map[string]bool{}}
}

// array decodes raw as an array at path.
func (d *diag) array(path string, raw json.RawMessage) ([]json.RawMessage, bool) {
	var items []json.RawMessage
	if kindOf(raw) != "array" || json.Unmarshal(raw, &items) != nil {
		d.errorf(path, "expected a JSON array, got %s", kindOf(raw))
		return nil, false
	}
	return items, true
}

// kindOf names the JSON type of raw for error messages.
func kindOf(raw json.RawMessage) string { return JSONKind(raw) }

// JSONKind names the JSON type of a raw value by its first byte: "object",
// "array", "string", "boolean", "null" or "number" ("nothing" when raw is
// empty). It does not validate raw.
func JSONKind(raw json.RawMessage) string {
	b := bytes.TrimLeft(raw, " \t\r\n")
	if len(b) == 0 {
		return "nothing"
	}
	switch b[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

func (o *jobj) child(key string) string {
	if o.path == "" {
		return key
	}
	return o.path + "." + key
}

// take marks key as consumed and returns its raw value.
func (o *jobj) take(key string) (json.RawMessage, bool) {
	v, ok := o.vals[key]
	if ok {
		o.used[key] = true
	}
	return v, ok
}

// ignore marks keys as accepted without effect (comments, user-context):
// finish still checks them against Kea's grammar.
func (o *jobj) ignore(keys ...string) {
	for _, k := range keys {
		if _, ok := o.vals[k]; ok {
			o.used[k], o.skipped[k] = true, true
		}
	}
}

// skip is ignore, named for the maps inside a key xdhcp does not implement.
func (o *jobj) skip(keys ...string) { o.ignore(keys...) }

// take takes o[key] and decodes it into a T when it is a JSON value of
// the given kind; another kind is an error saying it expected want. It
// returns nil when the key is absent or wrong.
func take[T any](d *diag, o *jobj, key, kind, want string) *T {
	raw, ok := o.take(key)
	if !ok {
		return nil
	}
	v := new(T)
	if kindOf(raw) != kind || json.Unmarshal(raw, v) != nil {
		d.errorf(o.child(key), "expected %s, got %s", want, kindOf(raw))
		return nil
	}
	return v
}

func (d *diag) str(o *jobj, key string) *string {
	return take[string](d, o, key, "string", "a string")
}

func (d *diag) boolean(o *jobj, key string) *bool {
	return take[bool](d, o, key, "boolean", "true or false")
}

// integer reads an integer in [lo, hi].
func (d *diag) integer(o *jobj, key string, lo, hi int64) *int64 {
	n := take[json.Number](d, o, key, "number", "an integer")
	if n == nil {
		return nil
	}
	v, err := strconv.ParseInt(n.String(), 10, 64)
	if err != nil {
		d.errorf(o.child(key), "%s is not an integer", *n)
		return nil
	}
	if v < lo || v > hi {
		d.errorf(o.child(key), "%d is out of range [%d, %d]", v, lo, hi)
		return nil
	}
	return &v
}

func (d *diag) u32(o *jobj, key string) *uint32 {
	v := d.integer(o, key, 0, math.MaxUint32)
	if v == nil {
		return nil
	}
	u := uint32(*v)
	return &u
}

// number reads a floating point number. As in Kea's grammar, an integer is
// not one: 1 must be written 1.0.
func (d *diag) number(o *jobj, key string) *float64 {
	n := take[json.Number](d, o, key, "number", "a floating point number")
	if n == nil {
		return nil
	}
	if !isFloatLiteral(n.String()) {
		d.errorf(o.child(key), "expected a floating point number (such as %s.0), got the integer %s", *n, *n)
		return nil
	}
	return d.float(o.child(key), *n)
}

// anyNumber reads a number written either way (xdhcp's own keys).
func (d *diag) anyNumber(o *jobj, key string) *float64 {
	n := take[json.Number](d, o, key, "number", "a number")
	if n == nil {
		return nil
	}
	return d.float(o.child(key), *n)
}

func (d *diag) float(path string, n json.Number) *float64 {
	f, err := n.Float64()
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		d.errorf(path, "%s is not a valid number", n)
		return nil
	}
	return &f
}

// ipv4 reads a dotted IPv4 address. "" and "0.0.0.0" yield a valid pointer
// to the zero Addr when allowUnset (Kea uses them for "not set").
func (d *diag) ipv4(o *jobj, key string, allowUnset bool) *netip.Addr {
	s := d.str(o, key)
	if s == nil {
		return nil
	}
	a, err := parseIPv4(*s)
	if allowUnset && (*s == "" || (err == nil && a == netip.IPv4Unspecified())) {
		return &netip.Addr{}
	}
	if err != nil {
		d.errorf(o.child(key), "%q: %v", *s, err)
		return nil
	}
	return &a
}

func parseIPv4(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return netip.Addr{}, errors.New("not an IPv4 address")
	}
	if !a.Is4() {
		return netip.Addr{}, errors.New("not an IPv4 address")
	}
	return a, nil
}

// strList reads an array of strings.
func (d *diag) strList(o *jobj, key string) ([]string, bool) {
	raw, ok := o.take(key)
	if !ok {
		return nil, false
	}
	items, ok := d.array(o.child(key), raw)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(items))
	good := true
	for i, it := range items {
		var s string
		if kindOf(it) != "string" || json.Unmarshal(it, &s) != nil {
			d.errorf(fmt.Sprintf("%s[%d]", o.child(key), i), "expected a string, got %s", kindOf(it))
			good = false
			continue
		}
		out = append(out, s)
	}
	return out, good
}

// list reads an array of objects, calling fn for each with its path.
func (d *diag) list(o *jobj, key string, fn func(path string, item *jobj)) {
	raw, ok := o.take(key)
	if !ok {
		return
	}
	items, ok := d.array(o.child(key), raw)
	if !ok {
		return
	}
	for i, it := range items {
		p := fmt.Sprintf("%s[%d]", o.child(key), i)
		if item := d.object(p, it); item != nil {
			fn(p, item)
		}
	}
}

// sub reads a nested object.
func (d *diag) sub(o *jobj, key string) *jobj {
	raw, ok := o.take(key)
	if !ok {
		return nil
	}
	return d.object(o.child(key), raw)
}

// oneOf checks that s is one of allowed.
func (d *diag) oneOf(path, s string, allowed ...string) bool {
	if slices.Contains(allowed, s) {
		return true
	}
	d.errorf(path, "%q is not one of %s", s, strings.Join(allowed, ", "))
	return false
}
