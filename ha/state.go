package ha

import (
	"time"

	"xdhcp/config"
)

// State is an HA state, named as Kea names it on the wire.
type State uint8

// Kea's HA states. StateUnknown is "never heard from the partner";
// StateUnavailable is Kea's pseudo-state for a partner that did not answer
// or answered with an error (reported as last-state, never sent as our own).
const (
	StateUnknown State = iota
	StateWaiting
	StateSyncing
	StateReady
	StateLoadBalancing
	StateHotStandby
	StatePartnerDown
	StatePartnerInMaintenance
	StateInMaintenance
	StateCommunicationRecovery
	StateTerminated
	StateBackup
	StatePassiveBackup
	StateUnavailable
)

var stateNames = [...]string{
	StateUnknown:               "unknown",
	StateWaiting:               "waiting",
	StateSyncing:               "syncing",
	StateReady:                 "ready",
	StateLoadBalancing:         "load-balancing",
	StateHotStandby:            "hot-standby",
	StatePartnerDown:           "partner-down",
	StatePartnerInMaintenance:  "partner-in-maintenance",
	StateInMaintenance:         "in-maintenance",
	StateCommunicationRecovery: "communication-recovery",
	StateTerminated:            "terminated",
	StateBackup:                "backup",
	StatePassiveBackup:         "passive-backup",
	StateUnavailable:           "unavailable",
}

// String is the state's wire name.
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "unknown"
}

// ParseState maps a wire name to a State. "unknown" is not a valid name.
func ParseState(name string) (State, bool) {
	for i, n := range stateNames {
		if n == name && State(i) != StateUnknown {
			return State(i), true
		}
	}
	return StateUnknown, false
}

// normal is the normal operating state of a mode.
func normal(m config.HAMode) State {
	switch m {
	case config.HAModeLoadBalancing:
		return StateLoadBalancing
	case config.HAModePassiveBackup:
		return StatePassiveBackup
	}
	return StateHotStandby
}

// dhcpEnabled says whether the local DHCP service runs in state s.
func dhcpEnabled(s State) bool {
	switch s {
	case StateLoadBalancing, StateHotStandby, StateCommunicationRecovery, StatePartnerDown,
		StatePartnerInMaintenance, StateTerminated, StatePassiveBackup:
		return true
	}
	return false
}

// sendsHeartbeats says whether heartbeats run in state s.
func sendsHeartbeats(s State) bool {
	switch s {
	case StateTerminated, StateBackup, StatePassiveBackup:
		return false
	}
	return true
}

// updatesPartner says whether lease updates go to the failover partner in
// state s (communication-recovery queues them instead).
func updatesPartner(s State) bool {
	switch s {
	case StateLoadBalancing, StateHotStandby, StatePartnerInMaintenance:
		return true
	}
	return false
}

// action is what the state machine asks the runner to do besides moving.
type action uint8

const (
	actNone action = iota
	// actSync: run the synchronous lease sync; success → ready (or the
	// normal state when the caller says so), failure → stay.
	actSync
	// actRecover: leaving communication-recovery toward a partner in
	// load-balancing: flush the backlog; on overflow or failure send
	// ha-reset (success → waiting, failure → stay), else → load-balancing.
	actRecover
)

// view is everything the transition rules look at.
type view struct {
	state   State
	mode    config.HAMode
	role    config.HARole
	partner State // StateUnknown before the first heartbeat answer

	paused          bool
	skew            time.Duration // partner clock − ours, at the last heartbeat
	partnerDown     bool          // shouldPartnerDownLocked
	interrupted     bool          // communication interrupted
	syncLeases      bool
	delayedUpdates  bool // delayed-updates-limit > 0 (LB only)
	backlogOverflow bool
	newUnsent       bool // partner has new unsent updates
}

// maxSkew terminates HA; warnSkew logs a warning (Kea's clock-skew limits).
const (
	maxSkew  = 60 * time.Second
	warnSkew = 30 * time.Second
)

func abs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// invalidPartner is pre-check (c): the partner's state cannot exist in our
// mode.
func invalidPartner(v view) bool {
	switch v.partner {
	case StateCommunicationRecovery, StateLoadBalancing:
		return v.mode != config.HAModeLoadBalancing
	case StateHotStandby:
		return v.mode != config.HAModeHotStandby
	}
	return false
}

// decide applies Kea 2.2's state-machine transition rules to v and
// returns the next state and the action to run. It is pure: the
// runner performs actions and their outcomes feed the next call.
func decide(v view) (State, action) {
	switch v.state {
	case StateWaiting, StateSyncing, StateReady, StateLoadBalancing, StateHotStandby,
		StateCommunicationRecovery, StatePartnerDown:
		if v.paused {
			return v.state, actNone
		}
		if abs(v.skew) > maxSkew {
			return StateTerminated, actNone
		}
		if invalidPartner(v) {
			return StateWaiting, actNone
		}
		if v.partner == StateTerminated && v.state != StateWaiting {
			// A terminated partner ends HA here too; a waiting server
			// waits for it to be restarted instead.
			return StateTerminated, actNone
		}
	}
	switch v.state {
	case StateReady, StateLoadBalancing, StateHotStandby, StateCommunicationRecovery:
		// The partner's side of a maintenance decides for a server that
		// is ready or serving; a partner that took over (partner-down)
		// sends a serving one back to waiting.
		switch v.partner {
		case StateInMaintenance:
			return StatePartnerInMaintenance, actNone
		case StatePartnerInMaintenance:
			return StateInMaintenance, actNone
		case StatePartnerDown:
			if v.state != StateReady {
				return StateWaiting, actNone
			}
		}
	}
	down := func(stay State) (State, action) {
		if v.partnerDown {
			return StatePartnerDown, actNone
		}
		return stay, actNone
	}
	norm := normal(v.mode)
	switch v.state {
	case StateWaiting:
		if v.role == config.HARoleBackup {
			return StateBackup, actNone
		}
		if v.mode == config.HAModePassiveBackup {
			return StatePassiveBackup, actNone
		}
		proceed := func() (State, action) {
			if v.syncLeases {
				return StateSyncing, actSync
			}
			return StateReady, actNone
		}
		switch v.partner {
		case StateCommunicationRecovery, StateHotStandby, StateLoadBalancing, StateInMaintenance,
			StatePartnerDown, StatePartnerInMaintenance, StateReady:
			return proceed()
		case StateWaiting:
			if v.role == config.HARolePrimary {
				return proceed()
			}
		case StateUnavailable:
			return down(StateWaiting)
		}
		return StateWaiting, actNone

	case StateSyncing:
		switch v.partner {
		case StateUnavailable:
			return down(StateSyncing)
		case StateUnknown:
			return StateSyncing, actNone
		}
		return StateSyncing, actSync

	case StateReady:
		switch v.partner {
		case StateHotStandby, StateLoadBalancing, StateCommunicationRecovery:
			return norm, actNone
		case StateReady:
			if v.role == config.HARolePrimary {
				return norm, actNone
			}
		case StateUnavailable:
			return down(StateReady)
		}
		return StateReady, actNone

	case StateLoadBalancing, StateHotStandby:
		switch v.partner {
		case StateUnavailable:
			if v.partnerDown {
				return StatePartnerDown, actNone
			}
			if v.mode == config.HAModeLoadBalancing && v.delayedUpdates {
				return StateCommunicationRecovery, actNone
			}
		}
		return v.state, actNone

	case StateCommunicationRecovery:
		switch v.partner {
		case StateUnavailable:
			return down(StateCommunicationRecovery)
		case StateWaiting, StateSyncing, StateReady:
			if !v.interrupted && v.backlogOverflow {
				return StateWaiting, actNone
			}
			return StateCommunicationRecovery, actNone
		}
		if v.interrupted || v.partner == StateUnknown {
			return StateCommunicationRecovery, actNone
		}
		if v.partner == StateLoadBalancing || v.partner == StateCommunicationRecovery {
			return StateLoadBalancing, actRecover
		}
		return StateWaiting, actNone

	case StatePartnerDown:
		switch v.partner {
		case StateCommunicationRecovery, StatePartnerDown, StatePartnerInMaintenance:
			return StateWaiting, actNone
		case StateReady:
			if v.newUnsent {
				return StateWaiting, actNone
			}
			return norm, actNone
		}
		return StatePartnerDown, actNone

	case StatePartnerInMaintenance:
		if v.partner == StateUnavailable {
			return StatePartnerDown, actNone
		}
		return StatePartnerInMaintenance, actNone
	}
	// in-maintenance, terminated, backup, passive-backup: no transitions.
	return v.state, actNone
}
