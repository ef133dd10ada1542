package bpf

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"xdhcp/internal/lab"
	"xdhcp/internal/testlog"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// vethPair builds a lab with the veth xb-srv (in the server namespace) –
// xb-cli (in the client namespace), both up and without addresses; it
// skips t unless the process can build namespaces and load BPF programs.
func vethPair(t *testing.T) *lab.Pair {
	t.Helper()
	lab.SkipWithoutBPF(t)
	_, p := lab.PairForTest(t, "xb", "xb-srv", netip.Prefix{}, "xb-cli", netip.Prefix{})
	return p
}

// mountBPFFS mounts a private bpffs in a temporary directory.
func mountBPFFS(t *testing.T) string {
	t.Helper()
	dir, err := lab.MountBPFFS(t)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// sendFrame sends raw Ethernet frames out of ifindex from inside ns.
func sendFrame(t *testing.T, ns *lab.NS, ifindex int, frames ...[]byte) {
	t.Helper()
	err := ns.Do(func() error {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("packet socket: %w", err)
		}
		defer unix.Close(fd)
		sa := &unix.SockaddrLinklayer{Ifindex: ifindex, Halen: 6, Addr: [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
		for _, f := range frames {
			if err := unix.Sendto(fd, f, 0, sa); err != nil {
				return fmt.Errorf("send: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// waitCounter polls until get(counters) reaches want; more than want is an
// error unless atLeast (not_dhcp also counts the peer's IPv6 chatter).
func waitCounter(t *testing.T, o *Objects, name string, get func(Counters) uint64, want uint64, atLeast ...bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		c, err := o.Counters()
		if err != nil {
			t.Fatal(err)
		}
		if got := get(c); got >= want {
			if got > want && len(atLeast) == 0 {
				t.Errorf("%s = %d, want %d", name, got, want)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %d after 3s, want %d (counters %+v)", name, get(c), want, c)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func attachIn(t *testing.T, ns *lab.NS, o *Objects, ifindex int, mode Mode) link.Link {
	t.Helper()
	var l link.Link
	if err := ns.Do(func() (err error) {
		l, err = o.Attach(ifindex, mode)
		return err
	}); err != nil {
		t.Fatalf("Attach(%d, %v): %v", ifindex, mode, err)
	}
	return l
}

// xdpAttachMode reads how the kernel reports the attachment (netlink
// XDP_ATTACHED_DRV = 1, XDP_ATTACHED_SKB = 2) and the program ID.
func xdpAttachMode(t *testing.T, ns *lab.NS, ifindex int) (mode uint32, progID uint32) {
	t.Helper()
	h, err := ns.Handle()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Delete()
	l, err := h.LinkByIndex(ifindex)
	if err != nil {
		t.Fatal(err)
	}
	x := l.Attrs().Xdp
	if x == nil {
		return 0, 0
	}
	return x.AttachMode, x.ProgId
}

// TestNetNSPinnedDropList: a frame from the peer namespace with a listed MAC
// is dropped by the attached program; a restart (new Load on the same PinDir)
// keeps the drop list and the counters, and attaching again updates the
// pinned link in place instead of failing with EBUSY.
func TestNetNSPinnedDropList(t *testing.T) {
	for _, tc := range []struct {
		mode     Mode
		kernMode uint32
	}{{ModeNative, 1}, {ModeGeneric, 2}} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			p := vethPair(t)
			srv, cli, srvIdx, cliIdx := p.Server, p.Client, p.ServerIndex, p.ClientIndex
			pin := mountBPFFS(t)

			mac := []byte{0x02, 0xb0, 0x0b, 0x00, 0x00, 0x01}
			dropped := frame{msgType: discover, chaddr: mac}.bytes()
			allowed := frame{msgType: discover, chaddr: []byte{0x02, 0xb0, 0x0b, 0, 0, 2}}.bytes()

			o1, err := Load(Options{PinDir: pin, Logger: testlog.New(t)})
			if err != nil {
				t.Fatal(err)
			}
			if err := o1.DropMAC(mac, true); err != nil {
				t.Fatal(err)
			}
			l1 := attachIn(t, srv, o1, srvIdx, tc.mode)
			if m, _ := xdpAttachMode(t, srv, srvIdx); m != tc.kernMode {
				t.Errorf("kernel reports attach mode %d, want %d", m, tc.kernMode)
			}
			if _, err := os.Stat(filepath.Join(pin, fmt.Sprintf("xdp_link_%d", srvIdx))); err != nil {
				t.Errorf("link not pinned: %v", err)
			}

			sendFrame(t, cli, cliIdx, dropped)
			waitCounter(t, o1, "drop_mac", func(c Counters) uint64 { return c.DropMAC }, 1)
			sendFrame(t, cli, cliIdx, allowed)
			waitCounter(t, o1, "xsk_missing", func(c Counters) uint64 { return c.XSKMissing }, 1)

			// "Restart": the old process lets go of everything; the pinned
			// link keeps its program attached in the meantime.
			if err := l1.Close(); err != nil {
				t.Fatal(err)
			}
			if err := o1.Close(); err != nil {
				t.Fatal(err)
			}
			if m, _ := xdpAttachMode(t, srv, srvIdx); m != tc.kernMode {
				t.Fatalf("program detached when the process let go (mode %d)", m)
			}

			o2, err := Load(Options{PinDir: pin, Logger: testlog.New(t)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := o2.Unpin(); err != nil {
					t.Errorf("Unpin: %v", err)
				}
				if err := o2.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			macs, _, err := o2.ListDropped()
			if err != nil {
				t.Fatal(err)
			}
			if len(macs) != 1 || string(macs[0]) != string(mac) {
				t.Fatalf("drop list after reload = %x, want [%x]", macs, mac)
			}

			// Twice: the first replaces the old process's program, the
			// second re-applies ours; neither may fail with EBUSY.
			for i := range 2 {
				l2 := attachIn(t, srv, o2, srvIdx, tc.mode)
				info, err := o2.Program().Info()
				if err != nil {
					t.Fatal(err)
				}
				want, _ := info.ID()
				if _, got := xdpAttachMode(t, srv, srvIdx); got != uint32(want) {
					t.Errorf("attach %d: interface runs program %d, want %d", i, got, want)
				}
				if err := l2.Close(); err != nil {
					t.Fatal(err)
				}
			}

			// Counters were pinned too: they continue from the old values.
			sendFrame(t, cli, cliIdx, dropped)
			waitCounter(t, o2, "drop_mac", func(c Counters) uint64 { return c.DropMAC }, 2)
		})
	}
}

// TestNetNSAutoMode: auto picks native on veth, and without pinning a second
// attach of the same interface is refused rather than silently replacing.
func TestNetNSAutoMode(t *testing.T) {
	p := vethPair(t)
	srv, srvIdx := p.Server, p.ServerIndex
	o := load(t, Options{})
	l := attachIn(t, srv, o, srvIdx, ModeAuto)
	defer l.Close()
	if m, _ := xdpAttachMode(t, srv, srvIdx); m != 1 {
		t.Errorf("auto mode on veth: kernel mode %d, want native (1)", m)
	}
	err := srv.Do(func() error {
		l2, err := o.Attach(srvIdx, ModeNative)
		if err == nil {
			l2.Close()
		}
		return err
	})
	if err == nil {
		t.Error("second unpinned attach succeeded")
	}
}

// xskSocket makes a bound AF_XDP socket on queue 0 of ifindex, inside ns. It
// has a UMEM and rings but nothing in its fill ring: enough for the XSKMAP to
// accept it and for bpf_redirect_map to pick it, which is all this package
// decides (receiving is the fastpath's business).
func xskSocket(t *testing.T, ns *lab.NS, ifindex int) int {
	t.Helper()
	const frameSize, frames = 4096, 16
	umem, err := unix.Mmap(-1, 0, frameSize*frames, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	var fd int
	err = ns.Do(func() error {
		var err error
		fd, err = unix.Socket(unix.AF_XDP, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("af_xdp socket: %w", err)
		}
		reg := unix.XDPUmemReg{Addr: uint64(uintptr(unsafe.Pointer(&umem[0]))), Len: uint64(len(umem)), Size: frameSize}
		if _, _, errno := unix.Syscall6(unix.SYS_SETSOCKOPT, uintptr(fd), unix.SOL_XDP, unix.XDP_UMEM_REG,
			uintptr(unsafe.Pointer(&reg)), unsafe.Sizeof(reg), 0); errno != 0 {
			return fmt.Errorf("XDP_UMEM_REG: %w", errno)
		}
		for _, opt := range []int{unix.XDP_UMEM_FILL_RING, unix.XDP_UMEM_COMPLETION_RING, unix.XDP_RX_RING} {
			if err := unix.SetsockoptInt(fd, unix.SOL_XDP, opt, frames); err != nil {
				return fmt.Errorf("ring option %d: %w", opt, err)
			}
		}
		return unix.Bind(fd, &unix.SockaddrXDP{Flags: unix.XDP_COPY, Ifindex: uint32(ifindex), QueueID: 0})
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		unix.Close(fd)
		runtime.KeepAlive(umem)
		_ = unix.Munmap(umem)
	})
	return fd
}

// TestNetNSRedirect: with a socket registered for the queue, DHCP requests are
// redirected (counted as redirected); without, they go to the stack
// (xsk_missing); non-DHCP traffic never goes to the socket.
func TestNetNSRedirect(t *testing.T) {
	p := vethPair(t)
	srv, cli, srvIdx, cliIdx := p.Server, p.Client, p.ServerIndex, p.ClientIndex
	o := load(t, Options{})
	l := attachIn(t, srv, o, srvIdx, ModeNative)
	defer l.Close()

	fd := xskSocket(t, srv, srvIdx)
	if err := o.RegisterXSK(0, fd); err != nil {
		t.Fatal(err)
	}
	disc := frame{msgType: discover}.bytes()
	sendFrame(t, cli, cliIdx, disc, disc)
	waitCounter(t, o, "redirected", func(c Counters) uint64 { return c.Redirected }, 2)
	sendFrame(t, cli, cliIdx, frame{msgType: discover, dstPort: 68}.bytes())
	waitCounter(t, o, "not_dhcp", func(c Counters) uint64 { return c.NotDHCP }, 1, true)

	if err := o.UnregisterXSK(0); err != nil {
		t.Fatal(err)
	}
	sendFrame(t, cli, cliIdx, disc)
	waitCounter(t, o, "xsk_missing", func(c Counters) uint64 { return c.XSKMissing }, 1)
	if c, _ := o.Counters(); c.Redirected != 2 {
		t.Errorf("redirected = %d after unregister, want 2", c.Redirected)
	}
}

// TestStaleCountersReplaced: counters pinned by an older program (a
// shorter struct) do not stop an upgrade from loading; the drop lists
// pinned beside them are kept.
func TestStaleCountersReplaced(t *testing.T) {
	requireCaps(t)
	pin := mountBPFFS(t)
	o1, err := Load(Options{PinDir: pin, Logger: testlog.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := o1.DropMAC(defaultMAC, true); err != nil {
		t.Fatal(err)
	}
	o1.Close()
	if err := os.Remove(filepath.Join(pin, dhcpMapStats)); err != nil {
		t.Fatal(err)
	}
	old, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: 14 * 8, MaxEntries: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if err := old.Pin(filepath.Join(pin, dhcpMapStats)); err != nil {
		t.Fatal(err)
	}
	o2, err := Load(Options{PinDir: pin, Logger: testlog.New(t)})
	if err != nil {
		t.Fatalf("load over stale counters: %v", err)
	}
	defer o2.Close()
	defer o2.Unpin()
	if _, err := o2.Counters(); err != nil {
		t.Fatal(err)
	}
	macs, _, err := o2.ListDropped()
	if err != nil || len(macs) != 1 || !bytes.Equal(macs[0], defaultMAC) {
		t.Fatalf("drop list after the upgrade: %x %v", macs, err)
	}
}
