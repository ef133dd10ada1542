package slowpath

import (
	"fmt"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"xdhcp/internal/stats"
	"xdhcp/lease"
)

// serverStats are the global statistics, with Kea's names. They are created
// once at setup; the packet path only touches the handles.
type serverStats struct {
	received, parseFailed, receiveDrop, sent *stats.Stat
	offerSent, ackSent, nakSent              *stats.Stat
	rxByType                                 [dhcpv4.MessageTypeInform + 1]*stats.Stat
	rxUnknown                                *stats.Stat
	cumulativeAssigned, declined             *stats.Stat
	reclaimed, reclaimedDeclined             *stats.Stat
	allocFail, allocFailShared               *stats.Stat
	allocFailSubnet, allocFailNoPools        *stats.Stat
	allocFailClasses, reservationConflicts   *stats.Stat
	// Not in Kea: drops Kea does not count, named so an operator can tell.
	commitFail, sendFail, serialDrop, queueDrop *stats.Stat
	// commitWaits counts workers that waited for a commit slot
	// (maxInflightCommits): the lease file is the bottleneck.
	commitWaits *stats.Stat
	// replyOptionsOmitted counts replies that left out requested or
	// always-send options to fit the client's maximum message size.
	replyOptionsOmitted *stats.Stat
	// hostLookupErrors counts host database lookups that failed (the
	// packet needing the answer is dropped).
	hostLookupErrors *stats.Stat
}

func newServerStats(r *stats.Registry) *serverStats {
	c := r.Counter
	s := &serverStats{
		received:             c("pkt4-received"),
		parseFailed:          c("pkt4-parse-failed"),
		receiveDrop:          c("pkt4-receive-drop"),
		sent:                 c("pkt4-sent"),
		offerSent:            c("pkt4-offer-sent"),
		ackSent:              c("pkt4-ack-sent"),
		nakSent:              c("pkt4-nak-sent"),
		rxUnknown:            c("pkt4-unknown-received"),
		cumulativeAssigned:   c("cumulative-assigned-addresses"),
		declined:             r.Gauge("declined-addresses"),
		reclaimed:            c("reclaimed-leases"),
		reclaimedDeclined:    c("reclaimed-declined-addresses"),
		allocFail:            c("v4-allocation-fail"),
		allocFailShared:      c("v4-allocation-fail-shared-network"),
		allocFailSubnet:      c("v4-allocation-fail-subnet"),
		allocFailNoPools:     c("v4-allocation-fail-no-pools"),
		allocFailClasses:     c("v4-allocation-fail-classes"),
		reservationConflicts: c("v4-reservation-conflicts"),
		commitFail:           c("xdhcp-lease-commit-fail"),
		sendFail:             c("xdhcp-pkt4-send-fail"),
		serialDrop:           c("xdhcp-pkt4-client-busy-drop"),
		queueDrop:            c("xdhcp-pkt4-queue-full-drop"),
		commitWaits:          c("xdhcp-commit-backpressure-waits"),
		replyOptionsOmitted:  c("xdhcp-reply-options-omitted"),
		hostLookupErrors:     c("xdhcp-host-lookup-errors"),
	}
	for t, name := range map[dhcpv4.MessageType]string{
		dhcpv4.MessageTypeDiscover: "pkt4-discover-received",
		dhcpv4.MessageTypeOffer:    "pkt4-offer-received",
		dhcpv4.MessageTypeRequest:  "pkt4-request-received",
		dhcpv4.MessageTypeDecline:  "pkt4-decline-received",
		dhcpv4.MessageTypeAck:      "pkt4-ack-received",
		dhcpv4.MessageTypeNak:      "pkt4-nak-received",
		dhcpv4.MessageTypeRelease:  "pkt4-release-received",
		dhcpv4.MessageTypeInform:   "pkt4-inform-received",
	} {
		s.rxByType[t] = c(name)
	}
	return s
}

func (s *serverStats) countType(t dhcpv4.MessageType) {
	if int(t) < len(s.rxByType) && s.rxByType[t] != nil {
		s.rxByType[t].Inc()
		return
	}
	s.rxUnknown.Inc()
}

// subnetStats are the per-subnet statistics, subnet[id].*.
type subnetStats struct {
	total, assigned, cumulativeAssigned, declined *stats.Stat
	reclaimed, reclaimedDeclined, conflicts       *stats.Stat
	allocFail                                     *stats.Stat
}

func newSubnetStats(r *stats.Registry, id uint32) subnetStats {
	n := func(s string) string { return fmt.Sprintf("subnet[%d].%s", id, s) }
	return subnetStats{
		total:              r.Gauge(n("total-addresses")),
		assigned:           r.Gauge(n("assigned-addresses")),
		cumulativeAssigned: r.Counter(n("cumulative-assigned-addresses")),
		declined:           r.Gauge(n("declined-addresses")),
		reclaimed:          r.Counter(n("reclaimed-leases")),
		reclaimedDeclined:  r.Counter(n("reclaimed-declined-addresses")),
		conflicts:          r.Counter(n("v4-reservation-conflicts")),
		allocFail:          r.Counter(n("v4-allocation-fail")),
	}
}

// registerStoreStats exports the lease file's group-commit counters: how
// many commits were batched into how many writes and fdatasyncs, which is
// what an operator looks at when the lease file is the bottleneck.
func registerStoreStats(r *stats.Registry, st lease.StatsReporter) {
	for name, v := range map[string]func(lease.Stats) uint64{
		"xdhcp-lease-file-commits": func(s lease.Stats) uint64 { return s.Commits },
		"xdhcp-lease-file-batches": func(s lease.Stats) uint64 { return s.Batches },
		"xdhcp-lease-file-syncs":   func(s lease.Stats) uint64 { return s.Syncs },
		"xdhcp-lease-file-rows":    func(s lease.Stats) uint64 { return s.Rows },
	} {
		r.Func(name, stats.KindCounter, func() int64 { return int64(v(st.Stats())) })
	}
}
