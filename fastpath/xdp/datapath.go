// Package xdp is the XDP front end of the server as one owner: it loads
// the XDP program, attaches it to every served interface (through links
// pinned per network namespace, so that a restart or an upgrade never
// leaves an interface without a program), opens one AF_XDP socket and
// fast-path worker per receive queue, keeps the drop list in step with the
// configuration, writes the HA scope table, and exports its counters and
// drop-list commands.
package xdp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"sync"

	"github.com/cilium/ebpf/link"

	"xdhcp/bpf"
	"xdhcp/config"
	"xdhcp/fastpath"
	"xdhcp/fastpath/leasecache"
	"xdhcp/fastpath/xsk"
	"xdhcp/handoff"
	"xdhcp/hooks"
	"xdhcp/internal/cpuset"
	"xdhcp/internal/stats"
)

// Deps are what the data path serves with.
type Deps struct {
	// Handler gets every request the lease cache does not answer.
	Handler handoff.Handler
	// Cache answers renewals in the workers; nil sends all to Handler.
	Cache *leasecache.Cache
	// Handler6, when set, makes the XDP program judge and steer DHCPv6
	// too, and gets every DHCPv6 message Cache6 does not answer; nil
	// leaves IPv6 to the kernel (a DHCPv6 socket, or another server).
	Handler6 handoff.Handler6
	// Cache6 answers DHCPv6 Renews and Rebinds in the workers (nil: all
	// go to Handler6).
	Cache6 *leasecache.Cache6
	// Service6 gates the cached DHCPv6 answers (nil: always enabled).
	Service6 fastpath.Service
	// HA6 turns on the program's DHCPv6 HA scope filter, with its own
	// table (SetScopes6): Kea runs DHCPv6 HA as a relationship of its own.
	HA6 bool
	// Service gates the cached answers (nil: always enabled).
	Service fastpath.Service
	// Events is told of the renewals the cache answers (nil: nothing);
	// Events6 of the DHCPv6 ones.
	Events  hooks.Listener
	Events6 hooks.Listener6
	// Load is the slow path's parking-lot occupancy, which drives the
	// XDP overload level (nil: no shedding).
	Load fastpath.Occupancy
	// Stats receives the XDP, worker and socket counters at each Start
	// that serves; nil registers none.
	Stats *stats.Registry
	// HA turns on the program's HA scope filter: until SetScopes says
	// otherwise, every HA-type query is dropped.
	HA bool
	// Drops is the engine's copy of the drop list (nil: none). The
	// drop-list commands change it as well as the program's maps, also in
	// socket mode, and each Start merges it with the pinned maps.
	Drops DropList
	Log   *slog.Logger
}

// DropList is the engine's copy of the drop list (slowpath.DropList):
// hw says whether id is a hardware address or a client identifier.
type DropList interface {
	Set(hw bool, id []byte, drop bool)
	List() (hws, cids [][]byte)
}

// Datapath is the XDP front end of one daemon. It is created once and
// started and stopped with the daemon's listeners (a reload that changes
// the interfaces stops and starts it again); the HA scope table and the
// control commands outlive those restarts. Its methods are safe for
// concurrent use.
type Datapath struct {
	deps Deps
	// log is the component's logger, which the loader, the sockets and
	// the workers log through; base is the daemon's, for what it says
	// about its interfaces.
	log, base *slog.Logger

	mu     sync.Mutex // guards att and scopes, and the maps against Stop
	att    *attachment
	scopes [256]bool
	// scopes6 is the DHCPv6 HA relationship's table (Deps.HA6).
	scopes6 [256]bool
}

// attachment is one Start's worth of state: the program instances, their
// sockets and workers, and the lock on the pin directory.
type attachment struct {
	log, base *slog.Logger
	// ifaces each have their own program instance: the XSKMAP is indexed
	// by queue, and queue numbers repeat across interfaces. The drop lists,
	// rate buckets and counters are pinned by name, so with pinning every
	// instance shares them.
	ifaces  []*iface
	pins    *pinDir // nil without pinning
	workers []*fastpath.Worker
	// cpus are the CPUs workers are pinned to.
	cpus []int
	// configDrops are the drop-list entries that come from reservations,
	// so that a reload removes the ones the configuration no longer has.
	configDrops map[string]bool
	cancel      context.CancelFunc
	wg          sync.WaitGroup
}

type iface struct {
	name   string
	objs   *bpf.Objects
	link   link.Link
	socks  []*xsk.Socket
	queues []int            // socks[i] serves receive queue queues[i]
	hops   *fastpath.Router // nil when its sockets could not be opened
}

// labels name the interface and queue of socks[i], for per-queue series.
func (xi *iface) labels(i int) []stats.Label {
	return []stats.Label{{Name: "iface", Value: xi.name}, {Name: "queue", Value: strconv.Itoa(xi.queues[i])}}
}

// New returns a stopped data path.
func New(deps Deps) *Datapath {
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	return &Datapath{deps: deps, base: deps.Log, log: deps.Log.With("component", "xdp")}
}

// Start loads the program and serves every interface it can attach to,
// with one worker per receive queue running until ctx ends or Stop. The
// interfaces it could not take are returned for socket mode: all of them
// when no worker could start. Another daemon holding this namespace's pin
// directory is an error (ErrPinsInUse).
func (d *Datapath) Start(ctx context.Context, cfg *config.Config, ifaces []config.InterfaceSpec) (rest []config.InterfaceSpec, err error) {
	mode, err := ParseMode(cfg.XDHCP.XDP.Mode)
	if err != nil {
		return nil, err
	}
	if err := d.Stop(); err != nil {
		d.log.Warn("close the previous XDP path", "err", err)
	}
	x := &attachment{log: d.log, base: d.base, configDrops: map[string]bool{}}
	if x.pins, err = openPins(cfg.XDHCP.XDP.BPFFS, d.base); err != nil {
		return nil, fmt.Errorf("xdp: %w", err)
	}
	for _, spec := range ifaces {
		toSocket, err := d.attach(x, cfg, spec, mode)
		if err != nil {
			return nil, errors.Join(err, x.close())
		}
		if toSocket {
			rest = append(rest, spec)
		}
	}
	if len(x.workers) == 0 {
		if err := x.close(); err != nil {
			d.log.Warn("close the XDP path", "err", err)
		}
		return ifaces, nil
	}
	x.run(ctx)
	d.mu.Lock()
	d.att = x
	table, table6 := d.scopes, d.scopes6
	d.mu.Unlock()
	if d.deps.HA {
		d.SetScopes(table) // a change while the instances were loading
	}
	if d.deps.HA6 {
		d.SetScopes6(table6)
	}
	d.mu.Lock()
	x.syncDrops(cfg, d.deps.Drops)
	x.mergeDrops(d.deps.Drops)
	d.mu.Unlock()
	if d.deps.Stats != nil {
		x.registerStats(d.deps.Stats)
	}
	return rest, nil
}

// attach loads a program instance for spec, attaches it to the interface
// and opens a socket and a worker for each of its receive queues, adding
// them to x. toSocket says that the program could not be loaded or
// attached, so the interface is left to socket mode; an interface that
// is missing or has no IPv4 address is neither (it is logged and not
// served). An error ends the whole start.
func (d *Datapath) attach(x *attachment, cfg *config.Config, spec config.InterfaceSpec, mode bpf.Mode) (toSocket bool, err error) {
	ifc, err := net.InterfaceByName(spec.Name)
	if err != nil {
		d.base.Error("interface not found", "iface", spec.Name, "err", err)
		return false, nil
	}
	addr := spec.Addr
	if !addr.IsValid() {
		addr = firstIPv4(ifc)
	}
	if !addr.IsValid() {
		d.base.Error("interface has no IPv4 address to serve from", "iface", spec.Name)
		return false, nil
	}
	pinPath := ""
	if x.pins != nil {
		pinPath = x.pins.path
	}
	objs, err := bpf.Load(bpf.Options{
		RateLimit:  cfg.XDHCP.RateLimit.Rate,
		Burst:      cfg.XDHCP.RateLimit.Burst,
		HAEnabled:  d.deps.HA,
		HA6Enabled: d.deps.HA6 && d.deps.Handler6 != nil,
		DHCPv6:     d.deps.Handler6 != nil,
		PinDir:     pinPath,
		Logger:     d.log,
	})
	if err != nil {
		d.base.Warn("XDP program not loaded: this interface is served in socket mode", "iface", spec.Name, "err", err)
		return true, nil
	}
	if d.deps.HA {
		// The scope table must be in place before the program sees a
		// packet, or it drops every HA-type query.
		d.mu.Lock()
		table := d.scopes
		d.mu.Unlock()
		if err := objs.SetScopes(table); err != nil {
			objs.Close()
			return false, fmt.Errorf("write HA scopes: %w", err)
		}
	}
	if d.deps.HA6 {
		d.mu.Lock()
		table := d.scopes6
		d.mu.Unlock()
		if err := objs.SetScopes6(table); err != nil {
			objs.Close()
			return false, fmt.Errorf("write DHCPv6 HA scopes: %w", err)
		}
	}
	l, err := objs.Attach(ifc.Index, mode)
	if err != nil {
		objs.Close()
		d.base.Warn("XDP attach failed: this interface is served in socket mode", "iface", spec.Name, "err", err)
		return true, nil
	}
	xi := &iface{name: spec.Name, objs: objs, link: l}
	x.ifaces = append(x.ifaces, xi)
	var hops fastpath.NextHop
	if xi.hops, err = fastpath.NewRouter(ifc.Index); err != nil {
		d.base.Warn("replies to relays cannot be routed on this interface", "iface", spec.Name, "err", err)
	} else {
		hops = xi.hops
	}
	var mac [6]byte
	copy(mac[:], ifc.HardwareAddr)
	cpus, err := cpuset.Allowed()
	if err != nil {
		d.base.Warn("fast-path workers are not pinned", "iface", spec.Name, "err", err)
	}
	for q := 0; q < rxQueues(spec.Name); q++ {
		s, err := xsk.Open(xsk.Options{Ifindex: ifc.Index, Queue: q, ZeroCopy: cfg.XDHCP.XDP.ZeroCopy, Logger: d.log,
			NumFrames: xskFrames, RxSize: xskFrames / 2, FillSize: xskFrames / 2})
		if err != nil {
			d.base.Error("AF_XDP socket", "iface", spec.Name, "queue", q, "err", err)
			continue
		}
		if err := objs.RegisterXSK(q, s.FD()); err != nil {
			s.Close()
			d.base.Error("register AF_XDP socket", "iface", spec.Name, "queue", q, "err", err)
			continue
		}
		cpu := workerCPU(cpus, q)
		w, err := fastpath.NewWorker(fastpath.WorkerConfig{
			Socket: s, Queue: q, CPU: cpu, IfIndex: ifc.Index, IfName: spec.Name, IfMAC: mac, IfAddr: addr,
			Cache: d.deps.Cache, Handler: d.deps.Handler, Service: d.deps.Service, Events: d.deps.Events, Events6: d.deps.Events6, Load: d.deps.Load, Overload: objs, NextHop: hops,
			High: cfg.XDHCP.OverloadHigh, Low: cfg.XDHCP.OverloadLow, Log: d.log,
			Handler6: d.deps.Handler6, Cache6: d.deps.Cache6, IfLinkLocal: linkLocal(ifc), Service6: d.deps.Service6,
		})
		if err != nil {
			s.Close()
			return false, err
		}
		xi.socks = append(xi.socks, s)
		xi.queues = append(xi.queues, q)
		x.workers = append(x.workers, w)
		if cpu >= 0 && !slices.Contains(x.cpus, cpu) {
			x.cpus = append(x.cpus, cpu)
		}
		d.base.Info("listening", "iface", spec.Name, "queue", q, "mode", "xdp", "xsk", s.Mode(), "cpu", cpu)
	}
	return false, nil
}

// Workers is the number of fast-path workers serving (0 when stopped).
func (d *Datapath) Workers() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.att == nil {
		return 0
	}
	return len(d.att.workers)
}

// WorkerCPUs are the CPUs the fast-path workers are pinned to, in order
// (none when stopped, or when the process may use one CPU only).
func (d *Datapath) WorkerCPUs() []int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.att == nil {
		return nil
	}
	return slices.Sorted(slices.Values(d.att.cpus))
}

// workerCPU is the CPU queue q's worker is pinned to, of the CPUs the
// process may use: the queues' workers spread over them in turn. On one
// CPU (a server confined by taskset) none is pinned: pinning would only
// lock the worker to a thread and add a thread switch to every hand-off.
func workerCPU(cpus []int, q int) int {
	if len(cpus) < 2 {
		return -1
	}
	return cpus[q%len(cpus)]
}

// Stop stops the workers, waits for them, and releases the sockets, the
// program instances and the pin directory's lock. Pinned links stay
// attached: their program keeps dropping what the drop list says and
// passes the rest to the stack until the next start registers new sockets.
// Stopping a stopped data path does nothing.
func (d *Datapath) Stop() error {
	d.mu.Lock()
	x := d.att
	d.att = nil
	d.mu.Unlock()
	if x == nil {
		return nil
	}
	x.cancel()
	x.wg.Wait()
	return x.close()
}

// Close stops the data path for good (the same as Stop; the name says
// who owns it).
func (d *Datapath) Close() error { return d.Stop() }

// ApplyConfig puts every reservation whose classes contain DROP on the
// drop list, and takes off those a previous configuration put there. A
// stopped data path ignores it.
func (d *Datapath) ApplyConfig(cfg *config.Config) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.att != nil {
		d.att.syncDrops(cfg, d.deps.Drops)
	}
}

// SetScopes remembers the table of RFC 3074 hash values whose queries
// must reach user space and writes it into every program instance; a
// later Start writes it before attaching.
func (d *Datapath) SetScopes(served [256]bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.scopes = served
	if d.att == nil {
		return
	}
	for _, o := range d.att.instances() {
		if err := o.SetScopes(served); err != nil {
			d.base.Warn("write HA scopes to XDP", "err", err)
		}
	}
}

// SetScopes6 is SetScopes for the DHCPv6 HA relationship.
func (d *Datapath) SetScopes6(served [256]bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.scopes6 = served
	if d.att == nil {
		return
	}
	for _, o := range d.att.instances() {
		if err := o.SetScopes6(served); err != nil {
			d.base.Warn("write DHCPv6 HA scopes to XDP", "err", err)
		}
	}
}

// run starts the workers on a context Stop cancels.
func (x *attachment) run(ctx context.Context) {
	ctx, x.cancel = context.WithCancel(ctx)
	for _, w := range x.workers {
		x.wg.Add(1)
		go func() {
			defer x.wg.Done()
			if err := w.Run(ctx); err != nil {
				x.base.Error("fastpath worker stopped", "err", err)
			}
		}()
	}
}

// instances are the program instances whose maps differ: all of them
// without pinning, the first one with it (the pinned maps are shared).
func (x *attachment) instances() []*bpf.Objects {
	var out []*bpf.Objects
	for _, xi := range x.ifaces {
		out = append(out, xi.objs)
		if x.pins != nil {
			break
		}
	}
	return out
}

// close releases the sockets, the program instances and the pin lock.
func (x *attachment) close() error {
	var errs []error
	for _, xi := range x.ifaces {
		for q, s := range xi.socks {
			_ = xi.objs.UnregisterXSK(q)
			errs = append(errs, s.Close())
		}
		errs = append(errs, xi.link.Close(), xi.objs.Close())
		if xi.hops != nil {
			errs = append(errs, xi.hops.Close())
		}
	}
	x.ifaces = nil
	errs = append(errs, x.pins.Close())
	return errors.Join(errs...)
}

// syncDrops puts every reservation whose classes contain DROP on the drop
// list, and takes off those a previous configuration put there; list (the
// engine's copy, may be nil) follows the maps.
func (x *attachment) syncDrops(cfg *config.Config, list DropList) {
	want := dropKeys(cfg)
	set := func(k string, on bool) error {
		if list != nil {
			list.Set(k[0] == 'h', []byte(k[1:]), on)
		}
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

// mergeDrops makes the program's maps and the engine's list hold the same
// entries: pinned maps keep entries of an earlier process that the engine
// has not heard of, and entries added in socket mode are missing from the
// maps.
func (x *attachment) mergeDrops(list DropList) {
	if list == nil {
		return
	}
	hws, cids := list.List()
	for _, o := range x.instances() {
		for _, id := range hws {
			if err := o.DropMAC(id, true); err != nil {
				x.log.Warn("add drop-list entry", "err", err)
			}
		}
		for _, id := range cids {
			if err := o.DropClientID(id, true); err != nil {
				x.log.Warn("add drop-list entry", "err", err)
			}
		}
		macs, ids, err := o.ListDropped()
		if err != nil {
			x.log.Warn("read the drop list", "err", err)
			continue
		}
		for _, id := range macs {
			list.Set(true, id, true)
		}
		for _, id := range ids {
			list.Set(false, id, true)
		}
	}
}

// dropKeys are the drop-list entries the configuration's DROP
// reservations ask for: "h" and the hardware address, or "c" and the
// client identifier.
func dropKeys(cfg *config.Config) map[string]bool {
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
	return want
}

// rxQueues counts an interface's receive queues.
func rxQueues(name string) int {
	m, _ := filepath.Glob(filepath.Join("/sys/class/net", name, "queues", "rx-*"))
	return max(len(m), 1)
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

// xskFrames is the UMEM size of each AF_XDP socket (2 KiB frames, so
// 32 MiB), half of it in the fill and RX rings: 8192 frames hold 55 ms of
// packets at 150,000/s. The worker shares its core with the slow path and
// the garbage collector, and when it is off the CPU longer than the fill
// ring lasts the kernel drops packets unseen (xsk rx_dropped, fill ring
// empty), renewals as much as the new clients that XDP would shed; the
// default 2048 (13 ms) lost a tenth of the frames at 10x overload.
const xskFrames = 16384

// linkLocal is the first IPv6 link-local address of ifc, the source of the
// DHCPv6 Replies the workers build; zero when it has none (the workers
// then answer no DHCPv6 Renew themselves).
func linkLocal(ifc *net.Interface) [16]byte {
	addrs, err := ifc.Addrs()
	if err != nil {
		return [16]byte{}
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() == nil && n.IP.IsLinkLocalUnicast() {
			return [16]byte(n.IP.To16())
		}
	}
	return [16]byte{}
}
