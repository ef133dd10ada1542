package handoff

// CachedLease is one lease the engine has just ACKed, with what the fast
// path needs to repeat that ACK for a renewal while Kea's cache-threshold
// rules allow the lease to be reused. It is immutable once passed to
// LeaseCache.Put (Put stores a copy).
// Times are unix seconds, lifetimes seconds.
type CachedLease struct {
	// Addr is the leased address, the cache key.
	Addr [4]byte
	// HW and HWLen are the lease's hardware address (chaddr).
	HW    [16]byte
	HWLen uint8
	// ClientID is the client identifier stored with the lease (option 61
	// data), empty when none.
	ClientID []byte
	// IgnoreClientID is set when match-client-id is false for the
	// lease's subnet: Kea then ignores the request's client identifier
	// (and the stored one must be empty for the lease to be reusable).
	// The zero value is Kea's default, match-client-id true.
	IgnoreClientID bool
	// SubnetID is the lease's subnet. The fast path cannot select a
	// subnet; the address key and the fingerprint (giaddr, relay and
	// subnet-selection options) guarantee the slow path would pick this
	// one again. Kept for invalidation by the publisher.
	SubnetID uint32
	// CLTT and ValidLft are the stored client last transmission time and
	// valid lifetime, as in the lease store.
	CLTT     int64
	ValidLft uint32
	// NewValid is the valid lifetime the slow path would grant now to a
	// request without a lease-time hint (option 51).
	NewValid uint32
	// MinValid and MaxValid bound a client's lease-time hint, as Kea's
	// min-valid-lifetime / max-valid-lifetime do: a request carrying
	// option 51 gets min(max(hint, MinValid), MaxValid). Both zero means
	// the bounds are not configured, and Kea then ignores the hint
	// (granting NewValid).
	MinValid, MaxValid uint32
	// Threshold is cache-threshold (0 = not configured). MaxAge is
	// cache-max-age in seconds (negative = not configured).
	Threshold float64
	MaxAge    int64
	// T1/T2: RenewTimer/RebindTimer apply when HasT1/HasT2 (configured
	// explicitly); otherwise, when CalcTee (calculate-tee-times), they
	// are T1Pct/T2Pct of the lifetime sent. See Timers.
	RenewTimer, RebindTimer uint32
	HasT1, HasT2            bool
	CalcTee                 bool
	T1Pct, T2Pct            float64
	// ServerID is the server identifier (option 54) and the reply's
	// source address.
	ServerID [4]byte
	// Fingerprint is the hash of what in the ACKed request decides the
	// reply (giaddr, relay and subnet-selection options, the options
	// classification reads): the fast path's view computes it for every
	// renewal and the engine the same from its own parse.
	Fingerprint uint64
	// Options are the encoded options of that ACK, excluding 53, 54, 51,
	// 58, 59, pad and End, which the fast path writes itself: a sequence of
	// code, length, data.
	Options []byte
	// Siaddr is the next-server address of the reply.
	Siaddr [4]byte
}

// LeaseCache is where the engine publishes the leases the fast path may
// answer renewals for, and withdraws them. The fast path's lease cache
// implements it. Put refuses (with an error, and caches nothing) an entry
// it cannot use.
type LeaseCache interface {
	Put(e *CachedLease) error
	Delete(addr [4]byte)
	Purge()
}
