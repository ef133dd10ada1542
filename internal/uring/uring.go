// Package uring makes fdatasync(2), writes that are syncs themselves
// (O_DIRECT|O_DSYNC) and the start of a file's write-back
// (sync_file_range(2)) asynchronous for the Go runtime: each is an io_uring
// request the kernel carries out while the calling goroutine waits in the
// runtime's poller.
package uring

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// SyncRing makes fdatasync asynchronous for the Go runtime: the sync is
// an io_uring request that the kernel's io-wq worker (a thread of this
// process, so its CPU time is still the server's) carries out, and the
// writer goroutine parks in Go's network poller on an eventfd until the
// completion arrives.
//
// A blocking fdatasync(2) from a goroutine costs more than the sync on a
// server confined to one core: every such system call wakes the runtime's
// monitor thread, which then polls every 20 µs while the daemon is busy,
// and takes the P from the blocked thread to hand it to another one —
// thread switches on the very core that serves the packets. Through the
// ring nothing enters a blocking system call: submitting and reaping are
// non-blocking calls and shared-memory reads.
//
// One ring serves one file, and only the journal's writer goroutine uses
// it (one request in flight at a time).
type SyncRing struct {
	fd     int
	ring   []byte // the submission and completion rings (one mapping)
	sqes   []byte
	ev     *os.File // the eventfd the kernel signals on each completion
	evConn syscall.RawConn
	// evRead reads the eventfd into evBuf (evErr: its error), made once
	// so that a wait allocates nothing.
	evRead func(fd uintptr) bool
	evBuf  [8]byte
	evErr  error

	sqHead, sqTail, sqMask *uint32
	sqArray                unsafe.Pointer
	cqHead, cqTail, cqMask *uint32
	cqes                   unsafe.Pointer
}

// io_uring ABI (include/uapi/linux/io_uring.h).
const (
	ioringOffSQRing       = 0
	ioringOffSQEs         = 0x10000000
	ioringFeatSingleMmap  = 1 << 0
	ioringOpFsync         = 3
	ioringOpSyncFileRange = 8
	ioringOpWrite         = 23
	ioringFsyncDatasync   = 1 << 0
	ioringRegisterEventfd = 4
	sqeSize               = 64
	cqeSize               = 16
	ringEntries           = 4
)

// uringParams is struct io_uring_params.
type uringParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFD uint32

	resv  [3]uint32
	sqOff sqRingOffsets
	cqOff cqRingOffsets
}

// sqRingOffsets is struct io_sqring_offsets.
type sqRingOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

// cqRingOffsets is struct io_cqring_offsets.
type cqRingOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

// NewSyncRing sets up a ring, or returns an error when the kernel has no
// usable io_uring (too old, disabled by sysctl, or refused by a seccomp
// profile); the caller then syncs with fdatasync(2).
func NewSyncRing() (_ *SyncRing, err error) {
	var p uringParams
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, ringEntries, uintptr(unsafe.Pointer(&p)), 0)
	if errno != 0 {
		return nil, fmt.Errorf("io_uring_setup: %w", errno)
	}
	r := &SyncRing{fd: int(fd)}
	defer func() {
		if err != nil {
			r.Close()
		}
	}()
	if p.features&ioringFeatSingleMmap == 0 {
		return nil, errors.New("io_uring: kernel without single-mapping rings")
	}
	size := max(p.sqOff.array+p.sqEntries*4, p.cqOff.cqes+p.cqEntries*cqeSize)
	if r.ring, err = unix.Mmap(r.fd, ioringOffSQRing, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		return nil, fmt.Errorf("io_uring: map rings: %w", err)
	}
	if r.sqes, err = unix.Mmap(r.fd, ioringOffSQEs, int(p.sqEntries*sqeSize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		return nil, fmt.Errorf("io_uring: map submission entries: %w", err)
	}
	at := func(off uint32) unsafe.Pointer { return unsafe.Pointer(&r.ring[off]) }
	r.sqHead, r.sqTail, r.sqMask = (*uint32)(at(p.sqOff.head)), (*uint32)(at(p.sqOff.tail)), (*uint32)(at(p.sqOff.ringMask))
	r.sqArray = at(p.sqOff.array)
	r.cqHead, r.cqTail, r.cqMask = (*uint32)(at(p.cqOff.head)), (*uint32)(at(p.cqOff.tail)), (*uint32)(at(p.cqOff.ringMask))
	r.cqes = at(p.cqOff.cqes)

	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("io_uring: eventfd: %w", err)
	}
	// Non-blocking, so os.NewFile puts it in the runtime's poller.
	r.ev = os.NewFile(uintptr(efd), "io_uring-eventfd")
	if r.evConn, err = r.ev.SyscallConn(); err != nil {
		return nil, fmt.Errorf("io_uring: eventfd: %w", err)
	}
	e32 := int32(efd)
	if _, _, errno := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(r.fd), ioringRegisterEventfd,
		uintptr(unsafe.Pointer(&e32)), 1, 0, 0); errno != 0 {
		return nil, fmt.Errorf("io_uring: register eventfd: %w", errno)
	}
	return r, nil
}

// ErrRingBroken is a failure of the ring itself (not of the sync): the
// caller syncs with fdatasync(2) from then on.
var ErrRingBroken = errors.New("io_uring: ring unusable")

// Fdatasync syncs file descriptor fd through the ring and waits, parked
// in the runtime's poller, for the outcome: the sync's own error (an
// Errno), or an error wrapping ErrRingBroken.
func (r *SyncRing) Fdatasync(fd int) error {
	_, err := r.do(fillFdatasync(fd))
	return err
}

// fillFdatasync describes the fdatasync of fd.
func fillFdatasync(fd int) func(sqe []byte) {
	return func(sqe []byte) {
		sqe[0] = ioringOpFsync
		*(*int32)(unsafe.Pointer(&sqe[4])) = int32(fd)
		*(*uint32)(unsafe.Pointer(&sqe[28])) = ioringFsyncDatasync
	}
}

// Pwrite writes b at offset off of file descriptor fd through the ring
// (the file is typically opened O_DIRECT|O_DSYNC, so the write is the
// sync) and waits as Fdatasync does. A short write is an error.
func (r *SyncRing) Pwrite(fd int, b []byte, off int64) error {
	if len(b) == 0 {
		return nil
	}
	n, err := r.do(func(sqe []byte) {
		sqe[0] = ioringOpWrite
		*(*int32)(unsafe.Pointer(&sqe[4])) = int32(fd)
		*(*uint64)(unsafe.Pointer(&sqe[8])) = uint64(off)
		*(*uint64)(unsafe.Pointer(&sqe[16])) = uint64(uintptr(unsafe.Pointer(&b[0])))
		*(*uint32)(unsafe.Pointer(&sqe[24])) = uint32(len(b))
	})
	runtime.KeepAlive(b)
	if err == nil && int(n) != len(b) {
		err = fmt.Errorf("io_uring write: %d of %d bytes written", n, len(b))
	}
	return err
}

// StartWriteback starts the write-back of the dirty pages of n bytes of
// file descriptor fd from off (sync_file_range(2) with
// SYNC_FILE_RANGE_WRITE: the pages are handed to the disk, not waited
// for) through the ring, and waits as Fdatasync does for the hand-off.
func (r *SyncRing) StartWriteback(fd int, off int64, n uint32) error {
	_, err := r.do(func(sqe []byte) {
		sqe[0] = ioringOpSyncFileRange
		*(*int32)(unsafe.Pointer(&sqe[4])) = int32(fd)
		*(*uint64)(unsafe.Pointer(&sqe[8])) = uint64(off)
		*(*uint32)(unsafe.Pointer(&sqe[24])) = n
		*(*uint32)(unsafe.Pointer(&sqe[28])) = unix.SYNC_FILE_RANGE_WRITE
	})
	return err
}

// StartFdatasync submits the fdatasync of file descriptor fd and returns
// without waiting: Wait reaps its outcome. The caller does other work
// meanwhile (its own wait for another request, on another ring), and
// makes no other request on r before Wait. An error wraps ErrRingBroken:
// nothing was submitted.
func (r *SyncRing) StartFdatasync(fd int) error {
	return r.submit(fillFdatasync(fd))
}

// Wait waits, as Fdatasync does, for the outcome of the request
// StartFdatasync submitted: the sync's own error (an Errno), or an error
// wrapping ErrRingBroken.
func (r *SyncRing) Wait() error {
	_, err := r.wait()
	return err
}

// do submits the one request fill describes and waits for its result:
// the request's own error (an Errno), or an error wrapping ErrRingBroken.
func (r *SyncRing) do(fill func(sqe []byte)) (int32, error) {
	if err := r.submit(fill); err != nil {
		return 0, err
	}
	return r.wait()
}

// submit queues the one request fill describes and hands it to the
// kernel.
func (r *SyncRing) submit(fill func(sqe []byte)) error {
	tail := atomic.LoadUint32(r.sqTail)
	if tail-atomic.LoadUint32(r.sqHead) > *r.sqMask {
		return fmt.Errorf("%w: submission queue full", ErrRingBroken)
	}
	idx := tail & *r.sqMask
	sqe := r.sqes[idx*sqeSize : (idx+1)*sqeSize]
	clear(sqe)
	fill(sqe)
	*(*uint64)(unsafe.Pointer(&sqe[32])) = uint64(tail)
	*(*uint32)(unsafe.Add(r.sqArray, 4*idx)) = idx
	atomic.StoreUint32(r.sqTail, tail+1)
	for {
		// A raw call: submitting only queues the request (for io-wq, or
		// the block layer).
		n, _, errno := unix.RawSyscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), 1, 0, 0, 0, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 || n != 1 {
			// Withdraw the entry: the kernel did not take it.
			atomic.StoreUint32(r.sqTail, tail)
			return fmt.Errorf("%w: io_uring_enter: %d submitted, %v", ErrRingBroken, n, errno)
		}
		return nil
	}
}

// wait reaps the completion of the request in flight, waiting for it.
func (r *SyncRing) wait() (int32, error) {
	for {
		if res, ok := r.reap(); ok {
			if res < 0 {
				return 0, unix.Errno(-res)
			}
			return res, nil
		}
		// While other goroutines have work, look for the completion
		// between their turns: the runtime polls the eventfd only when
		// it has nothing else to run (or every 10 ms), and a sync noticed
		// late holds every reply of its batch (and, with HA, the lease
		// updates behind them). When yielding finds nothing else to run,
		// wait in the poller.
		t := time.Now()
		runtime.Gosched()
		if time.Since(t) > yieldedToOthers {
			continue
		}
		if err := r.waitEvent(); err != nil {
			return 0, fmt.Errorf("%w: %v", ErrRingBroken, err)
		}
	}
}

// yieldedToOthers is how long a Gosched must take to show that other
// goroutines ran meanwhile.
const yieldedToOthers = 5 * time.Microsecond

// reap takes the next completion, if one is there.
func (r *SyncRing) reap() (res int32, ok bool) {
	head := atomic.LoadUint32(r.cqHead)
	if head == atomic.LoadUint32(r.cqTail) {
		return 0, false
	}
	cqe := unsafe.Add(r.cqes, cqeSize*(head&*r.cqMask))
	res = *(*int32)(unsafe.Add(cqe, 8))
	atomic.StoreUint32(r.cqHead, head+1)
	return res, true
}

// waitEvent returns once the eventfd has been signalled since it was last
// read, parking the goroutine in the poller meanwhile. The kernel signals
// it after posting a completion, so a completion reap missed is never
// waited for in vain.
func (r *SyncRing) waitEvent() error {
	if r.evRead == nil {
		r.evRead = func(fd uintptr) bool {
			_, _, errno := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&r.evBuf[0])), 8)
			switch errno {
			case unix.EAGAIN:
				return false
			case 0, unix.EINTR:
			default:
				r.evErr = errno
			}
			return true
		}
	}
	r.evErr = nil
	if err := r.evConn.Read(r.evRead); err != nil {
		return err
	}
	return r.evErr
}

func (r *SyncRing) Close() {
	if r.ev != nil {
		r.ev.Close()
	}
	if r.sqes != nil {
		unix.Munmap(r.sqes)
	}
	if r.ring != nil {
		unix.Munmap(r.ring)
	}
	unix.Close(r.fd)
}

// Gate holds the use of sync rings back until it is opened. An io_uring's
// work runs on kernel worker threads of the process that are created,
// with a copy of the submitting thread's capabilities, at its first
// request and kept while requests come: a ring first used before the
// daemon drops its capabilities would keep a thread that shows them all
// in /proc for the life of the process. The daemon opens the gate once it
// has dropped them; until then the syncs are fdatasync(2) calls. The zero
// Gate is closed.
type Gate struct{ open atomic.Bool }

// Open lets the rings behind g be used.
func (g *Gate) Open() { g.open.Store(true) }

// Opened reports whether rings may be used: always with no gate.
func (g *Gate) Opened() bool { return g == nil || g.open.Load() }
