package host

import (
	"bytes"
	"context"
	"testing"

	"xdhcp/config"
)

func TestIdentifierKinds(t *testing.T) {
	for i, name := range []string{"hw-address", "duid", "circuit-id", "client-id", "flex-id"} {
		k, ok := ParseIDType(name)
		if !ok || int(k) != i || k.String() != name {
			t.Errorf("%s: %d %v %s", name, k, ok, k)
		}
		var r config.Reservation
		SetIdentifier(&r, k, []byte{1, 2})
		if got, id := Identifier(&r); got != k || !bytes.Equal(id, []byte{1, 2}) {
			t.Errorf("%s round trip: %s %x", name, got, id)
		}
	}
	if _, ok := ParseIDType("mac"); ok {
		t.Error("mac is not a Kea identifier type")
	}
}

// The configuration as a source: IDs from 1, global reservations first,
// pages by ID.
func TestConfigured(t *testing.T) {
	cfg, err := config.Parse([]byte(`{"Dhcp4": {"reservations": [{"hw-address": "01:00:00:00:00:01", "hostname": "g"}],
		"subnet4": [{"id": 7, "subnet": "192.0.2.0/24", "reservations": [
			{"hw-address": "01:00:00:00:00:02", "ip-address": "192.0.2.2", "hostname": "A"},
			{"client-id": "01:02", "hostname": "a"}]}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	c, ctx := FromConfig(cfg), context.Background()
	if r, _ := c.Get4(ctx, 7, ClientID, []byte{1, 2}); r == nil || r.Hostname != "a" {
		t.Errorf("Get4: %+v", r)
	}
	if r, _ := c.Get4(ctx, 0, ClientID, []byte{1, 2}); r != nil {
		t.Errorf("global Get4 found %+v", r)
	}
	if hs, _ := c.ByHostname4(ctx, "a", nil); len(hs) != 2 || hs[0].ID != 2 || hs[1].ID != 3 {
		t.Errorf("ByHostname4: %+v", hs)
	}
	seven := uint32(7)
	p1, _ := c.Page4(ctx, &seven, 0, 1)
	p2, _ := c.Page4(ctx, &seven, p1[0].ID, 5)
	if len(p1) != 1 || p1[0].ID != 2 || len(p2) != 1 || p2[0].ID != 3 {
		t.Errorf("pages %+v %+v", p1, p2)
	}
	if hs, _ := c.All4(ctx, 0); len(hs) != 1 || hs[0].ID != 1 {
		t.Errorf("All4(0): %+v", hs)
	}
}
