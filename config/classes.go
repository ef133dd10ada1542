package config

import (
	"strings"

	"xdhcp/config/classify"
	"xdhcp/config/optiondef"
)

// builtinClass reports whether name is a class the server assigns itself,
// which member() and client-class may use without a definition.
func builtinClass(name string) bool {
	switch name {
	case "ALL", "KNOWN", "UNKNOWN", "DROP", "BOOTP":
		return true
	}
	return strings.HasPrefix(name, "HA_") || strings.HasPrefix(name, "VENDOR_CLASS_")
}

// classes parses client-classes in order. A test may only use member() on
// classes defined before it (or built-in ones), because Kea evaluates the
// classes in this order.
func (p *parser) classes(o *jobj, c *Config) {
	p.classNames = map[string]bool{}
	where := map[string]string{}
	p.list(o, "client-classes", func(path string, it *jobj) {
		defer p.finish(it)
		it.ignore("comment", "user-context")
		cl := &Class{}
		valid := true
		switch name := p.str(it, "name"); {
		case name == nil || *name == "":
			p.errorf(path+".name", "client class needs a non-empty name")
			valid = false
		case *name != "DROP" && builtinClass(*name) && !strings.HasPrefix(*name, "HA_") && !strings.HasPrefix(*name, "VENDOR_CLASS_"):
			p.errorf(path+".name", "%q is a built-in class and cannot be defined", *name)
			valid = false
		case where[*name] != "":
			p.errorf(path+".name", "class %q is already defined at %s", *name, where[*name])
			valid = false
		default:
			cl.Name = *name
		}
		defs := newDefTable(p.defs)
		p.optionDefs(it, "option-def", defs, true)
		if test := p.str(it, "test"); test != nil && strings.TrimSpace(*test) != "" {
			e, err := classify.CompileWith(*test, p.expressionDefs(), false)
			switch {
			case err != nil:
				p.errorf(path+".test", "%q: %v", *test, err)
			case e == nil:
				p.errorf(path+".test", "%q: expression did not compile", *test)
			default:
				cl.Test = e
				for _, ref := range e.Refs() {
					if !p.classNames[ref] && !builtinClass(ref) {
						p.errorf(path+".test", "member('%s') refers to a class not defined before this one", ref)
					}
				}
			}
		}
		// (Kea 2.2 has no only-in-additional-list, its later name: like
		// Kea, the key is refused as unknown.)
		cl.OnlyIfRequired = boolOr(p.boolean(it, "only-if-required"), false)
		cl.Options = p.optionData(it, "option-data", defs)
		cl.ValidLifetime = p.triplet(it, "valid-lifetime", p.lifetimeKeys(it, "valid-lifetime"))
		p.bootFields(it, &cl.NextServer, &cl.ServerHostname, &cl.BootFileName)
		if !valid {
			return
		}
		p.classNames[cl.Name] = true
		where[cl.Name] = path
		c.Classes = append(c.Classes, cl)
	})
}

// checkClassRefs warns about class names used by subnets, pools and
// reservations that nothing defines (usually a typo: the guarded scope would
// be unusable), and about a DROP class that can never match.
func (p *parser) checkClassRefs(c *Config) {
	dropAssigned := false
	for _, r := range p.classRefs {
		if r.name == "DROP" && strings.Contains(r.path, "client-classes[") {
			dropAssigned = true
		}
		if !p.classNames[r.name] && !builtinClass(r.name) {
			p.warnf(r.path, "class %q is not defined in client-classes", r.name)
		}
	}
	if cl := c.Class("DROP"); cl != nil && cl.Test == nil && !dropAssigned {
		p.warnf("Dhcp4.client-classes", "class DROP has no test and no reservation assigns it: it never drops anything")
	}
}

// expressionDefs resolves option names and definitions in expressions:
// the global option-def entries (Kea does not look at a class's own
// option-def here).
func (p *parser) expressionDefs() classify.Resolver {
	defs := p.defs
	return classify.Resolver{
		Code: func(name string) (uint8, bool) {
			if d := defs.name(optiondef.Space, name); d != nil {
				return d.Code, true
			}
			return 0, false
		},
		Def: func(code uint8) *optiondef.Def { return defs.code(optiondef.Space, code) },
	}
}
