package config

import (
	"net/netip"
)

// Kea 2.2 defaults for parameters inherited global → shared network → subnet.
const (
	defaultValidLifetime = 7200
	defaultT1Percent     = 0.5
	defaultT2Percent     = 0.875
	maxSnameLen          = 63  // sname is 64 bytes with its NUL
	maxFileLen           = 127 // file is 128 bytes with its NUL
)

// scope holds the inheritable parameters set at one level (global, shared
// network or subnet); nil means "not set here, inherit".
type scope struct {
	path                               string
	lifetimes                          *Lifetimes
	renew, rebind                      *uint32
	calcTee                            *bool
	t1, t2                             *float64
	matchClientID, authoritative       *bool
	cacheThreshold                     *float64
	cacheMaxAge                        *uint32
	resGlobal, resInSubnet, resOutPool *bool
	nextServer                         *netip.Addr
	serverHostname, bootFileName       *string
	storeExt                           *bool
	relay                              []netip.Addr
	relaySet                           bool
	iface                              *string
}

// parseScope reads the inheritable parameters present in o. relay and
// interface do not exist at the global level.
func (d *diag) parseScope(o *jobj, global bool) *scope {
	s := &scope{path: o.path}
	s.lifetimes = d.triplet(o, "valid-lifetime")
	s.renew = d.u32(o, "renew-timer")
	s.rebind = d.u32(o, "rebind-timer")
	s.calcTee = d.boolean(o, "calculate-tee-times")
	s.t1 = d.percent(o, "t1-percent")
	s.t2 = d.percent(o, "t2-percent")
	s.matchClientID = d.boolean(o, "match-client-id")
	s.authoritative = d.boolean(o, "authoritative")
	s.cacheThreshold = d.number(o, "cache-threshold")
	if s.cacheThreshold != nil && (*s.cacheThreshold <= 0 || *s.cacheThreshold >= 1) {
		d.errorf(o.child("cache-threshold"), "%v must be greater than 0 and less than 1", *s.cacheThreshold)
		s.cacheThreshold = nil
	}
	s.cacheMaxAge = d.u32(o, "cache-max-age")
	s.resGlobal = d.boolean(o, "reservations-global")
	s.resInSubnet = d.boolean(o, "reservations-in-subnet")
	s.resOutPool = d.boolean(o, "reservations-out-of-pool")
	if mode := d.str(o, "reservation-mode"); mode != nil {
		d.reservationMode(o, *mode, s)
	}
	s.nextServer = d.ipv4(o, "next-server", true)
	s.serverHostname = d.boundedStr(o, "server-hostname", maxSnameLen)
	s.bootFileName = d.boundedStr(o, "boot-file-name", maxFileLen)
	s.storeExt = d.boolean(o, "store-extended-info")
	if !global {
		if r := d.sub(o, "relay"); r != nil {
			s.relay, s.relaySet = d.relay(r), true
		}
		s.iface = d.str(o, "interface")
	}
	return s
}

// reservationMode maps Kea's deprecated reservation-mode onto the three
// reservations-* flags (reference §3.6).
func (d *diag) reservationMode(o *jobj, mode string, s *scope) {
	path := o.child("reservation-mode")
	if s.resGlobal != nil || s.resInSubnet != nil || s.resOutPool != nil {
		d.errorf(path, "cannot be combined with reservations-global, reservations-in-subnet or reservations-out-of-pool")
		return
	}
	f, t := false, true
	switch mode {
	case "disabled":
		s.resGlobal, s.resInSubnet = &f, &f
	case "global":
		s.resGlobal, s.resInSubnet = &t, &f
	case "out-of-pool":
		s.resGlobal, s.resInSubnet, s.resOutPool = &f, &t, &t
	case "all":
		s.resGlobal, s.resInSubnet, s.resOutPool = &f, &t, &f
	default:
		d.errorf(path, "%q is not one of disabled, global, out-of-pool, all", mode)
		return
	}
	d.warnf(path, "deprecated, use reservations-global, reservations-in-subnet and reservations-out-of-pool")
}

func (d *diag) percent(o *jobj, key string) *float64 {
	v := d.number(o, key)
	if v != nil && (*v <= 0 || *v >= 1) {
		d.errorf(o.child(key), "%v must be greater than 0 and less than 1", *v)
		return nil
	}
	return v
}

func (d *diag) boundedStr(o *jobj, key string, max int) *string {
	s := d.str(o, key)
	if s != nil && len(*s) > max {
		d.errorf(o.child(key), "%q is longer than %d bytes", *s, max)
		return nil
	}
	return s
}

// relay reads {"ip-addresses": [...]} or the deprecated {"ip-address": "x"}.
// 0.0.0.0 is dropped: Kea's examples use it for "no relay".
func (d *diag) relay(r *jobj) []netip.Addr {
	defer d.finish(r)
	var out []netip.Addr
	add := func(path, s string) {
		a, err := parseIPv4(s)
		if err != nil {
			d.errorf(path, "%q: %v", s, err)
			return
		}
		if !a.IsUnspecified() {
			out = append(out, a)
		}
	}
	list, hasList := d.strList(r, "ip-addresses")
	for i, s := range list {
		add(r.child("ip-addresses")+"["+itoa(i)+"]", s)
	}
	if one := d.str(r, "ip-address"); one != nil {
		if hasList {
			d.errorf(r.child("ip-address"), "cannot be combined with ip-addresses")
		} else {
			add(r.child("ip-address"), *one)
		}
	}
	return out
}

// triplet reads name, min-name and max-name with Kea's parseIntTriplet
// rules: any of the three present defines the whole triplet at this level,
// and the missing bounds are filled from the others.
func (d *diag) triplet(o *jobj, name string) *Lifetimes {
	v := d.u32(o, name)
	lo := d.u32(o, "min-"+name)
	hi := d.u32(o, "max-"+name)
	if v == nil && lo == nil && hi == nil {
		return nil
	}
	var t Lifetimes
	switch {
	case v != nil:
		t.Valid, t.Min, t.Max = *v, *v, *v
		if lo != nil {
			t.Min = *lo
		}
		if hi != nil {
			t.Max = *hi
		}
	case lo != nil && hi != nil:
		d.errorf(o.child(name), "min-%s and max-%s are set but %s is not", name, name, name)
		return nil
	case lo != nil:
		t.Valid, t.Min, t.Max = *lo, *lo, *lo
	default:
		t.Valid, t.Min, t.Max = *hi, *hi, *hi
	}
	switch {
	case t.Min <= t.Max:
	case lo != nil && hi != nil:
		d.errorf(o.child("min-"+name), "%d is greater than max-%s %d", t.Min, name, t.Max)
		return nil
	case lo != nil:
		d.errorf(o.child("min-"+name), "%d is greater than %s %d", t.Min, name, t.Max)
		return nil
	default:
		d.errorf(o.child("max-"+name), "%d is less than %s %d", t.Max, name, t.Min)
		return nil
	}
	if t.Valid < t.Min || t.Valid > t.Max {
		d.errorf(o.child(name), "%d is not between min-%s %d and max-%s %d", t.Valid, name, t.Min, name, t.Max)
		return nil
	}
	return &t
}

// resolve fills the inherited parameters of sub from the levels in chain,
// most specific first (subnet, shared network, global).
func resolve(sub *Subnet, chain ...*scope) {
	pickL := func(f func(*scope) *Lifetimes) *Lifetimes {
		for _, s := range chain {
			if s != nil && f(s) != nil {
				return f(s)
			}
		}
		return nil
	}
	pickU := func(f func(*scope) *uint32) *uint32 {
		for _, s := range chain {
			if s != nil && f(s) != nil {
				return f(s)
			}
		}
		return nil
	}
	pickB := func(def bool, f func(*scope) *bool) bool {
		for _, s := range chain {
			if s != nil && f(s) != nil {
				return *f(s)
			}
		}
		return def
	}
	pickF := func(f func(*scope) *float64) *float64 {
		for _, s := range chain {
			if s != nil && f(s) != nil {
				return f(s)
			}
		}
		return nil
	}
	pickS := func(f func(*scope) *string) string {
		for _, s := range chain {
			if s != nil && f(s) != nil {
				return *f(s)
			}
		}
		return ""
	}

	if l := pickL(func(s *scope) *Lifetimes { return s.lifetimes }); l != nil {
		sub.Lifetimes = *l
	} else {
		sub.Lifetimes = Lifetimes{Valid: defaultValidLifetime, Min: defaultValidLifetime, Max: defaultValidLifetime}
	}
	sub.Timers.RenewTimer = copyU32(pickU(func(s *scope) *uint32 { return s.renew }))
	sub.Timers.RebindTimer = copyU32(pickU(func(s *scope) *uint32 { return s.rebind }))
	sub.Timers.CalculateTeeTimes = pickB(false, func(s *scope) *bool { return s.calcTee })
	sub.Timers.T1Percent = defaultT1Percent
	if v := pickF(func(s *scope) *float64 { return s.t1 }); v != nil {
		sub.Timers.T1Percent = *v
	}
	sub.Timers.T2Percent = defaultT2Percent
	if v := pickF(func(s *scope) *float64 { return s.t2 }); v != nil {
		sub.Timers.T2Percent = *v
	}
	sub.MatchClientID = pickB(true, func(s *scope) *bool { return s.matchClientID })
	sub.Authoritative = pickB(false, func(s *scope) *bool { return s.authoritative })
	if v := pickF(func(s *scope) *float64 { return s.cacheThreshold }); v != nil {
		c := *v
		sub.CacheThreshold = &c
	}
	sub.CacheMaxAge = copyU32(pickU(func(s *scope) *uint32 { return s.cacheMaxAge }))
	sub.ReservationsGlobal = pickB(false, func(s *scope) *bool { return s.resGlobal })
	sub.ReservationsInSubnet = pickB(true, func(s *scope) *bool { return s.resInSubnet })
	sub.ReservationsOutOfPool = pickB(false, func(s *scope) *bool { return s.resOutPool })
	for _, s := range chain {
		if s != nil && s.nextServer != nil {
			sub.NextServer = *s.nextServer
			break
		}
	}
	sub.ServerHostname = pickS(func(s *scope) *string { return s.serverHostname })
	sub.BootFileName = pickS(func(s *scope) *string { return s.bootFileName })
	sub.StoreExtended = pickB(false, func(s *scope) *bool { return s.storeExt })
	// Relay and interface stop at the shared network: a global "relay" or
	// "interface" has no meaning in Kea.
	for _, s := range chain[:min(2, len(chain))] {
		if s != nil && s.relaySet {
			sub.RelayAddrs = append([]netip.Addr(nil), s.relay...)
			break
		}
	}
	for _, s := range chain[:min(2, len(chain))] {
		if s != nil && s.iface != nil {
			sub.Interface = *s.iface
			break
		}
	}
}

func copyU32(p *uint32) *uint32 {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
