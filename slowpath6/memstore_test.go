package slowpath6_test

import (
	"bytes"
	"context"
	"net/netip"
	"sort"
	"sync"

	"xdhcp/lease"
)

// memStore is a lease.Store6 in memory, for the engine's tests: commits
// land at once (CommitAsync completes on another goroutine, as a real
// store's group commit does).
type memStore struct {
	mu sync.Mutex
	m  map[netip.Addr]lease.Lease6
}

func newMemStore() *memStore { return &memStore{m: make(map[netip.Addr]lease.Lease6)} }

func (s *memStore) Get(a netip.Addr) (lease.Lease6, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.m[a]
	return l.Clone(), ok
}

func (s *memStore) filter(fn func(l *lease.Lease6) bool) []lease.Lease6 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []lease.Lease6
	for _, l := range s.m {
		if fn(&l) {
			out = append(out, l.Clone())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Addr.Less(out[j].Addr) })
	return out
}

func (s *memStore) ByIA(duid []byte, iaid uint32, t lease.Type, subnetID uint32) []lease.Lease6 {
	return s.filter(func(l *lease.Lease6) bool {
		return bytes.Equal(l.DUID, duid) && l.IAID == iaid && l.Type == t && (subnetID == 0 || l.SubnetID == subnetID)
	})
}

func (s *memStore) ByDUID(duid []byte) []lease.Lease6 {
	return s.filter(func(l *lease.Lease6) bool { return bytes.Equal(l.DUID, duid) })
}

func (s *memStore) ByHostname(name string) []lease.Lease6 {
	return s.filter(func(l *lease.Lease6) bool { return l.Hostname == name })
}

func (s *memStore) Page(from netip.Addr, limit int) []lease.Lease6 {
	all := s.filter(func(l *lease.Lease6) bool { return !from.IsValid() || from.Less(l.Addr) })
	return all[:min(limit, len(all))]
}

func (s *memStore) Range(fn func(l *lease.Lease6) bool) {
	for _, l := range s.filter(func(*lease.Lease6) bool { return true }) {
		if !fn(&l) {
			return
		}
	}
}

func (s *memStore) Expired(now int64, limit int) []lease.Lease6 {
	out := s.filter(func(l *lease.Lease6) bool {
		return l.State != lease.StateExpiredReclaimed && l.Expired(now)
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

func (s *memStore) Reclaimed(before int64, limit int) []lease.Lease6 {
	out := s.filter(func(l *lease.Lease6) bool {
		return l.State == lease.StateExpiredReclaimed && l.Expire() <= before
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

func (s *memStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

func (s *memStore) Commit(_ context.Context, ops ...lease.Op6) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, op := range ops {
		if op.Kind == lease.OpDelete {
			delete(s.m, op.Lease.Addr)
			continue
		}
		s.m[op.Lease.Addr] = op.Lease.Clone()
	}
	return nil
}

func (s *memStore) CommitAsync(ops []lease.Op6, done func(error)) {
	err := s.Commit(context.Background(), ops...)
	go done(err)
}
