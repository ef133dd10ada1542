package xsk

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ring is one of the four rings shared with the kernel. For the fill and TX
// rings this process is the producer and the kernel the consumer; for the
// RX and completion rings it is the other way round. The index this process
// writes is kept in local too, since no one else writes it; the kernel's
// index is read with atomic loads only (plain loads of shared indices are a
// real bug on weakly ordered CPUs), and ours is published with an atomic
// store after the entries are written.
type ring[T any] struct {
	mem     []byte  // the mmap, for munmap
	prod    *uint32 // producer index
	cons    *uint32 // consumer index
	flags   *uint32 // XDP_RING_NEED_WAKEUP
	entries []T     // size entries
	mask    uint32  // size - 1
	size    uint32
	local   uint32 // our copy of the index we write
}

// mapRing maps the ring at page offset pgoff of the socket, as laid out by
// off (from XDP_MMAP_OFFSETS). producer says whether we produce into it.
func mapRing[T any](fd int, pgoff int64, off unix.XDPRingOffset, size uint32, producer bool) (*ring[T], error) {
	var zero T
	length := off.Desc + uint64(size)*uint64(unsafe.Sizeof(zero))
	mem, err := unix.Mmap(fd, pgoff, int(length), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return nil, fmt.Errorf("mmap ring at offset %#x (%d bytes): %w", pgoff, length, err)
	}
	r := &ring[T]{
		mem:     mem,
		prod:    (*uint32)(unsafe.Pointer(&mem[off.Producer])),
		cons:    (*uint32)(unsafe.Pointer(&mem[off.Consumer])),
		flags:   (*uint32)(unsafe.Pointer(&mem[off.Flags])),
		entries: unsafe.Slice((*T)(unsafe.Pointer(&mem[off.Desc])), size),
		mask:    size - 1,
		size:    size,
	}
	if producer {
		r.local = atomic.LoadUint32(r.prod)
	} else {
		r.local = atomic.LoadUint32(r.cons)
	}
	return r, nil
}

// unmap releases the mapping; the ring must not be used afterwards.
func (r *ring[T]) unmap() error {
	if r == nil || r.mem == nil {
		return nil
	}
	err := unix.Munmap(r.mem)
	r.mem, r.entries, r.prod, r.cons, r.flags = nil, nil, nil, nil, nil
	return err
}

// Producer side (fill, TX).

// free is the number of entries the producer may write now.
func (r *ring[T]) free() uint32 {
	return r.size - (r.local - atomic.LoadUint32(r.cons))
}

// outstanding is the number of produced entries the kernel has not
// consumed yet.
func (r *ring[T]) outstanding() uint32 {
	return r.local - atomic.LoadUint32(r.cons)
}

// slot returns the i-th entry after the producer index, to be written
// before submit.
func (r *ring[T]) slot(i uint32) *T {
	return &r.entries[(r.local+i)&r.mask]
}

// submit publishes n written entries to the kernel.
func (r *ring[T]) submit(n uint32) {
	r.local += n
	atomic.StoreUint32(r.prod, r.local)
}

// needWakeup reports whether the kernel asks for a syscall to process this
// ring (only meaningful with XDP_USE_NEED_WAKEUP).
func (r *ring[T]) needWakeup() bool {
	return atomic.LoadUint32(r.flags)&unix.XDP_RING_NEED_WAKEUP != 0
}

// Consumer side (RX, completion).

// available is the number of entries ready to be consumed.
func (r *ring[T]) available() uint32 {
	return atomic.LoadUint32(r.prod) - r.local
}

// peek returns the i-th entry after the consumer index.
func (r *ring[T]) peek(i uint32) *T {
	return &r.entries[(r.local+i)&r.mask]
}

// release hands n consumed entries back to the kernel.
func (r *ring[T]) release(n uint32) {
	r.local += n
	atomic.StoreUint32(r.cons, r.local)
}
