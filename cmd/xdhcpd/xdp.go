package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"xdhcp/bpf"
	"xdhcp/config"
	"xdhcp/control"
	"xdhcp/fastpath"
	"xdhcp/fastpath/xsk"
	"xdhcp/internal/stats"
	"xdhcp/lease/leasejson"
)

// xdpPath is the XDP front end of the daemon: one loaded program, attached
// to every served interface, with one AF_XDP socket and worker per queue.
type xdpPath struct {
	log *slog.Logger
	// ifaces each have their own program instance: the XSKMAP is indexed
	// by queue, and queue numbers repeat across interfaces. The drop lists,
	// rate buckets and counters are pinned by name, so with pinning every
	// instance shares them.
	ifaces  []*xdpIface
	pinned  bool
	workers []*fastpath.Worker
	// configDrops are the drop-list entries that come from reservations,
	// so that a reload removes the ones the configuration no longer has.
	configDrops map[string]bool
}

type xdpIface struct {
	objs  *bpf.Objects
	link  link.Link
	socks []*xsk.Socket
}

// xdpMode maps the configuration word to the loader's mode.
func xdpMode(s string) (bpf.Mode, bool) {
	switch s {
	case "native":
		return bpf.ModeNative, true
	case "generic":
		return bpf.ModeGeneric, true
	case "auto", "":
		return bpf.ModeAuto, true
	}
	return 0, false
}

// pinDir returns the directory to pin maps and links in: the configured
// bpffs directory, one subdirectory per network namespace (pinned links are
// named by ifindex, which is only unique within a namespace). It mounts a
// bpffs at /sys/fs/bpf when none is mounted. "" means no pinning.
//
// The subdirectory is named by the namespace's inode and its cookie: the
// kernel reuses a destroyed namespace's inode, and a new namespace must not
// inherit the drop list, rate buckets and counters of an old one; the
// cookie is never reused while the machine is up (and bpffs does not
// outlive a reboot).
func pinDir(base string, log *slog.Logger) string {
	if base == "" {
		base = "/sys/fs/bpf/xdhcp"
	}
	if !onBPFFS(filepath.Dir(base)) && strings.HasPrefix(base, "/sys/fs/bpf/") && !onBPFFS("/sys/fs/bpf") {
		if err := unix.Mount("bpf", "/sys/fs/bpf", "bpf", 0, ""); err != nil {
			log.Warn("no bpffs: the drop list will not survive a restart", "err", err)
			return ""
		}
	}
	self, err := currentNetns()
	if err != nil {
		log.Warn("cannot identify the network namespace: the drop list will not survive a restart", "err", err)
		return ""
	}
	removeStalePins(base, self, log)
	dir := filepath.Join(base, self.dirName())
	if err := os.MkdirAll(dir, 0o700); err != nil || !onBPFFS(dir) {
		log.Warn("pin directory is not on a bpffs: the drop list will not survive a restart", "dir", dir, "err", err)
		return ""
	}
	return dir
}

// netnsID identifies a network namespace for as long as the machine is up.
type netnsID struct {
	ino, cookie uint64
}

func (n netnsID) dirName() string { return fmt.Sprintf("netns-%d-%d", n.ino, n.cookie) }

// currentNetns reads this process's namespace inode and its cookie
// (SO_NETNS_COOKIE, Linux 5.14).
func currentNetns() (netnsID, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/net", &st); err != nil {
		return netnsID{}, fmt.Errorf("stat /proc/self/ns/net: %w", err)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return netnsID{}, fmt.Errorf("socket for the namespace cookie: %w", err)
	}
	defer unix.Close(fd)
	cookie, err := unix.GetsockoptUint64(fd, unix.SOL_SOCKET, unix.SO_NETNS_COOKIE)
	if err != nil {
		return netnsID{}, fmt.Errorf("SO_NETNS_COOKIE: %w", err)
	}
	return netnsID{ino: st.Ino, cookie: cookie}, nil
}

// removeStalePins deletes the pin directories of network namespaces that
// no longer exist (a lab or container that was torn down): their links
// point at interfaces that are gone and nothing will ever use them again.
// A directory with this namespace's inode but another cookie belonged to
// an earlier namespace whose inode the kernel gave to this one.
func removeStalePins(base string, self netnsID, log *slog.Logger) {
	dirs, _ := filepath.Glob(filepath.Join(base, "netns-*"))
	if len(dirs) == 0 {
		return
	}
	live := map[uint64]bool{}
	mark := func(path string) {
		var st unix.Stat_t
		if unix.Stat(path, &st) == nil {
			live[st.Ino] = true
		}
	}
	named, _ := filepath.Glob("/run/netns/*")
	for _, p := range named {
		mark(p)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/ns/net")
	for _, p := range procs {
		mark(p)
	}
	for _, d := range dirs {
		var id netnsID
		name := filepath.Base(d)
		if n, _ := fmt.Sscanf(name, "netns-%d-%d", &id.ino, &id.cookie); n == 0 {
			continue // not ours
		} else if n == 2 && name != id.dirName() {
			continue
		}
		// Stale: the namespace is gone, or its inode now names this
		// namespace under another cookie, or the directory predates the
		// cookie in its name (it cannot be told from a reused inode).
		if live[id.ino] && (id.ino != self.ino || id.cookie == self.cookie) && id.cookie != 0 {
			continue
		}
		if err := os.RemoveAll(d); err != nil {
			log.Warn("remove stale pins", "dir", d, "err", err)
			continue
		}
		log.Info("removed pins of a network namespace that no longer exists", "dir", d)
	}
}

func onBPFFS(path string) bool {
	var fs unix.Statfs_t
	return unix.Statfs(path, &fs) == nil && fs.Type == unix.BPF_FS_MAGIC
}

// rxQueues counts an interface's receive queues.
func rxQueues(name string) int {
	m, _ := filepath.Glob(filepath.Join("/sys/class/net", name, "queues", "rx-*"))
	return max(len(m), 1)
}

// startXDP loads the program and serves every interface it can attach to.
// The interfaces it could not take are returned for socket mode.
func (d *daemon) startXDP(ctx context.Context, cfg *config.Config, ifaces []config.InterfaceSpec) (rest []config.InterfaceSpec, err error) {
	mode, ok := xdpMode(cfg.XDHCP.XDP.Mode)
	if !ok {
		return nil, fmt.Errorf("xdhcp.xdp.mode %q: want native, generic, auto or off", cfg.XDHCP.XDP.Mode)
	}
	x := &xdpPath{log: d.log.With("component", "xdp"), configDrops: map[string]bool{}}
	pins := pinDir(cfg.XDHCP.XDP.BPFFS, d.log)
	x.pinned = pins != ""
	cpus := runtime.NumCPU()
	for _, spec := range ifaces {
		ifc, err := net.InterfaceByName(spec.Name)
		if err != nil {
			d.log.Error("interface not found", "iface", spec.Name, "err", err)
			continue
		}
		addr := spec.Addr
		if !addr.IsValid() {
			addr = firstIPv4(ifc)
		}
		if !addr.IsValid() {
			d.log.Error("interface has no IPv4 address to serve from", "iface", spec.Name)
			continue
		}
		objs, err := bpf.Load(bpf.Options{
			RateLimit: cfg.XDHCP.RateLimit.Rate,
			Burst:     cfg.XDHCP.RateLimit.Burst,
			HAEnabled: d.ha != nil,
			PinDir:    pins,
			Logger:    x.log,
		})
		if err != nil {
			d.log.Warn("XDP program not loaded: this interface is served in socket mode", "iface", spec.Name, "err", err)
			rest = append(rest, spec)
			continue
		}
		if d.ha != nil {
			// The scope table must be in place before the program sees a
			// packet, or it drops every HA-type query.
			d.xdpMu.Lock()
			table := d.haTable
			d.xdpMu.Unlock()
			if err := objs.SetScopes(table); err != nil {
				objs.Close()
				return nil, fmt.Errorf("write HA scopes: %w", err)
			}
		}
		l, err := objs.Attach(ifc.Index, mode)
		if err != nil {
			objs.Close()
			d.log.Warn("XDP attach failed: this interface is served in socket mode", "iface", spec.Name, "err", err)
			rest = append(rest, spec)
			continue
		}
		xi := &xdpIface{objs: objs, link: l}
		x.ifaces = append(x.ifaces, xi)
		var mac [6]byte
		copy(mac[:], ifc.HardwareAddr)
		for q := 0; q < rxQueues(spec.Name); q++ {
			s, err := xsk.Open(xsk.Options{Ifindex: ifc.Index, Queue: q, ZeroCopy: cfg.XDHCP.XDP.ZeroCopy, Logger: x.log,
				NumFrames: xskFrames, RxSize: xskFrames / 2, FillSize: xskFrames / 2})
			if err != nil {
				d.log.Error("AF_XDP socket", "iface", spec.Name, "queue", q, "err", err)
				continue
			}
			if err := objs.RegisterXSK(q, s.FD()); err != nil {
				s.Close()
				d.log.Error("register AF_XDP socket", "iface", spec.Name, "queue", q, "err", err)
				continue
			}
			// Pinning spreads the queues' workers over the CPUs; on one CPU
			// (a server confined by taskset) it would only lock the worker
			// to a thread and add a thread switch to every hand-off.
			cpu := q % cpus
			if cpus == 1 {
				cpu = -1
			}
			w, err := fastpath.NewWorker(fastpath.WorkerConfig{
				Socket: s, Queue: q, CPU: cpu, IfIndex: ifc.Index, IfName: spec.Name, IfMAC: mac, IfAddr: addr,
				Cache: d.cache, Handler: d.srv, Service: d.srv.Network, Load: d.srv, Overload: objs,
				High: cfg.XDHCP.OverloadHigh, Low: cfg.XDHCP.OverloadLow, Log: x.log,
			})
			if err != nil {
				s.Close()
				x.close()
				return nil, err
			}
			xi.socks = append(xi.socks, s)
			x.workers = append(x.workers, w)
			d.log.Info("listening", "iface", spec.Name, "queue", q, "mode", "xdp", "xsk", s.Mode())
		}
	}
	if len(x.workers) == 0 {
		x.close()
		return ifaces, nil
	}
	ensureProcs(len(x.workers)+1, d.log)
	for _, w := range x.workers {
		d.lisWG.Add(1)
		go func(w *fastpath.Worker) {
			defer d.lisWG.Done()
			if err := w.Run(ctx); err != nil {
				d.log.Error("fastpath worker stopped", "err", err)
			}
		}(w)
	}
	d.xdpMu.Lock()
	d.xdp = x
	table := d.haTable
	d.xdpMu.Unlock()
	if d.ha != nil {
		d.setHAScopes(table) // a change while the instances were loading
	}
	x.syncDrops(cfg)
	x.registerStats(d.reg)
	return rest, nil
}

// ensureProcs raises GOMAXPROCS to n unless the operator set it. Go sizes
// it from the CPUs the process may use, so a server confined to one core
// (taskset) runs one P: the fast-path worker and the slow path's workers
// then take turns at Go's 10 ms time slice, and packets pile up in the RX
// ring and the parking lot meanwhile, which sheds DISCOVERs at a fraction of
// capacity. With a P each the kernel interleaves their threads instead,
// and a worker woken by a packet runs at once.
func ensureProcs(n int, log *slog.Logger) {
	if os.Getenv("GOMAXPROCS") != "" || runtime.GOMAXPROCS(0) >= n {
		return
	}
	log.Info("GOMAXPROCS raised: each fast-path worker and the slow path get a P", "from", runtime.GOMAXPROCS(0), "to", n)
	runtime.GOMAXPROCS(n)
}

func firstIPv4(ifc *net.Interface) netip.Addr {
	addrs, _ := ifc.Addrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if v4 := n.IP.To4(); v4 != nil {
				return netip.AddrFrom4([4]byte(v4))
			}
		}
	}
	return netip.Addr{}
}

// syncDrops puts every reservation whose classes contain DROP on the XDP
// drop list, and takes off those a previous configuration put there.
func (x *xdpPath) syncDrops(cfg *config.Config) {
	want := map[string]bool{}
	add := func(r *config.Reservation) {
		for _, c := range r.ClientClasses {
			if c != "DROP" {
				continue
			}
			switch {
			case len(r.HWAddr) > 0:
				want["h"+string(r.HWAddr)] = true
			case len(r.ClientID) > 0:
				want["c"+string(r.ClientID)] = true
			}
		}
	}
	for _, r := range cfg.Reservations {
		add(r)
	}
	for _, sn := range cfg.Subnets {
		for _, r := range sn.Reservations {
			add(r)
		}
	}
	set := func(k string, on bool) error {
		var errs []error
		for _, o := range x.instances() {
			if k[0] == 'h' {
				errs = append(errs, o.DropMAC([]byte(k[1:]), on))
			} else {
				errs = append(errs, o.DropClientID([]byte(k[1:]), on))
			}
		}
		return errors.Join(errs...)
	}
	for k := range x.configDrops {
		if !want[k] {
			if err := set(k, false); err != nil {
				x.log.Warn("remove drop-list entry", "err", err)
			}
		}
	}
	for k := range want {
		if err := set(k, true); err != nil {
			x.log.Warn("add drop-list entry", "err", err)
		}
	}
	x.configDrops = want
}

// registerStats exports the XDP verdict counters and the workers' counters
// as statistics, summed at read time.
func (x *xdpPath) registerStats(reg *stats.Registry) {
	counter := func(f func(bpf.Counters) uint64) func() int64 {
		return func() int64 {
			var n uint64
			for _, o := range x.instances() {
				if c, err := o.Counters(); err == nil {
					n += f(c)
				}
			}
			return int64(n)
		}
	}
	for name, f := range map[string]func(bpf.Counters) uint64{
		"xdp-pass-not-dhcp":        func(c bpf.Counters) uint64 { return c.NotDHCP },
		"xdp-pass-fragment":        func(c bpf.Counters) uint64 { return c.Fragment },
		"xdp-pass-not-request":     func(c bpf.Counters) uint64 { return c.NotRequest },
		"xdp-pass-xsk-missing":     func(c bpf.Counters) uint64 { return c.XSKMissing },
		"xdp-drop-malformed":       func(c bpf.Counters) uint64 { return c.Malformed },
		"xdp-drop-mac":             func(c bpf.Counters) uint64 { return c.DropMAC },
		"xdp-drop-client-id":       func(c bpf.Counters) uint64 { return c.DropClientID },
		"xdp-drop-rate-limited":    func(c bpf.Counters) uint64 { return c.RateLimited },
		"xdp-drop-ha-out-of-scope": func(c bpf.Counters) uint64 { return c.HAOutOfScope },
		"xdp-drop-shed-discover":   func(c bpf.Counters) uint64 { return c.ShedDiscover },
		"xdp-drop-shed-other":      func(c bpf.Counters) uint64 { return c.ShedOther },
		"xdp-redirected":           func(c bpf.Counters) uint64 { return c.Redirected },
	} {
		reg.Func(name, stats.KindCounter, counter(f))
	}
	sum := func(f func(*fastpath.WorkerStats) uint64) func() int64 {
		return func() int64 {
			var n uint64
			for _, w := range x.workers {
				n += f(&w.Stats)
			}
			return int64(n)
		}
	}
	for name, f := range map[string]func(*fastpath.WorkerStats) uint64{
		"fastpath-rx-frames":            func(s *fastpath.WorkerStats) uint64 { return s.RxFrames.Load() },
		"fastpath-rx-malformed":         func(s *fastpath.WorkerStats) uint64 { return s.RxMalformed.Load() },
		"fastpath-cache-hits":           func(s *fastpath.WorkerStats) uint64 { return s.CacheHits.Load() },
		"fastpath-cache-misses":         func(s *fastpath.WorkerStats) uint64 { return s.CacheMisses.Load() },
		"fastpath-handoffs":             func(s *fastpath.WorkerStats) uint64 { return s.Handoffs.Load() },
		"fastpath-tx-frames":            func(s *fastpath.WorkerStats) uint64 { return s.TxFrames.Load() },
		"fastpath-tx-errors":            func(s *fastpath.WorkerStats) uint64 { return s.TxErrors.Load() },
		"fastpath-slow-replies":         func(s *fastpath.WorkerStats) uint64 { return s.SlowReplies.Load() },
		"fastpath-slow-replies-dropped": func(s *fastpath.WorkerStats) uint64 { return s.SlowDropped.Load() },
	} {
		reg.Func(name, stats.KindCounter, sum(f))
	}
	reg.Func("fastpath-packets-outstanding", stats.KindGauge, func() int64 {
		var n int64
		for _, w := range x.workers {
			n += w.PacketsOutstanding()
		}
		return n
	})
	reg.Func("fastpath-overload-level", stats.KindGauge, func() int64 {
		var lvl int64
		for _, w := range x.workers {
			lvl = max(lvl, int64(w.Stats.OverloadLevel.Load()))
		}
		return lvl
	})
	ring := func(f func(xsk.Statistics) uint64) func() int64 {
		return func() int64 {
			var n uint64
			for _, xi := range x.ifaces {
				for _, s := range xi.socks {
					if st, err := s.Stats(); err == nil {
						n += f(st)
					}
				}
			}
			return int64(n)
		}
	}
	reg.Func("xsk-rx-dropped", stats.KindCounter, ring(func(s xsk.Statistics) uint64 { return s.RxDropped }))
	reg.Func("xsk-rx-ring-full", stats.KindCounter, ring(func(s xsk.Statistics) uint64 { return s.RxRingFull }))
	reg.Func("xsk-rx-fill-ring-empty", stats.KindCounter, ring(func(s xsk.Statistics) uint64 { return s.RxFillRingEmptyDescs }))
	reg.Func("xsk-tx-ring-empty", stats.KindCounter, ring(func(s xsk.Statistics) uint64 { return s.TxRingEmptyDescs }))
	reg.Func("xsk-invalid-descs", stats.KindCounter, ring(func(s xsk.Statistics) uint64 { return s.RxInvalidDescs + s.TxInvalidDescs }))
}

// instances are the program instances whose maps differ: all of them
// without pinning, the first one with it (the pinned maps are shared).
func (x *xdpPath) instances() []*bpf.Objects {
	var out []*bpf.Objects
	for _, xi := range x.ifaces {
		out = append(out, xi.objs)
		if x.pinned {
			break
		}
	}
	return out
}

// close releases the sockets and the program instances. Pinned links stay
// attached: their program keeps dropping what the drop list says and
// passes the rest to the stack until the next start registers new sockets.
func (x *xdpPath) close() error {
	var errs []error
	for _, xi := range x.ifaces {
		for q, s := range xi.socks {
			_ = xi.objs.UnregisterXSK(q)
			errs = append(errs, s.Close())
		}
		errs = append(errs, xi.link.Close(), xi.objs.Close())
	}
	x.ifaces = nil
	return errors.Join(errs...)
}

// registerDropCommands adds the drop-list commands: xdhcp-drop-add,
// xdhcp-drop-del and xdhcp-drop-list, with {"hw-address": "..."} or
// {"client-id": "..."}. Entries added here stay until deleted (they are
// pinned with the map when pinning is on); entries from DROP reservations
// follow the configuration.
func (d *daemon) registerDropCommands() {
	type args struct {
		HW  string `json:"hw-address"`
		CID string `json:"client-id"`
	}
	parse := func(req *control.Request) ([]byte, bool, error) {
		var a args
		if err := req.DecodeArguments(&a); err != nil {
			return nil, false, err
		}
		switch {
		case a.HW != "" && a.CID == "":
			b, err := leasejson.ParseHex(a.HW)
			return b, true, err
		case a.CID != "" && a.HW == "":
			b, err := leasejson.ParseHex(a.CID)
			return b, false, err
		}
		return nil, false, errors.New("give exactly one of 'hw-address' and 'client-id'")
	}
	set := func(on bool) control.HandlerFunc {
		return func(_ context.Context, req *control.Request) control.Answer {
			x := d.xdpPath()
			if x == nil {
				return control.Answer{Result: control.ResultUnsupported, Text: "the XDP path is not running (socket mode): no drop list"}
			}
			id, isMAC, err := parse(req)
			if err != nil || len(id) == 0 {
				return control.Errorf("invalid identifier: %v", err)
			}
			for _, o := range x.instances() {
				if isMAC {
					err = errors.Join(err, o.DropMAC(id, on))
				} else {
					err = errors.Join(err, o.DropClientID(id, on))
				}
			}
			if err != nil {
				return control.Errorf("%v", err)
			}
			if on {
				return control.Answer{Result: control.ResultSuccess, Text: "added to the drop list"}
			}
			return control.Answer{Result: control.ResultSuccess, Text: "removed from the drop list"}
		}
	}
	d.ctl.Handle("xdhcp-drop-add", set(true))
	d.ctl.Handle("xdhcp-drop-del", set(false))
	d.ctl.Handle("xdhcp-drop-list", func(context.Context, *control.Request) control.Answer {
		x := d.xdpPath()
		if x == nil {
			return control.Answer{Result: control.ResultUnsupported, Text: "the XDP path is not running (socket mode): no drop list"}
		}
		hws, cids := []string{}, []string{}
		for _, o := range x.instances() {
			macs, ids, err := o.ListDropped()
			if err != nil {
				return control.Errorf("%v", err)
			}
			for _, m := range macs {
				hws = append(hws, hexColon(m))
			}
			for _, c := range ids {
				cids = append(cids, hexColon(c))
			}
		}
		return control.Answer{Result: control.ResultSuccess, Text: fmt.Sprintf("%d entries", len(hws)+len(cids)),
			Arguments: map[string]any{"hw-addresses": hws, "client-ids": cids}}
	})
}

func hexColon(b []byte) string {
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = fmt.Sprintf("%02x", c)
	}
	return strings.Join(parts, ":")
}

// xskFrames is the UMEM size of each AF_XDP socket (2 KiB frames, so
// 32 MiB), half of it in the fill and RX rings: 8192 frames hold 55 ms of
// packets at 150,000/s. The worker shares its core with the slow path and
// the garbage collector, and when it is off the CPU longer than the fill
// ring lasts the kernel drops packets unseen (xsk rx_dropped, fill ring
// empty), renewals as much as the new clients that XDP would shed; the
// default 2048 (13 ms) lost a tenth of the frames at 10x overload (S4).
const xskFrames = 16384
