package xdptest

import (
	"os"
	"slices"
	"strings"
	"sync/atomic"
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
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t)
			cfg := e.config(mode)
			d1 := e.start(cfg)
			e.wantKernelMode(mode)
			_, prog1 := e.xdpProg()

			dropMAC := testMAC(6, 1)
			const cid = "01:02:78:78:06:00:02"
			d1.cmd("xdhcp-drop-add", map[string]any{"hw-address": dropMAC.String()}, nil)
			d1.cmd("xdhcp-drop-add", map[string]any{"client-id": cid}, nil)

			// The stream: one frame every 5 ms until stopped.
			w := e.wire()
			f := ethFrame(t, discover(t, dropMAC), e.lab.ServerMAC)
			var sent, refused atomic.Int64
			stop := make(chan struct{})
			done := make(chan struct{})
			base := d1.stat("xdp-drop-mac")
			go func() {
				defer close(done)
				tk := time.NewTicker(5 * time.Millisecond)
				defer tk.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tk.C:
						if n, err := w.WriteBatch([][]byte{f}); n == 1 && err == nil {
							sent.Add(1)
						} else {
							refused.Add(1)
						}
					}
				}
			}()
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
			close(stop)
			<-done
			// Let the last frames be counted.
			time.Sleep(100 * time.Millisecond)

			dropped := d2.stat("xdp-drop-mac") - base
			if dropped != sent.Load() {
				t.Errorf("xdp-drop-mac grew by %d across the restart, %d frames sent: %d lost or leaked", dropped, sent.Load(), sent.Load()-dropped)
			}
			if refused.Load() > 0 {
				t.Errorf("the client's kernel refused %d frames", refused.Load())
			}
			for _, name := range []string{"pkt4-received", "fastpath-rx-frames", "xdp-redirected"} {
				if v := d2.stat(name); v != 0 {
					t.Errorf("new daemon: %s = %d, want 0 (only drop-listed frames were sent)", name, v)
				}
			}
			var list struct {
				HW  []string `json:"hw-addresses"`
				CID []string `json:"client-ids"`
			}
			d2.cmd("xdhcp-drop-list", nil, &list)
			if !slices.Contains(list.HW, dropMAC.String()) || !slices.Contains(list.CID, cid) {
				t.Errorf("after the restart xdhcp-drop-list = %+v, want %s and %s", list, dropMAC, cid)
			}
			// The new daemon's own program took over the pinned link.
			if _, prog2 := e.xdpProg(); prog2 == prog1 || prog2 == 0 {
				t.Errorf("program id %d after the restart, was %d: want a new program in the pinned link", prog2, prog1)
			}
			if log, _ := os.ReadFile(d2.LogPath); !strings.Contains(string(log), "xdp program updated in pinned link") {
				t.Errorf("the new daemon did not update the pinned link (log:\n%s)", d2.LogTail(20))
			}
			e.wantKernelMode(mode)
			t.Logf("%s: %d drop-listed frames sent over a restart (%v without a daemon serving): %d counted in xdp-drop-mac",
				mode, sent.Load(), down.Round(time.Millisecond), dropped)

			// The new daemon serves others, and deleting the entry lets
			// the client through to it.
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
}

// xdpProg returns the kernel's attach mode and program id on xd0.
func (e *env) xdpProg() (mode uint32, id uint32) {
	e.t.Helper()
	h, err := e.lab.Server.Handle()
	if err != nil {
		e.t.Fatal(err)
	}
	defer h.Delete()
	l, err := h.LinkByName(serverIf)
	if err != nil {
		e.t.Fatal(err)
	}
	if x := l.Attrs().Xdp; x != nil && x.Attached {
		return uint32(x.AttachMode), x.ProgId
	}
	return 0, 0
}
