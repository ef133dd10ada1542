package xdptest

import (
	"errors"
	"testing"
	"time"

	"github.com/cilium/ebpf/link"

	"xdhcp/bpf"
)

// TestProgramUpgrade: while a peer sends a steady stream of DHCP frames,
// half from a drop-listed MAC and half from an ordinary client, the program
// is replaced five times the way a new daemon does it (bpf.Load on the same
// PinDir, then Attach, which updates the pinned link in place). Every frame
// is judged by one of the programs: the pinned counters, shared by all of
// them, count exactly the frames sent (DropMAC for the listed MAC,
// XSKMissing for the other, since no AF_XDP socket is registered), and the
// interface never runs without a program.
//
// This is the loader-level test: the daemon owns its AF_XDP sockets, so a
// daemon restart cannot be gapless for served traffic (between the old
// process closing its sockets and the new one opening them, the pinned
// program passes requests to the stack); TestRestartKeepsDropList shows
// that the XDP verdicts themselves have no gap across a daemon restart.
func TestProgramUpgrade(t *testing.T) {
	for _, mode := range []bpf.Mode{bpf.ModeNative, bpf.ModeGeneric} {
		t.Run(mode.String(), func(t *testing.T) {
			e := newEnv(t, "")
			ifindex := e.pair.ServerIndex
			load := func() *bpf.Objects {
				o, err := bpf.Load(bpf.Options{PinDir: e.bpffs})
				if err != nil {
					t.Fatalf("load: %v", err)
				}
				return o
			}
			attach := func(o *bpf.Objects) link.Link {
				var l link.Link
				err := e.pair.Server.Do(func() (err error) {
					l, err = o.Attach(ifindex, mode)
					return err
				})
				if err != nil {
					t.Fatalf("attach: %v", err)
				}
				return l
			}
			cur := load()
			curLink := attach(cur)
			t.Cleanup(func() {
				// Unpin so that closing the last link detaches the
				// program; the bpffs is unmounted afterwards anyway.
				err := errors.Join(cur.Unpin(), curLink.Close(), cur.Close())
				if err != nil {
					t.Errorf("release program: %v", err)
				}
			})
			dropMAC := testMAC(7, 1)
			if err := cur.DropMAC(dropMAC, true); err != nil {
				t.Fatal(err)
			}
			mode0, prog := e.xdpProg()
			c0, err := cur.Counters()
			if err != nil {
				t.Fatal(err)
			}

			w := e.wire()
			frames := [][]byte{
				e.discoverFrame(dropMAC),
				e.discoverFrame(testMAC(7, 2)),
			}
			// 2 frames every ms: 2,000 frames a second.
			st := startStream(w, time.Millisecond, frames)
			time.Sleep(100 * time.Millisecond)
			const swaps = 5
			for i := range swaps {
				next := load()
				nextLink := attach(next)
				m, p := e.xdpProg()
				if m != mode0 || p == prog || p == 0 {
					t.Errorf("swap %d: kernel reports mode %d program %d, want mode %d and a program other than %d", i+1, m, p, mode0, prog)
				}
				prog = p
				if err := errors.Join(curLink.Close(), cur.Close()); err != nil {
					t.Errorf("swap %d: release the old program: %v", i+1, err)
				}
				cur, curLink = next, nextLink
				time.Sleep(100 * time.Millisecond)
			}
			st.stop()
			if p := st.partial.Load(); p > 0 {
				t.Errorf("half a pair sent %d times: the counts cannot be compared", p)
			}
			time.Sleep(50 * time.Millisecond)
			c1, err := cur.Counters()
			if err != nil {
				t.Fatal(err)
			}
			n := uint64(st.sent.Load())
			dropped := c1.DropMAC - c0.DropMAC
			passed := c1.XSKMissing - c0.XSKMissing
			if dropped != n || passed != n {
				t.Errorf("%d frame pairs sent over %d program swaps: DropMAC +%d, XSKMissing +%d (want %d each; counters %+v)",
					n, swaps, dropped, passed, n, c1)
			}
			if n < 500 {
				t.Errorf("only %d frame pairs sent (%d refused): the stream did not run", n, st.refused.Load())
			}
			t.Logf("%v: %d frames (%d pairs, %d refused by the sender's kernel) over %d program swaps by link.Update: %d dropped + %d passed, none lost",
				mode, 2*n, n, st.refused.Load(), swaps, dropped, passed)
		})
	}
}
