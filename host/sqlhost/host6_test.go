package sqlhost

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
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

// DHCPv6 hosts written by Add6 read back whole (addresses, prefixes,
// options, user context); a second host reserving an address or prefix
// already reserved in the subnet is refused; the DHCPv6 reads leave out
// DHCPv4-only hosts; Del6 and DelByAddr6 remove hosts with their rows.
func TestWritesDHCPv6Hosts(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, db dbtest.DB) {
		mustExec(t, db, "INSERT INTO hosts (dhcp_identifier, dhcp_identifier_type, dhcp4_subnet_id, hostname) VALUES ("+
			hexExpr(db.Server.Kind, "0a0b0c0d0e8f")+", 0, 8, 'v4-only')")
		h, err := Open(context.Background(), dbConfig(db), &config.Config{})
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		cfg, err := config.Parse([]byte(`{"Dhcp6": {"valid-lifetime": 4000}}`))
		if err != nil {
			t.Fatal(err)
		}
		h.SetConfig6(cfg.Dhcp6)
		opts, err := cfg.Dhcp6.HostOptions6([]config.HostOption6Row{{Code: 23, Formatted: "2001:db8::53", Persistent: true}})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		eight := uint32(8)
		a := host.Host6{Res: &config.Reservation6{DUID: []byte{1, 2, 3, 4}, SubnetID: 8, Hostname: "cpe-a",
			IPAddresses: []netip.Addr{netip.MustParseAddr("2001:db8:8::10")}, Prefixes: []netip.Prefix{netip.MustParsePrefix("2001:db8:800::/56")},
			ClientClasses: []string{"gold"}, Options: opts}, UserContext: []byte(`{"k":1}`)}
		if err := h.Add6(ctx, a); err != nil {
			t.Fatal(err)
		}
		for _, dup := range []*config.Reservation6{
			{DUID: []byte{1, 2, 3, 4}, SubnetID: 8, Hostname: "same-id"},
			{DUID: []byte{5, 6}, SubnetID: 8, IPAddresses: []netip.Addr{netip.MustParseAddr("2001:db8:8::10")}},
			{DUID: []byte{5, 6}, SubnetID: 8, Prefixes: []netip.Prefix{netip.MustParsePrefix("2001:db8:800::/56")}},
		} {
			if err := h.Add6(ctx, host.Host6{Res: dup}); !errors.Is(err, host.ErrExists) {
				t.Errorf("Add6 %+v: %v, want ErrExists", dup, err)
			}
		}
		hs, err := h.ByID6(ctx, host.DUID, []byte{1, 2, 3, 4})
		if err != nil || len(hs) != 1 {
			t.Fatalf("ByID6: %+v %v", hs, err)
		}
		r := hs[0].Res
		if r.Hostname != "cpe-a" || !slices.Equal(r.IPAddresses, a.Res.IPAddresses) || !slices.Equal(r.Prefixes, a.Res.Prefixes) ||
			!slices.Equal(r.ClientClasses, []string{"gold"}) || len(r.Options) != 1 || !r.Options[0].AlwaysSend ||
			!bytes.Equal(r.Options[0].Data, opts[0].Data) || string(hs[0].UserContext) != `{"k":1}` {
			t.Errorf("read back: %+v %s", r, hs[0].UserContext)
		}
		if hs, err := h.Page6(ctx, &eight, 0, 10); err != nil || len(hs) != 1 {
			t.Errorf("Page6 of subnet 8: %+v %v", hs, err)
		}
		all, err := h.Page6(ctx, nil, 0, 100)
		if err != nil || len(all) == 0 || slices.ContainsFunc(all, func(h host.Host6) bool { return h.Res.Hostname == "v4-only" }) {
			t.Errorf("Page6 of every subnet (the DHCPv4-only host left out): %+v %v", all, err)
		}
		if hs, err := h.ByHostname6(ctx, "V4-ONLY", nil); err != nil || len(hs) != 0 {
			t.Errorf("ByHostname6 of a DHCPv4-only host: %+v %v", hs, err)
		}
		// The DHCPv4 side's reads leave the DHCPv6-only host out (its
		// dhcp4_subnet_id is NULL, not the global subnet 0).
		all4, err := h.Page4(ctx, nil, 0, 100)
		if err != nil || len(all4) != 1 || all4[0].Res.Hostname != "v4-only" {
			t.Errorf("Page4 of every subnet: %+v %v", all4, err)
		}
		if hs, err := h.ByHostname4(ctx, "cpe-a", nil); err != nil || len(hs) != 0 {
			t.Errorf("ByHostname4 of a DHCPv6-only host: %+v %v", hs, err)
		}
		if hs, err := h.ByID(ctx, host.DUID, []byte{1, 2, 3, 4}); err != nil || len(hs) != 0 {
			t.Errorf("ByID of a DHCPv6-only host: %+v %v", hs, err)
		}
		if ok, err := h.DelByAddr6(ctx, 8, netip.MustParseAddr("2001:db8:800::")); !ok || err != nil {
			t.Fatalf("DelByAddr6 of the prefix: %v %v", ok, err)
		}
		if out, err := db.Exec("SELECT COUNT(*) FROM ipv6_reservations WHERE address LIKE '2001:db8:8%'"); err != nil || strings.TrimSpace(out) != "0" {
			t.Errorf("ipv6_reservations rows left: %q %v", out, err)
		}
		if ok, err := h.Del6(ctx, 8, host.DUID, []byte{1, 2, 3, 4}); ok || err != nil {
			t.Errorf("Del6 of a deleted host: %v %v", ok, err)
		}
	})
}
