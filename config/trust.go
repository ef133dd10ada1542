package config

// Trust settings of the xdhcp section: which packets the server believes
// about where they come from. Both default to the safe choice and differ
// from Kea 2.2, which believes every packet.
//
//	"xdhcp": {
//	  "relay-source-check": true,          // false: serve any giaddr, as Kea does
//	  "trusted-interfaces": [ "eth1" ]     // option 82 of unrelayed packets used here ("*": everywhere, as Kea)
//	}

// trust parses relay-source-check and trusted-interfaces into x.
func (p *parser) trust(o *jobj, x *XDHCP) {
	x.SkipRelayCheck = !boolOr(p.boolean(o, "relay-source-check"), true)
	if list, ok := p.strList(o, "trusted-interfaces"); ok {
		for _, n := range list {
			if n == "" {
				p.errorf(o.child("trusted-interfaces"), "empty interface name")
				continue
			}
			x.TrustedInterfaces = append(x.TrustedInterfaces, n)
		}
	}
}

// TrustsInterface reports whether option 82 in a packet that no relay
// forwarded (giaddr 0) is believed on interface name: only on interfaces
// listed in trusted-interfaces, or on every one with "*".
func (x *XDHCP) TrustsInterface(name string) bool {
	for _, n := range x.TrustedInterfaces {
		if n == "*" || n == name {
			return true
		}
	}
	return false
}
