package slowpath6_test

import (
	"context"
	"testing"
	"time"

	"xdhcp/internal/stats"
	"xdhcp/lease"
	"xdhcp/slowpath6"
)

// renewingStore6 is a store in which the leases are renewed (renew, once)
// right after Expired found them expired: renewals that land between the
// reclamation's search and its lock.
type renewingStore6 struct {
	*memStore
	renew func()
}

func (s *renewingStore6) Expired(now int64, limit int) []lease.Lease6 {
	found := s.memStore.Expired(now, limit)
	if s.renew != nil {
		s.renew()
		s.renew = nil
	}
	return found
}

// TestReclaimLeavesLeasesRenewedMeanwhile: the reclamation searches the
// store before it takes the engine's lock, so leases can be renewed in
// between; they must then stay as renewed. Without the renewals, the same
// leases are reclaimed.
func TestReclaimLeavesLeasesRenewedMeanwhile(t *testing.T) {
	for _, renewed := range []bool{true, false} {
		now := time.Unix(1_800_000_000, 0)
		st := &renewingStore6{memStore: newMemStore()}
		srv, err := slowpath6.New(engineConfig(t.TempDir()), slowpath6.Deps{Store: st, Stats: stats.New(0, 0),
			ServerDUID: serverDUID, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		srv.ServeNow(packetOn(requestBoth(newClient().duid), &capture{}))
		if st.Len() != 2 {
			t.Fatalf("%d leases after the Request, want 2", st.Len())
		}
		now = now.Add(5000 * time.Second) // past the valid lifetime (4000 s)
		if renewed {
			st.renew = func() {
				for _, l := range st.memStore.Expired(now.Unix(), 0) {
					l.CLTT = now.Unix()
					if err := st.memStore.Commit(context.Background(), lease.Op6{Kind: lease.OpPut, Lease: l}); err != nil {
						t.Error(err)
					}
				}
			}
		}
		n, err := srv.Reclaim(false)
		want := 2
		if renewed {
			want = 0
		}
		if err != nil || n != want {
			t.Fatalf("renewed %v: Reclaim: %d leases, %v; want %d, nil", renewed, n, err, want)
		}
		st.memStore.Range(func(l *lease.Lease6) bool {
			if reclaimed := l.State == lease.StateExpiredReclaimed; reclaimed == renewed {
				t.Errorf("renewed %v: lease %v in state %v after Reclaim", renewed, l.Addr, l.State)
			}
			return true
		})
	}
}
