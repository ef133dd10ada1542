package slowpath

import "net/netip"

// requireClasses evaluates the classes the request's shared network,
// subnet and address pool require (require-client-classes), in that order,
// once the address is chosen and before the reply's options are gathered,
// as Kea 2.2 does. A class joins the request when its test matches; later
// tests see the classes added before them (member()). A required class
// without a test is never added, and an undefined one is skipped (Kea logs
// both and goes on). Classes added here come last, so their options rank
// below those of the classes assigned earlier.
func requireClasses(rt *liveConfig, sn *subnetRT, addr netip.Addr, r *request) {
	if sn == nil {
		return
	}
	if n := sn.cfg.SharedNetwork; n != nil {
		// In a shared network the reservation's classes join once the
		// subnet is final, before the required classes are evaluated.
		if r.host != nil {
			for _, c := range r.host.res.ClientClasses {
				r.addClass(c)
			}
		}
		evalRequired(rt, n.RequireClientClasses, r)
	}
	evalRequired(rt, sn.cfg.RequireClientClasses, r)
	if addr.IsValid() {
		if p := sn.poolFor(addr); p != nil {
			evalRequired(rt, p.cfg.RequireClientClasses, r)
		}
	}
}

func evalRequired(rt *liveConfig, names []string, r *request) {
	for _, name := range names {
		c := rt.cfg.Class(name)
		if c == nil || c.Test == nil {
			continue
		}
		if c.Test.Eval(r) {
			r.addClass(name)
		}
	}
}
