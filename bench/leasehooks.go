package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// debianKeaHooks is where Debian installs Kea's hook libraries.
const debianKeaHooks = "/usr/lib/x86_64-linux-gnu/kea/hooks"

// withLeaseHooks adds to the server configuration cfg the lease event
// hooks SuiteOptions.LeaseHooks asks for: run-script with a trivial script
// (for both servers) and, when legal is set (xdhcpd: Kea 2.2's forensic
// logging is not open source), forensic logging into dir.
func withLeaseHooks(cfg []byte, dir, hooksDir string, legal bool) ([]byte, error) {
	if hooksDir == "" {
		hooksDir = debianKeaHooks
	}
	script := filepath.Join(dir, "lease-hook.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		return nil, fmt.Errorf("write %s: %w", script, err)
	}
	var doc map[string]map[string]any
	if err := json.Unmarshal(cfg, &doc); err != nil {
		return nil, err
	}
	d := doc["Dhcp4"]
	libs, _ := d["hooks-libraries"].([]any)
	libs = append(libs, map[string]any{"library": filepath.Join(hooksDir, "libdhcp_run_script.so"),
		"parameters": map[string]any{"name": script, "sync": false}})
	if legal {
		libs = append(libs, map[string]any{"library": filepath.Join(hooksDir, "libdhcp_legal_log.so"),
			"parameters": map[string]any{"path": dir, "base-name": "kea-legal"}})
	}
	d["hooks-libraries"] = libs
	return json.MarshalIndent(doc, "", "  ")
}
