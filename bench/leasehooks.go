package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// debianKeaHooks is where Debian installs Kea's hook libraries.
const debianKeaHooks = "/usr/lib/x86_64-linux-gnu/kea/hooks"

// The lease event hooks SuiteOptions.LeaseHookSet can name: both (the
// default), or one alone to tell their costs apart.
const (
	HooksBoth      = "both"
	HooksLegalLog  = "legal-log"
	HooksRunScript = "run-script"
)

// leaseHookOptions are the suite's options of the hooked variants.
type leaseHookOptions struct {
	set     string // HooksBoth ("": both), HooksLegalLog or HooksRunScript
	durable bool   // the forensic log's durable-before-reply
	script  string // run-script's script; "": a trivial one
}

// withLeaseHooks adds to the server configuration cfg the lease event
// hooks SuiteOptions.LeaseHooks asks for: run-script (for both servers)
// unless o.set is HooksLegalLog, with o.script or a trivial script
// written into dir, and, when legal is set (xdhcpd: Kea 2.2's forensic
// logging is not open source) and o.set is not HooksRunScript, forensic
// logging into dir.
func withLeaseHooks(cfg []byte, dir, hooksDir string, legal bool, o leaseHookOptions) ([]byte, error) {
	set, durable := o.set, o.durable
	switch set {
	case "", HooksBoth, HooksLegalLog, HooksRunScript:
	default:
		return nil, fmt.Errorf("lease hooks %q: expected %s, %s or %s", set, HooksBoth, HooksLegalLog, HooksRunScript)
	}
	if hooksDir == "" {
		hooksDir = debianKeaHooks
	}
	script := o.script
	if script == "" {
		script = filepath.Join(dir, "lease-hook.sh")
		if err := os.WriteFile(script, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
			return nil, fmt.Errorf("write %s: %w", script, err)
		}
	}
	var doc map[string]map[string]any
	if err := json.Unmarshal(cfg, &doc); err != nil {
		return nil, err
	}
	d := doc["Dhcp4"]
	libs, _ := d["hooks-libraries"].([]any)
	if set != HooksLegalLog {
		libs = append(libs, map[string]any{"library": filepath.Join(hooksDir, "libdhcp_run_script.so"),
			"parameters": map[string]any{"name": script, "sync": false}})
	}
	if legal && set != HooksRunScript {
		params := map[string]any{"path": dir, "base-name": "kea-legal"}
		if durable {
			params["durable-before-reply"] = true
		}
		libs = append(libs, map[string]any{"library": filepath.Join(hooksDir, "libdhcp_legal_log.so"), "parameters": params})
	}
	d["hooks-libraries"] = libs
	return json.MarshalIndent(doc, "", "  ")
}
