package runscript

import (
	"net/netip"
	"strconv"

	"xdhcp/hooks"
	"xdhcp/hooks/pkt6"
	"xdhcp/lease"
)

// job6 is one DHCPv6 script call, copied out of the event.
type job6 struct {
	point           hooks.Point6
	query           []byte
	iface           string
	ifIndex         int
	local, remote   netip.AddrPort
	remoteHW        [6]byte
	leases, deleted []lease.Lease6
	ia              hooks.IA6
	removeLease     bool
	// reused: a renewal the fast path answered from its cache, without a
	// lease write, whose leases6_committed kea-dhcp6 calls (for a lease it
	// reuses) with no leases.
	reused bool
}

var _ hooks.Listener6 = (*Runner)(nil)

// LeaseEvent6 implements hooks.Listener6: it queues the script call for
// the DHCPv6 hook points Kea's library handles. It never blocks.
func (r *Runner) LeaseEvent6(e *hooks.Event6) {
	switch e.Point {
	case hooks.Leases6Committed, hooks.Lease6Renew, hooks.Lease6Rebind, hooks.Lease6Release,
		hooks.Lease6Decline, hooks.Lease6Expire, hooks.Lease6Recover:
	default:
		return
	}
	if len(r.q) == cap(r.q) {
		r.drop6(e.Point)
		return
	}
	v := &job6{point: e.Point, iface: e.Iface, ifIndex: e.IfIndex, local: e.Local, remote: e.Remote,
		remoteHW: e.RemoteHW, ia: e.IA, removeLease: e.RemoveLease, reused: e.Cached,
		leases: cloneAll6(e.Leases), deleted: cloneAll6(e.Deleted)}
	if e.Query != nil {
		v.query = append([]byte(nil), e.Query...)
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		return
	}
	select {
	case r.q <- &job{v6: v}:
		r.queued.Add(1)
	default:
		r.drop6(e.Point)
	}
}

func cloneAll6(ls []lease.Lease6) []lease.Lease6 {
	if len(ls) == 0 {
		return nil
	}
	out := make([]lease.Lease6, len(ls))
	for i := range ls {
		out[i] = ls[i].Clone()
	}
	return out
}

// env is the script's environment for a DHCPv6 call, variable for
// variable as Kea 2.2's run-script library builds it in kea-dhcp6.
func (j *job6) appendEnv(b []byte) []byte {
	v := env{b: b}
	switch j.point {
	case hooks.Leases6Committed:
		v.query6("QUERY6", j)
		if j.reused {
			v.leases6("LEASES6", nil)
		} else {
			v.leases6("LEASES6", j.leases)
		}
		v.leases6("DELETED_LEASES6", j.deleted)
	case hooks.Lease6Renew, hooks.Lease6Rebind:
		v.query6("QUERY6", j)
		v.lease6("LEASE6", first6(j.leases))
		v.uint("PKT6_IA_IAID", uint64(j.ia.IAID))
		v.uint("PKT6_IA_IA_TYPE", uint64(j.ia.Code))
		v.uint("PKT6_IA_IA_T1", uint64(j.ia.T1))
		v.uint("PKT6_IA_IA_T2", uint64(j.ia.T2))
	case hooks.Lease6Release, hooks.Lease6Decline:
		v.query6("QUERY6", j)
		v.lease6("LEASE6", first6(j.leases))
	case hooks.Lease6Expire:
		v.lease6("LEASE6", first6(j.leases))
		v.bool("REMOVE_LEASE", j.removeLease)
	case hooks.Lease6Recover:
		v.lease6("LEASE6", first6(j.leases))
	}
	return v.b
}

func first6(ls []lease.Lease6) *lease.Lease6 {
	if len(ls) == 0 {
		return &lease.Lease6{}
	}
	return &ls[0]
}

// lease6 adds the <prefix>_* variables of a DHCPv6 lease.
func (v *env) lease6(prefix string, l *lease.Lease6) {
	if l.Addr.IsValid() {
		v.addr(prefix+"_ADDRESS", l.Addr)
	} else {
		v.str(prefix+"_ADDRESS", "")
	}
	v.uint(prefix+"_CLTT", uint64(l.CLTT))
	v.str(prefix+"_HOSTNAME", l.Hostname)
	// Kea's lease has no hardware address object without a MAC (a
	// declined lease's): both variables are empty then.
	v.hwaddr(prefix+"_HWADDR", l.HWAddr, byte(l.HWType), len(l.HWAddr) > 0)
	v.str(prefix+"_STATE", stateText(l.State))
	v.uint(prefix+"_SUBNET_ID", uint64(l.SubnetID))
	v.uint(prefix+"_VALID_LIFETIME", uint64(l.ValidLft))
	v.colonHex(prefix+"_DUID", l.DUID)
	v.uint(prefix+"_IAID", uint64(l.IAID))
	v.uint(prefix+"_PREFERRED_LIFETIME", uint64(l.PreferredLft))
	v.uint(prefix+"_PREFIX_LEN", uint64(l.PrefixLen))
	v.str(prefix+"_TYPE", l.Type.String())
}

// leases6 adds <prefix>_SIZE and <prefix>_AT<n>_* for each lease.
func (v *env) leases6(prefix string, ls []lease.Lease6) {
	v.uint(prefix+"_SIZE", uint64(len(ls)))
	for i := range ls {
		v.lease6(prefix+"_AT"+strconv.Itoa(i), &ls[i])
	}
}

// query6 adds the <prefix>_* variables of a DHCPv6 query. As kea-dhcp6
// 2.2 passes them, the local port is 0 (Kea does not record the port a
// query arrived on), and the remote hardware address is known only when
// the frame was seen (the XDP path): Kea's UDP sockets never see it.
func (v *env) query6(prefix string, j *job6) {
	var p pkt6.Packet
	if j.query == nil || p.Parse(j.query, j.iface, j.remote.Addr(), j.local.Addr(), nil) != nil {
		for _, s := range []string{"_TYPE", "_TXID", "_LOCAL_ADDR", "_LOCAL_PORT", "_REMOTE_ADDR",
			"_REMOTE_PORT", "_IFACE_INDEX", "_IFACE_NAME", "_PROTO", "_CLIENT_ID"} {
			v.str(prefix+s, "")
		}
		v.hwaddr(prefix+"_REMOTE_HWADDR", nil, 0, false)
		return
	}
	v.str(prefix+"_TYPE", pkt6.MessageTypeName(p.MsgType()))
	v.uint(prefix+"_TXID", uint64(p.TransID()))
	v.addr(prefix+"_LOCAL_ADDR", j.local.Addr())
	v.uint(prefix+"_LOCAL_PORT", 0)
	v.addr(prefix+"_REMOTE_ADDR", j.remote.Addr())
	v.uint(prefix+"_REMOTE_PORT", uint64(j.remote.Port()))
	v.uint(prefix+"_IFACE_INDEX", uint64(j.ifIndex))
	v.str(prefix+"_IFACE_NAME", j.iface)
	v.hwaddr(prefix+"_REMOTE_HWADDR", j.remoteHW[:], 1, j.remoteHW != [6]byte{})
	v.str(prefix+"_PROTO", "UDP")
	cid, _ := p.Option6(1)
	v.colonHex(prefix+"_CLIENT_ID", cid)
}
