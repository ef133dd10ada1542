package ha

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"testing"
	"time"

	"xdhcp/lease"
)

// TestBackupUpdatesBounded: a backup that accepts connections and never
// answers costs a fixed number of goroutines, however many updates the
// primary commits; the updates past the queue are dropped and counted.
func TestBackupUpdatesBounded(t *testing.T) {
	ln := listen(t)
	go func() { // accept and hold every connection, answering nothing
		var held []net.Conn
		for {
			c, err := ln.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()
	params := fmt.Sprintf(`{"high-availability": [{"this-server-name": "server1", "mode": "passive-backup",
  "peers": [{"name": "server1", "url": "http://127.0.0.1:1/", "role": "primary"},
            {"name": "backup1", "url": "http://%s/", "role": "backup"}]}]}`, ln.Addr())
	s, r, _ := testRel(t, params, time.Now)
	s.Start(context.Background())
	defer s.Close()
	before := runtime.NumGoroutine()
	n := 3 * BackupQueueSize
	for i := range n {
		if err := s.Replicate(context.Background(), []lease.Op{{Kind: lease.OpPut, Lease: testLease(i, time.Now().Unix())}}); err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
	}
	grew := runtime.NumGoroutine() - before
	q := r.backups[0].queue
	t.Logf("%d updates to a stuck backup: %d more goroutines, %d queued, %d dropped", n, grew, len(q.ops), q.dropped.Load())
	// The senders already run; each holds one connection with its
	// reader and writer.
	if grew > 3*minUpdateConns {
		t.Errorf("%d more goroutines for %d updates to a stuck backup", grew, n)
	}
	if q.dropped.Load() == 0 || len(q.ops) > BackupQueueSize {
		t.Errorf("queue %d (bound %d), dropped %d", len(q.ops), BackupQueueSize, q.dropped.Load())
	}
}
