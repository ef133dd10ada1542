package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	"xdhcp/config"
	"xdhcp/hooks"
	"xdhcp/hooks/legallog"
	"xdhcp/hooks/runscript"
	"xdhcp/internal/stats"
	"xdhcp/internal/uring"
	"xdhcp/lease"
	"xdhcp/lease/memfile"
)

// leaseHooks6 are the DHCPv6 lease event listeners the Dhcp6 section's
// hooks-libraries ask for: forensic logging and run-script, each an
// instance of its own, as kea-dhcp6 loads its own libraries beside
// kea-dhcp4's.
type leaseHooks6 struct {
	legal  *legallog.Log6
	script *runscript.Runner
	events hooks.Listeners6
}

// openLeaseHooks6 opens what cfg's hooks-libraries name. Their counters
// are registered with a "6" in the name (xdhcp-legal-log6-records …).
func openLeaseHooks6(cfg *config.Config6, log *slog.Logger, reg *stats.Registry, rings *uring.Gate) (_ *leaseHooks6, err error) {
	h := &leaseHooks6{}
	defer func() {
		if err != nil {
			err = errors.Join(err, h.close())
		}
	}()
	for _, lib := range cfg.Hooks {
		switch filepath.Base(lib.Library) {
		case legallog.Library:
			if h.legal != nil {
				return nil, fmt.Errorf("Dhcp6: %s is loaded twice", legallog.Library)
			}
			p, err := legallog.ParseParams6(lib.Parameters)
			if err != nil {
				return nil, err
			}
			p.RingGate = rings
			if h.legal, err = openLegalLog6(p, log.With("component", "legal-log6")); err != nil {
				return nil, err
			}
			h.events = append(h.events, h.legal)
			registerLegalCounters(reg, "xdhcp-legal-log6", h.legal.Counters)
		case runscript.Library:
			if h.script != nil {
				return nil, fmt.Errorf("Dhcp6: %s is loaded twice", runscript.Library)
			}
			if h.script, err = openRunScript(lib.Parameters, log.With("component", "run-script6"), reg, "xdhcp-run-script6"); err != nil {
				return nil, err
			}
			h.events = append(h.events, h.script)
		}
	}
	return h, nil
}

// openLegalLog6 is openLegalLog for the Dhcp6 section's forensic log.
func openLegalLog6(p legallog.Params6, log *slog.Logger) (*legallog.Log6, error) {
	if !p.IsDatabase() {
		return legallog.Open6(p, log, nil)
	}
	w, err := openLegalDB(p.Params, "Dhcp6")
	if err != nil {
		return nil, err
	}
	return legallog.OpenDB6(p, w, log, nil)
}

// setQuietSubnets tells the forensic log which Dhcp6 subnets have
// "legal-logging": false in their user-context (raw: the whole file).
func (h *leaseHooks6) setQuietSubnets(raw json.RawMessage) error {
	if h == nil || h.legal == nil {
		return nil
	}
	q, err := legallog.QuietSubnets6(raw)
	if err != nil {
		return err
	}
	h.legal.SetQuietSubnets(q)
	return nil
}

// recorder is the engine's forensic record formatter, nil without one.
func (h *leaseHooks6) recorder() hooks.Recorder6 {
	if h == nil || h.legal == nil {
		return nil
	}
	return h.legal
}

// commandRecord formats the forensic records of the lease6 commands, nil
// without a forensic log.
func (h *leaseHooks6) commandRecord() func(dst []byte, cmd string, l *lease.Lease6, byDUID bool) []byte {
	if h == nil || h.legal == nil {
		return nil
	}
	return h.legal.AppendCommandRecord6
}

// records is the leases6 store's record log, nil without one.
func (h *leaseHooks6) records() memfile.RecordLog {
	if h == nil || h.legal == nil {
		return nil
	}
	return h.legal
}

// listener is what the engine and the fast path tell of DHCPv6 lease
// events, nil without listeners.
func (h *leaseHooks6) listener() hooks.Listener6 {
	if h == nil || len(h.events) == 0 {
		return nil
	}
	return h.events
}

// close waits for queued scripts and closes the forensic log; the leases6
// store must be closed first (its last group commit writes records).
func (h *leaseHooks6) close() error { return h.shared().close() }

// shared is h as leaseHooks, for what both families' hooks do alike (nil:
// none).
func (h *leaseHooks6) shared() *leaseHooks {
	if h == nil {
		return nil
	}
	var legal *legallog.Log
	if h.legal != nil {
		legal = h.legal.Log
	}
	return &leaseHooks{legal: legal, script: h.script}
}

// flushing is a listener whose Flusher is another's.
type flushing struct {
	hooks.Listener
	hooks.Flusher
}

// fastPathEvents are what the XDP workers tell of their cached renewals:
// ev4 of the DHCPv4 ones, ev6 of the DHCPv6 ones. The workers hold replies
// for one Flusher: when both forensic logs are one, ev4 carries the two
// joined.
func fastPathEvents(ev4 hooks.Listener, ev6 hooks.Listener6) (hooks.Listener, hooks.Listener6) {
	f4, ok4 := ev4.(hooks.Flusher)
	f6, ok6 := ev6.(hooks.Flusher)
	if ok4 && ok6 {
		ev4 = flushing{Listener: ev4, Flusher: hooks.JoinFlushers(f4, f6)}
	}
	return ev4, ev6
}

// blockingProcs is leaseHooks.blockingProcs for the DHCPv6 hooks.
func (h *leaseHooks6) blockingProcs() int { return h.shared().blockingProcs() }
