// Package xdptest holds the namespace acceptance tests of the XDP fast
// path: the xdhcpd binary runs in XDP mode (native and generic, as
// subtests) in the server namespace of a throw-away lab, clients run in a
// client namespace joined to it by a veth, and the tests look at what an
// operator sees (replies on the wire, statistics, the lease file, the drop
// list) to show that
//
//   - a full DORA goes through XDP and AF_XDP (TestDORA);
//   - a DROP-class client dies in XDP and never reaches user space, by
//     hardware address from a reservation and by client-id added at run
//     time, while another client is served (TestDropClass);
//   - a client renewing 50 times a second is cut by the XDP token bucket
//     while others are served (TestRateLimit);
//   - a cached renewal is answered by the fast path with the remaining
//     lifetime and writes nothing to the lease file (TestCachedRenewal);
//   - a flood of new DISCOVERs at several times the slow path's capacity is
//     shed in XDP, renewals of bound clients keep being answered, and the
//     daemon's memory stays bounded (TestDiscoverFlood);
//   - a restart keeps the drop list, with no gap in dropping (TestRestartKeepsDropList);
//   - a program upgrade through the pinned link loses no frame
//     (TestProgramUpgrade, at the loader level).
//
// The package has no non-test code. Every test needs root (namespaces,
// CAP_BPF, CAP_NET_ADMIN) and skips, saying why, without it. Each test
// mounts its own bpffs in a temporary directory for the daemon's pins, so
// nothing is left behind. The daemon is $XDHCP_BIN/xdhcpd when XDHCP_BIN
// names a directory holding one, else it is built once per test binary.
package xdptest
