// Package keadiff is the differential harness against ISC Kea 2.2: one Kea
// configuration, given unchanged (apart from the lab adaptations Adapt
// lists) to Debian's kea-dhcp4 and to xdhcpd, each in a lab of its own with
// the same interface names and addresses; the same DHCPv4 packets, direct
// and relayed, sent to both; and the answers compared field by field.
//
// A scenario is a configuration and the clients that exercise it (Client:
// chaddr, options, direct on a server interface or through a relay).
// Runner sends every client's DISCOVER, then its REQUEST for the address
// each server offered, then a renewal and an INFORM from that address, to
// both servers at once, and Compare says where the two answers differ. Known is the one table of differences the project
// accepts: deliberate ones (with the setting that restores Kea's
// behaviour) and, while another change is under way, pending ones.
//
// The package drives the real programs from outside, as an operator
// would; it is for tests.
package keadiff
