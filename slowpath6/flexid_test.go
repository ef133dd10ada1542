package slowpath6_test

import (
	"encoding/json"
	"net/netip"
	"testing"

	"xdhcp/config"
	"xdhcp/dhcp6"
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
	solicit := func(duid []byte) netip.Addr {
		out := &capture{}
		var b dhcp6.Builder
		b.Header(dhcp6.Solicit, [3]byte{1, 2, 3})
		b.Option(dhcp6.OptClientID, duid)
		b.End(b.IA(dhcp6.OptIANA, 1, 0, 0))
		srv.ServeNow(packetOn(b.B, out))
		if len(out.sent) != 1 {
			t.Fatalf("%d answers", len(out.sent))
		}
		var p dhcp6.Packet
		if err := p.Parse(out.sent[0]); err != nil {
			t.Fatal(err)
		}
		v, _ := p.Msg.Options.Get(dhcp6.OptIANA)
		ia, _ := dhcp6.ParseIA(dhcp6.OptIANA, v)
		a, _ := ia.Options.Get(dhcp6.OptIAAddr)
		addr, _ := dhcp6.ParseIAAddr(a)
		return netip.AddrFrom16(addr.Addr)
	}
	if a := solicit([]byte{0, 3, 0, 1, 2, 0, 0, 0, 0x66, 1}); a != netip.MustParseAddr("2001:db8:1::7") {
		t.Errorf("the flex-id client got %s, want its reserved 2001:db8:1::7", a)
	}
	if a := solicit([]byte{0, 3, 0, 1, 2, 0, 0, 0, 0x66, 2}); a == netip.MustParseAddr("2001:db8:1::7") {
		t.Errorf("another client got the flex-id reservation's address")
	}
}
