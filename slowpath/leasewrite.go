package slowpath

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"xdhcp/lease"
)

// Lease writes from outside a client exchange: the lease commands and HA.
// Each keeps the server's pools, statistics and fast-path cache in step
// with the store, as a client exchange does.

// PutMode says when PutLease may write a lease.
type PutMode uint8

const (
	// PutAdd writes only when no lease exists for the address (lease4-add).
	PutAdd PutMode = iota
	// PutUpdate writes only over an existing lease (lease4-update).
	PutUpdate
	// PutUpsert writes in either case (lease4-update with force-create,
	// and leases received from an HA partner).
	PutUpsert
)

// Errors of PutLease when the mode forbids the write.
var (
	ErrLeaseExists   = errors.New("a lease exists for the address")
	ErrLeaseNotFound = errors.New("no lease exists for the address")
)

// Now is the server's clock: the cltt of a lease written without one.
func (s *Server) Now() time.Time { return s.now() }

// LeaseSubnet resolves the subnet of a lease written from outside a client
// exchange: with id 0 the configured subnet containing a, otherwise subnet
// id, which must contain a. It returns the subnet's id and default valid
// lifetime. The error texts are those of Kea's lease commands.
func (s *Server) LeaseSubnet(id uint32, a netip.Addr) (subnetID, validLft uint32, err error) {
	s.rtMu.RLock()
	defer s.rtMu.RUnlock()
	rt := s.rt
	if id == 0 {
		sn := rt.subnetFor(a)
		if sn == nil {
			return 0, 0, fmt.Errorf("subnet-id not specified and no subnet contains %s", a)
		}
		return sn.cfg.ID, sn.cfg.Lifetimes.Valid, nil
	}
	sn := rt.byID[id]
	if sn == nil {
		return 0, 0, fmt.Errorf("Invalid subnet-id: No IPv4 subnet with subnet-id=%d currently configured.", id)
	}
	if !sn.cfg.Prefix.Contains(a) {
		return 0, 0, fmt.Errorf("The address %s does not belong to subnet %s, subnet-id=%d", a, sn.cfg.Prefix, id)
	}
	return id, sn.cfg.Lifetimes.Valid, nil
}

// PutLease commits l as mode allows and accounts for it, and reports
// whether a lease existed for its address before. It returns
// ErrLeaseExists or ErrLeaseNotFound when mode forbids the write, and the
// store's error, unwrapped, when the commit fails.
func (s *Server) PutLease(ctx context.Context, l lease.Lease, mode PutMode) (existed bool, err error) {
	// The read lock: pools and statistics are safe for concurrent use,
	// and a write lock here would wait for every worker, including those
	// waiting for the partner this update comes from.
	s.rtMu.RLock()
	defer s.rtMu.RUnlock()
	old, exists := s.store.Get(l.Addr)
	switch {
	case mode == PutAdd && exists:
		return true, ErrLeaseExists
	case mode == PutUpdate && !exists:
		return false, ErrLeaseNotFound
	}
	op := lease.Op{Kind: lease.OpPut, Lease: l}
	s.commandRecord(&op, map[PutMode]string{PutAdd: "lease4-add", PutUpdate: "lease4-update", PutUpsert: "lease4-update"}[mode])
	if err := s.store.Commit(ctx, op); err != nil {
		return exists, err
	}
	s.accountPut(s.rt, old, exists, l)
	return exists, nil
}

// DeleteLease deletes l (found in the store) and accounts for it. It
// returns the store's error, unwrapped, when the commit fails.
func (s *Server) DeleteLease(ctx context.Context, l lease.Lease) error {
	s.rtMu.RLock() // see PutLease
	defer s.rtMu.RUnlock()
	op := lease.Op{Kind: lease.OpDelete, Lease: l}
	s.commandRecord(&op, "lease4-del")
	if err := s.store.Commit(ctx, op); err != nil {
		return err
	}
	s.accountDelete(s.rt, l)
	return nil
}

// WipeLeases deletes every lease of subnetID (0: of every subnet) in one
// commit, with the workers stopped between packets, and returns how many
// it deleted. It returns the store's error, unwrapped, when the commit
// fails.
func (s *Server) WipeLeases(ctx context.Context, subnetID uint32) (int, error) {
	s.lockLiveConfig()
	defer s.rtMu.Unlock()
	var ops []lease.Op
	// A store in a database other servers write to wipes what the
	// database holds, as Kea does, not only what this server has seen.
	var all lease.Reader = s.store
	if db, ok := s.store.(interface{ Database() lease.Reader }); ok {
		all = db.Database()
	}
	all.Range(func(l *lease.Lease) bool {
		if subnetID == 0 || l.SubnetID == subnetID {
			ops = append(ops, lease.Op{Kind: lease.OpDelete, Lease: l.Clone()})
		}
		return true
	})
	// Only the leases this server counted leave its statistics.
	counted := make([]bool, len(ops))
	for i := range ops {
		_, counted[i] = s.store.Get(ops[i].Lease.Addr)
	}
	if len(ops) > 0 {
		if err := s.store.Commit(ctx, ops...); err != nil {
			return 0, err
		}
	}
	for i, op := range ops {
		if counted[i] {
			s.accountDelete(s.rt, op.Lease)
		}
	}
	return len(ops), nil
}

// accountPut keeps pool bitmaps, statistics and the fast-path cache in
// step with a lease written from outside a client exchange.
func (s *Server) accountPut(rt *liveConfig, old lease.Lease, existed bool, l lease.Lease) {
	live := func(x lease.Lease) bool { return x.State != lease.StateExpiredReclaimed }
	if existed && live(old) {
		if sn := rt.byID[old.SubnetID]; sn != nil {
			sn.st.assigned.Add(-1)
			if old.State == lease.StateDeclined {
				sn.st.declined.Add(-1)
				s.st.declined.Add(-1)
			}
		}
	}
	if live(l) {
		if p := rt.poolFor(l.Addr); p != nil {
			p.alloc.Claim(l.Addr)
		}
		if sn := rt.byID[l.SubnetID]; sn != nil {
			sn.st.assigned.Inc()
			if l.State == lease.StateDeclined {
				sn.st.declined.Inc()
				s.st.declined.Inc()
			}
		}
	} else {
		s.freeAddr(rt, l.Addr)
	}
	s.forget(l.Addr)
}

// accountDelete is accountPut's counterpart for a removed lease.
func (s *Server) accountDelete(rt *liveConfig, old lease.Lease) {
	if old.State != lease.StateExpiredReclaimed {
		if sn := rt.byID[old.SubnetID]; sn != nil {
			sn.st.assigned.Add(-1)
			if old.State == lease.StateDeclined {
				sn.st.declined.Add(-1)
				s.st.declined.Add(-1)
			}
		}
	}
	s.freeAddr(rt, old.Addr)
	s.forget(old.Addr)
}
