package slowpath6

import (
	"encoding/binary"
	"math/bits"
)

// u128 is an IPv6 address or an offset into a pool as a 128-bit integer:
// pools of DHCPv6 are too large for anything smaller.
type u128 struct{ hi, lo uint64 }

func u128From(a [16]byte) u128 {
	return u128{binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(a[8:])}
}

func (u u128) bytes() (a [16]byte) {
	binary.BigEndian.PutUint64(a[:8], u.hi)
	binary.BigEndian.PutUint64(a[8:], u.lo)
	return a
}

func (u u128) add(v u128) u128 {
	lo, c := bits.Add64(u.lo, v.lo, 0)
	hi, _ := bits.Add64(u.hi, v.hi, c)
	return u128{hi, lo}
}

func (u u128) sub(v u128) u128 {
	lo, b := bits.Sub64(u.lo, v.lo, 0)
	hi, _ := bits.Sub64(u.hi, v.hi, b)
	return u128{hi, lo}
}

func (u u128) less(v u128) bool { return u.hi < v.hi || (u.hi == v.hi && u.lo < v.lo) }

func (u u128) isZero() bool { return u.hi == 0 && u.lo == 0 }

// shl shifts left by n (0..127).
func (u u128) shl(n uint) u128 {
	switch {
	case n == 0:
		return u
	case n >= 64:
		return u128{u.lo << (n - 64), 0}
	default:
		return u128{u.hi<<n | u.lo>>(64-n), u.lo << n}
	}
}

// capped is u as a uint64, saturated.
func (u u128) capped() uint64 {
	if u.hi != 0 {
		return ^uint64(0)
	}
	return u.lo
}

// shr shifts right by n (0..127).
func (u u128) shr(n uint) u128 {
	switch {
	case n == 0:
		return u
	case n >= 64:
		return u128{0, u.hi >> (n - 64)}
	default:
		return u128{u.hi >> n, u.lo>>n | u.hi<<(64-n)}
	}
}

// mulDiv is ⌊u·i/n⌋ for i < n (n > 0), without overflowing: with u =
// q·n + r it is q·i + ⌊r·i/n⌋, and q·i ≤ u.
func (u u128) mulDiv(i, n uint64) u128 {
	qhi, rhi := u.hi/n, u.hi%n
	qlo, r := bits.Div64(rhi, u.lo, n)
	hi, lo := bits.Mul64(qlo, i)
	q := u128{qhi*i + hi, lo}
	rh, rl := bits.Mul64(r, i)
	extra, _ := bits.Div64(rh, rl, n)
	return q.add(u128{0, extra})
}
