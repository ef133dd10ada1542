package dhcp6

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"

	ref "github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/iana"
)

var (
	clientDUID = []byte{0, 1, 0, 1, 0x2a, 0x3b, 0x4c, 0x5d, 0, 0x11, 0x22, 0x33, 0x44, 0x55}
	linkAddr   = netip.MustParseAddr("2001:db8:1::1").As16()
	peerAddr   = netip.MustParseAddr("fe80::211:22ff:fe33:4455").As16()
	addr1      = netip.MustParseAddr("2001:db8:1::100").As16()
	prefix1    = netip.MustParseAddr("2001:db8:ff00::").As16()
)

// buildRelayedSolicit is a Solicit with an IA_NA (hinting an address), an
// IA_PD (hinting a /56), ORO, elapsed time and rapid commit, relayed twice.
func buildRelayedSolicit(b *Builder) {
	var inner Builder
	inner.Header(Solicit, [3]byte{0xab, 0xcd, 0xef})
	inner.Option(OptClientID, clientDUID)
	inner.OptionU16(OptElapsedTime, 150)
	inner.Option(OptRapidCommit, nil)
	inner.Option(OptORO, []byte{0, 23, 0, 24})
	m := inner.IA(OptIANA, 7, 1000, 2000)
	a := inner.IAAddr(addr1, 3000, 4000)
	inner.End(a)
	inner.End(m)
	m = inner.IA(OptIAPD, 9, 0, 0)
	p := inner.IAPrefix(prefix1, 56, 3000, 4000)
	inner.End(p)
	inner.End(m)

	var r1 Builder
	r1.RelayHeader(RelayForw, 0, linkAddr, peerAddr)
	r1.Option(OptInterfaceID, []byte("eth0/1"))
	r1.Option(OptRemoteID, []byte{0, 0, 0x0d, 0xe9, 'c', 'p', 'e'})
	r1.Option(OptRelayMsg, inner.B)

	b.RelayHeader(RelayForw, 1, [16]byte{}, linkAddr)
	b.Option(OptInterfaceID, []byte("agg"))
	b.Option(OptRelayMsg, r1.B)
}

// TestAgainstReference builds a relayed message with the Builder and reads
// it with both this package and insomniacslk's dhcpv6: every field must
// agree.
func TestAgainstReference(t *testing.T) {
	var b Builder
	buildRelayedSolicit(&b)

	var p Packet
	if err := p.Parse(b.B); err != nil {
		t.Fatal(err)
	}
	d, err := ref.FromBytes(b.B)
	if err != nil {
		t.Fatalf("reference decoder: %v", err)
	}
	outer := d.(*ref.RelayMessage)
	if p.NRelays != 2 || p.Relays[0].HopCount != outer.HopCount || !bytes.Equal(p.Relays[0].PeerAddr[:], outer.PeerAddr) {
		t.Fatalf("outer relay: got %d relays, hops %d", p.NRelays, p.Relays[0].HopCount)
	}
	if id, _ := p.Relays[0].InterfaceID(); !bytes.Equal(id, outer.Options.InterfaceID()) {
		t.Errorf("outer interface-id %q, reference %q", id, outer.Options.InterfaceID())
	}
	in1 := outer.Options.RelayMessage().(*ref.RelayMessage)
	r := p.Innermost()
	if !bytes.Equal(r.LinkAddr[:], in1.LinkAddr) || !bytes.Equal(r.PeerAddr[:], in1.PeerAddr) {
		t.Errorf("inner relay link %x peer %x, reference %v %v", r.LinkAddr, r.PeerAddr, in1.LinkAddr, in1.PeerAddr)
	}
	rid, _ := r.Options.Get(OptRemoteID)
	if refRID := in1.Options.RemoteID(); refRID == nil || !bytes.Equal(rid[4:], refRID.RemoteID) || refRID.EnterpriseNumber != 0xde9 {
		t.Errorf("remote-id %x, reference %v", rid, refRID)
	}
	msg, err := outer.GetInnerMessage()
	if err != nil {
		t.Fatal(err)
	}
	if p.Msg.Type != Solicit || uint8(msg.MessageType) != uint8(p.Msg.Type) || !bytes.Equal(msg.TransactionID[:], p.Msg.TxID[:]) {
		t.Fatalf("message %v %x, reference %v %x", p.Msg.Type, p.Msg.TxID, msg.MessageType, msg.TransactionID)
	}
	cid, _ := p.Msg.Options.Get(OptClientID)
	if !bytes.Equal(cid, msg.Options.ClientID().ToBytes()) {
		t.Errorf("client-id %x, reference %x", cid, msg.Options.ClientID().ToBytes())
	}
	et, _ := p.Msg.Options.Get(OptElapsedTime)
	if v, _ := ElapsedTime(et); time.Duration(v)*10*time.Millisecond != msg.Options.ElapsedTime() {
		t.Errorf("elapsed %d, reference %v", v, msg.Options.ElapsedTime())
	}
	if !p.Msg.Options.Has(OptRapidCommit) || msg.GetOneOption(ref.OptionRapidCommit) == nil {
		t.Error("rapid commit lost")
	}
	oro, _ := p.Msg.Options.Get(OptORO)
	if !ORO(oro).Has(23) || !ORO(oro).Has(24) || ORO(oro).Len() != len(msg.Options.RequestedOptions()) {
		t.Errorf("ORO %x, reference %v", oro, msg.Options.RequestedOptions())
	}

	var nas, pds int
	it := p.Msg.Options.Iter()
	for it.Next() {
		switch it.Code {
		case OptIANA:
			ia, err := ParseIA(it.Code, it.Data)
			if err != nil {
				t.Fatal(err)
			}
			refIA := msg.Options.IANA()[nas]
			nas++
			if ia.IAID != be32(refIA.IaId) || time.Duration(ia.T1)*time.Second != refIA.T1 || time.Duration(ia.T2)*time.Second != refIA.T2 {
				t.Errorf("IA_NA %+v, reference %+v", ia, refIA)
			}
			ad, _ := ia.Options.Get(OptIAAddr)
			a, err := ParseIAAddr(ad)
			if err != nil {
				t.Fatal(err)
			}
			refA := refIA.Options.Addresses()[0]
			if !bytes.Equal(a.Addr[:], refA.IPv6Addr) || time.Duration(a.Valid)*time.Second != refA.ValidLifetime ||
				time.Duration(a.Preferred)*time.Second != refA.PreferredLifetime {
				t.Errorf("IAADDR %+v, reference %+v", a, refA)
			}
		case OptIAPD:
			ia, err := ParseIA(it.Code, it.Data)
			if err != nil {
				t.Fatal(err)
			}
			refIA := msg.Options.IAPD()[pds]
			pds++
			if ia.IAID != be32(refIA.IaId) {
				t.Errorf("IA_PD %+v, reference %+v", ia, refIA)
			}
			pd, _ := ia.Options.Get(OptIAPrefix)
			pr, err := ParseIAPrefix(pd)
			if err != nil {
				t.Fatal(err)
			}
			refP := refIA.Options.Prefixes()[0]
			ones, _ := refP.Prefix.Mask.Size()
			if int(pr.Len) != ones || !bytes.Equal(pr.Prefix[:], refP.Prefix.IP) || time.Duration(pr.Valid)*time.Second != refP.ValidLifetime {
				t.Errorf("IAPREFIX %+v, reference %+v", pr, refP)
			}
		}
	}
	if nas != 1 || pds != 1 {
		t.Errorf("%d IA_NA, %d IA_PD; want 1 each", nas, pds)
	}
}

func be32(b [4]byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// TestReferenceBuilt reads what the reference library builds: a Reply with
// status codes nested in an IA, server identifier and preference.
func TestReferenceBuilt(t *testing.T) {
	sol, err := ref.NewSolicit(net.HardwareAddr{0, 0x11, 0x22, 0x33, 0x44, 0x55},
		ref.WithIAPD([4]byte{0, 0, 0, 9}), ref.WithRapidCommit)
	if err != nil {
		t.Fatal(err)
	}
	srv := &ref.DUIDLLT{HWType: iana.HWTypeEthernet, Time: 1, LinkLayerAddr: net.HardwareAddr{2, 0, 0, 0, 0, 1}}
	adv, err := ref.NewAdvertiseFromSolicit(sol, ref.WithServerID(srv), ref.WithPreference(255))
	if err != nil {
		t.Fatal(err)
	}
	adv.AddOption(&ref.OptIANA{IaId: [4]byte{0, 0, 0, 1}, Options: ref.IdentityOptions{Options: ref.Options{
		&ref.OptStatusCode{StatusCode: iana.StatusNoAddrsAvail, StatusMessage: "no addresses"}}}})
	raw := adv.ToBytes()

	var p Packet
	if err := p.Parse(raw); err != nil {
		t.Fatal(err)
	}
	if p.NRelays != 0 || p.Msg.Type != Advertise || p.Msg.TxID != [3]byte(sol.TransactionID) {
		t.Fatalf("got %v %x", p.Msg.Type, p.Msg.TxID)
	}
	sid, _ := p.Msg.Options.Get(OptServerID)
	if !bytes.Equal(sid, srv.ToBytes()) {
		t.Errorf("server-id %x, want %x", sid, srv.ToBytes())
	}
	if pref, _ := p.Msg.Options.Get(OptPreference); len(pref) != 1 || pref[0] != 255 {
		t.Errorf("preference %x", pref)
	}
	iad, _ := p.Msg.Options.Get(OptIANA)
	ia, err := ParseIA(OptIANA, iad)
	if err != nil {
		t.Fatal(err)
	}
	sd, _ := ia.Options.Get(OptStatusCode)
	code, msg, err := ParseStatus(sd)
	if err != nil || code != StatusNoAddrsAvail || string(msg) != "no addresses" {
		t.Errorf("status %d %q %v", code, msg, err)
	}
}

// TestRejects holds the parser to its framing rules.
func TestRejects(t *testing.T) {
	var b Builder
	buildRelayedSolicit(&b)
	good := b.B
	cases := map[string][]byte{
		"empty":              nil,
		"short header":       {1, 2, 3},
		"short relay header": good[:20],
		"truncated option":   good[:len(good)-1],
		"relay without relay-msg": func() []byte {
			var r Builder
			r.RelayHeader(RelayForw, 0, linkAddr, peerAddr)
			r.Option(OptInterfaceID, []byte("x"))
			return r.B
		}(),
	}
	deep := []byte{byte(Solicit), 1, 2, 3}
	for range HopCountLimit + 1 {
		var r Builder
		r.RelayHeader(RelayForw, 0, linkAddr, peerAddr)
		r.Option(OptRelayMsg, deep)
		deep = r.B
	}
	cases["33 relays"] = deep
	for name, raw := range cases {
		var p Packet
		if err := p.Parse(raw); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

// TestParseAllocs keeps parsing a relayed message and walking its IAs free
// of allocations: it runs for every request.
func TestParseAllocs(t *testing.T) {
	var b Builder
	buildRelayedSolicit(&b)
	var p Packet
	n := testing.AllocsPerRun(100, func() {
		if err := p.Parse(b.B); err != nil {
			t.Fatal(err)
		}
		it := p.Msg.Options.Iter()
		for it.Next() {
			if it.Code == OptIANA || it.Code == OptIAPD {
				ia, _ := ParseIA(it.Code, it.Data)
				_ = ia.Options.Has(OptIAAddr)
			}
		}
	})
	if n != 0 {
		t.Errorf("%v allocations per parse", n)
	}
}

// FuzzParse feeds arbitrary datagrams to the parser. Whatever it accepts,
// the builder writes back byte for byte from the parsed view; whatever the
// reference decoder accepts (with a Relay Message in every relay and no
// deeper nesting than the RFC allows), this parser accepts too.
func FuzzParse(f *testing.F) {
	var b Builder
	buildRelayedSolicit(&b)
	f.Add(b.B)
	var s Builder
	s.Header(Renew, [3]byte{1, 2, 3})
	s.Option(OptClientID, clientDUID)
	s.Option(OptServerID, clientDUID)
	f.Add(s.B)
	f.Add([]byte{byte(RelayForw)})
	f.Fuzz(func(t *testing.T, raw []byte) {
		var p Packet
		err := p.Parse(raw)
		if err == nil {
			var w Builder
			rebuild(&w, &p, 0)
			if !bytes.Equal(w.B, raw) {
				t.Fatalf("rebuilt %x from %x", w.B, raw)
			}
			walkIAs(p.Msg.Options)
			return
		}
		if _, rerr := ref.FromBytes(raw); rerr == nil && err != ErrNoRelayMsg && err != ErrTooDeep {
			t.Fatalf("reference accepts %x, this parser says %v", raw, err)
		}
	})
}

func rebuild(w *Builder, p *Packet, i int) {
	if i == p.NRelays {
		w.Header(p.Msg.Type, p.Msg.TxID)
		w.Bytes(p.Msg.Options)
		return
	}
	r := &p.Relays[i]
	w.RelayHeader(r.Type, r.HopCount, r.LinkAddr, r.PeerAddr)
	it := r.Options.Iter()
	seen := false
	for it.Next() {
		if it.Code == OptRelayMsg && !seen {
			seen = true
			m := w.Begin(OptRelayMsg)
			rebuild(w, p, i+1)
			w.End(m)
			continue
		}
		w.Option(it.Code, it.Data)
	}
}

func walkIAs(o Options) {
	it := o.Iter()
	for it.Next() {
		if it.Code != OptIANA && it.Code != OptIAPD && it.Code != OptIATA {
			continue
		}
		ia, err := ParseIA(it.Code, it.Data)
		if err != nil {
			continue
		}
		in := ia.Options.Iter()
		for in.Next() {
			switch in.Code {
			case OptIAAddr:
				_, _ = ParseIAAddr(in.Data)
			case OptIAPrefix:
				_, _ = ParseIAPrefix(in.Data)
			case OptStatusCode:
				_, _, _ = ParseStatus(in.Data)
			}
		}
	}
}
