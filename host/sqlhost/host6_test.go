package sqlhost

import (
	"context"
	"net/netip"
	"slices"
	"testing"

	"xdhcp/config"
	"xdhcp/host"
	"xdhcp/internal/dbtest"
)

// DHCPv6 reservations written by SQL into Kea's hosts and
// ipv6_reservations tables are read back by DUID, by hardware address and
// by reserved address or prefix, in their subnet only.
func TestReadsDHCPv6Reservations(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, db dbtest.DB) {
		k := db.Server.Kind
		mustExec(t, db, "INSERT INTO hosts (dhcp_identifier, dhcp_identifier_type, dhcp6_subnet_id, hostname, dhcp6_client_classes) VALUES ("+
			hexExpr(k, "000300010a0b0c0d0e0f")+", 1, 7, 'cpe-7', 'gold, silver')")
		mustExec(t, db, "INSERT INTO ipv6_reservations (address, prefix_len, type, host_id) VALUES "+
			"('2001:db8:7::10', 128, 0, (SELECT max(host_id) FROM hosts)), ('2001:db8:7::11', 128, 0, (SELECT max(host_id) FROM hosts)), "+
			"('2001:db8:700::', 56, 2, (SELECT max(host_id) FROM hosts))")
		mustExec(t, db, "INSERT INTO dhcp6_options (code, value, formatted_value, space, persistent, host_id, scope_id) VALUES "+
			"(23, NULL, '2001:db8::53', 'dhcp6', true, (SELECT max(host_id) FROM hosts), 3), "+
			"(24, "+hexExpr(k, "076578616d706c6500")+", NULL, 'dhcp6', false, (SELECT max(host_id) FROM hosts), 3)")
		// A host reserved by hardware address with no address: classes only.
		mustExec(t, db, "INSERT INTO hosts (dhcp_identifier, dhcp_identifier_type, dhcp6_subnet_id, dhcp6_client_classes) VALUES ("+
			hexExpr(k, "0a0b0c0d0e0f")+", 0, 7, 'blocked')")
		h, err := Open(context.Background(), dbConfig(db), &config.Config{})
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		ctx := context.Background()
		r, err := h.Get6(ctx, 7, host.DUID, []byte{0, 3, 0, 1, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f})
		if err != nil || r == nil {
			t.Fatalf("Get6 by DUID: %v %v", r, err)
		}
		if want := []netip.Addr{netip.MustParseAddr("2001:db8:7::10"), netip.MustParseAddr("2001:db8:7::11")}; !slices.Equal(r.IPAddresses, want) ||
			len(r.Prefixes) != 1 || r.Prefixes[0] != netip.MustParsePrefix("2001:db8:700::/56") || r.Hostname != "cpe-7" ||
			!slices.Equal(r.ClientClasses, []string{"gold", "silver"}) || r.SubnetID != 7 {
			t.Fatalf("reservation by DUID: %+v", r)
		}
		if o := r.Options; len(o) != 2 || o[0].Code != 23 || !o[0].AlwaysSend || len(o[0].Data) != 16 ||
			o[1].Code != 24 || string(o[1].Data) != "\x07example\x00" {
			t.Fatalf("options of the reservation by DUID: %+v", o)
		}
		if r, err := h.Get6(ctx, 8, host.DUID, []byte{0, 3, 0, 1, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f}); r != nil || err != nil {
			t.Fatalf("Get6 in another subnet: %+v %v", r, err)
		}
		r, err = h.Get6(ctx, 7, host.HWAddr, []byte{0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f})
		if err != nil || r == nil || len(r.IPAddresses)+len(r.Prefixes) != 0 || !slices.Equal(r.ClientClasses, []string{"blocked"}) {
			t.Fatalf("Get6 by hw-address: %+v %v", r, err)
		}
		for _, a := range []string{"2001:db8:7::11", "2001:db8:700::"} {
			r, err := h.GetByAddr6(ctx, 7, netip.MustParseAddr(a))
			if err != nil || r == nil || r.Hostname != "cpe-7" {
				t.Errorf("GetByAddr6 %s: %+v %v", a, r, err)
			}
		}
		if r, err := h.GetByAddr6(ctx, 7, netip.MustParseAddr("2001:db8:7::12")); r != nil || err != nil {
			t.Errorf("GetByAddr6 of an unreserved address: %+v %v", r, err)
		}
	})
}
