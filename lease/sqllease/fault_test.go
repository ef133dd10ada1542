package sqllease

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"xdhcp/lease"
)

// downDialect is a database that does not answer until up is set.
type downDialect struct {
	up atomic.Bool
}

var errDown = errors.New("connection refused")

func (d *downDialect) err() error {
	if d.up.Load() {
		return nil
	}
	return errDown
}

func (d *downDialect) Write(context.Context, []Write, time.Time) ([]int, error) { return nil, d.err() }
func (d *downDialect) Load(context.Context, func(*lease.Lease) error) error     { return d.err() }
func (d *downDialect) Get(context.Context, netip.Addr) (lease.Lease, bool, error) {
	return lease.Lease{}, false, d.err()
}
func (d *downDialect) Find(context.Context, Query) ([]lease.Lease, error) { return nil, d.err() }
func (d *downDialect) CheckSchema(context.Context) error                  { return d.err() }
func (d *downDialect) Ping(context.Context) error                         { return d.err() }
func (d *downDialect) Close()                                             {}

// With reconnect-wait-time 0 the pauses between attempts start at
// DefaultRetryWait and double; the limit reports FaultExhausted once,
// after that many attempts, and the store goes on trying until the
// database answers.
func TestReconnectBackoff(t *testing.T) {
	d := &downDialect{}
	var mu sync.Mutex
	var retries []time.Time
	var exhausted []int
	recovered := make(chan struct{})
	start := time.Now()
	s, err := Open(context.Background(), Options{Dialect: d, Where: "fake", RetryOnStartup: true, RetryLimit: 3,
		OnFault: func(ev lease.FaultEvent) {
			mu.Lock()
			defer mu.Unlock()
			switch ev.Kind {
			case lease.FaultRetry:
				retries = append(retries, time.Now())
			case lease.FaultExhausted:
				exhausted = append(exhausted, ev.Attempts)
			case lease.FaultRecovered:
				close(recovered)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Commit(context.Background(), lease.Op{Kind: lease.OpPut, Lease: lease.Lease{
		Addr: netip.MustParseAddr("10.0.0.1"), HWAddr: []byte{1, 2, 3, 4, 5, 6}, ValidLft: 60, CLTT: time.Now().Unix()}}); !errors.Is(err, lease.ErrStorage) {
		t.Fatalf("commit with the database down: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(retries)
		mu.Unlock()
		if n >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	d.up.Store(true)
	select {
	case <-recovered:
	case <-time.After(10 * time.Second):
		t.Fatal("no recovery once the database answered")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(retries) < 3 {
		t.Fatalf("%d failed attempts, want 3", len(retries))
	}
	// Pauses: 250 ms, 500 ms, 1 s (the next, 2 s, ends in the recovery).
	prev := start
	for i, at := range retries[:3] {
		gap, want := at.Sub(prev), DefaultRetryWait<<i
		if gap < want-50*time.Millisecond || gap > want+400*time.Millisecond {
			t.Errorf("pause before attempt %d: %v, want about %v", i+1, gap, want)
		}
		prev = at
	}
	if len(exhausted) != 1 || exhausted[0] != 3 {
		t.Errorf("exhausted reported at attempts %v, want once at 3", exhausted)
	}
}
