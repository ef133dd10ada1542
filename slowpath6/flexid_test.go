package slowpath6_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"slices"
	"testing"

	"xdhcp/config"
	"xdhcp/dhcp6"
	"xdhcp/host"
	"xdhcp/slowpath6"
)

// TestFlexIDReservation: with the flex-id hook and "flex-id" among the
// host-reservation-identifiers, a client whose identifier-expression
// value names a reservation gets its address; another client does not.
func TestFlexIDReservation(t *testing.T) {
	doc := map[string]any{"Dhcp6": map[string]any{
		"interfaces-config":            map[string]any{"interfaces": []string{}},
		"lease-database":               map[string]any{"type": "memfile", "name": t.TempDir() + "/l6.csv"},
		"host-reservation-identifiers": []string{"duid", "flex-id"},
		"hooks-libraries": []any{map[string]any{"library": "/usr/lib/kea/hooks/libdhcp_flex_id.so",
			"parameters": map[string]any{"identifier-expression": "substring(option[1].hex, 4, 6)"}}},
		"subnet6": []any{map[string]any{"id": 1, "subnet": "2001:db8:1::/64", "interface": "s0",
			"pools":        []any{map[string]any{"pool": "2001:db8:1::100-2001:db8:1::1ff"}},
			"reservations": []any{map[string]any{"flex-id": "02:00:00:00:66:01", "ip-addresses": []any{"2001:db8:1::7"}}}}},
	}}
	raw, _ := json.Marshal(doc)
	cfg, err := config.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	srv := newEngineOn(t, cfg.Dhcp6, newMemStore())
	solicit := func(duid []byte) netip.Addr { return advertisedAddr(t, solicitOf(t, srv, duid)) }
	if a := solicit([]byte{0, 3, 0, 1, 2, 0, 0, 0, 0x66, 1}); a != netip.MustParseAddr("2001:db8:1::7") {
		t.Errorf("the flex-id client got %s, want its reserved 2001:db8:1::7", a)
	}
	if a := solicit([]byte{0, 3, 0, 1, 2, 0, 0, 0, 0x66, 2}); a == netip.MustParseAddr("2001:db8:1::7") {
		t.Errorf("another client got the flex-id reservation's address")
	}
}

// solicitOf sends srv a Solicit for one IA_NA from duid and returns its
// one answer.
func solicitOf(t *testing.T, srv *slowpath6.Server, duid []byte) *dhcp6.Packet {
	t.Helper()
	out := &capture{}
	var b dhcp6.Builder
	b.Header(dhcp6.Solicit, [3]byte{1, 2, 3})
	b.Option(dhcp6.OptClientID, duid)
	b.Option(dhcp6.OptORO, []byte{0, 23})
	b.End(b.IA(dhcp6.OptIANA, 1, 0, 0))
	srv.ServeNow(packetOn(b.B, out))
	if len(out.sent) != 1 {
		t.Fatalf("%d answers", len(out.sent))
	}
	var p dhcp6.Packet
	if err := p.Parse(out.sent[0]); err != nil {
		t.Fatal(err)
	}
	return &p
}

// advertisedAddr is the address of an Advertise's IA_NA.
func advertisedAddr(t *testing.T, p *dhcp6.Packet) netip.Addr {
	t.Helper()
	v, _ := p.Msg.Options.Get(dhcp6.OptIANA)
	ia, _ := dhcp6.ParseIA(dhcp6.OptIANA, v)
	a, _ := ia.Options.Get(dhcp6.OptIAAddr)
	addr, _ := dhcp6.ParseIAAddr(a)
	return netip.AddrFrom16(addr.Addr)
}

// hostDB is a host database that holds one reservation and records the
// lookups made.
type hostDB struct {
	t     host.IDType
	id    []byte
	res   *config.Reservation6
	asked []host.IDType
}

func (h *hostDB) Get6(_ context.Context, subnet uint32, t host.IDType, id []byte) (*config.Reservation6, error) {
	h.asked = append(h.asked, t)
	if subnet == h.res.SubnetID && t == h.t && bytes.Equal(id, h.id) {
		return h.res, nil
	}
	return nil, nil
}

func (h *hostDB) GetByAddr6(context.Context, uint32, netip.Addr) (*config.Reservation6, error) {
	return nil, nil
}

// TestHostDatabaseLookups: the host databases are asked for each of
// host-reservation-identifiers in its order, flex-id included, and a
// database host's options reach the client.
func TestHostDatabaseLookups(t *testing.T) {
	doc := map[string]any{"Dhcp6": map[string]any{
		"interfaces-config":            map[string]any{"interfaces": []string{}},
		"lease-database":               map[string]any{"type": "memfile", "name": t.TempDir() + "/l6.csv"},
		"host-reservation-identifiers": []string{"flex-id", "duid"},
		"hooks-libraries": []any{map[string]any{"library": "/usr/lib/kea/hooks/libdhcp_flex_id.so",
			"parameters": map[string]any{"identifier-expression": "substring(option[1].hex, 4, 6)"}}},
		"subnet6": []any{map[string]any{"id": 1, "subnet": "2001:db8:1::/64", "interface": "s0",
			"pools": []any{map[string]any{"pool": "2001:db8:1::100-2001:db8:1::1ff"}}}},
	}}
	raw, _ := json.Marshal(doc)
	cfg, err := config.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := cfg.Dhcp6.HostOptions6([]config.HostOption6Row{{Code: 23, Formatted: "2001:db8::53"}})
	if err != nil {
		t.Fatal(err)
	}
	db := &hostDB{t: host.FlexID, id: []byte{2, 0, 0, 0, 0x66, 1},
		res: &config.Reservation6{FlexID: []byte{2, 0, 0, 0, 0x66, 1}, SubnetID: 1,
			IPAddresses: []netip.Addr{netip.MustParseAddr("2001:db8:1::7")}, Options: opts}}
	srv := newEngineOn(t, cfg.Dhcp6, newMemStore())
	srv.SetHostSources([]host.Source6{db})
	p := solicitOf(t, srv, []byte{0, 3, 0, 1, 2, 0, 0, 0, 0x66, 1})
	if a := advertisedAddr(t, p); a != netip.MustParseAddr("2001:db8:1::7") {
		t.Errorf("the flex-id client got %s, want the database's 2001:db8:1::7", a)
	}
	if dns, _ := p.Msg.Options.Get(dhcp6.OptDNSServers); netip.AddrFrom16([16]byte(dns)) != netip.MustParseAddr("2001:db8::53") {
		t.Errorf("dns-servers of the database host: %x", dns)
	}
	if len(db.asked) == 0 || db.asked[0] != host.FlexID {
		t.Errorf("lookups %v, want flex-id first", db.asked)
	}
	db.asked = nil
	solicitOf(t, srv, []byte{0, 3, 0, 1, 2, 0, 0, 0, 0x66, 2})
	if !slices.Equal(db.asked, []host.IDType{host.FlexID, host.DUID, host.FlexID, host.DUID}) {
		t.Errorf("lookups of an unknown client %v, want flex-id then duid, in the subnet then globally", db.asked)
	}
}
