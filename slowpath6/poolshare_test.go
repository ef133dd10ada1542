package slowpath6_test

import (
	"net/netip"
	"testing"

	"xdhcp/dhcp6"
	"xdhcp/internal/stats"
	"xdhcp/lease"
	"xdhcp/slowpath/alloc"
	"xdhcp/slowpath6"
)

// half is a PoolShare giving one part of every pool.
type half alloc.Part

func (h half) Part(uint32) alloc.Part { return alloc.Part(h) }

// splitServer is one server of a split-brain pair: its own store, its
// share of the pools (nil: the whole pool).
type splitServer struct {
	srv   *slowpath6.Server
	store *memStore
	reg   *stats.Registry
}

func newSplitServer(t *testing.T, share slowpath6.Deps) *splitServer {
	t.Helper()
	s := &splitServer{store: newMemStore(), reg: stats.New(0, 0)}
	share.Store, share.Stats, share.ServerDUID = s.store, s.reg, serverDUID
	var err error
	if s.srv, err = slowpath6.New(engineConfig(t.TempDir()), share); err != nil {
		t.Fatal(err)
	}
	return s
}

// request sends a Request for an address and a prefix (with hints when
// valid) from duid.
func (s *splitServer) request(duid []byte, na, pd netip.Addr) {
	s.send(dhcp6.Request, duid, na, pd)
}

// send sends a message of type typ (with the server's ID unless a
// Rebind) and returns the replies.
func (s *splitServer) send(typ dhcp6.MsgType, duid []byte, na, pd netip.Addr) int {
	var b dhcp6.Builder
	b.Header(typ, [3]byte{duid[len(duid)-1], 1, 2})
	b.Option(dhcp6.OptClientID, duid)
	if typ != dhcp6.Rebind {
		b.Option(dhcp6.OptServerID, serverDUID)
	}
	m := b.IA(dhcp6.OptIANA, 1, 0, 0)
	if na.IsValid() {
		b.End(b.IAAddr(na.As16(), 0, 0))
	}
	b.End(m)
	m = b.IA(dhcp6.OptIAPD, 2, 0, 0)
	if pd.IsValid() {
		b.End(b.IAPrefix(pd.As16(), 56, 0, 0))
	}
	b.End(m)
	out := &capture{}
	s.srv.ServeNow(packetOn(b.B, out))
	return len(out.sent)
}

// The pool halves of subnet 1: addresses ::100-::17f are the primary's,
// ::180-::1ff the secondary's; /56s of 2001:db8:100::/40 below
// 2001:db8:180::/56 the primary's, from it on the secondary's.
var (
	naMid = netip.MustParseAddr("2001:db8:1::180")
	pdMid = netip.MustParseAddr("2001:db8:180::")
)

func lowerHalf(l lease.Lease6) bool {
	if l.Type == lease.TypePD {
		return l.Addr.Less(pdMid)
	}
	return l.Addr.Less(naMid)
}

// TestSplitBrainHalves: two servers that never hear of each other's
// leases (an HA pair in partner-down on both sides of a cut) give the
// same clients' IA_NAs and IA_PDs; with their halves of the pools no
// address or prefix goes to two clients, and a client's hint in the
// partner's half is left to the partner (counted) for one of the
// server's own half. With the whole pool each, both give the same ones.
func TestSplitBrainHalves(t *testing.T) {
	const clients = 20
	run := func(a, b slowpath6.Deps) (dups int, s1, s2 *splitServer) {
		s1, s2 = newSplitServer(t, a), newSplitServer(t, b)
		for i := range clients {
			// Client i is served by server i%2; odd clients hint at the
			// address and prefix the previous client got from the other
			// server (a stale lease it remembers).
			duid := []byte{0, 3, 0, 1, 0x0b, 0, 0, 0, 1, byte(i)}
			var na, pd netip.Addr
			if i%2 == 1 {
				for _, l := range s1.store.ByDUID([]byte{0, 3, 0, 1, 0x0b, 0, 0, 0, 1, byte(i - 1)}) {
					if l.Type == lease.TypePD {
						pd = l.Addr
					} else {
						na = l.Addr
					}
				}
			}
			[]*splitServer{s1, s2}[i%2].request(duid, na, pd)
		}
		for a := range s1.store.m {
			if _, ok := s2.store.m[a]; ok {
				dups++
			}
		}
		return dups, s1, s2
	}

	dups, s1, s2 := run(slowpath6.Deps{Share: half{Index: 0, Parts: 2}}, slowpath6.Deps{Share: half{Index: 1, Parts: 2}})
	if dups != 0 {
		t.Errorf("with pool halves: %d addresses or prefixes leased by both servers", dups)
	}
	for i, s := range []*splitServer{s1, s2} {
		if n := len(s.store.m); n != clients { // each of its clients an address and a prefix
			t.Errorf("server%d leased %d, want %d", i+1, n, clients)
		}
		for a, l := range s.store.m {
			if lowerHalf(l) != (i == 0) {
				t.Errorf("server%d leased %v, outside its half", i+1, a)
			}
		}
	}
	if n := s2.reg.Counter("xdhcp-pkt6-ha-partner-part-drop").Load(); n != clients { // both IAs of every odd client
		t.Errorf("xdhcp-pkt6-ha-partner-part-drop = %d, want %d", n, clients)
	}
	if dups, _, _ := run(slowpath6.Deps{}, slowpath6.Deps{}); dups == 0 {
		t.Error("without pool halves no address or prefix was leased by both: the test shows nothing")
	} else {
		t.Logf("without pool halves: %d of %d leased by both", dups, clients)
	}
}

// switchable is a PoolShare whose part the test changes, as HA does on a
// state change.
type switchable struct{ pt alloc.Part }

func (s *switchable) Part(uint32) alloc.Part { return s.pt }

// TestSplitBrainKeepsHeldAndReserved: with the pools split, a client's
// lease in the partner's half is still renewed, and a reservation in the
// partner's half is still given.
func TestSplitBrainKeepsHeldAndReserved(t *testing.T) {
	share := &switchable{}
	s := newSplitServer(t, slowpath6.Deps{Share: share})
	duid := []byte{0, 3, 0, 1, 0x0b, 0, 0, 0, 2, 1}
	na, pd := netip.MustParseAddr("2001:db8:1::1a0"), netip.MustParseAddr("2001:db8:1a0::")
	s.request(duid, na, pd) // whole pool: the hints are free and given
	share.pt = alloc.Part{Index: 0, Parts: 2}
	s.request(duid, na, pd)
	got := map[netip.Addr]bool{}
	for _, l := range s.store.ByDUID(duid) {
		got[l.Addr] = true
	}
	if len(got) != 2 || !got[na] || !got[pd] {
		t.Errorf("after the split the client holds %v, want its %v and %v still", got, na, pd)
	}
	if n := s.reg.Counter("xdhcp-pkt6-ha-partner-part-drop").Load(); n != 0 {
		t.Errorf("xdhcp-pkt6-ha-partner-part-drop = %d for a client's own leases", n)
	}

	// A Rebind for them from their holder is answered; from another
	// client (the partner may have leased them) it is left to the partner.
	if n := s.send(dhcp6.Rebind, duid, na, pd); n != 1 {
		t.Errorf("Rebind of the client's own leases in the partner's half: %d replies", n)
	}
	other := []byte{0, 3, 0, 1, 0x0b, 0, 0, 0, 2, 2}
	if n := s.send(dhcp6.Rebind, other, na, pd); n != 0 {
		t.Errorf("Rebind of %v and %v by a client without leases here: %d replies, want none", na, pd, n)
	}
	if n := s.reg.Counter("xdhcp-pkt6-ha-partner-part-drop").Load(); n != 1 {
		t.Errorf("xdhcp-pkt6-ha-partner-part-drop = %d after the Rebind left to the partner, want 1", n)
	}
	if l := s.store.ByDUID(other); len(l) != 0 {
		t.Errorf("the Rebind left to the partner leased %v", l)
	}

	// The reservation of subnet 1: 2001:db8:100:ff00::/56, in the lower
	// half, given by the server of the upper one.
	share.pt = alloc.Part{Index: 1, Parts: 2}
	res := []byte{0, 3, 0, 1, 0x0a, 0, 0, 0, 0, 0xee}
	s.request(res, netip.Addr{}, netip.Addr{})
	want := netip.MustParseAddr("2001:db8:100:ff00::")
	if _, ok := s.store.m[want]; !ok {
		t.Errorf("reserved prefix %v not given by the server of the other half: %v", want, s.store.ByDUID(res))
	}
}
