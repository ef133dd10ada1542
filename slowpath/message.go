package slowpath

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// message is a DHCPv4 message read in place: the header fields, and the
// options with values that point into the packet. Only an option that
// appears more than once (RFC 3396 concatenation, or continued in an
// overloaded sname/file field) gets a value of its own. Parsing one
// allocates nothing, which insomniacslk's decoder (a map, IPs and strings
// per message) cannot offer on the path every new lease takes.
type message struct {
	op, htype, hlen, hops byte
	xid                   [4]byte
	secs, flags           uint16
	ciaddr, yiaddr        [4]byte
	siaddr, giaddr        [4]byte
	// chaddr is the client hardware address, hlen bytes (at most 16).
	chaddr []byte
	opts   []option // in order of first appearance
	arr    [24]option
	// irregular is set when an option was repeated or truncated: the
	// message is not the one option per code, in wire order, that the fast
	// path reads (see fingerprint).
	irregular bool
}

type option struct {
	code byte
	val  []byte
}

// Message decoding errors.
var (
	errShortMessage = errors.New("message shorter than the BOOTP header and magic cookie")
	errBadCookie    = errors.New("no DHCP magic cookie")
	// errOverload is a malformed option overload (RFC 2131 §4.1, option 52).
	errOverload = errors.New("malformed option overload")
)

var magicCookie = [4]byte{99, 130, 83, 99}

// parse reads b into m. A message whose options run to the end of the
// packet without End is accepted, and an option truncated by the end of
// the packet ends the options, keeping those before it: both as Kea 2.2
// does (LibDHCP::unpackOptions4). Option overload (52) is followed: the
// options continued in file and then sname are appended (RFC 3396 order);
// there a truncated option or a second option 52 is an error (errOverload),
// as those fields have a fixed size that a sender cannot run out of.
func (m *message) parse(b []byte) error {
	if len(b) < offOptions {
		return errShortMessage
	}
	if [4]byte(b[offCookie:offOptions]) != magicCookie {
		return errBadCookie
	}
	m.op, m.htype, m.hlen, m.hops = b[0], b[offHType], b[offHLen], b[offHops]
	m.xid = [4]byte(b[4:8])
	m.secs = binary.BigEndian.Uint16(b[8:10])
	m.flags = binary.BigEndian.Uint16(b[10:12])
	m.ciaddr, m.yiaddr = [4]byte(b[12:16]), [4]byte(b[16:20])
	m.siaddr, m.giaddr = [4]byte(b[20:24]), [4]byte(b[24:28])
	m.chaddr = b[offChaddr : offChaddr+int(min(m.hlen, chaddrMax))]
	m.opts = m.arr[:0]
	m.irregular = false
	for i, o := offOptions, b; i < len(o); {
		code := o[i]
		if code == 0 {
			i++
			continue
		}
		if code == 255 {
			break
		}
		if i+1 >= len(o) || i+2+int(o[i+1]) > len(o) {
			m.irregular = true
			break // a truncated last option: dropped, as Kea does
		}
		n := int(o[i+1])
		m.add(code, o[i+2:i+2+n])
		i += 2 + n
	}
	v, ok := m.get(optOverload)
	if !ok {
		return nil
	}
	if len(v) != 1 || v[0] < 1 || v[0] > 3 {
		return errOverload
	}
	if v[0]&1 != 0 {
		if err := m.parseField(b[offFile:offCookie]); err != nil {
			return err
		}
	}
	if v[0]&2 != 0 {
		return m.parseField(b[offSname:offFile])
	}
	return nil
}

// parseField reads options from an overloaded sname or file field: pad is
// skipped, End (or the end of the field) stops, an option running past the
// field is an error, and option 52 itself may not appear again (RFC 2131
// §4.1).
func (m *message) parseField(b []byte) error {
	for i := 0; i < len(b); {
		code := b[i]
		switch code {
		case 0:
			i++
			continue
		case 255:
			return nil
		case optOverload:
			return errOverload
		}
		if i+1 >= len(b) || i+2+int(b[i+1]) > len(b) {
			return errOverload
		}
		n := int(b[i+1])
		m.add(code, b[i+2:i+2+n])
		i += 2 + n
	}
	return nil
}

// add records an option instance; a repeated code concatenates into a
// value of its own (never written into the packet).
func (m *message) add(code byte, v []byte) {
	for k := range m.opts {
		if o := &m.opts[k]; o.code == code {
			o.val = append(o.val[:len(o.val):len(o.val)], v...)
			m.irregular = true
			return
		}
	}
	m.opts = append(m.opts, option{code: code, val: v[:len(v):len(v)]})
}

// get returns the value of option code and whether the message has it
// (an option of length 0 is present with an empty value).
func (m *message) get(code byte) ([]byte, bool) {
	for k := range m.opts {
		if m.opts[k].code == code {
			return m.opts[k].val, true
		}
	}
	return nil, false
}

// optionValue is the value of option code, nil when absent.
func (m *message) optionValue(code byte) []byte {
	v, _ := m.get(code)
	return v
}

// has reports whether the message carries option code.
func (m *message) has(code byte) bool {
	_, ok := m.get(code)
	return ok
}

// broadcast is the BROADCAST flag (RFC 2131 §2).
func (m *message) broadcast() bool { return m.flags&0x8000 != 0 }

// addrOf returns a header address as a netip.Addr; the zero Addr for
// 0.0.0.0.
func addrOf(a [4]byte) netip.Addr {
	if a == [4]byte{} {
		return netip.Addr{}
	}
	return netip.AddrFrom4(a)
}

// fingerprint is the fast path's fingerprint of the request
// (dhcpview.View.Fingerprint, which the lease cache compares on a renewal),
// computed from the parsed message rather than by parsing the packet
// again: FNV-1a over htype, hlen, chaddr and giaddr, then over every option
// (code, length, value) in wire order but those a renewal legitimately
// changes or that change nothing in the reply. ok is false for a message
// the fast path cannot read in place (a repeated, truncated or overloaded
// option), whose renewals it can never answer.
func (m *message) fingerprint() (fp uint64, ok bool) {
	if m.irregular || m.has(optOverload) {
		return 0, false
	}
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	h = (h ^ uint64(m.htype)) * prime
	h = (h ^ uint64(m.hlen)) * prime
	for _, c := range m.chaddr {
		h = (h ^ uint64(c)) * prime
	}
	for _, c := range m.giaddr {
		h = (h ^ uint64(c)) * prime
	}
	for _, o := range m.opts {
		switch o.code {
		case optRequestedIP, optServerID, optLeaseTime, optMaxMsgSize:
			continue
		}
		h = (h ^ uint64(o.code)) * prime
		h = (h ^ uint64(len(o.val))) * prime
		for _, c := range o.val {
			h = (h ^ uint64(c)) * prime
		}
	}
	return h, true
}
