package legallog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The stage holds records between their write and the log file's.
//
// Appending to a file costs the kernel most per page it caches, and the
// size of a new page is chosen by the write that first touches it. The
// log's writes, a receive batch of records each, start inside a page and
// get pages of 4 KiB: about three times the CPU per byte of writes of 64
// KiB that start on a 64 KiB boundary. A record must be in the kernel's
// hands before its reply leaves (a kill -9 then loses none), but it need
// not be in the log file yet. So it is copied into the stage, a
// preallocated file of the log's directory mapped into memory, whose pages
// are reused; the log file gets the stage's bytes in writes that end on
// 64 KiB boundaries as they fill, and the rest when the stage is full, at
// the ticker's sync (every syncInterval), right after a lease commit's
// sync, at rotation and at close, after which the stage starts over. A
// sync through the write-ahead file does not need them in the file.
// Readers of the log (tail -f, a log shipper) see a record within
// syncInterval, a lease commit's moments after its sync.
//
// At start, what the stage holds beyond its file's end is appended to the
// file, as the write-ahead file's records are; but only if the stage was
// written since the machine booted. After a power failure its pages may
// be any mix of old and new: the write-ahead file restores what was
// synced, and nothing was promised of the rest.
//
// Layout: block 0 is the header: magic, the log file offset of the
// stage's first byte, how many bytes it holds, the boot id of the machine
// that wrote it, the file name's length and the name. The bytes follow
// from block 1.
const (
	stageData  = 4 << 20
	stageSize  = walBlock + stageData
	stageAlign = 64 << 10
	stageMagic = 0x47545358 // "XSTG"

	stageOffBase    = 8
	stageOffLen     = 16
	stageOffBoot    = 24 // 36 bytes: the boot id as the kernel prints it
	stageOffNameLen = 64
	stageOffName    = 66
)

// stage is the mapped stage file. Not safe for concurrent use: the Log's
// mutex serializes it.
type stage struct {
	f    *os.File
	mem  []byte // the whole file, mapped shared
	data []byte // mem from block 1
	base int64  // the log file offset of data[0]
	n    int    // bytes held
}

// stageName is the stage of the log with parameters p, hidden from globs
// of the log files as the write-ahead file is.
func stageName(p Params) string { return filepath.Join(p.Path, "."+p.BaseName+".stage") }

// bootID is the kernel's id of this boot.
func bootID() ([]byte, error) {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return nil, err
	}
	id := []byte(strings.TrimSpace(string(b)))
	if len(id) != 36 {
		return nil, fmt.Errorf("boot id %q", id)
	}
	return id, nil
}

// openStage opens (creating it when missing or of another size) and maps
// the stage name, and returns it with what it held for its file when it
// was written in this boot (nil: nothing).
func openStage(name string) (*stage, *walRecord, error) {
	boot, err := bootID()
	if err != nil {
		return nil, nil, err
	}
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, nil, fmt.Errorf("%s: %w", name, errWALBusy)
		}
		return nil, nil, fmt.Errorf("lock %s: %w", name, err)
	}
	st, err := f.Stat()
	if err == nil && st.Size() != stageSize {
		err = fillStage(f)
	}
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("stage %s: %w", name, err)
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, stageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("map %s: %w", name, err)
	}
	s := &stage{f: f, mem: mem, data: mem[walBlock:]}
	var held *walRecord
	if err := mapped(func() {
		held = s.held(boot)
		s.setLen(0)
		copy(s.mem[stageOffBoot:stageOffBoot+36], boot)
		binary.LittleEndian.PutUint32(s.mem, stageMagic)
	}); err != nil {
		s.close()
		return nil, nil, fmt.Errorf("stage %s: %w", name, err)
	}
	return s, held, nil
}

// fillStage zero-fills f to stageSize and makes its blocks exist, so that
// the mapped writes never meet a full file system.
func fillStage(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	zero := make([]byte, 1<<20)
	for off := int64(0); off < stageSize; off += int64(len(zero)) {
		if _, err := f.WriteAt(zero[:min(len(zero), int(stageSize-off))], off); err != nil {
			return err
		}
	}
	return f.Sync()
}

// held returns what the header says the stage holds, when it was written
// in the boot boot and names a file of this log.
func (s *stage) held(boot []byte) *walRecord {
	h := s.mem[:walBlock]
	if binary.LittleEndian.Uint32(h) != stageMagic || string(h[stageOffBoot:stageOffBoot+36]) != string(boot) {
		return nil
	}
	base, n := int64(binary.LittleEndian.Uint64(h[stageOffBase:])), int64(binary.LittleEndian.Uint64(h[stageOffLen:]))
	nameLen := int(binary.LittleEndian.Uint16(h[stageOffNameLen:]))
	if n <= 0 || n > stageData || base < 0 || nameLen == 0 || stageOffName+nameLen > walBlock {
		return nil
	}
	return &walRecord{file: string(h[stageOffName : stageOffName+nameLen]), off: base, data: slices.Clone(s.data[:n])}
}

// errStageCut: the stage's mapping faulted, its file cut by another
// process (a rotation tool truncating every file of the directory).
var errStageCut = errors.New("the stage file was cut by another process")

// mapped runs f, which touches the mapping, and returns errStageCut if
// that faulted: the stage is then given up, not the process.
func mapped(f func()) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", errStageCut, r)
		}
	}()
	f()
	return nil
}

// lenWord is the header's count of bytes held: stored after the bytes
// themselves, so that a process killed between the two leaves a header
// that claims only bytes that are there.
func (s *stage) lenWord() *int64 { return (*int64)(unsafe.Pointer(&s.mem[stageOffLen])) }

func (s *stage) setLen(n int) {
	s.n = n
	atomic.StoreInt64(s.lenWord(), int64(n))
}

// start empties the stage for bytes of file from its offset base on.
func (s *stage) start(file string, base int64) error {
	return mapped(func() {
		s.setLen(0)
		s.base = base
		binary.LittleEndian.PutUint64(s.mem[stageOffBase:], uint64(base))
		name := filepath.Base(file)
		binary.LittleEndian.PutUint16(s.mem[stageOffNameLen:], uint16(copy(s.mem[stageOffName:walBlock], name)))
	})
}

// add appends b, which must fit (len(data)-n bytes).
func (s *stage) add(b []byte) error {
	return mapped(func() {
		copy(s.data[s.n:], b)
		s.setLen(s.n + len(b))
	})
}

// bytes returns the bytes held for the file offsets [from, to).
func (s *stage) bytes(from, to int64) []byte { return s.data[from-s.base : to-s.base] }

// close unmaps and closes the stage.
func (s *stage) close() {
	_ = unix.Munmap(s.mem)
	s.f.Close()
}
