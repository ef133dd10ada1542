package slowpath

import (
	"net/netip"

	"xdhcp/config"
)

// configuredServerIDs are the addresses set as dhcp-server-identifier
// (option 54) in option-data at global, shared network, subnet, pool or
// class level. As in Kea, a reply of a scope that sets one names it as
// the server, and a client's message naming it is addressed to us.
func configuredServerIDs(cfg *config.Config) map[netip.Addr]bool {
	ids := map[netip.Addr]bool{}
	add := func(opts []config.Option) {
		for _, o := range opts {
			if o.Code == optServerID && !o.VendorSpace && len(o.Data) == 4 {
				ids[netip.AddrFrom4([4]byte(o.Data))] = true
			}
		}
	}
	add(cfg.Options)
	for _, c := range cfg.Classes {
		add(c.Options)
	}
	for _, sn := range cfg.Subnets {
		add(sn.Options)
		if sn.SharedNetwork != nil {
			add(sn.SharedNetwork.Options)
		}
		for _, p := range sn.Pools {
			add(p.Options)
		}
	}
	return ids
}

// replyServerID is the server identifier of a reply drawing on levels:
// the configured one of the most specific level, else the address of the
// interface the request came in on.
func replyServerID(levels [][]config.Option, r *request) [4]byte {
	if o, ok := findOption(levels, optServerID); ok && len(o.Data) == 4 {
		return [4]byte(o.Data)
	}
	return r.pkt.IfAddr.As4()
}
