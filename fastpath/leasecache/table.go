package leasecache

import "sync/atomic"

// The writers' side of the open-addressing tables of Cache and Cache6,
// generic over the entry type: home gives an entry's first slot. Callers
// hold their cache's writer mutex. (The readers' probe stays per type: it
// is the per-packet path, where an indirect call per slot would cost.)

// removeSlot empties slot i by backward-shift deletion (Knuth 6.4,
// algorithm R): each later entry of the cluster that may live at the hole
// moves into it. The move stores the entry at its new slot before its old
// slot is overwritten, so a reader never sees it vanish from both; it can
// at worst miss it for an instant.
func removeSlot[E any](slots []atomic.Pointer[E], mask, i uint32, home func(*E) uint32) {
	j := i
	for {
		j = (j + 1) & mask
		e := slots[j].Load()
		if e == nil {
			break
		}
		// e may fill the hole i if i lies cyclically in [home(e), j).
		if (j-home(e))&mask >= (j-i)&mask {
			slots[i].Store(e)
			i = j
		}
	}
	slots[i].Store(nil)
}

// evictSlot removes the first live entry at or after the clock hand *hand,
// advancing it, and reports whether it found one.
func evictSlot[E any](slots []atomic.Pointer[E], mask uint32, hand *uint32, home func(*E) uint32) bool {
	for range len(slots) {
		i := *hand
		*hand = (*hand + 1) & mask
		if slots[i].Load() != nil {
			removeSlot(slots, mask, i, home)
			return true
		}
	}
	return false
}
