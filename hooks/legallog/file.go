package legallog

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// rotatingFile is the current forensic log file, named and rotated as Kea
// names and rotates it: <path>/<base-name>.<YYYYMMDD>.txt, or with the
// "second" unit <base-name>.T<unix time, 20 digits>.txt; a new file when
// count units have passed since the current one's date. It is not safe
// for concurrent use (Log serializes it).
type rotatingFile struct {
	p    Params
	f    *os.File
	name string
	size int64 // of the current file: where the next write lands
	// stage holds the bytes from written to size (nil: none, every write
	// goes to the file at once); see stage.go.
	stage   *stage
	written int64
	// refused: the file refused the stage's last write. Until a drain
	// gets through, write takes no bytes, so that the records' replies
	// wait as they do when the file is written at once.
	refused bool
	// reserved is how far the current file's blocks are allocated ahead
	// of size (see reserve); noReserve is set once that failed for it.
	reserved  int64
	noReserve bool
	// dropped is how far the current file's pages have been dropped from
	// the page cache (see dropBehind).
	dropped int64
	// kicked is how far the current file's write-back has been started
	// (see writeBehind).
	kicked int64
	opened time.Time // the date the current file stands for
	// restore returns the bytes of file name from offset from to to,
	// from the Log's write-ahead file (nil: it cannot), for dropStage;
	// cutLost is set once a cut stage took bytes it could not restore.
	restore func(name string, from, to int64) []byte
	cutLost bool
	// runScript starts a pre/post-rotate script without waiting for it.
	runScript func(script, file string)
}

// nameFor returns the file name for the period starting at t.
func (r *rotatingFile) nameFor(t time.Time) string {
	var tag string
	if r.p.Unit == Second {
		tag = fmt.Sprintf("T%020d", t.Unix())
	} else {
		tag = t.Format("20060102")
	}
	return filepath.Join(r.p.Path, r.p.BaseName+"."+tag+".txt")
}

// periodEnd is when the file opened for t must be rotated.
func (r *rotatingFile) periodEnd(t time.Time) time.Time {
	c := int(r.p.Count)
	switch r.p.Unit {
	case Second:
		return t.Add(time.Duration(c) * time.Second)
	case Month:
		d := dateOf(t)
		return d.AddDate(0, c, 0)
	case Year:
		d := dateOf(t)
		return d.AddDate(c, 0, 0)
	}
	return dateOf(t).AddDate(0, 0, c)
}

func dateOf(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, t.Location())
}

// existing returns the newest file of this base name in the directory
// whose period still covers now, as Kea reuses it after a restart.
func (r *rotatingFile) existing(now time.Time) (time.Time, bool) {
	ents, err := os.ReadDir(r.p.Path)
	if err != nil {
		return time.Time{}, false
	}
	var tags []string
	for _, e := range ents {
		tag, ok := strings.CutPrefix(e.Name(), r.p.BaseName+".")
		if !ok {
			continue
		}
		tag, ok = strings.CutSuffix(tag, ".txt")
		if !ok {
			continue
		}
		if r.p.Unit == Second {
			if len(tag) == 21 && tag[0] == 'T' && allDigits(tag[1:]) {
				tags = append(tags, tag)
			}
		} else if len(tag) == 8 && allDigits(tag) {
			tags = append(tags, tag)
		}
	}
	if len(tags) == 0 {
		return time.Time{}, false
	}
	sort.Strings(tags)
	tag := tags[len(tags)-1]
	var t time.Time
	if r.p.Unit == Second {
		sec, err := strconv.ParseInt(tag[1:], 10, 64)
		if err != nil {
			return time.Time{}, false
		}
		t = time.Unix(sec, 0).In(now.Location())
	} else {
		t, err = time.ParseInLocation("20060102", tag, now.Location())
		if err != nil {
			return time.Time{}, false
		}
	}
	if !now.Before(r.periodEnd(t)) {
		return time.Time{}, false
	}
	return t, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// open opens the file for now, reusing a current one if useExisting.
func (r *rotatingFile) open(now time.Time, useExisting bool) error {
	start := now
	if r.p.Unit != Second {
		start = dateOf(now)
	} else {
		start = now.Truncate(time.Second)
	}
	if useExisting {
		if t, ok := r.existing(now); ok {
			start = t
		}
	}
	name := r.nameFor(start)
	f, err := os.OpenFile(name, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("open forensic log %s: %w", name, err)
	}
	st, err := f.Stat()
	if err == nil && st.Size() == 0 {
		// Possibly created now: its name must survive a power failure
		// as its records do.
		err = syncDir(filepath.Dir(name))
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("open forensic log %s: %w", name, err)
	}
	r.f, r.name, r.opened, r.size, r.written = f, name, start, st.Size(), st.Size()
	r.reserved, r.noReserve, r.dropped, r.kicked, r.refused = 0, false, 0, 0, false
	if r.stage != nil {
		if err := r.stage.start(name, r.size); err != nil {
			r.dropStage()
		}
	}
	return nil
}

// dropStage gives the stage up after its mapping faulted (its file cut
// by another process): from then on every write goes to the file at once.
// What it held for the file is written to the file from the Log's
// write-ahead file, which holds every byte since its last checkpoint;
// where it cannot be, it is lost (cutLost), and said so.
func (r *rotatingFile) dropStage() error {
	from, to := r.written, r.size
	r.stage.close()
	r.stage = nil
	r.size, r.refused = r.written, false
	if from == to {
		return fmt.Errorf("forensic log stage of %s: %w; it held no record, records go to the file at once from now on", r.name, errStageCut)
	}
	var werr error
	if b := r.restoreBytes(from, to); b != nil {
		n, err := writeRaw(r.f, b)
		r.size += int64(n)
		r.written = r.size
		if err == nil {
			return fmt.Errorf("forensic log stage of %s: %w; the %d bytes of records it held were restored from the write-ahead file, records go to the file at once from now on",
				r.name, errStageCut, n)
		}
		werr = err
	}
	r.cutLost = true
	return fmt.Errorf("forensic log stage of %s: %w; %d bytes of records it held are lost (%v), records go to the file at once from now on",
		r.name, errStageCut, to-r.written, cmp.Or[error](werr, errors.New("not in the write-ahead file")))
}

// restoreBytes asks restore for the file's bytes from from to to.
func (r *rotatingFile) restoreBytes(from, to int64) []byte {
	if r.restore == nil || r.f == nil {
		return nil
	}
	return r.restore(filepath.Base(r.name), from, to)
}

// write appends b to the file: to the stage, from which the whole 64 KiB
// pieces it completes go to the file now, or with no stage (or b too big
// for it) to the file at once. It returns how many of b's bytes it took;
// with all of them, an error is the file's refusal of staged bytes, which
// stay staged for the next drain.
//
// A stage whose mapping faults is given up (dropStage): cut is then that
// error, and b goes to the file at once.
func (r *rotatingFile) write(b []byte) (n int, cut, err error) {
	if r.stage != nil && len(b) <= len(r.stage.data) && (r.refused || r.stage.n+len(b) > len(r.stage.data)) {
		if err := r.drain(); errors.Is(err, errStageCut) {
			cut = err
		} else if err != nil {
			return 0, nil, err
		}
	}
	if r.stage != nil && len(b) <= len(r.stage.data) {
		if err := r.stage.add(b); err != nil {
			cut = r.dropStage()
		} else {
			r.size += int64(len(b))
			end := r.size &^ (stageAlign - 1)
			if end <= r.written {
				return len(b), nil, nil
			}
			err := r.writeStaged(end)
			if !errors.Is(err, errStageCut) {
				return len(b), nil, err
			}
			cut = err // b went with the stage: to the file below
		}
	}
	if err := r.drain(); err != nil {
		return 0, cut, err
	}
	n, err = writeRaw(r.f, b)
	r.size += int64(n)
	r.written = r.size
	if r.stage != nil {
		if serr := r.stage.start(r.name, r.size); serr != nil {
			cut = r.dropStage()
		}
	}
	return n, cut, err
}

// writeStaged writes the staged bytes up to file offset to.
func (r *rotatingFile) writeStaged(to int64) error {
	n, err := writeRaw(r.f, r.stage.bytes(r.written, to))
	r.written += int64(n)
	if errors.Is(err, unix.EFAULT) {
		return r.dropStage() // the kernel could not read the mapping
	}
	r.refused = err != nil
	if err != nil {
		return fmt.Errorf("write forensic log %s: %w", r.name, err)
	}
	return nil
}

// drain writes every staged byte to the file and empties the stage.
func (r *rotatingFile) drain() error {
	if r.stage == nil || r.f == nil {
		return nil
	}
	if r.written < r.size {
		if err := r.writeStaged(r.size); err != nil {
			return err
		}
	}
	if r.stage.n > 0 {
		if err := r.stage.start(r.name, r.size); err != nil {
			return r.dropStage()
		}
	}
	return nil
}

// reserveAhead is how much of the file reserve allocates at a time.
const reserveAhead = 16 << 20

// reserve allocates the file's blocks ahead of a write of n bytes, a
// reserveAhead at a time, without changing its size (fallocate with
// FALLOC_FL_KEEP_SIZE): a write into blocks already allocated costs the
// file system about a third less than one that allocates as it appends.
// Once that fails (a file system that cannot, a full one: the writes
// report that) the file is left to allocate as it goes. A file left open
// by a crash keeps its reserve until it is opened again and closed.
func (r *rotatingFile) reserve(n int) {
	if r.noReserve || r.size+int64(n) <= r.reserved {
		return
	}
	from := max(r.size, r.reserved)
	err := unix.Fallocate(int(r.f.Fd()), unix.FALLOC_FL_KEEP_SIZE, from, r.size+int64(n)+reserveAhead-from)
	if err != nil {
		r.noReserve = true
		return
	}
	r.reserved = r.size + int64(n) + reserveAhead
}

// cacheBehind is how much of the file's end dropBehind leaves in the page
// cache, for readers that follow the file (tail -f, a log shipper), and
// dropStep the least it drops at once.
const (
	cacheBehind = 64 << 20
	dropStep    = 4 << 20
)

// dropBehind returns the part of the file, of its first durable bytes,
// whose pages should now leave the page cache, and marks it dropped; ok is
// false when there is none. The log is only appended to and read back
// rarely, so its pages would otherwise fill the cache with what nobody
// reads, pushing out what is, and every new page would come from memory
// not touched for long, which on a virtual machine whose host takes free
// memory back costs far more to fill than a recycled page. Dropping clean
// pages loses nothing; the caller makes the system call (dropPages)
// outside the log's lock.
func (r *rotatingFile) dropBehind(durable int64) (f *os.File, from, n int64, ok bool) {
	to := durable - cacheBehind
	if r.f == nil || to-r.dropped < dropStep {
		return nil, 0, 0, false
	}
	from, r.dropped = r.dropped, to
	return r.f, from, to - from, true
}

// kickStep is the least writeBehind starts the write-back of at once, and
// kickMost the most (a ring request's length is 32 bits).
const (
	kickStep = 1 << 20
	kickMost = 1 << 30
)

// writeBehind returns the part of the file whose write-back should start
// now, and marks it started; ok is false when there is none. Left to the
// checkpoint's fdatasync, a second of records is written back in one go,
// and a lease commit syncing the lease file meanwhile waits behind it:
// the slow path's queue overflows for those tens of milliseconds. Started
// as the records come, the write-back is spread out, and the checkpoint
// finds little left to write. It stops short of the last partial 64 KiB,
// which later writes still fill: a page under write-back may hold up a
// write into it. The caller starts it (Log.startWriteback) outside the
// log's lock.
func (r *rotatingFile) writeBehind() (f *os.File, from int64, n uint32, ok bool) {
	to := min(r.written&^(stageAlign-1), r.kicked+kickMost)
	if r.f == nil || to-r.kicked < kickStep {
		return nil, 0, 0, false
	}
	from, r.kicked = r.kicked, to
	return r.f, from, uint32(to - from), true
}

// dropPages drops the page cache's clean pages of f from off, n bytes
// (fadvise DONTNEED): a hint, whose failure (a file closed meanwhile by a
// rotation) costs nothing but the cache.
func dropPages(f *os.File, off, n int64) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) { _ = unix.Fadvise(int(fd), off, n, unix.FADV_DONTNEED) })
}

// release frees the blocks reserved past the file's end, before it is
// closed: a closed file keeps only what it holds. A truncation to the
// size the file has does that (a hole punched past the end does not), and
// cannot cut a record whatever size thinks.
func (r *rotatingFile) release() {
	if r.reserved > 0 {
		if st, err := r.f.Stat(); err == nil {
			_ = r.f.Truncate(st.Size())
		}
	}
	r.reserved = 0
}

// rotateIfDue opens the file for now, or moves to a new one when the
// current one's period has passed, running the pre/post-rotate scripts
// with the closed and the new file's names. It returns an error only when
// no file is open afterwards; a failing close is part of it too.
func (r *rotatingFile) rotateIfDue(now time.Time) error {
	if r.f == nil {
		return r.open(now, true)
	}
	if r.p.Count == 0 || now.Before(r.periodEnd(r.opened)) {
		return nil
	}
	if err := r.drain(); err != nil {
		return err // the current file stays, with its bytes staged
	}
	old := r.name
	r.release()
	err := r.f.Sync()
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	r.f = nil
	if err != nil {
		return fmt.Errorf("close forensic log %s: %w", old, err)
	}
	if r.p.Prerotate != "" {
		r.runScript(r.p.Prerotate, old)
	}
	if err := r.open(now, false); err != nil {
		return err
	}
	if r.p.Postrotate != "" {
		r.runScript(r.p.Postrotate, r.name)
	}
	return nil
}

// startScript runs script with the file name as its one argument, in the
// background (as Kea does): its exit is only logged.
func startScript(script, file string, done func(script, file string, err error)) {
	cmd := exec.Command(script, file)
	if err := cmd.Start(); err != nil {
		done(script, file, err)
		return
	}
	go func() { done(script, file, cmd.Wait()) }()
}
