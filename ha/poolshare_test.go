package ha

import (
	"strings"
	"testing"
	"time"

	"xdhcp/slowpath/alloc"
)

// Each server takes its own half of the pools exactly in the states where
// its partner may be serving without lease updates, the halves of a pair
// are disjoint, and a partner that announced its maintenance leaves the
// whole pool to the survivor.
func TestPoolPartByState(t *testing.T) {
	now := func() time.Time { return time.Unix(1_800_000_000, 0) }
	lower, upper, whole := alloc.Part{Index: 0, Parts: 2}, alloc.Part{Index: 1, Parts: 2}, alloc.Part{}
	hs := strings.NewReplacer(`"load-balancing"`, `"hot-standby"`, `"secondary"`, `"standby"`).Replace(lbPair)
	for _, tc := range []struct {
		name, cfg string
		path      []State
		want      []alloc.Part
	}{
		{"lb primary", lbPair,
			[]State{StateLoadBalancing, StateCommunicationRecovery, StateLoadBalancing, StatePartnerDown, StateWaiting, StateTerminated},
			[]alloc.Part{whole, lower, whole, lower, whole, lower}},
		{"lb secondary", strings.Replace(lbPair, `"this-server-name": "server1"`, `"this-server-name": "server2"`, 1),
			[]State{StateLoadBalancing, StateCommunicationRecovery, StatePartnerDown, StateLoadBalancing},
			[]alloc.Part{whole, upper, upper, whole}},
		{"hs primary", hs,
			[]State{StateHotStandby, StatePartnerDown, StateHotStandby, StateTerminated},
			[]alloc.Part{whole, lower, whole, whole}},
		{"hs standby", strings.Replace(hs, `"this-server-name": "server1"`, `"this-server-name": "server2"`, 1),
			[]State{StateHotStandby, StatePartnerDown, StateWaiting},
			[]alloc.Part{whole, upper, whole}},
		{"maintenance", lbPair,
			[]State{StateLoadBalancing, StatePartnerInMaintenance, StatePartnerDown},
			[]alloc.Part{whole, whole, whole}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, r, _ := testRel(t, tc.cfg, now)
			for i, st := range tc.path {
				r.mu.Lock()
				r.transitionLocked(st, "test")
				r.mu.Unlock()
				if got := r.PoolPart(); got != tc.want[i] {
					t.Errorf("in %s: part %+v, want %+v", st, got, tc.want[i])
				}
			}
		})
	}
}
