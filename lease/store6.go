package lease

import (
	"context"
	"net/netip"
)

// Reader6 is the read side of a DHCPv6 lease store. Reads never wait for
// the storage behind the store. Leases returned are the caller's. ByIA,
// ByDUID and ByHostname answer oldest lease first (in the order the
// addresses were leased, as Kea's memfile does); Page, Range and Expired
// in the orders they name.
type Reader6 interface {
	// Get returns the lease whose address (or delegated prefix) starts at
	// addr.
	Get(addr netip.Addr) (Lease6, bool)
	// ByIA returns the leases of type t held by DUID duid under IAID iaid
	// in subnet subnetID (0: in every subnet) — the leases of one IA.
	ByIA(duid []byte, iaid uint32, t Type, subnetID uint32) []Lease6
	// ByDUID returns every lease of DUID duid, of any type and subnet.
	ByDUID(duid []byte) []Lease6
	// ByHostname returns the leases whose hostname equals name, compared
	// case insensitively.
	ByHostname(name string) []Lease6
	// Page returns up to limit leases whose addresses are strictly greater
	// than from (Kea's lease6-get-page); an invalid from (the zero Addr)
	// starts at :: inclusive.
	Page(from netip.Addr, limit int) []Lease6
	// Range calls fn for every lease in ascending address order until fn
	// returns false. The *Lease6 and its slices are reused between calls
	// (Lease6.Clone what you keep), and fn must not call the store.
	Range(fn func(l *Lease6) bool)
	// Expired returns up to limit leases that expired at or before unix
	// time now and still await reclamation, oldest expiry first (ties by
	// address); limit <= 0 means all. Declined leases whose probation
	// ended are included (check State); expired-reclaimed and infinite
	// leases are not.
	Expired(now int64, limit int) []Lease6
	// Reclaimed returns up to limit expired-reclaimed leases that
	// expired at or before unix time before, oldest expiry first (ties by
	// address); limit <= 0 means all.
	Reclaimed(before int64, limit int) []Lease6
	// Len returns the number of leases.
	Len() int
}

// Store6 is a DHCPv6 lease store: what the DHCPv6 engine and the lease6
// commands need of it. Every method is safe for concurrent use. Commit and
// CommitAsync behave as Store's: atomic with respect to other commits,
// complete once durable and visible to reads, errors wrapping ErrStorage
// when the store cannot write and ErrInvalidLease for a lease it cannot
// store.
type Store6 interface {
	Reader6
	Commit(ctx context.Context, ops ...Op6) error
	CommitAsync(ops []Op6, done func(error))
}
