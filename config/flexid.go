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
	var raw map[string]json.RawMessage
	if len(params) > 0 {
		if err := json.Unmarshal(params, &raw); err != nil {
			p.errorf(path+".parameters", "%v", err)
			return
		}
	}
	f := &FlexID{}
	for k, v := range raw {
		kp := path + ".parameters." + k
		switch k {
		case "identifier-expression":
			var src string
			if err := json.Unmarshal(v, &src); err != nil {
				p.errorf(kp, "expected a string expression")
				continue
			}
			if src == "" {
				// Kea loads the hook but warns that it does nothing.
				p.warnf(kp, "empty expression: no client has a flex-id")
				continue
			}
			e, err := classify.CompileWith(src, p.expressionDefs(), true)
			if err != nil {
				p.errorf(kp, "%q: %v", src, err)
				continue
			}
			f.Expr = e
		case "replace-client-id":
			if err := json.Unmarshal(v, &f.ReplaceClientID); err != nil {
				p.errorf(kp, "expected a boolean, got %s", kindOf(v))
			}
		case "ignore-iaid", "comment":
			// ignore-iaid is DHCPv6 only.
		default:
			p.errorf(kp, "unknown parameter of the flex-id hook")
		}
	}
	if _, ok := raw["identifier-expression"]; !ok {
		p.errorf(path+".parameters", "%s", fmt.Sprintf("%s needs identifier-expression", hookFlexID))
		return
	}
	c.FlexID = f
}
