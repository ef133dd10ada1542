// Package lease is the DHCPv4 lease model and the contract of a lease
// store: the Lease and Op types, the Store interface the DHCP engine and the
// lease commands use, and the storage fault events a store reports. The
// memfile store (Kea's CSV lease file) is in lease/memfile; Kea's JSON form
// of a lease is in lease/leasejson.
package lease

import (
	"bytes"
	"net/netip"
)

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

// Clone returns a copy of l that shares no memory with it, for keeping a
// lease seen through Store.Range, whose lease and slices are reused.
func (l *Lease) Clone() Lease {
	c := *l
	c.HWAddr = bytes.Clone(l.HWAddr)
	c.ClientID = bytes.Clone(l.ClientID)
	return c
}

// OpKind says what an Op does.
type OpKind uint8

// Op kinds.
const (
	// OpPut adds or replaces the lease for Lease.Addr.
	OpPut OpKind = iota
	// OpDelete removes the lease for Lease.Addr (the other fields are
	// ignored). Like Kea, the memfile store appends the stored lease with
	// valid lifetime 0 as a deletion marker; deleting an absent address
	// writes nothing.
	OpDelete
)

// Op is one change in a Commit.
type Op struct {
	Kind  OpKind
	Lease Lease
	// Record is the op's forensic record (whole lines), nil when none: a
	// store with a record log writes it in the same group commit as the
	// lease and makes both durable before the commit completes.
	Record []byte
}
