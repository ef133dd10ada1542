package legallog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"xdhcp/hooks"
	"xdhcp/internal/strftime"
	"xdhcp/internal/uring"
	"xdhcp/lease"
)

// flushInterval is how often the write-ahead file is checkpointed into
// the log, and bounds how late an idle file is rotated.
const flushInterval = time.Second

// syncInterval bounds how long a record written outside a lease commit
// waits for its fdatasync without DurableBeforeReply.
const syncInterval = 100 * time.Millisecond

// syncBatch is how many bytes of records written outside a lease commit
// (without DurableBeforeReply) ask for a sync at once rather than at the
// next tick: a write-ahead record of this size is one device write, and
// its buffer is reused rather than grown.
const syncBatch = 256 << 10

// waitLimit bounds how long LeaseEvent waits for a record to be durable
// before its reply (a failing disk): the reply then leaves without it,
// and the write error is counted and logged.
const waitLimit = 5 * time.Second

// Log is the forensic log. Its records reach the file in two ways:
//
//   - records of events that commit a lease are formatted before the commit
//     (AppendRecord, the engine's Recorder) and travel with the lease: the
//     lease store writes them with WriteRecords and syncs them with
//     SyncRecords in the same group commit, before any ACK of that batch;
//   - records of events that write no lease (cached and reused renewals),
//     and every record when response-parser-format needs the reply, are
//     written when the event is told (LeaseEvent; the fast path's once per
//     receive batch, by Flush), before the reply leaves: a crash of the
//     process loses none. They are synced within syncInterval, or sooner
//     by a lease commit's group commit or once syncBatch of them wait.
//     With DurableBeforeReply their replies wait for that sync instead,
//     which the log's syncers run as soon as one is wanted, one for every
//     record written meanwhile (a group commit of its own, shared with
//     the lease store's when both want one). With a database output the
//     replies always wait for the transaction: a row is written only
//     once it commits.
//
// "Written" means written to the log's stage (stage.go), where a crash of
// the process cannot take them; the file gets them in 64 KiB pieces, and
// the rest at every sync, rotation and close.
//
// A sync is one write of the new bytes to the write-ahead file (wal.go)
// where there is one, an fdatasync of the log where there is not.
//
// All methods are safe for concurrent use.
type Log struct {
	p   Params
	log *slog.Logger
	now func() time.Time
	// stamp is the last timestamp formatted, reused within its second
	// unless the format has sub-second precision (subSecond).
	stamp     atomic.Pointer[stamp]
	subSecond bool
	// quiet are the subnets with "legal-logging": false.
	quiet atomic.Pointer[map[uint32]bool]

	mu   sync.Mutex
	file rotatingFile
	// written counts the writes so far, and the fast path's flushes too:
	// the ticket of the last one.
	written uint64
	// pending are records of cached renewals held until Flush, which
	// writes them all with one write (pending[:flushed], tickets from
	// pendingFrom on, are flushed but not written yet: with
	// DurableBeforeReply a syncer writes them before its fdatasync, off
	// the fast path's goroutines; else their write failed).
	pending     []byte
	flushed     int
	pendingFrom uint64
	// unsynced counts the bytes written since the last sync began.
	unsynced int

	// syncSlots bounds the syncs in flight (SyncSlots); synced is the
	// last write made durable. A sync runs without mu, so that writers go
	// on meanwhile, and beside the syncs before it: see SyncSlots.
	syncSlots chan struct{}
	synced    atomic.Uint64
	// rings hold an io_uring per sync slot where the kernel offers one:
	// a sync through a ring holds no thread the Go runtime must watch (see
	// uring.SyncRing). A slot without one, or whose ring failed, syncs
	// with fdatasync(2).
	rings chan *uring.SyncRing
	// kickRing is the ticker's own ring, for startWriteback (nil: none,
	// or it failed); kickMu keeps its one request at a time.
	kickMu   sync.Mutex
	kickRing *uring.SyncRing
	// started is the highest write a sync in flight covers (under mu):
	// the syncer leaves a request that finds it covered to that sync.
	started  uint64
	syncReq  chan struct{} // cap 1: a sync is wanted now
	drainReq chan struct{} // cap 1: the staged records should go to the file
	// waitMu guards notify and syncDone (closed and replaced after each
	// sync that advances synced).
	waitMu   sync.Mutex
	notify   map[uint64]func()
	notifyN  uint64
	syncDone chan struct{}

	// wal is the write-ahead file (nil: none, or after it failed; see
	// wal.go). walChunk holds the bytes written to the current file
	// since a sync last took them, walFrom their offset in it; walSpare
	// are buffers of chunks written, for the next ones. walPending are
	// the appends in flight or done behind one in flight, oldest first:
	// synced advances past an append only once every earlier one is done
	// (or covered by an fdatasync). walPaused sends syncs to fdatasync
	// while a checkpoint runs; walCond (on mu) signals appends ending.
	wal         *wal
	walDead     *wal // failed: closed at Close, after the appends in flight
	walChunk    walChunk
	walSpare    [][]byte
	walFrom     int64
	walPending  []*walAppend
	walInflight int
	walPaused   bool
	walCond     *sync.Cond
	// walGap: bytes were written that walChunk dropped (walBufLimit); until
	// a checkpoint covers them, syncs checkpoint.
	walGap bool

	// db is the database output (nil: the file's); rows are the records
	// written for its next sync (see db.go).
	db   RowWriter
	rows dbRows

	records, errs, scriptErrs atomic.Uint64

	stop chan struct{}
	wg   sync.WaitGroup
}

var (
	_ hooks.Recorder = (*Log)(nil)
	_ hooks.Listener = (*Log)(nil)
	_ hooks.Flusher  = (*Log)(nil)
)

// Open opens the forensic log described by p (creating its file now, so a
// bad path fails at start as in Kea). now may be nil (time.Now).
func Open(p Params, log *slog.Logger, now func() time.Time) (*Log, error) {
	return open(p, log, now, SyncSlots)
}

// open is Open with slots syncs in flight at most (a benchmark compares
// counts).
func open(p Params, log *slog.Logger, now func() time.Time, slots int) (*Log, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	l := &Log{p: p, log: log, now: now, stop: make(chan struct{}), subSecond: strings.Contains(p.TimestampFormat, "%Q"),
		syncReq: make(chan struct{}, 1), drainReq: make(chan struct{}, 1), syncDone: make(chan struct{}), syncSlots: make(chan struct{}, slots)}
	l.walCond = sync.NewCond(&l.mu)
	l.openWAL()
	l.file = rotatingFile{p: p, runScript: l.runScript, stage: l.openStage(), restore: l.walBytesLocked}
	if err := l.file.open(now(), true); err != nil {
		if l.wal != nil {
			l.wal.f.Close()
		}
		if l.file.stage != nil {
			l.file.stage.close()
		}
		return nil, err
	}
	l.walFrom = l.file.size
	l.rings = make(chan *uring.SyncRing, slots)
	for range slots {
		if r, err := uring.NewSyncRing(); err == nil {
			l.rings <- r
		}
	}
	if r, err := uring.NewSyncRing(); err == nil {
		l.kickRing = r
	}
	log.Info("LEGAL_LOG_STORE_OPENED", "file", l.file.name)
	l.wg.Add(1 + slots)
	go l.ticker()
	for range slots {
		go l.syncer()
	}
	return l, nil
}

// openWAL opens the write-ahead file and restores into the log files the
// records a power failure took from them. Without one (a file system
// without O_DIRECT, another log using it, or records it could not
// restore, which it then keeps for the next start) the log syncs with
// fdatasync.
func (l *Log) openWAL() {
	w, recs, err := openWAL(walName(l.p))
	if err != nil {
		l.log.Info("forensic log: no write-ahead file, syncing the log itself", "err", err)
		return
	}
	n, err := replayWAL(l.p.Path, recs)
	if err != nil {
		w.f.Close()
		l.errs.Add(1)
		l.log.Error("LEGAL_LOG_LEASE4_WRITE_ERROR", "err", err)
		return
	}
	if n > 0 {
		l.log.Warn("forensic log: records restored from the write-ahead file after an unclean stop", "records", n, "file", w.f.Name())
	}
	if err := w.reset(func(b []byte, off int64) error { _, err := w.f.WriteAt(b, off); return err }); err != nil {
		w.f.Close()
		l.log.Warn("forensic log: no write-ahead file, syncing the log itself", "err", err)
		return
	}
	l.wal = w
}

// openStage opens the stage and appends to its file what it held that the
// file lacks: what a kill -9 took before it reached the file. Without one
// (no boot id, another log using it, a file system that cannot map it, or
// bytes it could not restore, which it then keeps for the next start)
// every write goes to the file at once.
func (l *Log) openStage() *stage {
	s, held, err := openStage(stageName(l.p))
	if err != nil {
		l.log.Info("forensic log: no stage, writing each batch of records to the log at once", "err", err)
		return nil
	}
	if held != nil {
		n, err := replayWAL(l.p.Path, []walRecord{*held})
		if err != nil {
			s.close()
			l.errs.Add(1)
			l.log.Error("LEGAL_LOG_LEASE4_WRITE_ERROR", "err", err)
			return nil
		}
		if n > 0 {
			l.log.Warn("forensic log: records restored from the stage after an unclean stop", "bytes", len(held.data), "file", held.file)
		}
	}
	return s
}

func (l *Log) runScript(script, file string) {
	startScript(script, file, func(script, file string, err error) {
		if err != nil {
			l.scriptErrs.Add(1)
			l.log.Warn("forensic log rotation script failed", "script", script, "file", file, "err", err)
		}
	})
}

// FileName is the current file's name.
func (l *Log) FileName() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.file.name
}

// Counters are the log's cumulative counts.
type Counters struct {
	Records      uint64 // records written
	WriteErrors  uint64 // failed writes or syncs
	ScriptErrors uint64 // rotation scripts that failed to run or exited non-zero
}

// Counters returns the cumulative counts.
func (l *Log) Counters() Counters {
	return Counters{Records: l.records.Load(), WriteErrors: l.errs.Load(), ScriptErrors: l.scriptErrs.Load()}
}

// durable reports whether e's record is formatted before its lease commit:
// every event that writes a lease, unless the line needs the reply; a
// lease command's always (its line is Kea's fixed text, and it is told
// to no listener).
func (l *Log) durable(e *hooks.Event) bool {
	return e.Point == hooks.LeaseCommand || (!e.Cached && !e.Reused && l.p.Response == nil)
}

// AppendRecord implements hooks.Recorder.
func (l *Log) AppendRecord(dst []byte, e *hooks.Event) []byte {
	if !l.durable(e) {
		return dst
	}
	return l.appendEntries(dst, e)
}

// LeaseEvent implements hooks.Listener: it writes the records the engine
// could not attach to a lease commit. Those of cached renewals are held
// until Flush; the others are written when it returns, and durable with
// DurableBeforeReply or a database output (the engine tells of them
// before it sends the reply).
func (l *Log) LeaseEvent(e *hooks.Event) {
	if l.durable(e) || !recorded(e.Point) {
		return
	}
	if e.Cached {
		l.mu.Lock()
		l.pending = l.appendEntries(l.pending, e)
		l.mu.Unlock()
		return
	}
	b := l.appendEntries(nil, e)
	if len(b) == 0 {
		return
	}
	l.mu.Lock()
	err := l.writeLocked(b)
	ticket := l.written
	l.mu.Unlock()
	if err != nil {
		l.log.Error("LEGAL_LOG_LEASE4_WRITE_ERROR", "err", err)
		return
	}
	l.settle(ticket)
}

// settle makes a record written outside a lease commit (ticket) as safe
// as its reply needs before the reply leaves: durable when the reply
// waits for the sync, else written, with a sync asked for once syncBatch
// of such records wait.
func (l *Log) settle(ticket uint64) {
	if l.waitsForSync() {
		l.waitSynced(ticket)
		return
	}
	l.mu.Lock()
	more := l.unsynced >= syncBatch
	l.mu.Unlock()
	if more {
		l.wantSync()
	}
}

// waitsForSync reports whether the replies of records written outside a
// lease commit wait for their sync rather than their write: with
// DurableBeforeReply, and always with a database output, whose rows are
// written only by the sync's transaction.
func (l *Log) waitsForSync() bool { return l.p.DurableBeforeReply || l.db != nil }

// WaitsForReply implements hooks.ReplyWaiter: LeaseEvent writes the
// records of renewals by lease reuse and every record of
// response-parser-format itself, and the reply waits for them.
func (l *Log) WaitsForReply(reused bool) bool {
	return reused || l.p.Response != nil
}

// Flush implements hooks.Flusher: it writes the held records of cached
// renewals at once for every flush made meanwhile, and returns
// 0: their replies may leave. With DurableBeforeReply (or a database
// output) it leaves the write to the log's syncers, off the fast path's
// goroutines, asks for a sync, which writes and syncs them, and returns
// the ticket their replies wait for; so it does when the write fails
// (the records stay, for the syncers to try again).
func (l *Log) Flush() uint64 {
	l.mu.Lock()
	if len(l.pending) == l.flushed {
		// Nothing new, but the caller's records may have been marked by
		// another caller's Flush (another worker's) and not be durable,
		// or not even written, yet: the newest ticket covers them.
		ticket := l.written
		unwritten := l.pendingFrom != 0
		l.mu.Unlock()
		if ticket <= l.synced.Load() || (!unwritten && !l.waitsForSync()) {
			return 0
		}
		l.wantSync()
		return ticket
	}
	l.written++
	ticket := l.written
	if l.pendingFrom == 0 {
		l.pendingFrom = ticket
	}
	l.flushed = len(l.pending)
	if l.waitsForSync() {
		l.mu.Unlock()
		l.wantSync()
		return ticket
	}
	err := l.writeFlushedLocked()
	more := l.unsynced >= syncBatch
	l.mu.Unlock()
	if err != nil {
		l.log.Error("LEGAL_LOG_LEASE4_WRITE_ERROR", "err", err)
		l.wantSync()
		return ticket
	}
	if more {
		l.wantSync()
	}
	return 0
}

// writeFlushedLocked writes the flushed part of pending. On error the
// records stay, and their tickets wait for a later sync.
func (l *Log) writeFlushedLocked() error {
	if l.flushed == 0 {
		return nil
	}
	if err := l.writeFileLocked(l.pending[:l.flushed]); err != nil {
		return err
	}
	l.pending = l.pending[:copy(l.pending, l.pending[l.flushed:])]
	l.flushed, l.pendingFrom = 0, 0
	if cap(l.pending) > 1<<20 && len(l.pending) == 0 {
		l.pending = nil
	}
	return nil
}

// Synced implements hooks.Flusher.
func (l *Log) Synced() uint64 { return l.synced.Load() }

// OnSynced implements hooks.Flusher.
func (l *Log) OnSynced(notify func()) func() {
	l.waitMu.Lock()
	defer l.waitMu.Unlock()
	if l.notify == nil {
		l.notify = map[uint64]func(){}
	}
	l.notifyN++
	id := l.notifyN
	l.notify[id] = notify
	return func() {
		l.waitMu.Lock()
		delete(l.notify, id)
		l.waitMu.Unlock()
	}
}

// wantSync asks the syncers for a sync now.
func (l *Log) wantSync() {
	select {
	case l.syncReq <- struct{}{}:
	default:
	}
}

// waitSynced waits until write ticket is durable, or waitLimit.
func (l *Log) waitSynced(ticket uint64) {
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	for l.synced.Load() < ticket {
		l.waitMu.Lock()
		done := l.syncDone
		l.waitMu.Unlock()
		if l.synced.Load() >= ticket {
			return
		}
		l.wantSync()
		select {
		case <-done:
		case <-deadline.C:
			l.log.Error("LEGAL_LOG_LEASE4_WRITE_ERROR", "err", "forensic record not durable in time: the reply leaves without it")
			return
		}
	}
}

// Wants implements hooks.Interest: the points the log records.
func (l *Log) Wants(p hooks.Point) bool { return recorded(p) }

// recorded reports whether Kea's legal log writes lines at hook point p
// (appendEntries writes none for the others).
func recorded(p hooks.Point) bool {
	switch p {
	case hooks.Leases4Committed, hooks.Lease4Release, hooks.Lease4Decline, hooks.LeaseCommand:
		return true
	}
	return false
}

// appendEntries appends the lines Kea's legal log writes for e. The
// default lines are formatted in place, without allocating.
func (l *Log) appendEntries(dst []byte, e *hooks.Event) []byte {
	var assigned, released []lease.Lease
	switch e.Point {
	case hooks.Leases4Committed:
		assigned, released = e.Leases, e.Deleted
	case hooks.Lease4Release, hooks.Lease4Decline:
		released = e.Leases
	case hooks.LeaseCommand:
		for k := range e.Leases {
			if l.quietSubnet(e.Leases[k].SubnetID) {
				continue
			}
			var start, text int
			dst, start, text = l.beginEntry(dst, e.Time, e.Leases[k].Addr)
			dst = AppendCommand(dst, e.Command, &e.Leases[k])
			dst = l.finishEntry(dst, start, text)
		}
		return dst
	default:
		return dst
	}
	// The default line's query view stays on the stack (only
	// AppendDefault sees it); the expressions' views escape into them, so
	// they are allocated, and only with expressions.
	var q hooks.Packet
	var qp, cq, cr *hooks.Packet
	custom := l.p.Request != nil || l.p.Response != nil
	if custom {
		cq, cr = parsed(e.Query, e), nil
		if l.p.Response != nil {
			cr = parsed(e.Response, e)
		}
	} else if e.Query != nil && q.Parse(e.Query, e.Iface, e.Classes) == nil {
		qp = &q
	}
	for i, set := range [2][]lease.Lease{assigned, released} {
		for k := range set {
			if l.quietSubnet(set[k].SubnetID) {
				continue
			}
			var start, text int
			dst, start, text = l.beginEntry(dst, e.Time, set[k].Addr)
			switch {
			case !custom:
				dst = AppendDefault(dst, &set[k], qp, i == 1)
				if l.db == nil && set[k].UserContext == "" {
					// One line: only a user context can bring a
					// newline into Kea's default entry.
					dst = append(dst, '\n')
					continue
				}
			default:
				if l.p.Request != nil && cq != nil {
					dst = l.p.Request.Append(dst, cq)
				}
				if l.p.Response != nil && cr != nil {
					dst = l.p.Response.Append(dst, cr)
				}
			}
			dst = l.finishEntry(dst, start, text)
		}
	}
	return dst
}

// parsed returns a view of message b of event e, nil when there is none.
func parsed(b []byte, e *hooks.Event) *hooks.Packet {
	if b == nil {
		return nil
	}
	p := new(hooks.Packet)
	if p.Parse(b, e.Iface, e.Classes) != nil {
		return nil
	}
	return p
}

// stamp is a formatted timestamp and the second it stands for.
type stamp struct {
	sec int64
	b   []byte // the timestamp and the space after it
}

// appendStamp appends the timestamp of t and a space. Without %Q (sub-
// second) in the format, the text of the last second is reused.
func (l *Log) appendStamp(dst []byte, t time.Time) []byte {
	if l.subSecond {
		dst = strftime.Append(dst, l.p.TimestampFormat, t)
		return append(dst, ' ')
	}
	if st := l.stamp.Load(); st != nil && st.sec == t.Unix() {
		return append(dst, st.b...)
	}
	b := append(strftime.Append(nil, l.p.TimestampFormat, t), ' ')
	l.stamp.Store(&stamp{sec: t.Unix(), b: b})
	return append(dst, b...)
}

// endEntry ends the entry dst[start:], whose text (after the timestamp)
// begins at dst[text]: an entry of no text is removed, and one of several
// lines gets the timestamp on each line, as Kea writes a multi-line entry.
func endEntry(dst []byte, start, text int) []byte {
	if len(dst) == text {
		return dst[:start]
	}
	if bytes.IndexByte(dst[text:], '\n') < 0 {
		return append(dst, '\n')
	}
	// Rare (a user context or an expression with a newline): copy out.
	ts := bytes.Clone(dst[start : text-1])
	body := bytes.Clone(dst[text:])
	return appendLines(dst[:start], ts, body)
}

// appendLines appends each line of text prefixed with the timestamp.
func appendLines(dst, ts, text []byte) []byte {
	for len(text) > 0 {
		line, rest, _ := bytes.Cut(text, []byte{'\n'})
		dst = append(dst, ts...)
		dst = append(dst, ' ')
		dst = append(dst, line...)
		dst = append(dst, '\n')
		text = rest
	}
	return dst
}

// AppendDefault appends Kea's default entry for lease l (without the
// timestamp): assigned, or released when released is set; q is the
// client's query, nil when there is none.
func AppendDefault(dst []byte, l *lease.Lease, q *hooks.Packet, released bool) []byte {
	dst = append(dst, "Address: "...)
	dst = appendAddr(dst, l.Addr)
	if released {
		dst = append(dst, " has been released from"...)
	} else {
		dst = append(dst, " has been assigned for "...)
		dst = AppendDuration(dst, l.ValidLft)
		dst = append(dst, " to"...)
	}
	dst = append(dst, " a device with hardware address: hwtype="...)
	htype := 1
	if q != nil {
		htype = int(q.HType)
	}
	dst = strconv.AppendInt(dst, int64(htype), 10)
	dst = append(dst, ' ')
	dst = appendHex(dst, l.HWAddr, ':')
	if len(l.ClientID) > 0 {
		dst = append(dst, ", client-id: "...)
		dst = appendHex(dst, l.ClientID, ':')
		dst = appendPrintable(dst, l.ClientID)
	}
	if q != nil && q.Giaddr != [4]byte{} {
		dst = append(dst, " connected via relay at address: "...)
		dst = appendAddr(dst, netip.AddrFrom4(q.Giaddr))
		if rai, ok := q.Option(82); ok {
			first := true
			for _, sub := range relaySubOptions {
				v, ok := hooks.SubOption(rai, sub.code)
				if !ok || len(v) == 0 {
					continue
				}
				if first {
					dst = append(dst, ", identified by "...)
					first = false
				} else {
					dst = append(dst, " and "...)
				}
				dst = append(dst, sub.name...)
				dst = appendHex(dst, v, ':')
				dst = appendPrintable(dst, v)
			}
		}
	}
	if l.UserContext != "" {
		dst = append(dst, ", context: "...)
		dst = append(dst, l.UserContext...)
	}
	return dst
}

// relaySubOptions are the relay agent sub-options Kea's default entry
// names, in its order.
var relaySubOptions = [...]struct {
	code byte
	name string
}{{1, "circuit-id: "}, {2, "remote-id: "}, {6, "subscriber-id: "}}

// AppendCommand appends Kea's entry for lease command cmd (lease4-add,
// lease4-update, lease4-del) on lease l.
func AppendCommand(dst []byte, cmd string, l *lease.Lease) []byte {
	dst = append(dst, "Administrator"...)
	switch cmd {
	case "lease4-del":
		dst = append(dst, " deleted the lease for address: "...)
		return l.Addr.AppendTo(dst)
	case "lease4-add":
		dst = append(dst, " added a lease of address: "...)
	default:
		dst = append(dst, " updated information on the lease of address: "...)
	}
	dst = l.Addr.AppendTo(dst)
	dst = append(dst, " to a device with hardware address: "...)
	dst = appendHex(dst, l.HWAddr, ':')
	if len(l.ClientID) > 0 {
		dst = append(dst, ", client-id: "...)
		dst = appendHex(dst, l.ClientID, ':')
		dst = appendPrintable(dst, l.ClientID)
	}
	if l.ValidLft > 0 {
		dst = append(dst, " for "...)
		dst = AppendDuration(dst, l.ValidLft)
	}
	if l.UserContext != "" {
		dst = append(dst, ", context: "...)
		dst = append(dst, l.UserContext...)
	}
	return dst
}

// AppendDuration appends a lifetime as Kea's legal log words it.
func AppendDuration(dst []byte, secs uint32) []byte {
	if secs == lease.Infinite {
		return append(dst, "infinite duration"...)
	}
	s, m := secs%60, secs/60
	h, d := m/60%24, m/60/24
	m %= 60
	if d > 0 {
		dst = strconv.AppendUint(dst, uint64(d), 10)
		dst = append(dst, " days "...)
	}
	dst = strconv.AppendUint(dst, uint64(h), 10)
	dst = append(dst, " hrs "...)
	dst = strconv.AppendUint(dst, uint64(m), 10)
	dst = append(dst, " mins "...)
	dst = strconv.AppendUint(dst, uint64(s), 10)
	return append(dst, " secs"...)
}

const hexDigits = "0123456789abcdef"

// appendHex appends b in hex, its bytes separated by sep (0: none). It
// grows dst once and fills it by index: a record holds two or three of
// these, and appending byte by byte was a sixth of its formatting.
func appendHex(dst, b []byte, sep byte) []byte {
	if len(b) == 0 {
		return dst
	}
	n := 2 * len(b)
	if sep != 0 {
		n += len(b) - 1
	}
	at := len(dst)
	dst = slices.Grow(dst, n)[:at+n]
	out := dst[at:]
	j := 0
	for i, c := range b {
		if i > 0 && sep != 0 {
			out[j] = sep
			j++
		}
		out[j], out[j+1] = hexDigits[c>>4], hexDigits[c&15]
		j += 2
	}
	return dst
}

// appendAddr appends a in its text form; an IPv4 address (two in most
// records) grown once and filled by index, as appendHex does.
func appendAddr(dst []byte, a netip.Addr) []byte {
	if !a.Is4() {
		return a.AppendTo(dst)
	}
	at := len(dst)
	dst = slices.Grow(dst, len("255.255.255.255"))[:at+len("255.255.255.255")]
	out := dst[at:]
	j := 0
	for i, c := range a.As4() {
		if i > 0 {
			out[j] = '.'
			j++
		}
		if c >= 100 {
			out[j] = '0' + c/100
			j++
		}
		if c >= 10 {
			out[j] = '0' + c/10%10
			j++
		}
		out[j] = '0' + c%10
		j++
	}
	return dst[:at+j]
}

// appendPrintable appends " (text)" when every byte of b is printable.
func appendPrintable(dst, b []byte) []byte {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return dst
		}
	}
	dst = append(dst, " ("...)
	dst = append(dst, b...)
	return append(dst, ')')
}

// WriteRecords appends whole records to the current file, rotating it
// first when its period has passed. The lease store calls it in a group
// commit, before SyncRecords.
func (l *Log) WriteRecords(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.writeLocked(b)
}

// writeLocked is WriteRecords with l.mu held.
func (l *Log) writeLocked(b []byte) error {
	if err := l.writeFileLocked(b); err != nil {
		return err
	}
	l.written++
	return nil
}

// writeFileLocked appends b to the current file.
func (l *Log) writeFileLocked(b []byte) error {
	if l.db != nil {
		if err := l.writeRowsLocked(b); err != nil {
			l.errs.Add(1)
			return err
		}
		return nil
	}
	if err := l.rotateLocked(); err != nil {
		l.errs.Add(1)
		return err
	}
	l.file.reserve(len(b))
	n, cut, err := l.file.write(b)
	if cut != nil {
		l.errs.Add(1)
		l.log.Error("LEGAL_LOG_LEASE4_WRITE_ERROR", "err", cut)
		l.stageCutLocked(cut)
	}
	l.unsynced += n
	if l.wal != nil {
		if l.walChunk.size()+n > walBufLimit {
			// Written faster than synced (records no reply waits for):
			// the next sync checkpoints instead, which covers them.
			l.spareLocked(l.walChunk.take())
			l.walGap = true
		} else {
			l.walChunk.add(b[:n], filepath.Base(l.file.name), l.takeSpareLocked())
		}
	}
	if err != nil {
		l.errs.Add(1)
		if n == len(b) {
			// Staged, where a kill -9 cannot take them: the file gets
			// them at the next drain, which reports its own failure.
			l.log.Error("LEGAL_LOG_LEASE4_WRITE_ERROR", "err", err)
			err = nil
		} else {
			return fmt.Errorf("write forensic log %s: %w", l.file.name, err)
		}
	}
	l.records.Add(uint64(bytes.Count(b, []byte{'\n'})))
	return nil
}

// stageCutLocked notes err when it is the stage's loss (errStageCut) and
// the stage took bytes the write-ahead file could not give back: the bytes
// the write-ahead file holds are then no longer where it says, so the
// next sync checkpoints, which starts it over.
func (l *Log) stageCutLocked(err error) {
	if errors.Is(err, errStageCut) && l.file.cutLost {
		l.walGap = true
	}
}

// walBytesLocked returns the bytes of log file name from offset from to
// to, taken from the write-ahead file's records of its current epoch, the
// appends in flight and the chunk of the next sync; nil unless they hold
// every one of those bytes.
func (l *Log) walBytesLocked(name string, from, to int64) []byte {
	if l.wal == nil || l.walGap {
		return nil
	}
	type piece struct {
		off  int64
		data []byte
	}
	var pieces []piece
	buf := alignedBuf(walSize)
	if _, err := io.ReadFull(io.NewSectionReader(l.wal.f, 0, walSize), buf); err == nil {
		for off := walBlock; off+walRecHeader <= walSize; {
			r, n, ok := parseRecord(buf[off:], l.wal.epoch)
			if !ok {
				off += walBlock
				continue
			}
			if r.file == name {
				pieces = append(pieces, piece{r.off, r.data})
			}
			off += n
		}
	}
	for _, a := range l.walPending {
		if !a.done && a.chunk.name == name {
			pieces = append(pieces, piece{a.fileOff, a.chunk.data()})
		}
	}
	if l.walChunk.buf != nil && l.walChunk.name == name {
		pieces = append(pieces, piece{l.walFrom, l.walChunk.data()})
	}
	out := make([]byte, 0, to-from)
	for pos := from; pos < to; {
		i := slices.IndexFunc(pieces, func(p piece) bool { return p.off <= pos && pos < p.off+int64(len(p.data)) })
		if i < 0 {
			return nil
		}
		p := pieces[i]
		end := min(to, p.off+int64(len(p.data)))
		out = append(out, p.data[pos-p.off:end-p.off]...)
		pos = end
	}
	return out
}

// rotateLocked rotates the file when due. The rotation synced the closed
// file, so the bytes it held need no write-ahead copy.
func (l *Log) rotateLocked() error {
	name := l.file.name
	err := l.file.rotateIfDue(l.now())
	l.stageCutLocked(err)
	if l.file.name != name || l.file.f == nil {
		l.spareLocked(l.walChunk.take())
		l.walGap = false
		l.walFrom = l.file.size
	}
	return err
}

// writeRaw appends b to f with write(2) called raw, as the lease file's
// writes are: on the page cache it takes microseconds, and a call the
// runtime watches would wake its monitor thread on the serving core.
func writeRaw(f *os.File, b []byte) (int, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	n := 0
	var werr error
	if err := rc.Write(func(fd uintptr) bool {
		for n < len(b) {
			r, _, errno := unix.RawSyscall(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(&b[n])), uintptr(len(b)-n))
			switch {
			case errno == unix.EINTR:
				continue
			case errno != 0:
				werr = errno
				return true
			case r == 0:
				werr = io.ErrShortWrite
				return true
			}
			n += int(r)
		}
		return true
	}); err != nil {
		return n, err
	}
	return n, werr
}

// SyncSlots is how many fdatasyncs of the log may be in flight at once.
// A record written while a sync runs need not wait for that sync to end
// before its own starts: with one sync at a time, a record waited for the
// rest of the running sync and then a whole one of its own (1.5 syncs on
// average, 2 in the fast path's closed loop of renewals, whose replies
// then came back as two cohorts taking turns); with two, about one.
// fdatasync makes durable everything written before it was called,
// whatever other syncs run beside it, so a later sync that ends first
// covers the earlier one's records too (synced only moves forward).
const SyncSlots = 2

// SyncRecords makes every record written so far durable (fdatasync).
// Writers are not held up while it syncs; it runs beside other syncs (up
// to SyncSlots).
func (l *Log) SyncRecords() error { return l.sync(false, false) }

// sync is SyncRecords; requested is the syncer's call for a waiting
// reply, which a sync already in flight for the same records answers.
// A sync through the write-ahead file needs the records only there and in
// the stage. So it leaves their write to the log file, for its readers, to
// the ticker's goroutine: at once after a lease commit's sync (wantDrain),
// off the commit's path, whose ACKs waited for that write too; within
// syncInterval for the others (visible: the ticker's sync writes them).
func (l *Log) sync(requested, visible bool) error {
	if l.db != nil {
		return l.syncDB(requested)
	}
	l.syncSlots <- struct{}{}
	defer func() { <-l.syncSlots }()
	l.mu.Lock()
	werr := l.writeFlushedLocked()
	if visible || l.wal == nil || l.walPaused || l.walGap {
		if err := l.drainLocked(); err != nil {
			l.mu.Unlock()
			return errors.Join(werr, err)
		}
	}
	target, f, name, size := l.written, l.file.f, l.file.name, l.file.size
	if l.pendingFrom != 0 {
		target = l.pendingFrom - 1 // not written: not durable either
	}
	covered := target <= l.synced.Load() || (requested && target <= l.started)
	if !covered {
		l.started = max(l.started, target)
		l.unsynced = 0
	}
	var a *walAppend
	full := false
	if !covered && f != nil && l.wal != nil && !l.walPaused {
		a, full = l.reserveLocked(target)
	}
	l.mu.Unlock()
	if covered || f == nil {
		return werr
	}
	if a != nil && l.appendWAL(a) == nil {
		if !requested {
			l.wantDrain() // a lease commit's: readers see it at once
		}
		return werr
	}
	if full {
		if ran, err := l.checkpoint(); ran {
			return errors.Join(werr, err)
		}
	}
	// No write-ahead file (or it failed, or a checkpoint holds it): the
	// fdatasync covers every byte written to the file before it, so the
	// staged ones go there first.
	l.mu.Lock()
	derr := error(nil)
	if l.file.f == f {
		derr = l.drainLocked()
	}
	l.mu.Unlock()
	if derr != nil {
		return errors.Join(werr, derr)
	}
	rc, err := f.SyscallConn()
	if err == nil {
		cerr := rc.Control(func(fd uintptr) { err = l.fdatasync(fd) })
		if errors.Is(cerr, os.ErrClosed) {
			// Rotated meanwhile: the rotation synced the closed file,
			// and everything up to target was written to it.
			cerr, err = nil, nil
		}
		if err == nil {
			err = cerr
		}
	}
	if err != nil {
		l.errs.Add(1)
		// What this sync covered is not durable: a later request must
		// sync again rather than count on it.
		l.mu.Lock()
		l.started = min(l.started, l.synced.Load())
		l.mu.Unlock()
		return errors.Join(werr, fmt.Errorf("fdatasync forensic log %s: %w", name, err))
	}
	l.advance(target)
	l.dropSynced(f, size)
	return werr
}

// wantDrain asks the ticker's goroutine to move the staged records into
// the log file now.
func (l *Log) wantDrain() {
	select {
	case l.drainReq <- struct{}{}:
	default:
	}
}

// drainLocked moves the staged bytes into the log file: a sync of the
// file covers them only once they are there.
func (l *Log) drainLocked() error {
	err := l.file.drain()
	if err != nil {
		l.errs.Add(1)
		l.stageCutLocked(err)
	}
	return err
}

// dropSynced drops from the page cache the pages of f, the log file when a
// sync of its first size bytes began, that the sync made clean and that
// lie far enough behind its end (rotatingFile.dropBehind).
func (l *Log) dropSynced(f *os.File, size int64) {
	l.mu.Lock()
	if l.file.f != f {
		l.mu.Unlock()
		return // rotated meanwhile
	}
	df, off, n, ok := l.file.dropBehind(size)
	l.mu.Unlock()
	if ok {
		dropPages(df, off, n)
	}
}

// walBufLimit bounds the bytes held for the next write-ahead record: past
// it they are dropped and the next sync checkpoints.
const walBufLimit = 4 << 20

// walAppend is a sync's record in the write-ahead file: the bytes written
// to the log since the previous one (data, at fileOff of file), and the
// write ticket they make durable.
type walAppend struct {
	w          *wal // the file reserved in (l.wal may be turned off meanwhile)
	epoch, seq uint64
	off        int64 // in the write-ahead file
	chunk      walChunk
	fileOff    int64
	target     uint64
	done       bool
}

// reserveLocked takes the bytes written since the previous sync for a
// write-ahead record making target durable, or reports the file full.
func (l *Log) reserveLocked(target uint64) (*walAppend, bool) {
	if l.walGap {
		return nil, true
	}
	if l.walChunk.buf == nil {
		l.walChunk.start(filepath.Base(l.file.name), l.takeSpareLocked(), 0)
	}
	off, seq, ok := l.wal.reserve(l.walChunk.name, l.walChunk.size())
	if !ok {
		return nil, true
	}
	a := &walAppend{w: l.wal, epoch: l.wal.epoch, seq: seq, off: off, chunk: l.walChunk, fileOff: l.walFrom, target: target}
	l.walFrom += int64(l.walChunk.size())
	l.walChunk = walChunk{}
	l.walPending = append(l.walPending, a)
	l.walInflight++
	return a, false
}

// appendWAL writes a's record and, once it and every earlier append are
// done, advances synced. A failure turns the write-ahead file off: the
// caller then syncs the log itself, which covers a's bytes too.
func (l *Log) appendWAL(a *walAppend) error {
	err := l.walWrite(a.w, a.w.seal(&a.chunk, a.epoch, a.seq, a.fileOff), a.off)
	l.mu.Lock()
	l.walInflight--
	if err == nil {
		// Not after a failure: a broken ring may not be done with it.
		l.spareLocked(a.chunk.take())
	}
	var to uint64
	if err != nil {
		l.errs.Add(1)
		l.disableWALLocked(err)
	} else {
		a.done = true
		synced := l.synced.Load()
		i := 0
		for ; i < len(l.walPending); i++ {
			p := l.walPending[i]
			if p.done {
				to = max(to, p.target)
			} else if p.target > synced {
				break
			}
		}
		l.walPending = l.walPending[:copy(l.walPending, l.walPending[i:])]
	}
	l.walCond.Broadcast()
	l.mu.Unlock()
	if to > 0 {
		l.advance(to)
	}
	return err
}

// spareLocked keeps buf, a chunk's buffer no longer used, for a next
// chunk: as many as syncs run at once and one filling, none past
// walBufLimit (a chunk grows while the syncs lag behind the writes; a
// buffer dropped then would be made again, and cleared, at every sync).
func (l *Log) spareLocked(buf []byte) {
	if buf != nil && cap(buf) <= walBufLimit && len(l.walSpare) <= cap(l.syncSlots) {
		l.walSpare = append(l.walSpare, buf)
	}
}

// takeSpareLocked returns a kept chunk buffer for a new chunk, or nil
// (the chunk then makes one) when the current chunk has its own.
func (l *Log) takeSpareLocked() []byte {
	if l.walChunk.buf != nil || len(l.walSpare) == 0 {
		return nil
	}
	b := l.walSpare[len(l.walSpare)-1]
	l.walSpare = l.walSpare[:len(l.walSpare)-1]
	return b
}

// walWrite writes b at off of w through a free sync slot's ring, or with
// pwrite(2).
func (l *Log) walWrite(w *wal, b []byte, off int64) error {
	if ok, err := l.viaRing(func(r *uring.SyncRing) error { return r.Pwrite(int(w.f.Fd()), b, off) }); ok {
		return err
	}
	_, err := w.f.WriteAt(b, off)
	return err
}

// disableWALLocked turns the write-ahead file off after err: from now on
// the log syncs itself.
func (l *Log) disableWALLocked(err error) {
	if l.wal == nil {
		return
	}
	l.log.Error("LEGAL_LOG_LEASE4_WRITE_ERROR", "err", fmt.Errorf("write-ahead file %s, syncing the log itself from now on: %w", l.wal.f.Name(), err))
	l.walDead, l.wal = l.wal, nil
	l.walChunk.take()
}

// checkpoint makes the log file durable and starts the write-ahead file
// over. It reports whether it ran: not without a write-ahead file, nor
// while another checkpoint runs (whose sync may have begun before the
// caller's bytes were written).
func (l *Log) checkpoint() (bool, error) {
	l.mu.Lock()
	if l.wal == nil || l.walPaused {
		l.mu.Unlock()
		return false, nil
	}
	l.walPaused = true
	for l.walInflight > 0 {
		l.walCond.Wait()
	}
	werr := l.writeFlushedLocked()
	if err := l.file.drain(); err != nil {
		// The write-ahead file must keep what the log file lacks.
		l.errs.Add(1)
		l.stageCutLocked(err)
		l.walPaused = false
		l.mu.Unlock()
		return true, errors.Join(werr, err)
	}
	target, f, size := l.written, l.file.f, l.file.size
	if l.pendingFrom != 0 {
		target = l.pendingFrom - 1
	}
	l.spareLocked(l.walChunk.take())
	l.walGap = false
	l.walFrom = l.file.size
	l.unsynced = 0
	w := l.wal
	l.mu.Unlock()
	var err error
	if f != nil {
		var rc syscall.RawConn
		if rc, err = f.SyscallConn(); err == nil {
			if cerr := rc.Control(func(fd uintptr) { err = l.fdatasync(fd) }); err == nil {
				err = cerr
			}
		}
		if err != nil {
			err = fmt.Errorf("fdatasync forensic log %s: %w", f.Name(), err)
		}
	}
	synced := err == nil
	if synced {
		l.advance(target)
		err = w.reset(func(b []byte, off int64) error { return l.walWrite(w, b, off) })
	}
	l.mu.Lock()
	if err != nil {
		l.errs.Add(1)
		l.disableWALLocked(err)
	}
	l.walPaused = false
	l.mu.Unlock()
	if synced {
		// Once syncs may use the write-ahead file again.
		l.dropSynced(f, size)
	}
	return true, errors.Join(werr, err)
}

// advance records that every write up to target is durable and wakes
// what waits for it. A sync that started earlier may end later, with a
// smaller target: synced never moves back.
func (l *Log) advance(target uint64) {
	for {
		cur := l.synced.Load()
		if target <= cur {
			return
		}
		if l.synced.CompareAndSwap(cur, target) {
			break
		}
	}
	l.waitMu.Lock()
	close(l.syncDone)
	l.syncDone = make(chan struct{})
	// Called under waitMu, so that none runs after its cancel returns.
	for _, f := range l.notify {
		f()
	}
	l.waitMu.Unlock()
}

// fdatasync syncs fd through a ring of a free sync slot (the caller holds
// a slot), or with fdatasync(2) where there is none.
func (l *Log) fdatasync(fd uintptr) error {
	if ok, err := l.viaRing(func(r *uring.SyncRing) error { return r.Fdatasync(int(fd)) }); ok {
		return err
	}
	return fdatasync(fd)
}

// viaRing runs op on a free sync slot's ring once the gate is open, and
// reports whether it ran (no free ring: the caller makes the plain system
// call). A ring that failed itself, not its request, is closed: its slot
// makes plain calls from then on.
func (l *Log) viaRing(op func(r *uring.SyncRing) error) (bool, error) {
	if !l.p.RingGate.Opened() {
		return false, nil
	}
	select {
	case r := <-l.rings:
		err := op(r)
		if !errors.Is(err, uring.ErrRingBroken) {
			l.rings <- r
			return true, err
		}
		r.Close()
		l.log.Warn("forensic log: io_uring failed, using plain system calls", "err", err)
	default:
	}
	return false, nil
}

// BlockingSyncs is how many of the log's syncs may run at once as
// blocking fdatasync(2) calls, each holding a thread and a Go P: the
// slots without a ring.
func (l *Log) BlockingSyncs() int {
	if l.db != nil {
		return 0 // a transaction waits in the runtime's poller
	}
	return cap(l.syncSlots) - len(l.rings)
}

func fdatasync(fd uintptr) error {
	for {
		err := unix.Fdatasync(int(fd))
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// syncer syncs what a reply waits for as soon as it is asked. SyncSlots
// of them run, so that a request made while a sync is in flight starts
// its own at once.
func (l *Log) syncer() {
	defer l.wg.Done()
	for {
		select {
		case <-l.stop:
			return
		case <-l.syncReq:
		}
		if err := l.sync(true, false); err != nil {
			l.log.Error("LEGAL_LOG_LEASE4_WRITE_ERROR", "err", err)
			// A failing disk: don't spin on requests.
			select {
			case <-l.stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
}

// ticker syncs what no reply waits for within syncInterval, checkpoints
// the write-ahead file every flushInterval, and rotates an idle file on
// time (so postrotate runs without waiting for a lease).
func (l *Log) ticker() {
	defer l.wg.Done()
	t := time.NewTicker(syncInterval)
	defer t.Stop()
	for tick := 1; ; tick++ {
		select {
		case <-l.stop:
			return
		case <-l.drainReq:
			l.mu.Lock()
			if err := l.drainLocked(); err != nil {
				l.log.Error("LEGAL_LOG_LEASE4_WRITE_ERROR", "err", err)
			}
			l.mu.Unlock()
			l.startWriteback()
			tick--
			continue
		case <-t.C:
		}
		l.Flush() // held by a caller that did not flush
		if tick%int(flushInterval/syncInterval) != 0 {
			if err := l.sync(false, true); err != nil {
				l.log.Error("LEGAL_LOG_LEASE4_WRITE_ERROR", "err", err)
			}
			l.startWriteback()
			continue
		}
		if err := l.syncAll(); err != nil {
			l.log.Error("LEGAL_LOG_LEASE4_WRITE_ERROR", "err", err)
		}
		l.mu.Lock()
		if l.file.f != nil {
			if err := l.rotateLocked(); err != nil {
				l.errs.Add(1)
				l.log.Error("forensic log rotation failed", "err", err)
			}
		}
		l.mu.Unlock()
	}
}

// startWriteback starts the write-back of what the log file got since
// the last call (rotatingFile.writeBehind), on the ticker's goroutine.
// Only through a ring, its own, so that no sync waits for a slot or a
// ring meanwhile: a blocking system call here would hold the one P of a
// server confined to one core, and the packet workers with it, for the
// milliseconds the hand-off takes. Without a ring the write-back is left
// to the checkpoint.
func (l *Log) startWriteback() {
	l.kickMu.Lock()
	defer l.kickMu.Unlock()
	r := l.kickRing
	if r == nil || !l.p.RingGate.Opened() {
		return
	}
	l.mu.Lock()
	f, off, n, ok := l.file.writeBehind()
	l.mu.Unlock()
	if !ok {
		return
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	var werr error
	// A hint: its own failure costs a longer checkpoint, nothing more.
	_ = rc.Control(func(fd uintptr) { werr = r.StartWriteback(int(fd), off, n) })
	if errors.Is(werr, uring.ErrRingBroken) {
		r.Close()
		l.kickRing = nil
		l.log.Warn("forensic log: io_uring failed, the log's write-back is left to its checkpoints", "err", werr)
	}
}

// syncAll makes everything written durable in the log file itself: a
// checkpoint with a write-ahead file, else a sync.
func (l *Log) syncAll() error {
	if ran, err := l.checkpoint(); ran {
		return err
	}
	return l.SyncRecords()
}

// Close syncs and closes the file (or the database's connections).
func (l *Log) Close() error {
	close(l.stop)
	l.wg.Wait()
	l.Flush()
	err := l.syncAll()
	for len(l.rings) > 0 {
		(<-l.rings).Close()
	}
	l.kickMu.Lock()
	if l.kickRing != nil {
		l.kickRing.Close()
		l.kickRing = nil
	}
	l.kickMu.Unlock()
	for _, w := range []*wal{l.wal, l.walDead} {
		if w != nil {
			w.f.Close()
		}
	}
	if c, ok := l.db.(interface{ Close() }); ok {
		c.Close()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file.f != nil {
		if derr := l.file.drain(); err == nil {
			err = derr // the stage keeps the bytes for the next start
		}
		l.file.release()
		if cerr := l.file.f.Close(); err == nil {
			err = cerr
		}
		l.file.f = nil
		l.log.Info("LEGAL_LOG_STORE_CLOSED", "file", l.file.name)
	}
	if l.file.stage != nil {
		l.file.stage.close()
	}
	return err
}
