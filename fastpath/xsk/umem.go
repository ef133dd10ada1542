package xsk

import (
	"fmt"
	"math/bits"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Frame owners; see "Ownership of frames" in the package documentation.
const (
	ownSocket   uint8 = iota // on the free list
	ownKernelRX              // in the fill ring, or filled and in the RX ring
	ownCaller                // returned by Receive or GetTxFrame
	ownKernelTX              // in the TX ring, or sent and not yet completed
)

// umem is the packet memory shared with the kernel and the bookkeeping of
// who owns each frame. Only the owner goroutine touches it.
type umem struct {
	mem       []byte
	frameSize uint64
	shift     uint     // log2(frameSize)
	owner     []uint8  // per frame, one of own*
	free      []uint64 // frame base addresses owned by the socket (a stack)
	inFill    int      // frames owned by the kernel for RX
}

// newUMEM maps n frames of size bytes (anonymous, populated) and puts them
// all on the free list.
func newUMEM(n int, size int) (*umem, error) {
	length := n * size
	mem, err := unix.Mmap(-1, 0, length, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_POPULATE)
	if err != nil {
		return nil, fmt.Errorf("mmap umem of %d bytes: %w", length, err)
	}
	u := &umem{
		mem:       mem,
		frameSize: uint64(size),
		shift:     uint(bits.TrailingZeros(uint(size))),
		owner:     make([]uint8, n),
		free:      make([]uint64, n),
	}
	// Lowest addresses on top of the stack: the first frames used are
	// the first pages of the mapping.
	for i := range n {
		u.free[i] = uint64(n-1-i) << u.shift
	}
	return u, nil
}

// register hands the UMEM to the socket (XDP_UMEM_REG). x/sys/unix has the
// struct but no typed setsockopt for it.
func (u *umem) register(fd int) error {
	reg := unix.XDPUmemReg{
		Addr: uint64(uintptr(unsafe.Pointer(&u.mem[0]))),
		Len:  uint64(len(u.mem)),
		Size: uint32(u.frameSize),
	}
	_, _, errno := unix.Syscall6(unix.SYS_SETSOCKOPT, uintptr(fd), unix.SOL_XDP, unix.XDP_UMEM_REG,
		uintptr(unsafe.Pointer(&reg)), unsafe.Sizeof(reg), 0)
	if errno != 0 {
		if errno == unix.ENOBUFS || errno == unix.EPERM {
			// The pinned pages are charged to RLIMIT_MEMLOCK unless
			// the process has CAP_IPC_LOCK.
			return fmt.Errorf("register umem of %d bytes (memlock limit? needs CAP_IPC_LOCK or a higher RLIMIT_MEMLOCK): %w",
				len(u.mem), errno)
		}
		return fmt.Errorf("register umem of %d bytes: %w", len(u.mem), errno)
	}
	return nil
}

// unmap releases the mapping. The kernel keeps its own pin on the pages
// until the socket is gone, so this is safe after close(fd).
func (u *umem) unmap() error {
	if u == nil || u.mem == nil {
		return nil
	}
	err := unix.Munmap(u.mem)
	u.mem = nil
	return err
}

// frame returns the index of the frame that holds addr (any address inside
// it: the kernel hands out RX addresses past the frame's headroom) and
// whether addr is inside the UMEM.
func (u *umem) frame(addr uint64) (int, bool) {
	i := addr >> u.shift
	return int(i), i < uint64(len(u.owner))
}

// base is the start address of the frame that holds addr.
func (u *umem) base(addr uint64) uint64 {
	return addr &^ (u.frameSize - 1)
}

// pop takes a frame off the free list.
func (u *umem) pop() (uint64, bool) {
	n := len(u.free)
	if n == 0 {
		return 0, false
	}
	a := u.free[n-1]
	u.free = u.free[:n-1]
	return a, true
}

// push puts frame i on the free list; the free list has room for every
// frame, so it never grows.
func (u *umem) push(i int) {
	u.owner[i] = ownSocket
	u.free = append(u.free, uint64(i)<<u.shift)
}
