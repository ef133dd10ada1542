package keadiff

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// Diff is one field in which the two answers differ.
type Diff struct {
	Field   string // "answer", "to", "yiaddr", "flags", "option 61", …
	Kea, XD string
}

// Compare lists where xdhcpd's answer differs from Kea's. Both silent is
// no difference. Header fields and every option are compared byte for byte
// (the order of options is not), with one rule for yiaddr: an address Kea
// gives from a pool may differ from xdhcpd's as long as both lie in the
// same pool of the same subnet; a reserved address, or one outside every
// pool, must be the same; ciaddr, which a renewal sets to the address it
// got, follows the same rule. "to" is where the answer was sent: IPv4
// address ("yiaddr" or "ciaddr" when it is the client's) and UDP port.
func Compare(p *Plan, kea, xd *Reply) []Diff {
	switch {
	case kea == nil && xd == nil:
		return nil
	case kea == nil || xd == nil:
		return []Diff{{Field: "answer", Kea: describe(kea), XD: describe(xd)}}
	}
	var out []Diff
	add := func(field string, k, x any) {
		ks, xs := fmt.Sprint(k), fmt.Sprint(x)
		if ks != xs {
			out = append(out, Diff{field, ks, xs})
		}
	}
	km, xm := kea.Msg, xd.Msg
	add("to", destination(kea), destination(xd))
	add("op", km.OpCode, xm.OpCode)
	add("htype", km.HWType, xm.HWType)
	add("hops", km.HopCount, xm.HopCount)
	add("xid", km.TransactionID, xm.TransactionID)
	add("secs", km.NumSeconds, xm.NumSeconds)
	add("flags", fmt.Sprintf("%#04x", km.Flags), fmt.Sprintf("%#04x", xm.Flags))
	for _, f := range []struct {
		name string
		k, x net.IP
	}{{"ciaddr", km.ClientIPAddr, xm.ClientIPAddr}, {"yiaddr", km.YourIPAddr, xm.YourIPAddr}} {
		if d, ok := compareAddr(p, f.name, f.k, f.x); !ok {
			out = append(out, d)
		}
	}
	add("siaddr", km.ServerIPAddr, xm.ServerIPAddr)
	add("giaddr", km.GatewayIPAddr, xm.GatewayIPAddr)
	add("chaddr", km.ClientHWAddr, xm.ClientHWAddr)
	add("sname", fmt.Sprintf("%q", km.ServerHostName), fmt.Sprintf("%q", xm.ServerHostName))
	add("file", fmt.Sprintf("%q", km.BootFileName), fmt.Sprintf("%q", xm.BootFileName))
	codes := map[uint8]bool{}
	for c := range km.Options {
		codes[c] = true
	}
	for c := range xm.Options {
		codes[c] = true
	}
	sorted := make([]uint8, 0, len(codes))
	for c := range codes {
		sorted = append(sorted, c)
	}
	slices.Sort(sorted)
	for _, c := range sorted {
		kv, kok := km.Options[c]
		xv, xok := xm.Options[c]
		if kok == xok && bytes.Equal(kv, xv) {
			continue
		}
		out = append(out, Diff{Field: fmt.Sprintf("option %d", c), Kea: optionText(c, kv, kok), XD: optionText(c, xv, xok)})
	}
	return out
}

// destination says where an answer went; an answer unicast to the
// client's own address (yiaddr or ciaddr) says so rather than name it,
// since that address may differ between the servers (see Compare).
func destination(r *Reply) string {
	dst := r.DstIP.String()
	yi, _ := netip.AddrFromSlice(r.Msg.YourIPAddr.To4())
	ci, _ := netip.AddrFromSlice(r.Msg.ClientIPAddr.To4())
	switch {
	case r.DstIP == yi && !yi.IsUnspecified():
		dst = "yiaddr"
	case r.DstIP == ci && !ci.IsUnspecified():
		dst = "ciaddr"
	}
	return fmt.Sprintf("%s:%d", dst, r.DstPort)
}

// compareAddr applies the yiaddr rule of Compare to a client address field
// (yiaddr; ciaddr, which a renewing client sets to the address it got).
func compareAddr(p *Plan, field string, k, x net.IP) (Diff, bool) {
	ka, _ := netip.AddrFromSlice(k.To4())
	xa, _ := netip.AddrFromSlice(x.To4())
	if ka == xa {
		return Diff{}, true
	}
	kp, xp := p.PoolOf(ka), p.PoolOf(xa)
	if kp != "" && kp == xp && !p.Reserved(ka) && !p.Reserved(xa) {
		return Diff{}, true
	}
	where := func(a netip.Addr, pool string) string {
		switch {
		case p.Reserved(a):
			return a.String() + " (reserved)"
		case pool == "":
			return a.String() + " (in no pool)"
		}
		return a.String() + " (" + pool + ")"
	}
	return Diff{Field: field, Kea: where(ka, kp), XD: where(xa, xp)}, false
}

// optionText shows an option's value: hex, with its name and printable
// text where that helps a reader.
func optionText(code uint8, v []byte, ok bool) string {
	if !ok {
		return "absent"
	}
	s := hex.EncodeToString(v)
	if printable(v) && len(v) > 0 {
		s += fmt.Sprintf(" %q", v)
	}
	return fmt.Sprintf("%s=%s", dhcpv4.GenericOptionCode(code), s)
}

func printable(v []byte) bool {
	for _, b := range v {
		if b < 0x20 || b > 0x7e {
			return false
		}
	}
	return true
}
