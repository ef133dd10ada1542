package xdptest

import (
	"errors"
	"net"
	"sync/atomic"
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
			e := newEnv(t)
			ifindex := e.serverIfindex()
			load := func() *bpf.Objects {
				o, err := bpf.Load(bpf.Options{PinDir: e.bpffs})
				if err != nil {
					t.Fatalf("load: %v", err)
				}
				return o
			}
			attach := func(o *bpf.Objects) link.Link {
				var l link.Link
				err := e.lab.Server.Do(func() (err error) {
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
				ethFrame(t, discover(t, dropMAC), e.lab.ServerMAC),
				ethFrame(t, discover(t, testMAC(7, 2)), e.lab.ServerMAC),
			}
			var sent, refused atomic.Int64
			stop, done := make(chan struct{}), make(chan struct{})
			go func() {
				defer close(done)
				// 2 frames every ms: 2,000 frames a second.
				tk := time.NewTicker(time.Millisecond)
				defer tk.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tk.C:
						n, err := w.WriteBatch(frames)
						if n != len(frames) || err != nil {
							refused.Add(1)
							if n == 1 {
								t.Errorf("half a pair sent: the counts cannot be compared")
							}
							continue
						}
						sent.Add(1)
					}
				}
			}()
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
			close(stop)
			<-done
			time.Sleep(50 * time.Millisecond)
			c1, err := cur.Counters()
			if err != nil {
				t.Fatal(err)
			}
			n := uint64(sent.Load())
			dropped := c1.DropMAC - c0.DropMAC
			passed := c1.XSKMissing - c0.XSKMissing
			if dropped != n || passed != n {
				t.Errorf("%d frame pairs sent over %d program swaps: DropMAC +%d, XSKMissing +%d (want %d each; counters %+v)",
					n, swaps, dropped, passed, n, c1)
			}
			if n < 500 {
				t.Errorf("only %d frame pairs sent (%d refused): the stream did not run", n, refused.Load())
			}
			t.Logf("%v: %d frames (%d pairs, %d refused by the sender's kernel) over %d program swaps by link.Update: %d dropped + %d passed, none lost",
				mode, 2*n, n, refused.Load(), swaps, dropped, passed)
		})
	}
}

// serverIfindex is xd0's index in the server namespace.
func (e *env) serverIfindex() int {
	e.t.Helper()
	var idx int
	err := e.lab.Server.Do(func() error {
		ifc, err := net.InterfaceByName(serverIf)
		if err != nil {
			return err
		}
		idx = ifc.Index
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return idx
}
