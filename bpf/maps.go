package bpf

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
)

// Counters are the XDP program's verdict counts, summed over CPUs. Every frame
// the program sees increments exactly one field.
type Counters struct {
	NotDHCP      uint64 // passed: not IPv4/UDP to port 67 (incl. runts cut before the UDP header)
	Fragment     uint64 // passed: IPv4 UDP fragment, left to the stack to reassemble
	NotRequest   uint64 // passed: BOOTREPLY (op != 1) to port 67
	Malformed    uint64 // dropped: truncated or invalid BOOTP to port 67
	DropMAC      uint64 // dropped: chaddr on the drop list
	DropClientID uint64 // dropped: client identifier on the drop list
	RateLimited  uint64 // dropped: per-client token bucket empty
	HAOutOfScope uint64 // dropped: HA scope not served by this server
	ShedDiscover uint64 // dropped: overload level >= 1, DHCPDISCOVER
	ShedOther    uint64 // dropped: overload level 2, not a renew/rebind
	// IrregularOutOfScope: dropped with HA on because the options could
	// not be judged (walk cut short, option 53 or 61 repeated, option 52).
	IrregularOutOfScope uint64
	// IrregularShed: dropped at overload level >= 1 for the same reason.
	IrregularShed uint64
	Redirected    uint64 // redirected to the queue's AF_XDP socket
	XSKMissing    uint64 // passed: no AF_XDP socket registered for the queue

	// DHCPv6 (IPv6/UDP to port 547); IPv6 to other ports counts in NotDHCP.
	Fragment6     uint64 // passed: IPv6 fragment (non-first, or first of several)
	ExtUnparsed6  uint64 // passed: extension header chain too long or cut short
	NotRequest6   uint64 // passed: not a client or relay message (Advertise, Reply, Relay-repl, ...)
	Malformed6    uint64 // dropped: truncated message or relay header, relay without Relay Message
	DropDUID      uint64 // dropped: client DUID on the drop list
	RateLimited6  uint64 // dropped: per-client (DUID) token bucket empty
	HAOutOfScope6 uint64 // dropped: HA scope of the DUID not served, or no DUID
	ShedSolicit   uint64 // dropped: overload level >= 1, Solicit
	ShedOther6    uint64 // dropped: overload level 2, not a Renew/Rebind
	// IrregularOutOfScope6 and IrregularShed6: dropped with HA on, or at
	// overload level >= 1, because the message could not be judged (walk
	// or relay depth used up, client-id repeated or longer than a DUID).
	IrregularOutOfScope6 uint64
	IrregularShed6       uint64
	Redirected6          uint64 // redirected to the queue's AF_XDP socket
	XSKMissing6          uint64 // passed: no AF_XDP socket registered for the queue
}

// Total is the number of frames the program has judged.
func (c Counters) Total() uint64 {
	return c.NotDHCP + c.Fragment + c.NotRequest + c.Malformed + c.DropMAC + c.DropClientID +
		c.RateLimited + c.HAOutOfScope + c.ShedDiscover + c.ShedOther + c.IrregularOutOfScope + c.IrregularShed +
		c.Redirected + c.XSKMissing +
		c.Fragment6 + c.ExtUnparsed6 + c.NotRequest6 + c.Malformed6 + c.DropDUID + c.RateLimited6 +
		c.HAOutOfScope6 + c.ShedSolicit + c.ShedOther6 + c.IrregularOutOfScope6 + c.IrregularShed6 +
		c.Redirected6 + c.XSKMissing6
}

// Counters reads the per-CPU counters and sums them.
func (o *Objects) Counters() (Counters, error) {
	var perCPU []dhcpCounters
	if err := o.objs.Stats.Lookup(uint32(0), &perCPU); err != nil {
		return Counters{}, fmt.Errorf("read xdp counters: %w", err)
	}
	var c Counters
	for _, p := range perCPU {
		c.NotDHCP += p.NotDhcp
		c.Fragment += p.Fragment
		c.NotRequest += p.NotRequest
		c.Malformed += p.Malformed
		c.DropMAC += p.DropMac
		c.DropClientID += p.DropClientid
		c.RateLimited += p.RateLimited
		c.HAOutOfScope += p.HaOutOfScope
		c.ShedDiscover += p.ShedDiscover
		c.ShedOther += p.ShedOther
		c.IrregularOutOfScope += p.IrregularOutOfScope
		c.IrregularShed += p.IrregularShed
		c.Redirected += p.Redirected
		c.XSKMissing += p.XskMissing
		c.Fragment6 += p.Fragment6
		c.ExtUnparsed6 += p.ExtUnparsed6
		c.NotRequest6 += p.NotRequest6
		c.Malformed6 += p.Malformed6
		c.DropDUID += p.DropDuid
		c.RateLimited6 += p.RateLimited6
		c.HAOutOfScope6 += p.HaOutOfScope6
		c.ShedSolicit += p.ShedSolicit
		c.ShedOther6 += p.ShedOther6
		c.IrregularOutOfScope6 += p.IrregularOutOfScope6
		c.IrregularShed6 += p.IrregularShed6
		c.Redirected6 += p.Redirected6
		c.XSKMissing6 += p.XskMissing6
	}
	return c, nil
}

func macKey(mac []byte) (k dhcpMacKey, err error) {
	k.Len, err = keyLen(mac, MaxHWAddrLen, "hardware address")
	copy(k.Addr[:], mac)
	return k, err
}

func cidKey(id []byte) (k dhcpCidKey, err error) {
	k.Len, err = keyLen(id, MaxClientIDLen, "client identifier")
	copy(k.Id[:], id)
	return k, err
}

func duidKey(id []byte) (k dhcpDuidKey, err error) {
	k.Len, err = keyLen(id, MaxDUIDLen, "DUID")
	copy(k.Id[:], id)
	return k, err
}

// keyLen checks the length of a drop-list identifier against its key's
// array.
func keyLen(id []byte, maxLen int, what string) (uint8, error) {
	if len(id) == 0 || len(id) > maxLen {
		return 0, fmt.Errorf("%w: %s of %d bytes (want 1..%d)", ErrBadKey, what, len(id), maxLen)
	}
	return uint8(len(id)), nil
}

// setOrDelete adds key (value 1) or removes it; removing an absent key is fine.
func setOrDelete(m *ebpf.Map, key any, add bool) error {
	if add {
		return m.Put(key, uint8(1))
	}
	if err := m.Delete(key); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return err
	}
	return nil
}

// updateDropList adds id to the drop list m (drop=true) or removes it;
// key makes the map key and checks the length.
func updateDropList[K any](m *ebpf.Map, key func([]byte) (K, error), id []byte, drop bool, list string) error {
	k, err := key(id)
	if err != nil {
		return err
	}
	if err := setOrDelete(m, &k, drop); err != nil {
		return fmt.Errorf("update %s drop list for %x: %w", list, id, err)
	}
	return nil
}

// DropMAC adds (drop=true) or removes a hardware address (the chaddr's hlen
// bytes, 1..16; a 6-byte MAC for Ethernet) on the drop list.
func (o *Objects) DropMAC(mac []byte, drop bool) error {
	return updateDropList(o.objs.DropMac, macKey, mac, drop, "mac")
}

// DropClientID adds or removes a client identifier (the option 61 payload
// including its type byte, 1..62 bytes) on the drop list.
func (o *Objects) DropClientID(id []byte, drop bool) error {
	return updateDropList(o.objs.DropClientid, cidKey, id, drop, "client-id")
}

// DropDUID adds or removes a DHCPv6 client DUID (the client-id option's
// data, type included, 1..128 bytes) on the drop list. The program checks
// the client message's DUID, inside Relay-forw messages too.
func (o *Objects) DropDUID(duid []byte, drop bool) error {
	return updateDropList(o.objs.DropDuid, duidKey, duid, drop, "duid")
}

// ListDroppedDUIDs returns the DUID drop list. Entries added or removed
// during the call may or may not appear.
func (o *Objects) ListDroppedDUIDs() ([][]byte, error) {
	return listDropList(o.objs.DropDuid, "duid", func(k *dhcpDuidKey) ([]byte, bool) {
		return k.Id[:min(k.Len, MaxDUIDLen)], int(k.Len) <= MaxDUIDLen
	})
}

// ListDropped returns the drop lists. Entries added or removed during the
// call may or may not appear.
func (o *Objects) ListDropped() (macs [][]byte, clientIDs [][]byte, err error) {
	macs, err = listDropList(o.objs.DropMac, "mac", func(k *dhcpMacKey) ([]byte, bool) {
		return k.Addr[:min(k.Len, MaxHWAddrLen)], int(k.Len) <= MaxHWAddrLen
	})
	if err != nil {
		return nil, nil, err
	}
	clientIDs, err = listDropList(o.objs.DropClientid, "client-id", func(k *dhcpCidKey) ([]byte, bool) {
		return k.Id[:min(k.Len, MaxClientIDLen)], int(k.Len) <= MaxClientIDLen
	})
	if err != nil {
		return nil, nil, err
	}
	return macs, clientIDs, nil
}

// listDropList copies the identifiers of the drop list m; id reads one
// from its key, false for a key whose length is out of range.
func listDropList[K any](m *ebpf.Map, list string, id func(*K) ([]byte, bool)) ([][]byte, error) {
	var (
		k   K
		v   uint8
		out [][]byte
	)
	it := m.Iterate()
	for it.Next(&k, &v) {
		if b, ok := id(&k); ok {
			out = append(out, append([]byte(nil), b...))
		}
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("iterate %s drop list: %w", list, err)
	}
	return out, nil
}

// SetOverload sets the overload level of a receive queue: 0 none, 1 shed
// DHCPDISCOVER, 2 shed everything but renew/rebind (DHCPREQUEST with ciaddr
// set and no server identifier).
func (o *Objects) SetOverload(queue int, level uint32) error {
	if err := checkQueue(queue); err != nil {
		return err
	}
	if level > MaxOverloadLevel {
		return fmt.Errorf("%w: overload level %d (want 0..%d)", ErrBadOption, level, MaxOverloadLevel)
	}
	if err := o.objs.Overload.Put(uint32(queue), level); err != nil {
		return fmt.Errorf("set overload level of queue %d: %w", queue, err)
	}
	return nil
}

// SetScopes sets which RFC 3074 hash values (see package lbhash) this server
// answers when HA is enabled: served[h] for Kea's "scope of server h % N is
// served". The table is written in one batch; packets arriving during the
// write may see a mix of the old and the new table, which is no worse than
// Kea's own scope switch racing with in-flight packets.
func (o *Objects) SetScopes(served [256]bool) error {
	return setScopes(o.objs.HaServed, served)
}

// SetScopes6 is SetScopes for the DHCPv6 HA relationship (Options.HA6Enabled),
// whose hash values are those of client DUIDs.
func (o *Objects) SetScopes6(served [256]bool) error {
	return setScopes(o.objs.HaServed6, served)
}

// setScopes writes a scope table into m, in one batch where it can.
func setScopes(m *ebpf.Map, served [256]bool) error {
	keys := make([]uint32, 257)
	vals := make([]uint8, 257)
	all := uint8(1)
	for i, s := range served {
		keys[i] = uint32(i)
		if s {
			vals[i] = 1
		} else {
			all = 0
		}
	}
	// Entry 256: every hash value is served, so a request whose options
	// the program cannot judge is in scope too.
	keys[256], vals[256] = 256, all
	if _, err := m.BatchUpdate(keys, vals, nil); err != nil {
		if !errors.Is(err, ebpf.ErrNotSupported) {
			return fmt.Errorf("write ha scope table: %w", err)
		}
		for i := range keys {
			if err := m.Put(keys[i], vals[i]); err != nil {
				return fmt.Errorf("write ha scope table entry %d: %w", i, err)
			}
		}
	}
	return nil
}

// RegisterXSK points a receive queue at an AF_XDP socket. The map holds its
// own reference; closing the socket removes the entry.
func (o *Objects) RegisterXSK(queue int, fd int) error {
	if err := checkQueue(queue); err != nil {
		return err
	}
	if fd < 0 {
		return fmt.Errorf("%w: socket fd %d", ErrBadOption, fd)
	}
	if err := o.objs.Xsks.Put(uint32(queue), uint32(fd)); err != nil {
		return fmt.Errorf("register af_xdp socket for queue %d: %w", queue, err)
	}
	return nil
}

// UnregisterXSK removes the socket of a receive queue; its packets then go to
// the kernel stack. Removing an empty slot is not an error.
func (o *Objects) UnregisterXSK(queue int) error {
	if err := checkQueue(queue); err != nil {
		return err
	}
	if err := o.objs.Xsks.Delete(uint32(queue)); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("unregister af_xdp socket for queue %d: %w", queue, err)
	}
	return nil
}

// checkQueue checks a receive queue number against the maps' size.
func checkQueue(queue int) error {
	if queue < 0 || queue >= MaxQueues {
		return fmt.Errorf("%w: queue %d (want 0..%d)", ErrBadKey, queue, MaxQueues-1)
	}
	return nil
}
