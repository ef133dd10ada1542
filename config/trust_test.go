package config

import (
	"strings"
	"testing"
)

func TestTrustKeys(t *testing.T) {
	c := mustParse(t, []byte(`{"Dhcp4": {}}`))
	if c.XDHCP.SkipRelayCheck || c.XDHCP.TrustsInterface("eth0") {
		t.Errorf("defaults: relay check skipped %v, eth0 trusted %v; want checked, untrusted", c.XDHCP.SkipRelayCheck, c.XDHCP.TrustsInterface("eth0"))
	}
	c = mustParse(t, []byte(`{"Dhcp4": {"xdhcp": {"relay-source-check": false, "trusted-interfaces": ["eth1"]}}}`))
	if !c.XDHCP.SkipRelayCheck || !c.XDHCP.TrustsInterface("eth1") || c.XDHCP.TrustsInterface("eth0") {
		t.Errorf("parsed: %+v", c.XDHCP)
	}
	c = mustParse(t, []byte(`{"Dhcp4": {"xdhcp": {"trusted-interfaces": ["*"]}}}`))
	if !c.XDHCP.TrustsInterface("anything") {
		t.Error(`"*" does not trust every interface`)
	}
	for _, bad := range []string{
		`{"Dhcp4": {"xdhcp": {"relay-source-check": "no"}}}`,
		`{"Dhcp4": {"xdhcp": {"trusted-interfaces": "eth0"}}}`,
		`{"Dhcp4": {"xdhcp": {"trusted-interfaces": [""]}}}`,
	} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		} else if !strings.Contains(err.Error(), "xdhcp") {
			t.Errorf("%s: error %q does not name the key's path", bad, err)
		}
	}
}
