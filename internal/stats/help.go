package stats

// statHelp describes each statistic for the Prometheus HELP line, keyed by
// the statistic's name with every index written "[id]" (the form promName
// returns). Kea's statistics keep Kea's meaning; the xdhcp ones say what
// Kea does not count. A statistic missing here is exported with a HELP
// line that only names it (fallbackHelp), which the end-to-end metrics
// test refuses, so a new statistic comes with its description.
var statHelp = map[string]string{
	"pkt4-received":                     "DHCPv4 packets received.",
	"pkt4-parse-failed":                 "DHCPv4 packets that could not be parsed.",
	"pkt4-receive-drop":                 "DHCPv4 packets dropped after receipt (Kea's pkt4-receive-drop).",
	"pkt4-sent":                         "DHCPv4 packets sent.",
	"pkt4-offer-sent":                   "DHCPOFFER messages sent.",
	"pkt4-ack-sent":                     "DHCPACK messages sent.",
	"pkt4-nak-sent":                     "DHCPNAK messages sent.",
	"pkt4-discover-received":            "DHCPDISCOVER messages received.",
	"pkt4-offer-received":               "DHCPOFFER messages received (a server does not expect them).",
	"pkt4-request-received":             "DHCPREQUEST messages received.",
	"pkt4-decline-received":             "DHCPDECLINE messages received.",
	"pkt4-ack-received":                 "DHCPACK messages received (a server does not expect them).",
	"pkt4-nak-received":                 "DHCPNAK messages received (a server does not expect them).",
	"pkt4-release-received":             "DHCPRELEASE messages received.",
	"pkt4-inform-received":              "DHCPINFORM messages received.",
	"pkt4-unknown-received":             "DHCPv4 packets of an unknown message type received.",
	"cumulative-assigned-addresses":     "Addresses assigned since the server started.",
	"declined-addresses":                "Addresses currently declined by clients (probation).",
	"reclaimed-leases":                  "Expired leases reclaimed.",
	"reclaimed-declined-addresses":      "Declined addresses reclaimed after their probation.",
	"v4-allocation-fail":                "Address allocations that failed.",
	"v4-allocation-fail-shared-network": "Address allocations that failed with every subnet of a shared network full.",
	"v4-allocation-fail-subnet":         "Address allocations that failed in a subnet outside any shared network.",
	"v4-allocation-fail-no-pools":       "Address allocations that failed because the subnet has no pools.",
	"v4-allocation-fail-classes":        "Address allocations that failed because client classes excluded every pool.",
	"v4-reservation-conflicts":          "Reserved addresses that were leased to another client.",

	"subnet[id].total-addresses":               "Addresses in the subnet's pools.",
	"subnet[id].assigned-addresses":            "Addresses of the subnet currently leased.",
	"subnet[id].cumulative-assigned-addresses": "Addresses of the subnet assigned since the server started.",
	"subnet[id].declined-addresses":            "Addresses of the subnet currently declined.",
	"subnet[id].reclaimed-leases":              "Expired leases of the subnet reclaimed.",
	"subnet[id].reclaimed-declined-addresses":  "Declined addresses of the subnet reclaimed.",
	"subnet[id].v4-reservation-conflicts":      "Reserved addresses of the subnet leased to another client.",
	"subnet[id].v4-allocation-fail":            "Address allocations in the subnet that failed.",
	"subnet[id].pool[id].total-addresses":      "Addresses in the pool.",
	"subnet[id].pool[id].assigned-addresses":   "Addresses of the pool currently leased.",

	"xdhcp-lease-commit-fail":             "Replies not sent because the lease could not be committed.",
	"xdhcp-host-lookup-errors":            "Packets dropped because a host database lookup failed.",
	"xdhcp-host-database-connection-lost": "Times the connection to a host database was lost (on-fail applies).",
	"xdhcp-config-backend-fetches":        "Times the configuration backend (config-control) was read, at start, on reload, on a changed audit or config-backend-pull.",
	"xdhcp-config-backend-fetch-errors":   "Configuration backend polls or reads that failed (database unreachable, or its configuration invalid); the running configuration stayed.",
	"xdhcp-config-backend-failed":         "1 while the last read of the configuration backend failed, else 0.",
	"xdhcp-pkt4-send-fail":                "Replies the transport failed to send.",
	"xdhcp-pkt4-client-busy-drop":         "Packets dropped because the same client already had one in progress.",
	"xdhcp-pkt4-queue-full-drop":          "Packets dropped because the slow path's queue was full.",
	"xdhcp-commit-backpressure-waits":     "Times a worker waited for a lease commit slot (the lease store is the bottleneck).",
	"xdhcp-reply-options-omitted":         "Replies that left out options to fit the client's maximum message size.",
	"xdhcp-lease-file-commits":            "Lease commits written to the lease file.",
	"xdhcp-lease-file-batches":            "Group-commit batches written to the lease file.",
	"xdhcp-lease-file-syncs":              "fdatasync calls on the lease file.",
	"xdhcp-lease-file-rows":               "Rows written to the lease file.",
	"xdhcp-lease-file-failed":             "1 while the lease file cannot be written (on-fail in effect), else 0.",
	"xdhcp-lease-file-failed-retries":     "Attempts to write the lease file again while it was failing.",
	"xdhcp-lease-file-faults":             "Lease file write or sync errors.",
	"xdhcp-lease-file-recoveries":         "Times the lease file became writable again after failing.",
	"xdhcp-lease-file-refused-commits":    "Lease commits refused while the lease file was failing.",
	"xdhcp-offer-hold-limited":            "Offers not held because the offer-hold table was full.",
	"xdhcp-pkt4-bad-giaddr-drop":          "Packets dropped for an unusable relay address (giaddr).",
	"xdhcp-pkt4-bad-hlen-drop":            "Packets dropped for a hardware address length the type does not allow.",
	"xdhcp-pkt4-bad-option-drop":          "Packets dropped for a malformed option.",
	"xdhcp-pkt4-client-flood-drop":        "Packets dropped by the per-client rate limit in the slow path.",
	"xdhcp-pkt4-discover-server-id-drop":  "DHCPDISCOVER messages dropped for carrying a server identifier.",
	"xdhcp-pkt4-no-subnet-drop":           "Packets dropped because no subnet matched.",
	"xdhcp-pkt4-ha-partner-part-drop":     "Requests for an address of the HA partner's part of a pool, left to the partner while both may serve without replication.",
	"xdhcp-pkt6-ha-partner-part-drop":     "Hinted addresses and prefixes of the HA partner's part of a pool, and Renews and Rebinds for ones this server holds no lease of, left to the partner while both may serve without replication.",
	"xdhcp-pkt4-other-server-drop":        "Requests addressed to another server (server identifier), dropped.",
	"xdhcp-pkt4-rate-limit-drop":          "Packets dropped by the configured rate limit.",
	"xdhcp-pkt4-relay-hops-drop":          "Relayed packets dropped for too many relay hops.",
	"xdhcp-pkt4-untrusted-relay-drop":     "Packets with a relay address (giaddr) that no relay sent, dropped.",
	"xdhcp-pkt4-drop-list-drop":           "Packets from clients on the drop list, dropped by the slow path.",

	"xdp-pass-not-dhcp":               "Frames the XDP program passed to the kernel because they are not DHCP requests to its ports (67, and 547 when it serves DHCPv6).",
	"xdp-pass-fragment":               "IP fragments the XDP program passed to the kernel.",
	"xdp-pass-not-request":            "DHCP frames passed to the kernel because they are not client requests.",
	"xdp-pass-xsk-missing":            "DHCP frames passed to the kernel because no AF_XDP socket serves their queue.",
	"xdp-drop-malformed":              "Frames dropped by the XDP program as malformed.",
	"xdp-drop-mac":                    "Frames dropped by the XDP program: hardware address on the drop list.",
	"xdp-drop-client-id":              "Frames dropped by the XDP program: client identifier on the drop list.",
	"xdp-drop-rate-limited":           "Frames dropped by the XDP program's per-client rate limit.",
	"xdp-drop-ha-out-of-scope":        "Frames dropped by the XDP program: the client belongs to the HA partner's scope.",
	"xdp-drop-shed-discover":          "DHCPDISCOVER frames shed by the XDP program under overload.",
	"xdp-drop-shed-other":             "Other DHCP frames shed by the XDP program under overload.",
	"xdp-drop-irregular-out-of-scope": "Frames dropped by the XDP program with HA on: options it cannot judge (walk cut short, option 53 or 61 repeated, option 52).",
	"xdp-drop-irregular-shed":         "Frames with options the XDP program cannot judge, shed first under overload.",
	"xdp-redirected":                  "DHCP frames the XDP program redirected to an AF_XDP socket.",

	"fastpath-rx-frames":            "Frames the fast-path workers received from AF_XDP sockets.",
	"fastpath-rx-malformed":         "Frames the fast-path workers could not parse.",
	"fastpath-cache-hits":           "Renewals answered from the lease cache without the slow path.",
	"fastpath-cache-misses":         "Renewals the lease cache could not answer.",
	"fastpath-handoffs":             "Packets the fast path handed to the slow path.",
	"fastpath-tx-frames":            "Frames the fast-path workers sent.",
	"fastpath-tx-errors":            "Frames the fast-path workers failed to send.",
	"fastpath-slow-replies":         "Slow-path replies sent through a fast-path worker.",
	"fastpath-slow-replies-dropped": "Slow-path replies dropped because the worker's reply queue was full.",
	"fastpath-kernel-replies":       "Replies to relays the kernel sent (route by another interface, or relay MAC not yet resolved).",
	"fastpath-packets-outstanding":  "Packet buffers held by the slow path.",
	"fastpath-overload-level":       "Overload shedding level (0 = none; higher sheds more).",

	// DHCPv6 on the XDP and AF_XDP fast path.
	"xdp-pass-fragment6":               "IPv6 fragments the XDP program passed to the kernel.",
	"xdp-pass-ext-unparsed6":           "IPv6 frames passed to the kernel: extension header chain too long or cut short.",
	"xdp-pass-not-request6":            "DHCPv6 frames passed to the kernel because they are not client or relay messages.",
	"xdp-pass-xsk-missing6":            "DHCPv6 frames passed to the kernel because no AF_XDP socket serves their queue.",
	"xdp-drop-malformed6":              "DHCPv6 frames dropped by the XDP program as malformed (message or relay header cut short, relay without Relay Message).",
	"xdp-drop-duid":                    "DHCPv6 frames dropped by the XDP program: client DUID on the drop list.",
	"xdp-drop-rate-limited6":           "DHCPv6 frames dropped by the XDP program's per-client (DUID) rate limit.",
	"xdp-drop-ha-out-of-scope6":        "DHCPv6 frames dropped by the XDP program: the DUID belongs to the HA partner's scope, or there is none.",
	"xdp-drop-shed-solicit":            "DHCPv6 Solicits shed by the XDP program under overload.",
	"xdp-drop-shed-other6":             "Other DHCPv6 frames (not Renew or Rebind) shed by the XDP program under overload.",
	"xdp-drop-irregular-out-of-scope6": "DHCPv6 frames dropped with HA on: the XDP program could not judge them (options or relay nesting too deep, client-id repeated or too long).",
	"xdp-drop-irregular-shed6":         "DHCPv6 frames the XDP program could not judge, shed first under overload.",
	"xdp-redirected6":                  "DHCPv6 frames the XDP program redirected to an AF_XDP socket.",
	"fastpath-rx-frames6":              "DHCPv6 frames the fast-path workers received from AF_XDP sockets.",
	"fastpath-rx-malformed6":           "DHCPv6 frames the fast-path workers could not parse or had no DHCPv6 engine for.",
	"fastpath-cache-hits6":             "DHCPv6 Renews and Rebinds answered from the lease cache without the engine.",
	"fastpath-cache-misses6":           "DHCPv6 Renews and Rebinds the lease cache could not answer.",
	"fastpath-handoffs6":               "DHCPv6 messages the fast path handed to the DHCPv6 engine.",
	"fastpath-slow-replies6":           "DHCPv6 engine replies sent through a fast-path worker.",

	"xsk-rx-dropped":         "Frames the kernel dropped on AF_XDP receive.",
	"xsk-rx-ring-full":       "Frames dropped because an AF_XDP receive ring was full.",
	"xsk-rx-fill-ring-empty": "Times an AF_XDP fill ring was empty.",
	"xsk-tx-ring-empty":      "Times an AF_XDP transmit ring was empty.",
	"xsk-invalid-descs":      "Invalid AF_XDP ring descriptors.",
}

// fallbackHelpPrefix starts the HELP line of a statistic statHelp does not
// describe.
const fallbackHelpPrefix = "Statistic "

// helpFor returns the HELP text of the statistic pattern p.
func helpFor(p string) string {
	if h, ok := statHelp[p]; ok {
		return h + " (statistic " + p + ")"
	}
	return fallbackHelpPrefix + p + "."
}
