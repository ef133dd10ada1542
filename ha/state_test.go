package ha

import (
	"testing"
	"time"
)

func TestStateNames(t *testing.T) {
	// The wire names must be exactly Kea's (§8).
	want := []string{"waiting", "syncing", "ready", "load-balancing", "hot-standby", "partner-down",
		"partner-in-maintenance", "in-maintenance", "communication-recovery", "terminated", "backup",
		"passive-backup", "unavailable"}
	for _, n := range want {
		s, ok := ParseState(n)
		if !ok || s.String() != n {
			t.Errorf("ParseState(%q) = %v, %v", n, s, ok)
		}
	}
	if _, ok := ParseState("unknown"); ok {
		t.Error(`"unknown" must not parse`)
	}
	if _, ok := ParseState("HOT-STANDBY"); ok {
		t.Error("state names are case-sensitive")
	}
}

func TestDecide(t *testing.T) {
	hs := view{mode: ModeHotStandby, role: RolePrimary, syncLeases: true}
	lb := view{mode: ModeLoadBalancing, role: RolePrimary, syncLeases: true, delayedUpdates: true}
	with := func(v view, f func(*view)) view { f(&v); return v }
	tests := []struct {
		name string
		v    view
		next State
		act  action
	}{
		// waiting
		{"waiting, partner unknown: stay", with(hs, func(v *view) { v.state = StateWaiting }), StateWaiting, actNone},
		{"waiting, partner hot-standby: sync", with(hs, func(v *view) { v.state, v.partner = StateWaiting, StateHotStandby }), StateSyncing, actSync},
		{"waiting, partner ready, no sync-leases: ready", with(hs, func(v *view) {
			v.state, v.partner, v.syncLeases = StateWaiting, StateReady, false
		}), StateReady, actNone},
		{"both waiting: primary proceeds", with(hs, func(v *view) { v.state, v.partner = StateWaiting, StateWaiting }), StateSyncing, actSync},
		{"both waiting: standby stays", with(hs, func(v *view) { v.state, v.partner, v.role = StateWaiting, StateWaiting, RoleStandby }), StateWaiting, actNone},
		{"waiting, partner syncing: stay", with(hs, func(v *view) { v.state, v.partner = StateWaiting, StateSyncing }), StateWaiting, actNone},
		// The restart-order trap (§2.3): a restarted server waits for a
		// terminated partner to be restarted too.
		{"waiting, partner terminated: stay", with(hs, func(v *view) { v.state, v.partner = StateWaiting, StateTerminated }), StateWaiting, actNone},
		{"waiting, partner unavailable, not down yet", with(hs, func(v *view) { v.state, v.partner = StateWaiting, StateUnavailable }), StateWaiting, actNone},
		{"waiting, partner unavailable and down", with(hs, func(v *view) {
			v.state, v.partner, v.partnerDown = StateWaiting, StateUnavailable, true
		}), StatePartnerDown, actNone},
		{"waiting, backup role", with(hs, func(v *view) { v.state, v.role = StateWaiting, RoleBackup }), StateBackup, actNone},
		{"waiting, passive-backup mode", with(hs, func(v *view) { v.state, v.mode = StateWaiting, ModePassiveBackup }), StatePassiveBackup, actNone},
		// pre-checks
		{"skew over 60 s terminates", with(hs, func(v *view) {
			v.state, v.partner, v.skew = StateHotStandby, StateHotStandby, 61*time.Second
		}), StateTerminated, actNone},
		{"negative skew over 60 s terminates", with(hs, func(v *view) {
			v.state, v.partner, v.skew = StateHotStandby, StateHotStandby, -61*time.Second
		}), StateTerminated, actNone},
		{"skew of 45 s only warns", with(hs, func(v *view) {
			v.state, v.partner, v.skew = StateHotStandby, StateHotStandby, 45*time.Second
		}), StateHotStandby, actNone},
		{"partner load-balancing while we are hot-standby: waiting", with(hs, func(v *view) {
			v.state, v.partner = StateHotStandby, StateLoadBalancing
		}), StateWaiting, actNone},
		{"partner hot-standby while we are load-balancing: waiting", with(lb, func(v *view) {
			v.state, v.partner = StateLoadBalancing, StateHotStandby
		}), StateWaiting, actNone},
		{"paused: stay", with(hs, func(v *view) { v.state, v.partner, v.paused = StateWaiting, StateHotStandby, true }), StateWaiting, actNone},
		// syncing
		{"syncing, partner terminated", with(hs, func(v *view) { v.state, v.partner = StateSyncing, StateTerminated }), StateTerminated, actNone},
		{"syncing, partner waiting: sync", with(hs, func(v *view) { v.state, v.partner = StateSyncing, StateWaiting }), StateSyncing, actSync},
		{"syncing, partner unavailable, down", with(hs, func(v *view) {
			v.state, v.partner, v.partnerDown = StateSyncing, StateUnavailable, true
		}), StatePartnerDown, actNone},
		// ready
		{"ready, partner hot-standby", with(hs, func(v *view) { v.state, v.partner = StateReady, StateHotStandby }), StateHotStandby, actNone},
		{"ready, partner communication-recovery (LB)", with(lb, func(v *view) { v.state, v.partner = StateReady, StateCommunicationRecovery }), StateLoadBalancing, actNone},
		{"both ready: primary goes normal", with(hs, func(v *view) { v.state, v.partner = StateReady, StateReady }), StateHotStandby, actNone},
		{"both ready: standby stays", with(hs, func(v *view) { v.state, v.partner, v.role = StateReady, StateReady, RoleStandby }), StateReady, actNone},
		{"ready, partner in-maintenance", with(hs, func(v *view) { v.state, v.partner = StateReady, StateInMaintenance }), StatePartnerInMaintenance, actNone},
		{"ready, partner partner-in-maintenance", with(hs, func(v *view) { v.state, v.partner = StateReady, StatePartnerInMaintenance }), StateInMaintenance, actNone},
		{"ready, partner terminated", with(hs, func(v *view) { v.state, v.partner = StateReady, StateTerminated }), StateTerminated, actNone},
		// normal
		{"hot-standby, partner partner-down: waiting", with(hs, func(v *view) { v.state, v.partner = StateHotStandby, StatePartnerDown }), StateWaiting, actNone},
		{"hot-standby, partner unavailable, not down: stay", with(hs, func(v *view) { v.state, v.partner = StateHotStandby, StateUnavailable }), StateHotStandby, actNone},
		{"hot-standby, partner unavailable, down", with(hs, func(v *view) {
			v.state, v.partner, v.partnerDown = StateHotStandby, StateUnavailable, true
		}), StatePartnerDown, actNone},
		// LB's first failure goes communication-recovery at once (§1.5).
		{"load-balancing, partner unavailable: communication-recovery", with(lb, func(v *view) {
			v.state, v.partner = StateLoadBalancing, StateUnavailable
		}), StateCommunicationRecovery, actNone},
		{"load-balancing without delayed updates: stay", with(lb, func(v *view) {
			v.state, v.partner, v.delayedUpdates = StateLoadBalancing, StateUnavailable, false
		}), StateLoadBalancing, actNone},
		{"load-balancing, partner in-maintenance", with(lb, func(v *view) { v.state, v.partner = StateLoadBalancing, StateInMaintenance }), StatePartnerInMaintenance, actNone},
		// communication-recovery
		{"comm-recovery, still interrupted: stay", with(lb, func(v *view) {
			v.state, v.partner, v.interrupted = StateCommunicationRecovery, StateLoadBalancing, true
		}), StateCommunicationRecovery, actNone},
		{"comm-recovery, partner back in load-balancing: recover", with(lb, func(v *view) {
			v.state, v.partner = StateCommunicationRecovery, StateLoadBalancing
		}), StateLoadBalancing, actRecover},
		{"comm-recovery, partner ready, overflow: waiting", with(lb, func(v *view) {
			v.state, v.partner, v.backlogOverflow = StateCommunicationRecovery, StateReady, true
		}), StateWaiting, actNone},
		{"comm-recovery, partner ready, no overflow: stay", with(lb, func(v *view) {
			v.state, v.partner = StateCommunicationRecovery, StateReady
		}), StateCommunicationRecovery, actNone},
		{"comm-recovery, partner down detected", with(lb, func(v *view) {
			v.state, v.partner, v.partnerDown, v.interrupted = StateCommunicationRecovery, StateUnavailable, true, true
		}), StatePartnerDown, actNone},
		{"comm-recovery, partner partner-down: waiting", with(lb, func(v *view) {
			v.state, v.partner = StateCommunicationRecovery, StatePartnerDown
		}), StateWaiting, actNone},
		// partner-down
		{"partner-down, partner waiting: stay", with(hs, func(v *view) { v.state, v.partner = StatePartnerDown, StateWaiting }), StatePartnerDown, actNone},
		{"partner-down, partner ready, nothing unsent: normal", with(hs, func(v *view) { v.state, v.partner = StatePartnerDown, StateReady }), StateHotStandby, actNone},
		{"partner-down, partner ready with new unsent: waiting", with(hs, func(v *view) {
			v.state, v.partner, v.newUnsent = StatePartnerDown, StateReady, true
		}), StateWaiting, actNone},
		{"partner-down, partner partner-down: waiting", with(lb, func(v *view) { v.state, v.partner = StatePartnerDown, StatePartnerDown }), StateWaiting, actNone},
		{"partner-down, partner terminated", with(hs, func(v *view) { v.state, v.partner = StatePartnerDown, StateTerminated }), StateTerminated, actNone},
		// maintenance
		{"partner-in-maintenance, partner gone: partner-down at once", with(hs, func(v *view) {
			v.state, v.partner = StatePartnerInMaintenance, StateUnavailable
		}), StatePartnerDown, actNone},
		{"partner-in-maintenance, skew ignored", with(hs, func(v *view) {
			v.state, v.partner, v.skew = StatePartnerInMaintenance, StateInMaintenance, time.Hour
		}), StatePartnerInMaintenance, actNone},
		{"in-maintenance stays", with(hs, func(v *view) { v.state, v.partner = StateInMaintenance, StateHotStandby }), StateInMaintenance, actNone},
		{"terminated stays", with(hs, func(v *view) { v.state, v.partner = StateTerminated, StateHotStandby }), StateTerminated, actNone},
		{"backup stays", with(hs, func(v *view) { v.state, v.role = StateBackup, RoleBackup }), StateBackup, actNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next, act := decide(tt.v)
			if next != tt.next || act != tt.act {
				t.Errorf("decide = %s/%d, want %s/%d", next, act, tt.next, tt.act)
			}
		})
	}
}

func TestEntryActions(t *testing.T) {
	for s, want := range map[State]bool{
		StateWaiting: false, StateSyncing: false, StateReady: false, StateInMaintenance: false, StateBackup: false,
		StateHotStandby: true, StateLoadBalancing: true, StatePartnerDown: true, StatePartnerInMaintenance: true,
		StateCommunicationRecovery: true, StateTerminated: true, StatePassiveBackup: true,
	} {
		if dhcpEnabled(s) != want {
			t.Errorf("dhcpEnabled(%s) = %v", s, !want)
		}
	}
	if sendsHeartbeats(StateTerminated) || !sendsHeartbeats(StatePartnerDown) {
		t.Error("heartbeats: terminated must stop them, partner-down must keep them")
	}
	if updatesPartner(StateCommunicationRecovery) || updatesPartner(StatePartnerDown) || !updatesPartner(StatePartnerInMaintenance) {
		t.Error("updatesPartner wrong")
	}
}
