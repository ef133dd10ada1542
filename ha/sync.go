package ha

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"xdhcp/control"
	"xdhcp/lease"
	"xdhcp/lease/leasejson"
)

// syncStats is the progress of the last (or running) synchronization.
type syncStats struct {
	Running  bool
	Pages    int
	Received int
	Applied  int
	Skipped  int // local lease as new or newer
	Invalid  int // leases that failed to parse or apply
	Started  time.Time
	Duration time.Duration
	Err      string
}

// syncFrom pulls the peer's whole lease database: before every
// page a dhcp-disable with max-period (re-arming the peer's auto-enable),
// then lease4-get-page (lease6-get-page for DHCPv6) from "start" and on from the last address while
// pages are full; a received lease is written when we have none for its
// address or ours has an older cltt. It ends with ha-sync-complete-notify
// (dhcp-enable if the peer does not know it), or dhcp-enable on failure.
// Like Kea it uses its own connection, closed afterwards.
func (r *Relationship) syncFrom(ctx context.Context, p *peerLink, maxPeriod time.Duration) (err error) {
	if p == nil {
		return errNoPartner
	}
	c, err := newClient(p.cfg, 1, r.s.family)
	if err != nil {
		return err
	}
	defer c.close()
	start := r.s.now()
	st := syncStats{Running: true, Started: start}
	r.mu.Lock()
	r.syncProgress = st
	r.mu.Unlock()
	update := func() {
		r.mu.Lock()
		r.syncProgress = st
		r.mu.Unlock()
	}
	r.log.Info("lease database synchronization started", "peer", p.cfg.Name, "page_limit", r.cfg.SyncPageLimit)
	defer func() {
		st.Running = false
		st.Duration = r.s.now().Sub(start)
		if err != nil {
			st.Err = err.Error()
			// Give the peer its service back now rather than after max-period.
			if _, e := c.do(context.WithoutCancel(ctx), cmdDHCPEnable, map[string]any{"origin": originPartner}, RequestTimeout); e != nil {
				r.log.Warn("dhcp-enable after failed sync", "peer", p.cfg.Name, "err", e)
			}
		} else {
			r.log.Info("lease database synchronization complete", "peer", p.cfg.Name,
				"pages", st.Pages, "received", st.Received, "applied", st.Applied,
				"skipped", st.Skipped, "invalid", st.Invalid, "duration_s", st.Duration.Seconds())
		}
		update()
	}()

	disable := map[string]any{"origin": originPartner}
	if s := int64(maxPeriod / time.Second); s > 0 {
		disable["max-period"] = s
	}
	from := "start"
	for {
		a, err := c.do(ctx, cmdDHCPDisable, disable, RequestTimeout)
		if err == nil && a.Result != 0 {
			err = fmt.Errorf("result %d: %s", a.Result, a.Text)
		}
		if err != nil {
			return fmt.Errorf("dhcp-disable to %s: %w", p.cfg.Name, err)
		}
		getPage := r.s.family.getPage()
		a, err = c.do(ctx, getPage, map[string]any{"from": from, "limit": r.cfg.SyncPageLimit}, r.cfg.SyncTimeout)
		if err == nil && !a.ok() {
			err = fmt.Errorf("result %d: %s", a.Result, a.Text)
		}
		if err != nil {
			return fmt.Errorf("%s from %s after %s: %w", getPage, p.cfg.Name, from, err)
		}
		var page pageArgs
		if a.Result == control.ResultSuccess {
			if err := json.Unmarshal(a.Arguments, &page); err != nil {
				return fmt.Errorf("%s from %s: arguments: %w", getPage, p.cfg.Name, err)
			}
		}
		st.Pages++
		last := ""
		for _, raw := range page.Leases {
			st.Received++
			addr, err := r.mergeRaw(ctx, raw, &st)
			if addr.IsValid() {
				last = addr.String()
			}
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				st.Invalid++
				r.log.Warn("skipping partner lease that failed to parse or apply", "addr", addr, "err", err)
			}
		}
		update()
		n := len(page.Leases)
		if page.Count != nil {
			n = *page.Count
		}
		if n < r.cfg.SyncPageLimit || len(page.Leases) == 0 {
			break
		}
		if last == "" {
			return errors.New("full page without a valid lease to continue from")
		}
		from = last
	}
	a, err := c.do(ctx, cmdSyncCompleteNotify, nil, RequestTimeout)
	switch {
	case err != nil:
		return fmt.Errorf("ha-sync-complete-notify to %s: %w", p.cfg.Name, err)
	case a.Result == control.ResultUnsupported:
		// An older partner: re-enable its service ourselves.
		if a, err := c.do(ctx, cmdDHCPEnable, map[string]any{"origin": originPartner}, RequestTimeout); err != nil || a.Result != 0 {
			return fmt.Errorf("dhcp-enable to %s after sync: %v (result %d)", p.cfg.Name, err, a.Result)
		}
	case a.Result != 0:
		return fmt.Errorf("ha-sync-complete-notify to %s: result %d: %s", p.cfg.Name, a.Result, a.Text)
	}
	return nil
}

// mergeRaw decodes one lease of a page, in the service's family, and
// merges it; addr is its address when it parsed.
func (r *Relationship) mergeRaw(ctx context.Context, raw json.RawMessage, st *syncStats) (addr netip.Addr, err error) {
	if r.s.family == FamilyV6 {
		l, err := leasejson.Decode6(raw)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("parse: %w", err)
		}
		return l.Addr, r.merge6(ctx, l, st)
	}
	l, err := leasejson.Decode(raw)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("parse: %w", err)
	}
	return l.Addr, r.merge(ctx, l, st)
}

// merge6 is merge for a DHCPv6 lease.
func (r *Relationship) merge6(ctx context.Context, l lease.Lease6, st *syncStats) error {
	if cur, ok := r.s.d.Leases6.Get(l.Addr); ok && cur.CLTT >= l.CLTT {
		st.Skipped++
		return nil
	}
	if err := r.s.d.Apply6.ApplyPartnerLease6(ctx, l); err != nil {
		return err
	}
	st.Applied++
	return nil
}

// merge writes a partner lease unless ours is at least as recent.
func (r *Relationship) merge(ctx context.Context, l lease.Lease, st *syncStats) error {
	if cur, ok := r.s.d.Leases.Get(l.Addr); ok && cur.CLTT >= l.CLTT {
		st.Skipped++
		return nil
	}
	if err := r.s.d.Apply.ApplyPartnerLease(ctx, l); err != nil {
		return err
	}
	st.Applied++
	return nil
}
