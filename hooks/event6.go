package hooks

import (
	"net/netip"
	"time"

	"xdhcp/lease"
)

// Point6 is where in the life of a DHCPv6 lease an event happens. The
// names are Kea's DHCPv6 hook points, which is how run-script passes them
// on.
type Point6 uint8

const (
	// Leases6Committed: an exchange's leases (and those it removed) are
	// durable and its Reply is about to leave. After a Release it names
	// the freed leases as deleted; after a Decline, the declined lease as
	// granted (in its probation state), as kea-dhcp6 calls it.
	Leases6Committed Point6 = iota + 1
	// Lease6Renew and Lease6Rebind: a Renew or a Rebind extended one of
	// the client's leases (told for each lease, before Leases6Committed).
	Lease6Renew
	Lease6Rebind
	// Lease6Release: a Release freed the lease (one event per lease).
	Lease6Release
	// Lease6Decline: a Decline put the address on probation.
	Lease6Decline
	// Lease6Expire: reclamation found the lease expired.
	Lease6Expire
	// Lease6Recover: a declined address came back from probation.
	Lease6Recover
	// Lease6Command: a lease command changed a lease (lease6-add,
	// lease6-update, lease6-del); Command says which.
	Lease6Command
)

// String returns Kea's hook point name.
func (p Point6) String() string {
	switch p {
	case Leases6Committed:
		return "leases6_committed"
	case Lease6Renew:
		return "lease6_renew"
	case Lease6Rebind:
		return "lease6_rebind"
	case Lease6Release:
		return "lease6_release"
	case Lease6Decline:
		return "lease6_decline"
	case Lease6Expire:
		return "lease6_expire"
	case Lease6Recover:
		return "lease6_recover"
	case Lease6Command:
		return "lease6_command"
	}
	return "unknown"
}

// Event6 is one DHCPv6 lease event. As Event, it is only valid during the
// call that passes it: a listener copies what it keeps.
type Event6 struct {
	Point Point6
	// Time is when the event happened.
	Time time.Time
	// Query is the message as the server received it (the UDP payload:
	// with its Relay-forw wrappers when relayed), nil for events without
	// one (expiry, recovery, commands). Response is the reply as sent
	// (with its Relay-reply wrappers), nil when there is none or it is
	// not built yet.
	Query, Response []byte
	// Where the query came from and arrived: the relay's address when
	// relayed. RemoteHW is the frame's source MAC when the transport saw
	// it (zero otherwise).
	Iface         string
	IfIndex       int
	Local, Remote netip.AddrPort
	RemoteHW      [6]byte
	// Classes are the query's client classes, in order.
	Classes []string
	// Leases are the leases the event granted or concerns; Deleted the
	// leases it removed.
	Leases, Deleted []lease.Lease6
	// IA is the IA of the query a Lease6Renew or Lease6Rebind event's
	// lease belongs to, as the reply carries it.
	IA IA6
	// Subnet is the leases' subnet (ID 0: unknown).
	Subnet Subnet
	// RemoveLease is lease6_expire's argument: the lease is deleted rather
	// than kept as expired-reclaimed.
	RemoveLease bool
	// Cached is set when the fast path answered the renewal from its
	// lease cache, without the engine and without a lease write.
	Cached bool
	// Command is the lease command of a Lease6Command event.
	Command string
}

// IA6 identifies an IA option: its code (3 IA_NA, 25 IA_PD), IAID and
// timers.
type IA6 struct {
	Code   uint16
	IAID   uint32
	T1, T2 uint32
}

// Listener6 is told of DHCPv6 lease events, under Listener's rules: it
// runs on the engine's goroutines and never blocks, but for the events a
// ReplyWaiter6 names.
type Listener6 interface {
	LeaseEvent6(e *Event6)
}

// Recorder6 is Recorder for DHCPv6: it formats the forensic record of an
// event before its leases are committed, to travel with them.
type Recorder6 interface {
	AppendRecord6(dst []byte, e *Event6) []byte
}

// ReplyWaiter6 is ReplyWaiter for DHCPv6: WaitsForReply6 says whether the
// listener's LeaseEvent6 waits until what it wrote for a reply's events is
// durable (the engine then tells of them before sending the reply).
type ReplyWaiter6 interface {
	WaitsForReply6() bool
}

// Listeners6 fans a DHCPv6 event out to several listeners, in order. At
// most one of them is a Flusher (the fast path's cached renewals).
type Listeners6 []Listener6

// LeaseEvent6 implements Listener6.
func (ls Listeners6) LeaseEvent6(e *Event6) {
	for _, l := range ls {
		l.LeaseEvent6(e)
	}
}

// WaitsForReply6 implements ReplyWaiter6: whether any listener waits.
func (ls Listeners6) WaitsForReply6() bool {
	for _, l := range ls {
		if w, ok := l.(ReplyWaiter6); ok && w.WaitsForReply6() {
			return true
		}
	}
	return false
}

func (ls Listeners6) flusher() Flusher {
	for _, l := range ls {
		if f, ok := l.(Flusher); ok {
			return f
		}
	}
	return nil
}

// Flush implements Flusher.
func (ls Listeners6) Flush() uint64 {
	if f := ls.flusher(); f != nil {
		return f.Flush()
	}
	return 0
}

// Synced implements Flusher.
func (ls Listeners6) Synced() uint64 {
	if f := ls.flusher(); f != nil {
		return f.Synced()
	}
	return 0
}

// OnSynced implements Flusher.
func (ls Listeners6) OnSynced(notify func()) func() {
	if f := ls.flusher(); f != nil {
		return f.OnSynced(notify)
	}
	return func() {}
}
