package ha

import (
	"testing"
	"time"

	"xdhcp/config"
)

func TestStateNames(t *testing.T) {
	// The wire names must be exactly Kea's.
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
	hs := view{mode: config.HAModeHotStandby, role: config.HARolePrimary, syncLeases: true}
	lb := view{mode: config.HAModeLoadBalancing, role: config.HARolePrimary, syncLeases: true, delayedUpdates: true}
	with := func(v view, f func(*view)) view { f(&v); return v }
	// at is v in state, with the partner last seen in partner.
	at := func(v view, state, partner State) view { v.state, v.partner = state, partner; return v }
	tests := []struct {
		name string
		v    view
		next State
		act  action
	}{
		// waiting
		{"waiting, partner unknown: stay", at(hs, StateWaiting, StateUnknown), StateWaiting, actNone},
		{"waiting, partner hot-standby: sync", at(hs, StateWaiting, StateHotStandby), StateSyncing, actSync},
		{"waiting, partner ready, no sync-leases: ready", with(at(hs, StateWaiting, StateReady), func(v *view) { v.syncLeases = false }), StateReady, actNone},
		{"both waiting: primary proceeds", at(hs, StateWaiting, StateWaiting), StateSyncing, actSync},
		{"both waiting: standby stays", with(at(hs, StateWaiting, StateWaiting), func(v *view) { v.role = config.HARoleStandby }), StateWaiting, actNone},
		{"waiting, partner syncing: stay", at(hs, StateWaiting, StateSyncing), StateWaiting, actNone},
		// The restart-order trap: a restarted server waits for a
		// terminated partner to be restarted too.
		{"waiting, partner terminated: stay", at(hs, StateWaiting, StateTerminated), StateWaiting, actNone},
		{"waiting, partner unavailable, not down yet", at(hs, StateWaiting, StateUnavailable), StateWaiting, actNone},
		{"waiting, partner unavailable and down", with(at(hs, StateWaiting, StateUnavailable), func(v *view) { v.partnerDown = true }), StatePartnerDown, actNone},
		{"waiting, backup role", with(at(hs, StateWaiting, StateUnknown), func(v *view) { v.role = config.HARoleBackup }), StateBackup, actNone},
		{"waiting, passive-backup mode", with(at(hs, StateWaiting, StateUnknown), func(v *view) { v.mode = config.HAModePassiveBackup }), StatePassiveBackup, actNone},
		// pre-checks
		{"skew over 60 s terminates", with(at(hs, StateHotStandby, StateHotStandby), func(v *view) { v.skew = 61 * time.Second }), StateTerminated, actNone},
		{"negative skew over 60 s terminates", with(at(hs, StateHotStandby, StateHotStandby), func(v *view) { v.skew = -61 * time.Second }), StateTerminated, actNone},
		{"skew of 45 s only warns", with(at(hs, StateHotStandby, StateHotStandby), func(v *view) { v.skew = 45 * time.Second }), StateHotStandby, actNone},
		{"partner load-balancing while we are hot-standby: waiting", at(hs, StateHotStandby, StateLoadBalancing), StateWaiting, actNone},
		{"partner hot-standby while we are load-balancing: waiting", at(lb, StateLoadBalancing, StateHotStandby), StateWaiting, actNone},
		{"paused: stay", with(at(hs, StateWaiting, StateHotStandby), func(v *view) { v.paused = true }), StateWaiting, actNone},
		// syncing
		{"syncing, partner terminated", at(hs, StateSyncing, StateTerminated), StateTerminated, actNone},
		{"syncing, partner waiting: sync", at(hs, StateSyncing, StateWaiting), StateSyncing, actSync},
		{"syncing, partner unavailable, down", with(at(hs, StateSyncing, StateUnavailable), func(v *view) { v.partnerDown = true }), StatePartnerDown, actNone},
		// ready
		{"ready, partner hot-standby", at(hs, StateReady, StateHotStandby), StateHotStandby, actNone},
		{"ready, partner communication-recovery (LB)", at(lb, StateReady, StateCommunicationRecovery), StateLoadBalancing, actNone},
		{"both ready: primary goes normal", at(hs, StateReady, StateReady), StateHotStandby, actNone},
		{"both ready: standby stays", with(at(hs, StateReady, StateReady), func(v *view) { v.role = config.HARoleStandby }), StateReady, actNone},
		{"ready, partner in-maintenance", at(hs, StateReady, StateInMaintenance), StatePartnerInMaintenance, actNone},
		{"ready, partner partner-in-maintenance", at(hs, StateReady, StatePartnerInMaintenance), StateInMaintenance, actNone},
		{"ready, partner terminated", at(hs, StateReady, StateTerminated), StateTerminated, actNone},
		// normal
		{"hot-standby, partner partner-down: waiting", at(hs, StateHotStandby, StatePartnerDown), StateWaiting, actNone},
		{"hot-standby, partner unavailable, not down: stay", at(hs, StateHotStandby, StateUnavailable), StateHotStandby, actNone},
		{"hot-standby, partner unavailable, down", with(at(hs, StateHotStandby, StateUnavailable), func(v *view) { v.partnerDown = true }), StatePartnerDown, actNone},
		// LB's first failure goes communication-recovery at once.
		{"load-balancing, partner unavailable: communication-recovery", at(lb, StateLoadBalancing, StateUnavailable), StateCommunicationRecovery, actNone},
		{"load-balancing without delayed updates: stay", with(at(lb, StateLoadBalancing, StateUnavailable), func(v *view) { v.delayedUpdates = false }), StateLoadBalancing, actNone},
		{"load-balancing, partner in-maintenance", at(lb, StateLoadBalancing, StateInMaintenance), StatePartnerInMaintenance, actNone},
		// communication-recovery
		{"comm-recovery, still interrupted: stay", with(at(lb, StateCommunicationRecovery, StateLoadBalancing), func(v *view) { v.interrupted = true }), StateCommunicationRecovery, actNone},
		{"comm-recovery, partner back in load-balancing: recover", at(lb, StateCommunicationRecovery, StateLoadBalancing), StateLoadBalancing, actRecover},
		{"comm-recovery, partner ready, overflow: waiting", with(at(lb, StateCommunicationRecovery, StateReady), func(v *view) { v.backlogOverflow = true }), StateWaiting, actNone},
		{"comm-recovery, partner ready, no overflow: stay", at(lb, StateCommunicationRecovery, StateReady), StateCommunicationRecovery, actNone},
		{"comm-recovery, partner down detected", with(at(lb, StateCommunicationRecovery, StateUnavailable), func(v *view) { v.partnerDown, v.interrupted = true, true }), StatePartnerDown, actNone},
		{"comm-recovery, partner partner-down: waiting", at(lb, StateCommunicationRecovery, StatePartnerDown), StateWaiting, actNone},
		// partner-down
		{"partner-down, partner waiting: stay", at(hs, StatePartnerDown, StateWaiting), StatePartnerDown, actNone},
		{"partner-down, partner ready, nothing unsent: normal", at(hs, StatePartnerDown, StateReady), StateHotStandby, actNone},
		{"partner-down, partner ready with new unsent: waiting", with(at(hs, StatePartnerDown, StateReady), func(v *view) { v.newUnsent = true }), StateWaiting, actNone},
		{"partner-down, partner partner-down: waiting", at(lb, StatePartnerDown, StatePartnerDown), StateWaiting, actNone},
		{"partner-down, partner terminated", at(hs, StatePartnerDown, StateTerminated), StateTerminated, actNone},
		// maintenance
		{"partner-in-maintenance, partner gone: partner-down at once", at(hs, StatePartnerInMaintenance, StateUnavailable), StatePartnerDown, actNone},
		{"partner-in-maintenance, skew ignored", with(at(hs, StatePartnerInMaintenance, StateInMaintenance), func(v *view) { v.skew = time.Hour }), StatePartnerInMaintenance, actNone},
		{"in-maintenance stays", at(hs, StateInMaintenance, StateHotStandby), StateInMaintenance, actNone},
		{"terminated stays", at(hs, StateTerminated, StateHotStandby), StateTerminated, actNone},
		{"backup stays", with(at(hs, StateBackup, StateUnknown), func(v *view) { v.role = config.HARoleBackup }), StateBackup, actNone},
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
