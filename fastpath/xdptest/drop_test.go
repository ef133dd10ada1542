package xdptest

// What XDP drops: DROP-class clients, clients over their rate limit, and
// the drop list across a daemon restart.

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"xdhcp/internal/daemontest"
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
		// The counter ticks after the send returns, so the client can
		// hold its ACK a moment before the statistic shows it.
		if v, ok := d.waitStat("pkt4-ack-sent", 3*time.Second, func(v int64) bool { return v > after["pkt4-ack-sent"] }); !ok {
			t.Errorf("pkt4-ack-sent grew by %d for the other client, want 1", v-after["pkt4-ack-sent"])
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

// TestRateLimit: with rate-limit {rate 5, burst 5}, a broken client that
// renews 50 times a second for 2 s (100 REQUESTs) gets about burst + 2 s x
// rate through; the rest is dropped in XDP and counted in
// xdp-drop-rate-limited. A well-behaved client renewing meanwhile is served
// every time: the buckets are per client.
func TestRateLimit(t *testing.T) {
	forModes(t, func(t *testing.T, e *env) {
		cfg := e.config()
		cfg["xdhcp"].(map[string]any)["rate-limit"] = map[string]any{"rate": 5, "burst": 5}
		d := e.serve(cfg)

		broken := testMAC(3, 1)
		bl := dora(t, e.nclient(broken))
		good := e.nclient(testMAC(3, 2))
		gl := dora(t, good)
		// Let both buckets fill up again.
		time.Sleep(1100 * time.Millisecond)

		w := e.wire()
		rc := countReplies(w)
		before := d.stats()

		const rate, dur = 50, 2 * time.Second
		total := int(rate * dur / time.Second)
		goodErr := make(chan error, 1)
		goodRenewals := 0
		go func() {
			// The good client renews every 300 ms during the storm:
			// under its own rate of 5/s.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			for range 6 {
				if _, err := good.Renew(ctx, gl, daemontest.FreshXID()); err != nil {
					goodErr <- err
					return
				}
				goodRenewals++
				time.Sleep(300 * time.Millisecond)
			}
			goodErr <- nil
		}()
		tick := time.NewTicker(time.Second / rate)
		for range total {
			<-tick.C
			req, err := dhcpv4.NewRenewFromAck(bl.ACK)
			if err != nil {
				t.Fatal(err)
			}
			send(t, w, ethFrame(t, req, e.pair.ServerMAC))
		}
		tick.Stop()
		if err := <-goodErr; err != nil {
			t.Errorf("well-behaved client: renewal %d failed during the storm: %v", goodRenewals+1, err)
		}
		time.Sleep(300 * time.Millisecond)
		rc.close()
		after := d.stats()

		limited := delta(t, before, after, "xdp-drop-rate-limited")
		acks := rc.get(broken, dhcpv4.MessageTypeAck)
		// Allowed through: the burst plus the rate over the storm,
		// with one token of slack for timing at either end.
		maxPass := 5 + int(5*dur/time.Second) + 2
		if limited < int64(total-maxPass) || limited > int64(total-5) {
			t.Errorf("xdp-drop-rate-limited grew by %d of %d renewals, want %d..%d", limited, total, total-maxPass, total-5)
		}
		if acks < 5 || acks > maxPass {
			t.Errorf("broken client got %d ACKs for %d renewals, want 5..%d (burst + rate)", acks, total, maxPass)
		}
		if got := limited + int64(acks); got > int64(total) {
			t.Errorf("rate-limited %d + answered %d > sent %d", limited, acks, total)
		}
		t.Logf("%s: broken client sent %d renewals at %d/s: %d cut in XDP, %d answered; well-behaved client: %d/6 renewals answered",
			e.mode, total, rate, limited, acks, goodRenewals)
	})
}

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
