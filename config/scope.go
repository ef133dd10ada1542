package config

import (
	"net/netip"
	"regexp"
	"slices"
	"strings"
)

// Kea 2.2 defaults for parameters inherited global → shared network → subnet.
const (
	defaultValidLifetime = 7200
	defaultT1Percent     = 0.5
	defaultT2Percent     = 0.875
	maxSnameLen          = 63  // sname is 64 bytes with its NUL
	maxFileLen           = 127 // file is 128 bytes with its NUL
	// Kea 2.2's defaults for the host name rules.
	defaultGeneratedPrefix = "myhost"
	defaultHostnameCharSet = "[^A-Za-z0-9.-]"
)

// scope holds the inheritable parameters set at one level (global, shared
// network or subnet); nil means "not set here, inherit".
type scope struct {
	path string
	life lifetimeKeys
	sharedScope
	matchClientID, authoritative *bool
	nextServer                   *netip.Addr
	serverHostname, bootFileName *string
	relay                        []netip.Addr
	relaySet                     bool
	iface                        *string
}

// sharedScope holds the inheritable parameters Dhcp4 and Dhcp6 have in
// common, as set at one level.
type sharedScope struct {
	renew, rebind                      *uint32
	calcTee                            *bool
	t1, t2                             *float64
	cacheThreshold                     *float64
	cacheMaxAge                        *uint32
	resGlobal, resInSubnet, resOutPool *bool
	storeExt                           *bool
	// The host name rules (see HostnameRules).
	ddnsReplace, ddnsPrefix, ddnsSuffix *string
	charSet, charReplacement            *string
}

// parseScope reads the inheritable parameters present in o. relay and
// interface do not exist at the global level.
func (d *diag) parseScope(o *jobj, global bool) *scope {
	s := &scope{path: o.path}
	s.life = d.lifetimeKeys(o, "valid-lifetime")
	if global && s.life.valid == nil {
		// Kea's global default, set before anything is inherited: a
		// global min- or max-valid-lifetime alone is checked against it.
		def := uint32(defaultValidLifetime)
		s.life.valid = &def
	}
	if global {
		d.triplet(o, "valid-lifetime", s.life)
	}
	d.sharedKeys(o, &s.sharedScope)
	s.matchClientID = d.boolean(o, "match-client-id")
	s.authoritative = d.boolean(o, "authoritative")
	s.nextServer = d.ipv4(o, "next-server", true)
	s.serverHostname = d.boundedStr(o, "server-hostname", maxSnameLen)
	s.bootFileName = d.boundedStr(o, "boot-file-name", maxFileLen)
	if !global {
		if r := d.sub(o, "relay"); r != nil {
			s.relay, s.relaySet = d.relay(r, parseIPv4), true
		}
		s.iface = d.str(o, "interface")
	}
	return s
}

// sharedKeys reads the inheritable parameters Dhcp4 and Dhcp6 share.
func (d *diag) sharedKeys(o *jobj, s *sharedScope) {
	s.renew = d.u32(o, "renew-timer")
	s.rebind = d.u32(o, "rebind-timer")
	s.calcTee = d.boolean(o, "calculate-tee-times")
	s.t1 = d.percent(o, "t1-percent")
	s.t2 = d.percent(o, "t2-percent")
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
	s.storeExt = d.boolean(o, "store-extended-info")
	if m := d.str(o, "ddns-replace-client-name"); m != nil {
		modes := []string{"when-present", "never", "always", "when-not-present"}
		if v := strings.ToLower(*m); slices.Contains(modes, v) {
			s.ddnsReplace = &v
		} else {
			d.errorf(o.child("ddns-replace-client-name"), "%q is not one of %s", *m, strings.Join(modes, ", "))
		}
	}
	s.ddnsPrefix = d.str(o, "ddns-generated-prefix")
	s.ddnsSuffix = d.str(o, "ddns-qualifying-suffix")
	s.charSet = d.str(o, "hostname-char-set")
	if s.charSet != nil {
		if _, err := regexp.Compile(*s.charSet); err != nil {
			d.errorf(o.child("hostname-char-set"), "%q is not a valid regular expression: %v", *s.charSet, err)
			s.charSet = nil
		}
	}
	s.charReplacement = d.str(o, "hostname-char-replacement")
}

// bootFields reads the BOOTP fields a class or reservation may set
// (siaddr, sname, file) into next, sname and file, leaving unset ones alone.
func (d *diag) bootFields(o *jobj, next *netip.Addr, sname, file *string) {
	if a := d.ipv4(o, "next-server", true); a != nil {
		*next = *a
	}
	if s := d.boundedStr(o, "server-hostname", maxSnameLen); s != nil {
		*sname = *s
	}
	if s := d.boundedStr(o, "boot-file-name", maxFileLen); s != nil {
		*file = *s
	}
}

// reservationMode maps Kea's deprecated reservation-mode onto the three
// reservations-* flags, as Kea does: disabled (or off), global, out-of-pool
// or all.
func (d *diag) reservationMode(o *jobj, mode string, s *sharedScope) {
	path := o.child("reservation-mode")
	if s.resGlobal != nil || s.resInSubnet != nil || s.resOutPool != nil {
		d.errorf(path, "cannot be combined with reservations-global, reservations-in-subnet or reservations-out-of-pool")
		return
	}
	f, t := false, true
	switch mode {
	case "disabled", "off":
		s.resGlobal, s.resInSubnet = &f, &f
	case "global":
		s.resGlobal, s.resInSubnet = &t, &f
	case "out-of-pool":
		s.resGlobal, s.resInSubnet, s.resOutPool = &f, &t, &t
	case "all":
		s.resGlobal, s.resInSubnet, s.resOutPool = &f, &t, &f
	default:
		d.errorf(path, "%q is not one of disabled, off, global, out-of-pool, all", mode)
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

// relay reads {"ip-addresses": [...]} or the deprecated {"ip-address": "x"},
// each address read by parse (IPv4 or IPv6). The unspecified address is
// dropped: Kea's examples use it for "no relay".
func (d *diag) relay(r *jobj, parse func(string) (netip.Addr, error)) []netip.Addr {
	defer d.finish(r)
	var out []netip.Addr
	add := func(path, s string) {
		a, err := parse(s)
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

// lifetimeKeys are name, min-name and max-name as set at one level; nil
// where the level does not set them.
type lifetimeKeys struct{ valid, min, max *uint32 }

func (k lifetimeKeys) set() bool { return k.valid != nil || k.min != nil || k.max != nil }

// lifetimeKeys reads name, min-name and max-name of o.
func (d *diag) lifetimeKeys(o *jobj, name string) lifetimeKeys {
	return lifetimeKeys{valid: d.u32(o, name), min: d.u32(o, "min-"+name), max: d.u32(o, "max-"+name)}
}

// lifetimes checks and returns the lifetime bounds of the level o, whose
// scope is chain[0], the levels above it following. A level that sets
// none of the three keys has its parent's bounds, checked there.
func (d *diag) lifetimes(o *jobj, chain ...*scope) Lifetimes {
	keys := inheritLifetimes(chain...)
	if !chain[0].life.set() {
		d = &diag{}
	}
	if t := d.triplet(o, "valid-lifetime", keys); t != nil {
		return *t
	}
	return Lifetimes{Valid: defaultValidLifetime, Min: defaultValidLifetime, Max: defaultValidLifetime}
}

// inheritLifetimes gives each of the three keys from the most specific
// level of chain that sets it. Kea copies every one of them on its own
// from global to shared network to subnet before it builds a level's
// triplet, so a subnet that sets only valid-lifetime keeps the bounds set
// above it.
func inheritLifetimes(chain ...*scope) lifetimeKeys {
	return lifetimeKeys{
		valid: inherit(chain, func(s *scope) *uint32 { return s.life.valid }),
		min:   inherit(chain, func(s *scope) *uint32 { return s.life.min }),
		max:   inherit(chain, func(s *scope) *uint32 { return s.life.max }),
	}
}

// triplet builds the lifetime bounds of one level from its keys k with
// Kea's parseLifetime rules, o and name naming them in errors: any of the
// three present defines the whole triplet, the missing bounds are filled
// from the others. It returns nil when none is set or they do not agree.
func (d *diag) triplet(o *jobj, name string, k lifetimeKeys) *Lifetimes {
	v, lo, hi := k.valid, k.min, k.max
	if !k.set() {
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
	r := resolveShared(sharedChain(chain), false, defaultT2Percent)
	sub.Timers, sub.CacheThreshold, sub.CacheMaxAge = r.timers, r.cacheThreshold, r.cacheMaxAge
	sub.ReservationsGlobal, sub.ReservationsInSubnet, sub.ReservationsOutOfPool = r.resGlobal, r.resInSubnet, r.resOutPool
	sub.StoreExtended, sub.Hostnames = r.storeExt, r.hostnames
	sub.MatchClientID = inheritOr(chain, true, func(s *scope) *bool { return s.matchClientID })
	sub.Authoritative = inheritOr(chain, false, func(s *scope) *bool { return s.authoritative })
	sub.NextServer = inheritOr(chain, netip.Addr{}, func(s *scope) *netip.Addr { return s.nextServer })
	sub.ServerHostname = inheritOr(chain, "", func(s *scope) *string { return s.serverHostname })
	sub.BootFileName = inheritOr(chain, "", func(s *scope) *string { return s.bootFileName })
	// Relay and interface stop at the shared network: a global "relay" or
	// "interface" has no meaning in Kea.
	local := chain[:min(2, len(chain))]
	for _, s := range local {
		if s != nil && s.relaySet {
			sub.RelayAddrs = append([]netip.Addr(nil), s.relay...)
			break
		}
	}
	sub.Interface = inheritOr(local, "", func(s *scope) *string { return s.iface })
}

// sharedResolved is the shared part of a subnet's parameters, resolved.
type sharedResolved struct {
	timers                             Timers
	cacheThreshold                     *float64
	cacheMaxAge                        *uint32
	resGlobal, resInSubnet, resOutPool bool
	storeExt                           bool
	hostnames                          HostnameRules
}

// sharedChain is the shared part of each level of chain (nil stays nil).
func sharedChain(chain []*scope) []*sharedScope {
	out := make([]*sharedScope, len(chain))
	for i, s := range chain {
		if s != nil {
			out[i] = &s.sharedScope
		}
	}
	return out
}

// resolveShared resolves the parameters Dhcp4 and Dhcp6 share from the
// levels in chain, most specific first; calcTee and t2 are the family's
// defaults of calculate-tee-times and t2-percent.
func resolveShared(chain []*sharedScope, calcTee bool, t2 float64) sharedResolved {
	var r sharedResolved
	r.timers.RenewTimer = clonePtr(inherit(chain, func(s *sharedScope) *uint32 { return s.renew }))
	r.timers.RebindTimer = clonePtr(inherit(chain, func(s *sharedScope) *uint32 { return s.rebind }))
	r.timers.CalculateTeeTimes = inheritOr(chain, calcTee, func(s *sharedScope) *bool { return s.calcTee })
	r.timers.T1Percent = inheritOr(chain, defaultT1Percent, func(s *sharedScope) *float64 { return s.t1 })
	r.timers.T2Percent = inheritOr(chain, t2, func(s *sharedScope) *float64 { return s.t2 })
	r.cacheThreshold = clonePtr(inherit(chain, func(s *sharedScope) *float64 { return s.cacheThreshold }))
	r.cacheMaxAge = clonePtr(inherit(chain, func(s *sharedScope) *uint32 { return s.cacheMaxAge }))
	r.resGlobal = inheritOr(chain, false, func(s *sharedScope) *bool { return s.resGlobal })
	r.resInSubnet = inheritOr(chain, true, func(s *sharedScope) *bool { return s.resInSubnet })
	r.resOutPool = inheritOr(chain, false, func(s *sharedScope) *bool { return s.resOutPool })
	r.storeExt = inheritOr(chain, false, func(s *sharedScope) *bool { return s.storeExt })
	r.hostnames = HostnameRules{
		Replace:          inheritOr(chain, "never", func(s *sharedScope) *string { return s.ddnsReplace }),
		GeneratedPrefix:  inheritOr(chain, defaultGeneratedPrefix, func(s *sharedScope) *string { return s.ddnsPrefix }),
		QualifyingSuffix: inheritOr(chain, "", func(s *sharedScope) *string { return s.ddnsSuffix }),
		CharReplacement:  inheritOr(chain, "", func(s *sharedScope) *string { return s.charReplacement }),
	}
	if set := inheritOr(chain, defaultHostnameCharSet, func(s *sharedScope) *string { return s.charSet }); set != "" {
		r.hostnames.CharSet = regexp.MustCompile(set) // checked by sharedKeys
	}
	return r
}

// inherit returns the value of the most specific level in chain that sets
// it (f returns non-nil), or nil.
func inherit[S, T any](chain []*S, f func(*S) *T) *T {
	for _, s := range chain {
		if s != nil {
			if v := f(s); v != nil {
				return v
			}
		}
	}
	return nil
}

// inheritOr is inherit for a plain field: the inherited value, else def.
func inheritOr[S, T any](chain []*S, def T, f func(*S) *T) T {
	if v := inherit(chain, f); v != nil {
		return *v
	}
	return def
}

// clonePtr returns a pointer to a copy of *p, or nil, so that the resolved
// subnet shares no memory with the parsed scopes.
func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
