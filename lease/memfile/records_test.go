package memfile

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"xdhcp/lease"
)

// recordLog is a RecordLog in memory that tells which records were synced
// when, and can fail.
type recordLog struct {
	mu              sync.Mutex
	written, synced []byte
	fail            error
}

func (r *recordLog) WriteRecords(b []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.written = append(r.written, b...)
	return nil
}

func (r *recordLog) SyncRecords() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.synced = append(r.synced[:0], r.written...)
	return nil
}

func (r *recordLog) durable() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return string(r.synced)
}

func TestRecordsDurableBeforeCommitReturns(t *testing.T) {
	rl := &recordLog{}
	s := openTest(t, filepath.Join(t.TempDir(), "leases4.csv"), func(o *Options) { o.Records = rl })
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := []byte("record " + testLease(i).Addr.String() + "\n")
			done := make(chan error, 1)
			s.CommitAsync([]lease.Op{{Kind: lease.OpPut, Lease: testLease(i), Record: rec}}, func(err error) { done <- err })
			if err := <-done; err != nil {
				t.Error(err)
				return
			}
			// When the commit completes, its record is synced.
			if d := rl.durable(); !strings.Contains(d, string(rec)) {
				t.Errorf("commit of %s completed before its record was synced", testLease(i).Addr)
			}
		}()
	}
	wg.Wait()
}

func TestFailingRecordLogFailsTheCommit(t *testing.T) {
	rl := &recordLog{fail: errors.New("disk full")}
	s := openTest(t, filepath.Join(t.TempDir(), "leases4.csv"), func(o *Options) { o.Records = rl })
	err := s.Commit(context.Background(), lease.Op{Kind: lease.OpPut, Lease: testLease(1), Record: []byte("r\n")})
	if err == nil {
		t.Fatal("a commit whose record could not be written succeeded")
	}
	if _, ok := s.Get(testLease(1).Addr); ok {
		t.Error("the lease of a failed commit is visible")
	}
	if st := s.Stats(); st.WriteErrors == 0 || st.Faults == 0 {
		t.Errorf("failure not counted: %+v", st)
	}
}
