// Package lease holds the DHCPv4 lease model and the memfile lease store:
// an in-memory index backed by an append-only journal in Kea's CSV format,
// with group commit (an ACK leaves only after its row is on disk) and LFC.
package lease

import "net/netip"

// State is the lease state column of Kea's lease file.
type State uint8

const (
	StateDefault          State = 0
	StateDeclined         State = 1
	StateExpiredReclaimed State = 2
)

// Lease is one DHCPv4 lease, as Kea's memfile stores it.
type Lease struct {
	Addr        netip.Addr
	HWAddr      []byte // may be empty for declined leases
	ClientID    []byte // empty when the client sent none
	ValidLft    uint32 // seconds; 0xffffffff = infinite
	CLTT        int64  // client last transmission time, unix seconds
	SubnetID    uint32
	FqdnFwd     bool
	FqdnRev     bool
	Hostname    string
	State       State
	UserContext string // JSON text, "" if none
}

// Infinite is the valid lifetime Kea treats as never expiring.
const Infinite = 0xffffffff

// Expire is the unix time the lease expires (cltt + valid lifetime).
func (l *Lease) Expire() int64 { return l.CLTT + int64(l.ValidLft) }

// Expired reports whether the lease has expired at unix time now.
func (l *Lease) Expired(now int64) bool {
	return l.ValidLft != Infinite && now >= l.Expire()
}
