// Package leasecache is the lease cache that lets the fast path answer
// renewals without the slow path: the slow path publishes each lease it
// ACKs, with what it needs to repeat that ACK; fastpath workers look the
// client's address up, apply Kea 2.2's cache-threshold / cache-max-age reuse
// rules (Reusable) and write the DHCPACK straight into a TX frame (BuildACK).
//
// # Concurrency model
//
// Readers are the fastpath workers, one goroutine per (interface, queue),
// each calling Lookup for every renewal. Writers are the slow path's
// goroutines (Put, Delete, Purge), at the rate leases are committed.
//
// The design contract is that the fast path takes no lock shared with the
// slow path per packet, so Lookup is lock-free: the cache is one
// open-addressing hash table with linear probing, a fixed array of
// atomic.Pointer[Entry] sized at construction to a power of two at least
// twice the entry limit (load factor ≤ 1/2, short probe chains, never
// resized, so memory is bounded: 8 bytes per slot plus the entries). A
// reader hashes the address, atomically loads slots until it finds the
// address or an empty slot, and returns the *Entry. Entries are immutable
// once published (Put stores a private copy), so a reader may use an entry
// after any later Put or Delete: it sees either the old or the new entry,
// both consistent. Readers write no shared memory, so workers on different
// CPUs do not bounce cache lines between them, and a writer can never make
// a reader wait.
//
// Writers serialize on a mutex that readers never touch. Delete uses
// backward-shift deletion (no tombstones, so the table never degrades and
// needs no rehash). While entries shift, a concurrent reader can miss an
// entry that is present; that is harmless by construction: a miss sends the
// renewal to the slow path, which answers it correctly. A reader can never
// get a wrong entry, because it compares the address stored in the entry.
//
// Alternatives considered: 256 RWMutex-guarded map shards (the RLock is an
// atomic add on a cache line every worker writes, and a writer growing a
// shard's map blocks readers of that shard), an atomic.Pointer to an
// immutable map snapshot (a full copy per write, too costly at a million
// leases), and a seqlock over a Go map (a concurrent map read and write is a
// fatal runtime error, not a retry).
//
// # Bounded memory
//
// New fixes the entry limit. A Put of a new address beyond it evicts one
// entry (the next live slot after a clock hand that walks the table: close
// to random with respect to age) and counts it in Evictions. An evicted
// client's next renewal simply goes to the slow path.
//
// # What the slow path must publish
//
// Only leases in the default state, with the fingerprint of the request it
// ACKed (dhcpview.View.Fingerprint) and the encoded options of that ACK.
// The fingerprint pins everything that selects the subnet, the client's
// classes and the options sent, except fields a renewal legitimately
// changes; a configuration whose classes test packet fields outside the
// fingerprint (ciaddr, xid, secs, flags, the receiving interface...) must
// not publish. After a reconfiguration the slow path Purges the cache: the
// entries carry configuration (lifetimes, timers, cache parameters).
// One cache serves the interfaces whose subnets it was published for; the
// address key cannot tell two interfaces' identical private ranges apart.
//
// # DHCPv6
//
// Cache6 is the same table keyed by the client's DUID; an entry holds the
// client's IA_NA and IA_PD bindings (handoff.CachedLease6). AnswerRenew6
// answers a Renew or Rebind sent straight to the server when its DUID,
// server DUID, fingerprint (handoff.Fingerprint6) and IAs match the entry
// exactly and every lease is reusable by the same rules (Reusable6), with
// the remaining preferred and valid lifetimes and the timers of Kea's
// DHCPv6 setTeeTimes; relayed messages, unicast ones and anything else go
// to the engine.
package leasecache
