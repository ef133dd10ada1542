package slowpath6

import (
	"bytes"
	"errors"
	"net/netip"

	"xdhcp/config"
	"xdhcp/dhcp6"
	"xdhcp/lease"
)

// The Client FQDN option's flags (RFC 4704 §4.1).
const (
	fqdnFlagS = 0x01 // the server should update the AAAA record
	fqdnFlagO = 0x02 // the server overrode the client's S
	fqdnFlagN = 0x04 // the server should not update DNS
)

// maxDomainName is the longest domain name in wire format, root label
// included (RFC 1035 §2.3.4).
const maxDomainName = 255

var (
	errFQDNShort     = errors.New("client FQDN option without its flags")
	errFQDNFlags     = errors.New("client FQDN option with both S and N set")
	errFQDNLabel     = errors.New("client FQDN option with a compressed or extended label")
	errFQDNTruncated = errors.New("client FQDN option's name runs past the option")
	errFQDNLong      = errors.New("client FQDN option's name longer than 255 bytes")
	errFQDNEmpty     = errors.New("domain name with an empty label")
)

// parseClientFQDN reads a Client FQDN option's content: its flags, its
// domain name as wire labels without the root label, and whether the name
// is fully qualified. A name is partial when the option holds no zero
// byte, as kea-dhcp6 tells them apart; a full name ends at its root label
// (anything after it is ignored). The S and N flags together, a
// compression pointer or a name running past the option are errors: Kea
// drops such a packet as unparsable.
func parseClientFQDN(b []byte) (flags byte, labels []byte, full bool, err error) {
	if len(b) < 1 {
		return 0, nil, false, errFQDNShort
	}
	flags = b[0]
	if flags&fqdnFlagS != 0 && flags&fqdnFlagN != 0 {
		return 0, nil, false, errFQDNFlags
	}
	name := b[1:]
	full = bytes.IndexByte(name, 0) >= 0
	i := 0
	for i < len(name) {
		n := int(name[i])
		if n == 0 {
			break
		}
		if n >= 0x40 {
			return 0, nil, false, errFQDNLabel
		}
		if i+1+n > len(name) {
			return 0, nil, false, errFQDNTruncated
		}
		i += 1 + n
	}
	if i+1 > maxDomainName {
		return 0, nil, false, errFQDNLong
	}
	return flags, name[:i], full, nil
}

// fqdnState is what an exchange does with a Client FQDN: the reply's
// option (out: flags and name) and the host name its leases get.
type fqdnState struct {
	present bool // the request carries a Client FQDN option
	flags   byte // the client's flags
	labels  []byte
	full    bool
	// name is the reply's domain name in wire format without the root
	// label; nameFull says the reply sends it fully qualified.
	name     []byte
	nameFull bool
	// host is the host name the exchange's leases are stored with.
	host string
	out  []byte
	text []byte // scratch for names in text form
}

func (f *fqdnState) reset() {
	f.present, f.host, f.labels = false, "", nil
	f.name, f.out, f.text = f.name[:0], f.out[:0], f.text[:0]
}

// readFQDN parses the request's Client FQDN option, if any. False: the
// option is malformed and the packet is to be dropped as unparsable.
func (ex *exchange) readFQDN() bool {
	f := &ex.fq
	f.reset()
	b, ok := ex.p.Msg.Options.Get(dhcp6.OptClientFQDN)
	if !ok {
		return true
	}
	var err error
	if f.flags, f.labels, f.full, err = parseClientFQDN(b); err != nil {
		return false
	}
	f.present = true
	return true
}

// hostnameRules are the naming rules of the selected subnet (a client
// without one gets the defaults, as in Kea).
func (ex *exchange) hostnameRules() *config.HostnameRules {
	if ex.sn != nil {
		return &ex.sn.cfg.Hostnames
	}
	return &noHostnameRules
}

var noHostnameRules config.HostnameRules

// decideFQDN chooses, before any lease is bound, the host name of the
// exchange's leases and the Client FQDN option of the reply, as
// kea-dhcp6 2.2 does with DNS updates off:
//   - flags: N set, S clear, O set when the client asked for S;
//   - name: the reservation's hostname, qualified; none (to be generated
//     from the address) when ddns-replace-client-name is always or
//     when-present or the client sent an empty name; else the client's,
//     each label cleaned by hostname-char-set, a partial name qualified
//     with ddns-qualifying-suffix; lowercased, sent fully qualified;
//   - the leases take that name as text with its final dot;
//   - without the option: no option in the reply, the leases take the
//     reservation's hostname as configured.
//
// False: the name cannot be made a domain name (Kea drops the request).
func (ex *exchange) decideFQDN() bool {
	f := &ex.fq
	reserved := ""
	if ex.res != nil {
		reserved = ex.res.Hostname
	}
	if !f.present {
		f.host = reserved
		return true
	}
	h := ex.hostnameRules()
	f.nameFull = true
	var err error
	switch {
	case reserved != "":
		f.text = qualifyText(append(f.text[:0], reserved...), h.QualifyingSuffix)
		f.name, err = appendLabels(f.name[:0], f.text)
	case h.Replace == "always" || h.Replace == "when-present" || (len(f.labels) == 0 && !f.full):
		f.name, f.nameFull = f.name[:0], false
	case h.CharSet != nil:
		f.text = f.text[:0]
		for l := range eachLabel(f.labels) {
			if len(f.text) > 0 {
				f.text = append(f.text, '.')
			}
			if h.CharSet.Match(l) {
				l = h.CharSet.ReplaceAllLiteral(l, []byte(h.CharReplacement))
			}
			f.text = append(f.text, l...)
		}
		if !f.full {
			f.text = qualifyText(f.text, h.QualifyingSuffix)
		}
		f.name, err = appendLabels(f.name[:0], f.text)
	default:
		f.name = append(f.name[:0], f.labels...)
		if !f.full {
			f.name, err = appendLabels(f.name, append(f.text[:0], h.QualifyingSuffix...))
		}
	}
	if err != nil || len(f.name)+1 > maxDomainName {
		return false
	}
	lowerASCII(f.name)
	f.host = hostText(f.name, f.nameFull)
	return true
}

// finishFQDN completes the reply's Client FQDN option once the IAs are
// answered: a name still empty is generated from the first address of
// the reply's first IA_NA (prefix-address with its colons as dashes,
// qualified), and the lease of that address alone is stored with it, as
// kea-dhcp6 does. An Advertise commits nothing: its option keeps the
// empty name (even for an address the client holds, as in Kea).
func (ex *exchange) finishFQDN() {
	f := &ex.fq
	if !f.present {
		return
	}
	if len(f.name) == 0 && !f.nameFull && ex.reply == dhcp6.Reply {
		if a, ok := firstIANAAddr(ex.ias.B); ok {
			ex.generateFQDN(a)
		}
	}
	out := append(f.out[:0], fqdnFlagN)
	if f.flags&fqdnFlagS != 0 {
		out[0] |= fqdnFlagO
	}
	out = append(out, f.name...)
	if f.nameFull {
		out = append(out, 0)
	}
	f.out = out
}

// generateFQDN names the client after its address a.
func (ex *exchange) generateFQDN(a netip.Addr) {
	f := &ex.fq
	h := ex.hostnameRules()
	prefix := h.GeneratedPrefix
	t := append(f.text[:0], prefix...)
	t = append(t, '-')
	start := len(t)
	t = a.AppendTo(t)
	for i := start; i < len(t); i++ {
		if t[i] == ':' || t[i] == '.' {
			t[i] = '-'
		}
	}
	t = qualifyText(t, h.QualifyingSuffix)
	f.text = t
	name, err := appendLabels(f.name[:0], t)
	if err != nil || len(name)+1 > maxDomainName {
		return
	}
	// The lease keeps the name as generated (the suffix as configured);
	// the option carries it lowercased.
	host := string(t) + "."
	found := false
	for i := range ex.ops {
		if op := &ex.ops[i]; op.Kind == lease.OpPut && op.Lease.Type == lease.TypeNA && op.Lease.Addr == a {
			op.Lease.Hostname, found = host, true
		}
	}
	if !found {
		return // not the client's lease: no name
	}
	lowerASCII(name)
	f.name, f.nameFull = name, true
}

// firstIANAAddr is the first address of the first IA_NA in the IA
// options ias.
func firstIANAAddr(ias []byte) (netip.Addr, bool) {
	it := dhcp6.Options(ias).Iter()
	for it.Next() {
		if it.Code != dhcp6.OptIANA {
			continue
		}
		ia, err := dhcp6.ParseIA(it.Code, it.Data)
		if err != nil {
			return netip.Addr{}, false
		}
		v, ok := ia.Options.Get(dhcp6.OptIAAddr)
		if !ok {
			return netip.Addr{}, false
		}
		a, err := dhcp6.ParseIAAddr(v)
		if err != nil {
			return netip.Addr{}, false
		}
		return netip.AddrFrom16(a.Addr), true
	}
	return netip.Addr{}, false
}

// qualifyText appends suffix to the name t as Kea's qualifyName does: a
// dot between them unless t ends with one; an empty suffix leaves t.
func qualifyText(t []byte, suffix string) []byte {
	if suffix == "" {
		return t
	}
	if len(t) > 0 && t[len(t)-1] != '.' {
		t = append(t, '.')
	}
	return append(t, suffix...)
}

// appendLabels appends the dotted name t to b as wire labels (a final dot
// is the root; an empty label elsewhere or one over 63 bytes is an
// error).
func appendLabels(b, t []byte) ([]byte, error) {
	if len(t) > 0 && t[len(t)-1] == '.' {
		t = t[:len(t)-1]
	}
	if len(t) == 0 {
		return b, nil
	}
	for {
		i := bytes.IndexByte(t, '.')
		l := t
		if i >= 0 {
			l = t[:i]
		}
		if len(l) == 0 {
			return b, errFQDNEmpty
		}
		if len(l) >= 0x40 {
			return b, errFQDNLabel
		}
		b = append(b, byte(len(l)))
		b = append(b, l...)
		if i < 0 {
			return b, nil
		}
		t = t[i+1:]
	}
}

// eachLabel yields the labels of a name in wire format.
func eachLabel(wire []byte) func(yield func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for len(wire) > 0 {
			n := int(wire[0])
			if n == 0 || 1+n > len(wire) {
				return
			}
			if !yield(wire[1 : 1+n]) {
				return
			}
			wire = wire[1+n:]
		}
	}
}

// hostText is the name in wire format as Kea writes a domain name: labels
// joined by dots, characters special in zone files escaped with a
// backslash and others outside printable ASCII as \DDD, a final dot for a
// full name (the root alone is ".").
func hostText(wire []byte, full bool) string {
	var buf [maxDomainName * 4]byte
	t := buf[:0]
	for l := range eachLabel(wire) {
		for _, c := range l {
			switch {
			case c == '"' || c == '(' || c == ')' || c == '.' || c == ';' || c == '\\' || c == '@' || c == '$':
				t = append(t, '\\', c)
			case c > 0x20 && c < 0x7f:
				t = append(t, c)
			default:
				t = append(t, '\\', '0'+c/100, '0'+c/10%10, '0'+c%10)
			}
		}
		t = append(t, '.')
	}
	if len(t) == 0 && full {
		return "."
	}
	if !full && len(t) > 0 {
		t = t[:len(t)-1]
	}
	return string(t)
}

// lowerASCII lowercases A-Z in b (a name's length bytes are below 64, so
// the wire format lowercases as its text does).
func lowerASCII(b []byte) {
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
}

// prepareFQDN decides the exchange's host name for the message types
// Kea gives one (Solicit, Request, Renew, Rebind); the others neither
// answer nor store a Client FQDN. False: the request is to be dropped.
func (ex *exchange) prepareFQDN(t dhcp6.MsgType) bool {
	switch t {
	case dhcp6.Solicit, dhcp6.Request, dhcp6.Renew, dhcp6.Rebind:
		return ex.decideFQDN()
	}
	ex.fq.present = false
	return true
}
