package legallog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The write-ahead file makes the log's records durable with one write.
//
// An fdatasync of the log costs a journal commit each time: the file grew,
// so the sync must persist its size as well as its data, and a lease
// commit that syncs the lease file beside it pays for two. Instead, a sync
// copies the bytes written to the log since the previous one into a
// preallocated, zero-filled file opened O_DIRECT|O_DSYNC: overwriting
// blocks that already exist changes no metadata, so the write is durable
// when it completes, with no journal commit. The log file itself is
// fdatasynced at a checkpoint (every flushInterval, when the write-ahead
// file is full, at rotation and at close), after which the write-ahead
// file starts over under a new epoch.
//
// At start, the records of the current epoch are copied into the log
// files that lack them: what a power failure took from the page cache.
//
// Layout: block 0 is the header (magic, CRC, epoch, size); each record
// starts on a block boundary: magic, CRC, epoch, sequence number, the
// log file offset its bytes were written at, their length, the log
// file's name, then the bytes.

const (
	walBlock     = 4096
	walSize      = 16 << 20
	walRecHeader = 40
	walMagicHead = 0x48415758 // "XWAH"
	walMagicRec  = 0x52415758 // "XWAR"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// wal is the write-ahead file. Its cursor and sequence are guarded by the
// Log's mutex; its writes run beside each other at the offsets reserved.
type wal struct {
	f     *os.File // O_DIRECT|O_DSYNC, locked (flock) for this Log alone
	epoch uint64
	next  int64  // where the next record goes (a block boundary)
	seq   uint64 // the last record's sequence number in this epoch
}

// walRecord is a record read back at start.
type walRecord struct {
	seq  uint64
	file string
	off  int64
	data []byte
}

// walName is the write-ahead file of the log with parameters p: hidden
// from globs of the log files (a shipping script's kea-legal*).
func walName(p Params) string { return filepath.Join(p.Path, "."+p.BaseName+".wal") }

// errWALBusy: another log of this process or another process holds the
// write-ahead file (two logs with the same path and base-name).
var errWALBusy = errors.New("write-ahead file in use by another forensic log")

// openWAL opens the write-ahead file name, creating and zero-filling it
// when missing or of another size, and returns it with the records of its
// current epoch, in sequence order. An error means no write-ahead file
// (a file system without O_DIRECT, such as tmpfs): the log then syncs
// with fdatasync.
func openWAL(name string) (*wal, []walRecord, error) {
	fd, err := unix.Open(name, unix.O_RDWR|unix.O_CREAT|unix.O_DIRECT|unix.O_DSYNC|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), name)
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, nil, fmt.Errorf("%s: %w", name, errWALBusy)
		}
		return nil, nil, fmt.Errorf("lock %s: %w", name, err)
	}
	w := &wal{f: f}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	var recs []walRecord
	if st.Size() == walSize {
		if recs, err = w.read(); err != nil {
			f.Close()
			return nil, nil, err
		}
	} else if err := w.create(); err != nil {
		f.Close()
		return nil, nil, err
	}
	return w, recs, nil
}

// create zero-fills the file to walSize (every block then exists, so a
// later overwrite changes no metadata) and makes it and its name durable.
func (w *wal) create() error {
	if err := w.f.Truncate(0); err != nil {
		return fmt.Errorf("truncate %s: %w", w.f.Name(), err)
	}
	// Through the page cache and one sync: a synchronous write per block
	// would take a journal commit each.
	f, err := os.OpenFile(w.f.Name(), os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	zero := make([]byte, 1<<20)
	for off := int64(0); off < walSize; off += int64(len(zero)) {
		if _, err := f.WriteAt(zero, off); err != nil {
			return fmt.Errorf("fill %s: %w", w.f.Name(), err)
		}
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", w.f.Name(), err)
	}
	return syncDir(filepath.Dir(w.f.Name()))
}

// read returns the valid records of the header's epoch, in sequence order.
// Records are read at every block boundary: one that never completed
// leaves a hole, and later ones may still hold bytes a reply was sent on
// (a sync that covered the hole's bytes let them advance).
func (w *wal) read() ([]walRecord, error) {
	buf := alignedBuf(walSize)
	if _, err := io.ReadFull(io.NewSectionReader(w.f, 0, walSize), buf); err != nil {
		return nil, fmt.Errorf("read %s: %w", w.f.Name(), err)
	}
	h := buf[:walBlock]
	if binary.LittleEndian.Uint32(h) != walMagicHead || binary.LittleEndian.Uint32(h[4:]) != crc32.Checksum(h[8:24], castagnoli) {
		return nil, nil // never started, or its first header write was torn
	}
	w.epoch = binary.LittleEndian.Uint64(h[8:])
	var recs []walRecord
	for off := walBlock; off+walRecHeader <= walSize; {
		r, n, ok := parseRecord(buf[off:], w.epoch)
		if !ok {
			off += walBlock
			continue
		}
		recs = append(recs, r)
		off += n
	}
	slices.SortFunc(recs, func(a, b walRecord) int {
		switch {
		case a.seq < b.seq:
			return -1
		case a.seq > b.seq:
			return 1
		}
		return 0
	})
	return recs, nil
}

// parseRecord parses the record at the start of b, of epoch, and returns
// it with the bytes it occupies (whole blocks).
func parseRecord(b []byte, epoch uint64) (walRecord, int, bool) {
	if binary.LittleEndian.Uint32(b) != walMagicRec || binary.LittleEndian.Uint64(b[8:]) != epoch {
		return walRecord{}, 0, false
	}
	dataLen, nameLen := int(binary.LittleEndian.Uint32(b[32:])), int(binary.LittleEndian.Uint16(b[36:]))
	end := walRecHeader + nameLen + dataLen
	if end > len(b) || binary.LittleEndian.Uint32(b[4:]) != crc32.Checksum(b[8:end], castagnoli) {
		return walRecord{}, 0, false
	}
	r := walRecord{
		seq:  binary.LittleEndian.Uint64(b[16:]),
		off:  int64(binary.LittleEndian.Uint64(b[24:])),
		file: string(b[walRecHeader : walRecHeader+nameLen]),
		data: slices.Clone(b[walRecHeader+nameLen : end]),
	}
	return r, roundBlock(end), true
}

// reset starts a new epoch: the records before it are void (their bytes
// are durable in the log files). write writes the header block.
func (w *wal) reset(write func(b []byte, off int64) error) error {
	h := alignedBuf(walBlock)
	binary.LittleEndian.PutUint32(h, walMagicHead)
	binary.LittleEndian.PutUint64(h[8:], w.epoch+1)
	binary.LittleEndian.PutUint64(h[16:], walSize)
	binary.LittleEndian.PutUint32(h[4:], crc32.Checksum(h[8:24], castagnoli))
	if err := write(h, 0); err != nil {
		return fmt.Errorf("write-ahead file %s: new epoch: %w", w.f.Name(), err)
	}
	w.epoch++
	w.next, w.seq = walBlock, 0
	return nil
}

// reserve takes room for a record of n log bytes from file name, or
// reports that the file is full (a checkpoint starts it over).
func (w *wal) reserve(name string, n int) (off int64, seq uint64, ok bool) {
	size := int64(roundBlock(walRecHeader + len(name) + n))
	if w.next+size > walSize {
		return 0, 0, false
	}
	off, w.next = w.next, w.next+size
	w.seq++
	return off, w.seq, true
}

// walChunk gathers the bytes written to a log file since the previous
// sync where the write-ahead record that carries them is made: in a
// block-aligned buffer, behind room for the record's header and the
// file's name, so that making the record copies nothing.
type walChunk struct {
	buf  []byte // buf[:room] is the room, buf[room:] the bytes; nil: empty
	room int
	name string
}

// minChunk is the smallest buffer a chunk starts with.
const minChunk = 16 * walBlock

// size is how many log bytes c holds.
func (c *walChunk) size() int { return len(c.buf) - c.room }

// data returns the log bytes c holds.
func (c *walChunk) data() []byte { return c.buf[c.room:] }

// add appends b, written to the file named name. An empty chunk starts
// in spare when it is large enough (spare may be nil).
func (c *walChunk) add(b []byte, name string, spare []byte) {
	if c.buf == nil {
		c.start(name, spare, len(b))
	}
	if len(c.buf)+len(b) > cap(c.buf) {
		grown := alignedBuf(roundBlock(max(2*cap(c.buf), len(c.buf)+len(b))))
		c.buf = grown[:copy(grown, c.buf)]
	}
	c.buf = append(c.buf, b...)
}

// start makes c an empty chunk of the file named name, for n bytes at
// least, in spare when it is large enough.
func (c *walChunk) start(name string, spare []byte, n int) {
	c.name, c.room = name, walRecHeader+len(name)
	if need := c.room + n; cap(spare) >= need {
		c.buf = spare[:c.room]
	} else {
		c.buf = alignedBuf(roundBlock(max(minChunk, need)))[:c.room]
	}
}

// take empties c and returns its buffer (nil if it had none).
func (c *walChunk) take() []byte {
	b := c.buf
	*c = walChunk{}
	return b
}

// seal makes c's buffer the record (seq, c's bytes at offset fileOff of
// its file) and returns the blocks to write: the header and name go in
// the room before the bytes, zeros after them to the block's end (a
// chunk's capacity is whole blocks).
func (w *wal) seal(c *walChunk, epoch, seq uint64, fileOff int64) []byte {
	end := len(c.buf)
	buf := c.buf[:roundBlock(end)]
	binary.LittleEndian.PutUint32(buf, walMagicRec)
	binary.LittleEndian.PutUint64(buf[8:], epoch)
	binary.LittleEndian.PutUint64(buf[16:], seq)
	binary.LittleEndian.PutUint64(buf[24:], uint64(fileOff))
	binary.LittleEndian.PutUint32(buf[32:], uint32(end-c.room))
	binary.LittleEndian.PutUint16(buf[36:], uint16(len(c.name)))
	binary.LittleEndian.PutUint16(buf[38:], 0)
	copy(buf[walRecHeader:], c.name)
	clear(buf[end:])
	binary.LittleEndian.PutUint32(buf[4:], crc32.Checksum(buf[8:end], castagnoli))
	return buf
}

func roundBlock(n int) int { return (n + walBlock - 1) / walBlock * walBlock }

// alignedBuf returns n zero bytes starting on a block boundary, as
// O_DIRECT wants (Go's heap does not move objects).
func alignedBuf(n int) []byte {
	raw := make([]byte, n+walBlock)
	skip := (walBlock - int(uintptr(unsafe.Pointer(&raw[0]))%walBlock)) % walBlock
	return raw[skip : skip+n : skip+n]
}

// replayWAL copies the records recs into the log files in dir that lack
// them, and makes those files durable. It never overwrites a byte: a
// record whose place holds other bytes (the file was changed since) is
// appended instead, and a file that is gone (rotated away, shipped) is
// left alone. It returns how many records it copied.
func replayWAL(dir string, recs []walRecord) (int, error) {
	type target struct {
		f     *os.File
		shift int64 // how far this file's records moved (appended earlier than their offset)
	}
	files := map[string]*target{}
	defer func() {
		for _, t := range files {
			if t.f != nil {
				t.f.Close()
			}
		}
	}()
	copied := 0
	for _, r := range recs {
		if r.file == "" || strings.ContainsAny(r.file, "/\x00") || r.file[0] == '.' {
			continue // not a name this log writes
		}
		t, ok := files[r.file]
		if !ok {
			t = &target{}
			files[r.file] = t
			f, err := os.OpenFile(filepath.Join(dir, r.file), os.O_RDWR, 0)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				return copied, fmt.Errorf("forensic log recovery: %w", err)
			}
			t.f = f
		}
		if t.f == nil {
			continue
		}
		st, err := t.f.Stat()
		if err != nil {
			return copied, fmt.Errorf("forensic log recovery: %w", err)
		}
		size, off, n := st.Size(), r.off+t.shift, int64(len(r.data))
		have := max(min(size-off, n), 0)
		if have > 0 {
			cur := make([]byte, have)
			if _, err := t.f.ReadAt(cur, off); err != nil {
				return copied, fmt.Errorf("forensic log recovery: read %s: %w", t.f.Name(), err)
			}
			if string(cur) != string(r.data[:have]) {
				have = 0 // other bytes there: append the whole record
			}
		}
		if have == n {
			continue
		}
		rest := r.data[have:]
		if have == 0 {
			t.shift += size - off // this record, and the file's later ones, go at the end
		}
		if _, err := t.f.WriteAt(rest, size); err != nil {
			return copied, fmt.Errorf("forensic log recovery: write %s: %w", t.f.Name(), err)
		}
		copied++
	}
	for _, t := range files {
		if t.f != nil {
			if err := t.f.Sync(); err != nil {
				return copied, fmt.Errorf("forensic log recovery: sync %s: %w", t.f.Name(), err)
			}
		}
	}
	return copied, nil
}

// syncDir makes a file's creation in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
