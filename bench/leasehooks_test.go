package bench

import (
	"encoding/json"
	"path/filepath"
	"testing"
)

func TestWithLeaseHooks(t *testing.T) {
	dir := t.TempDir()
	cfg, err := withLeaseHooks(xdhcpConfig(filepath.Join(dir, "l.csv"), nil, "", filepath.Join(dir, "pins")), dir, "", true, "", false)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Dhcp4 struct {
			Hooks []struct {
				Library    string         `json:"library"`
				Parameters map[string]any `json:"parameters"`
			} `json:"hooks-libraries"`
		}
	}
	if err := json.Unmarshal(cfg, &doc); err != nil {
		t.Fatal(err)
	}
	h := doc.Dhcp4.Hooks
	if len(h) != 2 || filepath.Base(h[0].Library) != "libdhcp_run_script.so" || filepath.Base(h[1].Library) != "libdhcp_legal_log.so" ||
		h[0].Parameters["name"] != filepath.Join(dir, "lease-hook.sh") || h[1].Parameters["path"] != dir {
		t.Errorf("hooks-libraries %+v", h)
	}
}
