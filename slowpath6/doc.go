// Package slowpath6 is the DHCPv6 engine (RFC 8415, as Kea 2.2's
// kea-dhcp6 answers): Solicit/Advertise/Request/Reply, rapid commit,
// Renew, Rebind, Release, Decline, Confirm and Information-request, for
// IA_NA and IA_PD (any number of IAs per client), direct or through any
// depth of relays.
//
// It sits beside the DHCPv4 engine (slowpath) and is held to the same
// rules: it sees packets through handoff (Packet6, Sender6) and leases
// through the lease.Store6 interface, and imports no transport, command
// channel or concrete store. The queue in front of its workers is the v4
// engine's (slowpath/intake): bounded, drop-oldest, a share per client.
//
// The server's DUID is made and kept as Kea keeps it (DUID-LLT by default,
// in the data directory's kea-dhcp6-serverid file), so that a server
// replacing kea-dhcp6 keeps its clients' bindings valid.
package slowpath6
