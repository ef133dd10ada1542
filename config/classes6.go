package config

import (
	"strings"
)

// classes6 parses the Dhcp6 client-classes in order. As for Dhcp4, a test
// may use member() only on classes defined before it (or built-in ones).
func (q *parser6) classes6(o *jobj, c *Config6) {
	where := map[string]string{}
	q.list(o, "client-classes", func(path string, it *jobj) {
		defer q.finish(it)
		it.ignore("comment", "user-context")
		cl := &Class6{}
		valid := true
		switch name := q.str(it, "name"); {
		case name == nil || *name == "":
			q.errorf(path+".name", "client class needs a non-empty name")
			valid = false
		case *name != "DROP" && builtinClass6(*name) && !strings.HasPrefix(*name, "HA_") && !strings.HasPrefix(*name, "VENDOR_CLASS_"):
			q.errorf(path+".name", "%q is a built-in class and cannot be defined", *name)
			valid = false
		case where[*name] != "":
			q.errorf(path+".name", "class %q is already defined at %s", *name, where[*name])
			valid = false
		default:
			cl.Name = *name
		}
		// Kea 2.2's DHCPv6 classes have no option-def of their own.
		if test := q.str(it, "test"); test != nil && strings.TrimSpace(*test) != "" {
			if e := q.compile6(path+".test", *test, false); e != nil {
				cl.Test = e
				for _, ref := range e.Refs() {
					if !q.classNames[ref] && !builtinClass6(ref) {
						q.errorf(path+".test", "member('%s') refers to a class not defined before this one", ref)
					}
				}
			}
		}
		cl.OnlyIfRequired = boolOr(q.boolean(it, "only-if-required"), false)
		cl.Options = q.optionData6(it, "option-data", q.defs)
		cl.ValidLifetime = q.triplet(it, "valid-lifetime", q.lifetimeKeys(it, "valid-lifetime"))
		cl.PreferredLifetime = q.triplet(it, "preferred-lifetime", q.lifetimeKeys(it, "preferred-lifetime"))
		if !valid {
			return
		}
		q.classNames[cl.Name] = true
		where[cl.Name] = path
		c.Classes = append(c.Classes, cl)
	})
}

// builtinClass6 reports whether name is a class the DHCPv6 server assigns
// itself (BOOTP is DHCPv4's only).
func builtinClass6(name string) bool { return name != "BOOTP" && builtinClass(name) }

// checkClassRefs6 warns about class names nothing defines, and about a
// DROP class that can never match.
func (q *parser6) checkClassRefs6(c *Config6) {
	dropAssigned := false
	for _, r := range q.classRefs {
		if r.name == "DROP" && strings.Contains(r.path, "client-classes[") {
			dropAssigned = true
		}
		if !q.classNames[r.name] && !builtinClass6(r.name) {
			q.warnf(r.path, "class %q is not defined in client-classes", r.name)
		}
	}
	for _, cl := range c.Classes {
		if cl.Name == "DROP" && cl.Test == nil && !dropAssigned {
			q.warnf("Dhcp6.client-classes", "class DROP has no test and no reservation assigns it: it never drops anything")
		}
	}
}
