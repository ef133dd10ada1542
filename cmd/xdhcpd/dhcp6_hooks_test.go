package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDhcp6HooksWarned: xdhcpd -t on a Dhcp6 section listing the hook
// libraries xdhcp honours for DHCPv4 only warns about each one, so an
// operator is not silently left without a DHCPv6 forensic log, script or
// partner; parameters kea-dhcp6 would refuse are refused.
func TestDhcp6HooksWarned(t *testing.T) {
	dir := t.TempDir()
	const hooks = "/usr/lib/x86_64-linux-gnu/kea/hooks/"
	write := func(legalParams map[string]any) string {
		doc := map[string]any{"Dhcp6": map[string]any{
			"interfaces-config": map[string]any{"interfaces": []string{}},
			"lease-database":    map[string]any{"type": "memfile", "name": filepath.Join(dir, "leases6.csv")},
			"hooks-libraries": []any{
				map[string]any{"library": hooks + "libdhcp_legal_log.so", "parameters": legalParams},
				map[string]any{"library": hooks + "libdhcp_run_script.so", "parameters": map[string]any{"name": "/bin/true"}},
				map[string]any{"library": hooks + "libdhcp_lease_cmds.so"},
			},
		}}
		b, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "xdhcpd6.json")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	var out, errOut strings.Builder
	if err := run(context.Background(), []string{"-t", write(map[string]any{"path": dir})}, &out, &errOut); err != nil {
		t.Fatalf("xdhcpd -t: %v\n%s", err, errOut.String())
	}
	warns := errOut.String()
	for _, want := range []string{
		"libdhcp_legal_log.so: forensic logging is not done for DHCPv6",
		"libdhcp_run_script.so: run-script is not done for DHCPv6",
	} {
		if !strings.Contains(warns, "WARN") || !strings.Contains(warns, want) {
			t.Errorf("xdhcpd -t does not warn %q; stderr:\n%s", want, warns)
		}
	}
	if strings.Contains(warns, "lease_cmds") {
		t.Errorf("xdhcpd -t warns about lease_cmds, which DHCPv6 honours:\n%s", warns)
	}
	out.Reset()
	errOut.Reset()
	err := run(context.Background(), []string{"-t", write(map[string]any{"path": dir, "type": "syslog"})}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "logfile") {
		t.Errorf("xdhcpd -t accepts a Dhcp6 forensic log of type syslog: %v", err)
	}
}
