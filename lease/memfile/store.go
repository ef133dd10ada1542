// Package memfile is the memfile lease store: an in-memory index of leases
// backed by an append-only journal in Kea's CSV lease file format, with group
// commit (an ACK leaves only after its row is on disk), lease file cleanup
// (LFC) and storage fault recovery. *Store implements lease.Store.
package memfile

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"xdhcp/internal/uring"
	"xdhcp/lease"
)

// ErrLFCRunning means a lease file cleanup (ours or a kea-lfc process
// named by <name>.pid) is in progress.
var ErrLFCRunning = errors.New("lease file cleanup in progress")

// DefaultMaxBatch is the default number of rows per group commit.
const DefaultMaxBatch = 1024

// DefaultSyncInterval is the default Options.SyncInterval. A millisecond
// is nothing to a DHCP client (its first retransmission comes after
// seconds) and, measured on the benchmark VM at 20,000 leases/s, cut the
// fdatasyncs from ~2,500/s (8 leases each) to ~550/s and the server's
// kernel time from 46% to 28% of its core.
const DefaultSyncInterval = time.Millisecond

// Options configures a Store or a Store6. The zero value of each field is documented.
type Options struct {
	// SyncRingGate, when set, holds the lease file's io_uring syncs back
	// until it opens (see uring.Gate); nil uses the ring at once.
	SyncRingGate *uring.Gate
	// Path is the memfile lease file (Kea's lease-database "name"). Rotated
	// and cleaned files live beside it: <Path>.1, .2, .output, .completed
	// and .pid, exactly as Kea names them. Required when Persist.
	Path string
	// Persist writes leases to Path. False keeps them in memory only
	// (Kea's persist=false).
	Persist bool
	// LFCInterval runs lease file cleanup this often; 0 never.
	LFCInterval time.Duration
	// MaxRowErrors fails Open when more rows than this are bad across the
	// loaded files; 0 skips any number of bad rows (Kea's max-row-errors).
	MaxRowErrors int
	// Sync makes Commit wait for fdatasync(2), so a committed lease
	// survives power loss. Without it a committed lease survives a crash of
	// the process but not of the machine.
	Sync bool
	// MaxBatch caps the rows written by one group commit; 0 means
	// DefaultMaxBatch. A single Commit larger than this is written alone.
	MaxBatch int
	// SyncInterval paces group commits while commits arrive back to
	// back: a batch smaller than MaxBatch/16 rows waits until this long
	// after the previous fdatasync began, gathering more commits for one
	// sync. A commit after a quiet spell is written at once. 0 means
	// DefaultSyncInterval; negative never waits. Only with Sync.
	SyncInterval time.Duration
	// Logger receives warnings (bad rows, torn lines, LFC results); nil
	// discards them.
	Logger *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// RetryWait is the pause between attempts to recover a lease file that
	// failed a write or sync (Kea's reconnect-wait-time); 0 means
	// DefaultRetryWait.
	RetryWait time.Duration
	// RetryLimit is the number of failed recovery attempts after which
	// FaultExhausted is reported (Kea's max-reconnect-tries); 0 means
	// DefaultRetryLimit. The store itself retries until it recovers or is
	// closed: giving up is the caller's policy.
	RetryLimit int
	// OnFault, if set, is told each step of a storage fault episode (see
	// FaultEvent). It runs on the writer goroutine, so it must return
	// quickly and must not call Commit, Wipe, RunLFC or Close.
	OnFault func(lease.FaultEvent)
	// Records, if set, receives the ops' forensic records (lease.Op.Record)
	// in each group commit: written after the lease rows and synced with
	// them, so a commit completes only once its records are durable too. A
	// failing record log fails the batch like a failing lease file.
	Records RecordLog
}

// RecordLog is where a group commit writes the forensic records of its
// ops. WriteRecords is called on the writer goroutine, SyncRecords beside
// it while the lease file syncs; never two calls at once.
type RecordLog interface {
	WriteRecords(b []byte) error
	SyncRecords() error
}

var (
	_ lease.Store         = (*Store)(nil)
	_ lease.StatsReporter = (*Store)(nil)
)

// Store is the memfile lease store: an in-memory index of leases backed by
// an append-only lease file in Kea's CSV format.
//
// Reads (Get, ByHWAddr, Page, ...) take a read lock on the index and never
// wait for the disk. Commit hands rows to a single writer goroutine that
// group-commits them: one write(2) and at most one fdatasync(2) per batch,
// then the batch is applied to the index and every waiter is woken. No lock
// is held across the disk write, so readers run during it.
//
// All methods are safe for concurrent use.
type Store struct {
	journal[lease.Op]

	rows[lease.Lease, uint32, lease.Op]
	idx *index
}

// Open loads the lease files at opts.Path in Kea's order and starts the
// journal writer. It creates the file (with its header) and its directory
// when missing, refuses to load while <Path>.pid names a running process
// (a lease file cleanup in progress), skips bad rows up to MaxRowErrors, and
// drops a torn last line of the live file (truncating it away before the
// first append). Files written with an older schema are rewritten by an
// immediate LFC before Open returns, as Kea does.
func Open(opts Options) (*Store, error) {
	return openHook(opts, journalOpener(opts.SyncRingGate))
}

// openHook is Open with the live file opener injected (tests pass faulty
// files).
func openHook(opts Options, openFile func(string) (journalFile, error)) (*Store, error) {
	s := &Store{idx: newIndex(true)}
	if err := openTable(&s.journal, &s.rows, s, codec4, s.idx, opts, openFile); err != nil {
		return nil, err
	}
	return s, nil
}

var codec4 = rowCodec[lease.Lease, uint32, lease.Op]{
	header:    Header,
	op:        func(o *lease.Op) (lease.OpKind, *lease.Lease) { return o.Kind, &o.Lease },
	record:    func(o *lease.Op) []byte { return o.Record },
	validate:  validateOp,
	key:       func(l *lease.Lease) uint32 { return addrKey(l.Addr) },
	appendRow: AppendRow,
	deleted:   func(l *lease.Lease) { l.ValidLft = 0 },
	marker:    func(l *lease.Lease) bool { return l.ValidLft == 0 },
	format:    &format4,
	parse: func(f [][]byte, n int, l *lease.Lease) error {
		return parseFields((*[numColumns][]byte)(f), n, l)
	},
	newIndex: func(secondary bool) leaseIndex[lease.Lease, uint32] { return newIndex(secondary) },
}

// Get returns the lease for addr.
func (s *Store) Get(addr netip.Addr) (lease.Lease, bool) {
	addr = addr.Unmap()
	if !addr.Is4() {
		return lease.Lease{}, false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	i, ok := s.idx.lookup(addrKey(addr))
	if !ok {
		return lease.Lease{}, false
	}
	return s.idx.lease(i), true
}

// ByHWAddr returns the leases with hardware address hw in every subnet,
// in ascending address order.
func (s *Store) ByHWAddr(hw []byte) []lease.Lease {
	if len(hw) == 0 {
		return nil
	}
	return s.find(chainHW, hw, "")
}

// ByClientID returns the leases with client identifier id in every
// subnet, in ascending address order.
func (s *Store) ByClientID(id []byte) []lease.Lease {
	if len(id) == 0 {
		return nil
	}
	return s.find(chainCID, id, "")
}

// ByHostname returns the leases whose hostname equals name, compared case
// insensitively as DNS names are, in ascending address order.
func (s *Store) ByHostname(name string) []lease.Lease {
	if name == "" {
		return nil
	}
	return s.find(chainHost, nil, name)
}

func (s *Store) find(k chainKind, key []byte, host string) []lease.Lease {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ids := s.idx.find(k, key, host)
	if len(ids) == 0 {
		return nil
	}
	out := make([]lease.Lease, len(ids))
	for j, i := range ids {
		s.idx.fill(i, &out[j])
	}
	return out
}

// Page returns up to limit leases whose addresses are strictly greater
// than from, in ascending order (Kea's lease4-get-page). An invalid from
// (the zero Addr) starts at 0.0.0.0 inclusive.
func (s *Store) Page(from netip.Addr, limit int) []lease.Lease {
	if limit <= 0 {
		return nil
	}
	var start uint32
	if from.IsValid() {
		from = from.Unmap()
		if !from.Is4() {
			return nil
		}
		k := addrKey(from)
		if k == ^uint32(0) {
			return nil
		}
		start = k + 1
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]lease.Lease, 0, min(limit, s.idx.len()))
	s.idx.ascend(start, func(i int32) bool {
		out = append(out, s.idx.lease(i))
		return len(out) < limit
	})
	return out
}

// Expired returns up to limit leases that expired at or before unix time
// now and still await reclamation, oldest expiry first (ties by address);
// limit <= 0 means all. As in Kea's getExpiredLeases4 this includes
// declined leases whose probation ended (State == StateDeclined), so the
// caller must check State; expired-reclaimed and infinite leases are never
// returned. It scans the index: O(n log limit).
func (s *Store) Expired(now int64, limit int) []lease.Lease {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return expiredLeases(int32(len(s.idx.recs)), func(i int32) *rec { return &s.idx.recs[i] }, now, limit, (*rec).expiry, cmp.Compare[uint32], s.idx.fill)
}

// Reclaimed returns up to limit expired-reclaimed leases that expired at
// or before unix time before, oldest expiry first (ties by address);
// limit <= 0 means all. It scans the index as Expired does.
func (s *Store) Reclaimed(before int64, limit int) []lease.Lease {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return expiredLeases(int32(len(s.idx.recs)), func(i int32) *rec { return &s.idx.recs[i] }, before, limit, (*rec).reclaimedAt, cmp.Compare[uint32], s.idx.fill)
}

// expiry is what Expired needs of a record: its address, when it
// expires, and whether it can expire (live, not yet reclaimed, finite).
func (r *rec) expiry() (key uint32, exp int64, ok bool) {
	return r.addr, r.cltt + int64(r.valid), canExpire(r.flags, r.state, r.valid)
}

// reclaimedAt is what Reclaimed needs of a record: its address, when it
// expired, and whether it is a live expired-reclaimed one.
func (r *rec) reclaimedAt() (key uint32, exp int64, ok bool) {
	return r.addr, r.cltt + int64(r.valid), isReclaimed(r.flags, r.state, r.valid)
}

func canExpire(flags uint8, state lease.State, valid uint32) bool {
	return flags&flagLive != 0 && state != lease.StateExpiredReclaimed && valid != lease.Infinite
}

func isReclaimed(flags uint8, state lease.State, valid uint32) bool {
	return flags&flagLive != 0 && state == lease.StateExpiredReclaimed && valid != lease.Infinite
}

// expiredLeases returns the leases of the n index records (at reads one) that expired
// by now, at most limit of them (all when limit <= 0), soonest expired
// first and ties in address order. expiry reads a record, fill builds
// the lease of record i.
func expiredLeases[R, K, L any](n int32, at func(int32) *R, now int64, limit int, expiry func(*R) (K, int64, bool), cmpKey func(a, b K) int, fill func(i int32, l *L)) []L {
	type cand struct {
		exp int64
		key K
		i   int32
	}
	less := func(a, b cand) int {
		if c := cmp.Compare(a.exp, b.exp); c != 0 {
			return c
		}
		return cmpKey(a.key, b.key)
	}
	h := topN(limit, less, func(push func(cand)) {
		for i := range n {
			if key, exp, ok := expiry(at(i)); ok && exp <= now {
				push(cand{exp, key, i})
			}
		}
	})
	out := make([]L, len(h))
	for j, c := range h {
		fill(c.i, &out[j])
	}
	return out
}

// heapUp and heapDown maintain a max-heap under less.
func heapUp[T any](h []T, j int, less func(a, b T) int) {
	for j > 0 {
		p := (j - 1) / 2
		if less(h[p], h[j]) >= 0 {
			return
		}
		h[p], h[j] = h[j], h[p]
		j = p
	}
}

func heapDown[T any](h []T, j int, less func(a, b T) int) {
	for {
		l, big := 2*j+1, j
		if l < len(h) && less(h[l], h[big]) > 0 {
			big = l
		}
		if r := l + 1; r < len(h) && less(h[r], h[big]) > 0 {
			big = r
		}
		if big == j {
			return
		}
		h[j], h[big] = h[big], h[j]
		j = big
	}
}

// Validate returns the error Commit would return for ops before writing
// anything (a lease Kea would refuse as a row), nil when they can be
// committed. Stores that keep a memfile index as their cache check ops
// with it before they reach their own storage.
func Validate(ops []lease.Op) error {
	for i := range ops {
		if err := validateOp(&ops[i]); err != nil {
			return fmt.Errorf("commit op %d: %w", i, err)
		}
	}
	return nil
}

// validateOp rejects leases that would be written as rows Kea refuses to
// load, so a Commit never makes a lease that vanishes on restart.
func validateOp(op *lease.Op) error {
	l := &op.Lease
	if !l.Addr.Is4() {
		return fmt.Errorf("%w: address %v is not IPv4", lease.ErrInvalidLease, l.Addr)
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
	case len(l.HWAddr) > maxHWAddrLen:
		return fmt.Errorf("%w: %s: hwaddr longer than %d bytes", lease.ErrInvalidLease, l.Addr, maxHWAddrLen)
	case len(l.ClientID) > maxClientIDLen:
		return fmt.Errorf("%w: %s: client-id longer than %d bytes", lease.ErrInvalidLease, l.Addr, maxClientIDLen)
	case len(l.HWAddr) == 0 && len(l.ClientID) == 0 && l.State != lease.StateDeclined:
		return fmt.Errorf("%w: %s: neither hwaddr nor client-id, and not declined", lease.ErrInvalidLease, l.Addr)
	}
	if l.UserContext != "" {
		if err := checkUserContext(l.UserContext); err != nil {
			return fmt.Errorf("%w: %s: user context: %v", lease.ErrInvalidLease, l.Addr, err)
		}
	}
	if n := rowLen(l); n > maxLineLen {
		// The loader skips such a row: the lease would be lost on restart.
		return fmt.Errorf("%w: %s: its lease-file row would be %d bytes, over the %d the file may hold",
			lease.ErrInvalidLease, l.Addr, n, maxLineLen)
	}
	return nil
}

// Commit applies ops atomically with respect to other commits and returns
// once they are durable: written to the lease file (and fdatasync'ed when
// Options.Sync), and then applied to the index in order. Concurrent
// commits are group-committed by one writer goroutine.
//
// On a write or sync error nothing of the batch is applied, the file is
// truncated back to its last good size, and a *FaultError (wrapping
// ErrStorage and the errno) is returned to every commit of the batch. The
// store then refuses commits with it until a recovery attempt succeeds
// (see FaultEvent).
//
// CommitAsync is Commit without the wait: it queues ops and returns, and
// done is called exactly once with what Commit would have returned, once
// the ops are durable and applied to the index (nil) or refused (the
// store's error). A group commit's single fdatasync covers every commit
// queued while the previous one ran, so a caller with many requests in
// flight need not hold a goroutine per commit.
//
// Wipe deletes every lease of subnetID (0: of all subnets), writing a
// deletion marker for each as Kea's lease4-wipe does, and returns how many
// it deleted. Leases added while it runs may survive.
func (s *Store) Wipe(ctx context.Context, subnetID uint32) (int, error) {
	var addrs []uint32
	s.mu.RLock()
	s.idx.ascend(0, func(i int32) bool {
		if r := &s.idx.recs[i]; subnetID == 0 || r.subnet == subnetID {
			addrs = append(addrs, r.addr)
		}
		return true
	})
	s.mu.RUnlock()
	return s.wipe(ctx, subnetID, len(addrs), func(i int) lease.Op {
		return lease.Op{Kind: lease.OpDelete, Lease: lease.Lease{Addr: keyAddr(addrs[i])}}
	})
}
