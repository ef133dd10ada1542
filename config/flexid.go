package config

import (
	"encoding/json"
	"fmt"

	"xdhcp/config/classify"
)

// flexIDHook parses the parameters of a libdhcp_flex_id.so entry, as the
// hook does when Kea loads it: identifier-expression is a string
// expression, replace-client-id a boolean (default false).
func (p *parser) flexIDHook(path string, params json.RawMessage, c *Config) {
	f := p.flexIDParams(path, params, func(kp, src string) *classify.Expr {
		e, err := classify.CompileWith(src, p.expressionDefs(), true)
		if err != nil {
			p.errorf(kp, "%q: %v", src, err)
			return nil
		}
		return e
	})
	if f != nil {
		// ignore-iaid is DHCPv6's only.
		c.FlexID = &FlexID{Expr: f.Expr, ReplaceClientID: f.ReplaceClientID}
	}
}

// flexIDParams reads the flex-id hook's parameters at path, compile
// compiling identifier-expression for the family; nil after an error.
func (d *diag) flexIDParams(path string, params json.RawMessage, compile func(path, src string) *classify.Expr) *FlexID6 {
	var raw map[string]json.RawMessage
	if len(params) > 0 {
		if err := json.Unmarshal(params, &raw); err != nil {
			d.errorf(path+".parameters", "%v", err)
			return nil
		}
	}
	f := &FlexID6{}
	for k, v := range raw {
		kp := path + ".parameters." + k
		switch k {
		case "identifier-expression":
			var src string
			if err := json.Unmarshal(v, &src); err != nil {
				d.errorf(kp, "expected a string expression")
				continue
			}
			if src == "" {
				// Kea loads the hook but warns that it does nothing.
				d.warnf(kp, "empty expression: no client has a flex-id")
				continue
			}
			f.Expr = compile(kp, src)
		case "replace-client-id":
			if err := json.Unmarshal(v, &f.ReplaceClientID); err != nil {
				d.errorf(kp, "expected a boolean, got %s", kindOf(v))
			}
		case "ignore-iaid":
			if err := json.Unmarshal(v, &f.IgnoreIAID); err != nil {
				d.errorf(kp, "expected a boolean, got %s", kindOf(v))
			}
		case "comment":
		default:
			d.errorf(kp, "unknown parameter of the flex-id hook")
		}
	}
	if _, ok := raw["identifier-expression"]; !ok {
		d.errorf(path+".parameters", "%s", fmt.Sprintf("%s needs identifier-expression", hookFlexID))
		return nil
	}
	return f
}
