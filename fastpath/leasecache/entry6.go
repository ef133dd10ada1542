package leasecache

import (
	"encoding/binary"
	"fmt"

	"xdhcp/dhcp6"
	"xdhcp/handoff"
)

// Entry6 is one DHCPv6 client's published bindings (see
// handoff.CachedLease6).
type Entry6 = handoff.CachedLease6

// Limits of an Entry6, so that a cached Reply always fits one standard
// Ethernet frame with its headers.
const (
	MaxDUIDLen   = 128 // RFC 8415 section 11.1
	MaxIAs6      = 8   // IAs per entry
	MaxLeases6   = 8   // addresses or prefixes per IA
	MaxRelays6   = 8   // Relay-reply levels (the XDP program enters as many)
	MaxReply6Len = 1200
)

// Reply6Len returns the length of the DHCPv6 Reply AnswerRenew6 writes for
// a Renew or Rebind naming every IA of e.
func Reply6Len(e *Entry6) int {
	n := 4 + 4 + len(e.DUID) + 4 + len(e.ServerDUID) + len(e.Options)
	for _, rl := range e.Relays {
		n += 34 + len(rl.Options) + 4
	}
	for _, ia := range e.IAs {
		n += 4 + 12 + len(ia.Options)
		for _, l := range ia.Leases {
			n += 4 + 25 + len(l.Options) // IAPREFIX is one byte longer than IAADDR
		}
	}
	return n
}

// Validate6 checks what AnswerRenew6 relies on: a DUID of 1..128 bytes, a
// server DUID, 1..MaxIAs6 IAs of type IA_NA or IA_PD with distinct (type,
// IAID), each with 1..MaxLeases6 leases (addresses with PrefixLen 128,
// prefixes with a length of 1..128), well-framed options without those the
// builder writes, and a Reply of at most MaxReply6Len bytes.
func Validate6(e *Entry6) error {
	switch {
	case len(e.DUID) == 0 || len(e.DUID) > MaxDUIDLen:
		return fmt.Errorf("%w: DUID of %d bytes", ErrBadEntry, len(e.DUID))
	case len(e.ServerDUID) == 0 || len(e.ServerDUID) > MaxDUIDLen:
		return fmt.Errorf("%w: server DUID of %d bytes", ErrBadEntry, len(e.ServerDUID))
	case len(e.IAs) == 0 || len(e.IAs) > MaxIAs6:
		return fmt.Errorf("%w: %d IAs (want 1..%d)", ErrBadEntry, len(e.IAs), MaxIAs6)
	case len(e.Relays) > MaxRelays6:
		return fmt.Errorf("%w: %d relays (at most %d)", ErrBadEntry, len(e.Relays), MaxRelays6)
	}
	for _, rl := range e.Relays {
		if err := checkOptions6(rl.Options, dhcp6.OptRelayMsg); err != nil {
			return err
		}
	}
	if err := checkOptions6(e.Options, dhcp6.OptClientID, dhcp6.OptServerID, dhcp6.OptIANA, dhcp6.OptIATA,
		dhcp6.OptIAPD, dhcp6.OptRapidCommit); err != nil {
		return err
	}
	for i, ia := range e.IAs {
		if ia.Type != handoff.OptionIANA && ia.Type != handoff.OptionIAPD {
			return fmt.Errorf("%w: IA %d of type %d", ErrBadEntry, i, ia.Type)
		}
		for _, other := range e.IAs[:i] {
			if other.Type == ia.Type && other.IAID == ia.IAID {
				return fmt.Errorf("%w: IA %d/%d twice", ErrBadEntry, ia.Type, ia.IAID)
			}
		}
		if len(ia.Leases) == 0 || len(ia.Leases) > MaxLeases6 {
			return fmt.Errorf("%w: IA %d with %d leases (want 1..%d)", ErrBadEntry, ia.IAID, len(ia.Leases), MaxLeases6)
		}
		if err := checkOptions6(ia.Options, dhcp6.OptIAAddr, dhcp6.OptIAPrefix); err != nil {
			return err
		}
		for _, l := range ia.Leases {
			if ia.Type == handoff.OptionIANA && l.PrefixLen != 128 || l.PrefixLen == 0 || l.PrefixLen > 128 {
				return fmt.Errorf("%w: IA %d lease of prefix length %d", ErrBadEntry, ia.IAID, l.PrefixLen)
			}
			if err := checkOptions6(l.Options); err != nil {
				return err
			}
		}
	}
	if n := Reply6Len(e); n > MaxReply6Len {
		return fmt.Errorf("%w: reply of %d bytes, limit %d", ErrBadOptions, n, MaxReply6Len)
	}
	return nil
}

// checkOptions6 checks that o is a well-framed DHCPv6 option sequence
// holding none of the codes in banned.
func checkOptions6(o []byte, banned ...uint16) error {
	for i := 0; i < len(o); {
		if i+4 > len(o) || i+4+int(binary.BigEndian.Uint16(o[i+2:])) > len(o) {
			return fmt.Errorf("%w: option at offset %d truncated", ErrBadOptions, i)
		}
		code := binary.BigEndian.Uint16(o[i:])
		for _, b := range banned {
			if code == b {
				return fmt.Errorf("%w: option %d at offset %d is written by the builder", ErrBadOptions, code, i)
			}
		}
		i += 4 + int(binary.BigEndian.Uint16(o[i+2:]))
	}
	return nil
}

// hint6 is Kea's Triplet::get(hint): a non-zero hint bounded by min and
// max when they are configured (either non-zero), else the default.
func hint6(hint, def, lo, hi uint32) uint32 {
	if hint == 0 || lo == 0 && hi == 0 {
		return def
	}
	return min(max(hint, lo), hi)
}

// Reusable6 applies Kea 2.2's lease reuse rules for DHCPv6 (the
// cache-threshold / cache-max-age rules of Reusable, with the preferred
// lifetime carried along) to lease l of entry e, renewed at unix time now
// by a client whose IAADDR / IAPREFIX carried the lifetime hints pref and
// valid (0: none). It returns the lifetimes to send (the stored ones minus
// the lease's age, so the expiry is unchanged).
//
// Not reusable when the new valid or preferred lifetime is shorter than
// the stored one, when now < CLTT or the lease's age reaches its valid
// lifetime or passes its preferred lifetime, when cache-max-age is 0 or
// below the age, when cache-threshold is outside (0, 1] or the age passes
// the new valid lifetime times the threshold, or when neither is set. A
// lease whose new valid lifetime is infinite is always reusable, for
// infinite lifetimes. It does not allocate.
func Reusable6(e *Entry6, l *handoff.CachedLease6Addr, pref, valid uint32, now int64) (remPref, remValid uint32, ok bool) {
	newValid := hint6(valid, l.NewValid, l.MinValid, l.MaxValid)
	newPref := hint6(pref, l.NewPreferred, l.MinPreferred, l.MaxPreferred)
	if newValid < l.ValidLft || newPref < l.PreferredLft {
		return 0, 0, false
	}
	if newValid == Infinite {
		return Infinite, Infinite, true
	}
	if now < l.CLTT {
		return 0, 0, false
	}
	age := now - l.CLTT
	if age >= int64(l.ValidLft) {
		return 0, 0, false
	}
	var maxAge int64
	if e.MaxAge >= 0 {
		maxAge = e.MaxAge
		if maxAge == 0 || age > maxAge {
			return 0, 0, false
		}
	}
	if e.Threshold != 0 {
		th := e.Threshold
		if !(th > 0 && th <= 1) {
			return 0, 0, false
		}
		maxAge = int64(uint32(float64(newValid) * th))
		if age > maxAge {
			return 0, 0, false
		}
	}
	if maxAge == 0 {
		return 0, 0, false
	}
	switch {
	case l.PreferredLft == Infinite:
		remPref = Infinite
	case int64(l.PreferredLft) > age:
		remPref = l.PreferredLft - uint32(age)
	default:
		return 0, 0, false
	}
	return remPref, l.ValidLft - uint32(age), true
}

// Timers6 returns the T1 and T2 of an IA whose shortest preferred lifetime
// sent is pref, as Kea 2.2's setTeeTimes for DHCPv6: a configured timer
// wins, otherwise with calculate-tee-times the percentage of pref, rounded;
// T2 is sent as it is, T1 only when below T2 (else 0).
func Timers6(ia *handoff.CachedIA6, pref uint32) (t1, t2 uint32) {
	t2 = timer(ia.HasT2, ia.RebindTimer, ia.CalcTee, ia.T2Pct, pref)
	t1 = timer(ia.HasT1, ia.RenewTimer, ia.CalcTee, ia.T1Pct, pref)
	if t1 >= t2 {
		t1 = 0
	}
	return t1, t2
}
