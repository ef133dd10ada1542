package config

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// keyPlaces puts a member into each map of keaGrammar, inside a document
// that is otherwise valid, so that a key's fate can be read from what
// Parse says about it.
var keyPlaces = map[string]struct{ doc, path string }{
	"Dhcp4":                     {`{"Dhcp4": {@}}`, "Dhcp4"},
	"subnet4":                   {`{"Dhcp4": {"subnet4": [{"id": 1, "subnet": "10.0.0.0/24", @}]}}`, "Dhcp4.subnet4[0]"},
	"shared-networks":           {`{"Dhcp4": {"shared-networks": [{"name": "n", @}]}}`, "Dhcp4.shared-networks[0]"},
	"pools":                     {`{"Dhcp4": {"subnet4": [{"id": 1, "subnet": "10.0.0.0/24", "pools": [{"pool": "10.0.0.5-10.0.0.9", @}]}]}}`, "Dhcp4.subnet4[0].pools[0]"},
	"reservations":              {`{"Dhcp4": {"reservations": [{@}]}}`, "Dhcp4.reservations[0]"},
	"relay":                     {`{"Dhcp4": {"subnet4": [{"id": 1, "subnet": "10.0.0.0/24", "relay": {@}}]}}`, "Dhcp4.subnet4[0].relay"},
	"option-data":               {`{"Dhcp4": {"option-data": [{@}]}}`, "Dhcp4.option-data[0]"},
	"option-def":                {`{"Dhcp4": {"option-def": [{@}]}}`, "Dhcp4.option-def[0]"},
	"client-classes":            {`{"Dhcp4": {"client-classes": [{"name": "c", @}]}}`, "Dhcp4.client-classes[0]"},
	"interfaces-config":         {`{"Dhcp4": {"interfaces-config": {@}}}`, "Dhcp4.interfaces-config"},
	"lease-database":            {`{"Dhcp4": {"lease-database": {@}}}`, "Dhcp4.lease-database"},
	"hosts-database":            {`{"Dhcp4": {"hosts-database": {@}}}`, "Dhcp4.hosts-database"},
	"expired-leases-processing": {`{"Dhcp4": {"expired-leases-processing": {@}}}`, "Dhcp4.expired-leases-processing"},
	"multi-threading":           {`{"Dhcp4": {"multi-threading": {@}}}`, "Dhcp4.multi-threading"},
	"control-socket":            {`{"Dhcp4": {"control-socket": {"socket-type": "unix", "socket-name": "/s", @}}}`, "Dhcp4.control-socket"},
	"dhcp-queue-control":        {`{"Dhcp4": {"dhcp-queue-control": {"enable-queue": false, @}}}`, "Dhcp4.dhcp-queue-control"},
	"dhcp-ddns":                 {`{"Dhcp4": {"dhcp-ddns": {"enable-updates": false, @}}}`, "Dhcp4.dhcp-ddns"},
	"loggers":                   {`{"Dhcp4": {"loggers": [{"name": "kea-dhcp4", @}]}}`, "Dhcp4.loggers[0]"},
	"output_options":            {`{"Dhcp4": {"loggers": [{"name": "kea-dhcp4", "output_options": [{"output": "stdout", @}]}]}}`, "Dhcp4.loggers[0].output_options[0]"},
	"config-control":            {`{"Dhcp4": {"config-control": {@}}}`, "Dhcp4.config-control"},
	"config-databases":          {`{"Dhcp4": {"config-control": {"config-databases": [{@}]}}}`, "Dhcp4.config-control.config-databases[0]"},
	"compatibility":             {`{"Dhcp4": {"compatibility": {@}}}`, "Dhcp4.compatibility"},
	"sanity-checks":             {`{"Dhcp4": {"sanity-checks": {@}}}`, "Dhcp4.sanity-checks"},
	"hooks-libraries":           {`{"Dhcp4": {"hooks-libraries": [{"library": "/x/libdhcp_lease_cmds.so", @}]}}`, "Dhcp4.hooks-libraries[0]"},
}

// sampleValue is a value of the type Kea wants for spec.
func sampleValue(spec keaKey) string {
	switch spec.kind {
	case kString:
		if len(spec.enum) > 0 {
			return `"` + spec.enum[0] + `"`
		}
		return `"x"`
	case kInt:
		return "1"
	case kFloat:
		return "0.5"
	case kBool:
		return "false"
	case kMap:
		return "{}"
	default:
		return "[]"
	}
}

// Every key of Kea 2.2's grammar is either read by xdhcp or listed as not
// implemented, never refused as unknown; a listed key is one xdhcp really
// leaves out (it gets the warning), and every map has a place to test it.
func TestEveryKeaKeyIsReadOrListed(t *testing.T) {
	everyKeyReadOrListed(t, keaGrammar, keyPlaces, notImplemented)
}

func TestEveryKea6KeyIsReadOrListed(t *testing.T) {
	everyKeyReadOrListed(t, keaGrammar6, keyPlaces6, notImplemented6)
}

func everyKeyReadOrListed(t *testing.T, grammar map[string]keaMap, places map[string]struct{ doc, path string }, notImpl map[string]map[string]string) {
	for name, g := range grammar {
		place, ok := places[name]
		if !ok {
			t.Errorf("keyPlaces has no document for map %q", name)
			continue
		}
		for key, spec := range g.keys {
			if strings.Contains(place.doc, `"`+key+`":`) {
				continue // read by xdhcp: the document needs it
			}
			doc := strings.Replace(place.doc, "@", `"`+key+`": `+sampleValue(spec), 1)
			doc = strings.Replace(doc, ", }", "}", 1)
			path := place.path + "." + key
			c, err := parseWithWarnings([]byte(doc), "", nil)
			if err != nil && strings.Contains(err.Error(), path+": unknown key") {
				t.Errorf("%s: Kea 2.2 knows it, xdhcp calls it unknown", path)
			}
			if c == nil {
				t.Errorf("%s: %v", path, err)
				continue
			}
			warned := slices.ContainsFunc(c.Warnings, func(w string) bool {
				return strings.HasPrefix(w, path+": Kea 2.2 key not implemented")
			})
			_, listed := notImpl[name][key]
			if warned && !listed {
				t.Errorf("%s: left out by xdhcp but missing from the not-implemented table", path)
			}
			if listed && !warned {
				t.Errorf("%s: listed as not implemented but no warning (xdhcp reads it now?)", path)
			}
		}
	}
	for name, keys := range notImpl {
		for key := range keys {
			if _, ok := grammar[name].keys[key]; !ok {
				t.Errorf("not implemented [%q][%q]: not a key of Kea 2.2's grammar there", name, key)
			}
		}
	}
}

// keyPlaces6 is keyPlaces for the maps of keaGrammar6.
var keyPlaces6 = map[string]struct{ doc, path string }{
	"Dhcp6":                     {`{"Dhcp6": {@}}`, "Dhcp6"},
	"subnet6":                   {`{"Dhcp6": {"subnet6": [{"id": 1, "subnet": "2001:db8::/64", @}]}}`, "Dhcp6.subnet6[0]"},
	"shared-networks":           {`{"Dhcp6": {"shared-networks": [{"name": "n", @}]}}`, "Dhcp6.shared-networks[0]"},
	"pools":                     {`{"Dhcp6": {"subnet6": [{"id": 1, "subnet": "2001:db8::/64", "pools": [{"pool": "2001:db8::5-2001:db8::9", @}]}]}}`, "Dhcp6.subnet6[0].pools[0]"},
	"pd-pools":                  {`{"Dhcp6": {"subnet6": [{"id": 1, "subnet": "2001:db8::/64", "pd-pools": [{"prefix": "3000::", "prefix-len": 48, "delegated-len": 56, @}]}]}}`, "Dhcp6.subnet6[0].pd-pools[0]"},
	"reservations":              {`{"Dhcp6": {"reservations": [{@}]}}`, "Dhcp6.reservations[0]"},
	"relay":                     {`{"Dhcp6": {"subnet6": [{"id": 1, "subnet": "2001:db8::/64", "relay": {@}}]}}`, "Dhcp6.subnet6[0].relay"},
	"option-data":               {`{"Dhcp6": {"option-data": [{@}]}}`, "Dhcp6.option-data[0]"},
	"option-def":                {`{"Dhcp6": {"option-def": [{@}]}}`, "Dhcp6.option-def[0]"},
	"client-classes":            {`{"Dhcp6": {"client-classes": [{"name": "c", @}]}}`, "Dhcp6.client-classes[0]"},
	"interfaces-config":         {`{"Dhcp6": {"interfaces-config": {@}}}`, "Dhcp6.interfaces-config"},
	"lease-database":            {`{"Dhcp6": {"lease-database": {@}}}`, "Dhcp6.lease-database"},
	"hosts-database":            {`{"Dhcp6": {"hosts-database": {@}}}`, "Dhcp6.hosts-database"},
	"expired-leases-processing": {`{"Dhcp6": {"expired-leases-processing": {@}}}`, "Dhcp6.expired-leases-processing"},
	"multi-threading":           {`{"Dhcp6": {"multi-threading": {@}}}`, "Dhcp6.multi-threading"},
	"control-socket":            {`{"Dhcp6": {"control-socket": {"socket-type": "unix", "socket-name": "/s", @}}}`, "Dhcp6.control-socket"},
	"dhcp-queue-control":        {`{"Dhcp6": {"dhcp-queue-control": {"enable-queue": false, @}}}`, "Dhcp6.dhcp-queue-control"},
	"dhcp-ddns":                 {`{"Dhcp6": {"dhcp-ddns": {"enable-updates": false, @}}}`, "Dhcp6.dhcp-ddns"},
	"loggers":                   {`{"Dhcp6": {"loggers": [{"name": "kea-dhcp6", @}]}}`, "Dhcp6.loggers[0]"},
	"output_options":            {`{"Dhcp6": {"loggers": [{"name": "kea-dhcp6", "output_options": [{"output": "stdout", @}]}]}}`, "Dhcp6.loggers[0].output_options[0]"},
	"config-control":            {`{"Dhcp6": {"config-control": {@}}}`, "Dhcp6.config-control"},
	"config-databases":          {`{"Dhcp6": {"config-control": {"config-databases": [{@}]}}}`, "Dhcp6.config-control.config-databases[0]"},
	"compatibility":             {`{"Dhcp6": {"compatibility": {@}}}`, "Dhcp6.compatibility"},
	"sanity-checks":             {`{"Dhcp6": {"sanity-checks": {@}}}`, "Dhcp6.sanity-checks"},
	"hooks-libraries":           {`{"Dhcp6": {"hooks-libraries": [{"library": "/x/libdhcp_lease_cmds.so", @}]}}`, "Dhcp6.hooks-libraries[0]"},
	"server-id":                 {`{"Dhcp6": {"server-id": {@}}}`, "Dhcp6.server-id"},
}

// The README's "Kea keys not implemented yet" section is NotImplementedKeys.
func TestREADMEListsNotImplementedKeys(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const heading = "### Kea keys not implemented yet\n"
	_, sec, ok := strings.Cut(string(data), heading)
	if !ok {
		t.Fatalf("README has no %q section", strings.TrimSpace(heading))
	}
	if i := strings.Index(sec, "\n#"); i >= 0 {
		sec = sec[:i]
	}
	var got []string
	for _, line := range strings.Split(sec, "\n") {
		if strings.HasPrefix(line, "- ") {
			got = append(got, line)
		}
	}
	want := strings.Split(strings.TrimSpace(NotImplementedKeys()), "\n")
	if !slices.Equal(got, want) {
		t.Errorf("README list differs from config/keys.go; replace it with:\n%s", NotImplementedKeys())
	}
}

// TestKeaGrammarMatchesKea checks keaGrammar against kea-dhcp4 itself:
// each key, given null, must get past Kea's key check (Kea then complains
// about the value), and a made-up key must not, in every map. keaGrammar
// was written by the same probe run over every keyword kea-dhcp4 2.2.0
// knows in every map. It starts a few hundred kea-dhcp4 -t, so it runs
// only with XDHCP_KEA_GRAMMAR=1.
func TestKeaGrammarMatchesKea(t *testing.T) {
	grammarMatchesKea(t, "kea-dhcp4", keaGrammar, keyPlaces)
}

// TestKeaGrammar6MatchesKea is TestKeaGrammarMatchesKea for keaGrammar6
// and kea-dhcp6.
func TestKeaGrammar6MatchesKea(t *testing.T) {
	grammarMatchesKea(t, "kea-dhcp6", keaGrammar6, keyPlaces6)
}

func grammarMatchesKea(t *testing.T, server string, grammar map[string]keaMap, places map[string]struct{ doc, path string }) {
	if os.Getenv("XDHCP_KEA_GRAMMAR") != "1" {
		t.Skipf("set XDHCP_KEA_GRAMMAR=1 to probe %s (a few minutes)", server)
	}
	kea, err := exec.LookPath(server)
	if err != nil {
		t.Skipf("%s is not installed", server)
	}
	dir := t.TempDir()
	refused := func(doc string) (bool, string) {
		f := filepath.Join(dir, "probe.json")
		if err := os.WriteFile(f, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(kea, "-t", f)
		cmd.Env = append(os.Environ(), "KEA_PIDFILE_DIR="+dir, "KEA_LOCKFILE_DIR="+dir)
		out, _ := cmd.CombinedOutput()
		s := string(out)
		return strings.Contains(s, "got unexpected keyword") || strings.Contains(s, "unexpected constant string"), s
	}
	for name, g := range grammar {
		place := places[name]
		for key := range g.keys {
			if strings.Contains(place.doc, `"`+key+`":`) {
				continue
			}
			if bad, out := refused(strings.Replace(place.doc, "@", `"`+key+`": null`, 1)); bad {
				t.Errorf("%s.%s: %s does not know it:\n%s", name, key, server, out)
			}
		}
		if g.anyKey {
			continue
		}
		if bad, out := refused(strings.Replace(place.doc, "@", `"xdhcp-no-such-key": null`, 1)); !bad {
			t.Errorf("%s: %s takes a made-up key:\n%s", name, server, out)
		}
	}
}
