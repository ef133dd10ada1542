package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"xdhcp/config/optiondef"
)

// Defaults of the Dhcp6 section (Kea 2.2).
const (
	defaultLeaseFile6         = "/var/lib/kea/kea-leases6.csv"
	defaultDataDirectory      = "/var/lib/kea"
	defaultServerIDFile       = "kea-dhcp6-serverid"
	defaultPreferredLifetime  = 3600
	defaultT2Percent6         = 0.8
	enterpriseISC             = 2495
	maxDUIDLen                = 128
	defaultRelaySuppliedCode6 = 65 // erp-local-domain-name
)

// parser6 carries what the Dhcp6 section's parse needs besides the
// diagnostics: its own option definitions and class names (the Dhcp4
// section's are another world).
type parser6 struct {
	*parser
	defs       *def6Table
	classNames map[string]bool
	classRefs  []classRef
	ipUnique   bool
}

// dhcp6 parses the Dhcp6 section.
func (p *parser) dhcp6(o *jobj) *Config6 {
	q := &parser6{parser: p, defs: newDef6Table(nil), classNames: map[string]bool{}}
	defer p.finish(o)
	o.ignore("comment", "user-context")
	c := &Config6{Raw: append(json.RawMessage(nil), o.raw()...)}

	q.optionDefs6(o, "option-def", q.defs)
	c.defs = q.defs
	c.IPReservationsUnique = boolOr(p.boolean(o, "ip-reservations-unique"), true)
	q.ipUnique = c.IPReservationsUnique
	c.EarlyGlobalReservationsLookup = boolOr(p.boolean(o, "early-global-reservations-lookup"), false)

	q.interfaces6(o, c)
	p.leaseDatabase(o, &c.LeaseDatabase, defaultLeaseFile6)
	q.hostIdentifiers6(o, c)
	q.macSources(o, c)
	q.relaySupplied(o, c)
	c.DataDirectory = defaultDataDirectory
	if s := p.str(o, "data-directory"); s != nil && *s != "" {
		c.DataDirectory = *s
	}
	q.serverID(o, c)

	global := q.parseScope6(o, true)
	q.classes6(o, c)
	c.Options = p.optionData6(o, "option-data", q.defs)
	var resPaths []string
	p.list(o, "reservations", func(path string, it *jobj) {
		if r := q.reservation6(path, it, 0); r != nil {
			c.Reservations = append(c.Reservations, r)
			resPaths = append(resPaths, path)
		}
	})
	q.checkReservations6(resPaths, c.Reservations)
	var hosts Config
	p.hostsDatabases(o, &hosts)
	c.HostsDatabases = hosts.HostsDatabases
	q.networks6(o, c, global)
	q.checkClassRefs6(c)

	// The blocks Dhcp4 and Dhcp6 write alike are read by the Dhcp4
	// readers into a scratch Config.
	var same Config
	p.serverScalars(o, &same)
	c.DeclineProbationPeriod, c.ParkedPacketLimit = same.DeclineProbationPeriod, same.ParkedPacketLimit
	c.StatisticDefaultSampleCount, c.StatisticDefaultSampleAge = same.StatisticDefaultSampleCount, same.StatisticDefaultSampleAge
	c.ServerTag = same.ServerTag
	p.expired(o, &same)
	p.multiThreading(o, &same)
	p.loggers(o, &same)
	p.controlSocket6(o, c)
	c.ExpiredLeases, c.MultiThreading, c.Loggers = same.ExpiredLeases, same.MultiThreading, same.Loggers
	q.hooks6(o, c)
	c.ConfigControl = p.configControl(o)
	return c
}

// raw re-encodes the object (its members in document order).
func (o *jobj) raw() json.RawMessage {
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		b.Write(o.vals[k])
	}
	b.WriteByte('}')
	return json.RawMessage(b.String())
}

// controlSocket6 reads Kea 2.2's control-socket (one UNIX socket).
func (p *parser) controlSocket6(o *jobj, c *Config6) {
	if cs := p.sub(o, "control-socket"); cs != nil {
		if s, ok := p.controlSocket(cs, false); ok {
			c.ControlSockets = append(c.ControlSockets, s)
		}
	}
}

// interfaces6 parses interfaces-config: "eth0", "eth0/2001:db8::1" (a
// unicast address to listen on too) or "*".
func (q *parser6) interfaces6(o *jobj, c *Config6) {
	ic := q.sub(o, "interfaces-config")
	if ic == nil {
		return
	}
	defer q.finish(ic)
	ic.ignore("comment", "user-context")
	names, _ := q.strList(ic, "interfaces")
	for i, n := range names {
		path := ic.child("interfaces") + "[" + strconv.Itoa(i) + "]"
		spec := InterfaceSpec{Name: n}
		if name, addr, ok := strings.Cut(n, "/"); ok {
			a, err := parseIPv6(addr)
			if err != nil {
				q.errorf(path, "%q: %v after '/'", n, err)
				continue
			}
			spec.Name, spec.Addr = name, a
		}
		if spec.Name == "" {
			q.errorf(path, "empty interface name")
			continue
		}
		if slices.ContainsFunc(c.Interfaces, func(s InterfaceSpec) bool { return s.Name == spec.Name && s.Addr.IsValid() && spec.Addr.IsValid() }) {
			q.errorf(path, "%q: only one unicast address per interface", n)
			continue
		}
		c.Interfaces = append(c.Interfaces, spec)
		if spec.Name != "*" {
			c.InterfaceRefs = append(c.InterfaceRefs, InterfaceRef{Path: path, Name: spec.Name})
		}
	}
}

func parseIPv6(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil || !a.Is6() || a.Is4In6() || a.Zone() != "" {
		return netip.Addr{}, errors.New("not an IPv6 address")
	}
	return a, nil
}

// hostIdentifiers6 parses host-reservation-identifiers for DHCPv6.
func (q *parser6) hostIdentifiers6(o *jobj, c *Config6) {
	list, ok := q.strList(o, "host-reservation-identifiers")
	if !ok {
		c.HostReservationIdentifiers = []string{"hw-address", "duid"}
		return
	}
	for i, id := range list {
		path := o.child("host-reservation-identifiers") + "[" + strconv.Itoa(i) + "]"
		switch id {
		case "hw-address", "duid", "flex-id":
			if slices.Contains(c.HostReservationIdentifiers, id) {
				q.errorf(path, "identifier %q is listed twice", id)
				continue
			}
			c.HostReservationIdentifiers = append(c.HostReservationIdentifiers, id)
		default:
			q.errorf(path, "%q is not a DHCPv6 host reservation identifier (hw-address, duid, flex-id)", id)
		}
	}
}

// macSourceNames maps Kea's mac-sources names (and their RFC aliases) to
// the names Config6.MACSources uses.
var macSourceNames = map[string]string{
	"any": "any", "raw": "raw", "duid": "duid", "ipv6-link-local": "ipv6-link-local",
	"client-link-addr-option": "client-link-addr-option", "rfc6939": "client-link-addr-option",
	"remote-id": "remote-id", "rfc4649": "remote-id",
	"subscriber-id": "subscriber-id", "rfc4580": "subscriber-id",
	"docsis-cmts": "docsis-cmts", "docsis-modem": "docsis-modem",
}

func (q *parser6) macSources(o *jobj, c *Config6) {
	list, ok := q.strList(o, "mac-sources")
	if !ok {
		c.MACSources = []string{"any"}
		return
	}
	if len(list) == 0 {
		q.errorf(o.child("mac-sources"), "empty: list at least one source (or leave it out for any)")
	}
	for i, s := range list {
		name, ok := macSourceNames[strings.ToLower(s)]
		if !ok {
			q.errorf(o.child("mac-sources")+"["+itoa(i)+"]", "%q is not a MAC address source", s)
			continue
		}
		if slices.Contains(c.MACSources, name) {
			q.errorf(o.child("mac-sources")+"["+itoa(i)+"]", "%q is listed twice", s)
			continue
		}
		c.MACSources = append(c.MACSources, name)
	}
}

// relaySupplied parses relay-supplied-options: option codes or names.
func (q *parser6) relaySupplied(o *jobj, c *Config6) {
	list, ok := q.strList(o, "relay-supplied-options")
	c.RelaySuppliedOptions = []uint16{defaultRelaySuppliedCode6}
	if !ok {
		return
	}
	for i, s := range list {
		path := o.child("relay-supplied-options") + "[" + itoa(i) + "]"
		s = strings.TrimSpace(s)
		var code uint16
		if n, err := strconv.ParseUint(s, 10, 16); err == nil {
			code = uint16(n)
		} else if d := q.defs.name(optiondef.Space6, s); d != nil {
			code = d.Code
		} else {
			q.errorf(path, "%q is not an option code or a known option name", s)
			continue
		}
		if code == 0 {
			q.errorf(path, "0 is not a DHCPv6 option code")
			continue
		}
		if !slices.Contains(c.RelaySuppliedOptions, code) {
			c.RelaySuppliedOptions = append(c.RelaySuppliedOptions, code)
		}
	}
}

// serverID parses server-id with Kea's defaults: type LLT, persisted in
// data-directory/kea-dhcp6-serverid, every part of the DUID unset (0 or
// empty: ServerID.DUID fills it).
func (q *parser6) serverID(o *jobj, c *Config6) {
	s := &c.ServerID
	*s = ServerID{Type: "LLT", Persist: true, File: filepath.Join(c.DataDirectory, defaultServerIDFile)}
	so := q.sub(o, "server-id")
	if so == nil {
		return
	}
	defer q.finish(so)
	so.ignore("comment", "user-context")
	if t := q.str(so, "type"); t != nil && q.oneOf(so.child("type"), *t, "LLT", "EN", "LL") {
		s.Type = *t
	}
	if id := q.str(so, "identifier"); id != nil && *id != "" {
		b, err := decodeHex(*id)
		switch {
		case err != nil:
			q.errorf(so.child("identifier"), "%q: expected hex such as 01:02:03 or 010203", *id)
		case len(b) > maxDUIDLen-8:
			q.errorf(so.child("identifier"), "%q: %d bytes make a DUID longer than %d", *id, len(b), maxDUIDLen)
		default:
			s.Identifier = b
		}
	}
	if v := q.integer(so, "htype", 0, 65535); v != nil {
		s.HType = uint16(*v)
	}
	if v := q.u32(so, "time"); v != nil {
		s.Time = *v
	}
	if v := q.u32(so, "enterprise-id"); v != nil {
		s.EnterpriseID = *v
	}
	s.Persist = boolOr(q.boolean(so, "persist"), true)
}

// scope6 holds the inheritable Dhcp6 parameters set at one level.
type scope6 struct {
	path             string
	valid, preferred lifetimeKeys
	sharedScope
	rapid      *bool
	relay      []netip.Addr
	relaySet   bool
	iface      *string
	ifaceID    []byte
	ifaceIDSet bool
}

// parseScope6 reads the inheritable parameters present in o. relay,
// interface and interface-id do not exist at the global level.
func (q *parser6) parseScope6(o *jobj, global bool) *scope6 {
	s := &scope6{path: o.path}
	s.valid = q.lifetimeKeys(o, "valid-lifetime")
	s.preferred = q.lifetimeKeys(o, "preferred-lifetime")
	if global {
		if s.valid.valid == nil {
			def := uint32(defaultValidLifetime)
			s.valid.valid = &def
		}
		if s.preferred.valid == nil {
			def := uint32(defaultPreferredLifetime)
			s.preferred.valid = &def
		}
		q.triplet(o, "valid-lifetime", s.valid)
		q.triplet(o, "preferred-lifetime", s.preferred)
	}
	q.sharedKeys(o, &s.sharedScope)
	if !global {
		// Kea 2.2 has rapid-commit on subnets and shared networks only.
		s.rapid = q.boolean(o, "rapid-commit")
		if r := q.sub(o, "relay"); r != nil {
			s.relay, s.relaySet = q.relay(r, parseIPv6), true
		}
		s.iface = q.str(o, "interface")
		// An empty interface-id is unset, as in Kea.
		if id := q.str(o, "interface-id"); id != nil && *id != "" {
			s.ifaceID, s.ifaceIDSet = []byte(*id), true
		}
	}
	return s
}

// lifetimes6 checks and returns the lifetime bounds called name of the
// level o, whose scope is chain[0], the levels above following.
func (q *parser6) lifetimes6(o *jobj, name string, def uint32, keys func(*scope6) lifetimeKeys, chain ...*scope6) Lifetimes {
	pick := func(f func(lifetimeKeys) *uint32) *uint32 {
		return inherit(chain, func(s *scope6) *uint32 { return f(keys(s)) })
	}
	k := lifetimeKeys{
		valid: pick(func(k lifetimeKeys) *uint32 { return k.valid }),
		min:   pick(func(k lifetimeKeys) *uint32 { return k.min }),
		max:   pick(func(k lifetimeKeys) *uint32 { return k.max }),
	}
	d := q.diag
	if !keys(chain[0]).set() {
		d = &diag{}
	}
	if t := d.triplet(o, name, k); t != nil {
		return *t
	}
	return Lifetimes{Valid: def, Min: def, Max: def}
}

// resolve6 fills the inherited parameters of sub from chain (subnet,
// shared network, global).
func resolve6(sub *Subnet6, chain ...*scope6) {
	shared := make([]*sharedScope, len(chain))
	for i, s := range chain {
		if s != nil {
			shared[i] = &s.sharedScope
		}
	}
	r := resolveShared(shared, true, defaultT2Percent6)
	sub.Timers, sub.CacheThreshold, sub.CacheMaxAge = r.timers, r.cacheThreshold, r.cacheMaxAge
	sub.ReservationsGlobal, sub.ReservationsInSubnet, sub.ReservationsOutOfPool = r.resGlobal, r.resInSubnet, r.resOutPool
	sub.StoreExtended, sub.Hostnames = r.storeExt, r.hostnames
	sub.RapidCommit = inheritOr(chain, false, func(s *scope6) *bool { return s.rapid })
	local := chain[:min(2, len(chain))]
	for _, s := range local {
		if s != nil && s.relaySet {
			sub.RelayAddrs = append([]netip.Addr(nil), s.relay...)
			break
		}
	}
	for _, s := range local {
		if s != nil && s.ifaceIDSet {
			sub.InterfaceID = append([]byte(nil), s.ifaceID...)
			break
		}
	}
	sub.Interface = inheritOr(local, "", func(s *scope6) *string { return s.iface })
}

// subnet6Entry is a parsed subnet6 with what ID assignment needs.
type subnet6Entry struct {
	path  string
	sub   *Subnet6
	idSet bool
}

// networks6 parses shared-networks and subnet6 (in document order),
// assigns missing subnet ids and checks what spans subnets.
func (q *parser6) networks6(o *jobj, c *Config6, global *scope6) {
	var all []subnet6Entry
	sharedNames := map[string]string{}
	parseShared := func() {
		q.list(o, "shared-networks", func(path string, it *jobj) {
			defer q.finish(it)
			it.ignore("comment", "user-context")
			sn := &SharedNetwork6{}
			sn.Name = q.sharedNetworkName(path, it, sharedNames)
			sc := q.parseScope6(it, false)
			q.lifetimes6(it, "valid-lifetime", defaultValidLifetime, func(s *scope6) lifetimeKeys { return s.valid }, sc, global)
			q.lifetimes6(it, "preferred-lifetime", defaultPreferredLifetime, func(s *scope6) lifetimeKeys { return s.preferred }, sc, global)
			if sc.iface != nil {
				sn.Interface = *sc.iface
				c.InterfaceRefs = append(c.InterfaceRefs, InterfaceRef{Path: path + ".interface", Name: *sc.iface})
			}
			sn.InterfaceID = sc.ifaceID
			if sc.iface != nil && *sc.iface != "" && sc.ifaceIDSet {
				q.errorf(path, "interface and interface-id cannot both be set")
			}
			sn.RelayAddrs = sc.relay
			sn.Options = q.optionData6(it, "option-data", q.defs)
			sn.ClientClass = q.clientClass(path, it, &q.classRefs)
			sn.RequireClientClasses = q.requiredClasses6(it)
			q.list(it, "subnet6", func(sp string, so *jobj) {
				if e := q.subnet6(sp, so, sn, sc, global); e != nil {
					// Kea: one rapid-commit for the whole link.
					if len(sn.Subnets) > 0 && e.sub.RapidCommit != sn.Subnets[0].RapidCommit {
						q.errorf(sp+".rapid-commit", "%v, but the other subnets of shared network %q have %v: all must have the same rapid-commit, as in Kea",
							e.sub.RapidCommit, sn.Name, sn.Subnets[0].RapidCommit)
					}
					sn.Subnets = append(sn.Subnets, e.sub)
					all = append(all, *e)
				}
			})
			c.SharedNetworks = append(c.SharedNetworks, sn)
		})
	}
	parsePlain := func() {
		q.list(o, "subnet6", func(sp string, so *jobj) {
			if e := q.subnet6(sp, so, nil, nil, global); e != nil {
				all = append(all, *e)
			}
		})
	}
	inDocumentOrder(o, "subnet6", parsePlain, parseShared)

	slots := make([]idSlot, len(all))
	for i := range all {
		slots[i] = idSlot{all[i].path, &all[i].sub.ID, all[i].idSet}
	}
	q.assignIDs(slots)
	prefixes := map[netip.Prefix]string{}
	for _, e := range all {
		if e.sub.Interface != "" && (e.sub.SharedNetwork == nil || e.sub.SharedNetwork.Interface != e.sub.Interface) {
			c.InterfaceRefs = append(c.InterfaceRefs, InterfaceRef{Path: e.path + ".interface", Name: e.sub.Interface})
		}
		for _, r := range e.sub.Reservations {
			r.SubnetID = e.sub.ID
		}
		if !e.sub.Prefix.IsValid() {
			continue
		}
		if prev, dup := prefixes[e.sub.Prefix]; dup {
			q.errorf(e.path+".subnet", "%s is already the prefix of %s", e.sub.Prefix, prev)
			continue
		}
		prefixes[e.sub.Prefix] = e.path
		c.Subnets = append(c.Subnets, e.sub)
	}
	q.checkPoolsAcrossSubnets(all)
}

// checkPoolsAcrossSubnets warns about a delegated prefix pool that
// overlaps another subnet's: Kea 2.2 accepts it, but both subnets would
// hand out the same prefixes.
func (q *parser6) checkPoolsAcrossSubnets(all []subnet6Entry) {
	type pd struct {
		path string
		p    netip.Prefix
	}
	var seen []pd
	for _, e := range all {
		for i, p := range e.sub.PDPools {
			path := e.path + ".pd-pools[" + itoa(i) + "]"
			for _, s := range seen {
				if s.p.Overlaps(p.Prefix) && !strings.HasPrefix(s.path, e.path+".") {
					q.warnf(path+".prefix", "%s overlaps %s at %s: both subnets may delegate the same prefixes", p.Prefix, s.p, s.path)
				}
			}
			seen = append(seen, pd{path, p.Prefix})
		}
	}
}

// subnet6 parses one subnet6 entry; sn and snScope are nil outside a
// shared network.
func (q *parser6) subnet6(path string, o *jobj, sn *SharedNetwork6, snScope, global *scope6) *subnet6Entry {
	defer q.finish(o)
	o.ignore("comment", "user-context")
	s := &Subnet6{SharedNetwork: sn}
	e := &subnet6Entry{path: path, sub: s}
	e.idSet = q.subnetID(o, &s.ID)
	s.Prefix = q.subnetPrefix(path, o, true)

	sc := q.parseScope6(o, false)
	resolve6(s, sc, snScope, global)
	if sc.iface != nil && *sc.iface != "" && sc.ifaceIDSet {
		q.errorf(path, "interface and interface-id cannot both be set")
	}
	s.Valid = q.lifetimes6(o, "valid-lifetime", defaultValidLifetime, func(s *scope6) lifetimeKeys { return s.valid }, sc, snScope, global)
	s.Preferred = q.lifetimes6(o, "preferred-lifetime", defaultPreferredLifetime, func(s *scope6) lifetimeKeys { return s.preferred }, sc, snScope, global)
	q.checkTimers(path, s.Timers)

	s.Options = q.optionData6(o, "option-data", q.defs)
	s.ClientClass = q.clientClass(path, o, &q.classRefs)
	s.RequireClientClasses = q.requiredClasses6(o)
	poolPaths, poolRanges := q.pools6(o, s)
	pdPaths, pdRanges := q.pdPools(o, s)
	// Kea checks address and prefix pools of a subnet against each other.
	q.checkOverlaps(append(poolPaths, pdPaths...), append(poolRanges, pdRanges...), "")

	var paths []string
	q.list(o, "reservations", func(rp string, ro *jobj) {
		r := q.reservation6(rp, ro, s.ID)
		if r == nil {
			return
		}
		for i, a := range r.IPAddresses {
			if s.Prefix.IsValid() && !s.Prefix.Contains(a) {
				q.errorf(rp+".ip-addresses["+itoa(i)+"]", "%s is not inside subnet %s", a, s.Prefix)
				return
			}
		}
		s.Reservations = append(s.Reservations, r)
		paths = append(paths, rp)
	})
	q.checkReservations6(paths, s.Reservations)
	return e
}

func (q *parser6) requiredClasses6(o *jobj) []string {
	return q.classList(o, &q.classRefs)
}

func (q *parser6) refClass6(path, name string) {
	addClassRef(&q.classRefs, path, name)
}

// pools6 parses the address pools of s and checks they are inside s;
// it returns their paths and ranges for the overlap check.
func (q *parser6) pools6(o *jobj, s *Subnet6) (paths []string, ranges []addrRange) {
	q.list(o, "pools", func(pp string, po *jobj) {
		defer q.finish(po)
		po.ignore("comment", "user-context")
		ps := q.str(po, "pool")
		if ps == nil {
			if _, ok := po.vals["pool"]; !ok {
				q.errorf(pp+".pool", "missing: every pool needs a range")
			}
			return
		}
		first, last, err := parsePool6(*ps)
		if err != nil {
			q.errorf(pp+".pool", "%q: %v", *ps, err)
			return
		}
		if s.Prefix.IsValid() && (!s.Prefix.Contains(first) || !s.Prefix.Contains(last)) {
			q.errorf(pp+".pool", "%q is not inside subnet %s", *ps, s.Prefix)
			return
		}
		pool := Pool6{First: first, Last: last}
		pool.Options = q.optionData6(po, "option-data", q.defs)
		pool.ClientClass = q.clientClass(pp, po, &q.classRefs)
		pool.RequireClientClasses = q.requiredClasses6(po)
		s.Pools = append(s.Pools, pool)
		paths = append(paths, pp+".pool")
		ranges = append(ranges, addrRange{first, last})
	})
	return paths, ranges
}

// addrRange is an inclusive address range.
type addrRange struct{ first, last netip.Addr }

// checkOverlaps reports each range of rs that overlaps an earlier one
// (paths[i]+key names range i).
func (d *diag) checkOverlaps(paths []string, rs []addrRange, key string) {
	order := make([]int, len(rs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return rs[a].first.Compare(rs[b].first) })
	var far netip.Addr
	farIdx := -1
	for _, i := range order {
		if farIdx >= 0 && rs[i].first.Compare(far) <= 0 {
			d.errorf(paths[i]+key, "%s-%s overlaps %s", rs[i].first, rs[i].last, paths[farIdx])
		}
		if farIdx < 0 || rs[i].last.Compare(far) > 0 {
			far, farIdx = rs[i].last, i
		}
	}
}

// parsePool6 parses "first - last" or "prefix/len" (every address of the
// prefix).
func parsePool6(s string) (first, last netip.Addr, err error) {
	if a, b, ok := strings.Cut(s, "-"); ok {
		if first, err = parseIPv6(a); err != nil {
			return first, last, errors.New("first address: not an IPv6 address")
		}
		if last, err = parseIPv6(b); err != nil {
			return first, last, errors.New("last address: not an IPv6 address")
		}
		if last.Less(first) {
			return first, last, errors.New("first address after last")
		}
		return first, last, nil
	}
	if strings.Contains(s, "/") {
		pf, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil || !pf.Addr().Is6() || pf.Addr().Is4In6() {
			return first, last, errors.New("not an IPv6 prefix")
		}
		return pf.Masked().Addr(), lastOf(pf), nil
	}
	return first, last, errors.New(`expected "first - last" or "prefix/length"`)
}

// lastOf is the last address of an IPv6 prefix.
func lastOf(pf netip.Prefix) netip.Addr {
	b := pf.Masked().Addr().As16()
	for i := pf.Bits(); i < 128; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	return netip.AddrFrom16(b)
}

// pdPools parses pd-pools: prefix, prefix-len and delegated-len, with an
// optional excluded prefix (RFC 6603), with Kea's checks; it returns
// their paths and ranges for the overlap check.
func (q *parser6) pdPools(o *jobj, s *Subnet6) (paths []string, ranges []addrRange) {
	q.list(o, "pd-pools", func(pp string, po *jobj) {
		defer q.finish(po)
		po.ignore("comment", "user-context")
		pfx := q.str(po, "prefix")
		plen := q.integer(po, "prefix-len", 0, 128)
		dlen := q.integer(po, "delegated-len", 0, 128)
		exPfx := q.str(po, "excluded-prefix")
		exLen := q.integer(po, "excluded-prefix-len", 0, 128)
		pool := PDPool{}
		pool.Options = q.optionData6(po, "option-data", q.defs)
		pool.ClientClass = q.clientClass(pp, po, &q.classRefs)
		pool.RequireClientClasses = q.requiredClasses6(po)
		for _, k := range []string{"prefix", "prefix-len", "delegated-len"} {
			if _, ok := po.vals[k]; !ok {
				q.errorf(pp+"."+k, "missing: every pd-pool needs prefix, prefix-len and delegated-len")
			}
		}
		if pfx == nil || plen == nil || dlen == nil {
			return
		}
		a, err := parseIPv6(*pfx)
		if err != nil {
			q.errorf(pp+".prefix", "%q: %v", *pfx, err)
			return
		}
		p := netip.PrefixFrom(a, int(*plen))
		switch {
		case *plen == 0:
			q.errorf(pp+".prefix-len", "0 is not a valid prefix length")
			return
		case p.Masked() != p:
			// Kea 2.2 takes it as it is.
			q.warnf(pp+".prefix", "%s/%d has bits set beyond its length, using %s", a, *plen, p.Masked())
			p = p.Masked()
		}
		switch {
		case *dlen < *plen:
			q.errorf(pp+".delegated-len", "%d is shorter than prefix-len %d", *dlen, *plen)
			return
		}
		pool.Prefix, pool.DelegatedLen = p, int(*dlen)
		if exPfx != nil || exLen != nil {
			if !q.excludedPrefix(pp, exPfx, exLen, &pool) {
				return
			}
		}
		s.PDPools = append(s.PDPools, pool)
		paths = append(paths, pp+".prefix")
		ranges = append(ranges, addrRange{p.Addr(), lastOf(p)})
	})
	return paths, ranges
}

// excludedPrefix checks excluded-prefix and excluded-prefix-len of a
// pd-pool as Kea does: both or neither, the excluded prefix longer than
// the delegated ones and inside the pool's prefix.
func (q *parser6) excludedPrefix(pp string, exPfx *string, exLen *int64, pool *PDPool) bool {
	unset := exPfx == nil || *exPfx == "" || *exPfx == "::"
	if unset && (exLen == nil || *exLen == 0) {
		return true
	}
	if exPfx == nil || exLen == nil || unset || *exLen == 0 {
		q.errorf(pp, "excluded-prefix and excluded-prefix-len must be set together")
		return false
	}
	a, err := parseIPv6(*exPfx)
	if err != nil {
		q.errorf(pp+".excluded-prefix", "%q: %v", *exPfx, err)
		return false
	}
	ex := netip.PrefixFrom(a, int(*exLen)).Masked()
	// Kea compares the excluded prefix with the pool's first delegated
	// prefix: the bits past delegated-len say where the excluded part
	// lies inside every delegated prefix.
	first := netip.PrefixFrom(pool.Prefix.Addr(), pool.DelegatedLen).Masked()
	switch {
	case int(*exLen) <= pool.DelegatedLen:
		q.errorf(pp+".excluded-prefix-len", "%d must be longer than delegated-len %d", *exLen, pool.DelegatedLen)
		return false
	case !first.Contains(ex.Addr()):
		q.errorf(pp+".excluded-prefix", "%s must start with the first %d bits of the pool's prefix (%s), as Kea requires", ex, pool.DelegatedLen, first)
		return false
	}
	pool.Excluded = ex
	return true
}

// identifierKinds6 are the reservation identifier keys Kea knows for
// DHCPv6.
var identifierKinds6 = []string{"duid", "hw-address", "flex-id"}

// reservation6 parses one Dhcp6 reservation; nil when it is invalid.
func (q *parser6) reservation6(path string, o *jobj, subnetID uint32) *Reservation6 {
	defer q.finish(o)
	o.ignore("comment", "user-context")
	r := &Reservation6{SubnetID: subnetID}
	ok := true
	var kinds []string
	for _, k := range identifierKinds6 {
		if _, has := o.vals[k]; has {
			kinds = append(kinds, k)
		}
	}
	if len(kinds) != 1 {
		q.errorf(path, "exactly one of duid, hw-address, flex-id is required, got %d (%s)", len(kinds), strings.Join(kinds, ", "))
		o.ignore(kinds...)
		ok = false
	} else if val := q.str(o, kinds[0]); val == nil {
		ok = false
	} else {
		kind := kinds[0]
		dec := kind
		if kind == "flex-id" {
			dec = "client-id" // 'quoted text' allowed, as for Kea's flex-id
		}
		b, err := decodeIdentifier(dec, *val)
		if err != nil {
			q.errorf(path+"."+kind, "%q: %v", *val, err)
			ok = false
		}
		switch kind {
		case "duid":
			r.DUID = b
		case "hw-address":
			r.HWAddr = b
		case "flex-id":
			r.FlexID = b
		}
	}
	addrs, _ := q.strList(o, "ip-addresses")
	for i, s := range addrs {
		a, err := parseIPv6(s)
		if err != nil {
			q.errorf(path+".ip-addresses["+itoa(i)+"]", "%q: %v", s, err)
			ok = false
			continue
		}
		if slices.Contains(r.IPAddresses, a) {
			q.errorf(path+".ip-addresses["+itoa(i)+"]", "%s is listed twice", a)
			ok = false
			continue
		}
		r.IPAddresses = append(r.IPAddresses, a)
	}
	prefixes, _ := q.strList(o, "prefixes")
	for i, s := range prefixes {
		pf, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil || !pf.Addr().Is6() || pf.Addr().Is4In6() || pf.Bits() == 0 {
			q.errorf(path+".prefixes["+itoa(i)+"]", "%q is not an IPv6 prefix", s)
			ok = false
			continue
		}
		if pf.Masked() != pf {
			// Kea 2.2 takes it as it is.
			q.warnf(path+".prefixes["+itoa(i)+"]", "%q has bits set beyond its length, using %s", s, pf.Masked())
			pf = pf.Masked()
		}
		if slices.Contains(r.Prefixes, pf) {
			q.errorf(path+".prefixes["+itoa(i)+"]", "%s is listed twice", pf)
			ok = false
			continue
		}
		r.Prefixes = append(r.Prefixes, pf)
	}
	if h := q.str(o, "hostname"); h != nil {
		if len(*h) > 255 {
			q.errorf(path+".hostname", "longer than 255 bytes")
			ok = false
		}
		r.Hostname = *h
	}
	if cls, _ := q.strList(o, "client-classes"); len(cls) > 0 {
		r.ClientClasses = cls
		for i, n := range cls {
			q.refClass6(path+".client-classes["+itoa(i)+"]", n)
		}
	}
	r.Options = q.optionData6(o, "option-data", q.defs)
	if !ok {
		return nil
	}
	return r
}

// checkReservations6 rejects two reservations of one scope with the same
// identifier and, with ip-reservations-unique, the same address or prefix.
func (q *parser6) checkReservations6(paths []string, rs []*Reservation6) {
	ids := map[string]string{}
	ips := map[netip.Addr]string{}
	pfs := map[netip.Prefix]string{}
	for i, r := range rs {
		kind, val := r.identifier()
		key := kind + "\x00" + string(val)
		if prev, dup := ids[key]; dup {
			q.errorf(paths[i]+"."+kind, "%s is also reserved at %s", formatHex(val), prev)
		} else {
			ids[key] = paths[i]
		}
		if !q.ipUnique {
			continue
		}
		for _, a := range r.IPAddresses {
			if prev, dup := ips[a]; dup {
				q.errorf(paths[i]+".ip-addresses", "%s is also reserved at %s (ip-reservations-unique is true)", a, prev)
			} else {
				ips[a] = paths[i]
			}
		}
		for _, p := range r.Prefixes {
			if prev, dup := pfs[p]; dup {
				q.errorf(paths[i]+".prefixes", "%s is also reserved at %s (ip-reservations-unique is true)", p, prev)
			} else {
				pfs[p] = paths[i]
			}
		}
	}
}

// identifier returns the kind and value of r's identifier.
func (r *Reservation6) identifier() (string, []byte) {
	switch {
	case r.DUID != nil:
		return "duid", r.DUID
	case r.HWAddr != nil:
		return "hw-address", r.HWAddr
	default:
		return "flex-id", r.FlexID
	}
}

// notForDHCPv6 says, for a hook library xdhcp implements for DHCPv4
// only, what a Dhcp6 entry for it does not give ("" for the others): the
// entry is read (its parameters checked) and otherwise ignored.
func notForDHCPv6(base string) string {
	switch base {
	case hookFlexID:
		return "replace-client-id and ignore-iaid are not done for DHCPv6 by xdhcp yet, ignored: reservations are matched by flex-id, leases keep the client's DUID and IAID"
	}
	return ""
}

// hooks6 parses the Dhcp6 hooks-libraries: the libraries xdhcp
// implements are read, others warned about.
func (q *parser6) hooks6(o *jobj, c *Config6) {
	haSeen := false
	q.list(o, "hooks-libraries", func(path string, it *jobj) {
		defer q.finish(it)
		it.ignore("comment", "user-context")
		lib := q.str(it, "library")
		if lib == nil || *lib == "" {
			q.errorf(path+".library", "missing hook library path")
			return
		}
		h := Hook{Library: *lib}
		if raw, ok := it.take("parameters"); ok {
			if kindOf(raw) != "object" {
				q.errorf(path+".parameters", "expected a JSON object, got %s", kindOf(raw))
			} else {
				h.Parameters = append(json.RawMessage(nil), raw...)
			}
		}
		base := filepath.Base(*lib)
		known := base == hookLeaseCmds || base == hookHA || base == hookLegalLog || base == hookRunScript ||
			base == hookStatCmds || base == hookFlexID
		switch {
		case known && hookPathProblem(*lib) != "":
			q.errorf(path+".library", "%s: %s", *lib, hookPathProblem(*lib))
			return
		case base == hookFlexID:
			c.FlexID = q.flexIDHook6(path, h.Parameters)
			if f := c.FlexID; f != nil && (f.ReplaceClientID || f.IgnoreIAID) {
				q.warnf(path+".library", "%s: %s", *lib, notForDHCPv6(base))
			}
		case base == hookHA:
			if haSeen {
				q.errorf(path+".library", "%s configured twice", hookHA)
				return
			}
			haSeen = true
			threads := 1
			if c.MultiThreading.Enable {
				if threads = c.MultiThreading.ThreadPoolSize; threads <= 0 {
					threads = runtime.NumCPU()
				}
			}
			c.HA = q.ha(path+".parameters", h.Parameters, threads)
		case notForDHCPv6(base) != "":
			// Kea's servers would honour these; an operator must not be
			// left believing DHCPv6 leases are logged or scripted.
			q.warnf(path+".library", "%s: %s", *lib, notForDHCPv6(base))
		case known:
		default:
			q.warnf(path+".library", "%s: hook library not supported by xdhcp, ignored", *lib)
		}
		c.Hooks = append(c.Hooks, h)
	})
}

// checkUnicast reports, as kea-dhcp6 -t does, each "name/address" entry
// of interfaces-config whose interface exists (as exists says) without
// that address.
// CheckUnicast reports each "name/address" entry of interfaces-config
// whose interface exists (as exists says) without that address, as
// kea-dhcp6 refuses it at start-up and on reload.
func (c *Config6) CheckUnicast(exists func(name string) bool) error {
	return errors.Join(c.checkUnicast(exists)...)
}

func (c *Config6) checkUnicast(exists func(name string) bool) []error {
	var errs []error
	for i, spec := range c.Interfaces {
		if !spec.Addr.IsValid() || !exists(spec.Name) {
			continue
		}
		if !interfaceHasAddr(spec.Name, spec.Addr) {
			errs = append(errs, &FieldError{Path: "Dhcp6.interfaces-config.interfaces[" + itoa(i) + "]",
				Msg: fmt.Sprintf("interface %q does not have address %s", spec.Name, spec.Addr)})
		}
	}
	return errs
}

// interfaceHasAddr reports whether interface name has address a.
func interfaceHasAddr(name string, a netip.Addr) bool {
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return false
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		return false
	}
	for _, x := range addrs {
		if n, ok := x.(*net.IPNet); ok {
			if b, ok := netip.AddrFromSlice(n.IP); ok && b.Unmap() == a {
				return true
			}
		}
	}
	return false
}
