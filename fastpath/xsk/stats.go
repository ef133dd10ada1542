package xsk

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// counters are written by the owner goroutine, once per batch, and read by
// Stats from any goroutine. They sit on their own cache lines, away from
// the ring state the owner touches per packet and from other sockets'
// counters.
type counters struct {
	_           [64]byte
	rx          atomic.Uint64
	tx          atomic.Uint64
	txCompleted atomic.Uint64
	txKicks     atomic.Uint64
	txRetries   atomic.Uint64
	txStalls    atomic.Uint64
	rxWakeups   atomic.Uint64
	ownership   atomic.Uint64
	_           [64]byte
}

// Statistics are a socket's counters since Open.
type Statistics struct {
	// From the kernel (XDP_STATISTICS).

	// RxDropped: packets dropped for reasons other than a full ring, for
	// example longer than a frame.
	RxDropped uint64
	// RxInvalidDescs and TxInvalidDescs: descriptors the kernel rejected
	// (bad address or length); non-zero means a bug in this package.
	RxInvalidDescs uint64
	TxInvalidDescs uint64
	// RxRingFull: packets dropped because the RX ring was full (the owner
	// does not keep up).
	RxRingFull uint64
	// RxFillRingEmptyDescs: times the kernel found the fill ring empty
	// (frames held too long by the caller, or not refilled).
	RxFillRingEmptyDescs uint64
	// TxRingEmptyDescs: times the kernel found the TX ring empty when
	// kicked or polled.
	TxRingEmptyDescs uint64

	// Ours.

	// Rx: descriptors Receive returned. Tx: descriptors Transmit queued.
	Rx, Tx uint64
	// TxCompleted: TX frames the completion ring gave back.
	TxCompleted uint64
	// TxKicks: sendto calls; TxRetries: those answered EAGAIN, EBUSY or
	// ENOBUFS (copy mode's 32-descriptor budget, a full device queue, or
	// a frame dropped by the device).
	TxKicks, TxRetries uint64
	// TxStalls: kick loops that hit their bound with descriptors still in
	// the TX ring (they go out on a later kick).
	TxStalls uint64
	// RxWakeups: recvfrom calls Receive made because the kernel set
	// need-wakeup on the fill ring.
	RxWakeups uint64
	// OwnershipErrors: Release or Transmit of frames the caller did not
	// own, and addresses from the kernel that did not match the socket's
	// bookkeeping.
	OwnershipErrors uint64
}

// Stats returns the kernel's and the socket's counters. It may be called
// from any goroutine. After Close it returns the socket's own counters and
// ErrClosed.
func (s *Socket) Stats() (Statistics, error) {
	st := Statistics{
		Rx:              s.ctr.rx.Load(),
		Tx:              s.ctr.tx.Load(),
		TxCompleted:     s.ctr.txCompleted.Load(),
		TxKicks:         s.ctr.txKicks.Load(),
		TxRetries:       s.ctr.txRetries.Load(),
		TxStalls:        s.ctr.txStalls.Load(),
		RxWakeups:       s.ctr.rxWakeups.Load(),
		OwnershipErrors: s.ctr.ownership.Load(),
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed.Load() {
		return st, ErrClosed
	}
	// x/sys/unix has the struct but no typed getsockopt for it.
	var ks unix.XDPStatistics
	optlen := uint32(unsafe.Sizeof(ks))
	if _, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(s.fd), unix.SOL_XDP, unix.XDP_STATISTICS,
		uintptr(unsafe.Pointer(&ks)), uintptr(unsafe.Pointer(&optlen)), 0); errno != 0 {
		return st, fmt.Errorf("af_xdp ifindex %d queue %d: XDP_STATISTICS: %w", s.opts.Ifindex, s.opts.Queue, errno)
	}
	// Kernels before 5.9 answer only the first three fields; the rest
	// stay zero.
	st.RxDropped = ks.Rx_dropped
	st.RxInvalidDescs = ks.Rx_invalid_descs
	st.TxInvalidDescs = ks.Tx_invalid_descs
	st.RxRingFull = ks.Rx_ring_full
	st.RxFillRingEmptyDescs = ks.Rx_fill_ring_empty_descs
	st.TxRingEmptyDescs = ks.Tx_ring_empty_descs
	return st, nil
}
