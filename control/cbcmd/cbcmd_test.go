package cbcmd

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"xdhcp/configdb"
	"xdhcp/control"
)

// TestKeaCommandSet: every command of Kea 2.2's cb_cmds (as Kea's API
// reference installed by kea-doc lists them) is answered, for DHCPv4 and
// DHCPv6.
func TestKeaCommandSet(t *testing.T) {
	files, _ := filepath.Glob("/usr/share/doc/kea/api/remote-*[46]*.json")
	if len(files) == 0 {
		t.Skip("Kea's API reference (kea-doc) is not installed")
	}
	s := control.NewServer(nil)
	New(func() *configdb.DB { return nil }, func(*configdb.Snapshot) error { return nil }).Register(s)
	New6(func() *configdb.DB { return nil }, func(*configdb.Snapshot) error { return nil }).Register(s)
	a := s.Dispatch(context.Background(), []byte(`{"command":"list-commands"}`), "", "")
	have, _ := a.Arguments.([]string)
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		if !slices.Contains(have, name) {
			t.Errorf("%s is not answered", name)
		}
	}
}

// TestArguments: Kea's argument rules for server tags and object lists,
// and the answer without a configuration database.
func TestArguments(t *testing.T) {
	s := control.NewServer(nil)
	New(func() *configdb.DB { return nil }, nil).Register(s)
	a := s.Dispatch(context.Background(), []byte(`{"command":"remote-subnet4-list","arguments":{}}`), "", "")
	if a.Result != control.ResultError || !strings.Contains(a.Text, "no configuration backend") {
		t.Errorf("without config-control: %+v", a)
	}
	for _, tc := range []struct {
		args, err string
	}{
		{`{}`, "'server-tags' parameter is mandatory"},
		{`{"server-tags": []}`, "non-empty list"},
		{`{"server-tags": ["all", "a"]}`, "'all' server tag must not be specified with other server tags"},
		{`{"server-tags": [5]}`, "non-empty list of strings"},
	} {
		var m args
		json.Unmarshal([]byte(tc.args), &m)
		if _, err := m.tags(true); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("tags %s: %v, want %q", tc.args, err, tc.err)
		}
	}
	var m args
	json.Unmarshal([]byte(`{"server-tags": ["a", "b"]}`), &m)
	if _, err := m.oneTag(); err == nil {
		t.Error("two tags where one is expected were taken")
	}
	json.Unmarshal([]byte(`{"subnets": [{"id": 1}, {"id": 2}]}`), &m)
	if _, err := m.objects("subnets", true); err == nil {
		t.Error("two subnets where one is expected were taken")
	}
	json.Unmarshal([]byte(`{"subnets": [{"subnet": "10.1.2.3/24"}]}`), &m)
	if _, p, err := subnetKey(&configdb.DB{}, m, true); err != nil || p != "10.1.2.0/24" {
		t.Errorf("subnet prefix: %q %v", p, err)
	}
	json.Unmarshal([]byte(`{"subnets": [{"subnet": "2001:db8::/64"}]}`), &m)
	if _, _, err := subnetKey(&configdb.DB{}, m, true); err == nil {
		t.Error("an IPv6 prefix was taken for an IPv4 subnet")
	}
}
