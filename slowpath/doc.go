// Package slowpath is the DHCPv4 server proper: it classifies requests,
// selects a subnet, honours reservations, allocates addresses, commits
// leases to the lease store and builds replies (RFC 2131/2132, with Kea
// 2.2's behaviour where Kea defines it).
//
// Concurrency model. Transports (AF_PACKET socket mode, the AF_XDP fast
// path) hand packets to Server.Enqueue, which never blocks: the queue is
// bounded (Kea's packet-queue-size) and drops its oldest packet when full.
// A pool of worker goroutines takes packets off the queue. Packets of one
// client are never processed concurrently: while one is in flight, the
// newest follow-up is kept and the one it displaces is dropped, as Kea does.
// The queue, each client's share of it, the socket-mode rate limit and the
// per-client serialization are package intake; this package decodes and
// answers what comes out of it.
// Workers do not wait for the lease file: a commit is handed to the
// store's group commit (lease.Store.CommitAsync) and what depends on it (the
// ACK, after the HA partner has the lease) runs from its completion, which
// also releases the client for its next packet (commit.go). So there are
// about as many workers as CPUs, and one fdatasync covers every commit
// queued meanwhile; commits in flight are bounded (maxInflightCommits).
//
// The running configuration and everything derived from it (pools,
// reservation indexes) is a *liveConfig, replaced as a whole on reload
// under the configuration lock (Server.rtMu); workers hold the read side
// while they process a packet.
package slowpath
