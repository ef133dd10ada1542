package bpf

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// Limits of the maps in dhcp.c; keep them equal to its #defines.
const (
	// MaxQueues is the number of receive queues (XSKMAP and overload slots).
	MaxQueues = 256
	// MaxClientIDLen is the longest client identifier the drop list holds.
	MaxClientIDLen = 62
	// MaxHWAddrLen is the longest hardware address (the BOOTP chaddr field).
	MaxHWAddrLen = 16
	// MaxDUIDLen is the longest DHCPv6 DUID the drop list holds (RFC 8415's
	// limit).
	MaxDUIDLen = 128
	// MaxOverloadLevel is the highest meaningful overload level.
	MaxOverloadLevel = 2
)

// Errors returned by the loader.
var (
	ErrBadOption = errors.New("invalid option")
	ErrBadKey    = errors.New("invalid key")
)

// pinnedMaps are the maps that outlive the process when Options.PinDir is set.
// The drop lists must survive a restart (they are operator policy); the token
// buckets too, or a restart would hand every abusive client a full bucket; the
// counters, so that metrics keep counting up. The HA table, the overload levels
// and the XSKMAP are deliberately fresh per process: they describe the live
// process (its scopes, its queues, its sockets) and stale values would be wrong.
var pinnedMaps = []string{dhcpMapDropMac, dhcpMapDropClientid, dhcpMapRateBuckets, dhcpMapStats,
	dhcpMapDropDuid, dhcpMapRateBuckets6}

// Options configure Load.
type Options struct {
	// RateLimit is the per-client (chaddr) rate in packets per second; 0
	// disables rate limiting.
	RateLimit uint32
	// Burst is the token bucket size in packets; it must be >= 1 when
	// RateLimit is set.
	Burst uint32
	// HAEnabled turns on the HA scope filter. Call SetScopes before Attach:
	// until then no hash value is served and every HA-type query is dropped.
	HAEnabled bool
	// HA6Enabled turns on the HA scope filter for DHCPv6, with its own
	// table (SetScopes6): Kea runs DHCPv6 HA as a relationship of its own.
	HA6Enabled bool
	// DHCPv6 makes the program judge and steer DHCPv6 (IPv6/UDP to port
	// 547) as it does DHCPv4; without it every IPv6 frame goes to the
	// kernel untouched, for a DHCPv6 server other than this one.
	DHCPv6 bool
	// PinDir is a directory on a bpffs where maps and links are pinned and
	// from where pinned maps are reused; "" disables pinning.
	PinDir string
	// Logger receives load and attach events; nil discards them.
	Logger *slog.Logger
}

// Mode selects how Attach hooks the program into the driver.
type Mode int

// Attach modes.
const (
	// ModeAuto tries native mode and falls back to generic mode.
	ModeAuto Mode = iota
	// ModeNative runs the program in the driver (XDP_FLAGS_DRV_MODE).
	ModeNative
	// ModeGeneric runs it after skb allocation; works on every interface.
	ModeGeneric
)

// String returns the mode's name as used in logs and configuration.
func (m Mode) String() string {
	switch m {
	case ModeAuto:
		return "auto"
	case ModeNative:
		return "native"
	case ModeGeneric:
		return "generic"
	}
	return fmt.Sprintf("mode(%d)", int(m))
}

// Objects are the loaded program and maps. Methods are safe for concurrent
// use: each is one or a few map syscalls, and the kernel serializes them.
type Objects struct {
	objs   dhcpObjects
	pinDir string
	log    *slog.Logger
}

func (o Options) validate() error {
	var errs []error
	if o.RateLimit > 0 && o.Burst == 0 {
		errs = append(errs, fmt.Errorf("%w: Burst must be >= 1 when RateLimit is %d", ErrBadOption, o.RateLimit))
	}
	if o.PinDir != "" {
		var st unix.Statfs_t
		if err := unix.Statfs(o.PinDir, &st); err != nil {
			errs = append(errs, fmt.Errorf("%w: PinDir %s: %w", ErrBadOption, o.PinDir, err))
		} else if st.Type != unix.BPF_FS_MAGIC {
			errs = append(errs, fmt.Errorf("%w: PinDir %s is not on a bpffs (mount -t bpf bpf DIR)", ErrBadOption, o.PinDir))
		}
	}
	return errors.Join(errs...)
}

// logger returns the configured logger or one that discards.
func (o Options) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Load loads the XDP program and its maps into the kernel. With PinDir set,
// maps already pinned there (by an earlier process) are reused, so the drop
// list survives restarts; a pinned map whose type or size no longer matches
// is an error: remove it (Unpin) to start over.
func Load(opts Options) (*Objects, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	log := opts.logger()

	spec, err := loadDhcp()
	if err != nil {
		return nil, fmt.Errorf("parse embedded xdp object: %w", err)
	}
	haEnabled := uint32(0)
	if opts.HAEnabled {
		haEnabled = 1
	}
	burst := opts.Burst
	if burst == 0 {
		burst = 1 // unused while RateLimit is 0; 1 keeps the C invariant
	}
	dhcpv6, ha6 := uint32(0), uint32(0)
	if opts.DHCPv6 {
		dhcpv6 = 1
	}
	if opts.HA6Enabled {
		ha6 = 1
	}
	for name, v := range map[string]uint32{
		dhcpVarDhcpv6Enabled: dhcpv6,
		dhcpVarHa6Enabled:    ha6,
		dhcpVarRateLimit:     opts.RateLimit,
		dhcpVarRateBurst:     burst,
		dhcpVarHaEnabled:     haEnabled,
	} {
		vs, ok := spec.Variables[name]
		if !ok {
			return nil, fmt.Errorf("xdp object has no variable %s", name)
		}
		if err := vs.Set(v); err != nil {
			return nil, fmt.Errorf("set %s: %w", name, err)
		}
	}

	var copts ebpf.CollectionOptions
	if opts.PinDir != "" {
		for _, name := range pinnedMaps {
			ms, ok := spec.Maps[name]
			if !ok {
				return nil, fmt.Errorf("xdp object has no map %s", name)
			}
			ms.Pinning = ebpf.PinByName
		}
		copts.Maps.PinPath = opts.PinDir
		if err := dropStaleCounters(opts.PinDir, spec.Maps[dhcpMapStats], log); err != nil {
			return nil, err
		}
	}

	obj := &Objects{pinDir: opts.PinDir, log: log}
	if err := spec.LoadAndAssign(&obj.objs, &copts); err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			// The default formatting is a one-line summary; %-50v keeps
			// the last 50 lines of the log, where the cause is.
			log.Error("xdp program rejected by the verifier", "log", fmt.Sprintf("%-50v", ve))
		}
		return nil, fmt.Errorf("load xdp program: %w", err)
	}
	log.Info("xdp program loaded", "rate_limit", opts.RateLimit, "burst", opts.Burst,
		"ha_enabled", opts.HAEnabled, "dhcpv6", opts.DHCPv6, "pin_dir", opts.PinDir)
	return obj, nil
}

// Program returns the loaded program, for benchmarks and test runs. It stays
// owned by o.
func (o *Objects) Program() *ebpf.Program { return o.objs.XdhcpXdp }

// linkPinPath is where the link of an interface is pinned. The ifindex is
// only unique within a network namespace: use one PinDir per namespace.
func (o *Objects) linkPinPath(ifindex int) string {
	return filepath.Join(o.pinDir, fmt.Sprintf("xdp_link_%d", ifindex))
}

// Attach attaches the program to the interface. With PinDir set and a link
// of an earlier process pinned for this ifindex, the link is updated to the
// new program in place, so there is no instant without a program (a second
// plain attach would fail with EBUSY); the mode is then the one the link was
// created with. Otherwise it attaches in the requested mode and, with PinDir,
// pins the link so that the program stays attached across a restart.
//
// The caller owns the returned link. Closing it detaches the program only if
// it is not pinned; call Unpin on it first to detach a pinned one.
func (o *Objects) Attach(ifindex int, mode Mode) (link.Link, error) {
	if ifindex <= 0 {
		return nil, fmt.Errorf("%w: ifindex %d", ErrBadOption, ifindex)
	}
	prog := o.objs.XdhcpXdp
	log := o.log.With("ifindex", ifindex)

	if o.pinDir != "" {
		l, err := o.updatePinned(ifindex)
		if err != nil || l != nil {
			return l, err
		}
	}

	var l link.Link
	var err error
	switch mode {
	case ModeNative:
		l, err = link.AttachXDP(link.XDPOptions{Program: prog, Interface: ifindex, Flags: link.XDPDriverMode})
	case ModeGeneric:
		l, err = link.AttachXDP(link.XDPOptions{Program: prog, Interface: ifindex, Flags: link.XDPGenericMode})
	case ModeAuto:
		l, err = link.AttachXDP(link.XDPOptions{Program: prog, Interface: ifindex, Flags: link.XDPDriverMode})
		if err != nil {
			log.Warn("native xdp attach failed, falling back to generic mode", "err", err)
			mode = ModeGeneric
			l, err = link.AttachXDP(link.XDPOptions{Program: prog, Interface: ifindex, Flags: link.XDPGenericMode})
		} else {
			mode = ModeNative
		}
	default:
		return nil, fmt.Errorf("%w: attach mode %v", ErrBadOption, mode)
	}
	if err != nil {
		return nil, fmt.Errorf("attach xdp to ifindex %d in %v mode: %w", ifindex, mode, err)
	}

	if o.pinDir != "" {
		if err := pinAtomically(l, o.linkPinPath(ifindex)); err != nil {
			return nil, errors.Join(err, l.Close())
		}
	}
	log.Info("xdp program attached", "mode", mode.String(), "pinned", o.pinDir != "")
	return l, nil
}

// updatePinned swaps the program of a pinned link for ifindex. It returns
// (nil, nil) when there is no usable pinned link.
func (o *Objects) updatePinned(ifindex int) (link.Link, error) {
	path := o.linkPinPath(ifindex)
	l, err := link.LoadPinnedLink(path, nil)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load pinned link %s: %w", path, err)
	}
	// The new program must replace the old one even when the code is the
	// same (equal program tag): the new program refers to this process's
	// XSKMAP, HA table and overload map, the old one to the dead process's.
	err = l.Update(o.objs.XdhcpXdp)
	if err == nil {
		o.log.Info("xdp program updated in pinned link", "ifindex", ifindex, "path", path)
		return l, nil
	}
	if errors.Is(err, unix.ENOLINK) {
		// The interface went away (or was recreated with this ifindex):
		// the link is defunct. Drop its pin and attach afresh.
		o.log.Warn("pinned xdp link is defunct, replacing it", "ifindex", ifindex, "path", path)
		return nil, errors.Join(l.Unpin(), l.Close())
	}
	return nil, errors.Join(fmt.Errorf("update pinned link %s: %w", path, err), l.Close())
}

// pinAtomically pins l under a temporary name and renames it into place, so a
// concurrent reader never sees a missing or half-made pin (as tubular does).
func pinAtomically(l link.Link, path string) error {
	tmp := path + "_tmp" // bpffs refuses names with a dot (EPERM)
	_ = os.Remove(tmp)   // a leftover of a crash between Pin and Rename
	if err := l.Pin(tmp); err != nil {
		return fmt.Errorf("pin link to %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return errors.Join(fmt.Errorf("rename pinned link to %s: %w", path, err), l.Unpin())
	}
	return nil
}

// Close releases the program and the maps held by this process. Pinned maps
// and links stay in the bpffs (and a pinned link keeps the program running);
// use Unpin to remove them.
func (o *Objects) Close() error {
	if err := o.objs.Close(); err != nil {
		return fmt.Errorf("close xdp objects: %w", err)
	}
	return nil
}

// Unpin removes this program's pinned maps and every pinned link
// (xdp_link_*) from PinDir. A link whose pin is removed detaches once its
// last file descriptor is closed.
func (o *Objects) Unpin() error {
	if o.pinDir == "" {
		return nil
	}
	var errs []error
	maps := map[string]*ebpf.Map{
		dhcpMapDropMac:      o.objs.DropMac,
		dhcpMapDropClientid: o.objs.DropClientid,
		dhcpMapRateBuckets:  o.objs.RateBuckets,
		dhcpMapStats:        o.objs.Stats,
		dhcpMapDropDuid:     o.objs.DropDuid,
		dhcpMapRateBuckets6: o.objs.RateBuckets6,
	}
	for _, name := range pinnedMaps {
		if err := maps[name].Unpin(); err != nil {
			errs = append(errs, fmt.Errorf("unpin map %s: %w", name, err))
		}
	}
	links, err := filepath.Glob(filepath.Join(o.pinDir, "xdp_link_*"))
	if err != nil {
		errs = append(errs, fmt.Errorf("list pinned links in %s: %w", o.pinDir, err))
	}
	for _, p := range links {
		if err := os.Remove(p); err != nil {
			errs = append(errs, fmt.Errorf("unpin link %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// dropStaleCounters removes the pinned counters map when an earlier version
// of the program pinned it with another layout (the counters grow when the
// program learns a verdict): loading would otherwise fail on it, and an
// upgrade would fall back to socket mode. The counters then start from
// zero. The drop lists and token buckets are never removed this way: they
// are policy, and a layout change there is an error for the operator.
func dropStaleCounters(pinDir string, spec *ebpf.MapSpec, log *slog.Logger) error {
	path := filepath.Join(pinDir, dhcpMapStats)
	m, err := ebpf.LoadPinnedMap(path, nil)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open pinned counters %s: %w", path, err)
	}
	defer m.Close()
	info, err := m.Info()
	if err != nil {
		return fmt.Errorf("read pinned counters %s: %w", path, err)
	}
	if info.Type == spec.Type && info.KeySize == spec.KeySize && info.ValueSize == spec.ValueSize &&
		info.MaxEntries == spec.MaxEntries {
		return nil
	}
	log.Warn("pinned XDP counters have an older layout: they start again from zero", "path", path,
		"value_size", info.ValueSize, "want", spec.ValueSize)
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove stale pinned counters %s: %w", path, err)
	}
	return nil
}
