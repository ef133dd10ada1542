// Package lab builds throw-away network namespaces, veth pairs and bridges
// for tests, the demo and the benchmark runner, and tears them down again.
// Pair is the common two-namespace shape; NS.InjectFault, NS.Flap and Hang
// break the traffic between namespaces or stop a process, for the HA
// tests' faults; Available, BPFAvailable and the Skip helpers tell a test
// whether the process may build a lab and load BPF programs, and skip it,
// saying why, when not.
//
// Namespaces are named (bind-mounted under /run/netns), so `ip netns exec`
// and nsenter reach them too; to run a program inside one, prefer
// NS.Command, which uses `nsenter --net`, because `ip netns exec` remounts
// /sys and hides a bpffs mounted under /sys/fs/bpf.
//
// Nothing here changes the namespace of the calling thread: namespaces are
// entered only on dedicated, locked OS threads, and links are configured
// through netlink handles opened in the target namespace, which work from
// any thread.
package lab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// runDir is where named namespaces are bind-mounted (as iproute2 does).
const runDir = "/run/netns"

// Lab owns a set of namespaces, the links created in them and the processes
// started in them. Its methods are safe for concurrent use.
type Lab struct {
	prefix string // user prefix + "-" + random suffix

	mu     sync.Mutex
	closed bool
	nss    []*NS
	links  []labLink
	procs  []*exec.Cmd
}

// labLink remembers a link to delete on Close.
type labLink struct {
	ns   *NS
	name string
}

// NS is one named network namespace of a Lab.
type NS struct {
	lab    *Lab
	name   string
	handle netns.NsHandle
}

// New returns an empty lab whose namespaces are named prefix + "-" + a short
// random suffix + "-" + the name given to NS. Give each package or tool its
// own prefix so that leftovers can be traced to their owner.
func New(prefix string) (*Lab, error) {
	if prefix == "" || strings.ContainsAny(prefix, "/ \t\n") {
		return nil, fmt.Errorf("lab prefix %q: must be non-empty, without slashes or spaces", prefix)
	}
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("lab random suffix: %w", err)
	}
	return &Lab{prefix: prefix + "-" + hex.EncodeToString(b[:])}, nil
}

// ForTest returns a new lab closed by t.Cleanup, or skips t when namespaces
// are unavailable (see Available).
func ForTest(t testing.TB, prefix string) *Lab {
	t.Helper()
	SkipIfUnavailable(t)
	l, err := New(prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("close lab: %v", err)
		}
	})
	return l
}

// NS creates a named namespace, with its loopback up. name must be short:
// the full name is the lab's prefix, suffix and name.
func (l *Lab) NS(name string) (*NS, error) {
	if name == "" || strings.ContainsAny(name, "/ \t\n") {
		return nil, fmt.Errorf("namespace name %q: must be non-empty, without slashes or spaces", name)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, errors.New("lab is closed")
	}
	full := l.prefix + "-" + name
	h, err := newNamed(full)
	if err != nil {
		return nil, fmt.Errorf("create namespace %s: %w", full, err)
	}
	ns := &NS{lab: l, name: full, handle: h}
	l.nss = append(l.nss, ns) // from here on Close removes it
	nh, err := ns.Handle()
	if err != nil {
		return nil, err
	}
	defer nh.Delete()
	lo, err := nh.LinkByName("lo")
	if err == nil {
		err = nh.LinkSetUp(lo)
	}
	if err != nil {
		return nil, fmt.Errorf("bring up lo in %s: %w", full, err)
	}
	return ns, nil
}

// newNamed creates and bind-mounts a namespace on a dedicated locked thread,
// then puts the thread back in its original namespace. If that fails, the
// goroutine exits still locked, so the runtime kills the thread rather than
// reuse it in the wrong namespace.
func newNamed(name string) (netns.NsHandle, error) {
	type result struct {
		h   netns.NsHandle
		err error
	}
	res := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			res <- result{netns.None(), fmt.Errorf("get current namespace: %w", err)}
			runtime.UnlockOSThread()
			return
		}
		defer orig.Close()
		h, err := netns.NewNamed(name)
		if rerr := netns.Set(orig); rerr != nil {
			// Stay locked: this thread is in the wrong namespace.
			if h.IsOpen() {
				h.Close()
			}
			res <- result{netns.None(), errors.Join(err, fmt.Errorf("restore namespace: %w", rerr))}
			return
		}
		runtime.UnlockOSThread()
		if err != nil {
			// NewNamed may have created the mount point before failing.
			_ = unix.Unmount(filepath.Join(runDir, name), unix.MNT_DETACH)
			if !errors.Is(err, os.ErrExist) {
				_ = os.Remove(filepath.Join(runDir, name))
			}
		}
		res <- result{h, err}
	}()
	r := <-res
	return r.h, r.err
}

// Name is the namespace's full name, as `ip netns` lists it.
func (n *NS) Name() string { return n.name }

// Path is the namespace's bind mount, for nsenter --net= or netns.GetFromPath.
func (n *NS) Path() string { return filepath.Join(runDir, n.name) }

// Do runs fn on a locked OS thread inside the namespace and returns its
// error. Sockets fn creates stay in the namespace and may be used from any
// goroutine afterwards.
func (n *NS) Do(fn func() error) error { return doIn(n.handle, n.name, fn) }

// DoAt runs fn like NS.Do inside the namespace bind-mounted at path, which
// need not belong to a lab (a namespace given on a command line).
func DoAt(path string, fn func() error) error {
	h, err := netns.GetFromPath(path)
	if err != nil {
		return fmt.Errorf("open namespace %s: %w", path, err)
	}
	defer h.Close()
	return doIn(h, path, fn)
}

// doIn runs fn on a locked OS thread inside the namespace h (called name in
// errors). If the thread cannot be moved back to its original namespace, it
// is left locked so that it dies with its goroutine.
func doIn(h netns.NsHandle, name string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("get current namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := netns.Set(h); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter namespace %s: %w", name, err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			// Stay locked: the thread must not run other goroutines.
			errc <- errors.Join(ferr, fmt.Errorf("leave namespace %s: %w", name, err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// Command returns a command that runs name inside the namespace through
// `nsenter --net=PATH --`. nsenter execs the program, so the process's PID
// is the program's own. Start it with NS.Start to have Lab.Close stop it.
func (n *NS) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "nsenter", append([]string{"--net=" + n.Path(), "--", name}, args...)...)
}

// Start starts cmd and remembers it: Lab.Close kills it (by PID) and waits
// for it, unless the caller has waited for it already. Do not call cmd.Wait
// concurrently with Lab.Close.
func (n *NS) Start(cmd *exec.Cmd) error {
	l := n.lab
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return errors.New("lab is closed")
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s in %s: %w", cmd.Path, n.name, err)
	}
	l.procs = append(l.procs, cmd)
	return nil
}

// Handle opens a netlink handle in the namespace; it works from any thread.
// The caller must Delete it.
func (n *NS) Handle() (*netlink.Handle, error) {
	h, err := netlink.NewHandleAt(n.handle)
	if err != nil {
		return nil, fmt.Errorf("netlink handle in %s: %w", n.name, err)
	}
	return h, nil
}

// Link returns the link ifname of the namespace, as netlink reports it
// now (attributes such as the attached XDP program are read at the call).
func (n *NS) Link(ifname string) (netlink.Link, error) {
	var link netlink.Link
	err := n.withLink(ifname, func(_ *netlink.Handle, l netlink.Link) error {
		link = l
		return nil
	})
	return link, err
}

// withLink runs fn with a netlink handle in the namespace and the link
// ifname; a link not found is an error wrapping netlink.LinkNotFoundError.
func (n *NS) withLink(ifname string, fn func(h *netlink.Handle, l netlink.Link) error) error {
	h, err := n.Handle()
	if err != nil {
		return err
	}
	defer h.Delete()
	link, err := h.LinkByName(ifname)
	if err != nil {
		return fmt.Errorf("find %s in %s: %w", ifname, n.name, err)
	}
	return fn(h, link)
}

// LinkMAC returns the Ethernet address of ifname in the namespace.
func (n *NS) LinkMAC(ifname string) ([6]byte, error) {
	_, mac, err := n.linkID(ifname)
	return mac, err
}

// linkID returns the interface index and the Ethernet address of ifname.
func (n *NS) linkID(ifname string) (int, [6]byte, error) {
	var mac [6]byte
	link, err := n.Link(ifname)
	if err != nil {
		return 0, mac, err
	}
	if hw := link.Attrs().HardwareAddr; len(hw) == 6 {
		copy(mac[:], hw)
		return link.Attrs().Index, mac, nil
	}
	return 0, mac, fmt.Errorf("%s in %s has no Ethernet address", ifname, n.name)
}

// AddAddr adds the address p to ifname in the namespace.
func (n *NS) AddAddr(ifname string, p netip.Prefix) error {
	return configure(n, ifname, p, 0)
}

// SetLink brings ifname in the namespace up or down. Bringing a link up
// restores its connected routes.
func (n *NS) SetLink(ifname string, up bool) error {
	return n.withLink(ifname, func(h *netlink.Handle, link netlink.Link) error {
		set := h.LinkSetDown
		if up {
			set = h.LinkSetUp
		}
		if err := set(link); err != nil {
			return fmt.Errorf("set %s in %s up=%v: %w", ifname, n.name, up, err)
		}
		return nil
	})
}

// Veth creates a veth pair, aIf in a and bIf in b, gives each end its
// address (a zero Prefix means none) and brings both up.
func (l *Lab) Veth(a *NS, aIf string, aAddr netip.Prefix, b *NS, bIf string, bAddr netip.Prefix) error {
	if err := l.addVeth(a, aIf, b, bIf); err != nil {
		return err
	}
	if err := configure(a, aIf, aAddr, 0); err != nil {
		return err
	}
	return configure(b, bIf, bAddr, 0)
}

// addVeth creates the pair from a's side and remembers it for Close
// (deleting one end deletes both).
func (l *Lab) addVeth(a *NS, aIf string, b *NS, bIf string) error {
	return l.addLink(a, &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: aIf},
		PeerName:      bIf,
		PeerNamespace: netlink.NsFd(b.handle),
	})
}

// configure sets the optional address, the optional master and the up flag
// of ifname in ns.
func configure(ns *NS, ifname string, addr netip.Prefix, masterIndex int) error {
	return ns.withLink(ifname, func(h *netlink.Handle, link netlink.Link) error {
		if masterIndex != 0 {
			if err := h.LinkSetMasterByIndex(link, masterIndex); err != nil {
				return fmt.Errorf("enslave %s in %s: %w", ifname, ns.name, err)
			}
		}
		if addr.IsValid() {
			nladdr := &netlink.Addr{IPNet: &net.IPNet{
				IP:   addr.Addr().AsSlice(),
				Mask: net.CIDRMask(addr.Bits(), addr.Addr().BitLen()),
			}}
			if err := h.AddrAdd(link, nladdr); err != nil {
				return fmt.Errorf("add %s to %s in %s: %w", addr, ifname, ns.name, err)
			}
		}
		if err := h.LinkSetUp(link); err != nil {
			return fmt.Errorf("bring up %s in %s: %w", ifname, ns.name, err)
		}
		return nil
	})
}

// Bridge creates a bridge in ns with an optional address and brings it up.
func (l *Lab) Bridge(ns *NS, name string, addr netip.Prefix) error {
	if err := l.addLink(ns, &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}); err != nil {
		return err
	}
	return configure(ns, name, addr, 0)
}

// addLink adds link in ns and remembers it for Close.
func (l *Lab) addLink(ns *NS, link netlink.Link) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return errors.New("lab is closed")
	}
	h, err := ns.Handle()
	if err != nil {
		return err
	}
	defer h.Delete()
	if err := h.LinkAdd(link); err != nil {
		return fmt.Errorf("add %s %s in %s: %w", link.Type(), link.Attrs().Name, ns.name, err)
	}
	l.links = append(l.links, labLink{ns: ns, name: link.Attrs().Name})
	return nil
}

// VethToBridge creates a veth pair whose end portIf is a port of bridge
// brName in br, and whose end peerIf is in peer with the optional address
// peerAddr. Both ends are brought up.
func (l *Lab) VethToBridge(br *NS, brName string, portIf string, peer *NS, peerIf string, peerAddr netip.Prefix) error {
	bridge, err := br.Link(brName)
	if err != nil {
		return err
	}
	if err := l.addVeth(br, portIf, peer, peerIf); err != nil {
		return err
	}
	if err := configure(br, portIf, netip.Prefix{}, bridge.Attrs().Index); err != nil {
		return err
	}
	return configure(peer, peerIf, peerAddr, 0)
}

// Close kills the processes started with NS.Start and waits for them,
// deletes the links and the namespaces, and returns the errors joined. It
// is idempotent.
func (l *Lab) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var errs []error
	for _, cmd := range l.procs {
		if cmd.ProcessState != nil {
			continue // the caller waited for it already
		}
		if err := cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			errs = append(errs, fmt.Errorf("kill pid %d: %w", cmd.Process.Pid, err))
			continue
		}
		// Killed or already exited: reap it; its exit status is not ours
		// to report.
		_ = cmd.Wait()
	}
	l.procs = nil
	// Delete links before namespaces: deleting a namespace removes its
	// links only asynchronously, and a bridge or veth to a namespace that
	// is not ours would survive.
	for i := len(l.links) - 1; i >= 0; i-- {
		ln := l.links[i]
		if err := deleteLink(ln.ns, ln.name); err != nil {
			errs = append(errs, err)
		}
	}
	l.links = nil
	for i := len(l.nss) - 1; i >= 0; i-- {
		ns := l.nss[i]
		if ns.handle.IsOpen() {
			if err := ns.handle.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close namespace %s: %w", ns.name, err))
			}
		}
		if err := netns.DeleteNamed(ns.name); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("delete namespace %s: %w", ns.name, err))
		}
	}
	l.nss = nil
	l.closed = true
	return errors.Join(errs...)
}

// deleteLink deletes ifname in ns; a link already gone (a veth whose peer was
// deleted) is not an error.
func deleteLink(ns *NS, ifname string) error {
	err := ns.withLink(ifname, func(h *netlink.Handle, link netlink.Link) error {
		if err := h.LinkDel(link); err != nil && !errors.Is(err, unix.ENODEV) {
			return fmt.Errorf("delete %s in %s: %w", ifname, ns.name, err)
		}
		return nil
	})
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		return nil
	}
	return err
}
