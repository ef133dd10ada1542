package handoff

import "encoding/binary"

// CachedLease6 is one DHCPv6 client's bindings as the engine has just
// answered them (a Reply to a Request, Renew or Rebind), with what the fast
// path needs to repeat that Reply for the client's next Renew or Rebind
// while Kea's cache-threshold / cache-max-age rules allow the leases to be
// reused. The key is the client's DUID. It is immutable once passed to
// LeaseCache6.Put6 (Put6 stores a copy). Times are unix seconds, lifetimes
// seconds.
//
// The fast path answers a Renew or Rebind from an entry only when its
// Fingerprint6 equals Fingerprint (so it came through the same relays, or
// straight from the client as the answered message did), its DUID equals
// DUID, a Renew names ServerDUID, and every IA of the message is an IA_NA
// or IA_PD of the entry (same type and IAID) listing exactly that IA's
// addresses or prefixes, each still reusable. Anything else goes to the
// engine.
type CachedLease6 struct {
	// DUID is the client's DUID (option 1 data), the cache key.
	DUID []byte
	// ServerDUID is the server's DUID (option 2 data) the Reply carries;
	// a Renew naming another server is not answered from the cache.
	ServerDUID []byte
	// IfIndex is the interface the answered request came in on (the
	// subnet was selected by it); 0 matches any interface.
	IfIndex int
	// Fingerprint is Fingerprint6 of the message the engine answered.
	Fingerprint uint64
	// Threshold is cache-threshold (0 = not configured). MaxAge is
	// cache-max-age in seconds (negative = not configured).
	Threshold float64
	MaxAge    int64
	// IAs are the client's IA_NA and IA_PD options with their leases, in
	// the order the Reply carried them.
	IAs []CachedIA6
	// Relays are the Relay-reply wrappers of that Reply, outermost first
	// (none for a message the client sent straight to the server): the
	// fast path wraps its Reply in the same ones.
	Relays []CachedRelay6
	// Options are the encoded top-level options of that Reply other than
	// client-id (1), server-id (2), IA_NA (3), IA_TA (4), IA_PD (25) and
	// rapid-commit (14), which the fast path writes itself: a sequence of
	// 16-bit code, 16-bit length, data.
	Options []byte
}

// CachedRelay6 is one Relay-reply level of a cached Reply.
type CachedRelay6 struct {
	HopCount           uint8
	LinkAddr, PeerAddr [16]byte
	// Options are the level's options other than the Relay Message (e.g.
	// the echoed interface-id): 16-bit code, 16-bit length, data.
	Options []byte
}

// IA option codes a CachedIA6 can hold (RFC 8415 section 21).
const (
	OptionIANA = 3
	OptionIAPD = 25
)

// CachedIA6 is one IA_NA or IA_PD of a CachedLease6.
type CachedIA6 struct {
	// Type is OptionIANA or OptionIAPD.
	Type uint16
	IAID uint32
	// SubnetID is the subnet of the IA's leases, kept for invalidation
	// by the publisher.
	SubnetID uint32
	// T1/T2: RenewTimer/RebindTimer apply when HasT1/HasT2 (configured
	// explicitly); otherwise, when CalcTee (calculate-tee-times), they
	// are T1Pct/T2Pct of the shortest preferred lifetime sent in the IA,
	// rounded, as Kea's setTeeTimes for DHCPv6: T2 is sent as computed, T1
	// only when below T2 (else 0).
	RenewTimer, RebindTimer uint32
	HasT1, HasT2            bool
	CalcTee                 bool
	T1Pct, T2Pct            float64
	// Leases are the IA's addresses (IA_NA) or prefixes (IA_PD).
	Leases []CachedLease6Addr
	// Options are the encoded options the Reply carried inside the IA
	// other than IAADDR (5) and IAPREFIX (26), e.g. a status code: 16-bit
	// code, 16-bit length, data.
	Options []byte
}

// CachedLease6Addr is one lease of a CachedIA6.
type CachedLease6Addr struct {
	// Addr is the address, or the prefix of a delegated prefix.
	Addr [16]byte
	// PrefixLen is the delegated length of a prefix; 128 for an address.
	PrefixLen uint8
	// CLTT, ValidLft and PreferredLft are as in the lease store.
	CLTT                   int64
	ValidLft, PreferredLft uint32
	// NewValid and NewPreferred are the lifetimes the engine would grant
	// now to a Renew without lifetime hints.
	NewValid, NewPreferred uint32
	// MinValid/MaxValid and MinPreferred/MaxPreferred bound the client's
	// lifetime hints (the lifetimes in its IAADDR / IAPREFIX), as Kea's
	// min-/max- lifetimes do: a hint h gets min(max(h, Min), Max). All
	// zero means the bounds are not configured, and Kea then ignores the
	// hints.
	MinValid, MaxValid         uint32
	MinPreferred, MaxPreferred uint32
	// Options are the encoded options the Reply carried inside this
	// IAADDR / IAPREFIX (e.g. a prefix-exclude option): 16-bit code,
	// 16-bit length, data.
	Options []byte
}

// LeaseCache6 is where the DHCPv6 engine publishes the bindings the fast
// path may answer Renews and Rebinds for, and withdraws them. The fast
// path's DHCPv6 lease cache implements it. Put6 refuses (with an error, and
// caches nothing) an entry it cannot use.
type LeaseCache6 interface {
	Put6(e *CachedLease6) error
	// Delete6 withdraws the client's entry: call it when any of its
	// leases is released, declined, reclaimed or changed.
	Delete6(duid []byte)
	Purge6()
}

// FNV-1a, 64-bit, as the DHCPv4 fingerprint.
const (
	fnv6Offset = 14695981039346656037
	fnv6Prime  = 1099511628211
)

// DHCPv6 option codes Fingerprint6 leaves out.
const (
	opt6ClientID    = 1
	opt6ServerID    = 2
	opt6RelayMsg    = 9
	msg6RelayForw   = 12
	relay6HeaderLen = 34
	relay6MaxDepth  = 32
	opt6IATA        = 4
	opt6ElapsedTime = 8
	opt6RapidCommit = 14
)

// Fingerprint6 is a 64-bit FNV-1a hash of everything in the DHCPv6
// datagram msg that can change the Reply or the client's classification,
// apart from what a Renew or Rebind legitimately changes. Of each
// Relay-forw around the client's message: the hop count, link and peer
// addresses and every option but the Relay Message (interface-id,
// remote-id, ...), so a message relayed otherwise, or not relayed, has
// another fingerprint. Of the client's message: every option (code,
// length, data, in message order) except client-id (1, compared on its
// own), server-id (2, present in Request and Renew, absent in Rebind),
// the IAs (3, 4, 25, compared on their own), elapsed time (8) and
// rapid-commit (14); the message type and transaction id are left out.
// ok is false when the datagram does not parse (an option runs past its
// container, a relay without Relay Message, relays nested deeper than
// 32).
//
// The engine publishes with an entry the fingerprint of the message it
// answered; the fast path answers only a message whose fingerprint
// matches, so classification and option selection (the option request
// option, vendor and user classes, FQDN) cannot differ. The hash is not
// keyed: it guards against accidents, not against a client forging a
// collision, which could only earn that client its own cached reply. It
// does not allocate.
func Fingerprint6(msg []byte) (fp uint64, ok bool) {
	h := uint64(fnv6Offset)
	for depth := 0; len(msg) > 0 && msg[0] == msg6RelayForw; depth++ {
		if depth == relay6MaxDepth || len(msg) < relay6HeaderLen {
			return 0, false
		}
		h = fnv6(h, msg[1:relay6HeaderLen])
		var inner []byte
		found := false
		for o := msg[relay6HeaderLen:]; len(o) > 0; {
			if len(o) < 4 || len(o) < 4+int(binary.BigEndian.Uint16(o[2:])) {
				return 0, false
			}
			n := 4 + int(binary.BigEndian.Uint16(o[2:]))
			if binary.BigEndian.Uint16(o) == opt6RelayMsg && !found {
				inner, found = o[4:n], true
			} else {
				h = fnv6(h, o[:n])
			}
			o = o[n:]
		}
		if !found {
			return 0, false
		}
		msg = inner
	}
	if len(msg) < 4 {
		return 0, false
	}
	h = fnv6(h, []byte{0xff}) // the client message starts
	for o := msg[4:]; len(o) > 0; {
		if len(o) < 4 {
			return 0, false
		}
		code := binary.BigEndian.Uint16(o)
		n := int(binary.BigEndian.Uint16(o[2:]))
		if len(o) < 4+n {
			return 0, false
		}
		switch code {
		case opt6ClientID, opt6ServerID, OptionIANA, opt6IATA, OptionIAPD, opt6ElapsedTime, opt6RapidCommit:
		default:
			h = fnv6(h, o[:4+n])
		}
		o = o[4+n:]
	}
	return h, true
}

func fnv6(h uint64, b []byte) uint64 {
	for _, c := range b {
		h = (h ^ uint64(c)) * fnv6Prime
	}
	return h
}
