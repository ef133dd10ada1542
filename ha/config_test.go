package ha

import (
	"encoding/json"
	"slices"
	"testing"

	"xdhcp/config"
)

// Parse validates HA hook parameters on their own, for tests that build a
// relationship without a whole configuration.
func Parse(params json.RawMessage, dhcpThreads int) (*config.HA, error) {
	return config.ParseHA(params, dhcpThreads)
}

// The state names the configuration accepts in state-machine.states are
// exactly the states a server can be in.
func TestConfigStateNames(t *testing.T) {
	for _, name := range config.HAStates {
		if _, ok := ParseState(name); !ok {
			t.Errorf("config.HAStates has %q, which is no state", name)
		}
	}
	for s := StateUnknown + 1; s < StateUnavailable; s++ {
		if !slices.Contains(config.HAStates, s.String()) {
			t.Errorf("state %s is missing from config.HAStates", s)
		}
	}
}
