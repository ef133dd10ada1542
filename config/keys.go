package config

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Keys: every map of a Kea DHCPv4 configuration is read by the decoder,
// which takes the keys it implements. What is left at the end of a map is
// judged against Kea 2.2's own grammar (keaGrammar, read from kea-dhcp4
// itself): a key Kea does not know there is an error, as it is in Kea
// ("valid-lifetme" is a typo, not a setting to skip); a key Kea knows and
// xdhcp does not implement yet is checked for the type Kea wants and then
// ignored with a warning naming it. notImplemented is that list, with what
// each entry would do; the README renders it.

// notImplemented lists, per map (named as in keaGrammar), the Kea 2.2 keys
// that xdhcp accepts without acting on them, with the reason. Keys that
// xdhcp reads are not here, even when it reads them only to warn about one
// value (a database lease-database type, a duid reservation).
var notImplemented = map[string]map[string]string{
	"Dhcp4": withScopeKeys(map[string]string{
		"dhcp-ddns":                 ddnsNote,
		"dhcp4o6-port":              dhcp4o6Note,
		"dhcp-queue-control":        "the packet queue is xdhcp's own (xdhcp.overload-high/-low)",
		"sanity-checks":             "leases are checked when the lease file is loaded, always",
		"compatibility":             "options are parsed by xdhcp's own rules",
		"reservations-lookup-first": "a speed choice with the same answers: xdhcp looks at the lease before a database's reservation of a candidate address",
	}),
	"subnet4": withScopeKeys(map[string]string{
		"4o6-interface":    dhcp4o6Note,
		"4o6-interface-id": dhcp4o6Note,
		"4o6-subnet":       dhcp4o6Note,
	}),
	"shared-networks": withScopeKeys(map[string]string{}),
	"interfaces-config": {
		"outbound-interface":              "replies leave by the interface the request came in on",
		"re-detect":                       "interfaces are resolved at start-up and on reload",
		"service-sockets-require-all":     socketsNote,
		"service-sockets-max-retries":     socketsNote,
		"service-sockets-retry-wait-time": socketsNote,
	},
	"lease-database": {
		"user": databaseNote, "password": databaseNote, "host": databaseNote, "port": databaseNote,
		"connect-timeout": databaseNote, "trust-anchor": databaseNote, "cert-file": databaseNote,
		"key-file": databaseNote, "cipher-list": databaseNote,
	},
}

// notImplemented6 is notImplemented for the Dhcp6 section, per map of
// keaGrammar6.
var notImplemented6 = map[string]map[string]string{
	// The same globals as Dhcp4 and the same DNS update keys at every
	// level; interfaces-config has no outbound-interface in Dhcp6.
	"Dhcp6":             withEntries(notImplemented["Dhcp4"], nil),
	"subnet6":           notImplemented["shared-networks"],
	"shared-networks":   notImplemented["shared-networks"],
	"interfaces-config": without(notImplemented["interfaces-config"], "outbound-interface"),
	"lease-database":    notImplemented["lease-database"],
	"output_options":    notImplemented["output_options"],
}

// withEntries returns a copy of m with extra added.
func withEntries(m, extra map[string]string) map[string]string {
	out := make(map[string]string, len(m)+len(extra))
	maps.Copy(out, m)
	maps.Copy(out, extra)
	return out
}

// without returns a copy of m without keys.
func without[V any](m map[string]V, keys ...string) map[string]V {
	out := make(map[string]V, len(m))
	for k, v := range m {
		if !slices.Contains(keys, k) {
			out[k] = v
		}
	}
	return out
}

// withScopeKeys adds to m the keys every level of the subnet hierarchy
// (global, shared network, subnet) has and xdhcp leaves out: DNS updates.
func withScopeKeys(m map[string]string) map[string]string {
	// ddns-replace-client-name, ddns-generated-prefix,
	// ddns-qualifying-suffix and hostname-char-set/-replacement are read:
	// they shape the host name a client is told.
	for _, k := range []string{"ddns-send-updates", "ddns-override-no-update", "ddns-override-client-update",
		"ddns-update-on-renew", "ddns-use-conflict-resolution"} {
		m[k] = ddnsNote
	}
	return m
}

const (
	ddnsNote     = "DNS updates (kea-dhcp-ddns) are not part of xdhcp"
	databaseNote = "a database connection parameter: the lease file (memfile) has no use for it, as in Kea"
	dhcp4o6Note  = "DHCPv4-over-DHCPv6 is not served"
	socketsNote  = "start-up fails when an interface cannot be opened"
)

// keyKind is the JSON type Kea's grammar wants for a key.
type keyKind uint8

const (
	kString keyKind = iota + 1
	kInt
	kFloat
	kBool
	kMap
	kList
)

// keaKey is one key of Kea's grammar. enum lists the strings Kea's grammar
// takes (as keywords) when it takes only those; fold when in any case.
type keaKey struct {
	kind keyKind
	enum []string
	fold bool
}

// keaMap is one map of Kea's grammar: its keys, whether Kea refuses it
// empty, and whether it also takes keys of its own choosing (a custom
// packet queue's parameters).
type keaMap struct {
	keys     map[string]keaKey
	nonEmpty bool
	anyKey   bool
	// required are keys Kea insists on in a map xdhcp does not read
	// (the maps xdhcp reads check their own).
	required []string
}

// mapName names the map at a JSON path as keaGrammar does: the last key
// on the path, without its index ("Dhcp4.shared-networks[0].subnet4[1]"
// is "subnet4"). hosts-databases entries are hosts-database maps.
func mapName(path string) string {
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		path = path[i+1:]
	}
	if i := strings.IndexByte(path, '['); i >= 0 {
		path = path[:i]
	}
	switch path {
	case "hosts-databases":
		return "hosts-database"
	case "output-options":
		return "output_options"
	}
	return path
}

// finish reports what is left in o once the decoder has read it. In a map
// of Kea's grammar, a key Kea does not know there is an error, as it is in
// Kea; a Kea key xdhcp does not implement is checked for the type Kea
// wants and warned about; keys the decoder skipped on purpose (comment,
// user-context) are only checked. In xdhcp's own maps (the xdhcp section,
// Kea 3's control-sockets) every key the decoder did not take is an error.
func (d *diag) finish(o *jobj) {
	if o == nil {
		return
	}
	name := mapName(o.path)
	g, keaMapHere := grammarAt(o.path)[name]
	if keaMapHere && g.nonEmpty && len(o.keys) == 0 {
		d.errorf(o.path, "empty map: Kea 2.2 refuses it (syntax error, unexpected })")
	} else {
		for _, k := range g.required {
			if _, ok := o.vals[k]; !ok {
				d.errorf(o.child(k), "missing: Kea 2.2 requires it here")
			}
		}
	}
	for _, k := range o.keys {
		if o.used[k] && !o.skipped[k] {
			continue
		}
		path := o.child(k)
		spec, inGrammar := g.keys[k]
		switch {
		case inGrammar:
			if !d.checkKind(path, o.vals[k], spec) || o.skipped[k] {
				continue
			}
			note, listed := notImplementedAt(o.path)[name][k]
			if !listed {
				note = "missing from xdhcp's list of such keys"
			}
			d.warnf(path, "Kea 2.2 key not implemented by xdhcp yet, ignored (%s)", note)
		case g.anyKey, o.skipped[k] && !keaMapHere:
		case keaMapHere:
			d.errorf(path, "unknown key: Kea 2.2 does not accept %q here either", k)
		default:
			d.errorf(path, "unknown key")
		}
	}
}

// grammarAt is the grammar of the section path is in: kea-dhcp6's for
// the Dhcp6 section, kea-dhcp4's otherwise.
func grammarAt(path string) map[string]keaMap {
	if inDhcp6(path) {
		return keaGrammar6
	}
	return keaGrammar
}

// notImplementedAt is notImplemented or, in the Dhcp6 section,
// notImplemented6.
func notImplementedAt(path string) map[string]map[string]string {
	if inDhcp6(path) {
		return notImplemented6
	}
	return notImplemented
}

func inDhcp6(path string) bool { return path == "Dhcp6" || strings.HasPrefix(path, "Dhcp6.") }

// describeMap names the map at path for an error message.
func describeMap(path string) string {
	if path == "" {
		return "the top level"
	}
	return path
}

// checkKind checks raw against the type Kea's grammar wants, and the maps
// inside it against their own grammar.
func (d *diag) checkKind(path string, raw json.RawMessage, spec keaKey) bool {
	got := kindOf(raw)
	var want string
	switch spec.kind {
	case kString:
		want = "string"
	case kInt, kFloat:
		want = "number"
	case kBool:
		want = "boolean"
	case kMap:
		want = "object"
	case kList:
		want = "array"
	}
	if got != want {
		d.errorf(path, "expected %s, got %s", kindName(spec), got)
		return false
	}
	switch spec.kind {
	case kInt:
		if _, err := strconv.ParseInt(string(raw), 10, 64); err != nil {
			d.errorf(path, "expected an integer, got %s", raw)
			return false
		}
	case kFloat:
		if !isFloatLiteral(string(raw)) {
			d.errorf(path, "expected a floating point number (such as %s.0), got the integer %s", raw, raw)
			return false
		}
	case kString:
		if len(spec.enum) > 0 {
			var s string
			_ = json.Unmarshal(raw, &s)
			v := s
			if spec.fold {
				v = strings.ToLower(s)
			}
			if !slices.Contains(spec.enum, v) {
				d.errorf(path, "%q is not one of %s", s, strings.Join(spec.enum, ", "))
				return false
			}
		}
	case kMap:
		if _, ok := grammarAt(path)[mapName(path)]; ok {
			if o := d.object(path, raw); o != nil {
				d.finishSkipped(o)
			}
		}
	case kList:
		items, ok := d.array(path, raw)
		if !ok {
			return false
		}
		if _, ok := grammarAt(path)[mapName(path)]; !ok {
			return true
		}
		for i, it := range items {
			if o := d.object(fmt.Sprintf("%s[%d]", path, i), it); o != nil {
				d.finishSkipped(o)
			}
		}
	}
	return true
}

// finishSkipped checks a map inside a key xdhcp does not implement: its
// keys are checked like any other, without a warning of their own (the
// enclosing key already has one).
func (d *diag) finishSkipped(o *jobj) {
	o.skip(o.keys...)
	d.finish(o)
}

func kindName(spec keaKey) string {
	switch spec.kind {
	case kString:
		if len(spec.enum) > 0 {
			return "one of " + strings.Join(spec.enum, ", ")
		}
		return "a string"
	case kInt:
		return "an integer"
	case kFloat:
		return "a floating point number"
	case kBool:
		return "true or false"
	case kMap:
		return "a JSON object"
	default:
		return "a JSON array"
	}
}

// NotImplementedKeys renders notImplemented and notImplemented6 as
// Markdown list items, one per map and reason, sorted: what the README's
// "Kea keys not implemented yet" section shows. The maps of the Dhcp6
// section are named Dhcp6.<map>.
func NotImplementedKeys() string {
	var sb strings.Builder
	render := func(table map[string]map[string]string, prefix string) {
		maps := make([]string, 0, len(table))
		for m := range table {
			maps = append(maps, m)
		}
		sort.Strings(maps)
		for _, m := range maps {
			byNote := map[string][]string{}
			var notes []string
			for k, note := range table[m] {
				if byNote[note] == nil {
					notes = append(notes, note)
				}
				byNote[note] = append(byNote[note], k)
			}
			sort.Strings(notes)
			label := m
			if prefix != "" && m != prefix {
				label = prefix + "." + m
			}
			for _, note := range notes {
				keys := byNote[note]
				sort.Strings(keys)
				fmt.Fprintf(&sb, "- `%s`: `%s` — %s\n", label, strings.Join(keys, "`, `"), note)
			}
		}
	}
	render(notImplemented, "")
	render(notImplemented6, "Dhcp6")
	return sb.String()
}

// withKeys returns the keys of base and own together, in a new map.
func withKeys(base, own map[string]keaKey) map[string]keaKey {
	m := make(map[string]keaKey, len(base)+len(own))
	for k, v := range base {
		m[k] = v
	}
	for k, v := range own {
		m[k] = v
	}
	return m
}
