package lease

import (
	"context"
	"errors"
	"net/netip"
)

// Errors every Store returns in the same cases.
var (
	// ErrClosed is returned by Commit (and a store's maintenance calls)
	// after the store was closed.
	ErrClosed = errors.New("lease store closed")
	// ErrInvalidLease is wrapped by Commit when an op's lease cannot be
	// stored (it would make a row Kea rejects).
	ErrInvalidLease = errors.New("invalid lease")
	// ErrConflict is wrapped by Commit when a store shared with other
	// servers (a database) holds a live lease of another client for an
	// op's address: nothing of the commit was applied, and the store's
	// reads now return that lease, so the caller can choose again.
	ErrConflict = errors.New("address leased to another client")
)

// Shared is implemented by a Store that other servers write to as well (a
// lease database several servers use). Such a store cannot know what the
// others are about to offer, so the engine starts each pool's search at a
// place of its own rather than at the pool's first address: servers that
// all began at the first address would offer the same addresses in the
// same order, and all but one of each would then fail its commit.
type Shared interface {
	SharedWithOtherServers() bool
}

// Reader is the read side of a lease store. Reads never wait for the
// storage behind the store. Leases returned are the caller's.
type Reader interface {
	// Get returns the lease for addr.
	Get(addr netip.Addr) (Lease, bool)
	// ByHWAddr returns the leases with hardware address hw in every
	// subnet, in ascending address order.
	ByHWAddr(hw []byte) []Lease
	// ByClientID returns the leases with client identifier id in every
	// subnet, in ascending address order.
	ByClientID(id []byte) []Lease
	// ByHostname returns the leases whose hostname equals name, compared
	// case insensitively, in ascending address order.
	ByHostname(name string) []Lease
	// Page returns up to limit leases whose addresses are strictly
	// greater than from, in ascending order (Kea's lease4-get-page); an
	// invalid from (the zero Addr) starts at 0.0.0.0 inclusive.
	Page(from netip.Addr, limit int) []Lease
	// Range calls fn for every lease in ascending address order until fn
	// returns false. The *Lease and its slices are reused between calls
	// (Lease.Clone what you keep), and fn must not call the store.
	Range(fn func(l *Lease) bool)
	// Expired returns up to limit leases that expired at or before unix
	// time now and still await reclamation, oldest expiry first (ties by
	// address); limit <= 0 means all. Declined leases whose probation
	// ended are included (check State); expired-reclaimed and infinite
	// leases are not.
	Expired(now int64, limit int) []Lease
	// Reclaimed returns up to limit expired-reclaimed leases that
	// expired at or before unix time before, oldest expiry first (ties by
	// address); limit <= 0 means all.
	Reclaimed(before int64, limit int) []Lease
	// Len returns the number of leases.
	Len() int
}

// Store is a lease store: what the DHCP engine and the lease commands need
// of it. Every method is safe for concurrent use.
type Store interface {
	Reader
	// Commit applies ops atomically with respect to other commits and
	// returns once they are durable and visible to reads. If ctx ends
	// first it returns ctx.Err() and the outcome is unknown; the store may
	// still read ops and their byte slices until it is settled. A store
	// that cannot write returns an error wrapping ErrStorage.
	Commit(ctx context.Context, ops ...Op) error
	// CommitAsync is Commit without the wait: done is called exactly once
	// with what Commit would have returned, maybe before CommitAsync
	// returns. done must return quickly and must not call the store; ops
	// must not be modified until it is called.
	CommitAsync(ops []Op, done func(error))
}

// Stats are cumulative counters of a store's write path. A store fills
// the counters it has and leaves the others zero.
type Stats struct {
	Commits     uint64 // Commit calls that reached the writer
	Batches     uint64 // group commits (one write(2) each)
	Syncs       uint64 // fdatasync(2) calls on the journal
	Rows        uint64 // rows appended to the journal
	WriteErrors uint64 // batches that failed
	LFCRuns     uint64 // completed lease file cleanups
	Faults      uint64 // storage fault episodes begun
	Refused     uint64 // commits refused because of a storage fault
	Retries     uint64 // failed recovery attempts
}

// StatsReporter is implemented by a Store that counts its writes; the
// server exports the counters as statistics.
type StatsReporter interface {
	Stats() Stats
}

// CompletionYield is how many commit completions a store's goroutine runs
// back to back before it lets the other goroutines run. A CommitAsync
// callback does the rest of its exchange there (the engine builds and
// sends the reply), and a batch holds hundreds of them: milliseconds of
// work, which on one P (a server confined to one core) the packet
// workers would otherwise wait out, the packets piling up meanwhile.
const CompletionYield = 16
