package config

import (
	"net/netip"
	"slices"
	"strings"
)

// The helpers below are the parts of subnet and shared-network parsing
// that Dhcp4 and Dhcp6 share word for word; what differs (the address
// family, the scope keys, pools) stays in subnet.go and dhcp6.go.

// subnetID parses a subnet's "id" into id and reports whether the
// configuration gave one. An invalid id is reported and counts as set, so
// that it is not also auto-assigned. 0 means "assign one", as in Kea.
func (d *diag) subnetID(o *jobj, id *uint32) (idSet bool) {
	if _, ok := o.vals["id"]; !ok {
		return false
	}
	if v := d.integer(o, "id", 0, maxSubnetID); v != nil {
		*id = uint32(*v)
		return *v != 0
	}
	return true
}

// subnetPrefix parses a subnet's "subnet" key as a prefix of the family
// v6 says; host bits are cleared with a warning. The zero Prefix means
// there is none (the error is reported).
func (d *diag) subnetPrefix(path string, o *jobj, v6 bool) netip.Prefix {
	ps := d.str(o, "subnet")
	if ps == nil {
		if _, ok := o.vals["subnet"]; !ok {
			d.errorf(path+".subnet", "missing: every subnet needs a prefix")
		}
		return netip.Prefix{}
	}
	pf, err := netip.ParsePrefix(strings.TrimSpace(*ps))
	family := "IPv4"
	if v6 {
		family = "IPv6"
	}
	switch {
	case err != nil || (v6 && (!pf.Addr().Is6() || pf.Addr().Is4In6())) || (!v6 && !pf.Addr().Is4()):
		d.errorf(path+".subnet", "%q is not an %s prefix", *ps, family)
		return netip.Prefix{}
	case pf.Masked() != pf:
		d.warnf(path+".subnet", "%q has host bits set, using %s", *ps, pf.Masked())
		return pf.Masked()
	}
	return pf
}

// checkTimers refuses T1/T2 settings a subnet ends up with (its own or
// inherited) that cannot work.
func (d *diag) checkTimers(path string, t Timers) {
	if t.RenewTimer != nil && t.RebindTimer != nil && *t.RenewTimer > *t.RebindTimer {
		d.errorf(path, "renew-timer %d is greater than rebind-timer %d (at this subnet or inherited)", *t.RenewTimer, *t.RebindTimer)
	}
	if t.CalculateTeeTimes && t.T1Percent >= t.T2Percent {
		d.errorf(path, "t1-percent %v must be less than t2-percent %v", t.T1Percent, t.T2Percent)
	}
}

// sharedNetworkName parses a shared network's "name", which must be
// non-empty and unique; names maps the names seen so far to their paths.
func (d *diag) sharedNetworkName(path string, it *jobj, names map[string]string) string {
	name := d.str(it, "name")
	switch {
	case name == nil || *name == "":
		d.errorf(path+".name", "shared network needs a non-empty name")
		return ""
	case names[*name] != "":
		d.errorf(path+".name", "%q is already the name of %s", *name, names[*name])
		return ""
	}
	names[*name] = path
	return *name
}

// inDocumentOrder runs plain (the top-level subnet list under subnetKey)
// and shared (shared-networks) in the order the document has them, so
// that auto-assigned ids follow the document as in Kea.
func inDocumentOrder(o *jobj, subnetKey string, plain, shared func()) {
	if slices.Index(o.keys, subnetKey) < slices.Index(o.keys, "shared-networks") {
		plain()
		shared()
	} else {
		shared()
		plain()
	}
}

// classList parses "require-client-classes" and records each name
// in refs for the check once every class is known.
func (d *diag) classList(o *jobj, refs *[]classRef) []string {
	list, _ := d.strList(o, "require-client-classes")
	for i, n := range list {
		addClassRef(refs, o.child("require-client-classes")+"["+itoa(i)+"]", n)
	}
	// Kea 2.2 has no evaluate-additional-classes (its later name): like
	// Kea, the key is refused as unknown.
	return list
}

// clientClass parses the "client-class" of the object at path and records
// it in refs.
func (d *diag) clientClass(path string, o *jobj, refs *[]classRef) string {
	cc := d.str(o, "client-class")
	if cc == nil {
		return ""
	}
	addClassRef(refs, path+".client-class", *cc)
	return *cc
}

// addClassRef records a use of class name at path; "" names no class.
func addClassRef(refs *[]classRef, path, name string) {
	if name != "" {
		*refs = append(*refs, classRef{path, name})
	}
}
