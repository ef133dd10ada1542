package ha

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"time"

	"xdhcp/control"
)

// RegisterCommands adds the HA commands to c: the partner-to-partner ones
// (ha-heartbeat, ha-sync-complete-notify, ha-maintenance-notify, ha-reset)
// and the admin ones (ha-maintenance-start, ha-maintenance-cancel,
// ha-scopes, ha-continue, ha-sync). The lease and dhcp-disable/enable
// commands a partner also sends are the slow path's.
//
// With several relationships a command goes to the relationship named by
// an argument "server-name" (a peer's name, as Kea ≥2.5 sends it), else to
// the one whose partner's URL host is the request's source address, else
// to the first.
func (s *Service) RegisterCommands(c *control.Server) {
	for name, h := range s.Commands() {
		c.Handle(name, h)
	}
}

// Commands are the handlers RegisterCommands registers, by command name,
// for a daemon that routes each command to one of several services (a
// DHCPv4 and a DHCPv6 one, by the command's "service").
func (s *Service) Commands() map[string]control.HandlerFunc {
	return map[string]control.HandlerFunc{
		"ha-heartbeat":            s.routed(s.cmdHeartbeat),
		"ha-sync-complete-notify": s.routed(s.cmdSyncCompleteNotify),
		"ha-maintenance-notify":   s.routed(s.cmdMaintenanceNotify),
		"ha-maintenance-start":    s.routed(s.cmdMaintenanceStart),
		"ha-maintenance-cancel":   s.routed(s.cmdMaintenanceCancel),
		"ha-reset":                s.routed(s.cmdReset),
		"ha-scopes":               s.routed(s.cmdScopes),
		"ha-continue":             s.routed(s.cmdContinue),
		"ha-sync":                 s.cmdSync,
	}
}

// relCommand runs a command on the relationship it is for.
type relCommand func(ctx context.Context, r *Relationship, req *control.Request) control.Answer

// routed makes h a command handler: it runs h on the relationship route
// picks, or answers route's error.
func (s *Service) routed(h relCommand) control.HandlerFunc {
	return func(ctx context.Context, req *control.Request) control.Answer {
		r, bad := s.route(req)
		if bad != nil {
			return *bad
		}
		return h(ctx, r, req)
	}
}

// route picks the relationship a command is for.
func (s *Service) route(req *control.Request) (*Relationship, *control.Answer) {
	if len(s.rels) == 1 {
		return s.rels[0], nil
	}
	var a struct {
		ServerName string `json:"server-name"`
	}
	if len(req.Arguments) > 0 {
		_ = json.Unmarshal(req.Arguments, &a)
	}
	if a.ServerName != "" {
		for _, r := range s.rels {
			if r.cfg.Peer(a.ServerName) != nil && (a.ServerName != r.me.Name || len(s.rels) == 1) {
				return r, nil
			}
		}
		ans := control.Errorf("server name '%s' is not a peer of any relationship", a.ServerName)
		return nil, &ans
	}
	if ap, err := netip.ParseAddrPort(req.Remote); err == nil {
		for _, r := range s.rels {
			if r.partner != nil {
				if h, err := netip.ParseAddr(r.partner.cfg.URL.Hostname()); err == nil && h.Unmap() == ap.Addr().Unmap() {
					return r, nil
				}
			}
		}
	}
	return s.rels[0], nil
}

func (s *Service) cmdHeartbeat(_ context.Context, r *Relationship, _ *control.Request) control.Answer {
	r.mu.Lock()
	args := heartbeatArgs{
		DateTime:          r.s.now().UTC().Format(http.TimeFormat),
		Scopes:            r.scopesLocked(),
		State:             r.state.String(),
		UnsentUpdateCount: r.unsent.Load(),
	}
	r.mu.Unlock()
	return control.Answer{Result: control.ResultSuccess, Text: "HA peer status returned.", Arguments: args}
}

func (s *Service) cmdSyncCompleteNotify(_ context.Context, r *Relationship, _ *control.Request) control.Answer {
	r.mu.Lock()
	if r.state == StatePartnerDown {
		// The next heartbeat decides (see Relationship.heartbeat).
		r.syncNotified = true
	} else {
		s.d.Network.Enable(originPartner)
	}
	r.mu.Unlock()
	return control.Answer{Result: control.ResultSuccess, Text: "Server successfully notified about the synchronization completion."}
}

func (s *Service) cmdMaintenanceNotify(_ context.Context, r *Relationship, req *control.Request) control.Answer {
	var a struct {
		Cancel bool `json:"cancel"`
	}
	if bad := req.Decode(&a, control.Mandatory{Key: "cancel",
		Missing: "'cancel' is mandatory for the 'ha-maintenance-notify' command"}); bad != nil {
		return *bad
	}
	r.mu.Lock()
	defer r.unlockPublish()
	if !a.Cancel {
		switch r.state {
		case StateBackup, StatePartnerInMaintenance, StateTerminated:
			return control.Answer{Result: ResultMaintenanceNotAllowed,
				Text: fmt.Sprintf("Unable to transition the server from the %s to in-maintenance state.", r.state)}
		}
		r.transitionLocked(StateInMaintenance, "ha-maintenance-notify")
		return control.Answer{Result: control.ResultSuccess, Text: "Server is in-maintenance state."}
	}
	if r.state != StateInMaintenance {
		return control.Errorf("Unable to cancel the maintenance for the server not in the in-maintenance state.")
	}
	r.leaveMaintenanceLocked("ha-maintenance-notify cancel")
	return control.Answer{Result: control.ResultSuccess, Text: "Server maintenance canceled."}
}

func (s *Service) cmdMaintenanceStart(ctx context.Context, r *Relationship, _ *control.Request) control.Answer {
	if r.partner == nil {
		return control.Errorf("%v", errNoPartner)
	}
	st := r.State()
	switch st {
	case StateBackup, StateInMaintenance, StatePartnerInMaintenance, StateTerminated:
		return control.Errorf("Unable to transition the server from the %s to partner-in-maintenance state.", st)
	}
	a, err := r.partner.c.do(ctx, cmdMaintenanceNotify, map[string]any{"cancel": false}, RequestTimeout)
	r.mu.Lock()
	defer r.unlockPublish()
	switch {
	case err != nil || a.Result == control.ResultError:
		r.partnerState = StateUnavailable
		r.forceFailover = true
		r.transitionLocked(StatePartnerDown, "ha-maintenance-start, partner unreachable")
		r.forceFailover = true
		r.setScopesLocked(r.activePeers())
		return control.Answer{Result: control.ResultSuccess,
			Text: "Server is now in the partner-down state as its partner appears to be offline for maintenance."}
	case a.Result == control.ResultSuccess:
		r.partnerState = StateInMaintenance
		r.transitionLocked(StatePartnerInMaintenance, "ha-maintenance-start")
		return control.Answer{Result: control.ResultSuccess,
			Text: "Server is now in the partner-in-maintenance state and its partner is in-maintenance state. The partner can be now safely shut down."}
	default:
		return control.Errorf("Unable to transition to the partner-in-maintenance state. The partner server responded with the following message to the ha-maintenance-notify command: %s.", a.Text)
	}
}

func (s *Service) cmdMaintenanceCancel(ctx context.Context, r *Relationship, _ *control.Request) control.Answer {
	if r.State() != StatePartnerInMaintenance || r.partner == nil {
		return control.Errorf("Unable to cancel maintenance request because the server is not in the partner-in-maintenance state.")
	}
	a, err := r.partner.c.do(ctx, cmdMaintenanceNotify, map[string]any{"cancel": true}, RequestTimeout)
	if err != nil || a.Result != control.ResultSuccess {
		why := a.Text
		if err != nil {
			why = err.Error()
		}
		return control.Errorf("Unable to cancel maintenance. The partner server responded with the following message to the ha-maintenance-notify command: %s.", why)
	}
	r.mu.Lock()
	r.leaveMaintenanceLocked("ha-maintenance-cancel")
	r.unlockPublish()
	return control.Answer{Result: control.ResultSuccess, Text: "Server maintenance successfully canceled."}
}

// leaveMaintenanceLocked returns to the state a maintenance interrupted.
// The partner is leaving maintenance too, so what we last heard of it no
// longer holds.
func (r *Relationship) leaveMaintenanceLocked(why string) {
	r.transitionLocked(r.prevState, why)
	r.maintCanceled = true
	r.partnerState = StateUnknown
}

func (s *Service) cmdReset(_ context.Context, r *Relationship, _ *control.Request) control.Answer {
	r.mu.Lock()
	if r.state == StateWaiting {
		r.mu.Unlock()
		return control.Answer{Result: control.ResultSuccess, Text: "HA state machine already in WAITING state."}
	}
	// What we last heard of the partner may be stale (a maintenance just
	// canceled, say): waiting must decide on a fresh heartbeat, not on
	// it, or it can follow the partner into a state it has left.
	r.partnerState = StateUnknown
	r.transitionLocked(StateWaiting, "ha-reset")
	r.unlockPublish()
	r.poke()
	return control.Answer{Result: control.ResultSuccess, Text: "HA state machine reset."}
}

func (s *Service) cmdScopes(_ context.Context, r *Relationship, req *control.Request) control.Answer {
	var a struct {
		Scopes []string `json:"scopes"`
	}
	if bad := req.Decode(&a, control.Mandatory{Key: "scopes",
		Missing: "'scopes' is mandatory for the 'ha-scopes' command"}); bad != nil {
		return *bad
	}
	for _, name := range a.Scopes {
		if !r.validScope(name) {
			return control.Errorf("invalid server name specified '%s' while enabling/disabling HA scopes", name)
		}
	}
	r.mu.Lock()
	r.setScopesLocked(a.Scopes)
	r.unlockPublish()
	return control.Answer{Result: control.ResultSuccess, Text: "New HA scopes configured."}
}

func (s *Service) cmdContinue(_ context.Context, r *Relationship, _ *control.Request) control.Answer {
	r.mu.Lock()
	was := r.paused
	r.paused = false
	r.mu.Unlock()
	if !was {
		return control.Answer{Result: control.ResultSuccess, Text: "HA state machine is not paused."}
	}
	r.poke()
	return control.Answer{Result: control.ResultSuccess, Text: "HA state machine continues."}
}

func (s *Service) cmdSync(ctx context.Context, req *control.Request) control.Answer {
	var a struct {
		ServerName string `json:"server-name"`
		MaxPeriod  *int64 `json:"max-period"`
	}
	if bad := req.Decode(&a, control.Mandatory{Key: "server-name",
		Missing: "'server-name' is mandatory for the 'ha-sync' command"}); bad != nil {
		return *bad
	}
	period, ok := control.Seconds(a.MaxPeriod)
	if !ok {
		return control.Errorf("'max-period' must be a positive integer in the 'ha-sync' command")
	}
	for _, r := range s.rels {
		var p *peerLink
		if r.partner != nil && r.partner.cfg.Name == a.ServerName {
			p = r.partner
		}
		for _, b := range r.backups {
			if b.cfg.Name == a.ServerName {
				p = b
			}
		}
		if p == nil {
			continue
		}
		r.stepMu.Lock()
		err := r.syncFrom(ctx, p, period)
		r.stepMu.Unlock()
		if err != nil {
			return control.Errorf("%v", err)
		}
		return control.Answer{Result: control.ResultSuccess, Text: "Lease database synchronization complete."}
	}
	return control.Errorf("server name '%s' does not match any peer", a.ServerName)
}

// Status is the "high-availability" value of status-get: one map
// per relationship. The daemon sets arguments["high-availability"] to it.
func (s *Service) Status() []map[string]any {
	out := make([]map[string]any, 0, len(s.rels))
	now := s.now()
	for _, r := range s.rels {
		r.mu.Lock()
		servers := map[string]any{
			"local": map[string]any{"role": string(r.me.Role), "scopes": r.scopesLocked(), "state": r.state.String()},
		}
		if r.partner != nil {
			age := 0.0
			if r.inTouch {
				age = float64(int64(now.Sub(time.Unix(0, r.lastOKUnixNano.Load())) / time.Second))
			}
			interrupted := r.interrupted(now)
			left := 0
			if interrupted {
				left = r.cfg.MaxUnackedClients - r.clients.unacked + 1
			}
			last := r.partnerState
			if last == StateUnknown {
				last = StateUnavailable
			}
			scopes := r.partnerScopes
			if scopes == nil {
				scopes = []string{}
			}
			servers["remote"] = map[string]any{
				"age": age, "analyzed-packets": r.analyzed, "communication-interrupted": interrupted,
				"connecting-clients": r.clients.len(), "in-touch": r.inTouch, "last-scopes": scopes,
				"last-state": last.String(), "role": string(r.partner.cfg.Role),
				"unacked-clients": r.clients.unacked, "unacked-clients-left": left,
			}
		}
		r.mu.Unlock()
		out = append(out, map[string]any{"ha-mode": string(r.cfg.Mode), "ha-servers": servers})
	}
	return out
}
