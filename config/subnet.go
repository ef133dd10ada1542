package config

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// subnetEntry is a parsed subnet with what ID assignment and cross-checks
// need to know about it.
type subnetEntry struct {
	path  string
	sub   *Subnet
	idSet bool
	iface string // the subnet's own "interface", if set
}

// networks parses shared-networks and subnet4 (in document order), assigns
// missing subnet ids and checks what spans subnets.
func (p *parser) networks(o *jobj, c *Config, global *scope) {
	var all []subnetEntry
	sharedNames := map[string]string{}
	parseShared := func() {
		p.list(o, "shared-networks", func(path string, it *jobj) {
			defer p.finish(it)
			it.ignore("comment", "user-context")
			sn := &SharedNetwork{}
			sn.Name = p.sharedNetworkName(path, it, sharedNames)
			sc := p.parseScope(it, false)
			p.lifetimes(it, sc, global)
			if sc.iface != nil {
				sn.Interface = *sc.iface
				c.InterfaceRefs = append(c.InterfaceRefs, InterfaceRef{Path: path + ".interface", Name: *sc.iface})
			}
			sn.RelayAddrs = sc.relay
			sn.Options = p.optionData(it, "option-data", p.defs)
			sn.ClientClass = p.clientClass(path, it, &p.classRefs)
			sn.RequireClientClasses = p.requiredClasses(it)
			p.list(it, "subnet4", func(sp string, so *jobj) {
				if e := p.subnet(sp, so, sn, sc, global); e != nil {
					sn.Subnets = append(sn.Subnets, e.sub)
					all = append(all, *e)
				}
			})
			c.SharedNetworks = append(c.SharedNetworks, sn)
		})
	}
	parsePlain := func() {
		p.list(o, "subnet4", func(sp string, so *jobj) {
			if e := p.subnet(sp, so, nil, nil, global); e != nil {
				all = append(all, *e)
			}
		})
	}
	inDocumentOrder(o, "subnet4", parsePlain, parseShared)

	slots := make([]idSlot, len(all))
	for i := range all {
		slots[i] = idSlot{all[i].path, &all[i].sub.ID, all[i].idSet}
	}
	p.assignIDs(slots)
	prefixes := map[netip.Prefix]string{}
	for _, e := range all {
		if e.iface != "" {
			c.InterfaceRefs = append(c.InterfaceRefs, InterfaceRef{Path: e.path + ".interface", Name: e.iface})
		}
		for _, r := range e.sub.Reservations {
			r.SubnetID = e.sub.ID
		}
		if !e.sub.Prefix.IsValid() {
			continue
		}
		if prev, dup := prefixes[e.sub.Prefix]; dup {
			p.errorf(e.path+".subnet", "%s is already the prefix of %s", e.sub.Prefix, prev)
			continue
		}
		prefixes[e.sub.Prefix] = e.path
		c.Subnets = append(c.Subnets, e.sub)
	}
}

// idSlot is one subnet's id as ID assignment sees it: where it is, the
// id, and whether the configuration gave one.
type idSlot struct {
	path  string
	id    *uint32
	idSet bool
}

// assignIDs refuses duplicate subnet ids and numbers the subnets without
// one after the highest given, as Kea 2.2 does, with a warning: HA
// partners must agree on ids.
func (d *diag) assignIDs(slots []idSlot) {
	ids := map[uint32]string{}
	var maxID uint32
	for _, e := range slots {
		if !e.idSet || *e.id == 0 {
			continue
		}
		if prev, dup := ids[*e.id]; dup {
			d.errorf(e.path+".id", "%d is already the id of %s", *e.id, prev)
			continue
		}
		ids[*e.id] = e.path
		maxID = max(maxID, *e.id)
	}
	for _, e := range slots {
		if e.idSet {
			continue
		}
		if maxID >= maxSubnetID {
			d.errorf(e.path, "no id given and none left to assign")
			continue
		}
		maxID++
		*e.id = maxID
		d.warnf(e.path, "no id given, assigned %d (set ids explicitly: they must match an HA partner and survive reordering)", maxID)
	}
}

// subnet parses one subnet4 entry; sn and snScope are nil outside a shared
// network.
func (p *parser) subnet(path string, o *jobj, sn *SharedNetwork, snScope, global *scope) *subnetEntry {
	defer p.finish(o)
	o.ignore("comment", "user-context")
	s := &Subnet{SharedNetwork: sn}
	e := &subnetEntry{path: path, sub: s}
	e.idSet = p.subnetID(o, &s.ID)
	s.Prefix = p.subnetPrefix(path, o, false)

	sc := p.parseScope(o, false)
	if sc.iface != nil {
		e.iface = *sc.iface
	}
	resolve(s, sc, snScope, global)
	s.Lifetimes = p.lifetimes(o, sc, snScope, global)
	p.checkTimers(path, s.Timers)

	s.Options = p.optionData(o, "option-data", p.defs)
	s.ClientClass = p.clientClass(path, o, &p.classRefs)
	s.RequireClientClasses = p.requiredClasses(o)
	p.pools(path, o, s)

	var paths []string
	p.list(o, "reservations", func(rp string, ro *jobj) {
		r := p.reservation(rp, ro, s.ID)
		if r == nil {
			return
		}
		if r.IP.IsValid() && s.Prefix.IsValid() && !s.Prefix.Contains(r.IP) {
			p.errorf(rp+".ip-address", "%s is not inside subnet %s", r.IP, s.Prefix)
			return
		}
		s.Reservations = append(s.Reservations, r)
		paths = append(paths, rp)
	})
	p.checkReservationsAt(paths, s.Reservations)
	return e
}

func (p *parser) requiredClasses(o *jobj) []string {
	return p.classList(o, &p.classRefs)
}

// pools parses s's pools and checks they are inside s and disjoint.
func (p *parser) pools(path string, o *jobj, s *Subnet) {
	var paths []string
	p.list(o, "pools", func(pp string, po *jobj) {
		defer p.finish(po)
		po.ignore("comment", "user-context")
		var pool Pool
		ps := p.str(po, "pool")
		if ps == nil {
			if _, ok := po.vals["pool"]; !ok {
				p.errorf(pp+".pool", "missing: every pool needs a range")
			}
			return
		}
		first, last, err := parsePool(*ps)
		if err != nil {
			p.errorf(pp+".pool", "%q: %v", *ps, err)
			return
		}
		if s.Prefix.IsValid() && (!s.Prefix.Contains(first) || !s.Prefix.Contains(last)) {
			p.errorf(pp+".pool", "%q is not inside subnet %s", *ps, s.Prefix)
			return
		}
		pool.First, pool.Last = first, last
		pool.Options = p.optionData(po, "option-data", p.defs)
		pool.ClientClass = p.clientClass(pp, po, &p.classRefs)
		pool.RequireClientClasses = p.requiredClasses(po)
		s.Pools = append(s.Pools, pool)
		paths = append(paths, pp)
	})
	order := make([]int, len(s.Pools))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return s.Pools[a].First.Compare(s.Pools[b].First) })
	// Sorted by first address, a pool overlaps some earlier pool exactly when
	// it starts at or before the furthest end seen so far.
	var far netip.Addr
	farIdx := -1
	for _, i := range order {
		if farIdx >= 0 && s.Pools[i].First.Compare(far) <= 0 {
			p.errorf(paths[i]+".pool", "%s-%s overlaps %s", s.Pools[i].First, s.Pools[i].Last, paths[farIdx])
		}
		if farIdx < 0 || s.Pools[i].Last.Compare(far) > 0 {
			far, farIdx = s.Pools[i].Last, i
		}
	}
}

// parsePool parses "first - last" or "prefix/len" (all addresses of the
// prefix, as Kea does).
func parsePool(s string) (first, last netip.Addr, err error) {
	if a, b, ok := strings.Cut(s, "-"); ok {
		if first, err = parseIPv4(a); err != nil {
			return first, last, fmt.Errorf("first address: %w", err)
		}
		if last, err = parseIPv4(b); err != nil {
			return first, last, fmt.Errorf("last address: %w", err)
		}
		if last.Less(first) {
			return first, last, errors.New("first address after last")
		}
		return first, last, nil
	}
	if strings.Contains(s, "/") {
		pf, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil || !pf.Addr().Is4() {
			return first, last, errors.New("not an IPv4 prefix")
		}
		pf = pf.Masked()
		a := pf.Addr().As4()
		lo := binary.BigEndian.Uint32(a[:])
		hi := lo | (uint32(1)<<(32-pf.Bits()) - 1)
		if pf.Bits() == 0 {
			hi = ^uint32(0)
		}
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], hi)
		return pf.Addr(), netip.AddrFrom4(b), nil
	}
	return first, last, errors.New(`expected "first - last" or "prefix/length"`)
}

// identifierKinds are the reservation identifier keys Kea knows for DHCPv4.
var identifierKinds = []string{"hw-address", "client-id", "circuit-id", "duid", "flex-id"}

// maxIdentifierLen is Kea's limit on host identifiers; hardware addresses
// are limited to chaddr's 20 bytes (Kea's HWAddr::MAX_HWADDR_LEN).
const (
	maxIdentifierLen = 128
	maxHWAddrLen     = 20
)

// reservation parses one reservation; it returns nil when the entry is
// invalid (error recorded) or uses an unsupported identifier (warning).
func (p *parser) reservation(path string, o *jobj, subnetID uint32) *Reservation {
	defer p.finish(o)
	o.ignore("comment", "user-context")
	r := &Reservation{SubnetID: subnetID}
	ok := true
	var kinds []string
	for _, k := range identifierKinds {
		if _, has := o.vals[k]; has {
			kinds = append(kinds, k)
		}
	}
	if len(kinds) != 1 {
		p.errorf(path, "exactly one of hw-address, client-id, circuit-id, duid, flex-id is required, got %d (%s)", len(kinds), strings.Join(kinds, ", "))
		o.ignore(kinds...)
		ok = false
	} else {
		kind := kinds[0]
		val := p.str(o, kind)
		switch {
		case val == nil:
			ok = false
		default:
			b, err := decodeIdentifier(kind, *val)
			if err != nil {
				p.errorf(path+"."+kind, "%q: %v", *val, err)
				ok = false
			}
			switch kind {
			case "hw-address":
				r.HWAddr = b
			case "client-id":
				r.ClientID = b
			case "circuit-id":
				r.CircuitID = b
			case "duid":
				r.DUID = b
			case "flex-id":
				r.FlexID = b
			}
		}
	}
	if ip := p.ipv4(o, "ip-address", true); ip != nil {
		r.IP = *ip
	}
	if h := p.str(o, "hostname"); h != nil {
		if len(*h) > 255 {
			p.errorf(path+".hostname", "longer than 255 bytes")
			ok = false
		}
		r.Hostname = *h
	}
	if cls, _ := p.strList(o, "client-classes"); len(cls) > 0 {
		r.ClientClasses = cls
		for i, n := range cls {
			p.refClass(path+".client-classes["+itoa(i)+"]", n)
		}
	}
	r.Options = p.optionData(o, "option-data", p.defs)
	p.bootFields(o, &r.NextServer, &r.ServerHostname, &r.BootFileName)
	if !ok {
		return nil
	}
	return r
}

// decodeIdentifier parses a reservation identifier: hex in Kea's formats,
// or for client-id and circuit-id also 'quoted text'.
func decodeIdentifier(kind, s string) ([]byte, error) {
	var b []byte
	t := strings.TrimSpace(s)
	if kind != "hw-address" && kind != "duid" && len(t) >= 2 && t[0] == '\'' && t[len(t)-1] == '\'' {
		b = []byte(t[1 : len(t)-1])
	} else {
		var err error
		if b, err = decodeHex(t); err != nil {
			return nil, errors.New("expected hex such as 01:02:03, 0x010203 or 010203")
		}
	}
	limit := maxIdentifierLen
	if kind == "hw-address" {
		limit = maxHWAddrLen
	}
	if len(b) == 0 || len(b) > limit {
		return nil, fmt.Errorf("identifier must be 1 to %d bytes, got %d", limit, len(b))
	}
	return b, nil
}

// checkReservationsAt rejects two reservations with the same identifier, and
// with ip-reservations-unique two with the same address, in one scope.
func (p *parser) checkReservationsAt(paths []string, rs []*Reservation) {
	ids := map[string]string{}
	ips := map[netip.Addr]string{}
	for i, r := range rs {
		kind, val := r.identifier()
		key := kind + "\x00" + string(val)
		if prev, dup := ids[key]; dup {
			p.errorf(paths[i]+"."+kind, "%s is also reserved at %s", formatHex(val), prev)
		} else {
			ids[key] = paths[i]
		}
		if !r.IP.IsValid() || !p.ipUnique {
			continue
		}
		if prev, dup := ips[r.IP]; dup {
			p.errorf(paths[i]+".ip-address", "%s is also reserved at %s (ip-reservations-unique is true)", r.IP, prev)
		} else {
			ips[r.IP] = paths[i]
		}
	}
}

// identifier returns the kind and value of r's identifier.
func (r *Reservation) identifier() (string, []byte) {
	switch {
	case r.HWAddr != nil:
		return "hw-address", r.HWAddr
	case r.ClientID != nil:
		return "client-id", r.ClientID
	case r.DUID != nil:
		return "duid", r.DUID
	case r.FlexID != nil:
		return "flex-id", r.FlexID
	default:
		return "circuit-id", r.CircuitID
	}
}

func formatHex(b []byte) string {
	var sb strings.Builder
	for i, c := range b {
		if i > 0 {
			sb.WriteByte(':')
		}
		fmt.Fprintf(&sb, "%02x", c)
	}
	return sb.String()
}
