package legallog

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"xdhcp/hooks"
	"xdhcp/lease"
)

// flushInterval bounds how long a record written outside a lease commit
// (a renewal answered from the fast path's cache or by lease reuse, which
// write no lease) waits for its fdatasync when no group commit comes first.
const flushInterval = time.Second

// Log is the forensic log. Its records reach the file in two ways:
//
//   - records of events that commit a lease are formatted before the commit
//     (AppendRecord, the engine's Recorder) and travel with the lease: the
//     lease store writes them with WriteRecords and syncs them with
//     SyncRecords in the same group commit, before any ACK of that batch;
//   - records of events that write no lease (cached and reused renewals),
//     and every record when response-parser-format needs the reply, are
//     written when the event is told (LeaseEvent) and synced by the next
//     group commit or within flushInterval.
//
// All methods are safe for concurrent use.
type Log struct {
	p   Params
	log *slog.Logger
	now func() time.Time

	mu    sync.Mutex
	file  rotatingFile
	dirty bool // written since the last sync
	// pending are records of cached renewals held until Flush: one write
	// per receive batch of the fast path.
	pending []byte

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
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	l := &Log{p: p, log: log, now: now, stop: make(chan struct{})}
	l.file = rotatingFile{p: p, runScript: l.runScript}
	if err := l.file.open(now(), true); err != nil {
		return nil, err
	}
	log.Info("LEGAL_LOG_STORE_OPENED", "file", l.file.name)
	l.wg.Add(1)
	go l.flusher()
	return l, nil
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
// every event that writes a lease, unless the line needs the reply.
func (l *Log) durable(e *hooks.Event) bool {
	return !e.Cached && !e.Reused && l.p.Response == nil
}

// AppendRecord implements hooks.Recorder.
func (l *Log) AppendRecord(dst []byte, e *hooks.Event) []byte {
	if !l.durable(e) {
		return dst
	}
	return l.appendEntries(dst, e)
}

// LeaseEvent implements hooks.Listener: it writes the records the engine
// could not attach to a lease commit.
func (l *Log) LeaseEvent(e *hooks.Event) {
	if l.durable(e) {
		return
	}
	b := l.appendEntries(nil, e)
	if len(b) == 0 {
		return
	}
	if e.Cached {
		l.mu.Lock()
		l.pending = append(l.pending, b...)
		l.mu.Unlock()
		return
	}
	if err := l.WriteRecords(b); err != nil {
		l.log.Error("LEGAL_LOG_LEASE4_WRITE_ERROR", "err", err)
	}
}

// Flush implements hooks.Flusher: it writes the held records of cached
// renewals (synced within flushInterval, or by the next group commit).
func (l *Log) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.pending) == 0 {
		return
	}
	err := l.writeLocked(l.pending)
	l.pending = l.pending[:0]
	if cap(l.pending) > 1<<20 {
		l.pending = nil
	}
	if err != nil {
		l.log.Error("LEGAL_LOG_LEASE4_WRITE_ERROR", "err", err)
	}
}

// appendEntries appends the lines Kea's legal log writes for e.
func (l *Log) appendEntries(dst []byte, e *hooks.Event) []byte {
	var assigned, released []lease.Lease
	switch e.Point {
	case hooks.Leases4Committed:
		assigned, released = e.Leases, e.Deleted
	case hooks.Lease4Release, hooks.Lease4Decline:
		released = e.Leases
	case hooks.LeaseCommand:
		ts := appendStrftime(nil, l.p.TimestampFormat, e.Time)
		for k := range e.Leases {
			dst = appendLines(dst, ts, AppendCommand(nil, e.Command, &e.Leases[k]))
		}
		return dst
	default:
		return dst
	}
	var q, r hooks.Packet
	hasQ := e.Query != nil && q.Parse(e.Query, e.Iface, e.Classes) == nil
	hasR := l.p.Response != nil && e.Response != nil && r.Parse(e.Response, e.Iface, e.Classes) == nil
	ts := appendStrftime(nil, l.p.TimestampFormat, e.Time)
	for i, set := range [][]lease.Lease{assigned, released} {
		for k := range set {
			var text []byte
			if l.p.Request != nil || l.p.Response != nil {
				if l.p.Request != nil && hasQ {
					text = l.p.Request.Append(text, &q)
				}
				if l.p.Response != nil && hasR {
					text = l.p.Response.Append(text, &r)
				}
			} else {
				var qp *hooks.Packet
				if hasQ {
					qp = &q
				}
				text = AppendDefault(text, &set[k], qp, i == 1)
			}
			dst = appendLines(dst, ts, text)
		}
	}
	return dst
}

// appendLines appends each line of text prefixed with the timestamp, as
// Kea writes a multi-line entry; empty text writes nothing.
func appendLines(dst, ts, text []byte) []byte {
	for len(text) > 0 {
		line := text
		rest := []byte(nil)
		for i, c := range text {
			if c == '\n' {
				line, rest = text[:i], text[i+1:]
				break
			}
		}
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
	dst = l.Addr.AppendTo(dst)
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
		dst = hooks.Addr(q.Giaddr).AppendTo(dst)
		if rai, ok := q.Option(82); ok {
			first := true
			for _, sub := range []struct {
				code byte
				name string
			}{{1, "circuit-id: "}, {2, "remote-id: "}, {6, "subscriber-id: "}} {
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
	return fmt.Appendf(dst, "%d hrs %d mins %d secs", h, m, s)
}

const hexDigits = "0123456789abcdef"

func appendHex(dst, b []byte, sep byte) []byte {
	for i, c := range b {
		if i > 0 && sep != 0 {
			dst = append(dst, sep)
		}
		dst = append(dst, hexDigits[c>>4], hexDigits[c&15])
	}
	return dst
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
	if err := l.file.rotateIfDue(l.now()); err != nil {
		l.errs.Add(1)
		return err
	}
	if _, err := l.file.f.Write(b); err != nil {
		l.errs.Add(1)
		return fmt.Errorf("write forensic log %s: %w", l.file.name, err)
	}
	l.dirty = true
	n := 0
	for _, c := range b {
		if c == '\n' {
			n++
		}
	}
	l.records.Add(uint64(n))
	return nil
}

// SyncRecords makes every record written so far durable (fdatasync).
func (l *Log) SyncRecords() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.dirty || l.file.f == nil {
		return nil
	}
	if err := fdatasync(l.file.f.Fd()); err != nil {
		l.errs.Add(1)
		return fmt.Errorf("fdatasync forensic log %s: %w", l.file.name, err)
	}
	l.dirty = false
	return nil
}

func fdatasync(fd uintptr) error {
	for {
		err := unix.Fdatasync(int(fd))
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// flusher syncs records written outside a group commit, and rotates an
// idle file on time (so postrotate runs without waiting for a lease).
func (l *Log) flusher() {
	defer l.wg.Done()
	t := time.NewTicker(flushInterval)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		l.Flush() // held by a caller that did not flush
		if err := l.SyncRecords(); err != nil {
			l.log.Error("LEGAL_LOG_LEASE4_WRITE_ERROR", "err", err)
		}
		l.mu.Lock()
		if l.file.f != nil {
			if err := l.file.rotateIfDue(l.now()); err != nil {
				l.errs.Add(1)
				l.log.Error("forensic log rotation failed", "err", err)
			}
		}
		l.mu.Unlock()
	}
}

// Close syncs and closes the file.
func (l *Log) Close() error {
	close(l.stop)
	l.wg.Wait()
	l.Flush()
	err := l.SyncRecords()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file.f != nil {
		if cerr := l.file.f.Close(); err == nil {
			err = cerr
		}
		l.file.f = nil
		l.log.Info("LEGAL_LOG_STORE_CLOSED", "file", l.file.name)
	}
	return err
}
