package ha

import (
	"fmt"

	"github.com/VictoriaMetrics/metrics"
)

// RegisterMetrics adds HA gauges to set: per relationship (labels
// "server" and "relationship" — a hub may use one server name in several
// relationships, so the relationship's index keeps the series apart), the state and partner state as numbers (State values), unsent
// updates, heartbeat latency, communication-interrupted, unacked clients,
// backlog length, transitions and synchronization progress; and for the
// service the replies waiting for lease updates and those dropped at
// parked-packet-limit.
func (s *Service) RegisterMetrics(set *metrics.Set) {
	set.NewGauge("xdhcp_ha_parked_replies", func() float64 { return float64(s.parked.Load()) })
	set.NewGauge("xdhcp_ha_parking_lot_drops", func() float64 { return float64(s.parkDrops.Load()) })
	for i, r := range s.rels {
		lbl := fmt.Sprintf(`{server=%q,relationship="%d"}`, r.me.Name, i)
		g := func(name string, f func() float64) { set.NewGauge("xdhcp_ha_"+name+lbl, f) }
		locked := func(f func() float64) func() float64 {
			return func() float64 {
				r.mu.Lock()
				defer r.mu.Unlock()
				return f()
			}
		}
		g("state", locked(func() float64 { return float64(r.state) }))
		g("partner_state", locked(func() float64 { return float64(r.partnerState) }))
		g("unsent_updates", func() float64 { return float64(r.unsent.Load()) })
		g("heartbeat_latency_seconds", locked(func() float64 { return r.hbLatency.Seconds() }))
		g("communication_interrupted", func() float64 {
			if r.interrupted(s.now()) {
				return 1
			}
			return 0
		})
		g("unacked_clients", locked(func() float64 { return float64(r.clients.unacked) }))
		g("backlog_updates", locked(func() float64 { return float64(len(r.backlog)) }))
		g("transitions", locked(func() float64 { return float64(r.transitions) }))
		g("sync_running", locked(func() float64 {
			if r.syncProgress.Running {
				return 1
			}
			return 0
		}))
		g("sync_leases_received", locked(func() float64 { return float64(r.syncProgress.Received) }))
		g("sync_leases_applied", locked(func() float64 { return float64(r.syncProgress.Applied) }))
		g("sync_pages", locked(func() float64 { return float64(r.syncProgress.Pages) }))
		for _, b := range r.backups {
			if q := b.queue; q != nil {
				bl := fmt.Sprintf(`{server=%q,relationship="%d",backup=%q}`, r.me.Name, i, b.cfg.Name)
				set.NewGauge("xdhcp_ha_backup_queue_length"+bl, func() float64 { return float64(len(q.ops)) })
				set.NewGauge("xdhcp_ha_backup_queue_dropped"+bl, func() float64 { return float64(q.dropped.Load()) })
			}
		}
	}
}
