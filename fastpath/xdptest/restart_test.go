package xdptest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// TestRestartKeepsDropList: entries added with xdhcp-drop-add survive a
// SIGTERM and a new start on the same bpffs: the new daemon lists them and
// XDP still drops them. A drop-listed client sends 200 DISCOVERs a second
// through the whole restart; since the pinned link keeps the program
// attached while no daemon runs and the new daemon swaps its program in
// with link.Update, every one of those frames is counted in xdp-drop-mac
// (the counters are pinned too) and none reaches either daemon.
func TestRestartKeepsDropList(t *testing.T) {
	forModes(t, func(t *testing.T, e *env) {
		cfg := e.config()
		d1 := e.serve(cfg)
		_, prog1 := e.xdpProg()

		dropMAC := testMAC(6, 1)
		const cid = "01:02:78:78:06:00:02"
		d1.cmd("xdhcp-drop-add", map[string]any{"hw-address": dropMAC.String()}, nil)
		d1.cmd("xdhcp-drop-add", map[string]any{"client-id": cid}, nil)

		// The stream: one frame every 5 ms until stopped.
		w := e.wire()
		f := e.discoverFrame(dropMAC)
		base := d1.stat("xdp-drop-mac")
		st := startStream(w, 5*time.Millisecond, [][]byte{f})
		time.Sleep(300 * time.Millisecond)
		d1.stop()
		downAt := time.Now()
		// No daemon: the pinned link's program keeps dropping.
		time.Sleep(300 * time.Millisecond)
		if got := e.kernelXDPMode(); got == 0 {
			t.Errorf("no XDP program on %s while the daemon is stopped: the pinned link did not keep it", serverIf)
		}
		d2 := e.start(cfg)
		down := time.Since(downAt)
		time.Sleep(300 * time.Millisecond)
		st.stop()
		// Let the last frames be counted.
		time.Sleep(100 * time.Millisecond)

		sent := st.sent.Load()
		dropped := d2.stat("xdp-drop-mac") - base
		if dropped != sent {
			t.Errorf("xdp-drop-mac grew by %d across the restart, %d frames sent: %d lost or leaked", dropped, sent, sent-dropped)
		}
		if refused := st.refused.Load(); refused > 0 {
			t.Errorf("the client's kernel refused %d frames", refused)
		}
		for _, name := range []string{"pkt4-received", "fastpath-rx-frames", "xdp-redirected"} {
			if v := d2.stat(name); v != 0 {
				t.Errorf("new daemon: %s = %d, want 0 (only drop-listed frames were sent)", name, v)
			}
		}
		if hw, cids := d2.dropList(); !slices.Contains(hw, dropMAC.String()) || !slices.Contains(cids, cid) {
			t.Errorf("after the restart xdhcp-drop-list = %v %v, want %s and %s", hw, cids, dropMAC, cid)
		}
		// The new daemon's own program took over the pinned link.
		if _, prog2 := e.xdpProg(); prog2 == prog1 || prog2 == 0 {
			t.Errorf("program id %d after the restart, was %d: want a new program in the pinned link", prog2, prog1)
		}
		if !strings.Contains(d2.LogSince(), "xdp program updated in pinned link") {
			t.Errorf("the new daemon did not update the pinned link (log:\n%s)", d2.Log())
		}
		e.wantKernelMode()
		t.Logf("%s: %d drop-listed frames sent over a restart (%v without a daemon serving): %d counted in xdp-drop-mac",
			e.mode, sent, down.Round(time.Millisecond), dropped)

		// The new daemon serves others, and deleting the entry lets the
		// client through to it.
		if l := dora(t, e.nclient(testMAC(6, 3))); l.ACK.MessageType() != dhcpv4.MessageTypeAck {
			t.Errorf("other client after the restart: %v, want ACK", l.ACK.MessageType())
		}
		d2.cmd("xdhcp-drop-del", map[string]any{"hw-address": dropMAC.String()}, nil)
		rx := d2.stat("pkt4-received")
		send(t, w, f)
		if v, ok := d2.waitStat("pkt4-received", 3*time.Second, func(v int64) bool { return v > rx }); !ok {
			t.Errorf("after xdhcp-drop-del the DISCOVER did not reach the server (pkt4-received %d)", v)
		}
	})
}
