package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDhcp6HooksChecked: xdhcpd -t on a Dhcp6 section with forensic
// logging (expressions of DHCPv6: pkt6, relay6) and run-script accepts
// them without a warning, as both are honoured for DHCPv6; parameters
// kea-dhcp6 would refuse are refused, and a DHCPv4-only expression too.
func TestDhcp6HooksChecked(t *testing.T) {
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
	v6 := map[string]any{"path": dir, "request-parser-format": "ifelse(relay6[0].option[37].exists, hexstring(relay6[0].option[37].hex, ':'), '') + uint8totext(pkt6.msgtype)"}
	if err := run(context.Background(), []string{"-t", write(v6)}, &out, &errOut); err != nil {
		t.Fatalf("xdhcpd -t: %v\n%s", err, errOut.String())
	}
	if warns := errOut.String(); strings.Contains(warns, "legal_log") || strings.Contains(warns, "run_script") || strings.Contains(warns, "lease_cmds") {
		t.Errorf("xdhcpd -t warns about a library DHCPv6 honours:\n%s", warns)
	}
	out.Reset()
	errOut.Reset()
	if err := run(context.Background(), []string{"-t", write(map[string]any{"path": dir, "request-parser-format": "pkt4.mac"})}, &out, &errOut); err == nil {
		t.Errorf("xdhcpd -t accepts a Dhcp6 forensic log expression of DHCPv4 (pkt4.mac)")
	}
	out.Reset()
	errOut.Reset()
	err := run(context.Background(), []string{"-t", write(map[string]any{"path": dir, "type": "syslog"})}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "logfile") {
		t.Errorf("xdhcpd -t accepts a Dhcp6 forensic log of type syslog: %v", err)
	}
}
