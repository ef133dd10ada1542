package memfile

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	"xdhcp/lease"
)

var (
	_ lease.Store6        = (*Store6)(nil)
	_ lease.StatsReporter = (*Store6)(nil)
)

// Store6 is the DHCPv6 memfile lease store: Kea's kea-leases6.csv behind
// an in-memory index, with the same journal as Store (group commit, the
// fdatasync discipline of Options.Sync, storage faults, lease file
// cleanup) and the same concurrency promises.
type Store6 struct {
	journal[lease.Op6]

	rows[lease.Lease6, key6, lease.Op6]
	idx *index6
}

// Open6 loads the DHCPv6 lease files at opts.Path in Kea's order and
// starts the journal writer, as Open does for DHCPv4.
func Open6(opts Options) (*Store6, error) {
	return openHook6(opts, journalOpener(opts.SyncRingGate))
}

func openHook6(opts Options, openFile func(string) (journalFile, error)) (*Store6, error) {
	s := &Store6{idx: newIndex6(true)}
	if err := openTable(&s.journal, &s.rows, s, codec6, s.idx, opts, openFile); err != nil {
		return nil, err
	}
	return s, nil
}

var codec6 = rowCodec[lease.Lease6, key6, lease.Op6]{
	header:    Header6,
	op:        func(o *lease.Op6) (lease.OpKind, *lease.Lease6) { return o.Kind, &o.Lease },
	record:    func(o *lease.Op6) []byte { return o.Record },
	validate:  validateOp6,
	key:       func(l *lease.Lease6) key6 { return addrKey6(l.Addr) },
	appendRow: AppendRow6,
	// Kea zeroes both lifetimes in a DHCPv6 deletion marker.
	deleted: func(l *lease.Lease6) { l.ValidLft, l.PreferredLft = 0, 0 },
	marker:  func(l *lease.Lease6) bool { return l.ValidLft == 0 },
	format:  &format6,
	parse: func(f [][]byte, n int, l *lease.Lease6) error {
		return parseFields6((*[numColumns6][]byte)(f), n, l)
	},
	newIndex: func(secondary bool) leaseIndex[lease.Lease6, key6] { return newIndex6(secondary) },
}

// Get returns the lease whose address or delegated prefix starts at addr.
func (s *Store6) Get(addr netip.Addr) (lease.Lease6, bool) {
	if !addr.Is6() || addr.Is4In6() {
		return lease.Lease6{}, false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	i, ok := s.idx.lookup(addrKey6(addr.WithZone("")))
	if !ok {
		return lease.Lease6{}, false
	}
	return s.idx.lease(i), true
}

// ByIA returns the leases of type t of DUID duid and IAID iaid in subnet
// subnetID (0: any), oldest first.
func (s *Store6) ByIA(duid []byte, iaid uint32, t lease.Type, subnetID uint32) []lease.Lease6 {
	return s.leases(func(x *index6) []int32 {
		return x.findDUID(duid, func(r *rec6) bool {
			return r.iaid == iaid && r.typ == t && (subnetID == 0 || r.subnet == subnetID)
		})
	})
}

// ByDUID returns every lease of DUID duid, oldest first.
func (s *Store6) ByDUID(duid []byte) []lease.Lease6 {
	return s.leases(func(x *index6) []int32 { return x.findDUID(duid, nil) })
}

// ByHostname returns the leases whose hostname equals name, compared case
// insensitively as DNS names are, oldest first.
func (s *Store6) ByHostname(name string) []lease.Lease6 {
	return s.leases(func(x *index6) []int32 { return x.findHost(name) })
}

func (s *Store6) leases(find func(x *index6) []int32) []lease.Lease6 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ids := find(s.idx)
	if len(ids) == 0 {
		return nil
	}
	out := make([]lease.Lease6, len(ids))
	for j, i := range ids {
		s.idx.fill(i, &out[j])
	}
	return out
}

// Page returns up to limit leases whose addresses are strictly greater
// than from, in ascending order (Kea's lease6-get-page). An invalid from
// (the zero Addr) starts at :: inclusive.
func (s *Store6) Page(from netip.Addr, limit int) []lease.Lease6 {
	if limit <= 0 {
		return nil
	}
	var start key6
	if from.IsValid() {
		if !from.Is6() || from.Is4In6() {
			return nil
		}
		var ok bool
		if start, ok = addrKey6(from.WithZone("")).next(); !ok {
			return nil
		}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]lease.Lease6, 0, min(limit, s.idx.len()))
	s.idx.ascend(start, func(i int32) bool {
		out = append(out, s.idx.lease(i))
		return len(out) < limit
	})
	return out
}

// Expired returns up to limit leases that expired at or before unix time
// now and still await reclamation, oldest expiry first (ties by address);
// limit <= 0 means all. As Kea's getExpiredLeases6 it includes declined
// leases whose probation ended; expired-reclaimed and infinite leases are
// never returned. It scans the index: O(n log limit).
func (s *Store6) Expired(now int64, limit int) []lease.Lease6 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return expiredLeases(s.idx.recs.len(), s.idx.recs.at, now, limit, (*rec6).expiry, key6.cmp, s.idx.fill)
}

// Reclaimed returns up to limit expired-reclaimed leases that expired at
// or before unix time before, oldest expiry first (ties by address);
// limit <= 0 means all. It scans the index as Expired does.
func (s *Store6) Reclaimed(before int64, limit int) []lease.Lease6 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return expiredLeases(s.idx.recs.len(), s.idx.recs.at, before, limit, (*rec6).reclaimedAt, key6.cmp, s.idx.fill)
}

func (r *rec6) expiry() (key key6, exp int64, ok bool) {
	return r.addr, r.cltt + int64(r.valid), canExpire(r.flags, r.state, r.valid)
}

func (r *rec6) reclaimedAt() (key key6, exp int64, ok bool) {
	return r.addr, r.cltt + int64(r.valid), isReclaimed(r.flags, r.state, r.valid)
}

// validateOp6 rejects leases that would be written as rows Kea refuses to
// load, so a Commit never makes a lease that vanishes on restart.
func validateOp6(op *lease.Op6) error {
	l := &op.Lease
	if !l.Addr.Is6() || l.Addr.Is4In6() || l.Addr.Zone() != "" {
		return fmt.Errorf("%w: address %v is not IPv6", lease.ErrInvalidLease, l.Addr)
	}
	switch op.Kind {
	case lease.OpDelete:
		return nil
	case lease.OpPut:
	default:
		return fmt.Errorf("%w: unknown op kind %d", lease.ErrInvalidLease, op.Kind)
	}
	switch {
	case l.ValidLft == 0:
		return fmt.Errorf("%w: %s: valid lifetime 0 is a deletion marker; use OpDelete", lease.ErrInvalidLease, l.Addr)
	case l.CLTT < 0:
		return fmt.Errorf("%w: %s: negative cltt", lease.ErrInvalidLease, l.Addr)
	case l.Type != lease.TypeNA && l.Type != lease.TypeTA && l.Type != lease.TypePD:
		return fmt.Errorf("%w: %s: unknown lease type %d", lease.ErrInvalidLease, l.Addr, l.Type)
	case l.Type == lease.TypePD && (l.PrefixLen == 0 || l.PrefixLen > 128):
		return fmt.Errorf("%w: %s: delegated prefix length %d not in 1..128", lease.ErrInvalidLease, l.Addr, l.PrefixLen)
	case len(l.DUID) > lease.MaxDUIDLen:
		return fmt.Errorf("%w: %s: DUID longer than %d bytes", lease.ErrInvalidLease, l.Addr, lease.MaxDUIDLen)
	case isEmptyDUID(l.DUID) && l.State != lease.StateDeclined:
		return fmt.Errorf("%w: %s: no DUID, and not declined", lease.ErrInvalidLease, l.Addr)
	case len(l.HWAddr) > maxHWAddrLen:
		return fmt.Errorf("%w: %s: hwaddr longer than %d bytes", lease.ErrInvalidLease, l.Addr, maxHWAddrLen)
	}
	if l.UserContext != "" {
		if err := checkUserContext(l.UserContext); err != nil {
			return fmt.Errorf("%w: %s: user context: %v", lease.ErrInvalidLease, l.Addr, err)
		}
	}
	if n := rowLen6(l); n > maxLineLen {
		return fmt.Errorf("%w: %s: its lease-file row would be %d bytes, over the %d the file may hold",
			lease.ErrInvalidLease, l.Addr, n, maxLineLen)
	}
	return nil
}

// Wipe deletes every lease of subnetID (0: of all subnets), writing a
// deletion marker for each as Kea's lease6-wipe does, and returns how many
// it deleted. Leases added while it runs may survive.
func (s *Store6) Wipe(ctx context.Context, subnetID uint32) (int, error) {
	var addrs []key6
	s.mu.RLock()
	s.idx.ascend(key6{}, func(i int32) bool {
		if r := s.idx.recs.at(i); subnetID == 0 || r.subnet == subnetID {
			addrs = append(addrs, r.addr)
		}
		return true
	})
	s.mu.RUnlock()
	return s.wipe(ctx, subnetID, len(addrs), func(i int) lease.Op6 {
		return lease.Op6{Kind: lease.OpDelete, Lease: lease.Lease6{Addr: addrs[i].addr()}}
	})
}

// topN returns, sorted by less, the limit least of the values each pushes
// (all of them when limit <= 0), keeping a max-heap of limit values.
func topN[T any](limit int, less func(a, b T) int, each func(push func(T))) []T {
	var h []T
	each(func(c T) {
		if limit <= 0 || len(h) < limit {
			h = append(h, c)
			if limit > 0 {
				heapUp(h, len(h)-1, less)
			}
			return
		}
		if less(c, h[0]) < 0 {
			h[0] = c
			heapDown(h, 0, less)
		}
	})
	slices.SortFunc(h, less)
	return h
}

// Validate6 checks ops as Store6.Commit does, for stores that keep DHCPv6
// leases elsewhere but promise the same rows.
func Validate6(ops []lease.Op6) error {
	for i := range ops {
		if err := validateOp6(&ops[i]); err != nil {
			return fmt.Errorf("commit op %d: %w", i, err)
		}
	}
	return nil
}
