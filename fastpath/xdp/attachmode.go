package xdp

import (
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
)

// IfaceMode is how the kernel has an XDP program attached to one interface
// the data path serves.
type IfaceMode struct {
	Iface string
	// Mode is "native" (in the driver), "generic" (after the kernel built
	// an skb: slower), "offload", "multi" (several modes), or "none" when no program is
	// attached any more (for example after `ip link set dev X xdp off`),
	// or "unknown" when the interface cannot be read.
	Mode string
}

// AttachModes asks the kernel, now, how each served interface has its XDP
// program attached: what the configuration asked for ("auto" may have
// fallen back to generic) and whether someone detached it since.
func (d *Datapath) AttachModes() []IfaceMode {
	d.mu.Lock()
	var names []string
	if d.att != nil {
		for _, xi := range d.att.ifaces {
			names = append(names, xi.name)
		}
	}
	d.mu.Unlock()
	out := make([]IfaceMode, 0, len(names))
	for _, name := range names {
		out = append(out, IfaceMode{Iface: name, Mode: attachMode(name)})
	}
	return out
}

// xdpAttachedMulti is the kernel's XDP_ATTACHED_MULTI (programs in more
// than one mode at once), which the netlink package does not name.
const xdpAttachedMulti = 4

func attachMode(iface string) string {
	l, err := netlink.LinkByName(iface)
	if err != nil {
		return "unknown"
	}
	x := l.Attrs().Xdp
	if x == nil || !x.Attached {
		return "none"
	}
	switch x.AttachMode {
	case nl.XDP_ATTACHED_DRV:
		return "native"
	case nl.XDP_ATTACHED_SKB:
		return "generic"
	case nl.XDP_ATTACHED_HW:
		return "offload"
	case xdpAttachedMulti:
		return "multi"
	}
	return "none"
}
