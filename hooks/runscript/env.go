package runscript

import (
	"bytes"
	"net/netip"
	"strconv"

	"xdhcp/hooks"
	"xdhcp/lease"
)

// The script's environment, variable for variable as Kea 2.2's run-script
// hook library builds it, so that a script written for Kea runs unchanged.

// env builds the environment as the spawner's call message carries it:
// NAME=value entries, each ended by a NUL byte. Values are appended in
// place and the names passed in do not escape, so that building a call's
// environment allocates only when its buffer grows.
type env struct{ b []byte }

func (v *env) key(name string) { v.b = append(append(v.b, name...), '=') }
func (v *env) end()            { v.b = append(v.b, 0) }

func (v *env) str(name, value string) {
	v.key(name)
	v.b = append(v.b, value...)
	v.end()
}

func (v *env) uint(name string, x uint64) {
	v.key(name)
	v.b = strconv.AppendUint(v.b, x, 10)
	v.end()
}

func (v *env) bool(name string, b bool) {
	v.key(name)
	v.b = strconv.AppendBool(v.b, b)
	v.end()
}

// addr adds an address as netip.Addr's String writes it.
func (v *env) addr(name string, a netip.Addr) {
	v.key(name)
	if a.IsValid() {
		v.b = a.AppendTo(v.b)
	} else {
		v.b = append(v.b, a.String()...)
	}
	v.end()
}

// colonHex adds b as hooks.ColonHex writes it.
func (v *env) colonHex(name string, b []byte) {
	v.key(name)
	v.b = hooks.AppendColonHex(v.b, b)
	v.end()
}

// optionHex adds b as Kea's Option::toHexString writes it: 0x and
// upper-case hex digits.
func (v *env) optionHex(name string, b []byte) {
	const digits = "0123456789ABCDEF"
	v.key(name)
	v.b = append(v.b, "0x"...)
	for _, c := range b {
		v.b = append(v.b, digits[c>>4], digits[c&15])
	}
	v.end()
}

// strings returns the entries as strings, for a script the daemon starts
// itself.
func (v *env) strings() []string {
	var out []string
	for rest := v.b; len(rest) > 0; {
		entry, after, _ := bytes.Cut(rest, []byte{0})
		out = append(out, string(entry))
		rest = after
	}
	return out
}

// hwaddr adds <prefix> and <prefix>_TYPE (both empty without an address).
func (v *env) hwaddr(prefix string, hw []byte, htype byte, present bool) {
	if !present {
		v.str(prefix, "")
		v.str(prefix+"_TYPE", "")
		return
	}
	v.colonHex(prefix, hw)
	v.uint(prefix+"_TYPE", uint64(htype))
}

// stateText is Kea's Lease4::statesToText.
func stateText(s lease.State) string {
	switch s {
	case lease.StateDefault:
		return "default"
	case lease.StateDeclined:
		return "declined"
	case lease.StateExpiredReclaimed:
		return "expired-reclaimed"
	}
	return "unknown (" + strconv.Itoa(int(s)) + ")"
}

// lease4 adds the <prefix>_* variables of a lease (htype: the hardware
// type Kea stores with it; 1 for Ethernet).
func (v *env) lease4(prefix string, l *lease.Lease, htype byte) {
	v.addr(prefix+"_ADDRESS", l.Addr)
	v.uint(prefix+"_CLTT", uint64(l.CLTT))
	v.str(prefix+"_HOSTNAME", l.Hostname)
	// A lease always has a hardware address in Kea, if an empty one
	// (declined leases): its type is there either way.
	v.hwaddr(prefix+"_HWADDR", l.HWAddr, htype, true)
	v.str(prefix+"_STATE", stateText(l.State))
	v.uint(prefix+"_SUBNET_ID", uint64(l.SubnetID))
	v.uint(prefix+"_VALID_LIFETIME", uint64(l.ValidLft))
	v.colonHex(prefix+"_CLIENT_ID", l.ClientID)
}

// leases4 adds <prefix>_SIZE and <prefix>_AT<n>_* for each lease.
func (v *env) leases4(prefix string, ls []lease.Lease, htype byte) {
	v.uint(prefix+"_SIZE", uint64(len(ls)))
	for i := range ls {
		v.lease4(prefix+"_AT"+strconv.Itoa(i), &ls[i], htype)
	}
}

// query4 adds the <prefix>_* variables of a query.
func (v *env) query4(prefix string, j *job) {
	var p hooks.Packet
	if j.query == nil || p.Parse(j.query, j.iface, nil) != nil {
		for _, s := range []string{"_TYPE", "_TXID", "_LOCAL_ADDR", "_LOCAL_PORT", "_REMOTE_ADDR",
			"_REMOTE_PORT", "_IFACE_INDEX", "_IFACE_NAME", "_HOPS", "_SECS", "_FLAGS", "_CIADDR",
			"_SIADDR", "_YIADDR", "_GIADDR", "_RELAYED"} {
			v.str(prefix+s, "")
		}
		v.hwaddr(prefix+"_HWADDR", nil, 0, false)
		v.hwaddr(prefix+"_LOCAL_HWADDR", nil, 0, false)
		v.hwaddr(prefix+"_REMOTE_HWADDR", nil, 0, false)
		return
	}
	v.str(prefix+"_TYPE", hooks.MessageTypeName(p.MsgType))
	v.uint(prefix+"_TXID", uint64(p.XID))
	v.addr(prefix+"_LOCAL_ADDR", j.local.Addr())
	v.uint(prefix+"_LOCAL_PORT", uint64(j.local.Port()))
	v.addr(prefix+"_REMOTE_ADDR", j.remote.Addr())
	v.uint(prefix+"_REMOTE_PORT", uint64(j.remote.Port()))
	v.uint(prefix+"_IFACE_INDEX", uint64(j.ifIndex))
	v.str(prefix+"_IFACE_NAME", j.iface)
	v.uint(prefix+"_HOPS", uint64(p.Hops))
	v.uint(prefix+"_SECS", uint64(p.Secs))
	v.uint(prefix+"_FLAGS", uint64(p.Flags))
	v.addr(prefix+"_CIADDR", netip.AddrFrom4(p.Ciaddr))
	v.addr(prefix+"_SIADDR", netip.AddrFrom4(p.Siaddr))
	v.addr(prefix+"_YIADDR", netip.AddrFrom4(p.Yiaddr))
	v.addr(prefix+"_GIADDR", netip.AddrFrom4(p.Giaddr))
	v.bool(prefix+"_RELAYED", p.Giaddr != [4]byte{})
	v.hwaddr(prefix+"_HWADDR", p.MAC(), p.HType, true)
	v.hwaddr(prefix+"_LOCAL_HWADDR", j.localHW[:], 1, j.localHW != [6]byte{})
	v.hwaddr(prefix+"_REMOTE_HWADDR", j.remoteHW[:], 1, j.remoteHW != [6]byte{})
	if rai, ok := p.Option(82); ok {
		v.optionHex(prefix+"_OPTION_82", rai)
		for _, code := range []byte{1, 2} {
			if sub, ok := hooks.SubOption(rai, code); ok {
				v.optionHex(prefix+"_OPTION_82_SUB_OPTION_"+strconv.Itoa(int(code)), sub)
			}
		}
	}
}

// subnet4 adds the SUBNET4_* variables (empty when unknown).
func (v *env) subnet4(s hooks.Subnet) {
	if s.ID == 0 {
		for _, n := range []string{"_ID", "_NAME", "_PREFIX", "_PREFIX_LEN"} {
			v.str("SUBNET4"+n, "")
		}
		return
	}
	v.uint("SUBNET4_ID", uint64(s.ID))
	v.str("SUBNET4_NAME", s.Prefix.String())
	v.addr("SUBNET4_PREFIX", s.Prefix.Addr())
	v.uint("SUBNET4_PREFIX_LEN", uint64(s.Prefix.Bits()))
}

// env returns the script's environment for j.
func (j *job) env() []string {
	v := env{b: j.appendEnv(nil)}
	return v.strings()
}

// appendEnv appends the script's environment for j to b, as env builds
// it.
func (j *job) appendEnv(b []byte) []byte {
	if j.v6 != nil {
		return j.v6.appendEnv(b)
	}
	v := env{b: b}
	switch j.point {
	case hooks.Leases4Committed:
		v.query4("QUERY4", j)
		if j.reused {
			v.leases4("LEASES4", nil, j.htype)
		} else {
			v.leases4("LEASES4", j.leases, j.htype)
		}
		v.leases4("DELETED_LEASES4", j.deleted, j.htype)
	case hooks.Lease4Renew:
		v.query4("QUERY4", j)
		v.subnet4(j.subnet)
		var l lease.Lease
		if len(j.leases) > 0 {
			l = j.leases[0]
		}
		var p hooks.Packet
		okQ := j.query != nil && p.Parse(j.query, j.iface, nil) == nil
		if cid, ok := p.Option(61); okQ && ok {
			v.colonHex("PKT4_CLIENT_ID", cid)
		} else {
			v.str("PKT4_CLIENT_ID", "")
		}
		v.hwaddr("PKT4_HWADDR", p.MAC(), p.HType, okQ)
		v.lease4("LEASE4", &l, j.htype)
	case hooks.Lease4Release, hooks.Lease4Decline:
		v.query4("QUERY4", j)
		v.lease4("LEASE4", firstOf(j.leases), j.htype)
	case hooks.Lease4Expire:
		v.lease4("LEASE4", firstOf(j.leases), j.htype)
		v.bool("REMOVE_LEASE", j.removeLease)
	case hooks.Lease4Recover:
		v.lease4("LEASE4", firstOf(j.leases), j.htype)
	}
	return v.b
}

func firstOf(ls []lease.Lease) *lease.Lease {
	if len(ls) == 0 {
		return &lease.Lease{}
	}
	return &ls[0]
}
