package xdptest

import (
	"slices"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// TestDropClass: a DROP-class client, by hardware address from a
// reservation and by client-id added at run time with xdhcp-drop-add, is
// dropped in XDP: every frame is counted in xdp-drop-mac or
// xdp-drop-client-id, and none reaches user space (neither the fast-path
// worker nor the slow path counts it), while another client is served.
func TestDropClass(t *testing.T) {
	forModes(t, func(t *testing.T, e *env) {
		dropMAC := testMAC(2, 1)
		cidMAC := testMAC(2, 2)
		cid := []byte{0x01, 0x02, 0x78, 0x78, 0x02, 0x00, 0x02}
		cfg := e.config()
		sn := cfg["subnet4"].([]any)[0].(map[string]any)
		sn["reservations"] = []any{map[string]any{
			"hw-address": dropMAC.String(), "client-classes": []any{"DROP"},
		}}
		d := e.serve(cfg)
		d.cmd("xdhcp-drop-add", map[string]any{"client-id": "01:02:78:78:02:00:02"}, nil)

		if hw, cids := d.dropList(); !slices.Contains(hw, dropMAC.String()) || !slices.Contains(cids, "01:02:78:78:02:00:02") {
			t.Errorf("xdhcp-drop-list = %v %v, want %s and the client-id", hw, cids, dropMAC)
		}

		w := e.wire()
		const n = 50
		var frames [][]byte
		for range n {
			frames = append(frames, e.discoverFrame(dropMAC))
		}
		for range n {
			frames = append(frames, e.discoverFrame(cidMAC, dhcpv4.WithOption(dhcpv4.OptClientIdentifier(cid))))
		}
		before := d.stats()
		send(t, w, frames...)
		if v, ok := d.waitStat("xdp-drop-client-id", 3*time.Second, func(v int64) bool { return v-before["xdp-drop-client-id"] >= n }); !ok {
			t.Fatalf("xdp-drop-client-id grew by %d, want %d", v-before["xdp-drop-client-id"], n)
		}
		// Give anything that leaked past XDP time to be counted.
		time.Sleep(200 * time.Millisecond)
		after := d.stats()
		wantDeltas(t, before, after, map[string]int64{
			"xdp-drop-mac":       n,
			"xdp-drop-client-id": n,
			"xdp-redirected":     0,
			"fastpath-rx-frames": 0,
			"pkt4-received":      0,
		})
		t.Logf("%s: %d DROP-class frames by MAC and %d by client-id dropped in XDP, none in user space", e.mode, n, n)

		// Another client is served, through the same path.
		l := dora(t, e.nclient(testMAC(2, 3)))
		if l.ACK.MessageType() != dhcpv4.MessageTypeAck {
			t.Errorf("other client: reply %v, want ACK", l.ACK.MessageType())
		}
		final := d.stats()
		if got := delta(t, after, final, "pkt4-ack-sent"); got != 1 {
			t.Errorf("pkt4-ack-sent grew by %d for the other client, want 1", got)
		}

		// Deleting the runtime entry lets that client through again.
		d.cmd("xdhcp-drop-del", map[string]any{"client-id": "01:02:78:78:02:00:02"}, nil)
		send(t, w, e.discoverFrame(cidMAC, dhcpv4.WithOption(dhcpv4.OptClientIdentifier(cid))))
		if v, ok := d.waitStat("pkt4-received", 3*time.Second, func(v int64) bool { return v > final["pkt4-received"] }); !ok {
			t.Errorf("after xdhcp-drop-del the client's DISCOVER did not reach the server (pkt4-received %d)", v)
		}
	})
}
