package slowpath

import (
	"sync/atomic"

	"xdhcp/lease"
)

// Asynchronous lease commits.
//
// A worker does not wait for the lease file: it hands the commit to the
// store (lease.Store.CommitAsync) and goes on to the next packet, so one
// group commit's fdatasync covers everything the workers queued while the
// previous one ran. What must follow the commit (the ACK, the HA lease
// update and then the ACK, freeing the address when the commit failed)
// runs from its completion, and only then is the client's exchange over:
// the serializer keeps the client's next packet until that point, so it
// can never overtake a lease that is not durable yet.
//
// Completions run on the store's writer goroutine (or inline, when the
// store decides at once: a store that does not persist, a refused op).
// They take no configuration lock: Reload instead waits, holding the write
// lock, until no commit is in flight, so a completion always finishes under
// the configuration its request was processed with. Work that waits on the
// network (HA) leaves the writer goroutine for a goroutine of its own,
// bounded by maxInflightCommits like everything in flight.

// maxInflightCommits bounds the exchanges whose commit is queued or being
// written. It is the backpressure between the workers and the disk: a
// worker that would exceed it waits (xdhcp-commit-backpressure-waits), and
// the packet queue in front of the workers fills and drops as it would
// with slow workers. Large enough that a group commit is never starved
// (a few milliseconds of fdatasync at hundreds of thousands of leases a
// second), small enough to bound the memory of held packets.
const maxInflightCommits = 4096

// Commit states of a request (request.commitState).
const (
	commitSubmitting uint32 = iota + 1 // CommitAsync has not returned
	commitInline                       // done was called before it returned
	commitDetached                     // it returned first: done finishes the exchange
)

// commitAsync commits ops for r and calls then with the outcome: on this
// goroutine when the store decides at once (r stays the caller's), else
// from the completion (r.detached is set, and the exchange finishes there).
func (s *Server) commitAsync(r *request, ops []lease.Op, then func(error)) {
	s.queue.BeginCommit(s.st.commitWaits)
	r.then = then
	r.commitState.Store(commitSubmitting)
	// The completion's reference: a detached exchange's request is freed
	// by whichever of the completion and the worker lets go of it last.
	r.refs.Add(1)
	s.store.CommitAsync(ops, func(err error) {
		r.commitErr = err
		if r.commitState.CompareAndSwap(commitSubmitting, commitInline) {
			return
		}
		s.completeCommit(r)
	})
	if r.commitState.CompareAndSwap(commitSubmitting, commitDetached) {
		r.detached = true
		return
	}
	r.refs.Add(-1) // decided inline: no completion holds r
	s.queue.EndCommit(nil)
	then(r.commitErr)
}

// completeCommit runs what follows a detached commit.
func (s *Server) completeCommit(r *request) {
	r.then(r.commitErr)
	if after := r.after; after != nil {
		// The HA lease update waits on the partner: not on the writer.
		go func() {
			after()
			s.finishExchange(r)
		}()
		return
	}
	s.finishExchange(r)
}

// finishExchange ends a detached exchange: its commit slot is freed and
// the client's held follow-up, if any, goes to the workers.
func (s *Server) finishExchange(r *request) {
	if int(r.typ) < len(s.latency) && s.latency[r.typ] != nil {
		s.latency[r.typ].UpdateDuration(r.start)
	}
	next := s.serial.Release(r.key)
	s.reqs.unref(r)
	s.queue.EndCommit(next)
}

// asyncState is the part of a request that commitAsync uses.
type asyncState struct {
	commitState atomic.Uint32
	commitErr   error
	then        func(error)
	// detached is set (on the processing goroutine) when the exchange
	// finishes in the completion: the worker only drops its reference.
	detached bool
	// refs counts the holders of the request: the worker processing it
	// (or the queue or serializer holding it), and a detached commit's
	// completion. The last one to let go frees it (requestPool.unref).
	refs atomic.Int32
}
