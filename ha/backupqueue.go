package ha

import (
	"context"
	"sync/atomic"
	"time"
)

// BackupQueueSize bounds the lease updates waiting for one backup server
// when they are not awaited (wait-backup-ack false): a backup slower than
// the pair's traffic loses updates past it (counted, and logged) instead of
// holding memory and goroutines without end. Kea queues them per peer in
// the same way, without a bound.
const BackupQueueSize = 4096

// backupQueue sends the updates nobody awaits to one backup: a bounded
// queue and a fixed number of senders, as many as the connections the
// backup's client may open.
type backupQueue struct {
	ops     chan update
	dropped atomic.Uint64
	failed  atomic.Uint64
	logged  atomic.Int64 // unix nanoseconds of the last drop logged
}

// startBackupQueue runs senders goroutines, owned by the service (they
// stop at Close), that send b's queued updates.
func (r *Relationship) startBackupQueue(b *peerLink, senders int) {
	b.queue = &backupQueue{ops: make(chan update, BackupQueueSize)}
	for range senders {
		r.s.background(func(ctx context.Context) {
			for {
				select {
				case <-ctx.Done():
					return
				case op := <-b.queue.ops:
					sctx, cancel := context.WithTimeout(ctx, RequestTimeout)
					if err := r.send(sctx, b, op, false); err != nil {
						b.queue.failed.Add(1)
						r.log.Debug("lease update to backup failed", "peer", b.cfg.Name, "err", err)
					}
					cancel()
				}
			}
		})
	}
}

// enqueue queues op for the backup without waiting; a full queue drops it.
func (q *backupQueue) enqueue(r *Relationship, b *peerLink, op update) {
	select {
	case q.ops <- op:
		return
	default:
	}
	n := q.dropped.Add(1)
	now := r.s.now().UnixNano()
	if last := q.logged.Load(); now-last >= int64(10*time.Second) && q.logged.CompareAndSwap(last, now) {
		r.log.Warn("lease updates to backup dropped: its queue is full", "peer", b.cfg.Name,
			"queue", BackupQueueSize, "dropped_total", n)
	}
}
