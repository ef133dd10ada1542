package configdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// Snapshot is what the database holds for one server: its own objects
// and those of the "all" servers.
type Snapshot struct {
	Globals  Object
	Defs     []any
	Options  []any
	Classes  []Object
	Networks []Object
	Subnets  []Object
	// V6: the snapshot is of the DHCPv6 configuration, merged into
	// the Dhcp6 section's subnet6 lists.
	V6 bool
}

// Fetch reads the configuration of the server tagged tag.
func (d *DB) Fetch(ctx context.Context, tag string) (*Snapshot, error) {
	tags := []string{TagAll}
	if tag != "" && tag != TagAll {
		tags = []string{tag, TagAll}
	}
	s := &Snapshot{V6: d.v6}
	var err error
	if s.Globals, _, err = d.Globals(ctx, tags[0], true, nil); err != nil {
		return nil, fmt.Errorf("configuration database %s: global parameters: %w", d.name, err)
	}
	if s.Defs, err = d.OptionDefs(ctx, tags); err != nil {
		return nil, fmt.Errorf("configuration database %s: option definitions: %w", d.name, err)
	}
	if s.Options, err = d.GlobalOptions(ctx, tags); err != nil {
		return nil, fmt.Errorf("configuration database %s: global options: %w", d.name, err)
	}
	if s.Classes, err = d.Classes(ctx, tags); err != nil {
		return nil, fmt.Errorf("configuration database %s: client classes: %w", d.name, err)
	}
	if s.Networks, err = d.Networks(ctx, tags); err != nil {
		return nil, fmt.Errorf("configuration database %s: shared networks: %w", d.name, err)
	}
	if s.Subnets, err = d.Subnets(ctx, tags); err != nil {
		return nil, fmt.Errorf("configuration database %s: subnets: %w", d.name, err)
	}
	return s, nil
}

// Merge returns the configuration document doc (Kea's JSON with a Dhcp4
// section) with the snapshot merged in as Kea merges its configuration
// backend: global parameters set, global options, classes and shared
// networks replaced by code/name or added, subnets replaced by id or
// added, inside their shared network when they name one the
// configuration has.
func (s *Snapshot) Merge(doc []byte) ([]byte, error) {
	var top map[string]any
	if err := decode(doc, &top); err != nil {
		return nil, fmt.Errorf("merge configuration backend: %w", err)
	}
	section, subnetKey := "Dhcp4", "subnet4"
	if s.V6 {
		section, subnetKey = "Dhcp6", "subnet6"
	}
	d4, ok := top[section].(map[string]any)
	if !ok {
		return nil, errors.New("merge configuration backend: no " + section + " section")
	}
	optionIdentity := func(m map[string]any) string { return optionIdentity(m, s.V6) }
	for k, v := range s.Globals {
		d4[k] = v
	}
	d4["option-def"] = mergeBy(list(d4["option-def"]), s.Defs, optionIdentity)
	d4["option-data"] = mergeBy(list(d4["option-data"]), s.Options, optionIdentity)
	classes := make([]any, 0, len(s.Classes))
	for _, c := range s.Classes {
		classes = append(classes, strip(c))
	}
	d4["client-classes"] = mergeBy(list(d4["client-classes"]), classes, nameIdentity)
	networks := make([]any, 0, len(s.Networks))
	for _, n := range s.Networks {
		networks = append(networks, strip(n))
	}
	nets := mergeBy(list(d4["shared-networks"]), networks, nameIdentity)
	subnets := list(d4[subnetKey])
	for _, sn := range s.Subnets {
		sub := strip(sn)
		id := fmt.Sprint(sub["id"])
		net, _ := sub["shared-network-name"].(string)
		delete(sub, "shared-network-name")
		// The database's subnet replaces the file's of the same id
		// wherever it was.
		subnets = removeID(subnets, id)
		for _, n := range nets {
			if nm, ok := n.(map[string]any); ok {
				nm[subnetKey] = removeID(list(nm[subnetKey]), id)
			}
		}
		placed := false
		for _, n := range nets {
			if nm, ok := n.(map[string]any); ok && net != "" && nm["name"] == net {
				nm[subnetKey] = append(list(nm[subnetKey]), sub)
				placed = true
			}
		}
		if !placed {
			subnets = append(subnets, sub)
		}
	}
	d4[subnetKey], d4["shared-networks"] = subnets, nets
	for _, k := range []string{"option-def", "option-data", "client-classes", subnetKey, "shared-networks"} {
		if l, ok := d4[k].([]any); ok && len(l) == 0 {
			delete(d4, k)
		}
	}
	return json.Marshal(top)
}

// strip drops what the backend adds to an object (its server tags).
func strip(o Object) Object {
	out := make(Object, len(o))
	for k, v := range o {
		if k != "metadata" {
			out[k] = v
		}
	}
	return out
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

func removeID(l []any, id string) []any {
	out := make([]any, 0, len(l))
	for _, x := range l {
		if m, ok := x.(map[string]any); ok && fmt.Sprint(m["id"]) == id {
			continue
		}
		out = append(out, x)
	}
	return out
}

func nameIdentity(m map[string]any) string { s, _ := m["name"].(string); return s }

func optionIdentity(m map[string]any, v6 bool) string {
	code, space, err := optionKey(m, v6)
	if err != nil {
		return ""
	}
	return fmt.Sprint(space, "/", code)
}

// mergeBy replaces the entries of base whose identity an entry of add
// has, and appends the others.
func mergeBy(base, add []any, id func(map[string]any) string) []any {
	out := append([]any(nil), base...)
	for _, a := range add {
		am, _ := a.(map[string]any)
		k := id(am)
		replaced := false
		for i, b := range out {
			if bm, ok := b.(map[string]any); ok && k != "" && id(bm) == k {
				out[i], replaced = a, true
				break
			}
		}
		if !replaced {
			out = append(out, a)
		}
	}
	return out
}
