package leaselog

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"xdhcp/hooks"
	"xdhcp/lease"
)

// relayed is a relayed REQUEST with xid 0x1234abcd, client-id 01:aa and
// circuit-id "port7".
func relayed() []byte {
	b := make([]byte, 240)
	b[0], b[1], b[2] = 1, 1, 6
	copy(b[4:8], []byte{0x12, 0x34, 0xab, 0xcd})
	copy(b[24:28], []byte{10, 0, 0, 1})
	copy(b[28:34], []byte{2, 0, 0, 0, 0, 9})
	copy(b[236:240], []byte{0x63, 0x82, 0x53, 0x63})
	b = append(b, 53, 1, 3, 61, 2, 1, 0xaa, 82, 7, 1, 5, 'p', 'o', 'r', 't', '7', 255)
	return b
}

func TestLines(t *testing.T) {
	var buf bytes.Buffer
	l := New(slog.New(slog.NewJSONHandler(&buf, nil)))
	ls := []lease.Lease{{Addr: netip.MustParseAddr("10.0.0.50"), HWAddr: []byte{2, 0, 0, 0, 0, 9}, ValidLft: 3600, SubnetID: 4}}
	for _, tc := range []struct {
		e  hooks.Event
		id string
	}{
		{hooks.Event{Point: hooks.Lease4Offer}, "DHCP4_LEASE_ADVERT"},
		{hooks.Event{Point: hooks.Leases4Committed}, "DHCP4_LEASE_ALLOC"},
		{hooks.Event{Point: hooks.Leases4Committed, Cached: true}, "DHCP4_LEASE_REUSE"},
		{hooks.Event{Point: hooks.Lease4Release}, "DHCP4_RELEASE"},
		{hooks.Event{Point: hooks.Lease4Decline}, "DHCP4_DECLINE_LEASE"},
	} {
		buf.Reset()
		e := tc.e
		e.Time, e.Query, e.Iface, e.Leases = time.Now(), relayed(), "eth1", ls
		l.LeaseEvent(&e)
		var m map[string]any
		if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
			t.Fatalf("%s: %v: %q", tc.id, err, buf.String())
		}
		want := map[string]any{"level": "INFO", "msgid": tc.id, "addr": "10.0.0.50", "mac": "02:00:00:00:00:09",
			"hwtype": float64(1), "client_id": "01:aa", "xid": "0x1234abcd", "giaddr": "10.0.0.1",
			"circuit_id": "70:6f:72:74:37", "subnet_id": float64(4)}
		for k, v := range want {
			if m[k] != v {
				t.Errorf("%s: %s = %v, want %v", tc.id, k, m[k], v)
			}
		}
		if !strings.HasPrefix(m["msg"].(string), tc.id+": ") {
			t.Errorf("msg %q", m["msg"])
		}
	}
	// Nothing is formatted when the logger does not take INFO.
	buf.Reset()
	New(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))).LeaseEvent(&hooks.Event{Point: hooks.Leases4Committed, Leases: ls})
	if buf.Len() != 0 {
		t.Errorf("logged at WARN: %s", buf.String())
	}
}
