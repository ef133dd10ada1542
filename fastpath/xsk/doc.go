// Package xsk is an AF_XDP socket on golang.org/x/sys/unix: a UMEM, its fill
// and completion rings, and the RX and TX rings of one (interface, queue).
// The XDP program in package bpf redirects DHCP requests of a queue to the
// socket registered for it (bpf.Objects.RegisterXSK with Socket.FD).
//
// # Namespaces
//
// Open must run on an OS thread inside the interface's network namespace
// (runtime.LockOSThread, as lab.NS.Do does): socket(2) and bind(2) resolve
// the ifindex there. The socket keeps that namespace; afterwards its fd and
// every method work from any goroutine (subject to the ownership below).
//
// # Ownership of the rings
//
// One goroutine, the owner (normally a fastpath worker locked to the
// queue's CPU), uses the RX, fill, TX and completion rings: it alone calls
// Receive, Frame, Release, Refill, Poll, GetTxFrame and Transmit. None of
// them takes a lock, and none allocates, so they must not run concurrently.
// Stats and FD may be called from any goroutine at any time (the metrics
// scraper does). Close may be called from any goroutine once the owner has
// stopped using the socket; it is idempotent. To stop an owner blocked in
// Poll, give Poll a finite timeout and check a context between calls.
//
// # Ownership of frames
//
// The UMEM is cut into NumFrames frames of FrameSize bytes. At every moment
// each frame belongs to exactly one party, and the socket tracks which, so
// that a double release or a transmit of a frame the caller does not hold
// is refused instead of corrupting the rings:
//
//   - the socket: on its free list, after Open, Release, or a reaped TX
//     completion;
//   - the kernel for RX: in the fill ring or being filled, after Refill
//     (which Receive and Poll call) moves it there from the free list;
//   - the caller: from Receive (an RX frame) or GetTxFrame (an empty
//     frame) until it hands the frame back with Release, or to the kernel
//     with Transmit; Frame and the buf of GetTxFrame are views into the
//     UMEM that are valid only as long as the caller owns the frame;
//   - the kernel for TX: after Transmit queued it, until the completion
//     ring returns it to the free list (GetTxFrame and Transmit reap it).
//
// A received frame may be transmitted directly (a reply built in place over
// its request): it goes from the caller to the kernel without passing
// through the free list.
//
// Open puts half the frames in the fill ring; Refill tops the fill ring up
// to that level again from the free list, and the other half of the UMEM
// stays available to GetTxFrame and to frames the caller holds.
//
// # Copy mode and zero copy
//
// On veth and on NICs without zero-copy support the kernel copies frames
// between the UMEM and its own buffers (XDP_COPY). There, every TX kick
// (sendto with MSG_DONTWAIT) sends at most 32 descriptors and answers
// EAGAIN while more are left, so Transmit kicks in a bounded loop and reaps
// the completion ring in between. Options.ZeroCopy asks for XDP_ZEROCOPY
// and falls back to copy mode where the driver refuses it; Mode reports
// which one the kernel gave.
package xsk
