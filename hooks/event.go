// Package hooks is the contract between the DHCP engine (and the fast
// path's cached renewals) and what listens to lease events: forensic
// logging, run-script, the lease event log lines. The engine tells of
// events through the Listener and Recorder interfaces defined here; the
// implementations live in the packages below and are wired in by the
// daemon, so the engine never imports them.
package hooks

import (
	"net/netip"
	"time"

	"xdhcp/lease"
)

// Point is where in the life of a lease an event happens. The names are
// Kea's DHCPv4 hook points, which is how run-script passes them on.
type Point uint8

const (
	// Leases4Committed: a REQUEST's leases (and those it replaced) are
	// durable and its ACK is about to leave.
	Leases4Committed Point = iota + 1
	// Lease4Renew: a client renewed its own lease (told before
	// Leases4Committed, as Kea does).
	Lease4Renew
	// Lease4Release: a RELEASE freed the lease.
	Lease4Release
	// Lease4Decline: a DECLINE put the address on probation.
	Lease4Decline
	// Lease4Expire: reclamation found the lease expired.
	Lease4Expire
	// Lease4Recover: a declined address came back from probation.
	Lease4Recover
	// Lease4Offer: an OFFER carries the address (no Kea hook point of
	// that name in 2.2; the lease event log lines use it).
	Lease4Offer
	// LeaseCommand: a lease command changed a lease (lease4-add,
	// lease4-update, lease4-del); Command says which.
	LeaseCommand
)

// String returns Kea's hook point name.
func (p Point) String() string {
	switch p {
	case Leases4Committed:
		return "leases4_committed"
	case Lease4Renew:
		return "lease4_renew"
	case Lease4Release:
		return "lease4_release"
	case Lease4Decline:
		return "lease4_decline"
	case Lease4Expire:
		return "lease4_expire"
	case Lease4Recover:
		return "lease4_recover"
	case Lease4Offer:
		return "lease4_offer"
	case LeaseCommand:
		return "lease_command"
	}
	return "unknown"
}

// Event is one lease event. It is only valid during the call that passes
// it: Query, Response and the leases' byte slices may be reused after it
// returns, so a listener copies what it keeps.
type Event struct {
	Point Point
	// Time is when the event happened.
	Time time.Time
	// Query is the client's DHCP message (the UDP payload), nil for events
	// without one (expiry, recovery, commands). Response is the reply, nil
	// when there is none or it is not built yet.
	Query, Response []byte
	// Where the query came from and arrived; LocalHW is the frame's
	// destination MAC (Kea's local hardware address of a received packet).
	Iface             string
	IfIndex           int
	Local, Remote     netip.AddrPort
	LocalHW, RemoteHW [6]byte
	// Classes are the query's client classes, in order.
	Classes []string
	// Leases are the leases the event granted or concerns; Deleted the
	// leases it removed (the client's previous lease when it moved).
	Leases, Deleted []lease.Lease
	// Subnet is the lease's subnet (ID 0: unknown).
	Subnet Subnet
	// RemoveLease is lease4_expire's argument: the lease is deleted rather
	// than kept as expired-reclaimed.
	RemoveLease bool
	// Cached is set when the fast path answered the renewal from its
	// lease cache, without the engine and without a lease write.
	Cached bool
	// Reused is set when the engine answered a renewal by Kea's lease
	// reuse (cache-threshold): no lease write.
	Reused bool
	// Command is the lease command of a LeaseCommand event.
	Command string
}

// Subnet identifies the subnet of an event.
type Subnet struct {
	ID     uint32
	Prefix netip.Prefix
}

// Listener is told of lease events once they have happened (the lease is
// durable, the reply built). It runs on the engine's goroutines, so it
// must return quickly and never block: what takes time (a script, a
// write) is queued. The one exception is a ReplyWaiter, for the events it
// names: it may wait for its own write to be durable, and the engine
// holds the reply until it returns.
type Listener interface {
	LeaseEvent(e *Event)
}

// Interest is implemented by a listener that handles some points only:
// the engine builds no event for a point that no listener wants.
type Interest interface {
	Wants(p Point) bool
}

// Wants reports whether l handles events at p; a listener that does not
// say (no Interest) handles them all.
func Wants(l Listener, p Point) bool {
	if i, ok := l.(Interest); ok {
		return i.Wants(p)
	}
	return true
}

// Recorder formats the forensic record of an event before its lease is
// committed: the engine attaches the record to the lease operation, and
// the store makes it durable in the same group commit as the lease.
// AppendRecord appends the record (whole lines, newline-terminated) to
// dst; it returns dst unchanged when the event is not recorded.
type Recorder interface {
	AppendRecord(dst []byte, e *Event) []byte
}

// Flusher is implemented by a listener that holds what it is told of
// cached renewals (Event.Cached) until Flush: the fast path tells of a
// whole receive batch, then flushes once before the batch's replies leave.
//
// When the listener's records must be durable before the replies that
// acknowledge them leave, Flush returns a ticket (0: nothing to wait for)
// and the fast path holds those replies until Synced reaches it. notify,
// given to OnSynced, is called (on the syncing goroutine; it must not
// block) after each sync that advances Synced, so that a waiting worker
// wakes, until the returned cancel is called.
type Flusher interface {
	Flush() (ticket uint64)
	Synced() uint64
	OnSynced(notify func()) (cancel func())
}

// ReplyWaiter is implemented by a listener whose LeaseEvent, for some of
// the events of a REQUEST's reply, waits until what it wrote is durable:
// the engine tells it of those before it sends the reply, not after.
// WaitsForReply says whether it does for a reply that commits a lease
// (reused false) or renews one without a write (reused true).
type ReplyWaiter interface {
	WaitsForReply(reused bool) bool
}

// Listeners fans an event out to several listeners, in order. At most one
// of them is a Flusher.
type Listeners []Listener

// LeaseEvent implements Listener.
func (ls Listeners) LeaseEvent(e *Event) {
	for _, l := range ls {
		l.LeaseEvent(e)
	}
}

// Wants implements Interest: whether any of ls handles p.
func (ls Listeners) Wants(p Point) bool {
	for _, l := range ls {
		if Wants(l, p) {
			return true
		}
	}
	return false
}

func (ls Listeners) flusher() Flusher {
	for _, l := range ls {
		if f, ok := l.(Flusher); ok {
			return f
		}
	}
	return nil
}

// Flush implements Flusher.
func (ls Listeners) Flush() uint64 {
	if f := ls.flusher(); f != nil {
		return f.Flush()
	}
	return 0
}

// Synced implements Flusher.
func (ls Listeners) Synced() uint64 {
	if f := ls.flusher(); f != nil {
		return f.Synced()
	}
	return 0
}

// OnSynced implements Flusher.
func (ls Listeners) OnSynced(notify func()) func() {
	if f := ls.flusher(); f != nil {
		return f.OnSynced(notify)
	}
	return func() {}
}

// WaitsForReply implements ReplyWaiter: whether any listener waits.
func (ls Listeners) WaitsForReply(reused bool) bool {
	for _, l := range ls {
		if w, ok := l.(ReplyWaiter); ok && w.WaitsForReply(reused) {
			return true
		}
	}
	return false
}
