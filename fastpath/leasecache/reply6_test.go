package leasecache

import (
	"bytes"
	"errors"
	"net"
	"reflect"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"

	"xdhcp/dhcp6"
	"xdhcp/fastpath/frame"
	"xdhcp/handoff"
)

var (
	clientDUID = []byte{0, 1, 0, 1, 0x2c, 0x3d, 0x4e, 0x5f, 0x02, 0, 0, 0, 0, 0x01}
	serverDUID = []byte{0, 1, 0, 1, 0x11, 0x22, 0x33, 0x44, 0x02, 0, 0, 0, 0, 0xfe}
	leaseAddr  = [16]byte{0x20, 0x01, 0x0d, 0xb8, 1, 15: 0x42}
	leasePfx   = [16]byte{0x20, 0x01, 0x0d, 0xb8, 0x80, 0x01, 0x20}
	clientLL   = [16]byte{0xfe, 0x80, 15: 0x11}
	serverLL   = [16]byte{0xfe, 0x80, 15: 0xfe}
	allAgents  = [16]byte{0xff, 0x02, 13: 1, 15: 2}
	dnsOption  = []byte{0, 23, 0, 16, 0x20, 0x01, 0x0d, 0xb8, 15 + 4: 0x53}
)

const t0 = 1_700_000_000

// entry6 is a client with one address (IA_NA 1) and one /56 (IA_PD 2),
// granted at t0 for 4000 s valid, 3000 s preferred, cache-threshold 0.25.
func entry6() *Entry6 {
	e := &Entry6{DUID: bytes.Clone(clientDUID), ServerDUID: bytes.Clone(serverDUID), MaxAge: -1, Threshold: 0.25, Options: dnsOption,
		IAs: []handoff.CachedIA6{
			{Type: handoff.OptionIANA, IAID: 1, CalcTee: true, T1Pct: 0.5, T2Pct: 0.8,
				Leases: []handoff.CachedLease6Addr{{Addr: leaseAddr, PrefixLen: 128, CLTT: t0,
					ValidLft: 4000, PreferredLft: 3000, NewValid: 4000, NewPreferred: 3000}}},
			{Type: handoff.OptionIAPD, IAID: 2, HasT1: true, RenewTimer: 1000, HasT2: true, RebindTimer: 1600,
				Leases: []handoff.CachedLease6Addr{{Addr: leasePfx, PrefixLen: 56, CLTT: t0,
					ValidLft: 4000, PreferredLft: 3000, NewValid: 4000, NewPreferred: 3000}}},
		}}
	e.Fingerprint, _ = handoff.Fingerprint6(renewMsg(dhcp6.Renew, true, nil))
	return e
}

// renewMsg is the client's Renew (with server-id) or Rebind for both IAs,
// with the lifetime hints a client copies from its lease; extra options
// are appended.
func renewMsg(t dhcp6.MsgType, withSID bool, extra []byte) []byte {
	var b dhcp6.Builder
	b.Header(t, [3]byte{0xaa, 0xbb, 0xcc})
	b.Option(dhcp6.OptClientID, clientDUID)
	if withSID {
		b.Option(dhcp6.OptServerID, serverDUID)
	}
	b.Option(dhcp6.OptORO, []byte{0, 23})
	b.OptionU16(dhcp6.OptElapsedTime, 0)
	m := b.IA(dhcp6.OptIANA, 1, 0, 0)
	b.End(b.IAAddr(leaseAddr, 3000, 4000))
	b.End(m)
	m = b.IA(dhcp6.OptIAPD, 2, 0, 0)
	b.End(b.IAPrefix(leasePfx, 56, 3000, 4000))
	b.End(m)
	b.Bytes(extra)
	return b.B
}

var reqMeta6 = handoff.Meta6{SrcMAC: [6]byte{2, 0, 0, 0, 0, 0x11}, DstMAC: [6]byte{0x33, 0x33, 0, 1, 0, 2},
	SrcIP: clientLL, DstIP: allAgents, SrcPort: 546, DstPort: 547}

// decodeReply6 parses the frame and decodes its DHCPv6 Reply with
// insomniacslk's decoder.
func decodeReply6(t *testing.T, f []byte) (*handoff.Meta6, *dhcpv6.Message) {
	t.Helper()
	var m handoff.Meta6
	p, err := frame.Parse6(f, &m)
	if err != nil {
		t.Fatal(err)
	}
	d, err := dhcpv6.FromBytes(p)
	if err != nil {
		t.Fatalf("decode reply: %v", err)
	}
	msg, ok := d.(*dhcpv6.Message)
	if !ok {
		t.Fatalf("reply is a %T", d)
	}
	return &m, msg
}

func TestAnswerRenew6Lifetimes(t *testing.T) {
	for _, tc := range []struct {
		typ     dhcp6.MsgType
		sid     bool
		age     int64
		pref    uint32
		valid   uint32
		t1, t2  time.Duration
		comment string
	}{
		{dhcp6.Renew, true, 0, 3000, 4000, 1500 * time.Second, 2400 * time.Second, "at once"},
		{dhcp6.Renew, true, 600, 2400, 3400, 1200 * time.Second, 1920 * time.Second, "10 minutes on"},
		{dhcp6.Rebind, false, 1000, 2000, 3000, 1000 * time.Second, 1600 * time.Second, "rebind at the threshold (4000 x 0.25)"},
	} {
		t.Run(tc.comment, func(t *testing.T) {
			e := entry6()
			buf := make([]byte, 1514)
			var r Reply6
			n, err := AnswerRenew6(buf, &r, renewMsg(tc.typ, tc.sid, nil), &reqMeta6, 3, e, t0+tc.age, [6]byte{2, 0, 0, 0, 0, 0xfe}, serverLL)
			if err != nil {
				t.Fatal(err)
			}
			m, msg := decodeReply6(t, buf[:n])
			if m.SrcIP != serverLL || m.DstIP != clientLL || m.SrcPort != 547 || m.DstPort != 546 ||
				m.DstMAC != reqMeta6.SrcMAC || m.SrcMAC != [6]byte{2, 0, 0, 0, 0, 0xfe} {
				t.Errorf("addressing %+v", m)
			}
			if msg.MessageType != dhcpv6.MessageTypeReply || msg.TransactionID != [3]byte{0xaa, 0xbb, 0xcc} {
				t.Errorf("type %v xid %x", msg.MessageType, msg.TransactionID)
			}
			if !bytes.Equal(msg.Options.ClientID().ToBytes(), clientDUID) || !bytes.Equal(msg.Options.ServerID().ToBytes(), serverDUID) {
				t.Errorf("client-id %v server-id %v", msg.Options.ClientID(), msg.Options.ServerID())
			}
			na := msg.Options.OneIANA()
			if na == nil || na.IaId != [4]byte{0, 0, 0, 1} || len(na.Options.Addresses()) != 1 {
				t.Fatalf("IA_NA %v", na)
			}
			a := na.Options.Addresses()[0]
			if !a.IPv6Addr.Equal(net.IP(leaseAddr[:])) || a.PreferredLifetime != time.Duration(tc.pref)*time.Second ||
				a.ValidLifetime != time.Duration(tc.valid)*time.Second {
				t.Errorf("IAADDR %v, want %d/%d", a, tc.pref, tc.valid)
			}
			// calculate-tee-times: 50% and 80% of the preferred lifetime sent.
			if na.T1 != time.Duration(tc.pref/2)*time.Second || na.T2 != time.Duration(tc.pref*8/10)*time.Second {
				t.Errorf("IA_NA T1 %v T2 %v", na.T1, na.T2)
			}
			pd := msg.Options.OneIAPD()
			if pd == nil || pd.IaId != [4]byte{0, 0, 0, 2} || len(pd.Options.Prefixes()) != 1 {
				t.Fatalf("IA_PD %v", pd)
			}
			p := pd.Options.Prefixes()[0]
			if ones, _ := p.Prefix.Mask.Size(); ones != 56 || !p.Prefix.IP.Equal(net.IP(leasePfx[:])) ||
				p.PreferredLifetime != time.Duration(tc.pref)*time.Second || p.ValidLifetime != time.Duration(tc.valid)*time.Second {
				t.Errorf("IAPREFIX %v", p)
			}
			if pd.T1 != 1000*time.Second || pd.T2 != 1600*time.Second {
				t.Errorf("IA_PD T1 %v T2 %v (configured 1000/1600)", pd.T1, pd.T2)
			}
			if dns := msg.Options.DNS(); len(dns) != 1 || !dns[0].Equal(net.ParseIP("2001:db8::53")) {
				t.Errorf("DNS %v", dns)
			}
		})
	}
}

func TestAnswerRenew6Refuses(t *testing.T) {
	other := bytes.Clone(serverDUID)
	other[len(other)-1] = 1
	swap := func(b []byte, from, to []byte) []byte { return bytes.Replace(bytes.Clone(b), from, to, 1) }
	renew := renewMsg(dhcp6.Renew, true, nil)
	onlyNA := func() []byte {
		var b dhcp6.Builder
		b.Header(dhcp6.Renew, [3]byte{1, 2, 3})
		b.Option(dhcp6.OptClientID, clientDUID)
		b.Option(dhcp6.OptServerID, serverDUID)
		b.Option(dhcp6.OptORO, []byte{0, 23})
		m := b.IA(dhcp6.OptIANA, 1, 0, 0)
		b.End(b.IAAddr(leaseAddr, 0, 0))
		b.End(m)
		return b.B
	}()
	unicast := reqMeta6
	unicast.DstIP = [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 1}
	cases := []struct {
		name string
		msg  []byte
		meta *handoff.Meta6
		now  int64
		edit func(*Entry6)
	}{
		{"another server", swap(renew, serverDUID, other), nil, t0, nil},
		{"rebind naming a server", renewMsg(dhcp6.Rebind, true, nil), nil, t0, nil},
		{"renew naming none", renewMsg(dhcp6.Renew, false, nil), nil, t0, nil},
		{"another client", renew, nil, t0, func(e *Entry6) { e.DUID = other }},
		{"another ORO", swap(renew, []byte{0, 6, 0, 2, 0, 23}, []byte{0, 6, 0, 2, 0, 24}), nil, t0, nil},
		{"a vendor class added", renewMsg(dhcp6.Renew, true, []byte{0, 16, 0, 4, 0, 0, 0, 9}), nil, t0, nil},
		{"an address not ours", swap(renew, leaseAddr[:], make([]byte, 16)), nil, t0, nil},
		{"a prefix of another length", swap(renew, []byte{56, 0x20, 0x01}, []byte{48, 0x20, 0x01}), nil, t0, nil},
		{"an unknown IAID", swap(renew, []byte{0, 3, 0, 40, 0, 0, 0, 1}, []byte{0, 3, 0, 40, 0, 0, 0, 9}), nil, t0, nil},
		{"an IA_TA", renewMsg(dhcp6.Renew, true, []byte{0, 4, 0, 4, 0, 0, 0, 7}), nil, t0, nil},
		{"an address listed twice", renew, nil, t0, func(e *Entry6) {
			e.IAs[0].Leases = append(e.IAs[0].Leases, e.IAs[0].Leases[0])
			e.IAs[0].Leases[1].Addr[15] = 0x43 // the entry has two, the client names one
		}},
		{"past the threshold", renew, nil, t0 + 1001, nil},
		{"past cache-max-age", renew, nil, t0 + 11, func(e *Entry6) { e.MaxAge = 10 }},
		{"no cache parameters", renew, nil, t0 + 1, func(e *Entry6) { e.Threshold = 0 }},
		{"time went back", renew, nil, t0 - 1, nil},
		{"a shorter new lifetime", renew, nil, t0, func(e *Entry6) { e.IAs[1].Leases[0].NewValid = 3999 }},
		{"a hint bounded below the stored lifetime", renew, nil, t0, func(e *Entry6) {
			e.IAs[0].Leases[0].MinValid, e.IAs[0].Leases[0].MaxValid = 100, 3500
		}},
		{"sent by unicast", renew, &unicast, t0, nil},
		{"another interface", renew, nil, t0, func(e *Entry6) { e.IfIndex = 4 }},
		{"relayed", relayForw(renew), nil, t0, nil},
		{"solicit", swap(renew, []byte{5, 0xaa}, []byte{1, 0xaa}), nil, t0, nil},
		{"truncated", renew[:len(renew)-1], nil, t0, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := entry6()
			if c.edit != nil {
				c.edit(e)
			}
			meta := c.meta
			if meta == nil {
				meta = &reqMeta6
			}
			var r Reply6
			if _, err := AnswerRenew6(make([]byte, 1514), &r, c.msg, meta, 3, e, c.now, [6]byte{}, serverLL); !errors.Is(err, ErrNotCached6) {
				t.Fatalf("answered (err %v)", err)
			}
		})
	}
	// The same entry answers a Renew for only some of its IAs, with the
	// hints left at zero.
	var r Reply6
	if _, err := AnswerRenew6(make([]byte, 1514), &r, onlyNA, &reqMeta6, 3, entry6(), t0, [6]byte{}, serverLL); err != nil {
		t.Fatalf("IA_NA alone: %v", err)
	}
}

func relayForw(inner []byte) []byte {
	var b dhcp6.Builder
	b.RelayHeader(dhcp6.RelayForw, 0, [16]byte{0x20, 1}, clientLL)
	b.Option(dhcp6.OptRelayMsg, inner)
	return b.B
}

func TestAnswerRenew6Infinite(t *testing.T) {
	e := entry6()
	for i := range e.IAs {
		l := &e.IAs[i].Leases[0]
		l.ValidLft, l.PreferredLft, l.NewValid, l.NewPreferred = Infinite, Infinite, Infinite, Infinite
	}
	buf := make([]byte, 1514)
	var r Reply6
	n, err := AnswerRenew6(buf, &r, renewMsg(dhcp6.Renew, true, nil), &reqMeta6, 3, e, t0+100000, [6]byte{}, serverLL)
	if err != nil {
		t.Fatal(err)
	}
	_, msg := decodeReply6(t, buf[:n])
	a := msg.Options.OneIANA().Options.Addresses()[0]
	if a.ValidLifetime != Infinite*time.Second || a.PreferredLifetime != Infinite*time.Second {
		t.Fatalf("lifetimes %v/%v, want infinite", a.PreferredLifetime, a.ValidLifetime)
	}
}

func TestAnswerRenew6Allocs(t *testing.T) {
	e := entry6()
	msg := renewMsg(dhcp6.Renew, true, nil)
	buf := make([]byte, 1514)
	var r Reply6
	if _, err := AnswerRenew6(buf, &r, msg, &reqMeta6, 3, e, t0+5, [6]byte{}, serverLL); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(200, func() {
		if _, err := AnswerRenew6(buf, &r, msg, &reqMeta6, 3, e, t0+5, [6]byte{}, serverLL); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("AnswerRenew6 allocates %v times", n)
	}
}

func TestValidate6(t *testing.T) {
	if err := Validate6(entry6()); err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(*Entry6){
		"no DUID":          func(e *Entry6) { e.DUID = nil },
		"long DUID":        func(e *Entry6) { e.DUID = make([]byte, 129) },
		"no server DUID":   func(e *Entry6) { e.ServerDUID = nil },
		"no IAs":           func(e *Entry6) { e.IAs = nil },
		"IA_TA":            func(e *Entry6) { e.IAs[0].Type = 4 },
		"IA twice":         func(e *Entry6) { e.IAs[1] = e.IAs[0] },
		"IA without lease": func(e *Entry6) { e.IAs[0].Leases = nil },
		"address /64":      func(e *Entry6) { e.IAs[0].Leases[0].PrefixLen = 64 },
		"prefix /0":        func(e *Entry6) { e.IAs[1].Leases[0].PrefixLen = 0 },
		"server-id option": func(e *Entry6) { e.Options = []byte{0, 2, 0, 1, 9} },
		"truncated option": func(e *Entry6) { e.Options = []byte{0, 23, 0, 16, 1} },
		"IAADDR in IA":     func(e *Entry6) { e.IAs[0].Options = []byte{0, 5, 0, 0} },
		"huge reply":       func(e *Entry6) { e.Options = append([]byte{0, 99, 0x04, 0xb0}, make([]byte, 1200)...) },
	} {
		e := entry6()
		edit(e)
		if err := Validate6(e); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestCache6(t *testing.T) {
	c := NewCache6(4)
	e := entry6()
	if err := c.Put6(e); err != nil {
		t.Fatal(err)
	}
	// Put6 copies deeply.
	e.IAs[0].Leases[0].ValidLft = 1
	e.DUID[0] = 0xff
	got, ok := c.Lookup(clientDUID)
	e.DUID[0] = 0
	if !ok || got.IAs[0].Leases[0].ValidLft != 4000 {
		t.Fatalf("lookup %v %v", got, ok)
	}
	for i := range 10 {
		d := entry6()
		d.DUID = append(bytes.Clone(clientDUID), byte(i))
		if err := c.Put6(d); err != nil {
			t.Fatal(err)
		}
	}
	if c.Len() != 4 || c.Evictions() != 7 {
		t.Fatalf("len %d evictions %d", c.Len(), c.Evictions())
	}
	last := append(bytes.Clone(clientDUID), 9)
	if _, ok := c.Lookup(last); !ok {
		t.Fatal("the last entry put is gone")
	}
	c.Delete6(last)
	if _, ok := c.Lookup(last); ok || c.Len() != 3 {
		t.Fatal("Delete6")
	}
	c.Purge6()
	if c.Len() != 0 {
		t.Fatal("Purge6")
	}
	if err := c.Put6(&Entry6{DUID: clientDUID}); !errors.Is(err, ErrBadEntry) {
		t.Fatalf("invalid entry: %v", err)
	}
	if err := NewCache6(0).Put6(entry6()); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { c.Lookup(clientDUID) }); n != 0 {
		t.Fatalf("Lookup allocates %v", n)
	}
	// The engine publishes every new client's bindings: the copy is the
	// entry, its bytes, its IAs and their leases, however many there are.
	big := entry6()
	big.IAs[0].Options = []byte{0, 13, 0, 2, 0, 0}
	big.IAs[1].Leases = append(big.IAs[1].Leases, big.IAs[1].Leases[0])
	big.IAs[1].Leases[1].Addr[6] = 0x42
	big.Relays = []handoff.CachedRelay6{{HopCount: 0, Options: []byte{0, 18, 0, 1, 7}}}
	if n := testing.AllocsPerRun(100, func() { c.Put6(entry6()) }) - testing.AllocsPerRun(100, func() { entry6() }); n > 4 {
		t.Fatalf("Put6 allocates %v times", n)
	}
	if n := testing.AllocsPerRun(100, func() { c.Put6(big) }); n > 5 {
		t.Fatalf("Put6 of an entry with a relay allocates %v times", n)
	}
	got, _ = c.Lookup(clientDUID)
	if !reflect.DeepEqual(got, big) {
		t.Fatalf("published %+v, want a copy of %+v", got, big)
	}
	big.IAs[1].Leases[1].Options = append(big.IAs[1].Leases[1].Options, 1)
	big.Relays[0].Options[4] = 8
	if got, _ := c.Lookup(clientDUID); got.IAs[1].Leases[1].Options != nil || got.Relays[0].Options[4] != 7 {
		t.Fatal("the published copy shares memory with the caller's entry")
	}
}

func FuzzAnswerRenew6(f *testing.F) {
	f.Add(renewMsg(dhcp6.Renew, true, nil))
	f.Add(renewMsg(dhcp6.Rebind, false, []byte{0, 16, 0, 4, 0, 0, 0, 9}))
	f.Add(relayForw(renewMsg(dhcp6.Renew, true, nil)))
	f.Add(relayForwIf(renewMsg(dhcp6.Rebind, false, nil), "port-7", true))
	e := entry6()
	buf := make([]byte, 1514)
	f.Fuzz(func(t *testing.T, msg []byte) {
		var r Reply6
		n, err := AnswerRenew6(buf, &r, msg, &reqMeta6, 3, e, t0+5, [6]byte{}, serverLL)
		if err != nil {
			return
		}
		// An answer is a Reply insomniacslk's decoder reads, for the
		// entry's client.
		_, m := decodeReply6(t, buf[:n])
		if m.MessageType != dhcpv6.MessageTypeReply || !bytes.Equal(m.Options.ClientID().ToBytes(), clientDUID) {
			t.Fatalf("reply %v", m)
		}
	})
}

// relayForwIf wraps inner in a Relay-forw from the relay on 2001:db8:1::/64
// with an interface-id (and a Relay Source Port option when srcPort).
func relayForwIf(inner []byte, ifaceID string, srcPort bool) []byte {
	var b dhcp6.Builder
	b.RelayHeader(dhcp6.RelayForw, 0, [16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, 15: 1}, clientLL)
	b.Option(dhcp6.OptInterfaceID, []byte(ifaceID))
	if srcPort {
		b.OptionU16(dhcp6.OptRelaySourcePort, 0)
	}
	b.Option(dhcp6.OptRelayMsg, inner)
	return b.B
}

// TestAnswerRenew6Relayed: a Renew through the relay the engine answered
// through is answered in the same Relay-reply, to the relay.
func TestAnswerRenew6Relayed(t *testing.T) {
	relayAddr := [16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, 15: 2}
	serverAddr := [16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, 15: 0xfe}
	for _, srcPort := range []bool{false, true} {
		e := entry6()
		renew := relayForwIf(renewMsg(dhcp6.Renew, true, nil), "port-7", srcPort)
		e.Fingerprint, _ = handoff.Fingerprint6(renew)
		e.Relays = []handoff.CachedRelay6{{LinkAddr: [16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, 15: 1}, PeerAddr: clientLL,
			Options: []byte{0, 18, 0, 6, 'p', 'o', 'r', 't', '-', '7'}}}
		meta := reqMeta6
		meta.SrcIP, meta.DstIP, meta.SrcPort = relayAddr, serverAddr, 1547
		buf := make([]byte, 1514)
		var r Reply6
		n, err := AnswerRenew6(buf, &r, renew, &meta, 3, e, t0+600, [6]byte{2, 0, 0, 0, 0, 0xfe}, serverLL)
		if err != nil {
			t.Fatal(err)
		}
		var m handoff.Meta6
		p, err := frame.Parse6(buf[:n], &m)
		if err != nil {
			t.Fatal(err)
		}
		wantPort := uint16(547)
		if srcPort {
			wantPort = 1547
		}
		if m.DstIP != relayAddr || m.SrcIP != serverAddr || m.DstPort != wantPort || m.SrcPort != 547 || m.DstMAC != meta.SrcMAC {
			t.Errorf("source port option %v: addressing %+v", srcPort, m)
		}
		d, err := dhcpv6.FromBytes(p)
		if err != nil {
			t.Fatal(err)
		}
		rm, ok := d.(*dhcpv6.RelayMessage)
		if !ok || rm.MessageType != dhcpv6.MessageTypeRelayReply || !rm.PeerAddr.Equal(net.IP(clientLL[:])) {
			t.Fatalf("reply %v", d)
		}
		if id := rm.Options.InterfaceID(); string(id) != "port-7" {
			t.Errorf("interface-id %q", id)
		}
		inner, err := rm.GetInnerMessage()
		if err != nil {
			t.Fatal(err)
		}
		a := inner.Options.OneIANA().Options.Addresses()[0]
		if inner.MessageType != dhcpv6.MessageTypeReply || a.ValidLifetime != 3400*time.Second || a.PreferredLifetime != 2400*time.Second {
			t.Errorf("inner %v", inner)
		}
	}
	// Through another relay port, or straight: not this entry's.
	e := entry6()
	e.Fingerprint, _ = handoff.Fingerprint6(relayForwIf(renewMsg(dhcp6.Renew, true, nil), "port-7", false))
	e.Relays = []handoff.CachedRelay6{{}}
	var r Reply6
	for _, msg := range [][]byte{relayForwIf(renewMsg(dhcp6.Renew, true, nil), "port-8", false), renewMsg(dhcp6.Renew, true, nil)} {
		if _, err := AnswerRenew6(make([]byte, 1514), &r, msg, &reqMeta6, 3, e, t0, [6]byte{}, serverLL); !errors.Is(err, ErrNotCached6) {
			t.Errorf("answered: %v", err)
		}
	}
	relayed := relayForwIf(renewMsg(dhcp6.Renew, true, nil), "port-7", false)
	if d, ok := ClientDUID6(&r, relayed); !ok || !bytes.Equal(d, clientDUID) {
		t.Errorf("ClientDUID6 of the relayed Renew: %x %v", d, ok)
	}
}
