package main

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestKea6ExamplesAgree is TestKeaExamplesAgree for DHCPv6: kea-dhcp6 -t
// and xdhcpd -t on every Kea 2.2 DHCPv6 example (Debian's kea-doc), the
// stock /etc/kea/kea-dhcp6.conf and broken variants, agreeing on each.
func TestKea6ExamplesAgree(t *testing.T) {
	keaExamplesAgree(t, keaExamplesFamily{
		server: "kea-dhcp6", dir: "/usr/share/doc/kea/examples/kea6", stock: "/etc/kea/kea-dhcp6.conf",
		lab: "kex6", broken: brokenVariants6, section: "Dhcp6.",
	})
}

// brokenVariants6 writes Dhcp6 configurations Kea refuses: each must be
// refused by xdhcpd too, naming the JSON path.
func brokenVariants6(t *testing.T, dir string) []string {
	t.Helper()
	base := `{"Dhcp6": {
	"interfaces-config": {"interfaces": ["eth0"]},
	"preferred-lifetime": 3000,
	"valid-lifetime": 4000,
	"subnet6": [%s]
}}`
	const sub = `"id": 1, "subnet": "2001:db8:1::/64"`
	variants := map[string]string{
		"broken-misspelt-key.json":      `{` + sub + `, "prefered-lifetime": 10}`,
		"broken-pool-outside.json":      `{` + sub + `, "pools": [{"pool": "2001:db8:2::10 - 2001:db8:2::20"}]}`,
		"broken-bad-pd-prefix.json":     `{` + sub + `, "pd-pools": [{"prefix": "3000:1::/48", "prefix-len": 48, "delegated-len": 56}]}`,
		"broken-pd-overlaps-pool.json":  `{` + sub + `, "pools": [{"pool": "2001:db8:1::/80"}], "pd-pools": [{"prefix": "2001:db8:1::", "prefix-len": 64, "delegated-len": 64}]}`,
		"broken-reserved-outside.json":  `{` + sub + `, "reservations": [{"duid": "01:02:03", "ip-addresses": ["2001:db8:9::1"]}]}`,
		"broken-pd-delegated-len.json":  `{` + sub + `, "pd-pools": [{"prefix": "3000::", "prefix-len": 48, "delegated-len": 40}]}`,
		"broken-excluded-prefix.json":   `{` + sub + `, "pd-pools": [{"prefix": "3000::", "prefix-len": 48, "delegated-len": 56, "excluded-prefix": "3000::", "excluded-prefix-len": 48}]}`,
		"broken-duplicate-id.json":      `{` + sub + `}, {"id": 1, "subnet": "2001:db8:2::/64"}`,
		"broken-ipv4-subnet.json":       `{"id": 1, "subnet": "192.0.2.0/24"}`,
		"broken-missing-iface.json":     `{` + sub + `, "interface": "nosuch0"}`,
		"broken-rapid-commit-type.json": `{` + sub + `, "rapid-commit": "yes"}`,
		"broken-v4-key.json":            `{` + sub + `, "next-server": "192.0.2.1"}`,
		"broken-class-test.json":        `{` + sub + `, "client-class": "x"}], "client-classes": [{"name": "x", "test": "pkt4.mac == 0x01"}`,
	}
	var out []string
	for _, name := range slices.Sorted(maps.Keys(variants)) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(fmt.Sprintf(base, variants[name])), 0o644); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}
