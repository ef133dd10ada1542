package ha

import (
	"slices"
	"strconv"

	"xdhcp/internal/stats"
)

// WriteMetrics writes the HA series to e. Per relationship (labels
// "server" and "relationship" — a hub may use one server name in several
// relationships, so the relationship's index keeps the series apart): the
// state and the partner's state as one 0/1 series per state name (so
// `xdhcp_ha_state{state="partner-down"} == 1` is an alert expression),
// unsent updates, heartbeat latency, communication-interrupted, unacked
// clients, backlog, transitions and synchronization progress; for the
// service, the replies waiting for lease updates and those dropped at
// parked-packet-limit.
func (s *Service) WriteMetrics(e *stats.Exposition) { WriteMetrics(e, s) }

// WriteMetrics writes the HA series of the services of one daemon (a
// DHCPv4 and a DHCPv6 one) as one set of families: a DHCPv6
// relationship's series carry family="dhcp6" besides the labels above
// (its "relationship" index counts within its family), and the parking
// lot figures add up both.
func WriteMetrics(e *stats.Exposition, svcs ...*Service) {
	var parked, drops int64
	var rels []*Relationship
	var base [][]stats.Label
	for _, s := range svcs {
		parked += s.parked.Load()
		drops += int64(s.parkDrops.Load())
		for i, r := range s.rels {
			rels = append(rels, r)
			base = append(base, relLabels(s, i))
		}
	}
	if e.Family("xdhcp_ha_parked_replies", stats.KindGauge, "Replies waiting for their lease updates to reach the partner.") {
		e.Int("", nil, parked)
	}
	if e.Family("xdhcp_ha_parking_lot_drops_total", stats.KindCounter, "Replies dropped because the parking lot was full (parked-packet-limit).") {
		e.Int("", nil, drops)
	}
	snaps := make([]relSnapshot, len(rels))
	for i, r := range rels {
		snaps[i] = snapshotOf(r, r.s)
	}
	lbl := func(i int, extra ...stats.Label) []stats.Label {
		return append(slices.Clone(base[i]), extra...)
	}
	states := func(name, help string, get func(relSnapshot) State) {
		if !e.Family(name, stats.KindGauge, help) {
			return
		}
		for i, sn := range snaps {
			cur := get(sn)
			for st := StateUnknown; st <= StateUnavailable; st++ {
				v := int64(0)
				if st == cur {
					v = 1
				}
				e.Int("", lbl(i, stats.Label{Name: "state", Value: st.String()}), v)
			}
		}
	}
	states("xdhcp_ha_state", "1 for this server's HA state, 0 for every other state.", func(sn relSnapshot) State { return sn.state })
	states("xdhcp_ha_partner_state", "1 for the partner's last known HA state, 0 for every other state.",
		func(sn relSnapshot) State { return sn.partnerState })
	per := func(name string, kind stats.Kind, help string, get func(relSnapshot) float64) {
		if !e.Family(name, kind, help) {
			return
		}
		for i, sn := range snaps {
			e.Float("", lbl(i), get(sn))
		}
	}
	per("xdhcp_ha_unsent_updates", stats.KindGauge, "Lease updates not sent to the partner (Kea's unsent-update-count).",
		func(sn relSnapshot) float64 { return float64(sn.unsent) })
	per("xdhcp_ha_heartbeat_latency_seconds", stats.KindGauge, "Round-trip time of the last heartbeat to the partner.",
		func(sn relSnapshot) float64 { return sn.hbLatency })
	per("xdhcp_ha_communication_interrupted", stats.KindGauge, "1 while communication with the partner is interrupted.",
		func(sn relSnapshot) float64 { return boolFloat(sn.interrupted) })
	per("xdhcp_ha_unacked_clients", stats.KindGauge, "Clients whose requests the partner left unanswered during an interruption.",
		func(sn relSnapshot) float64 { return float64(sn.unacked) })
	per("xdhcp_ha_backlog_updates", stats.KindGauge, "Lease updates queued for the partner during communication-recovery.",
		func(sn relSnapshot) float64 { return float64(sn.backlog) })
	per("xdhcp_ha_own_pool_half_only", stats.KindGauge, "1 while new leases come only from this server's half of every pool (the partner may be serving without lease updates).",
		func(sn relSnapshot) float64 { return boolFloat(sn.halfOnly) })
	per("xdhcp_ha_transitions_total", stats.KindCounter, "HA state transitions of this server.",
		func(sn relSnapshot) float64 { return float64(sn.transitions) })
	per("xdhcp_ha_sync_running", stats.KindGauge, "1 while a lease synchronization from the partner runs.",
		func(sn relSnapshot) float64 { return boolFloat(sn.sync.Running) })
	per("xdhcp_ha_sync_leases_received", stats.KindGauge, "Leases received in the current or last synchronization.",
		func(sn relSnapshot) float64 { return float64(sn.sync.Received) })
	per("xdhcp_ha_sync_leases_applied", stats.KindGauge, "Leases applied in the current or last synchronization.",
		func(sn relSnapshot) float64 { return float64(sn.sync.Applied) })
	per("xdhcp_ha_sync_pages", stats.KindGauge, "Pages fetched in the current or last synchronization.",
		func(sn relSnapshot) float64 { return float64(sn.sync.Pages) })
	writeBackupQueues(e, svcs)
}

// writeBackupQueues writes, per backup server, the length of its update
// queue and the updates dropped because it was full.
func writeBackupQueues(e *stats.Exposition, svcs []*Service) {
	type q struct {
		labels []stats.Label
		queue  *backupQueue
	}
	var qs []q
	for _, s := range svcs {
		for i, r := range s.rels {
			for _, b := range r.backups {
				if b.queue == nil {
					continue
				}
				qs = append(qs, q{append(relLabels(s, i), stats.Label{Name: "backup", Value: b.cfg.Name}), b.queue})
			}
		}
	}
	if len(qs) == 0 {
		return
	}
	if e.Family("xdhcp_ha_backup_queue_length", stats.KindGauge, "Lease updates waiting to be sent to a backup server.") {
		for _, x := range qs {
			e.Int("", x.labels, int64(len(x.queue.ops)))
		}
	}
	if e.Family("xdhcp_ha_backup_queue_dropped_total", stats.KindCounter, "Lease updates to a backup server dropped because its queue was full.") {
		for _, x := range qs {
			e.Int("", x.labels, int64(x.queue.dropped.Load()))
		}
	}
}

// relLabels are the labels of relationship i of s: server and
// relationship, and family="dhcp6" for a DHCPv6 one.
func relLabels(s *Service, i int) []stats.Label {
	l := []stats.Label{{Name: "server", Value: s.rels[i].me.Name}, {Name: "relationship", Value: strconv.Itoa(i)}}
	if s.family == FamilyV6 {
		l = append(l, stats.Label{Name: "family", Value: s.family.Service()})
	}
	return l
}

// relSnapshot is one relationship's metrics, read under its lock once per
// scrape.
type relSnapshot struct {
	state, partnerState State
	unsent              int64
	hbLatency           float64
	interrupted         bool
	halfOnly            bool
	unacked, backlog    int
	transitions         uint64
	sync                syncStats
}

func snapshotOf(r *Relationship, s *Service) relSnapshot {
	sn := relSnapshot{unsent: int64(r.unsent.Load()), interrupted: r.interrupted(s.now()), halfOnly: !r.PoolPart().Whole()}
	r.mu.Lock()
	defer r.mu.Unlock()
	sn.state, sn.partnerState = r.state, r.partnerState
	sn.hbLatency = r.hbLatency.Seconds()
	sn.unacked, sn.backlog = int(r.clients.unacked), len(r.backlog)
	sn.transitions = r.transitions
	sn.sync = r.syncProgress
	return sn
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
