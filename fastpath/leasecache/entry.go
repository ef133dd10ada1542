package leasecache

import (
	"bytes"
	"errors"
	"fmt"
	"math"

	"xdhcp/fastpath/dhcpview"
	"xdhcp/handoff"
)

// Infinite is the valid lifetime Kea treats as never expiring.
const Infinite = 0xffffffff

// MaxOptionsLen bounds Entry.Options, so that a cached ACK always fits one
// Ethernet frame of standard MTU with its headers and fixed options.
const MaxOptionsLen = 1200

// Errors from Entry.Validate (and Put), wrapped with the offending detail.
var (
	ErrBadEntry   = errors.New("leasecache: invalid entry")
	ErrBadOptions = errors.New("leasecache: invalid reply options")
)

// Entry is one published lease with what the fast path needs to repeat the
// slow path's ACK. The engine fills it through the handoff contract, which
// is where the type is defined, so that the engine needs no import of the
// fast path to publish.
type Entry = handoff.CachedLease

// Validate checks what BuildACK and Reusable rely on: HWLen at most 16,
// a non-zero address and server identifier, and Options a well-formed
// option sequence of at most MaxOptionsLen bytes without the options
// BuildACK writes.
func Validate(e *Entry) error {
	if e.HWLen > 16 {
		return fmt.Errorf("%w: hardware address length %d", ErrBadEntry, e.HWLen)
	}
	if e.Addr == [4]byte{} {
		return fmt.Errorf("%w: zero address", ErrBadEntry)
	}
	if e.ServerID == [4]byte{} {
		return fmt.Errorf("%w: zero server identifier", ErrBadEntry)
	}
	if len(e.Options) > MaxOptionsLen {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrBadOptions, len(e.Options), MaxOptionsLen)
	}
	for i := 0; i < len(e.Options); {
		code := e.Options[i]
		switch code {
		case dhcpview.OptPad, dhcpview.OptEnd, dhcpview.OptMessageType, dhcpview.OptServerID,
			dhcpview.OptLeaseTime, dhcpview.OptRenewalTime, dhcpview.OptRebindingTime:
			return fmt.Errorf("%w: option %d at offset %d is written by the builder", ErrBadOptions, code, i)
		}
		if i+1 >= len(e.Options) || i+2+int(e.Options[i+1]) > len(e.Options) {
			return fmt.Errorf("%w: option %d at offset %d truncated", ErrBadOptions, code, i)
		}
		i += 2 + int(e.Options[i+1])
	}
	return nil
}

// Reusable applies Kea 2.2's lease reuse rules (cache-threshold,
// cache-max-age; alloc_engine.cc updateLease4Information and
// setLeaseReusable) to a renewal v of the lease e at unix time now. It
// returns the lifetime to send (the stored lifetime minus the lease's age,
// so the expiry is unchanged) and whether the cached lease may be reused.
//
// Not reusable when:
//   - v is not a renewal (dhcpview.View.IsRenewal) of e.Addr (ciaddr);
//   - something significant changed: the fingerprint (classification,
//     options, relay information, hostname, subnet selection), the hardware
//     address, the client identifier, or the new valid lifetime is shorter
//     than the stored one;
//   - the request carries a malformed client identifier or lease-time hint
//     (the slow path decides what to do with those);
//   - now < CLTT (time went backwards), or age = now - CLTT ≥ ValidLft;
//   - cache-max-age is set and is 0 or age > cache-max-age;
//   - cache-threshold is set and is ≤ 0 or > 1 (or NaN), or age > new valid
//     lifetime × threshold, truncated to whole seconds;
//   - neither applies with a non-zero limit (caching off).
//
// A lease whose new valid lifetime is infinite is always reusable (for an
// infinite lifetime), before the age and cache checks, as in Kea. The cache
// only holds leases in the default state, so Kea's state check is implied.
//
// Reusable does not allocate.
func Reusable(e *Entry, v *dhcpview.View, now int64) (remaining uint32, ok bool) {
	if e == nil || !v.IsRenewal() || v.Ciaddr() != e.Addr {
		return 0, false
	}
	if v.Fingerprint() != e.Fingerprint {
		return 0, false
	}
	hwLen := min(int(e.HWLen), len(e.HW))
	if !bytes.Equal(v.Chaddr(), e.HW[:hwLen]) {
		return 0, false
	}
	cid, hasCID := v.Option(dhcpview.OptClientID)
	if hasCID && len(cid) < 2 {
		// Kea refuses client identifiers shorter than two bytes.
		return 0, false
	}
	if e.IgnoreClientID {
		if len(e.ClientID) != 0 {
			return 0, false
		}
	} else if !bytes.Equal(cid, e.ClientID) {
		return 0, false
	}

	newValid := e.NewValid
	if v.Has(dhcpview.OptLeaseTime) {
		hint, ok := v.LeaseTime()
		if !ok {
			return 0, false
		}
		if e.MinValid != 0 || e.MaxValid != 0 {
			// Kea's Triplet::get(hint).
			switch {
			case hint <= e.MinValid:
				newValid = e.MinValid
			case hint >= e.MaxValid:
				newValid = e.MaxValid
			default:
				newValid = hint
			}
		}
	}
	if newValid < e.ValidLft {
		return 0, false
	}
	if newValid == Infinite {
		return Infinite, true
	}

	if now < e.CLTT {
		return 0, false
	}
	age := now - e.CLTT
	if age >= int64(e.ValidLft) {
		return 0, false
	}
	var maxAge int64
	if e.MaxAge >= 0 {
		maxAge = e.MaxAge
		if maxAge == 0 || age > maxAge {
			return 0, false
		}
	}
	if e.Threshold != 0 {
		th := e.Threshold
		if !(th > 0 && th <= 1) { // also refuses NaN
			return 0, false
		}
		// Kea: uint32_t max_age = valid_lft_ * threshold (truncation).
		maxAge = int64(uint32(float64(newValid) * th))
		if age > maxAge {
			return 0, false
		}
	}
	if maxAge == 0 {
		return 0, false
	}
	return e.ValidLft - uint32(age), true
}

// Timers returns the T1 (renewal, option 58) and T2 (rebinding, option 59)
// values to send with a lease of lifetime valid, by Kea 2.2's setTeeTimes: a
// configured timer wins, otherwise with calculate-tee-times it is the
// percentage of valid, rounded; T2 is sent only when non-zero and below
// valid, T1 only when non-zero and below T2 if T2 is sent, else below valid.
// A zero return means "do not send".
func Timers(e *Entry, valid uint32) (t1, t2 uint32) {
	t2 = timer(e.HasT2, e.RebindTimer, e.CalcTee, e.T2Pct, valid)
	ceiling := valid
	if t2 > 0 && t2 < ceiling {
		ceiling = t2
	} else {
		t2 = 0
	}
	t1 = timer(e.HasT1, e.RenewTimer, e.CalcTee, e.T1Pct, valid)
	if t1 == 0 || t1 >= ceiling {
		t1 = 0
	}
	return t1, t2
}

func timer(explicit bool, value uint32, calc bool, pct float64, valid uint32) uint32 {
	if explicit {
		return value
	}
	if !calc {
		return 0
	}
	x := math.Round(pct * float64(valid))
	if !(x >= 0 && x <= math.MaxUint32) {
		// Out of range (or NaN): never below the lifetime, so never
		// sent.
		return 0
	}
	return uint32(x)
}
