package legallog

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"xdhcp/internal/uring"
)

// The database output (Kea's "type": "mysql" or "postgresql").
//
// Each record is a row of Kea's logs table: the lease's address, and the
// entry's text without the timestamp (the table's timestamp column is the
// database's time of the insert). The records go through the same group
// commit as the file's: a sync inserts every record written since the
// previous one in one transaction, and a record is durable once that
// transaction has committed. So the lease store's group commit waits for
// its records' transaction as it waits for the file's write-ahead record,
// and a cached renewal's reply for the transaction of its batch.
//
// In memory an entry is framed rather than a line: the address's length
// (2 bytes) and text, the text's length (4 bytes) and text. The engine and
// the lease store pass the bytes through unread, as they pass lines.

// RowWriter writes forensic records to Kea's logs table: one transaction
// for the rows of a call, addrs[i] beside texts[i].
type RowWriter interface {
	WriteLogs(ctx context.Context, addrs, texts []string) error
}

// dbWriteTimeout bounds one sync's transaction.
const dbWriteTimeout = 10 * time.Second

// dbRowsLimit bounds the rows kept for the next sync while the database
// fails; past it the oldest are dropped, counted as write errors.
const dbRowsLimit = 1 << 20

// dbRows are the rows written and not yet committed (under Log.mu).
type dbRows struct {
	addrs, texts []string
}

// OpenDB opens a forensic log whose records are rows written through w.
// Only one sync runs at a time: a later transaction that commits first
// must not mark an earlier one's records durable.
func OpenDB(p Params, w RowWriter, log *slog.Logger, now func() time.Time) (*Log, error) {
	if w == nil {
		return nil, errors.New("forensic log: no database")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	l := &Log{p: p, log: log, now: now, stop: make(chan struct{}), subSecond: strings.Contains(p.TimestampFormat, "%Q"), db: w,
		syncReq: make(chan struct{}, 1), syncDone: make(chan struct{}), syncSlots: make(chan struct{}, 1)}
	l.walCond = sync.NewCond(&l.mu)
	l.rings = make(chan *uring.SyncRing)
	log.Info("LEGAL_LOG_STORE_OPENED", "database", p.Type)
	l.wg.Add(2)
	go l.ticker()
	go l.syncer()
	return l, nil
}

// OpenDB6 is OpenDB for the DHCPv6 service.
func OpenDB6(p Params6, w RowWriter, log *slog.Logger, now func() time.Time) (*Log6, error) {
	l, err := OpenDB(p.Params, w, log, now)
	if err != nil {
		return nil, err
	}
	return &Log6{Log: l, req: p.Request6, resp: p.Response6}, nil
}

// beginEntry starts an entry at t for address addr: the timestamp of a
// line, or the frame of a row. The text goes from the returned text on;
// finishEntry ends it.
func (l *Log) beginEntry(dst []byte, t time.Time, addr netip.Addr) (_ []byte, start, text int) {
	start = len(dst)
	if l.db == nil {
		dst = l.appendStamp(dst, t)
		return dst, start, len(dst)
	}
	dst = append(dst, 0, 0)
	dst = addr.AppendTo(dst)
	binary.BigEndian.PutUint16(dst[start:], uint16(len(dst)-start-2))
	dst = append(dst, 0, 0, 0, 0)
	return dst, start, len(dst)
}

// finishEntry ends the entry begun at start (see beginEntry); an entry of
// no text is removed.
func (l *Log) finishEntry(dst []byte, start, text int) []byte {
	if l.db == nil {
		return endEntry(dst, start, text)
	}
	if len(dst) == text {
		return dst[:start]
	}
	binary.BigEndian.PutUint32(dst[text-4:], uint32(len(dst)-text))
	return dst
}

// writeRowsLocked takes the framed entries of b as rows for the next sync.
func (l *Log) writeRowsLocked(b []byte) error {
	n := 0
	for len(b) > 0 {
		if len(b) < 2 {
			return errBadFrame
		}
		an := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+an+4 {
			return errBadFrame
		}
		addr := string(b[2 : 2+an])
		b = b[2+an:]
		tn := int(binary.BigEndian.Uint32(b))
		if len(b) < 4+tn {
			return errBadFrame
		}
		l.rows.addrs = append(l.rows.addrs, addr)
		l.rows.texts = append(l.rows.texts, string(b[4:4+tn]))
		b = b[4+tn:]
		n++
	}
	if over := len(l.rows.addrs) - dbRowsLimit; over > 0 {
		l.rows.addrs = l.rows.addrs[over:]
		l.rows.texts = l.rows.texts[over:]
		l.errs.Add(uint64(over))
		l.log.Error("LEGAL_LOG_LEASE4_WRITE_ERROR", "err", fmt.Errorf("database unavailable: %d forensic records dropped", over))
	}
	l.records.Add(uint64(n))
	return nil
}

var errBadFrame = errors.New("forensic log: malformed database record")

// syncDB is sync with the database output: the rows written so far in
// one transaction. On an error they stay, ahead of later ones, for the
// next sync.
func (l *Log) syncDB(requested bool) error {
	l.syncSlots <- struct{}{}
	defer func() { <-l.syncSlots }()
	l.mu.Lock()
	werr := l.writeFlushedLocked()
	target := l.written
	if l.pendingFrom != 0 {
		target = l.pendingFrom - 1
	}
	if target <= l.synced.Load() || (requested && target <= l.started) {
		l.mu.Unlock()
		return werr
	}
	l.started = max(l.started, target)
	l.unsynced = 0
	rows := l.rows
	l.rows = dbRows{}
	l.mu.Unlock()
	if len(rows.addrs) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), dbWriteTimeout)
		err := l.db.WriteLogs(ctx, rows.addrs, rows.texts)
		cancel()
		if err != nil {
			l.errs.Add(1)
			l.mu.Lock()
			l.rows.addrs = append(rows.addrs, l.rows.addrs...)
			l.rows.texts = append(rows.texts, l.rows.texts...)
			l.started = min(l.started, l.synced.Load())
			l.mu.Unlock()
			return errors.Join(werr, fmt.Errorf("write forensic records to the %s database: %w", l.p.Type, err))
		}
	}
	l.advance(target)
	return werr
}
