package slowpath6

import (
	"fmt"

	"xdhcp/dhcp6"
	"xdhcp/internal/stats"
)

// serverStats are the global DHCPv6 statistics, with kea-dhcp6's names.
type serverStats struct {
	received, parseFailed, receiveDrop, sent     *stats.Stat
	advertiseSent, replySent                     *stats.Stat
	rxByType                                     [dhcp6.RelayRepl + 1]*stats.Stat
	rxUnknown                                    *stats.Stat
	allocFail, allocFailSubnet, allocFailNoPools *stats.Stat
	allocFailShared, allocFailClasses            *stats.Stat
	// Not in Kea: drops Kea does not count, named so an operator can tell.
	commitFail, sendFail, queueDrop, clientFlood, commitWaits *stats.Stat
	// partnerPart counts hinted addresses and prefixes of the HA
	// partner's part of a pool, left to the partner (see Deps.Share).
	partnerPart *stats.Stat
}

func newServerStats(r *stats.Registry) *serverStats {
	c := r.Counter
	s := &serverStats{
		received:         c("pkt6-received"),
		parseFailed:      c("pkt6-parse-failed"),
		receiveDrop:      c("pkt6-receive-drop"),
		sent:             c("pkt6-sent"),
		advertiseSent:    c("pkt6-advertise-sent"),
		replySent:        c("pkt6-reply-sent"),
		rxUnknown:        c("pkt6-unknown-received"),
		allocFail:        c("v6-allocation-fail"),
		allocFailSubnet:  c("v6-allocation-fail-subnet"),
		allocFailNoPools: c("v6-allocation-fail-no-pools"),
		allocFailShared:  c("v6-allocation-fail-shared-network"),
		allocFailClasses: c("v6-allocation-fail-classes"),
		commitFail:       c("xdhcp-lease6-commit-fail"),
		sendFail:         c("xdhcp-pkt6-send-fail"),
		queueDrop:        c("xdhcp-pkt6-queue-full-drop"),
		clientFlood:      c("xdhcp-pkt6-client-flood-drop"),
		commitWaits:      c("xdhcp-commit6-backpressure-waits"),
		partnerPart:      c("xdhcp-pkt6-ha-partner-part-drop"),
	}
	// Confirm, Reconfigure and the relay types have no counter of their
	// own in Kea, and are not "unknown" either.
	s.rxByType[dhcp6.Confirm], s.rxByType[dhcp6.Reconfigure] = none, none
	s.rxByType[dhcp6.RelayForw], s.rxByType[dhcp6.RelayRepl] = none, none
	for t, name := range map[dhcp6.MsgType]string{
		dhcp6.Solicit:            "pkt6-solicit-received",
		dhcp6.Advertise:          "pkt6-advertise-received",
		dhcp6.Request:            "pkt6-request-received",
		dhcp6.Reply:              "pkt6-reply-received",
		dhcp6.Renew:              "pkt6-renew-received",
		dhcp6.Rebind:             "pkt6-rebind-received",
		dhcp6.Release:            "pkt6-release-received",
		dhcp6.Decline:            "pkt6-decline-received",
		dhcp6.InformationRequest: "pkt6-infrequest-received",
	} {
		s.rxByType[t] = c(name)
	}
	return s
}

// none is the counter of message types Kea counts only in pkt6-received.
var none = new(stats.Stat)

func (s *serverStats) countType(t dhcp6.MsgType) {
	if int(t) < len(s.rxByType) && s.rxByType[t] != nil {
		s.rxByType[t].Inc()
		return
	}
	s.rxUnknown.Inc()
}

// subnetStats are the allocation failures of subnet[id]; the lease
// statistics (total, assigned, cumulative, declined, reclaimed) are
// stats6's.
type subnetStats struct {
	allocFail, allocFailSubnet, allocFailShared *stats.Stat
	allocFailNoPools, allocFailClasses          *stats.Stat
}

func newSubnetStats(r *stats.Registry, id uint32) *subnetStats {
	n := func(s string) string { return fmt.Sprintf("subnet[%d].%s", id, s) }
	return &subnetStats{
		allocFail:        r.Counter(n("v6-allocation-fail")),
		allocFailSubnet:  r.Counter(n("v6-allocation-fail-subnet")),
		allocFailShared:  r.Counter(n("v6-allocation-fail-shared-network")),
		allocFailNoPools: r.Counter(n("v6-allocation-fail-no-pools")),
		allocFailClasses: r.Counter(n("v6-allocation-fail-classes")),
	}
}
