package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestSplitList(t *testing.T) {
	for in, want := range map[string][]string{
		"":                nil,
		"S1":              {"S1"},
		" S1, S5 ,,S6/S7": {"S1", "S5", "S6/S7"},
	} {
		if got := splitList(in); !slices.Equal(got, want) {
			t.Errorf("splitList(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWriteLeases(t *testing.T) {
	p := filepath.Join(t.TempDir(), "leases.json")
	in := map[[6]byte]netip.Addr{
		{0x02, 0x58, 0, 0, 0, 1}: netip.MustParseAddr("10.1.0.1"),
		{0x02, 0x58, 0, 0, 0, 2}: netip.MustParseAddr("10.1.0.2"),
	}
	if err := writeLeases(p, in); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["02:58:00:00:00:01"] != "10.1.0.1" || got["02:58:00:00:00:02"] != "10.1.0.2" {
		t.Errorf("%v", got)
	}
	if err := writeLeases(filepath.Join(t.TempDir(), "no", "such", "dir"), in); err == nil {
		t.Error("unwritable path accepted")
	}
}

func TestRunUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run(context.Background(), nil, &out, &errb); err == nil || !strings.Contains(errb.String(), "xdhcp-bench suite") {
		t.Errorf("no subcommand: %v, %q", err, errb.String())
	}
	if err := run(context.Background(), []string{"nope"}, &out, &errb); err == nil {
		t.Error("unknown subcommand accepted")
	}
	if err := run(context.Background(), []string{"suite", "-bogus"}, &out, &errb); err == nil {
		t.Error("unknown suite flag accepted")
	}
}

// -v6 takes IPv6 prefixes for the address and prefix checks and refuses
// the DHCPv4 default subnet and a non-IPv6 delegated range.
func TestLoadFlagsV6(t *testing.T) {
	f := loadFlags{mode: "open", rate: 1, clients: 1, v6: true, server: "10.77.0.1", macPrefix: "02:58",
		subnet: "2001:db8:1::/64", delegated: "2001:db8:100::/40"}
	c, err := f.config()
	if err != nil || !c.V6 || c.Subnet.String() != "2001:db8:1::/64" || c.Delegated.String() != "2001:db8:100::/40" {
		t.Fatalf("config %+v, %v", c, err)
	}
	for _, bad := range []loadFlags{{subnet: "10.77.0.0/16"}, {subnet: "2001:db8:1::/64", delegated: "10.0.0.0/8"}} {
		g := f
		g.subnet, g.delegated = bad.subnet, bad.delegated
		if _, err := g.config(); err == nil {
			t.Errorf("-v6 -subnet %q -delegated %q accepted", bad.subnet, bad.delegated)
		}
	}
}
